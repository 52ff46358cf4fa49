"""The Matrix sandbox in the channel contract suite."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.channels.matrix import MEDIA_KEY, MatrixChannel, clear_room_cache
from campaign_scheduler.sandbox.matrix import MatrixSandbox, SandboxEvent
from channel_harness import Created, Harness

ROOM = "#5malklug:localhost"


class MatrixHarness(Harness):
    name = "matrix"
    # m.room.message has no language field; the only proposal (MSC3554) is unstable.
    keeps_language = False

    def start(self) -> None:
        clear_room_cache()
        self.sandbox = MatrixSandbox().start_in_process()
        self.room_id = self.sandbox.add_room("5malklug")
        self.token = self.sandbox.add_account("soest", rooms=(ROOM,))

    def stop(self) -> None:
        self.sandbox.stop()
        clear_room_cache()

    def _channel(self, token: str, timeout: float) -> Channel:
        account = AccountSettings(
            "soest-matrix", self.sandbox.url, {"room": ROOM}, secret=lambda key: token
        )
        return MatrixChannel(account, self.sandbox.mount(make_session()), timeout=timeout)

    def channel(self, *, timeout: float = 5.0) -> Channel:
        return self._channel(self.token, timeout)

    def channel_with_bad_credentials(self) -> Channel:
        return self._channel("syt_not_a_valid_token", 5.0)

    def created(self) -> list[Created]:
        events = {e.event_id: e for e in self.sandbox.events(self.room_id)}
        return [
            Created(
                remote_id=e.event_id,
                text=str(e.content["body"]),
                media_alts=tuple(_body(events[m]) for m in e.content.get(MEDIA_KEY, [])),
                reply_to=e.content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id"),
            )
            for e in events.values()
            if e.sender == self.sandbox.user_id("soest")
            and e.type == "m.room.message"
            and e.content.get("msgtype") == "m.text"
            and not e.redacted
        ]

    def fail_next(self, status: int = 503) -> None:
        self.sandbox.fail_next(1, status=status)

    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        self.sandbox.rate_limit_next(1, reset_in=reset_in)

    def reject_next(self) -> None:
        self.sandbox.fail_next(1, status=413)  # M_TOO_LARGE

    def drop_after_create(self) -> None:
        self.sandbox.drop_after_create(1)

    def set_delay(self, seconds: float) -> None:
        self.sandbox.delay = seconds


def _body(event: SandboxEvent) -> str | None:
    body = event.content.get("body")
    return body if isinstance(body, str) else None


def HARNESS(folder: Path) -> Harness:
    return MatrixHarness(folder)
