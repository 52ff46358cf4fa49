"""`campaign load`: one transaction that creates, updates and cancels deliveries by content hash."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, cast, event, func, select, text

from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import ConflictError
from campaign_scheduler.rules import CheckResult, check
from campaign_scheduler.store import sqlite_reads
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import (
    AccountRecord,
    AuditEventRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
)
from campaign_scheduler.store.sqlite_reads import sqlite_file, unchanged_sqlite_load
from campaign_scheduler.store.sync import load_campaign_into
from campaign_scheduler.store.sync_reads import ChangeKind, LoadReport, unchanged_load
from conftest import Workspace


def load(ws: Workspace, store: Store, *, actor: str = "anna", dry_run: bool = False) -> LoadReport:
    settings = load_settings(ws.config_file)
    result = check(settings)
    assert result.errors == []
    assert result.campaign is not None
    return load_campaign_into(
        store,
        result.campaign,
        result.drafts,
        result.deliveries,
        settings,
        actor=actor,
        dry_run=dry_run,
    )


def changes(report: LoadReport) -> list[tuple[str, str]]:
    return [(c.kind.value, c.key) for c in report.changes]


def deliveries(store: Store) -> dict[tuple[str, str], DeliveryRecord]:
    with store.session() as session:
        rows = session.scalars(select(DeliveryRecord)).all()
        return {(d.post.key, d.account.name): d for d in rows}


def mark(
    store: Store, key: str, account: str, state: DeliveryState, url: str | None = None
) -> None:
    with store.session(write=True) as session:
        for d in session.scalars(select(DeliveryRecord)):
            if d.post.key == key and d.account.name == account:
                d.state = state.value
                d.remote_url = url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def test_new_drafts_become_posts_with_one_delivery_per_account(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft("soest/01-klima")
    workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug")
    report = load(workspace, store)
    assert changes(report) == [("+", "olpe/01-hallo"), ("+", "soest/01-klima")]
    found = deliveries(store)
    assert set(found) == {
        ("olpe/01-hallo", "olpe-mastodon"),
        ("soest/01-klima", "soest-bluesky"),
        ("soest/01-klima", "soest-mastodon"),
    }
    assert {d.state for d in found.values()} == {"pending"}
    assert len({d.idempotency_key for d in found.values()}) == 3


def test_loading_again_changes_nothing(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    before = {k: (d.version, d.updated_at) for k, d in deliveries(store).items()}
    report = load(workspace, store)
    assert changes(report) == [("=", "soest/01-klima")]
    assert {k: (d.version, d.updated_at) for k, d in deliveries(store).items()} == before


def test_a_changed_text_updates_unpublished_deliveries(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    keys = {k: d.idempotency_key for k, d in deliveries(store).items()}
    workspace.draft("soest/01-klima", body="Neuer Text für Soest #5malklug")
    report = load(workspace, store)
    assert report.changes[0].kind is ChangeKind.CHANGED
    assert report.changes[0].details == ["~ soest-bluesky", "~ soest-mastodon"]
    found = deliveries(store)
    assert {d.text for d in found.values()} == {"Neuer Text für Soest #5malklug"}
    # The same delivery (and so the same idempotency key) carries the new text.
    assert {k: d.idempotency_key for k, d in found.items()} == keys


def test_a_variant_change_touches_only_that_channel(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    workspace.draft("soest/01-klima", extra='[variants.bluesky]\ntext = "Kurz #5malklug"\n')
    report = load(workspace, store)
    assert report.changes[0].details == ["~ soest-bluesky"]


def test_changing_a_published_delivery_is_refused_and_nothing_is_written(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft("soest/01-klima")
    workspace.draft("soest/02-mobil", at="T-7d 09:00", body="Mobil #5malklug")
    load(workspace, store)
    mark(
        store,
        "soest/01-klima",
        "soest-mastodon",
        DeliveryState.PUBLISHED,
        "https://social.soest.example/@s/1",
    )
    workspace.draft("soest/01-klima", body="Geändert #5malklug")
    workspace.draft("soest/02-mobil", at="T-7d 09:00", body="Auch geändert #5malklug")
    with pytest.raises(ConflictError) as caught:
        load(workspace, store)
    assert (
        "soest/01-klima on soest-mastodon is published (https://social.soest.example/@s/1)"
        in str(caught.value)
    )
    texts = {k: d.text for k, d in deliveries(store).items()}
    assert texts[("soest/02-mobil", "soest-mastodon")] == "Mobil #5malklug"
    assert (
        texts[("soest/01-klima", "soest-bluesky")]
        == "Soest will bis 2030 klimaneutral werden. #5malklug"
    )


@pytest.mark.parametrize("state", [DeliveryState.PUBLISHING, DeliveryState.UNKNOWN])
def test_deliveries_that_may_be_out_cannot_change_either(
    workspace: Workspace, store: Store, state: DeliveryState
) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    mark(store, "soest/01-klima", "soest-bluesky", state)
    workspace.draft("soest/01-klima", body="Geändert #5malklug")
    with pytest.raises(ConflictError, match=f"soest/01-klima on soest-bluesky is {state.value}"):
        load(workspace, store)


def test_a_removed_draft_cancels_its_waiting_deliveries(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    mark(store, "soest/01-klima", "soest-mastodon", DeliveryState.PUBLISHED)
    workspace.remove("soest/01-klima")
    report = load(workspace, store)
    assert changes(report) == [("−", "soest/01-klima")]
    assert report.changes[0].details == ["1 cancelled", "soest-mastodon stays published"]
    found = deliveries(store)
    assert found[("soest/01-klima", "soest-bluesky")].state == "cancelled"
    assert found[("soest/01-klima", "soest-bluesky")].state_reason == "draft removed"
    assert found[("soest/01-klima", "soest-mastodon")].state == "published"


def test_a_draft_that_comes_back_is_restored(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    workspace.remove("soest/01-klima")
    load(workspace, store)
    workspace.draft("soest/01-klima")
    report = load(workspace, store)
    assert report.changes[0].kind is ChangeKind.CHANGED
    assert {d.state for d in deliveries(store).values()} == {"pending"}


def test_adding_and_dropping_a_channel(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, store)
    workspace.draft("soest/01-klima", channels=("bluesky",))
    report = load(workspace, store)
    assert report.changes[0].details == ["+ soest-bluesky", "− soest-mastodon"]
    found = deliveries(store)
    assert found[("soest/01-klima", "soest-mastodon")].state == "cancelled"
    assert found[("soest/01-klima", "soest-bluesky")].state == "pending"


def whole(stored: str) -> str:
    """A stored time as text without its fraction of a second."""
    return re.sub(r"\.\d+", "", stored)


def test_new_rows_store_their_times_as_rows_written_through_the_orm(
    workspace: Workspace, store: Store
) -> None:
    # A new post's rows go in with bulk statements that convert each time once; a channel
    # added later gets its delivery through the ORM. Both must store the same values.
    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, store)
    workspace.draft("soest/01-klima", channels=("mastodon", "bluesky"))
    load(workspace, store)
    with store.session() as session:
        stored = {
            name: (due, not_after, created)
            for name, due, not_after, created in session.execute(
                select(
                    AccountRecord.name,
                    cast(DeliveryRecord.due_at, String),
                    cast(DeliveryRecord.not_after, String),
                    cast(DeliveryRecord.created_at, String),
                ).join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
            )
        }
        post_due = session.scalar(select(cast(PostRecord.due_at, String)))
        audit_times = session.scalars(select(cast(AuditEventRecord.at, String))).all()
    bulk, orm = stored["soest-mastodon"], stored["soest-bluesky"]
    assert bulk[:2] == orm[:2] and post_due == bulk[0]
    # The same form; the moments differ (and PostgreSQL's text drops a fraction's trailing
    # zeros, so fractions are left out of the comparison).
    assert len(whole(bulk[2])) == len(whole(orm[2]))
    assert {len(whole(at)) for at in audit_times} == {len(whole(orm[2]))}
    draft = check(load_settings(workspace.config_file)).drafts[0]
    found = deliveries(store)[("soest/01-klima", "soest-mastodon")]
    assert (found.due_at, found.not_after) == (draft.due_at, draft.not_after)
    assert found.due_at is not None and found.due_at.utcoffset() is not None


def test_new_rows_go_to_the_driver_in_one_executemany_per_table(
    workspace: Workspace, store: Store
) -> None:
    # Not row by row through SQLAlchemy's parameter handling (nor its "insertmanyvalues"
    # batches, which a RETURNING needs): one driver-level executemany per table, whatever the
    # number of rows, and the ids of the new posts read back by key.
    for day, key in enumerate(("soest/01-a", "soest/02-b", "soest/03-c"), start=10):
        workspace.draft(key, at=f"T-{day}d 10:30")
    inserts: list[tuple[str, bool, int]] = []

    def seen(
        conn: object, cursor: object, statement: str, params: object, context: object, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO"):
            table = statement.split()[2].strip('"')
            sets = len(params) if many and isinstance(params, list | tuple) else 1
            inserts.append((table, many, sets))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        report = load(workspace, store)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert [c.kind for c in report.changes] == [ChangeKind.NEW] * 3
    # (the campaign's own record and its audit event go in through the ORM)
    assert [i for i in inserts if i[0] in {"post", "delivery"}] == [
        ("post", True, 3),
        ("delivery", True, 6),
    ]
    assert [i for i in inserts if i[0] == "audit_event" and i[1]] == [("audit_event", True, 3)]
    found = deliveries(store)
    assert {(key, d.post.key) for (key, _), d in found.items()} == {
        (key, key) for key in ("soest/01-a", "soest/02-b", "soest/03-c")
    }
    with store.session() as session:
        stored = session.execute(select(AuditEventRecord.post_key, AuditEventRecord.detail))
        details = {key: detail["accounts"] for key, detail in stored if key is not None}
    assert set(details["soest/03-c"]) == {"soest-mastodon", "soest-bluesky"}


def _statements_during(store: Store, run: Callable[[], object]) -> list[str]:
    sent: list[str] = []

    def seen(
        conn: object, cursor: object, statement: str, params: object, context: object, many: bool
    ) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    return sent


def test_the_accounts_of_new_posts_are_read_and_created_together(
    workspace: Workspace, store: Store
) -> None:
    # Not one SELECT (and one flush) per account: the three accounts in one read.
    workspace.draft("soest/01-a")
    workspace.draft("olpe/01-b", channels=("mastodon",), body="Olpe #5malklug")
    sent = _statements_during(store, lambda: load(workspace, store))
    reads = [s for s in sent if s.startswith("SELECT") and " FROM account" in s]
    assert len(reads) == 1
    with store.session() as session:
        accounts = {
            a.name: (a.channel, a.sender.slug, a.base_url, a.needs_attention)
            for a in session.scalars(select(AccountRecord))
        }
    assert accounts == {
        "olpe-mastodon": ("mastodon", "olpe", "https://social.olpe.example", False),
        "soest-bluesky": ("bluesky", "soest", "https://bsky.social", False),
        "soest-mastodon": ("mastodon", "soest", "https://social.soest.example", False),
    }
    # An account stored already is brought up to date, as before.
    with store.session(write=True) as session:
        record = session.scalars(
            select(AccountRecord).where(AccountRecord.name == "olpe-mastodon")
        ).one()
        record.base_url = "https://old.example"
    workspace.draft(
        "olpe/02-c", channels=("mastodon",), body="Olpe again #5malklug", at="T-10d 09:30"
    )
    load(workspace, store)
    with store.session() as session:
        record = session.scalars(
            select(AccountRecord).where(AccountRecord.name == "olpe-mastodon")
        ).one()
        assert record.base_url == "https://social.olpe.example"


def test_new_deliveries_get_distinct_random_uuid4_idempotency_keys(
    workspace: Workspace, store: Store
) -> None:
    for day, key in enumerate(("soest/01-a", "soest/02-b", "soest/03-c"), start=10):
        workspace.draft(key, at=f"T-{day}d 10:30")
    load(workspace, store)
    keys = [d.idempotency_key for d in deliveries(store).values()]
    assert len(set(keys)) == len(keys) == 6
    for key in keys:
        assert uuid.UUID(hex=key).hex == key
        assert uuid.UUID(hex=key).version == 4
        assert uuid.UUID(hex=key).variant == uuid.RFC_4122


def test_equal_json_values_of_new_rows_are_serialised_once(
    workspace: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five new posts without variants or media, all on the same two accounts: their empty
    # variants, empty media and audit details are the same values, serialised once each.
    keys = [f"soest/0{n}-a" for n in range(1, 6)]
    for day, key in enumerate(keys, start=10):
        workspace.draft(key, at=f"T-{day}d 10:30")
    serialised: list[object] = []
    dumps = json.dumps

    def counting(value: object, *args: Any, **kwargs: Any) -> str:
        serialised.append(value)
        return dumps(value, *args, **kwargs)

    settings = load_settings(workspace.config_file)
    result = check(settings)  # (the draft cache is JSON too: not counted)
    assert result.campaign is not None
    monkeypatch.setattr(json, "dumps", counting)
    load_campaign_into(
        store, result.campaign, result.drafts, result.deliveries, settings, actor="anna"
    )
    monkeypatch.undo()
    assert serialised.count({}) <= 1
    assert serialised.count([]) <= 1
    assert len([v for v in serialised if isinstance(v, dict) and "accounts" in v]) <= 1
    with store.session() as session:
        posts = session.scalars(select(PostRecord).order_by(PostRecord.key)).all()
        assert [(p.key, p.variants, p.media) for p in posts] == [(k, {}, []) for k in keys]
        details = session.scalars(
            select(AuditEventRecord.detail).where(AuditEventRecord.post_key.is_not(None))
        ).all()
    assert len(details) == 5
    assert {tuple(sorted(d["accounts"])) for d in details} == {("soest-bluesky", "soest-mastodon")}


def test_an_expired_delivery_with_a_new_time_is_pending_again(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    mark(store, "soest/01-klima", "soest-mastodon", DeliveryState.EXPIRED)
    workspace.draft("soest/01-klima", at="T-13d 09:30")
    load(workspace, store)
    assert deliveries(store)[("soest/01-klima", "soest-mastodon")].state == "pending"


def test_a_dry_run_writes_nothing(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    report = load(workspace, store, dry_run=True)
    assert changes(report) == [("+", "soest/01-klima")]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PostRecord)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEventRecord)) == 0


def test_every_change_is_audited_with_its_actor(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store, actor="anna")
    workspace.draft("soest/01-klima", body="Neu #5malklug")
    load(workspace, store, actor="ben")
    workspace.remove("soest/01-klima")
    load(workspace, store, actor="carla")
    with store.session() as session:
        events = [
            (e.actor, e.action)
            for e in session.scalars(select(AuditEventRecord).order_by(AuditEventRecord.id))
        ]
    assert ("anna", "campaign.created") in events
    assert ("anna", "post.created") in events
    assert ("ben", "post.changed") in events
    assert ("carla", "post.removed") in events
    assert ("carla", "delivery.state") in events


def test_a_changed_text_withdraws_the_approval(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    with store.session(write=True) as session:
        post = session.scalars(select(PostRecord)).one()
        post.approver = "ben"
    workspace.draft("soest/01-klima", body="Neu #5malklug")
    report = load(workspace, store)
    assert "approval withdrawn (text changed)" in report.changes[0].details
    with store.session() as session:
        post = session.scalars(select(PostRecord)).one()
        assert post.approver is None
        assert post.version == 2


def test_a_refused_load_names_the_first_deliveries_and_counts_the_rest(
    workspace: Workspace, store: Store
) -> None:
    for n in range(12):
        workspace.draft(
            f"soest/{n:02d}-beitrag", at=f"T-{20 - n}d 12:00", body=f"Beitrag {n} #5malklug"
        )
    load(workspace, store)
    with store.session(write=True) as session:
        for d in session.scalars(select(DeliveryRecord)):
            d.state = "published"
    for n in range(12):
        workspace.draft(
            f"soest/{n:02d}-beitrag", at=f"T-{20 - n}d 12:00", body=f"Geändert {n} #5malklug"
        )
    with pytest.raises(ConflictError) as caught:
        load(workspace, store)
    message = str(caught.value)
    assert message.count(" is published") == 20
    assert message.endswith("… and 4 more")


def test_moving_the_event_rewrites_rendered_texts_and_withdraws_the_approval(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft(
        "soest/01-countdown",
        at="T-3d 09:00",
        body="Noch {days_left} Tage bis {event.weekday}, {event.day}! #5malklug",
    )
    load(workspace, store)
    with store.session(write=True) as session:
        session.scalars(select(PostRecord)).one().approver = "ben"
    before = deliveries(store)[("soest/01-countdown", "soest-mastodon")]
    assert before.text == "Noch 3 Tage bis Donnerstag, 18. November! #5malklug"

    text = workspace.campaign_file.read_text()
    text = text.replace("2021-11-18T", "2022-11-17T").replace("2021-10-26", "2022-10-25")
    workspace.campaign_file.write_text(text)
    report = load(workspace, store)

    assert "approval withdrawn (text changed)" in report.changes[0].details
    after = deliveries(store)[("soest/01-countdown", "soest-mastodon")]
    assert after.text == "Noch 3 Tage bis Donnerstag, 17. November! #5malklug"
    assert after.due_at.replace(tzinfo=None).isoformat() == "2022-11-14T08:00:00"
    with store.session() as session:
        post = session.scalars(select(PostRecord)).one()
        assert post.body == after.text and post.approver is None


def test_a_published_rendered_text_cannot_be_changed_by_renaming_the_event(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft("soest/01-countdown", body="Heute: {event.name} #5malklug")
    load(workspace, store)
    mark(store, "soest/01-countdown", "soest-mastodon", DeliveryState.PUBLISHED, "https://x/1")
    text = workspace.campaign_file.read_text().replace(
        'name = "Smart Cities: Konferenz"', 'name = "Smart Cities: Konferenz 2021"'
    )
    workspace.campaign_file.write_text(text)
    with pytest.raises(ConflictError, match="soest/01-countdown on soest-mastodon is published"):
        load(workspace, store)


def quick(ws: Workspace, store: Store) -> LoadReport | None:
    """What the Core-only reads say of a load of the workspace's drafts now; on SQLite the
    driver's own reads (no SQLAlchemy) must say the same."""
    result = check(load_settings(ws.config_file))
    assert result.campaign is not None
    told = unchanged_load(store, result.campaign, result.planned)
    if store.is_sqlite:
        url = store.engine.url.render_as_string(hide_password=False)
        by_driver = unchanged_sqlite_load(url, result.campaign, result.planned)
        assert (by_driver is None) == (told is None)
        if told is not None and by_driver is not None:
            assert changes(by_driver) == changes(told)
    return told


