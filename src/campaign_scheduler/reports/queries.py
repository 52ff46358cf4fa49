"""The report's aggregation, in SQL (SQLite and PostgreSQL): counts, sums, medians and
percentiles are computed by the database, never by looping over rows in Python.

The figures of a delivery are those of its *latest* snapshot, found per delivery through the
index ``(campaign_id, delivery_id, fetched_at)``; earlier snapshots are only read to find out
which networks provide a figure at all. Sums keep SQL's NULL semantics: a figure that no
snapshot has stays NULL, it does not become 0.

Calendar days are the campaign's local days (DST-correct): PostgreSQL converts with
``timezone()``; on SQLite the UTC offsets in force over the data's time span are computed
from the zone database and applied with a ``CASE`` per offset period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Numeric,
    Select,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from campaign_scheduler.reports.model import (
    FIGURES,
    INTERACTION_FIGURES,
    PUNCTUAL_SECONDS,
    Figures,
    GroupBy,
    Outcomes,
    Punctuality,
    Reason,
)
from campaign_scheduler.store.models import (
    AccountRecord,
    DeliveryRecord,
    DeliveryState,
    HashtagUseRecord,
    MetricSnapshotRecord,
    PostRecord,
    SenderRecord,
    UTCDateTime,
)

D = DeliveryRecord
P = PostRecord
S = MetricSnapshotRecord
A = AccountRecord
SE = SenderRecord
H = HashtagUseRecord

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


# ---------------------------------------------------------------------------------------------
# Building blocks


class Days:
    """SQL for "the campaign's local calendar day of this UTC instant", as ``YYYY-MM-DD``."""

    def __init__(self, dialect: str, zone: ZoneInfo, span: tuple[datetime, datetime]) -> None:
        self.dialect = dialect
        self.zone = zone
        self.periods = utc_offset_periods(zone, span[0], span[1])

    def of(self, column: Any) -> ColumnElement[str]:
        if self.dialect == "postgresql":
            return func.to_char(func.timezone(self.zone.key, column), "YYYY-MM-DD")
        *bounded, (_, last_offset) = self.periods
        shifted = [
            (column < literal(until, UTCDateTime()), func.date(column, _modifier(offset)))
            for until, offset in bounded
        ]
        if not shifted:
            return func.date(column, _modifier(last_offset))
        return case(*shifted, else_=func.date(column, _modifier(last_offset)))


def _modifier(offset_seconds: int) -> ColumnElement[str]:
    return literal(f"{offset_seconds:+d} seconds")


def utc_offset_periods(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over ``[start, end]``: ``[(until, seconds), ..., (None, seconds)]``,
    each offset in force before ``until`` (UTC), the last one open-ended."""
    start, end = start - timedelta(days=2), end + timedelta(days=2)

    def offset(instant: datetime) -> int:
        value = instant.astimezone(zone).utcoffset()
        return int(value.total_seconds()) if value is not None else 0

    periods: list[tuple[datetime | None, int]] = []
    current = start
    current_offset = offset(current)
    while current < end:
        step = min(current + timedelta(days=1), end)
        if offset(step) != current_offset:
            low, high = current, step  # the change lies in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == current_offset:
                    low = middle
                else:
                    high = middle
            periods.append((high.replace(microsecond=0), current_offset))
            current_offset = offset(high)
        current = step
    periods.append((None, current_offset))
    return periods


def _lag_seconds(dialect: str) -> ColumnElement[Any]:
    """Seconds from due time to publication, rounded to milliseconds."""
    if dialect == "postgresql":
        return func.round(cast(extract("epoch", D.published_at - D.due_at), Numeric), 3)
    return func.round((func.julianday(D.published_at) - func.julianday(D.due_at)) * 86400.0, 3)


