"""The Mastodon sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.mastodon import MastodonChannel, clear_instance_cache
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from channel_harness import Created, Harness


class MastodonHarness(Harness):
    name = "mastodon"

    def start(self) -> None:
        clear_instance_cache()
        self.sandbox = MastodonSandbox().start_in_process()
        self.token = self.sandbox.add_account("soest")

    def stop(self) -> None:
        self.sandbox.stop()
        clear_instance_cache()

    def _channel(self, token: str, timeout: float) -> Channel:
        account = AccountSettings("soest-mastodon", self.sandbox.url, {}, secret=lambda key: token)
        return MastodonChannel(
            account, self.sandbox.mount(make_session()), timeout=timeout, poll_interval=0
        )

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("not-a-valid-token", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=s.id,
                text=s.text,
                language=s.language,
                media_alts=tuple(m.alt for m in s.media),
                reply_to=s.in_reply_to_id,
                videos=tuple(m.alt for m in s.media if m.mime_type.startswith("video/")),
            )
            for s in self.sandbox.statuses("soest")
            if not s.deleted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status=status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        self.sandbox.rate_limit_next(1, reset_in=reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, status=422)

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay = seconds


def HARNESS(folder: Path) -> Harness:
    return MastodonHarness(folder)
