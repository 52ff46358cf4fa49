"""The report's aggregation, in SQL (SQLite and PostgreSQL): counts, sums, medians and
percentiles are computed by the database, never by looping over rows in Python.

First the campaign's deliveries are gathered into a temporary table of this connection, one
row per delivery (:func:`working_set`): ids of its sender, account and post (their names are
joined to the grouped rows, not to every delivery), the figures of its *latest* snapshot, the
followers of its first snapshot and which figures any of its snapshots has, all from the
delivery's row in ``delivery_metrics`` (kept up to date with every snapshot written,
``store/snapshots.py``); the lag from due time to publication (stored with the delivery when
its publication was recorded, ``store/lag.py``); the local days. Grouped by post, the rows are
numbered in the order of the post, then lag, so that percentiles are lookups by position; with
few groups (sender, network, day) they are not sorted, and percentiles come from a histogram of
the lags (:func:`punctuality_few`). Every section is then a small ``GROUP BY`` over that table,
whose size is the number of deliveries; the snapshots themselves are not read.

Sums keep SQL's NULL semantics: a figure that no summed snapshot has stays NULL, never 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from campaign_scheduler.reasons import COMMENT_MISSING
from campaign_scheduler.reports.localday import LocalDay
from campaign_scheduler.reports.model import (
    FIGURES,
    INTERACTION_FIGURES,
    OUTCOMES,
    PUNCTUAL_SECONDS,
    Figures,
    GroupBy,
    Outcomes,
    Punctuality,
    Reason,
)
from campaign_scheduler.store.lag import lag_seconds
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryMetricsRecord,
    DeliveryRecord,
    DeliveryState,
    HashtagUseRecord,
    PostRecord,
    SenderRecord,
    UTCDateTime,
)

D = DeliveryRecord
P = PostRecord
M = DeliveryMetricsRecord.__table__
A = AccountRecord
SE = SenderRecord
C = CampaignRecord.__table__
H = HashtagUseRecord

PUBLISHED = DeliveryState.PUBLISHED.value
OPEN_STATES = (
    DeliveryState.PENDING.value,
    DeliveryState.RETRY_WAIT.value,
    DeliveryState.PUBLISHING.value,
)
#: States that carry a reason worth reporting.
REASON_STATES = (
    DeliveryState.FAILED.value,
    DeliveryState.EXPIRED.value,
    DeliveryState.CANCELLED.value,
    DeliveryState.UNKNOWN.value,
)

#: One row per delivery of the campaign being reported on (a temporary table).
W = Table(
    "report_delivery",
    MetaData(),
    Column("position", Integer, primary_key=True),  # see working_set()
    Column("delivery_id", Integer),
    Column("sender_id", Integer),  # the post's sender (names: joined to grouped rows)
    Column("account_id", Integer),
    Column("post_id", Integer),
    Column("channel", String(50)),
    Column("state", String(20)),
    Column("reason", Text),  # only where reasons_by() reports it
    Column("reason_data", Text),  # the key and values of the scheduler's own reason, as JSON
    Column("due_day", String(10)),
    Column("published_day", String(10)),
    Column("published_at", UTCDateTime()),
    Column("lag", Float),  # seconds, for published deliveries
    *(Column(name, Integer) for name in FIGURES),
    Column("interactions", Integer),
    Column("measured", Integer),  # 1 when the delivery has a snapshot
    Column("followers", Integer),  # in the first snapshot
    Column("provides", Integer),  # bit n: a snapshot has FIGURES[n] (see providers())
    prefixes=["TEMPORARY"],
)


# ---------------------------------------------------------------------------------------------
# The working set


@dataclass(frozen=True)
class Dimension:
    """The grouping of the breakdown: the working set's column grouped by and, where that is
    an id, the table that names its groups (a key to sort by and a label): joined to the
    grouped rows, not to every delivery."""

    column: Any
    names: Any = None
    key: Any = None
    label: Any = None
    #: Few enough groups that (group, network) pairs are few too (not so for posts).
    few: bool = True

    def named(self, grouped: Any, column: Any) -> tuple[Any, Any, Any]:
        """(key, label, FROM) for rows ``grouped`` by this dimension's ``column``."""
        if self.names is None:
            return column, column, grouped
        return self.key, self.label, grouped.join(self.names, self.names.c.id == column)


