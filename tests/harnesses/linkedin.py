"""The LinkedIn sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.linkedin import LinkedInChannel
from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
from channel_harness import Created, Harness


class LinkedInHarness(Harness):
    video_alt_text = False  # a video in content.media has no altText
    name = "linkedin"
    keeps_language = False  # the Posts API has no language field for organic posts
    supports_replies = False  # follow-ups are comments (Social Actions API), not posts

    def start(self) -> None:
        self.sandbox = LinkedInSandbox().start_in_process()
        self.account = self.sandbox.add_account("Südwestfalen Agentur")

    def stop(self) -> None:
        self.sandbox.stop()

    def _channel(self, token: str, timeout: float) -> Channel:
        account = AccountSettings(
            "suedwestfalen-linkedin",
            self.sandbox.url,
            {"organization": self.account.organization},
            secret=lambda key: token,
        )
        return LinkedInChannel(
            account, self.sandbox.mount(make_session()), timeout=timeout, poll_interval=0
        )

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.account.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("AQVexpired", 5.0)

    def created(self) -> list[Created]:
        return [
            Created(
                remote_id=p.urn,
                text=p.text,
                media_alts=tuple(i.alt for i in p.images),
                videos=tuple(i.alt for i in p.images if i.urn.startswith("urn:li:video:")),
            )
            for p in self.sandbox.statuses(self.account.organization)
            if not p.deleted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status=status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        # LinkedIn cannot say when to retry; the adapter waits THROTTLE_WAIT (2 minutes).
        self.sandbox.rate_limit_next(1, reset_in=reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, status=422)

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay = seconds


def HARNESS(folder: Path) -> Harness:
    return LinkedInHarness(folder)
