"""The one decision of the publish protocol: what to do next with a claimed delivery.

:func:`decide` is a pure function of what the record says about the delivery (:class:`Facts`),
what just happened (:class:`Event`), the channel's abilities (:class:`Abilities`) and the
clock. The publisher carries its answer out and nothing else: it never decides by itself.

The rules, in words:

* A delivery that is *possibly out* (an earlier call had no answer, or a worker died
  mid-call) is never sent fresh. It is replayed with its idempotency key while the network
  still deduplicates that key and the deadline has not passed, otherwise looked up where the
  network can list the account's posts, otherwise handed to a person (``unknown``). It never
  becomes ``expired``, ``failed`` or ``cancelled``.
* Nothing is *first* sent after its deadline; but once part 1 of a thread is out, the rest
  follows, however late (or goes to a person): a deadline never cuts a thread in half.
* A call that certainly created nothing (5xx, 429) is retried with backoff; after the last
  attempt a delivery that is possibly out is looked up one last time, or goes to a person.
* A first comment is the delivery's last part, settled like any part. Only when the network
  refuses it for good, or it certainly is not out after the last attempt, is it given up: the
  post is published without it (``Do.SKIP_COMMENT``), and a person is told.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.reasons import Reason

__all__ = [
    "REPLAY_DELAY",
    "Abilities",
    "Action",
    "Do",
    "Event",
    "Facts",
    "decide",
]

#: How soon to replay an idempotency key (or look the post up) after an answer was lost.
REPLAY_DELAY = timedelta(seconds=5)


@dataclass(frozen=True)
class Abilities:
    """What the network can do to settle a lost answer."""

    replay_window: timedelta | None  # how long it deduplicates an idempotency key
    can_look_up: bool  # whether the account's own posts can be listed

    @property
    def name(self) -> str:
        if self.replay_window is not None:
            return "keys+lookup" if self.can_look_up else "keys"
        return "lookup" if self.can_look_up else "neither"


@dataclass(frozen=True)
class Facts:
    """The delivery as the record has it at this moment of the claim."""

    now: datetime
    deadline: datetime
    attempt: int  # the number of the current attempt (1-based)
    maybe_out: bool  # the current part may already exist on the network
    parts_out: int = 0  # parts of the thread certainly out
    parts_total: int = 1
    key_first_used: datetime | None = None  # when the idempotency key was first sent
    comment: bool = False  # the current part is the first comment (the post itself is out)

    @property
    def started(self) -> bool:
        """Part 1 is out: the rest of the thread follows regardless of the deadline."""
        return self.parts_out > 0

    @property
    def late(self) -> bool:
        """Too late to *start*: nothing may be first sent now."""
        return not self.started and self.now > self.deadline


class Event(StrEnum):
    """What just happened in the claim."""

    CLAIMED = "claimed"  # the worker holds the delivery and may act (also after a lookup)
    UNAVAILABLE = "unavailable"  # the call certainly created nothing (5xx, refused)
    RATE_LIMITED = "rate limited"  # certainly nothing created; wait for the network's reset
    REJECTED = "rejected"  # the network refused this post for good
    AUTH = "auth"  # the credentials were refused or cannot be read
    LOST_ANSWER = "lost answer"  # the call may have created the post
    LOOKUP_FAILED = "lookup failed"  # the network could not be asked whether the post exists


class Do(StrEnum):
    SEND = "send"  # a fresh call (nothing can be out)
    REPLAY = "replay"  # the same call with the same key: the network returns what it made
    LOOK_UP = "look up"  # ask the network whether the post exists
    WAIT = "wait"  # retry_wait until ``at``
    HOLD = "hold"  # pending, the account needs attention
    ASK = "ask a person"  # unknown: `campaign resolve`
    EXPIRE = "expire"  # nothing is out, and it is too late
    FAIL = "fail"  # nothing is out, and trying again cannot help
    SKIP_COMMENT = "skip the comment"  # the post is out, its first comment certainly not: give up


@dataclass(frozen=True)
class Action:
    do: Do
    reason: str | None = None
    at: datetime | None = None  # for WAIT: when to try again
    rate_limited: bool = False  # for WAIT: the network asked us to slow down
    label: str | None = None  # what the attempt row says, when it differs from the action
    #: ``reason`` with its key, for a reason the protocol words itself (a network's message
    #: alone has none): readers get it worded in their language (reasons.py).
    why: Reason | None = None

    @property
    def final(self) -> bool:
        return self.do in (Do.ASK, Do.EXPIRE, Do.FAIL, Do.HOLD, Do.WAIT, Do.SKIP_COMMENT)


def _because(do: Do, why: Reason) -> Action:
    """A final action whose reason the record keeps in English and with its key."""
    return Action(do, why.record(), why=why)


def wait_until(
    why: Reason, *, at: datetime, rate_limited: bool = False, label: str | None = None
) -> Action:
    """Wait until ``at`` (``retry_wait``), with the reason readers see while it waits."""
    return Action(Do.WAIT, why.record(), at=at, rate_limited=rate_limited, label=label, why=why)


def _in_key_window(facts: Facts, abilities: Abilities) -> bool:
    return (
        abilities.replay_window is not None
        and facts.key_first_used is not None
        and facts.now - facts.key_first_used < abilities.replay_window
    )


def _parts(facts: Facts) -> dict[str, int]:
    return {"out": facts.parts_out, "total": facts.parts_total}


def _settle(facts: Facts, abilities: Abilities, why: str | Reason) -> Action:
    """The current part may be out: replay, look up, or ask a person."""
    if _in_key_window(facts, abilities) and not facts.late:
        return Action(Do.REPLAY)
    if abilities.can_look_up:
        return Action(Do.LOOK_UP)
    return _because(Do.ASK, Reason("cannot_tell", {"why": why}))


def decide(
    facts: Facts,
    event: Event,
    abilities: Abilities,
    *,
    policy: RetryPolicy,
    error: str | None = None,
    not_before: datetime | None = None,
    rng: random.Random | None = None,
) -> Action:
    """What to do next. ``error`` describes the event; ``not_before`` is a network's reset."""
    error = error or event.value
    exhausted = facts.attempt >= policy.max_attempts

    if event is Event.CLAIMED:
        if facts.maybe_out:
            return _settle(facts, abilities, Reason("no_answer"))
        if facts.late:
            return _because(Do.EXPIRE, Reason("deadline_passed"))
        return Action(Do.SEND)

    if event is Event.AUTH:
        return Action(Do.HOLD, error)

    if event is Event.REJECTED:
        if facts.maybe_out:
            return _because(Do.ASK, Reason("earlier_may_have_created", {"error": error}))
        if facts.comment:
            return _because(Do.SKIP_COMMENT, Reason("comment_refused", {"error": error}))
        if facts.started:
            return _because(Do.ASK, Reason("thread_incomplete", {**_parts(facts), "error": error}))
        return Action(Do.FAIL, error)

    if event is Event.LOST_ANSWER:
        if exhausted:
            if abilities.can_look_up:
                return Action(Do.LOOK_UP)
            return _because(
                Do.ASK, Reason("no_answer_after", {"error": error, "count": facts.attempt})
            )
        if _in_key_window(facts, abilities) or abilities.can_look_up:
            return wait_until(
                Reason("waiting_outcome_unknown", {"error": error}),
                at=facts.now + REPLAY_DELAY,
                label="outcome unknown",
            )
        return _because(Do.ASK, Reason("cannot_tell", {"why": error}))

    if event is Event.LOOKUP_FAILED:
        if exhausted:
            return _because(
                Do.ASK, Reason("lookup_failed", {"error": error, "count": facts.attempt})
            )
        at = policy.next_attempt(facts.now, facts.attempt, not_before=not_before, rng=rng)
        return wait_until(
            Reason("waiting_lookup_failed", {"error": error}), at=at, label="outcome unknown"
        )

    # UNAVAILABLE or RATE_LIMITED: this call certainly created nothing.
    limited = event is Event.RATE_LIMITED
    if facts.maybe_out:  # ...but an earlier one may have
        if exhausted and not limited:
            if abilities.can_look_up:
                return Action(Do.LOOK_UP)
            return _because(
                Do.ASK, Reason("gave_up_maybe_out", {"count": facts.attempt, "error": error})
            )
        at = policy.next_attempt(facts.now, facts.attempt, not_before=not_before, rng=rng)
        return wait_until(
            Reason("waiting_outcome_unknown", {"error": error}),
            at=at,
            rate_limited=limited,
            label="outcome unknown",
        )
    if exhausted and not limited:
        if facts.comment:
            return _because(
                Do.SKIP_COMMENT,
                Reason("comment_gave_up", {"count": facts.attempt, "error": error}),
            )
        if facts.started:
            return _because(
                Do.ASK,
                Reason("thread_gave_up", {**_parts(facts), "count": facts.attempt, "error": error}),
            )
        return _because(Do.FAIL, Reason("gave_up", {"count": facts.attempt, "error": error}))
    at = policy.next_attempt(facts.now, facts.attempt, not_before=not_before, rng=rng)
    if at > facts.deadline and not facts.started:
        return _because(Do.EXPIRE, Reason("next_try_too_late", {"error": error}))
    return wait_until(
        Reason("waiting_rate_limited" if limited else "waiting_after_error", {"error": error}),
        at=at,
        rate_limited=limited,
    )
