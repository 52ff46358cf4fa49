"""The Telegram sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.telegram import TelegramChannel
from campaign_scheduler.sandbox.telegram import TelegramSandbox
from channel_harness import Created, Harness


class TelegramHarness(Harness):
    name = "telegram"
    keeps_language = False  # the Bot API has no language field
    supports_alt_text = False  # nor alt text for photos
    media_in_creating_call = True  # sendPhoto carries the image

    def start(self) -> None:
        self.sandbox = TelegramSandbox().start_in_process()
        self.token = self.sandbox.add_bot("arnsberg_bot")
        self.sandbox.add_channel("arnsberg_news", title="Stadt Arnsberg", admins=[self.token])

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, token: str, timeout: float) -> Channel:
        account = AccountSettings(
            "arnsberg-telegram",
            self.sandbox.url,
            {"chat": "@arnsberg_news"},
            secret=lambda key: token,
        )
        return TelegramChannel(account, self.sandbox.mount(make_session()), timeout=timeout)

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("123456:not-a-valid-token", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=str(m.message_id),
                text=m.text,
                media_alts=(None,) if m.photo else (),
                videos=(None,) if m.video else (),
                reply_to=None if m.reply_to is None else str(m.reply_to),
            )
            for m in self.sandbox.statuses("@arnsberg_news")
            if not m.deleted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status=status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        self.sandbox.rate_limit_next(1, reset_in=reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, status=400, description="Bad Request: message is too long")

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay = seconds


def HARNESS(folder: Path) -> Harness:
    return TelegramHarness(folder)
