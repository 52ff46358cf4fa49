"""The decision function of the publish protocol, over every combination of its inputs."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from campaign_scheduler.publishing.decide import (
    REPLAY_DELAY,
    Abilities,
    Action,
    Do,
    Event,
    Facts,
    decide,
)
from campaign_scheduler.publishing.policy import RetryPolicy

NOW = datetime(2021, 11, 4, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3)
WINDOW = timedelta(minutes=55)

ABILITIES = [
    Abilities(WINDOW, True),  # Mastodon
    Abilities(WINDOW, False),  # keys only
    Abilities(None, True),  # lookup only (Bluesky)
    Abilities(None, False),  # neither (Telegram, webhooks)
]


def facts(
    *,
    maybe_out: bool,
    parts_out: int,
    late: bool,
    key_age: timedelta | None,
    exhausted: bool,
    deadline_in: timedelta = timedelta(hours=1),
    comment: bool = False,
) -> Facts:
    return Facts(
        now=NOW,
        deadline=NOW - timedelta(minutes=1) if late else NOW + deadline_in,
        attempt=POLICY.max_attempts if exhausted else 1,
        maybe_out=maybe_out,
        parts_out=parts_out,
        parts_total=3,
        key_first_used=None if key_age is None else NOW - key_age,
        comment=comment,
    )


Case = tuple[Event, Abilities, bool, int, bool, timedelta | None, bool, bool]
CASES: list[Case] = [
    case
    for case in itertools.product(
        Event,
        ABILITIES,
        [False, True],  # maybe_out
        [0, 1],  # parts out
        [False, True],  # past the deadline
        [None, timedelta(minutes=1), timedelta(hours=2)],  # key never used / fresh / forgotten
        [False, True],  # attempts exhausted
        [False, True],  # the current part is the first comment (so the post is out)
    )
    if not (case[7] and case[3] == 0)
]


def run(case: Case) -> Action:
    event, abilities, maybe_out, parts_out, late, key_age, exhausted, comment = case
    state = facts(
        maybe_out=maybe_out,
        parts_out=parts_out,
        late=late,
        key_age=key_age,
        exhausted=exhausted,
        comment=comment,
    )
    return decide(
        state,
        event,
        abilities,
        policy=POLICY,
        error="boom",
        not_before=NOW + timedelta(minutes=30) if event is Event.RATE_LIMITED else None,
        rng=random.Random(1),
    )


def test_every_decision_keeps_the_protocols_promises() -> None:
    for case in CASES:
        check_promises(case)


def check_promises(case: Case) -> None:
    event, abilities, maybe_out, parts_out, late, key_age, _exhausted, comment = case
    action = run(case)
    started = parts_out > 0
    # The post may be out if the record says so, or if this very call lost its answer.
    may_exist = maybe_out or event is Event.LOST_ANSWER
    in_window = (
        key_age is not None
        and abilities.replay_window is not None
        and (key_age < abilities.replay_window)
    )

    if action.do is Do.SEND:  # never a fresh post where one may exist; never first sent late
        assert event is Event.CLAIMED and not may_exist
        assert started or not late
    if action.do is Do.REPLAY:  # only while the network still deduplicates, and in time
        assert maybe_out and in_window and (started or not late)
    if action.do is Do.LOOK_UP:
        assert abilities.can_look_up and may_exist
    if action.do in (Do.EXPIRE, Do.FAIL):  # "nothing is out" must be true
        assert not may_exist and not started
    if action.do is Do.ASK:  # every unknown has a reason and says what to do
        assert action.reason and "campaign resolve" in action.reason
    if action.do is Do.WAIT:
        assert action.at is not None and action.at > NOW
        if not may_exist and not started:
            assert action.at <= NOW + timedelta(hours=1) or late
    if action.do is Do.HOLD:
        assert event is Event.AUTH
    if event is Event.AUTH:
        assert action.do is Do.HOLD
    if action.do is Do.SKIP_COMMENT:  # the comment is given up only when it certainly is not out
        assert comment and started and not may_exist
        assert event in (Event.REJECTED, Event.UNAVAILABLE) and action.reason
    if comment:  # the post is out: never failed or expired for its comment
        assert action.do not in (Do.FAIL, Do.EXPIRE)


def test_the_cases_cover_every_action() -> None:
    assert {run(case).do for case in CASES} == set(Do)


def test_a_lost_answer_waits_briefly_for_a_replay() -> None:
    state = facts(
        maybe_out=True, parts_out=0, late=False, key_age=timedelta(seconds=1), exhausted=False
    )
    action = decide(state, Event.LOST_ANSWER, ABILITIES[1], policy=POLICY)
    assert (action.do, action.at, action.label) == (Do.WAIT, NOW + REPLAY_DELAY, "outcome unknown")


def test_a_possibly_out_post_past_its_deadline_is_looked_up_not_replayed() -> None:
    state = facts(
        maybe_out=True, parts_out=0, late=True, key_age=timedelta(minutes=1), exhausted=False
    )
    assert decide(state, Event.CLAIMED, ABILITIES[0], policy=POLICY).do is Do.LOOK_UP
    assert decide(state, Event.CLAIMED, ABILITIES[1], policy=POLICY).do is Do.ASK


def test_a_started_thread_is_continued_after_its_deadline() -> None:
    state = facts(maybe_out=False, parts_out=1, late=True, key_age=None, exhausted=False)
    assert decide(state, Event.CLAIMED, ABILITIES[3], policy=POLICY).do is Do.SEND
    retry = decide(state, Event.UNAVAILABLE, ABILITIES[3], policy=POLICY, rng=random.Random(1))
    assert retry.do is Do.WAIT


def test_a_retry_that_would_be_late_expires_only_when_nothing_is_out() -> None:
    state = facts(
        maybe_out=False,
        parts_out=0,
        late=False,
        key_age=None,
        exhausted=False,
        deadline_in=timedelta(seconds=1),
    )
    assert decide(state, Event.UNAVAILABLE, ABILITIES[0], policy=POLICY).do is Do.EXPIRE
    maybe = Facts(**{**state.__dict__, "maybe_out": True})
    assert decide(maybe, Event.UNAVAILABLE, ABILITIES[0], policy=POLICY).do is Do.WAIT


def test_a_refused_first_comment_is_given_up_and_the_post_stays_published() -> None:
    state = facts(
        maybe_out=False, parts_out=1, late=True, key_age=None, exhausted=False, comment=True
    )
    action = decide(state, Event.REJECTED, ABILITIES[2], policy=POLICY, error="spam filter")
    assert (action.do, action.reason) == (Do.SKIP_COMMENT, "first comment refused: spam filter")
    # A thread part (not a comment) refused after part 1 still goes to a person.
    thread = Facts(**{**state.__dict__, "comment": False})
    assert decide(thread, Event.REJECTED, ABILITIES[2], policy=POLICY).do is Do.ASK


def test_a_first_comment_whose_answer_was_lost_is_looked_up_among_the_posts_comments() -> None:
    state = facts(
        maybe_out=True,
        parts_out=1,
        late=True,
        key_age=timedelta(minutes=1),
        exhausted=False,
        comment=True,
    )
    assert decide(state, Event.CLAIMED, ABILITIES[2], policy=POLICY).do is Do.LOOK_UP
    # ... and when that lookup cannot be made, it is never given up: a person decides.
    exhausted = Facts(**{**state.__dict__, "attempt": POLICY.max_attempts})
    failed = decide(exhausted, Event.LOOKUP_FAILED, ABILITIES[2], policy=POLICY)
    assert failed.do is Do.ASK