def audit_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEventRecord)) or 0


def test_a_load_that_changes_nothing_is_told_by_core_reads(
    workspace: Workspace, store: Store
) -> None:
    workspace.draft("soest/01-klima")
    workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug")
    assert quick(workspace, store) is None  # an empty database: the campaign is new
    load(workspace, store)
    told = quick(workspace, store)
    assert told is not None
    events = audit_count(store)
    assert (
        changes(told)
        == changes(load(workspace, store))
        == [
            ("=", "olpe/01-hallo"),
            ("=", "soest/01-klima"),
        ]
    )
    assert audit_count(store) == events


def _edit_campaign(ws: Workspace, old: str, new: str) -> None:
    ws.campaign_file.write_text(ws.campaign_file.read_text().replace(old, new))


@pytest.mark.parametrize(
    "change",
    [
        "new draft",
        "text",
        "time",
        "channel added",
        "draft removed",
        "campaign renamed",
        "event moved",
        "sender renamed",
        "min_gap",
    ],
)
def test_every_change_goes_to_the_orm_path(workspace: Workspace, store: Store, change: str) -> None:
    workspace.draft("soest/01-klima", channels=("mastodon",))
    workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug")
    load(workspace, store)
    if change == "new draft":
        workspace.draft("soest/02-bald", body="Bald #5malklug", at="T-10d 09:30")
    elif change == "text":
        workspace.draft("soest/01-klima", channels=("mastodon",), body="Neu #5malklug")
    elif change == "time":
        workspace.draft("soest/01-klima", channels=("mastodon",), at="T-13d 09:30")
    elif change == "channel added":
        workspace.draft("soest/01-klima", channels=("mastodon", "bluesky"))
    elif change == "draft removed":
        workspace.remove("olpe/01-hallo")
    elif change == "campaign renamed":
        _edit_campaign(workspace, 'name = "Testlauf"', 'name = "Testlauf 2"')
    elif change == "event moved":
        _edit_campaign(workspace, 'end = "2021-11-18T16:00"', 'end = "2021-11-18T17:00"')
    elif change == "sender renamed":
        _edit_campaign(workspace, 'name = "Stadt Soest"', 'name = "Soest"')
    else:
        _edit_campaign(workspace, 'min_gap = "30m"', 'min_gap = "20m"')
    assert quick(workspace, store) is None
    load(workspace, store)
    assert quick(workspace, store) is not None  # (the ORM path wrote the change)