def _interactions(source: Any) -> ColumnElement[Any]:
    """likes + reposts + replies + quotes, counting the figures the snapshot has; NULL when
    it has none of them."""
    columns = [getattr(source, name) for name in INTERACTION_FIGURES]
    return case(
        (func.coalesce(*columns).is_(None), None),
        else_=sum((func.coalesce(c, 0) for c in columns[1:]), func.coalesce(columns[0], 0)),
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class Dimension:
    """The grouping of the breakdown: a key, a label and the joins they need."""

    key: Any  # a column or SQL expression
    label: Any


def dimension(by: GroupBy, days: Days) -> Dimension:
    if by is GroupBy.SENDER:
        return Dimension(SE.slug, SE.name)
    if by is GroupBy.CHANNEL:
        return Dimension(A.channel, A.channel)
    if by is GroupBy.DAY:
        day = days.of(D.due_at)
        return Dimension(day, day)
    return Dimension(P.key, P.key)


def _deliveries(campaign_id: int, *columns: Any) -> Select[Any]:
    """``SELECT columns FROM delivery JOIN post JOIN sender JOIN account`` of one campaign."""
    return (
        select(*columns)
        .select_from(D)
        .join(P, P.id == D.post_id)
        .join(SE, SE.id == P.sender_id)
        .join(A, A.id == D.account_id)
        .where(P.campaign_id == campaign_id)
    )


def _latest(campaign_id: int) -> Any:
    """Each delivery of the campaign with the id of its latest snapshot (NULL: none yet)."""
    latest_id = (
        select(S.id)
        .where(S.campaign_id == campaign_id, S.delivery_id == D.id)
        .order_by(S.fetched_at.desc(), S.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(D.id.label("delivery_id"), latest_id.label("snapshot_id"))
        .join(P, P.id == D.post_id)
        .where(P.campaign_id == campaign_id)
        .subquery("latest")
    )


def _measured(campaign_id: int, *columns: Any) -> Select[Any]:
    """``SELECT columns`` over the latest snapshot of each measured delivery, with its
    delivery, post, sender and account joined."""
    latest = _latest(campaign_id)
    return (
        select(*columns)
        .select_from(latest)
        .join(S, S.id == latest.c.snapshot_id)
        .join(D, D.id == latest.c.delivery_id)
        .join(P, P.id == D.post_id)
        .join(SE, SE.id == P.sender_id)
        .join(A, A.id == D.account_id)
    )


def _figure_columns() -> list[ColumnElement[Any]]:
    return [
        *(func.sum(getattr(S, name)).label(name) for name in FIGURES),
        func.sum(_interactions(S)).label("interactions"),
        func.count(S.id).label("measured"),
    ]


def _figures(row: Any) -> Figures:
    mapping = row._mapping
    return Figures(
        **{name: _int(mapping[name]) for name in (*FIGURES, "interactions")},
        measured=int(mapping["measured"] or 0),
    )


def _outcome_columns() -> list[ColumnElement[Any]]:
    return [
        func.count(D.id).label("planned"),
        _count_if(D.state == DeliveryState.PUBLISHED.value).label("published"),
        _count_if(D.state == DeliveryState.FAILED.value).label("failed"),
        _count_if(D.state == DeliveryState.EXPIRED.value).label("expired"),
        _count_if(D.state == DeliveryState.CANCELLED.value).label("cancelled"),
        _count_if(D.state == DeliveryState.UNKNOWN.value).label("unknown"),
        _count_if(D.state.in_(OPEN_STATES)).label("open"),
    ]


def _outcomes(row: Any) -> Outcomes:
    mapping = row._mapping
    return Outcomes(
        **{
            name: int(mapping[name] or 0)
            for name in ("planned", "published", "failed", "expired", "cancelled", "unknown")
        },
        open=int(mapping["open"] or 0),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# ---------------------------------------------------------------------------------------------
# Queries


def time_span(connection: Connection, campaign_id: int) -> tuple[datetime, datetime] | None:
    """The earliest and latest instant the report places on a calendar day."""
    deliveries = connection.execute(
        _deliveries(
            campaign_id,
            func.min(D.due_at),
            func.max(D.due_at),
            func.min(D.published_at),
            func.max(D.published_at),
        )
    ).one()
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
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def outcomes_by(
    connection: Connection, campaign_id: int, group: Dimension | None
) -> list[tuple[str, str, Outcomes]]:
    """Deliveries by outcome, per group (key, label) or for the whole campaign (key "")."""
    keys = [group.key.label("key"), group.label.label("label")] if group else []
    query = _deliveries(campaign_id, *keys, *_outcome_columns())
    if group is not None:
        query = query.group_by(group.key, group.label).order_by(group.key)
    rows = connection.execute(query).all()
    return [
        (str(r.key) if group else "", str(r.label) if group else "", _outcomes(r)) for r in rows
    ]


def reasons_by(
    connection: Connection, campaign_id: int, group: Dimension
) -> dict[str, list[Reason]]:
    """Why deliveries did not go out, grouped by identical reason and counted."""
    reason = func.coalesce(D.state_reason, D.last_error, "")
    count = func.count(D.id)
    query = (
        _deliveries(campaign_id, group.key.label("key"), D.state, reason.label("reason"), count)
        .where(D.state.in_(REASON_STATES))
        .group_by(group.key, D.state, reason)
        .order_by(group.key, count.desc(), D.state, reason)
    )
    result: dict[str, list[Reason]] = {}
    for key, state, text, number in connection.execute(query):
        result.setdefault(str(key), []).append(Reason(state, text, int(number)))
    return result


def punctuality_by(
    connection: Connection, campaign_id: int, dialect: str, group: Dimension | None
) -> dict[str, Punctuality]:
    """Median, 95th percentile (nearest rank) and maximum lag, and how many were punctual.

    The median of an even number of lags is the mean of the two middle ones."""
    key = group.key if group is not None else literal("")
    lags = (
        _deliveries(campaign_id, key.label("g"), _lag_seconds(dialect).label("lag"))
        .where(D.state == DeliveryState.PUBLISHED.value, D.published_at.is_not(None))
        .subquery("lags")
    )
    ranked = select(
        lags.c.g,
        lags.c.lag,
        func.row_number().over(partition_by=lags.c.g, order_by=lags.c.lag).label("rn"),
        func.count().over(partition_by=lags.c.g).label("n"),
    ).subquery("ranked")
    rn, n = ranked.c.rn, ranked.c.n
    middle = or_(rn == (n + 1) // 2, rn == (n + 2) // 2)
    query = select(
        ranked.c.g,
        func.count().label("published"),
        func.avg(case((middle, ranked.c.lag))).label("median"),
        func.max(case((rn == (95 * n + 99) // 100, ranked.c.lag))).label("p95"),
        func.max(ranked.c.lag).label("max"),
        _count_if(ranked.c.lag <= PUNCTUAL_SECONDS).label("within"),
    ).group_by(ranked.c.g)
    return {
        str(row.g): Punctuality(
            published=int(row.published),
            median_seconds=_round(row.median),
            p95_seconds=_round(row.p95),
            max_seconds=_round(row.max),
            within_1_minute=int(row.within),
        )
        for row in connection.execute(query)
    }


def _round(value: Any) -> float | None:
    number = _float(value)
    return None if number is None else round(number, 3)


def figures_by(
    connection: Connection, campaign_id: int, group: Dimension | None
) -> dict[str, Figures]:
    """Sums of the latest snapshot per delivery, per group or for the campaign (key "")."""
    keys = [group.key.label("key")] if group is not None else []
    query = _measured(campaign_id, *keys, *_figure_columns())
    if group is not None:
        query = query.group_by(group.key)
    return {
        (str(row.key) if group is not None else ""): _figures(row)
        for row in connection.execute(query)
        if group is not None or row.measured
    }


def providers(connection: Connection, campaign_id: int) -> dict[str, list[str]]:
    """For each figure, the networks with at least one snapshot that has it (any snapshot,
    not only the latest: a figure a network stopped giving was still given)."""
    per_account = (
        select(S.account_id, *(func.count(getattr(S, name)).label(name) for name in FIGURES))
        .where(S.campaign_id == campaign_id)
        .group_by(S.account_id)
        .subquery("per_account")
    )
    query = (
        select(A.channel, *(func.sum(getattr(per_account.c, name)).label(name) for name in FIGURES))
        .join(A, A.id == per_account.c.account_id)
        .group_by(A.channel)
        .order_by(A.channel)
    )
    result: dict[str, list[str]] = {name: [] for name in FIGURES}
    for row in connection.execute(query):
        for name in FIGURES:
            if row._mapping[name]:
                result[name].append(str(row.channel))
    return result


def campaign_channels(connection: Connection, campaign_id: int) -> list[str]:
    query = _deliveries(campaign_id, A.channel).distinct().order_by(A.channel)
    return [str(channel) for channel in connection.scalars(query)]


@dataclass(frozen=True)
class FollowersRow:
    account: str
    channel: str
    sender: str
    first: int | None
    last: int | None


def followers(connection: Connection, campaign_id: int) -> list[FollowersRow]:
    """Per account, the followers in the first snapshot of its first and of its last
    published delivery (the snapshot taken right after publishing)."""
    first_id = (
        select(S.id)
        .where(S.campaign_id == campaign_id, S.delivery_id == D.id)
        .order_by(S.fetched_at.asc(), S.id.asc())
        .limit(1)
        .scalar_subquery()
    )
    published = (
        select(D.id, D.account_id, D.published_at, first_id.label("snapshot_id"))
        .join(P, P.id == D.post_id)
        .where(P.campaign_id == campaign_id, D.state == DeliveryState.PUBLISHED.value)
        .subquery("published")
    )
    ordered = (
        select(
            published.c.account_id,
            S.followers,
            func.row_number()
            .over(
                partition_by=published.c.account_id,
                order_by=(published.c.published_at.asc(), published.c.id.asc()),
            )
            .label("from_first"),
            func.row_number()
            .over(
                partition_by=published.c.account_id,
                order_by=(published.c.published_at.desc(), published.c.id.desc()),
            )
            .label("from_last"),
        )
        .join(S, S.id == published.c.snapshot_id)
        .subquery("ordered")
    )
    per_account = (
        select(
            ordered.c.account_id,
            func.max(case((ordered.c.from_first == 1, ordered.c.followers))).label("first"),
            func.max(case((ordered.c.from_last == 1, ordered.c.followers))).label("last"),
        )
        .group_by(ordered.c.account_id)
        .subquery("per_account")
    )
    query = (
        _deliveries(
            campaign_id, A.name, A.channel, SE.slug, per_account.c.first, per_account.c.last
        )
        .outerjoin(per_account, per_account.c.account_id == A.id)
        .where(D.state == DeliveryState.PUBLISHED.value)
        .distinct()
        .order_by(SE.slug, A.channel, A.name)
    )
    return [
        FollowersRow(str(name), str(channel), str(sender), _int(first), _int(last))
        for name, channel, sender, first, last in connection.execute(query)
    ]


@dataclass(frozen=True)
class TopRow:
    post: str
    sender: str
    account: str
    channel: str
    published_at: datetime | None
    url: str | None
    figures: Figures


def top_posts(connection: Connection, campaign_id: int, limit: int) -> list[TopRow]:
    """Measured deliveries by interactions (then views), the most first."""
    interactions = _interactions(S)
    query = (
        _measured(
            campaign_id,
            P.key,
            SE.slug,
            A.name,
            A.channel,
            D.published_at,
            D.remote_url,
            *(getattr(S, name).label(name) for name in FIGURES),
            interactions.label("interactions"),
            literal(1).label("measured"),
        )
        .order_by(
            interactions.desc().nulls_last(),
            S.views.desc().nulls_last(),
            D.published_at.asc(),
            D.id.asc(),
        )
        .limit(limit)
    )
    return [
        TopRow(
            post=str(row.key),
            sender=str(row.slug),
            account=str(row.name),
            channel=str(row.channel),
            published_at=row.published_at,
            url=row.remote_url,
            figures=_figures(row),
        )
        for row in connection.execute(query)
    ]


def deliveries_per_day(
    connection: Connection, campaign_id: int, days: Days
) -> tuple[dict[date, int], dict[date, int]]:
    """Planned deliveries per local day of their due time, published ones per local day of
    their publication."""
    due_day = days.of(D.due_at)
    planned = _deliveries(campaign_id, due_day, func.count(D.id)).group_by(due_day)
    out_day = days.of(D.published_at)
    published = (
        _deliveries(campaign_id, out_day, func.count(D.id))
        .where(D.state == DeliveryState.PUBLISHED.value, D.published_at.is_not(None))
        .group_by(out_day)
    )
    return (
        {_day(day): int(n) for day, n in connection.execute(planned)},
        {_day(day): int(n) for day, n in connection.execute(published)},
    )


def _author() -> ColumnElement[str]:
    return H.channel + literal("\x1f") + H.author


def hashtag_per_day(
    connection: Connection, campaign_id: int, days: Days
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


def channel_outcomes(connection: Connection, campaign_id: int) -> dict[str, Outcomes]:
    query = _deliveries(campaign_id, A.channel, *_outcome_columns()).group_by(A.channel)
    return {str(row.channel): _outcomes(row) for row in connection.execute(query)}
