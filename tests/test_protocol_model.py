"""A model-based test of the whole publish protocol (Hypothesis stateful).

Three workers share one database and one model network. Hypothesis interleaves claims with
every fault the protocol must survive: lost answers, 429/503, lookups that fail, workers
killed before or after the network acted, calls longer than the lease, clock jumps past
deadlines, and people cancelling, rescheduling, changing drafts and resolving unknowns.
After every step the record must agree with the network:

* at most one remote post per idempotency key (per thread part) of a delivery;
* published => the post exists with the recorded id; expired/failed/cancelled => nothing out;
* a waiting delivery with something out knows it (``maybe_out`` or parts on record);
* nothing was first sent after its deadline; every ``unknown`` has a reason;
* a post with a first comment (``03-kommentar``): once published, its comment is on the
  network and on record, or certainly not out and its failure on record.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, update

from campaign_scheduler.channels.base import OutboundPost, Receipt
from campaign_scheduler.channels.published import PublishedPart
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import (
    CampaignSchedulerError,
    OutcomeUnknownError,
    RateLimitedError,
    UnavailableError,
)
from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.publishing.publisher import Publisher, part_key
from campaign_scheduler.rules import check
from campaign_scheduler.store.changes import cancel, reschedule, resolve
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import DeliveryRecord, PostRecord
from campaign_scheduler.timeutil import deadline
from conftest import CAMPAIGN_TOML, CONFIG_TOML, Workspace, draft_text
from fakes import FakeChannels, ScriptedChannel
from test_publishing import DUE, LONG_TEXT

LEASE = timedelta(minutes=10)
GRACE = timedelta(hours=2)
WORKERS = ("w1", "w2", "w3")
PATIENCE = 30.0
COMMENTED = "soest/03-kommentar"
COMMENT = "#Soest #Klimaschutz"


def give_a_first_comment(store: Store) -> None:
    """The model's network is Mastodon-like; its third post gets a first comment on record, as
    ``load`` gives one on a network that takes comments."""
    with store.session(write=True) as session:
        post_id = select(PostRecord.id).where(PostRecord.key == COMMENTED).scalar_subquery()
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.post_id == post_id)
            .values(first_comment=COMMENT)
            .execution_options(synchronize_session=False)
        )


# Moderate by default so that the suite stays fast; CI may raise it with a profile.
settings.register_profile(
    "protocol-model",
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Killed(BaseException):
    """The worker process died: nothing after this point runs, nothing is recorded."""


@dataclass
class RemotePost:
    key: str
    text: str
    remote_id: str
    created_at: datetime


@dataclass
class ModelNetwork:
    """What the network holds, and when each post was created."""

    clock: Callable[[], datetime]
    dedupe: bool
    posts: list[RemotePost] = field(default_factory=list)

    def create(self, post: OutboundPost) -> Receipt:
        if self.dedupe:
            for existing in self.posts:
                if existing.key == post.idempotency_key:
                    return self.receipt(existing.remote_id)
        remote_id = str(len(self.posts) + 1)
        self.posts.append(RemotePost(post.idempotency_key, post.text, remote_id, self.clock()))
        return self.receipt(remote_id)

    @staticmethod
    def receipt(remote_id: str) -> Receipt:
        return Receipt(remote_id, f"https://net.example/{remote_id}", DUE)


FAULTS = ("ok", "lose answer", "503", "429", "die before", "die after", "slow")


class ModelChannel(ScriptedChannel):
    """The channel over the model network; each call meets the fault the test chose."""

    def __init__(self, network: ModelNetwork, window: timedelta | None, lookup: bool) -> None:
        super().__init__(network=None)  # type: ignore[arg-type]
        self.model = network
        self.window = window
        self.lookup_ok = lookup
        self.faults: list[str] = []
        self.lookup_failures = 0
        self.slow: Callable[[], None] = lambda: None

    @property
    def idempotency_window(self) -> timedelta | None:  # type: ignore[override]
        return self.window

    @property
    def can_look_up(self) -> bool:  # type: ignore[override]
        return self.lookup_ok

    def publish(self, post: OutboundPost) -> Receipt:
        fault = self.faults.pop(0) if self.faults else "ok"
        post.checkpoint()
        if fault == "die before":
            raise Killed
        if fault == "503":
            raise UnavailableError("503")
        if fault == "429":
            raise RateLimitedError("429", retry_at=self.model.clock() + timedelta(minutes=2))
        if fault == "slow":
            self.slow()
        receipt = self.model.create(post)
        if fault == "die after":
            raise Killed
        if fault == "lose answer":
            raise OutcomeUnknownError("connection dropped")
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        if self.lookup_failures:
            self.lookup_failures -= 1
            raise UnavailableError("503 on the lookup")
        for existing in self.model.posts:
            if existing.key == post.idempotency_key:
                return self.model.receipt(existing.remote_id)
        return None


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def wait_for(condition: Callable[[], bool]) -> bool:
    pause = threading.Event()
    for _ in range(int(PATIENCE / 0.005)):
        if condition():
            return True
        pause.wait(0.005)
    return False


class ProtocolModel(RuleBasedStateMachine):
    """Subclasses choose the network's abilities and the database."""

    window: ClassVar[timedelta | None] = timedelta(minutes=55)
    lookup: ClassVar[bool] = True
    database: ClassVar[Callable[[Path], str]]
    template: ClassVar[Path]
    preloaded: ClassVar[bool] = False  # the template's SQLite file is loaded already

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock(DUE)
        self.network = ModelNetwork(self.clock, dedupe=self.window is not None)
        self.channel = ModelChannel(self.network, self.window, self.lookup)
        self.channel.slow = self._slow_call
        self.root = self.template.parent / f"run-{id(self)}"
        shutil.copytree(self.template, self.root)
        self.workspace = Workspace.__new__(Workspace)
        self.workspace.root = self.root
        self.workspace.config_file = self.root / "config.toml"
        self.workspace.campaign_file = self.root / "campaign" / "testlauf.toml"
        self.store = open_store(type(self).database(self.root))
        if not self.preloaded:
            self._load()
            give_a_first_comment(self.store)
        self.workers = {name: self._worker(name) for name in WORKERS}
        self.busy: str | None = None

    def _worker(self, name: str) -> Worker:
        publisher = Publisher(
            FakeChannels(self.channel),
            media_root=self.root / "posts",
            retry=RetryPolicy(max_attempts=4),
        )
        worker = Worker(self.store, publisher, worker_id=name, lease=LEASE, clock=self.clock)
        worker.renew_every = 0.05
        worker.record_backoff = 0.0
        return worker

    def _load(self) -> None:
        from campaign_scheduler.store.sync import load_campaign_into

        config = load_settings(self.workspace.config_file)
        result = check(config)
        assert result.campaign is not None, result.errors
        load_campaign_into(
            self.store, result.campaign, result.drafts, result.deliveries, config, actor="anna"
        )

    def teardown(self) -> None:
        self.store.dispose()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the steps -----------------------------------------------------------------------------

    def _tick(self, name: str) -> None:
        self.busy = name
        try:
            self.workers[name].tick()
        except Killed:
            pass  # the process died mid-call: its lease runs out, nothing was recorded
        finally:
            self.busy = None

    def _slow_call(self) -> None:
        """A call that outlasts the lease: the lease keeper must hold it against the others."""
        moment = self.clock.now + LEASE * 0.9
        self.clock.now = moment
        assert wait_for(lambda: self._leases_after(moment + LEASE * 0.5)), "lease not renewed"
        for name in WORKERS:
            if name != self.busy:
                self.workers[name].tick()

    def _leases_after(self, moment: datetime) -> bool:
        with self.store.session() as session:
            leases = session.scalars(
                select(DeliveryRecord.lease_until).where(DeliveryRecord.state == "publishing")
            ).all()
        return all(lease is not None and lease > moment for lease in leases)

    @rule(worker=st.sampled_from(WORKERS), faults=st.lists(st.sampled_from(FAULTS), max_size=3))
    def tick(self, worker: str, faults: list[str]) -> None:
        self.channel.faults = list(faults)
        self._tick(worker)
        self.channel.faults = []

    @rule(worker=st.sampled_from(WORKERS), fault=st.sampled_from(FAULTS))
    def tick_meeting_one_fault(self, worker: str, fault: str) -> None:
        self.tick(worker, [fault])

    @rule(worker=st.sampled_from(WORKERS), minutes=st.sampled_from([1, 6, 61]))
    def tick_later(self, worker: str, minutes: int) -> None:
        self.clock.now += timedelta(minutes=minutes)
        self.tick(worker, [])

    @rule(failures=st.integers(min_value=1, max_value=3))
    def lookups_fail(self, failures: int) -> None:
        self.channel.lookup_failures = failures

    @rule(minutes=st.sampled_from([1, 6, 11, 30, 61, 125, 300]))
    def time_passes(self, minutes: int) -> None:
        self.clock.now += timedelta(minutes=minutes)

    @rule(key=st.sampled_from(["soest/01-klima", "soest/02-lang"]))
    def cancel_post(self, key: str) -> None:
        try:
            cancel(self.store, "testlauf", key, actor="anna", now=self.clock.now)
        except CampaignSchedulerError:
            pass

    @rule(key=st.sampled_from(["soest/01-klima", "soest/02-lang"]), hours=st.integers(1, 3))
    def reschedule_post(self, key: str, hours: int) -> None:
        campaign = check(load_settings(self.workspace.config_file)).campaign
        assert campaign is not None
        when = self.clock.now.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(
            days=1, hours=hours
        )
        try:
            reschedule(self.store, campaign, key, when, actor="anna", now=self.clock.now)
        except CampaignSchedulerError:
            pass

    @rule()
    def change_the_draft(self) -> None:
        path = self.root / "posts" / "soest" / "01-klima.md"
        path.write_text(
            draft_text("Soest: neuer Text, neue Fassung. #5malklug", channels=("mastodon",)),
            encoding="utf-8",
        )
        try:
            self._load()
        except CampaignSchedulerError:
            pass

    @precondition(lambda self: self._unknown())
    @rule()
    def a_person_resolves(self) -> None:
        """A person looks on the network for the part in doubt (the post, the next part of a
        thread, or the first comment) and says what they found."""
        for key, account, idempotency_key, comment in self._unknown():
            found = [p for p in self.network.posts if p.key == idempotency_key]
            resolve(
                self.store,
                "testlauf",
                key,
                account,
                published_url=f"https://net.example/{found[0].remote_id}" if found else None,
                published_as=PublishedPart(found[0].remote_id, comment=comment) if found else None,
                actor="anna",
                now=self.clock.now,
            )

    def _unknown(self) -> list[tuple[str, str, str, bool]]:
        """(post key, account, key of the part in doubt, whether that is the first comment)
        of each ``unknown`` delivery."""
        with self.store.session() as session:
            rows = session.execute(
                select(
                    PostRecord.key,
                    DeliveryRecord.idempotency_key,
                    DeliveryRecord.parts,
                    DeliveryRecord.plan,
                    DeliveryRecord.first_comment,
                )
                .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
                .where(DeliveryRecord.state == "unknown")
            ).all()
        return [
            (
                key,
                "soest-mastodon",
                part_key(idem, len(parts or [])),
                first_comment is not None and len(parts or []) >= max(len(plan or []), 1),
            )
            for key, idem, parts, plan, first_comment in rows
        ]

    # -- what must hold after every step ---------------------------------------------------------

    @invariant()
    def the_record_tells_the_truth(self) -> None:
        by_key: dict[str, list[RemotePost]] = {}
        for post in self.network.posts:
            by_key.setdefault(post.key, []).append(post)
        for key, posts in by_key.items():
            assert len(posts) == 1, f"{len(posts)} posts for key {key}"
        with self.store.session() as session:
            rows = session.execute(
                select(DeliveryRecord, PostRecord.key).join(
                    PostRecord, PostRecord.id == DeliveryRecord.post_id
                )
            ).all()
            for delivery, post_key in rows:
                mine = [p for k, p in by_key.items() if k.split(".")[0] == delivery.idempotency_key]
                out = [p for posts in mine for p in posts]
                first = by_key.get(delivery.idempotency_key, [])
                where = f"{post_key}: {delivery.state} ({delivery.state_reason})"
                if delivery.state == "published":
                    assert first, f"{where}, but nothing is on the network"
                    assert delivery.remote_id == first[0].remote_id, where
                if delivery.state in ("expired", "failed", "cancelled"):
                    assert not out, f"{where}, but the network has it"
                if delivery.state in ("pending", "retry_wait") and out:
                    assert delivery.maybe_out or delivery.parts, f"{where}, forgot what is out"
                if delivery.state == "unknown":
                    assert delivery.state_reason, f"{post_key}: unknown without a reason"
                if first:
                    last = deadline(delivery.due_at, delivery.not_after, GRACE)
                    assert first[0].created_at <= last, f"{post_key}: first sent after deadline"
                if delivery.first_comment is not None:
                    comments = by_key.get(f"{delivery.idempotency_key}.2", [])
                    recorded = [p for p in delivery.parts or [] if p.get("kind") == "comment"]
                    if recorded:
                        assert [c.remote_id for c in comments] == [recorded[0]["id"]], where
                    if delivery.state == "published" and delivery.comment_error is None:
                        assert recorded, f"{where}, but its comment is not on record"
                    if delivery.comment_error is not None:
                        assert not comments, f"{where}: comment given up, but it is out"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model") / "ws"
    (root / "campaign").mkdir(parents=True)
    (root / "posts" / "soest").mkdir(parents=True)
    (root / "campaign" / "testlauf.toml").write_text(CAMPAIGN_TOML, encoding="utf-8")
    (root / "config.toml").write_text(CONFIG_TOML, encoding="utf-8")
    (root / "posts" / "soest" / "01-klima.md").write_text(
        draft_text(channels=("mastodon",)), encoding="utf-8"
    )
    (root / "posts" / "soest" / "02-lang.md").write_text(
        draft_text(LONG_TEXT, channels=("mastodon",), extra="split = true\n"), encoding="utf-8"
    )
    (root / "posts" / "soest" / "03-kommentar.md").write_text(
        draft_text("Soest sucht Ideen fürs Klima. #5malklug", channels=("mastodon",)),
        encoding="utf-8",
    )
    from campaign_scheduler.store.sync import load_campaign_into

    store = open_store(f"sqlite:///{root / 'campaign.db'}")
    config = load_settings(root / "config.toml")
    result = check(config)
    assert result.campaign is not None
    load_campaign_into(store, result.campaign, result.drafts, result.deliveries, config, actor="a")
    give_a_first_comment(store)
    store.dispose()
    return root