@pytest.mark.parametrize("gone", ["draft", "channel"])
def test_a_draft_or_channel_that_comes_back_goes_to_the_orm_path(
    workspace: Workspace, store: Store, gone: str
) -> None:
    workspace.draft("soest/01-klima")
    load(workspace, store)
    if gone == "draft":
        workspace.remove("soest/01-klima")
    else:
        workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, store)
    workspace.draft("soest/01-klima")  # back as it was: its cancelled deliveries are restored
    assert quick(workspace, store) is None
    report = load(workspace, store)
    assert report.changes[0].kind is ChangeKind.CHANGED
    assert {d.state for d in deliveries(store).values()} == {"pending"}


def test_an_unchanged_load_imports_no_orm(workspace: Workspace) -> None:
    from test_cli import NOT_FOR_STATUS, heavy_modules_loaded_by

    workspace.draft("soest/01-klima")
    args = ("--config", str(workspace.config_file), "load")
    assert "campaign_scheduler.store.models" in heavy_modules_loaded_by(*args, heavy=NOT_FOR_STATUS)
    loaded = heavy_modules_loaded_by(*args, heavy=NOT_FOR_STATUS)
    assert "sqlalchemy.orm" not in loaded
    assert "campaign_scheduler.store.models" not in loaded


def _frozen_after(*args: str, entry: str) -> int:
    """Run ``campaign ARGS`` through ``cli.ENTRY`` in a fresh interpreter; how many objects
    were moved out of the garbage collector's way (``gc.freeze``) by its end."""
    code = (
        "import gc\n"
        f"from campaign_scheduler.cli import {entry}\n"
        f"import sys; sys.argv = ['campaign', *{list(args)!r}]\n"
        f"try:\n    {entry}({'' if entry == 'main' else 'sys.argv[1:]'})\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('frozen:', gc.get_freeze_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1].split()
    assert last[0] == "frozen:"
    return int(last[1])


@pytest.mark.parametrize("command", ["check", "load"])
def test_the_campaign_program_leaves_its_drafts_out_of_the_last_collections(
    workspace: Workspace, command: str
) -> None:
    # The process ends with its command: the collector, paused while the drafts were read
    # and loaded, does not walk all the objects still alive when it resumes. The same
    # command called within a longer-lived process (app(), as the tests do) freezes nothing.
    workspace.draft("soest/01-klima")
    args = ("--config", str(workspace.config_file), command)
    assert _frozen_after(*args, entry="main") > 0
    assert _frozen_after(*args, entry="app") == 0


def record_drafts_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the key of every ``Draft`` object made from now on: parsed (its ``__init__``)
    or made whole from the draft cache (which does not call ``__init__``)."""
    from campaign_scheduler import draftcache
    from campaign_scheduler.drafts import Draft

    built: list[str] = []
    original = Draft.__init__
    made = draftcache._made_draft

    def recording(self: Draft, *args: object, **kwargs: object) -> None:
        built.append(str(kwargs.get("key", args[0] if args else "?")))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    def making(values: dict[str, object]) -> Draft:
        built.append(str(values["key"]))
        return made(values)

    monkeypatch.setattr(Draft, "__init__", recording)
    monkeypatch.setattr(draftcache, "_made_draft", making)
    return built


@pytest.fixture
def drafts_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return record_drafts_made(monkeypatch)


def test_an_unchanged_load_of_cached_drafts_builds_no_draft(
    workspace: Workspace, drafts_built: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache keeps what ``load`` compares (each draft's post and delivery hashes, its
    time and accounts): a load of settled, unchanged drafts decides from that alone."""
    from typer.testing import CliRunner

    from campaign_scheduler.cli import app
    from test_draft_cache import settle

    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "off")
    settle(
        workspace.draft("soest/01-klima"),
        workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug"),
    )
    args = ["--config", str(workspace.config_file), "load"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert sorted(drafts_built) == ["olpe/01-hallo", "soest/01-klima"]
    drafts_built.clear()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed, 0 removed, 2 unchanged" in again.output
    assert drafts_built == []


def test_a_changed_draft_is_still_loaded_when_the_others_come_from_the_cache(
    workspace: Workspace, store: Store
) -> None:
    from test_draft_cache import settle

    settle(
        workspace.draft("soest/01-klima"),
        workspace.draft("olpe/01-hallo", channels=("mastodon",), body="A #5malklug"),
    )
    load(workspace, store)
    assert quick(workspace, store) is not None  # (now both come from the cache)
    settle(
        workspace.draft("olpe/01-hallo", channels=("mastodon",), body="B #5malklug"),
        seconds_ago=60,
    )
    assert quick(workspace, store) is None
    assert changes(load(workspace, store)) == [("~", "olpe/01-hallo"), ("=", "soest/01-klima")]
    assert {k: d.text for k, d in deliveries(store).items() if k[0] == "olpe/01-hallo"} == {
        ("olpe/01-hallo", "olpe-mastodon"): "B #5malklug"
    }


def test_an_unchanged_load_of_a_sqlite_database_imports_no_sqlalchemy(
    workspace: Workspace,
) -> None:
    from test_cli import heavy_modules_loaded_by

    workspace.draft("soest/01-klima")
    args = ("--config", str(workspace.config_file), "load")
    assert "sqlalchemy" in heavy_modules_loaded_by(*args, heavy=("sqlalchemy",))
    assert heavy_modules_loaded_by(*args, heavy=("sqlalchemy",)) == set()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///campaign.db", "campaign.db"),
        ("sqlite:////var/lib/campaign/campaign.db", "/var/lib/campaign/campaign.db"),
        ("sqlite:///data/campaign db.sqlite", "data/campaign db.sqlite"),
        ("sqlite:///campaign.db?mode=ro", None),
        ("sqlite:///file%20name.db", None),
        ("sqlite+pysqlite:///campaign.db", None),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://postgres@localhost/campaign", None),
    ],
)
def test_the_driver_reads_only_plain_sqlite_urls_and_the_file_sqlalchemy_would(
    url: str, path: str | None
) -> None:
    from sqlalchemy.engine import make_url

    assert sqlite_file(url) == path
    if path is not None:
        parsed = make_url(url)
        assert (parsed.drivername, parsed.database, dict(parsed.query)) == ("sqlite", path, {})


