"""The webhook receiver sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.webhook import WebhookChannel
from campaign_scheduler.sandbox.webhook import WebhookSandbox
from channel_harness import Created, Harness


class WebhookHarness(Harness):
    name = "webhook"
    # A webhook delivers one post at a time; threading is up to the receiver.
    supports_replies = False
    # language and alt text travel in the JSON body (the receiver keeps them).
    keeps_language = True
    supports_alt_text = True
    media_in_creating_call = True  # the payload carries the image

    def start(self) -> None:
        self.sandbox = WebhookSandbox().start_in_process()
        self.secret = self.sandbox.add_endpoint("soest")

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, secret: str, timeout: float) -> Channel:
        account = AccountSettings(
            "soest-intranet", "", {"url": self.sandbox.url_for("soest")}, secret=lambda key: secret
        )
        return WebhookChannel(account, self.sandbox.mount(make_session()), timeout=timeout)

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.secret, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("not-the-shared-secret", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=d.id,
                text=d.text,
                language=d.language,
                media_alts=tuple(m.alt for m in d.media),
                reply_to=d.reply_to,
            )
            for d in self.sandbox.deliveries("soest")
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
    return WebhookHarness(folder)
