"""The Bluesky sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.bluesky import BlueskyChannel, clear_sessions
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from channel_harness import Created, Harness

HANDLE = "soest.test"


class BlueskyHarness(Harness):
    name = "bluesky"

    def start(self) -> None:
        clear_sessions()
        self.sandbox = BlueskySandbox().start_in_process()
        self.password = self.sandbox.add_account(HANDLE)
        # A running daemon holds a session already; logging in here keeps the cases about the
        # post-creating call (a timeout while logging in is no unknown outcome).
        self.channel().verify()

    def stop(self) -> None:
        self.sandbox.stop()
        clear_sessions()

    def _channel(self, password: str, timeout: float, identifier: str = HANDLE) -> Channel:
        account = AccountSettings(
            "soest-bluesky",
            self.sandbox.url,
            {"identifier": identifier},
            secret=lambda key: password,
        )
        return BlueskyChannel(account, self.sandbox.mount(make_session()), timeout=timeout)

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.password, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        # Another identifier, so that the good account's cached session is not used.
        self.sandbox.add_account("olpe.test")
        return self._channel("not-the-app-password", 5.0, identifier="olpe.test")

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=r.uri,
                text=r.text,
                language=r.langs[0] if r.langs else None,
                media_alts=tuple(image.alt for image in r.images),
                reply_to=r.reply_parent,
                videos=(r.video.alt,) if r.video is not None else (),
                extra={"facets": r.facets, "rkey": r.rkey},
            )
            for r in self.sandbox.records(HANDLE)
            if not r.deleted
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
    return BlueskyHarness(folder)
