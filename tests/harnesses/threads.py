"""The Threads sandbox in the channel contract suite.

Threads has no language field. Reply chains are native (``reply_to_id``), and images carry
alt text (``alt_text``, Threads "Accessibility" page). The sandbox serves the test's folder as
the account's ``media_base_url``.

``set_delay`` slows only the call that creates the post (``threads_publish``), for the reason
given in tests/harnesses/instagram.py.
"""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.threads import ThreadsChannel
from campaign_scheduler.sandbox.threads import ThreadsSandbox
from channel_harness import Created, Harness


class ThreadsHarness(Harness):
    name = "threads"
    keeps_language = False

    def start(self) -> None:
        self.sandbox = ThreadsSandbox().start_in_process()
        self.user_id, self.token = self.sandbox.add_account("stadtsoest")
        self.media_base_url = self.sandbox.serve_media(self.folder)

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, token: str, timeout: float) -> Channel:
        settings = {"user_id": self.user_id, "media_base_url": self.media_base_url}
        account = AccountSettings(
            "soest-threads", self.sandbox.url, settings, secret=lambda key: token
        )
        return ThreadsChannel(
            account, self.sandbox.mount(make_session()), timeout=timeout, poll_interval=0
        )

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("THnot-a-valid-token", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=p.id,
                text=p.text,
                media_alts=tuple(m.alt for m in p.media),
                reply_to=p.reply_to,
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
    return ThreadsHarness(folder)
