"""The Facebook Page sandbox in the channel contract suite.

Facebook posts carry no language tag (the Graph API's feed and photo endpoints have no such
parameter), so ``keeps_language`` is off. A Page has no self-threads; its continuation of a
post is a comment of the Page under it (``POST /{post-id}/comments``), which the adapter
implements, so reply chains are on.
"""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.facebook import FacebookChannel
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from channel_harness import Created, Harness


class FacebookHarness(Harness):
    name = "facebook"
    keeps_language = False
    video_alt_text = False  # Page videos have no alt text
    video_in_creating_call = True  # POST /{page-id}/videos uploads and posts at once

    def start(self) -> None:
        self.sandbox = FacebookSandbox().start_in_process()
        self.page_id, self.token = self.sandbox.add_page("Stadt Soest")

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, token: str, timeout: float) -> Channel:
        account = AccountSettings(
            "soest-facebook", self.sandbox.url, {"page_id": self.page_id}, secret=lambda key: token
        )
        return FacebookChannel(account, self.sandbox.mount(make_session()), timeout=timeout)

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
                reply_to=p.reply_to,
                videos=tuple(m.alt for m in p.media) if p.kind == "video" else (),
            )
            for p in self.sandbox.statuses(self.page_id)
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
        self.sandbox.delay = seconds


def HARNESS(folder: Path) -> Harness:
    return FacebookHarness(folder)