def _one_draft_loaded(workspace: Workspace, tmp_path: Path) -> tuple[str, Store, CheckResult]:
    """A new SQLite file with one draft loaded: its URL, its open store, the check."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    try:
        workspace.draft("soest/01-klima")
        settings = load_settings(workspace.config_file)
        result = check(settings)
        assert result.campaign is not None
        load_campaign_into(
            store, result.campaign, result.drafts, result.deliveries, settings, actor="anna"
        )
    except BaseException:
        store.dispose()
        raise
    return url, store, result


def test_the_driver_reads_nothing_of_a_database_at_another_revision(
    workspace: Workspace, tmp_path: Path
) -> None:
    url, store, result = _one_draft_loaded(workspace, tmp_path)
    assert result.campaign is not None
    try:
        assert unchanged_sqlite_load(url, result.campaign, result.planned) is not None
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        assert unchanged_sqlite_load(url, result.campaign, result.planned) is None
    finally:
        store.dispose()
    assert unchanged_sqlite_load(f"sqlite:///{tmp_path / 'none.db'}", result.campaign, []) is None
    assert not (tmp_path / "none.db").exists()


class _Recording:
    """A SQLite connection that notes each statement it is given."""

    def __init__(self, connection: sqlite3.Connection, sent: list[str]) -> None:
        self._connection, self._sent = connection, sent

    def execute(self, statement: str, *args: Any) -> sqlite3.Cursor:
        self._sent.append(statement)
        return self._connection.execute(statement, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)


def test_the_driver_sends_only_the_statements_it_declares(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (so the test that prepares sqlite_reads.STATEMENTS on the models' schema sees them all)
    url, store, result = _one_draft_loaded(workspace, tmp_path)
    store.dispose()
    assert result.campaign is not None
    sent: list[str] = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _Recording(connect(*a, **k), sent))
    assert unchanged_sqlite_load(url, result.campaign, result.planned) is not None
    reads = [s for s in sent if s.startswith("SELECT")]
    assert reads == list(sqlite_reads.STATEMENTS)
    assert set(sent) - set(reads) == {"PRAGMA query_only = ON", "BEGIN", "ROLLBACK"}