DIMENSIONS = {
    GroupBy.SENDER: Dimension(W.c.sender_id, SE.__table__, SE.slug, SE.name),
    GroupBy.CHANNEL: Dimension(W.c.channel),
    GroupBy.DAY: Dimension(W.c.due_day),
    GroupBy.POST: Dimension(W.c.post_id, P.__table__, P.key, P.key, few=False),
}


def _interactions(source: Any) -> ColumnElement[Any]:
    """likes + reposts + replies + quotes, counting the figures the snapshot has; NULL when
    it has none of them."""
    columns = [getattr(source, name) for name in INTERACTION_FIGURES]
    return case(
        (func.coalesce(*columns).is_(None), None),
        else_=sum((func.coalesce(c, 0) for c in columns[1:]), func.coalesce(columns[0], 0)),
    )


def _provides() -> ColumnElement[Any]:
    """Which figures any snapshot of the delivery has, as bits (``FIGURES`` order)."""
    bits = (case((M.c[f"has_{name}"], 1 << n), else_=0) for n, name in enumerate(FIGURES))
    return sum(bits, literal(0))


@contextmanager
def working_set(
    connection: Connection, campaign_id: int, days: LocalDay, group: Dimension
) -> Iterator[None]:
    """Fill the temporary table :data:`W` with the campaign's deliveries; drop it afterwards.

    Grouped by post, the rows are numbered (``position``) in the order of the post, then lag:
    the published deliveries of a post are a run of consecutive positions sorted by lag, so that
    its median and percentile are found by position (:func:`punctuality_by`) rather than by a
    window sort of their own. SQLite numbers the rows in the order they are inserted; PostgreSQL
    is given the numbers. With few groups the rows are numbered in no particular order."""
    dialect = connection.dialect.name
    published = D.state == PUBLISHED
    values: dict[str, Any] = {
        "delivery_id": D.id,
        "sender_id": P.sender_id,
        "account_id": D.account_id,
        "post_id": D.post_id,
        "channel": A.channel,
        "state": D.state,
        "reason": case(
            (
                published & D.comment_error.is_not(None),
                literal(COMMENT_MISSING) + D.comment_error,
            ),
            (D.state.in_(REASON_STATES), func.coalesce(D.state_reason, D.last_error, "")),
        ),
        "reason_data": case(
            # why the comment is missing (comment_refused, ...): see _reason_data()
            (published & D.comment_error.is_not(None), cast(D.comment_error_data, Text)),
            (D.state_reason.is_not(None), cast(D.state_reason_data, Text)),
        ),
        "due_day": days.of(D.due_at),
        "published_day": case((published, days.of(D.published_at))),
        "published_at": D.published_at,
        # stored when the publication was recorded (migration 0010 filled the older ones)
        "lag": case(
            (published, func.coalesce(D.lag_seconds, lag_seconds(D.published_at, D.due_at)))
        ),
        **{name: M.c[name] for name in FIGURES},
        "interactions": _interactions(M.c),
        "measured": case((M.c.delivery_id.is_not(None), 1), else_=0),
        "followers": M.c.first_followers,
        "provides": _provides(),
    }
    # Sorted only where the percentiles are found by position (many groups: posts); with few
    # groups they come from a histogram of the lags (punctuality_few()), and the sort of every
    # row is the largest part of filling the table.
    order = (values[group.column.name], values["lag"]) if not group.few else ()
    if dialect == "postgresql":
        values = {"position": func.row_number().over(order_by=order or None), **values}
    labelled = {name: value.label(name) for name, value in values.items()}
    rows = (
        select(*labelled.values())
        .select_from(D)
        .join(P, P.id == D.post_id)
        .join(A, A.id == D.account_id)
        .outerjoin(M, M.c.delivery_id == D.id)
        .where(P.campaign_id == campaign_id)
    )
    if order:
        # by the result's columns: SQLite would compute the lag a second time for the sort
        rows = rows.order_by(labelled[group.column.name], labelled["lag"])
    W.create(connection)
    try:
        connection.execute(insert(W).from_select(list(values), rows))
        yield
    finally:
        W.drop(connection)


# ---------------------------------------------------------------------------------------------
# Sections, each a GROUP BY over the working set


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns() -> list[ColumnElement[Any]]:
    return [
        *(func.sum(W.c[name]).label(name) for name in (*FIGURES, "interactions")),
        func.coalesce(func.sum(W.c.measured), 0).label("measured"),
    ]


def _figures(row: Any) -> Figures:
    return _figures_of(row._mapping)


