"""Test doubles for the publish protocol: a scripted channel over an in-memory "network"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from campaign_scheduler.channels.base import AccountSettings, Channel, OutboundPost, Receipt
from campaign_scheduler.channels.text import UNIT_GRAPHEMES, TextRule, count_graphemes
from campaign_scheduler.errors import ChannelError, OutcomeUnknownError

CREATE_THEN_LOSE_ANSWER = "create, then lose the answer"


@dataclass
class FakeNetwork:
    """What the network holds: every post created, and the keys it remembers."""

    posts: list[tuple[str, OutboundPost]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)

    def create(self, post: OutboundPost, *, dedupe: bool) -> Receipt:
        if dedupe and post.idempotency_key in self.keys:
            return self.receipt(self.keys[post.idempotency_key])
        remote_id = str(len(self.posts) + 1)
        self.posts.append((remote_id, post))
        self.keys[post.idempotency_key] = remote_id
        return self.receipt(remote_id)

    @staticmethod
    def receipt(remote_id: str) -> Receipt:
        return Receipt(
            remote_id, f"https://social.example/@s/{remote_id}", datetime(2021, 1, 1, tzinfo=UTC)
        )

    def texts(self) -> list[str]:
        return [post.text for _, post in self.posts]

    def comments(self) -> list[tuple[str, str]]:
        """(id of the post commented on, comment text) of every comment created."""
        return [(post.comment_on, post.text) for _, post in self.posts if post.comment_on]


class ScriptedChannel(Channel):
    """Answers each publish call as the script says: "ok", an exception to raise before
    anything is created, or CREATE_THEN_LOSE_ANSWER. A network of its own ("scripted", at most
    500 graphemes a post), not registered: tests hand it to the publisher directly."""

    name: ClassVar[str] = "scripted"
    text_rule: ClassVar[TextRule] = TextRule(UNIT_GRAPHEMES, count_graphemes, 500)

    def __init__(self, network: FakeNetwork, script: list[object] | None = None) -> None:
        super().__init__(AccountSettings("fake", "https://social.example"), session=None)  # type: ignore[arg-type]
        self.network = network
        self.script = list(script or [])
        self.calls = 0
        self.lookups = 0
        #: Errors the next lookups raise, in order (then lookups work).
        self.lookup_errors: list[ChannelError] = []
        #: Called inside each publish call before the network acts (to interleave other work).
        self.during_call: Callable[[OutboundPost], None] | None = None
        #: The instance's text limit, if it has its own.
        self.limit: int | None = None

    def text_limit(self) -> int | None:
        return self.limit

    def publish(self, post: OutboundPost) -> Receipt:
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if self.during_call is not None:
            self.during_call(post)
        if isinstance(step, BaseException):
            raise step
        receipt = self.network.create(post, dedupe=self.idempotency_window is not None)
        if step == CREATE_THEN_LOSE_ANSWER:
            raise OutcomeUnknownError("the connection dropped after the request was sent")
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        self.lookups += 1
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        for remote_id, existing in self.network.posts:
            # (a comment is looked for among the comments of its post only)
            if existing.text == post.text and existing.comment_on == post.comment_on:
                return self.network.receipt(remote_id)
        return None

    def verify(self) -> str:
        return "@fake@social.example"


class KeyedChannel(ScriptedChannel):
    """Deduplicates by idempotency key for 55 minutes and can look posts up (as Mastodon does)."""

    idempotency_window: ClassVar[timedelta | None] = timedelta(minutes=55)
    can_look_up: ClassVar[bool] = True


class KeyOnlyChannel(ScriptedChannel):
    """Deduplicates by idempotency key for 55 minutes, but cannot list the account's posts."""

    idempotency_window: ClassVar[timedelta | None] = timedelta(minutes=55)


class LookupChannel(ScriptedChannel):
    """No idempotency key, but the account's posts can be listed."""

    can_look_up: ClassVar[bool] = True


class BlindChannel(ScriptedChannel):
    """Neither deduplication nor lookup (a webhook, say)."""


class CommentingChannel(LookupChannel):
    """No idempotency key, posts and their comments can be listed, and a post can be followed
    by a first comment (as on Facebook, Instagram and LinkedIn)."""

    comment_rule: ClassVar[TextRule | None] = TextRule(UNIT_GRAPHEMES, count_graphemes, 500)


@dataclass
class FakeChannels:
    channel: ScriptedChannel

    def channel_for(self, account_name: str) -> Channel:
        return self.channel
