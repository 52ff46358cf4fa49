"""The X sandbox in the channel contract suite."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.x import XChannel
from campaign_scheduler.sandbox.x import XCredentials, XSandbox
from channel_harness import Created, Harness


class XHarness(Harness):
    name = "x"
    keeps_language = False  # POST /2/tweets has no language field; X detects it itself

    def start(self) -> None:
        self.sandbox = XSandbox().start_in_process()
        self.credentials = self.sandbox.add_account("suedwestfalen")

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, credentials: XCredentials, timeout: float) -> Channel:
        keys = vars(credentials)
        account = AccountSettings(
            "suedwestfalen-x", self.sandbox.url, {}, secret=lambda key: str(keys[key])
        )
        return XChannel(
            account, self.sandbox.mount(make_session()), timeout=timeout, poll_interval=0
        )

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.credentials, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        # The right token, signed with a wrong secret: only signature checking can tell.
        return self._channel(replace(self.credentials, access_secret="wrong-secret"), 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=t.id,
                text=t.text,
                media_alts=tuple(m.alt for m in t.media),
                reply_to=t.in_reply_to,
                videos=tuple(m.alt for m in t.media if m.mime_type.startswith("video/")),
            )
            for t in self.sandbox.statuses("suedwestfalen")
            if not t.deleted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status=status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        self.sandbox.rate_limit_next(1, reset_in=reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, status=400)

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay = seconds


def HARNESS(folder: Path) -> Harness:
    return XHarness(folder)
