"""The publish protocol: every transition of the delivery state machine, on a real database.

States: pending -> publishing -> published; -> retry_wait -> pending on a transient error;
-> failed on a permanent one; -> expired when the deadline passes; -> unknown when the outcome
of a call cannot be known; auth failures hold the delivery and flag the account.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import (
    AuthError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import claim_due
from campaign_scheduler.rules import check
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import AccountRecord, AttemptRecord, DeliveryRecord
from campaign_scheduler.store.sync import load_campaign_into
from conftest import Workspace
from fakes import (
    CREATE_THEN_LOSE_ANSWER,
    BlindChannel,
    FakeChannels,
    FakeNetwork,
    KeyedChannel,
    LookupChannel,
    ScriptedChannel,
)

DUE = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)  # "T-14d 09:30" in Berlin
LEASE = timedelta(minutes=10)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def load(ws: Workspace, store: Store) -> None:
    settings = load_settings(ws.config_file)
    result = check(settings)
    assert result.errors == [] and result.campaign is not None
    load_campaign_into(
        store, result.campaign, result.drafts, result.deliveries, settings, actor="anna"
    )


@pytest.fixture
def one_post(workspace: Workspace, store: Store) -> Workspace:
    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, store)
    return workspace


def worker(
    store: Store, ws: Workspace, channel: ScriptedChannel, clock: Clock, **kw: object
) -> Worker:
    publisher = Publisher(
        FakeChannels(channel),
        media_root=ws.root / "posts",
        retry=RetryPolicy(**kw),  # type: ignore[arg-type]
    )
    return Worker(store, publisher, worker_id="w1", lease=LEASE, clock=clock)


def delivery(store: Store) -> DeliveryRecord:
    with store.session() as session:
        return session.scalars(select(DeliveryRecord)).one()


def attempts(store: Store) -> list[tuple[int, str | None]]:
    with store.session() as session:
        rows = session.scalars(select(AttemptRecord).order_by(AttemptRecord.number))
        return [(a.number, a.outcome) for a in rows]


def test_nothing_goes_out_before_it_is_due(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    clock = Clock(DUE - timedelta(seconds=1))
    worker(store, one_post, KeyedChannel(network), clock).tick()
    assert network.posts == []
    assert delivery(store).state == "pending"


def test_pending_to_published(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    clock = Clock(DUE + timedelta(seconds=1))
    report = worker(store, one_post, KeyedChannel(network), clock).tick()
    assert report.published == 1
    d = delivery(store)
    assert (d.state, d.remote_id, d.remote_url) == ("published", "1", "https://social.example/@s/1")
    assert d.lease_owner is None
    # The fake network's clock says 2021-01-01: a publication is never dated before its call.
    assert d.published_at == DUE + timedelta(seconds=1)
    assert attempts(store) == [(1, "published")]
    assert network.texts() == ["Soest will bis 2030 klimaneutral werden. #5malklug"]
    [(_, post)] = network.posts
    assert post.language == "de" and post.idempotency_key == d.idempotency_key


def test_a_claim_is_committed_before_the_call(one_post: Workspace, store: Store) -> None:
    claim = claim_due(store, "w1", DUE, LEASE)
    assert claim is not None
    d = delivery(store)
    assert (d.state, d.lease_owner, d.lease_until) == ("publishing", "w1", DUE + LEASE)
    assert attempts(store) == [(1, None)]
    assert claim_due(store, "w2", DUE, LEASE) is None  # nobody else can take it


def test_transient_error_waits_then_goes_out(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, [UnavailableError("503 from the instance")])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock, base=timedelta(seconds=30), jitter=0.0)
    w.tick()
    d = delivery(store)
    assert d.state == "retry_wait"
    assert d.next_attempt_at == DUE + timedelta(seconds=30)
    assert "503 from the instance" in (d.last_error or "")
    clock.advance(seconds=29)
    w.tick()
    assert delivery(store).state == "retry_wait"
    clock.advance(seconds=1)
    w.tick()
    assert delivery(store).state == "published"
    assert attempts(store) == [(1, "retry"), (2, "published")]
    assert len(network.posts) == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5), jitter=0.0)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 6)] == [
        30,
        60,
        120,
        240,
        300,
        300,
    ]
    jittered = RetryPolicy(base=timedelta(seconds=30), jitter=0.5)
    assert all(15 <= jittered.delay(1).total_seconds() <= 30 for _ in range(50))


def test_too_many_transient_errors_fail(one_post: Workspace, store: Store) -> None:
    channel = KeyedChannel(FakeNetwork(), [UnavailableError("down")] * 3)
    clock = Clock(DUE)
    w = worker(
        store, one_post, channel, clock, base=timedelta(seconds=1), jitter=0.0, max_attempts=3
    )
    for _ in range(3):
        w.tick()
        clock.advance(seconds=10)
    d = delivery(store)
    assert d.state == "failed"
    assert d.last_error == "gave up after 3 attempts: down"


def test_rejection_fails_with_the_networks_message(one_post: Workspace, store: Store) -> None:
    error = RejectedError(
        "422", network_message="Validation failed: Text character limit of 500 exceeded"
    )
    worker(store, one_post, KeyedChannel(FakeNetwork(), [error]), Clock(DUE)).tick()
    d = delivery(store)
    assert d.state == "failed"
    assert "Validation failed: Text character limit of 500 exceeded" in (d.last_error or "")


def test_rate_limit_waits_until_the_reset(one_post: Workspace, store: Store) -> None:
    reset = DUE + timedelta(minutes=7)
    channel = KeyedChannel(FakeNetwork(), [RateLimitedError("429", retry_at=reset)])
    worker(store, one_post, channel, Clock(DUE)).tick()
    d = delivery(store)
    assert (d.state, d.next_attempt_at) == ("retry_wait", reset)
    with store.session() as session:
        account = session.scalars(
            select(AccountRecord).where(AccountRecord.name == "soest-mastodon")
        ).one()
        assert account.rate_limited_until == reset


def test_auth_failure_holds_the_delivery_and_flags_the_account(
    one_post: Workspace, store: Store
) -> None:
    channel = KeyedChannel(
        FakeNetwork(), [AuthError("401", network_message="The access token is invalid")]
    )
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    w.tick()
    d = delivery(store)
    assert (d.state, d.state_reason) == ("pending", "held: the account needs attention")
    with store.session() as session:
        account = session.scalars(
            select(AccountRecord).where(AccountRecord.name == "soest-mastodon")
        ).one()
        assert account.needs_attention
        assert "The access token is invalid" in (account.attention_reason or "")
    clock.advance(minutes=5)
    w.tick()
    assert channel.calls == 1  # held: no retries burnt against a broken token


def test_overdue_after_downtime_goes_out_within_grace(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    worker(
        store, one_post, KeyedChannel(network), Clock(DUE + timedelta(hours=1, minutes=59))
    ).tick()
    assert delivery(store).state == "published"


def test_overdue_beyond_grace_expires_with_the_reason(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    worker(
        store, one_post, KeyedChannel(network), Clock(DUE + timedelta(hours=2, seconds=1))
    ).tick()
    d = delivery(store)
    assert d.state == "expired"
    assert d.state_reason == "more than 2h (rules.grace) late: no daemon published it in time"
    # the key and values, so that readers get it worded in their language (reasons.Reason)
    assert d.state_reason_data == {"key": "late", "grace": 7200, "why": {"key": "no_daemon"}}
    assert network.posts == []


def test_nothing_is_published_after_not_after(workspace: Workspace, store: Store) -> None:
    workspace.draft(
        "soest/01-noch3",
        at="T-3d 09:00",
        channels=("mastodon",),
        extra='not_after = "T-3d 09:30"\n',
    )
    load(workspace, store)
    due = datetime(2021, 11, 15, 8, 0, tzinfo=UTC)
    network = FakeNetwork()
    worker(store, workspace, KeyedChannel(network), Clock(due + timedelta(minutes=31))).tick()
    d = delivery(store)
    assert d.state == "expired"
    assert (
        d.state_reason
        == "not published before its deadline (not_after): no daemon published it in time"
    )
    assert network.posts == []


def test_a_retry_that_would_be_late_expires(workspace: Workspace, store: Store) -> None:
    workspace.draft(
        "soest/01-noch3",
        at="T-3d 09:00",
        channels=("mastodon",),
        extra='not_after = "T-3d 09:01"\n',
    )
    load(workspace, store)
    due = datetime(2021, 11, 15, 8, 0, tzinfo=UTC)
    channel = KeyedChannel(FakeNetwork(), [UnavailableError("down")])
    worker(store, workspace, channel, Clock(due), base=timedelta(minutes=5), jitter=0.0).tick()
    d = delivery(store)
    assert d.state == "expired"
    assert d.last_error == "the next try would be after its deadline: down"


def test_lost_answer_with_a_deduplicating_network_replays_the_key(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, [CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    w.tick()
    d = delivery(store)
    assert d.state == "retry_wait"
    clock.advance(seconds=5)
    w.tick()
    assert delivery(store).state == "published"
    assert len(network.posts) == 1  # the replay returned the first post
    assert attempts(store) == [(1, "outcome unknown"), (2, "published")]


def test_lost_answer_without_key_is_settled_by_lookup(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    channel = LookupChannel(network, [CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    w.tick()
    clock.advance(seconds=5)
    w.tick()
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert channel.lookups == 1 and channel.calls == 1
    assert len(network.posts) == 1


def test_lost_answer_where_nothing_can_tell_is_unknown(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    channel = BlindChannel(network, [CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    w.tick()
    d = delivery(store)
    assert d.state == "unknown"
    assert "run 'campaign resolve'" in (d.last_error or "")
    clock.advance(minutes=10)
    w.tick()
    assert channel.calls == 1  # never re-posted blindly


def _abandon(store: Store, network: FakeNetwork, *, created: bool) -> None:
    """A worker claims, (maybe) creates the post, and dies before recording anything."""
    claim = claim_due(store, "dead-worker", DUE, LEASE)
    assert claim is not None
    if created:
        from campaign_scheduler.channels.base import OutboundPost

        network.create(OutboundPost(claim.text, claim.language, claim.idempotency_key), dedupe=True)


def test_expired_lease_with_key_replay_posts_once(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    _abandon(store, network, created=True)
    clock = Clock(DUE + LEASE - timedelta(seconds=1))
    channel = KeyedChannel(network)
    w = worker(store, one_post, channel, clock)
    w.tick()
    assert delivery(store).state == "publishing"  # the lease still runs
    clock.advance(seconds=2)
    w.tick()
    d = delivery(store)
    assert d.state == "published"
    assert len(network.posts) == 1
    assert attempts(store) == [(1, "abandoned"), (2, "published")]


def test_expired_lease_beyond_the_key_window_uses_lookup(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    _abandon(store, network, created=True)
    channel = KeyedChannel(network)
    worker(store, one_post, channel, Clock(DUE + timedelta(hours=1))).tick()
    d = delivery(store)
    assert d.state == "published"
    assert channel.lookups == 1 and channel.calls == 0
    assert len(network.posts) == 1


def test_expired_lease_where_lookup_finds_nothing_publishes(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    _abandon(store, network, created=False)
    channel = LookupChannel(network)
    worker(store, one_post, channel, Clock(DUE + LEASE + timedelta(seconds=1))).tick()
    assert delivery(store).state == "published"
    assert channel.lookups == 1 and len(network.posts) == 1


def test_expired_lease_where_nothing_can_tell_is_unknown(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    _abandon(store, network, created=True)
    channel = BlindChannel(network)
    worker(store, one_post, channel, Clock(DUE + LEASE + timedelta(seconds=1))).tick()
    d = delivery(store)
    assert d.state == "unknown"
    assert channel.calls == 0 and len(network.posts) == 1


def test_an_unknown_outcome_is_not_expired_before_it_is_settled(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    _abandon(store, network, created=True)
    channel = LookupChannel(network)
    worker(store, one_post, channel, Clock(DUE + timedelta(hours=5))).tick()
    d = delivery(store)
    assert d.state == "published"  # it did go out; the record says so, late or not


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_record(
    one_post: Workspace, store: Store
) -> None:
    from campaign_scheduler.publishing.queue import (
        Outcome,
        OutcomeKind,
        claim_abandoned,
        record_outcome,
    )

    slow = claim_due(store, "slow", DUE, LEASE)
    assert slow is not None
    later = DUE + LEASE + timedelta(seconds=1)
    fast = claim_abandoned(store, "fast", later, LEASE)
    assert fast is not None
    assert record_outcome(store, fast, Outcome(OutcomeKind.PUBLISHED, remote_id="9"), later)
    assert not record_outcome(store, slow, Outcome(OutcomeKind.FAILED, error="late"), later)
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "9")


def test_unapproved_posts_wait_when_approval_is_required(
    workspace: Workspace, store: Store
) -> None:
    text = workspace.campaign_file.read_text().replace(
        'grace = "2h"', 'grace = "2h"\nrequire_approval = true'
    )
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, store)
    network = FakeNetwork()
    clock = Clock(DUE)
    w = worker(store, workspace, KeyedChannel(network), clock)
    w.tick()
    assert network.posts == [] and delivery(store).state == "pending"
    clock.advance(hours=3)
    w.tick()
    d = delivery(store)
    assert d.state == "expired"
    assert d.state_reason == "more than 2h (rules.grace) late: it was never approved"


def test_next_wake_is_the_next_due_time(one_post: Workspace, store: Store) -> None:
    from campaign_scheduler.publishing.queue import next_wake

    assert next_wake(store, DUE - timedelta(days=1)) == DUE
    assert next_wake(store, DUE + timedelta(minutes=1)) == DUE + timedelta(minutes=1)


def test_next_wake_waits_for_a_rate_limit(one_post: Workspace, store: Store) -> None:
    from campaign_scheduler.publishing.queue import next_wake

    reset = DUE + timedelta(minutes=7)
    channel = KeyedChannel(FakeNetwork(), [RateLimitedError("429", retry_at=reset)])
    worker(store, one_post, channel, Clock(DUE)).tick()
    assert next_wake(store, DUE + timedelta(seconds=1)) == reset


def test_next_wake_is_none_when_nothing_waits(one_post: Workspace, store: Store) -> None:
    from campaign_scheduler.publishing.queue import next_wake

    worker(store, one_post, KeyedChannel(FakeNetwork()), Clock(DUE)).tick()
    assert next_wake(store, DUE) is None


def test_retry_wait_becomes_pending_when_its_wait_is_over(
    one_post: Workspace, store: Store
) -> None:
    from campaign_scheduler.publishing.queue import release_retries

    channel = KeyedChannel(FakeNetwork(), [UnavailableError("down")])
    worker(store, one_post, channel, Clock(DUE), base=timedelta(seconds=30), jitter=0.0).tick()
    assert release_retries(store, DUE + timedelta(seconds=29)) == 0
    assert delivery(store).state == "retry_wait"
    assert release_retries(store, DUE + timedelta(seconds=30)) == 1
    assert delivery(store).state == "pending"


def test_resolving_unknown_as_not_published_within_the_deadline_queues_it_again(
    one_post: Workspace, store: Store
) -> None:
    from campaign_scheduler.store.changes import resolve

    network = FakeNetwork()
    clock = Clock(DUE)
    w = worker(store, one_post, BlindChannel(network, [CREATE_THEN_LOSE_ANSWER]), clock)
    w.tick()
    assert delivery(store).state == "unknown"
    network.posts.clear()  # a person checked: it is not on the account
    message = resolve(
        store,
        "testlauf",
        "soest/01-klima",
        "soest-mastodon",
        published_url=None,
        actor="eva",
        now=DUE + timedelta(minutes=5),
    )
    assert "goes out again" in message
    assert delivery(store).state == "pending"
    clock.advance(minutes=6)
    w.tick()
    assert delivery(store).state == "published"
    assert len(network.posts) == 1


LONG_TEXT = (
    " ".join(
        ["Soest will bis 2030 eine klimaneutrale Smart City sein, gemeinsam mit den Bürger:innen."]
        * 12
    )
    + " #5malklug"
)


@pytest.fixture
def thread_post(workspace: Workspace, store: Store) -> Workspace:
    workspace.draft("soest/01-lang", body=LONG_TEXT, channels=("mastodon",), extra="split = true\n")
    load(workspace, store)
    return workspace


def test_a_split_draft_goes_out_as_a_reply_chain(thread_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    worker(store, thread_post, KeyedChannel(network), Clock(DUE)).tick()
    d = delivery(store)
    assert d.state == "published"
    ids = [remote_id for remote_id, _ in network.posts]
    assert len(ids) == 3
    assert [post.reply_to for _, post in network.posts] == [None, ids[0], ids[1]]
    assert [post.text[-5:] for _, post in network.posts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert d.remote_id == ids[0]
    assert [part["id"] for part in d.parts or []] == ids


def test_a_thread_interrupted_mid_way_resumes_without_repeating_parts(
    thread_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, ["ok", CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, thread_post, channel, clock)
    w.tick()
    d = delivery(store)
    assert d.state == "retry_wait"
    assert len(d.parts or []) == 1  # the first part is on record
    clock.advance(seconds=5)
    w.tick()
    assert delivery(store).state == "published"
    assert len(network.posts) == 3  # part 2 was replayed with its own key, not posted again
    ids = [remote_id for remote_id, _ in network.posts]
    assert [post.reply_to for _, post in network.posts] == [None, ids[0], ids[1]]


def test_a_split_draft_that_fits_is_one_post(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-kurz", channels=("mastodon",), extra="split = true\n")
    load(workspace, store)
    network = FakeNetwork()
    worker(store, workspace, KeyedChannel(network), Clock(DUE)).tick()
    assert network.texts() == ["Soest will bis 2030 klimaneutral werden. #5malklug"]
