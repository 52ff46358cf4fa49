"""PostgreSQL: the pick walks the partial index of pending deliveries (migration 0009).

The daemon's pick (the first deliveries that may go out now, in due order, locked ``SKIP
LOCKED``) is meant to walk ``ix_delivery_pending_due`` (``delivery (due_at, id) WHERE state =
'pending'``) and stop at the first free account, instead of reading, joining and sorting every
due delivery. Whether PostgreSQL does is the planner's choice: these tests give it a table of
some thousand deliveries, most of them published, a tenth pending, collect its statistics
(``ANALYZE``) and read the plans of the picks the claims send, as the server plans them for
these values (a custom plan) and for any values (the generic plan a prepared statement ends up
with). They check the plan's shape, never its time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import pytest
from sqlalchemy import ClauseElement, Executable, Table, text

from campaign_scheduler.publishing.queue import claim_due_many
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import DeliveryRecord, PostRecord
from conftest import Workspace
from test_parallel_publish import load_drafts
from test_pg_batch_pick import LEASE, NOW, drafts

POSTS = 3000  # × 3 accounts: 9,000 deliveries besides the drafts'
PENDING_EVERY = 10  # one post in ten is pending, the others published
INDEX = "ix_delivery_pending_due"


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    yield opened
    opened.dispose()


def _columns(table: Any, *, without: Sequence[str]) -> list[str]:
    return [c.name for c in table.columns if c.name not in ("id", *without)]


def _grow(store: Store) -> None:
    """Copies of the first post, each on every account: published, a tenth pending and due
    (each before NOW), then ``ANALYZE``."""
    posts, deliveries = PostRecord.__table__, DeliveryRecord.__table__
    assert isinstance(posts, Table) and isinstance(deliveries, Table)
    post_columns = _columns(posts, without=("key",))
    delivery_columns = _columns(
        deliveries, without=("post_id", "account_id", "idempotency_key", "state", "due_at")
    )
    with store.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO post (key, {', '.join(post_columns)}) "
                f"SELECT p.key || '-copy-' || g, {', '.join(f'p.{c}' for c in post_columns)} "
                "FROM post p, generate_series(1, :posts) g WHERE p.id = (SELECT min(id) FROM post)"
            ),
            {"posts": POSTS},
        )
        connection.execute(
            text(
                "INSERT INTO delivery (post_id, account_id, idempotency_key, state, due_at, "
                f"{', '.join(delivery_columns)}) "
                "SELECT p.id, a.id, md5(p.id || '-' || a.id), "
                "CASE WHEN p.id % :every = 0 THEN 'pending' ELSE 'published' END, "
                "d.due_at - p.id * interval '1 second', "
                f"{', '.join(f'd.{c}' for c in delivery_columns)} "
                "FROM post p CROSS JOIN account a "
                "CROSS JOIN (SELECT * FROM delivery ORDER BY id LIMIT 1) d "
                "WHERE p.key LIKE '%-copy-%'"
            ),
            {"every": PENDING_EVERY},
        )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def _picks(store: Store, lanes: int) -> list[tuple[Executable, Mapping[str, Any]]]:
    """The statements and values a claim for ``lanes`` lanes sends (it claims, too)."""
    sent: list[tuple[Executable, Mapping[str, Any]]] = []
    pipelined = store.pipelined

    def recording(
        statements: Sequence[tuple[Executable, Mapping[str, Any]]],
    ) -> list[list[tuple[Any, ...]]]:
        sent.extend(statements)
        return pipelined(statements)

    store.pipelined = recording  # type: ignore[method-assign]
    try:
        assert len(claim_due_many(store, f"w{lanes}", NOW, LEASE, lanes)) == min(lanes, 3)
    finally:
        del store.pipelined
    dialect = store.engine.dialect
    return [
        (s, v)
        for s, v in sent
        if "FOR NO KEY UPDATE" in str(cast(ClauseElement, s).compile(dialect=dialect))
    ]


def _plans(store: Store, statement: Executable, values: Mapping[str, Any]) -> tuple[str, str]:
    """The custom and the generic plan of ``statement`` with ``values`` (``EXPLAIN`` of a
    statement prepared on the server, with ``plan_cache_mode`` forcing either)."""
    from psycopg import ClientCursor

    compiled = cast(ClauseElement, statement).compile(dialect=store.engine.dialect)
    params = {**compiled.params, **values}
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", numbered, str(compiled))
    plans = []
    with store.engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = ClientCursor(driver)  # the values as literals in EXECUTE
        cursor.execute(f"PREPARE pick AS {sql}")
        arguments = ", ".join(["%s"] * len(names))
        for mode in ("force_custom_plan", "force_generic_plan"):
            cursor.execute(f"SET plan_cache_mode = {mode}")
            cursor.execute(f"EXPLAIN EXECUTE pick({arguments})", [params[name] for name in names])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("DEALLOCATE pick")
        connection.rollback()
    return plans[0], plans[1]


def _walks_the_pending_index_in_order(plan: str) -> None:
    """The due deliveries are read from the partial index, in its order, up to a ``Limit``
    (the pick's, or the batch's first ``scan``): no other scan of the table's rows, and no
    ``Sort`` between that ``Limit`` and the index."""
    assert f"Index Scan using {INDEX} on delivery" in plan, plan
    for other in ("Seq Scan on delivery", "Bitmap Heap Scan on delivery"):
        assert other not in plan, plan
    above = plan.split(INDEX)[0]
    assert "Limit" in above, plan
    assert "Sort" not in above.rsplit("Limit", 1)[-1], plan


@pytest.mark.parametrize("lanes", [1, 10], ids=["one lane", "a batch for ten lanes"])
def test_the_pick_walks_the_partial_index_of_pending_deliveries(
    workspace: Workspace, store: Store, lanes: int
) -> None:
    load_drafts(workspace, store, drafts(4))
    _grow(store)
    [(pick, values)] = _picks(store, lanes)
    custom, generic = _plans(store, pick, values)
    _walks_the_pending_index_in_order(custom)
    _walks_the_pending_index_in_order(generic)
