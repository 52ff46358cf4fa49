"""The Instagram sandbox in the channel contract suite.

Instagram has no language field and no reply chains for feed posts (a follow-up would be a
comment without an image, not a post), and every post needs an image. The sandbox serves the
test's folder as the account's ``media_base_url`` and downloads the image from there.

``set_delay`` slows only the call that creates the post (``media_publish``): publishing takes
a quota read, a container and status polls first, and a timeout on one of those is a plain
temporary failure (nothing can have been published), which the adapter reports as such; the
contract case is about a timeout on the creating call.
"""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.instagram import InstagramChannel
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from channel_harness import Created, Harness


class InstagramHarness(Harness):
    name = "instagram"
    keeps_language = False
    supports_replies = False
    requires_media = True
    video_alt_text = False  # alt_text is for image posts; a reel has none

    def start(self) -> None:
        self.sandbox = InstagramSandbox().start_in_process()
        self.user_id, self.token = self.sandbox.add_account("stadt.soest")
        self.media_base_url = self.sandbox.serve_media(self.folder)

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, token: str, timeout: float) -> Channel:
        settings = {"user_id": self.user_id, "media_base_url": self.media_base_url}
        account = AccountSettings(
            "soest-instagram", self.sandbox.url, settings, secret=lambda key: token
        )
        return InstagramChannel(
            account, self.sandbox.mount(make_session()), timeout=timeout, poll_interval=0
        )

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("EAAnot-a-valid-token", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=p.id,
                text=p.text,
                media_alts=tuple(m.alt for m in p.media),
                videos=tuple(m.alt for m in p.media) if p.kind == "VIDEO" else (),
            )
            for p in self.sandbox.statuses(self.user_id)
            if not p.deleted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        self.sandbox.rate_limit_next(1, reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, 400, code=100)

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay_creates = seconds


def HARNESS(folder: Path) -> Harness:
    return InstagramHarness(folder)