ABILITIES = {
    "keys+lookup": (timedelta(minutes=55), True),
    "keys": (timedelta(minutes=55), False),
    "lookup": (None, True),
    "neither": (None, False),
}


def model(
    template: Path, url: Callable[[Path], str], kind: str, *, preloaded: bool
) -> type[ProtocolModel]:
    window, lookup = ABILITIES[kind]
    return type(
        f"Model_{kind}",
        (ProtocolModel,),
        {
            "window": window,
            "lookup": lookup,
            "database": staticmethod(url),
            "template": template,
            "preloaded": preloaded,
        },
    )


def run_model(
    template: Path, url: Callable[[Path], str], kind: str, examples: int, *, preloaded: bool
) -> None:
    run_state_machine_as_test(
        model(template, url, kind, preloaded=preloaded),
        settings=settings(settings.get_profile("protocol-model"), max_examples=examples),
    )


def on_sqlite(root: Path) -> str:
    return f"sqlite:///{root / 'campaign.db'}"


def fresh_schema(postgres_url: str) -> Callable[[Path], str]:
    """The test's PostgreSQL database, emptied for each run of the model."""
    from sqlalchemy import create_engine, text

    def fresh(root: Path) -> str:
        engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            # Every table, whatever later migrations add: the test's own database starts empty.
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return postgres_url

    return fresh