def _figures_of(mapping: Any) -> Figures:
    return Figures(
        **{name: _int(mapping.get(name)) for name in (*FIGURES, "interactions")},
        measured=int(mapping.get("measured") or 0),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


Sums = tuple[Outcomes, Figures]
#: Figures' fields in order (positional construction in _sums()).
_FIGURE_FIELDS = (*FIGURES, "interactions", "measured")
assert tuple(f.name for f in fields(Figures)) == _FIGURE_FIELDS
assert tuple(f.name for f in fields(Outcomes)) == OUTCOMES


def _sums(values: Sequence[Any]) -> Sums:
    """Outcomes and figures from sums in the order of OUTCOMES, then _FIGURE_FIELDS (by
    position: a report by post builds one per post)."""
    n = len(OUTCOMES)
    figures: list[Any] = [None if v is None else int(v) for v in values[n:-1]]
    figures.append(int(values[-1] or 0))
    return _outcomes(*[int(v or 0) for v in values[:n]]), Figures(*figures)


@lru_cache(maxsize=4096)
def _outcomes(*counts: int) -> Outcomes:
    """The same outcomes, once (most posts of a report by post have the same)."""
    return Outcomes(*counts)


K = TypeVar("K")


@dataclass(frozen=True)
class Totals:
    """Outcomes and figure sums per group (key, label), per network, and of the campaign."""

    groups: list[tuple[str, str, Sums]]
    channels: dict[str, Sums]
    campaign: Sums


def totals(connection: Connection, group: Dimension) -> Totals:
    """:class:`Totals` from one pass over the working set, grouped by group, network and state
    (two passes when grouped by post: by post and state, then by network and state); the
    outcomes are the states' counts, and the networks and the campaign add up the groups'."""
    keys = [group.column, *([W.c.channel] if group.few else [])]
    grouped = (
        select(*(c.label(f"g{n}") for n, c in enumerate(keys)), W.c.state, func.count().label("n"))
        .add_columns(*_figure_columns())
        .group_by(*keys, W.c.state)
        .subquery("grouped")
    )
    key, label, source = group.named(grouped, grouped.c.g0)
    network = [grouped.c.g1] if group.few else []
    summed = [grouped.c.state, grouped.c.n, *(grouped.c[name] for name in _FIGURE_FIELDS)]
    query = (
        select(key.label("key0"), label.label("key1"), *network, *summed)
        .select_from(source)
        .order_by(key, *network)
    )
    groups: dict[tuple[str, str], list[Any]] = {}
    channels: dict[str, list[Any]] = {}
    first = 2 + len(network)
    for row in connection.execute(query):
        sums = _state_sums(row[first], row[first + 1], row[first + 2 :])
        if group.few:
            _add_to(channels, str(row[2]), list(sums))
        _add_to(groups, (str(row[0]), str(row[1])), sums)
    if not group.few:
        query = select(W.c.channel, W.c.state, func.count(), *_figure_columns())
        for row in connection.execute(query.group_by(W.c.channel, W.c.state)):
            _add_to(channels, str(row[0]), _state_sums(row[1], row[2], row[3:]))
    campaign: dict[str, list[Any]] = {}
    for sums in channels.values():
        _add_to(campaign, "", list(sums))
    return Totals(
        groups=[(key, label, _sums(sums)) for (key, label), sums in groups.items()],
        channels={channel: _sums(sums) for channel, sums in channels.items()},
        campaign=_sums(campaign[""]) if campaign else (Outcomes(), _figures_of({})),
    )


#: Where a state is counted among OUTCOMES (besides "planned", which counts every state).
_OUTCOME_OF = {
    **{name: OUTCOMES.index(name) for name in OUTCOMES[1:-1]},
    **{name: OUTCOMES.index("open") for name in OPEN_STATES},
}


def _state_sums(state: str, count: int, figures: Sequence[Any]) -> list[Any]:
    """The sums (OUTCOMES, then _FIGURE_FIELDS) of ``count`` deliveries in ``state`` whose
    figures add up to ``figures``."""
    sums: list[Any] = [int(count), *[0] * (len(OUTCOMES) - 1), *figures]
    outcome = _OUTCOME_OF.get(state)
    if outcome is not None:
        sums[outcome] = int(count)
    return sums


def _add_to(sums: dict[K, list[Any]], key: K, more: list[Any]) -> None:
    """Add ``more`` to ``sums[key]`` (taking ``more`` itself for a new key); a figure stays None
    only where both are None (SQL's SUM)."""
    have = sums.get(key)
    if have is None:
        sums[key] = more
        return
    for n, value in enumerate(more):
        if value is not None:
            before = have[n]
            have[n] = value if before is None else before + value


def _loaded(data: str | None) -> dict[str, Any] | None:
    import json

    if not data:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _reason_data(state: str, text: str, data: str | None) -> dict[str, Any] | None:
    """The key and values of a reason row: a published post's is why its first comment is
    missing (``comment_error_data``), worded within ``comment_missing``; rows written before
    that key was kept have none, and their English text stands as recorded."""
    loaded = _loaded(data)
    if loaded is not None and state == PUBLISHED and text.startswith(COMMENT_MISSING):
        return {"key": "comment_missing", "error": loaded}
    return loaded


def reasons_by(connection: Connection, group: Dimension) -> dict[str, list[Reason]]:
    """Why deliveries did not go out (or went out without their first comment), grouped by
    identical reason and counted."""
    reasons = (
        select(
            group.column.label("g"),
            W.c.state,
            W.c.reason,
            W.c.reason_data,
            func.count().label("n"),
        )
        .where(
            W.c.state.in_(REASON_STATES)
            | ((W.c.state == PUBLISHED) & W.c.reason.startswith(COMMENT_MISSING))
        )
        .group_by(group.column, W.c.state, W.c.reason, W.c.reason_data)
        .subquery("reasons")
    )
    key, _, source = group.named(reasons, reasons.c.g)
    r = reasons.c
    query = (
        select(key, r.state, r.reason, r.reason_data, r.n)
        .select_from(source)
        .order_by(key, r.n.desc(), r.state, r.reason)
    )
    result: dict[str, list[Reason]] = {}
    for key, state, text, data, number in connection.execute(query):
        result.setdefault(str(key), []).append(
            Reason(state, text or "", int(number), _reason_data(state, text or "", data))
        )
    return result


def punctuality_by(connection: Connection, group: Dimension) -> dict[str, Punctuality]:
    """Median, 95th percentile (nearest rank) and maximum lag per group, and how many were
    punctual. The median of an even number of lags is the mean of the two middle ones.

    A group's published lags are consecutive positions of the working set, in order
    (:func:`working_set`): the k-th smallest is at its first position + k - 1, one lookup by
    primary key."""
    lagged = W.c.lag.is_not(None)  # the lag is set for published deliveries only
    runs = (
        select(
            group.column.label("g"),
            func.min(W.c.position).label("first"),
            func.count().label("n"),
            func.max(W.c.lag).label("max"),
            _count_if(W.c.lag <= PUNCTUAL_SECONDS).label("within"),
        )
        .where(lagged)
        .group_by(group.column)
        .subquery("runs")
    )
    at = W.alias("at")

    def kth(rank: ColumnElement[int]) -> ColumnElement[int]:
        return runs.c.first + rank - 1

    n = runs.c.n
    median = (
        select(func.avg(at.c.lag))
        .where(at.c.position.in_([kth((n + 1) // 2), kth((n + 2) // 2)]))
        .scalar_subquery()
    )
    p95 = select(at.c.lag).where(at.c.position == kth((95 * n + 99) // 100)).scalar_subquery()
    key, _, source = group.named(runs, runs.c.g)
    query = select(key, n, median, p95, runs.c.max, runs.c.within).select_from(source)
    return {
        str(g): _punctuality(published, median, p95, most, within)
        for g, published, median, p95, most, within in connection.execute(query)
    }


def punctuality_few(
    connection: Connection, group: Dimension
) -> tuple[dict[str, Punctuality], Punctuality]:
    """:func:`punctuality_by` and :func:`punctuality` for a breakdown into few groups, whose
    working set is not sorted: the published lags counted per group and *bucket* (the lag as
    an integer, a non-decreasing function of the lag, so a bucket is a run of consecutive lags
    in order), which tells in which bucket the k-th smallest lag of a group or of the campaign
    lies and its rank there; then the distinct lags of those buckets only, counted, in order.
    Two grouped reads of the working set, no sort of its rows."""
    lag = W.c.lag
    bucket = cast(lag, Integer)
    hist = (
        select(
            group.column.label("g"),
            bucket.label("b"),
            func.count().label("n"),
            func.max(lag).label("max"),
            _count_if(lag <= PUNCTUAL_SECONDS).label("within"),
        )
        .where(lag.is_not(None))
        .group_by(group.column, bucket)
        .subquery("hist")
    )
    key, _, source = group.named(hist, hist.c.g)
    h = hist.c
    groups: dict[Any, _Lags] = {}
    keys: dict[Any, str] = {}
    campaign = _Lags()
    query = select(h.g, key, h.b, h.n, h.max, h.within).select_from(source)
    for g, name, b, n, most, within in connection.execute(query):
        keys[g] = str(name)
        groups.setdefault(g, _Lags()).add(b, int(n), most, int(within))
        campaign.add(b, int(n), most, int(within))
    wanted = {(g, b) for g, lags in groups.items() for b in lags.wanted()}
    campaign_buckets = set(campaign.wanted())
    if not wanted:
        return {}, Punctuality()
    # The distinct lags of the buckets asked for, counted: per group for the groups' ranks,
    # added up over the groups for the campaign's.
    values = (
        select(group.column, bucket, lag, func.count())
        .where(
            lag.is_not(None),
            or_(tuple_(group.column, bucket).in_(sorted(wanted)), bucket.in_(campaign_buckets)),
        )
        .group_by(group.column, bucket, lag)
        .order_by(lag)
    )
    for g, b, value, n in connection.execute(values):
        if (g, b) in wanted:
            groups[g].values.setdefault(b, []).append((value, int(n)))
        if b in campaign_buckets:
            campaign.values.setdefault(b, []).append((value, int(n)))
    return {keys[g]: lags.punctuality() for g, lags in groups.items()}, campaign.punctuality()


class _Lags:
    """A group's published lags as counted per bucket (ascending), then the lags of the buckets
    that hold its median, 95th percentile and maximum."""

    def __init__(self) -> None:
        self.buckets: dict[Any, list[Any]] = {}  # bucket -> [count, max, within]
        self.values: dict[Any, list[tuple[Any, int]]] = {}  # bucket -> [(lag, count)] ascending

    def add(self, bucket: Any, count: int, most: Any, within: int) -> None:
        have = self.buckets.get(bucket)
        if have is None:
            self.buckets[bucket] = [count, most, within]
            return
        have[0] += count
        have[1] = max(have[1], most)
        have[2] += within

    @property
    def published(self) -> int:
        return sum(n for n, _, _ in self.buckets.values())

    def ranks(self) -> tuple[int, ...]:
        n = self.published
        return ((n + 1) // 2, (n + 2) // 2, (95 * n + 99) // 100)

    def _find(self, rank: int) -> tuple[Any, int]:
        """The bucket of the rank-th smallest lag (1-based) and its rank in that bucket."""
        for bucket in sorted(self.buckets):
            count = self.buckets[bucket][0]
            if rank <= count:
                return bucket, rank
            rank -= count
        raise AssertionError("rank beyond the lags counted")

    def wanted(self) -> list[Any]:
        """The buckets of the median and of the 95th percentile (none without a lag)."""
        return [self._find(rank)[0] for rank in self.ranks()] if self.buckets else []

    def kth(self, rank: int) -> Any:
        bucket, rank = self._find(rank)
        for value, count in self.values[bucket]:
            if rank <= count:
                return value
            rank -= count
        raise AssertionError("rank beyond the lags read")

    def punctuality(self) -> Punctuality:
        if not self.buckets:
            return Punctuality()
        first, second, p95 = self.ranks()
        median = (float(self.kth(first)) + float(self.kth(second))) / 2
        return _punctuality(
            self.published,
            median,
            self.kth(p95),
            max(most for _, most, _ in self.buckets.values()),
            sum(within for _, _, within in self.buckets.values()),
        )


def punctuality(connection: Connection) -> Punctuality:
    """:func:`punctuality_by` for all published deliveries: the k-th smallest lag through an
    index of the working set's lags (built here, a sort of the published lags)."""
    lagged = W.c.lag.is_not(None)
    published, most, within = connection.execute(
        select(func.count(), func.max(W.c.lag), _count_if(W.c.lag <= PUNCTUAL_SECONDS)).where(
            lagged
        )
    ).one()
    if not published:
        return Punctuality()
    connection.exec_driver_sql(f"CREATE INDEX {W.name}_lag ON {W.name} (lag)")

    def kth(rank: int) -> Any:
        query = select(W.c.lag).where(lagged).order_by(W.c.lag).offset(rank - 1).limit(1)
        return connection.execute(query).scalar_one()

    n = int(published)
    median = (float(kth((n + 1) // 2)) + float(kth((n + 2) // 2))) / 2
    return _punctuality(n, median, kth((95 * n + 99) // 100), most, within)


def _punctuality(published: Any, median: Any, p95: Any, most: Any, within: Any) -> Punctuality:
    return Punctuality(
        published=int(published),
        median_seconds=_round(median),
        p95_seconds=_round(p95),
        max_seconds=_round(most),
        within_1_minute=int(within),
    )


@dataclass(frozen=True)
class FollowersRow:
    account: str
    channel: str
    sender: str
    sender_name: str
    first: int | None
    last: int | None


def followers(connection: Connection) -> list[FollowersRow]:
    """Per account with published deliveries: the followers in the first snapshot of its
    first and of its last measured delivery (the snapshot taken right after publishing)."""
    published, measured = W.c.state == PUBLISHED, W.c.measured == 1
    # One grouped read: the (account, sender) pairs with a publication and each pair's first
    # and last measured instant; an account's are the earliest and latest of its pairs'.
    # Instants as stored (SQLite: text of a fixed width, ordered as the instants), compared
    # here and in the next query as they are.
    stored = String() if connection.dialect.name == "sqlite" else W.c.published_at.type
    at = type_coerce(W.c.published_at, stored)
    instant = case((measured, at))
    ends: dict[int, list[Any]] = {}
    pairs: set[tuple[int, int]] = set()
    query = (
        select(W.c.account_id, W.c.sender_id, func.min(instant), func.max(instant))
        .where(published)
        .group_by(W.c.account_id, W.c.sender_id)
    )
    for account, sender_id, earliest, latest in connection.execute(query):
        pairs.add((account, sender_id))
        if earliest is None:
            continue
        have = ends.setdefault(account, [earliest, latest])
        have[0], have[1] = min(have[0], earliest), max(have[1], latest)
    # The deliveries published at an account's first or last instant; of several at the same
    # instant, the lowest id is the first and the highest the last (as (published_at, id)).
    instants = sorted({value for pair in ends.values() for value in pair})
    first: dict[int, tuple[int, int | None]] = {}
    last: dict[int, tuple[int, int | None]] = {}
    if instants:
        at_ends = select(W.c.account_id, at, W.c.delivery_id, W.c.followers).where(
            published, measured, at.in_(instants)
        )
        for account, when, delivery_id, count in connection.execute(at_ends):
            earliest, latest = ends.get(account, (None, None))
            if when == earliest and (account not in first or delivery_id < first[account][0]):
                first[account] = (delivery_id, _int(count))
            if when == latest and (account not in last or delivery_id > last[account][0]):
                last[account] = (delivery_id, _int(count))
    if not pairs:
        return []
    accounts = (
        select(A.id, SE.id, A.name, A.channel, SE.slug, SE.name)
        .join(SE, tuple_(A.id, SE.id).in_(sorted(pairs)))
        .order_by(SE.slug, A.channel, A.name)
    )
    return [
        FollowersRow(
            str(account),
            str(channel),
            str(sender),
            str(name),
            first.get(account_id, (0, None))[1],
            last.get(account_id, (0, None))[1],
        )
        for account_id, _, account, channel, sender, name in connection.execute(accounts)
    ]


@dataclass(frozen=True)
class TopRow:
    post: str
    sender: str
    sender_name: str
    text: str
    account: str
    channel: str
    published_at: datetime | None
    url: str | None
    figures: Figures


def top_posts(connection: Connection, limit: int) -> list[TopRow]:
    """Measured deliveries by interactions (then impressions), the most first."""

    def order(rows: Any) -> tuple[Any, ...]:
        return (
            rows.c.interactions.desc().nulls_last(),
            rows.c.views.desc().nulls_last(),
            rows.c.published_at,
            rows.c.delivery_id,
        )

    # The few top rows first, then their texts: not a join of every measured delivery; and
    # only the sort keys in the sort (the rest of the ten rows is then looked up by position).
    ranked = (
        select(W.c.position)
        .where(W.c.measured == 1)
        .order_by(*order(W))
        .limit(limit)
        .scalar_subquery()
    )
    top = select(W).where(W.c.position.in_(ranked)).subquery("top")
    query = (
        select(
            P.key.label("post"),
            SE.slug.label("sender"),
            SE.name.label("sender_name"),
            D.text,
            A.name.label("account"),
            top.c.channel,
            top.c.published_at,
            D.remote_url.label("url"),
            *(top.c[name] for name in (*FIGURES, "interactions", "measured")),
        )
        .join(D, D.id == top.c.delivery_id)
        .join(P, P.id == top.c.post_id)
        .join(SE, SE.id == top.c.sender_id)
        .join(A, A.id == top.c.account_id)
        .order_by(*order(top))
    )
    return [
        TopRow(
            post=str(row.post),
            sender=str(row.sender),
            sender_name=str(row.sender_name),
            text=str(row.text),
            account=str(row.account),
            channel=str(row.channel),
            published_at=row.published_at,
            url=row.url,
            figures=_figures(row),
        )
        for row in connection.execute(query)
    ]


def deliveries_per_day(connection: Connection) -> tuple[dict[date, int], dict[date, int]]:
    """Planned deliveries per local day of their due time, published ones per local day of
    their publication."""
    planned: dict[date, int] = {}
    published: dict[date, int] = {}
    query = select(W.c.due_day, W.c.published_day, func.count()).group_by(
        W.c.due_day, W.c.published_day
    )
    for due_day, published_day, n in connection.execute(query):
        planned[_day(due_day)] = planned.get(_day(due_day), 0) + int(n)
        if published_day is not None:
            day = _day(published_day)
            published[day] = published.get(day, 0) + int(n)
    return planned, published


def time_span(connection: Connection, campaign_id: int) -> tuple[datetime, datetime] | None:
    """The earliest and latest instant the report places on a calendar day."""
    query = select(
        func.min(D.due_at), func.max(D.due_at), func.min(D.published_at), func.max(D.published_at)
    )
    campaigns = connection.execute(select(func.count()).select_from(C)).scalar_one()
    if campaigns != 1:  # (with one campaign, every delivery is this one's: no join to posts)
        query = query.join(P, P.id == D.post_id).where(P.campaign_id == campaign_id)
    deliveries = connection.execute(query).one()
    tags = connection.execute(
        select(func.min(H.posted_at), func.max(H.posted_at)).where(H.campaign_id == campaign_id)
    ).one()
    instants = [_aware(v) for v in (*deliveries, *tags) if v is not None]
    if not instants:
        return None
    return min(instants), max(instants)


def _aware(value: Any) -> datetime:
    """MIN/MAX bypass the column type on SQLite: parse and mark as UTC where needed."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def providers(connection: Connection) -> dict[str, list[str]]:
    """For each figure, the networks with at least one snapshot that has it (any snapshot,
    not only the latest: a figure a network stopped giving was still given).

    The distinct (network, figures given) patterns of the working set: a handful of rows."""
    given: dict[str, int] = {}
    query = select(W.c.channel, W.c.provides).where(W.c.provides != 0).distinct()
    for channel, bits in connection.execute(query):
        given[str(channel)] = given.get(str(channel), 0) | int(bits)
    return {
        name: [channel for channel in sorted(given) if given[channel] & (1 << n)]
        for n, name in enumerate(FIGURES)
    }


def _author() -> ColumnElement[str]:
    return H.channel + literal("\x1f") + H.author


def hashtag_per_day(
    connection: Connection, campaign_id: int, days: LocalDay
) -> dict[date, tuple[int, int]]:
    """Posts by others with the hashtag per local day: (posts, distinct authors)."""
    day = days.of(H.posted_at)
    query = (
        select(day, func.count(H.id), func.count(func.distinct(_author())))
        .where(H.campaign_id == campaign_id)
        .group_by(day)
    )
    return {_day(d): (int(posts), int(authors)) for d, posts, authors in connection.execute(query)}


def hashtag_totals(
    connection: Connection, campaign_id: int
) -> tuple[tuple[int, int], list[tuple[str, int, int]]]:
    """(posts, distinct authors) for the campaign, and per network."""
    columns = (func.count(H.id), func.count(func.distinct(_author())))
    total = connection.execute(select(*columns).where(H.campaign_id == campaign_id)).one()
    per_channel = connection.execute(
        select(H.channel, *columns)
        .where(H.campaign_id == campaign_id)
        .group_by(H.channel)
        .order_by(H.channel)
    ).all()
    return (int(total[0]), int(total[1])), [
        (str(channel), int(posts), int(authors)) for channel, posts, authors in per_channel
    ]