@pytest.mark.parametrize("kind", list(ABILITIES))
def test_the_protocol_model_on_sqlite(template: Path, kind: str) -> None:
    run_model(template, on_sqlite, kind, 10, preloaded=True)


def test_the_protocol_model_on_postgresql(template: Path, postgres_url: str) -> None:
    run_model(template, fresh_schema(postgres_url), "keys+lookup", 5, preloaded=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def blind_model(request: pytest.FixtureRequest, template: Path) -> Iterator[ProtocolModel]:
    """The model over a network that can neither deduplicate nor look up, on each database."""
    if request.param == "sqlite":
        machine = model(template, on_sqlite, "neither", preloaded=True)()
    else:
        url = fresh_schema(str(request.getfixturevalue("postgres_url")))
        machine = model(template, url, "neither", preloaded=False)()
    yield machine
    machine.teardown()


def test_a_post_a_person_confirms_after_a_lost_answer_still_gets_its_first_comment(
    blind_model: ProtocolModel,
) -> None:
    """The sequence Hypothesis found: the network published 03-kommentar but the answer was
    lost, so a person confirmed it. Its first comment was never sent: it goes out, once."""
    m = blind_model
    m.cancel_post("soest/01-klima")
    m.cancel_post("soest/02-lang")
    m.tick("w1", ["lose answer"])
    assert [key for key, _, _, _ in m._unknown()] == [COMMENTED]
    m.the_record_tells_the_truth()
    m.a_person_resolves()
    m.the_record_tells_the_truth()
    m.tick("w2", [])
    m.the_record_tells_the_truth()
    with m.store.session() as session:
        d = session.scalars(
            select(DeliveryRecord).where(DeliveryRecord.first_comment.is_not(None))
        ).one()
        assert (d.state, d.comment_error) == ("published", None)
        assert [part.get("kind") for part in d.parts or []] == [None, "comment"]
    assert [p.text for p in m.network.posts if p.key.endswith(".2")] == [COMMENT]
