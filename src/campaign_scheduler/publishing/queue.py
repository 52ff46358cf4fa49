"""The database as the queue: claim a due delivery, recover abandoned ones, record outcomes.

Every claim is one atomic UPDATE that moves a delivery to ``publishing`` under a lease, and
commits an attempt row, before any network call. On PostgreSQL the candidate is selected
``FOR UPDATE SKIP LOCKED`` so that several daemons claim side by side; on SQLite the claim
runs in a ``BEGIN IMMEDIATE`` transaction.

Every later write of the worker (the fence before a network write, the parts of a thread, the
outcome) is a conditional UPDATE on the *lease token*: the delivery is still ``publishing``,
held by this worker, at this attempt number. A worker whose lease ran out and was taken over
changes nothing: the fence raises :class:`LeaseLostError` and the outcome is not recorded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Connection,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Grouping

from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.publishing.policy import deadline
from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.engine import Store, execute_on_driver
from campaign_scheduler.store.lag import lag_seconds
from campaign_scheduler.store.models import (
    WAITING,
    AccountRecord,
    AttemptRecord,
    AuditEventRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    UTCDateTime,
)
from campaign_scheduler.uilang import msg

log = logging.getLogger("campaign_scheduler.publishing")

WAITING_STATES = tuple(s.value for s in WAITING)
SYSTEM_ACTOR = "daemon"


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds under a lease, with what it needs to publish it."""

    delivery_id: int
    attempt_id: int
    attempt_number: int  # attempts since the delivery was (re)queued: what retry limits count
    worker: str
    campaign_slug: str
    post_key: str
    post_source: str
    account_name: str
    channel: str
    text: str
    language: str
    media: list[dict[str, Any]]
    idempotency_key: str
    due_at: datetime
    not_after: datetime | None
    grace: timedelta
    key_first_used: datetime
    maybe_out: bool = False  # the record says the (current part of the) post may be out
    split: bool = False  # the draft asked for a thread when the text is too long
    parts: list[dict[str, str | None]] = field(default_factory=list)  # thread parts already out
    plan: list[str] | None = None  # the texts of the thread, frozen at the first attempt
    first_comment: str | None = None  # the comment that follows the post: its last part
    version: int = 0  # the delivery's version at the claim: with the worker, the lease token

    @property
    def deadline(self) -> datetime:
        return deadline(self.due_at, self.not_after, self.grace)


# The hot path (claim, start an attempt, record an outcome) runs prebuilt Core statements with
# bound parameters: building SQLAlchemy expressions per call costs more than running them.
_D = cast(Table, DeliveryRecord.__table__)
_A = cast(Table, AccountRecord.__table__)
_P = cast(Table, PostRecord.__table__)
_C = cast(Table, CampaignRecord.__table__)
_T = cast(Table, AttemptRecord.__table__)
_JOINED = (
    _D.join(_A, _A.c.id == _D.c.account_id)
    .join(_P, _P.c.id == _D.c.post_id)
    .join(_C, _C.c.id == _P.c.campaign_id)
)
_PENDING = DeliveryState.PENDING.value
_PUBLISHING = DeliveryState.PUBLISHING.value


_BUSY = _D.alias("busy")
#: One call at a time per account, in due order: an account with a delivery in flight (in
#: this daemon or another) gets nothing new until that call is recorded. The state is written
#: into the statement, not bound: with a bound state a prepared statement's generic plan on
#: PostgreSQL guesses that every account has deliveries in flight, expects the pick to find
#: almost nothing and sorts every due delivery rather than walking ix_delivery_pending_due.
_ACCOUNT_FREE = ~(
    select(_BUSY.c.id)
    .where(
        _BUSY.c.account_id == _D.c.account_id,
        _BUSY.c.state == literal_column(f"'{_PUBLISHING}'"),
    )
    .exists()
)


def _build_pick_due(*, locking: bool = True) -> Any:
    """The most overdue delivery that may go out now, on an account with nothing in flight.

    On PostgreSQL it locks the delivery and its account (``SKIP LOCKED``): two daemons never
    pick deliveries of one account at once. Without ``locking`` it only reads."""
    now = bindparam("now", type_=UTCDateTime())
    pick = (
        select(_D.c.id)
        .select_from(_JOINED)
        .where(
            # Written into the statement, not bound: PostgreSQL uses the partial index
            # ix_delivery_pending_due (WHERE state = 'pending') only when it can see the
            # condition in the plan, also in a prepared statement's generic plan.
            _D.c.state == literal_column(f"'{_PENDING}'"),
            _D.c.due_at <= now,
            or_(_D.c.next_attempt_at.is_(None), _D.c.next_attempt_at <= now),
            _A.c.needs_attention.is_(False),
            or_(_A.c.rate_limited_until.is_(None), _A.c.rate_limited_until <= now),
            or_(_C.c.require_approval.is_(False), _P.c.approver.is_not(None)),
            _ACCOUNT_FREE,
        )
        .order_by(_D.c.due_at, _D.c.id)
        .limit(1)
    )
    return pick.with_for_update(skip_locked=True, key_share=True, of=[_D, _A]) if locking else pick


def _claiming(now: Any) -> dict[str, Any]:
    """What a claim of a pending delivery writes: publishing, under this worker's lease."""
    return {
        "state": _PUBLISHING,
        "lease_owner": bindparam("worker"),
        "lease_until": bindparam("until", type_=UTCDateTime()),
        "attempts": _D.c.attempts + 1,
        "next_attempt_at": None,
        "version": _D.c.version + 1,
        "updated_at": now,
    }


def _build_claim_due(chosen: Any, pending: Any = _D.c.state == _PENDING) -> Any:
    """Claim the ``chosen`` deliveries (a condition on ``delivery.id``) if they are still
    pending and their accounts have nothing in flight.

    On PostgreSQL this runs as a statement of its own after :func:`_build_pick_due` took the
    account's lock, so its snapshot sees a claim another daemon committed meanwhile."""
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(_D)
        .where(chosen, pending, _ACCOUNT_FREE)
        .values(_claiming(now))
        .returning(_D.c.id, _D.c.attempts, _D.c.version)
    )


def _build_claim_abandoned() -> Any:
    now = bindparam("now", type_=UTCDateTime())
    held = _D.alias("held")
    candidate = (
        select(_D.c.id)
        .where(
            _D.c.state == _PUBLISHING,
            _D.c.lease_until < now,
            # One call at a time per account: not while another of its deliveries is held.
            ~select(held.c.id)
            .where(
                held.c.account_id == _D.c.account_id,
                held.c.state == _PUBLISHING,
                held.c.lease_until >= now,
            )
            .exists(),
        )
        .order_by(_D.c.lease_until, _D.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(_D)
        .where(_D.c.id == candidate, _D.c.state == _PUBLISHING, _D.c.lease_until < now)
        .values(
            # The worker that held it may have sent before it died: possibly out.
            maybe_out=True,
            lease_owner=bindparam("worker"),
            lease_until=bindparam("until", type_=UTCDateTime()),
            attempts=_D.c.attempts + 1,
            version=_D.c.version + 1,
            updated_at=now,
        )
        .returning(_D.c.id, _D.c.attempts, _D.c.version)
    )


_PICK_DUE = _build_pick_due()
#: SQLite: one statement (``BEGIN IMMEDIATE`` serialises claims); PostgreSQL: pick, then claim.
_CLAIM_DUE = _build_claim_due(_D.c.id == _PICK_DUE.scalar_subquery())
_CLAIM_ABANDONED = _build_claim_abandoned()
_ABANDON_OPEN_ATTEMPTS = (
    update(_T)
    .where(_T.c.delivery_id == bindparam("delivery"), _T.c.finished_at.is_(None))
    .values(
        finished_at=bindparam("now", type_=UTCDateTime()),
        outcome="abandoned",
        error="the worker's lease ran out",
    )
)
_INSERT_ATTEMPT = (
    insert(_T)
    .values(
        delivery_id=bindparam("delivery"),
        number=select(func.coalesce(func.max(_T.c.number), 0) + 1)
        .where(_T.c.delivery_id == bindparam("delivery"))
        .scalar_subquery(),
        worker=bindparam("worker_name"),
        started_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(_T.c.id)
)
_FIRST_USED = select(func.min(_T.c.started_at)).where(_T.c.delivery_id == _D.c.id).scalar_subquery()
_CLAIM_DETAILS = (
    select(
        _C.c.slug,
        _P.c.key,
        _P.c.source,
        _A.c.name,
        _A.c.channel,
        _D.c.text,
        _P.c.language,
        _P.c.media,
        _D.c.idempotency_key,
        _D.c.due_at,
        _D.c.not_after,
        _C.c.grace_seconds,
        type_coerce(_FIRST_USED, UTCDateTime()),
        _D.c.maybe_out,
        _P.c.split,
        _D.c.parts,
        _D.c.plan,
        _D.c.first_comment,
    )
    .select_from(_JOINED)
    .where(_D.c.id == bindparam("id"))
)


_ATTEMPT_COLUMNS = ["delivery_id", "number", "worker", "started_at"]


def _attempt_rows(delivery: Any, now: Any) -> Any:
    """The new attempt of each ``delivery`` (a column of claimed ids), numbered after its
    earlier ones, for ``INSERT … SELECT`` into :data:`_ATTEMPT_COLUMNS`."""
    earlier = _T.alias("earlier")
    return select(
        delivery,
        select(func.coalesce(func.max(earlier.c.number), 0) + 1)
        .where(earlier.c.delivery_id == delivery)
        .scalar_subquery(),
        bindparam("worker_name", type_=_T.c.worker.type),
        now,
    )


def _build_claim_picked_pg(chosen: Any) -> Any:
    """PostgreSQL: claim the ``chosen`` deliveries (see :func:`_build_claim_due`), start
    their attempts and read what the calls need, in one statement.

    The attempt row and the details come from data-modifying CTEs; they see the claim's
    ``RETURNING`` values, so the details are those after the claim, as the separate reads
    gave them. The new attempt is not visible to the statement's own snapshot: the first use
    of the key is the earlier of the older attempts and ``now``."""
    now = bindparam("now", type_=UTCDateTime())
    claimed = (
        # The picked deliveries are pending: the pick's locks keep every other writer off
        # them. The guard stays, written so that no plan starts from the state indexes (the
        # statistics right after a load say the queue is empty; the primary key is the way).
        _build_claim_due(chosen, _D.c.state.concat("") == _PENDING)
        .returning(
            _D.c.account_id,
            _D.c.post_id,
            _D.c.text,
            _D.c.idempotency_key,
            _D.c.due_at,
            _D.c.not_after,
            _D.c.maybe_out,
            _D.c.parts,
            _D.c.plan,
            _D.c.first_comment,
        )
        .cte("claimed")
    )
    earlier = _T.alias("earlier")
    attempt = (
        insert(_T)
        .from_select(_ATTEMPT_COLUMNS, _attempt_rows(claimed.c.id, now))
        .returning(_T.c.id, _T.c.delivery_id)
        .cte("started")
    )
    first_used = (
        select(func.min(earlier.c.started_at))
        .where(earlier.c.delivery_id == claimed.c.id)
        .scalar_subquery()
    )
    return select(
        claimed.c.id,
        claimed.c.attempts,
        claimed.c.version,
        attempt.c.id,
        _C.c.slug,
        _P.c.key,
        _P.c.source,
        _A.c.name,
        _A.c.channel,
        claimed.c.text,
        _P.c.language,
        _P.c.media,
        claimed.c.idempotency_key,
        claimed.c.due_at,
        claimed.c.not_after,
        _C.c.grace_seconds,
        type_coerce(func.least(first_used, now), UTCDateTime()),
        claimed.c.maybe_out,
        _P.c.split,
        claimed.c.parts,
        claimed.c.plan,
        claimed.c.first_comment,
    ).select_from(
        claimed.join(attempt, attempt.c.delivery_id == claimed.c.id)
        .join(_A, _A.c.id == claimed.c.account_id)
        .join(_P, _P.c.id == claimed.c.post_id)
        .join(_C, _C.c.id == _P.c.campaign_id)
    )


#: The setting through which a pick hands the ids it locked to the claim after it, in the
#: same transaction (``set_config(…, true)``: it lasts until the transaction ends).
_PICKED_SETTING = "campaign_scheduler.picked"


def _build_pick_due_pg() -> Any:
    """PostgreSQL: lock the first delivery that may go out now, with its account
    (:func:`_build_pick_due`), and keep its id in :data:`_PICKED_SETTING` (``{}``: none).
    Returns that value."""
    return _keeping_picks(_PICK_DUE.subquery("picks"))


def _build_pick_batch_pg() -> Any:
    """PostgreSQL: the pick of a claim for ``limit`` lanes. Of the first ``scan`` deliveries
    that may go out now, in due order, it takes the most overdue of each account, and of
    those it locks the first ``limit`` it can (``SKIP LOCKED``), each with its account, and
    keeps their ids in :data:`_PICKED_SETTING`.

    It locks no more deliveries and accounts than it may claim: the first ``scan`` are read,
    not locked, so another daemon claiming at the same moment skips only the ``limit``
    accounts this claim takes and gets the next ones. (Locking all ``scan`` rows, with every
    account among them, left another daemon's pick with nothing: a backlog interleaves the
    accounts, and ``32 × 8`` rows held every one of 125.) A delivery another daemon claimed
    after the read fails the recheck of its newest version (no longer pending) once locked,
    and the next candidate takes its place; the claim's own guards stay as they were."""
    scanned = (
        _build_pick_due(locking=False)
        .add_columns(_D.c.account_id, _D.c.due_at)
        .limit(bindparam("scan"))
        .subquery("scanned")
    )
    place = func.row_number().over(
        partition_by=scanned.c.account_id, order_by=(scanned.c.due_at, scanned.c.id)
    )
    ranked = select(scanned.c.id, place.label("place")).subquery("ranked")
    firsts = select(ranked.c.id).where(ranked.c.place == 1)
    locked = (
        select(_D.c.id)
        .select_from(_D.join(_A, _A.c.id == _D.c.account_id))
        .where(
            _D.c.id == any_(func.array(firsts.scalar_subquery())),
            _D.c.state == literal_column(f"'{_PENDING}'"),
        )
        .order_by(_D.c.due_at, _D.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, key_share=True, of=[_D, _A])
    )
    return _keeping_picks(locked.subquery("picks"))


def _keeping_picks(picks: Any) -> Any:
    """Keep the ids of ``picks`` (a subquery with ``id``) in :data:`_PICKED_SETTING`."""
    ids = func.coalesce(sql_cast(func.array_agg(picks.c.id), Text), "{}")
    return select(func.set_config(_PICKED_SETTING, ids, True))


def _picked_pg() -> Any:
    """The ids the pick kept in :data:`_PICKED_SETTING` (an array; NULL when none)."""
    return sql_cast(func.nullif(func.current_setting(_PICKED_SETTING, True), ""), ARRAY(BigInteger))


def _build_claim_picks_pg() -> Any:
    """PostgreSQL: of the deliveries the pick locked, claim the most overdue of each account
    (the first ``limit`` of those, in due order), as :func:`_build_claim_picked_pg`.

    It runs as a statement of its own after the pick, in its transaction: its snapshot sees a
    claim another daemon committed for one of the accounts after the pick's snapshot was
    taken (that daemon held the account's lock until then), and the guards of
    :func:`_build_claim_due` skip that account. The picked deliveries are still pending (the
    pick's locks keep every other writer off them)."""
    place = (
        func.row_number()
        .over(partition_by=_D.c.account_id, order_by=(_D.c.due_at, _D.c.id))
        .label("place")
    )
    candidates = (
        select(_D.c.id, _D.c.due_at, place)
        .where(_D.c.id == any_(_picked_pg()))
        .subquery("candidates")
    )
    first_of_each = (
        select(candidates.c.id)
        .where(candidates.c.place == 1)
        .order_by(candidates.c.due_at, candidates.c.id)
        .limit(bindparam("limit"))
    )
    # (= ANY of an array, not IN: found by primary key, not by joining the whole queue)
    return _build_claim_picked_pg(_D.c.id == any_(func.array(first_of_each.scalar_subquery())))


def _build_claim_one_pg() -> Any:
    """PostgreSQL: :func:`_build_claim_picks_pg` for a pick of one delivery (the claim of
    one lane): found by its primary key, whatever the planner's statistics say."""
    return _build_claim_picked_pg(_D.c.id == Grouping(_picked_pg())[1])


_PICK_DUE_PG = _build_pick_due_pg()
_PICK_BATCH_PG = _build_pick_batch_pg()
_CLAIM_PICKS_PG = _build_claim_picks_pg()
_CLAIM_ONE_PG = _build_claim_one_pg()


#: A batch claim ranks the first ``limit × BATCH_SCAN`` deliveries that may go out, in due
#: order (an index walk), not every one: a backlog of thousands costs what a burst costs. An
#: account with more than that many ahead of the others gets one claim per batch then.
BATCH_SCAN = 8


def _build_claim_due_batch_sqlite() -> Any:
    """SQLite: claim up to ``limit`` deliveries that may go out now in one statement, the
    most overdue waiting delivery of each account with nothing in flight, most overdue first
    (among the first :data:`BATCH_SCAN` × ``limit`` in due order).

    The claim runs in a ``BEGIN IMMEDIATE`` transaction (no other writer meanwhile), and its
    guards are those of :func:`_build_claim_due`. The state guard is written ``state || ''``:
    with a plain ``state = 'pending'`` next to ``id IN (…)`` SQLite 3.40 walks the state index
    instead of the picked ids (docs/scaling.md, PERF-NOTES)."""
    now = bindparam("now", type_=UTCDateTime())
    first_due = (  # what the one-at-a-time pick would choose from, its first ``scan`` rows
        select(_D.c.id, _D.c.account_id, _D.c.due_at)
        .select_from(_JOINED)
        .where(_PICK_DUE.whereclause)
        .order_by(_D.c.due_at, _D.c.id)
        .limit(bindparam("scan"))
        .subquery("first_due")
    )
    place = (
        func.row_number()
        .over(partition_by=first_due.c.account_id, order_by=(first_due.c.due_at, first_due.c.id))
        .label("place")
    )
    waiting = select(first_due.c.id, first_due.c.due_at, place).subquery("waiting")
    picked = (
        select(waiting.c.id)
        .where(waiting.c.place == 1)
        .order_by(waiting.c.due_at, waiting.c.id)
        .limit(bindparam("limit"))
    )
    return (
        update(_D)
        .where(_D.c.id.in_(picked), _D.c.state.concat("") == _PENDING, _ACCOUNT_FREE)
        .values(_claiming(now))
        .returning(_D.c.id, _D.c.attempts, _D.c.version)
    )


def _build_start_attempts_sqlite() -> Any:
    """SQLite: the attempt rows of a batch of claims, one statement (numbered per delivery)."""
    now = bindparam("now", type_=UTCDateTime())
    return (
        insert(_T)
        .from_select(
            _ATTEMPT_COLUMNS,
            _attempt_rows(_D.c.id, now).where(_D.c.id.in_(bindparam("ids", expanding=True))),
        )
        .returning(_T.c.id, _T.c.delivery_id)
    )


_CLAIM_DUE_BATCH_SQLITE = _build_claim_due_batch_sqlite()
_START_ATTEMPTS_SQLITE = _build_start_attempts_sqlite()
_BATCH_DETAILS_SQLITE = (
    select(*_CLAIM_DETAILS.selected_columns, _D.c.id)
    .select_from(_JOINED)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)))
)
_ANY_DELIVERY = select(func.min(_D.c.id))


#: Claims the next delivery of its kind in the given transaction (values: now, until,
#: worker), or returns None when there is none left.
ClaimNext = Callable[[Connection, dict[str, Any]], Claim | None]


def _claim_many(
    store: Store, worker: str, now: datetime, lease: timedelta, limit: int, claim_next: ClaimNext
) -> list[Claim]:
    """Up to ``limit`` claims by ``claim_next``, in one transaction."""
    values: dict[str, Any] = {"now": now, "until": now + lease, "worker": worker}
    claims: list[Claim] = []
    with store.transaction(write=True) as connection:
        while len(claims) < limit:
            claim = claim_next(connection, values)
            if claim is None:
                break
            claims.append(claim)
    return claims


def claim_due(store: Store, worker: str, now: datetime, lease: timedelta) -> Claim | None:
    """Claim the most overdue delivery that may go out now, or return None."""
    return next(iter(claim_due_many(store, worker, now, lease, 1)), None)


def claim_due_many(
    store: Store, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claim]:
    """Claim up to ``limit`` deliveries that may go out now, most overdue first, each on
    another account, in one transaction (one commit for a burst due at one instant)."""
    if not store.is_sqlite:
        return _claim_due_pg(store, worker, now, lease, limit)
    if limit > 1:
        return _claim_due_batch_sqlite(store, worker, now, lease, limit)

    def claim_next(connection: Connection, values: dict[str, Any]) -> Claim | None:
        # one claim: the pick in due order stops at the first it finds
        row = connection.execute(_CLAIM_DUE, values).first()
        if row is None:
            return None
        return _start_attempt(connection, row[0], row[1], row[2], worker, now)

    return _claim_many(store, worker, now, lease, limit, claim_next)


def _claim_due_batch_sqlite(
    store: Store, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claim]:
    """SQLite: the claims, their attempt rows and what the calls need, three statements for
    the whole batch in one transaction (committed before any call). (The batch ranks every
    delivery that may go out now; a claim of one takes the first in due order instead.)"""
    values = {
        "now": now,
        "until": now + lease,
        "worker": worker,
        "limit": limit,
        "scan": limit * BATCH_SCAN,
    }
    with store.transaction(write=True) as connection:
        claimed = {row[0]: row for row in connection.execute(_CLAIM_DUE_BATCH_SQLITE, values)}
        if not claimed:
            return []
        ids = list(claimed)
        attempts = {
            delivery: attempt
            for attempt, delivery in connection.execute(
                _START_ATTEMPTS_SQLITE, {"ids": ids, "worker_name": worker, "now": now}
            )
        }
        details = {
            row[-1]: row[:-1] for row in connection.execute(_BATCH_DETAILS_SQLITE, {"ids": ids})
        }
    claims = [
        _claim_from_row(id_, attempts[id_], number, version, worker, now, details[id_])
        for id_, number, version in claimed.values()
    ]
    claims.sort(key=lambda claim: (claim.due_at, claim.delivery_id))  # most overdue first
    return claims


def _claim_due_pg(
    store: Store, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claim]:
    """PostgreSQL: pick (locking the deliveries and their accounts, ``SKIP LOCKED``), then
    claim, start the attempts and read the details: two statements of one transaction, sent
    together in one round trip (:meth:`Store.pipelined`), committed before any call. A claim
    of one locks the first delivery that may go out; a batch reads the first
    ``limit`` × :data:`BATCH_SCAN` of them in due order and locks the most overdue of each
    account among them, at most ``limit`` (:func:`_build_pick_batch_pg`)."""
    return _claims_pg(store, worker, now, lease, limit, ())[1]


def _claims_pg(
    store: Store,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    before: Sequence[tuple[Any, dict[str, Any]]],
) -> tuple[list[Any], list[Claim]]:
    """:func:`_claim_due_pg` after the statements ``before`` in the same transaction (and
    round trip); returns their rows too."""
    values = {
        "now": now,
        "until": now + lease,
        "worker": worker,
        "worker_name": worker,
        "scan": limit * BATCH_SCAN,
        "limit": limit,
    }
    pick, claim = (_PICK_DUE_PG, _CLAIM_ONE_PG) if limit == 1 else (_PICK_BATCH_PG, _CLAIM_PICKS_PG)
    *earlier, (picked,), rows = store.pipelined((*before, (pick, values), (claim, values)))
    for _ in range(2):  # another daemon claimed for each picked account meanwhile: again
        if rows or picked == ("{}",):
            break
        (picked,), rows = store.pipelined(((pick, values), (claim, values)))
    claims = [
        _claim_from_row(row[0], row[3], row[1], row[2], worker, now, _in_utc(row[4:]))
        for row in rows
    ]
    claims.sort(key=lambda claim: (claim.due_at, claim.delivery_id))  # most overdue first
    return earlier, claims


def record_and_claim_due(
    store: Store,
    claim: Claim,
    outcome: Outcome,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> tuple[bool, list[Claim]] | None:
    """PostgreSQL: record ``outcome`` as :func:`record_outcome` does, then claim up to
    ``limit`` deliveries as :func:`claim_due_many` does, in one transaction and one round
    trip: the outcome and the claims are committed together or not at all, before any call.

    The claim sees the outcome (a statement of its own after it): the account of ``claim``
    is free again for it. Returns whether the outcome was kept (False: the lease was lost)
    and the claims; None where this is not done in one go (SQLite, an outcome that also
    flags or rate-limits the account, a lost lease): then record and claim one after the
    other."""
    single = outcome.kind not in _TWO_STATEMENT_OUTCOMES | {OutcomeKind.LEASE_LOST}
    if store.is_sqlite or not single:
        return None
    recorded = (_RECORD_PG, _outcome_values(claim, outcome, now))
    ((updated,),), claims = _claims_pg(store, claim.worker, now, lease, limit, (recorded,))
    if not updated:
        _log_lease_lost(claim, outcome)
    return bool(updated), claims


def _in_utc(details: Sequence[Any]) -> list[Any]:
    """Details as the driver read them, with their times in UTC (as :class:`UTCDateTime`
    gives them)."""
    return [value.astimezone(UTC) if isinstance(value, datetime) else value for value in details]


_RETRY_OVER = (
    select(_D.c.id)
    .where(
        _D.c.state == DeliveryState.RETRY_WAIT.value,
        _D.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()),
    )
    .limit(1)
)


def release_retries(store: Store, now: datetime) -> int:
    """``retry_wait`` -> ``pending`` for deliveries whose wait is over.

    A plain read first (every tick runs this; almost never is a wait over): the write
    transaction, which waits for the lanes' records on SQLite, only when there is one."""
    with store.transaction() as connection:
        if connection.scalar(_RETRY_OVER, {"now": now}) is None:
            return 0
    with store.session(write=True) as session:
        return _rowcount(
            session,
            update(DeliveryRecord)
            .where(
                DeliveryRecord.state == DeliveryState.RETRY_WAIT.value,
                DeliveryRecord.next_attempt_at <= now,
            )
            .values(state=DeliveryState.PENDING.value, version=DeliveryRecord.version + 1)
            .execution_options(synchronize_session=False),
        )


def claim_abandoned(store: Store, worker: str, now: datetime, lease: timedelta) -> Claim | None:
    """Take over a delivery whose worker died mid-call (its lease ran out while publishing)."""
    return next(iter(claim_abandoned_many(store, worker, now, lease, 1)), None)


def claim_abandoned_many(
    store: Store, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claim]:
    """Take over up to ``limit`` abandoned deliveries, each on another account."""

    def claim_next(connection: Connection, values: dict[str, Any]) -> Claim | None:
        row = connection.execute(_CLAIM_ABANDONED, values).first()
        if row is None:
            return None
        connection.execute(_ABANDON_OPEN_ATTEMPTS, {"delivery": row[0], "now": now})
        return _start_attempt(connection, row[0], row[1], row[2], worker, now)

    return _claim_many(store, worker, now, lease, limit, claim_next)


def _start_attempt(
    connection: Connection,
    delivery_id: int,
    number: int,
    version: int,
    worker: str,
    now: datetime,
) -> Claim:
    attempt_id = connection.execute(
        _INSERT_ATTEMPT, {"delivery": delivery_id, "worker_name": worker, "now": now}
    ).scalar_one()
    details = connection.execute(_CLAIM_DETAILS, {"id": delivery_id}).one()
    return _claim_from_row(delivery_id, attempt_id, number, version, worker, now, details)


def _claim_from_row(
    delivery_id: int,
    attempt_id: int,
    number: int,
    version: int,
    worker: str,
    now: datetime,
    details: Any,
) -> Claim:
    (
        slug,
        key,
        source,
        account,
        channel,
        text,
        language,
        media,
        idempotency_key,
        due_at,
        not_after,
        grace_seconds,
        first_used,
        maybe_out,
        split,
        parts,
        plan,
        first_comment,
    ) = details
    return Claim(
        delivery_id=delivery_id,
        attempt_id=attempt_id,
        attempt_number=number,
        worker=worker,
        campaign_slug=slug,
        post_key=key,
        post_source=source,
        account_name=account,
        channel=channel,
        text=text,
        language=language,
        media=list(media or []),
        idempotency_key=idempotency_key,
        due_at=due_at,
        not_after=not_after,
        grace=timedelta(seconds=grace_seconds),
        key_first_used=first_used or now,
        maybe_out=bool(maybe_out),
        split=bool(split),
        parts=list(parts or []),
        plan=list(plan) if plan else None,
        first_comment=first_comment or None,
        version=version,
    )


class OutcomeKind(StrEnum):
    PUBLISHED = "published"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"
    AUTH_BROKEN = "auth_broken"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    LEASE_LOST = "lease_lost"  # another worker holds the delivery now: record nothing


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    error: str | None = None
    next_attempt_at: datetime | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    published_at: datetime | None = None
    http_status: int | None = None
    attempt_label: str | None = None  # what the attempt row says, when it differs from kind
    detail: dict[str, Any] = field(default_factory=dict)
    maybe_out: bool = False  # what the record keeps: the post may be out (until settled)
    #: Published without its first comment: why (the network refused it, or it was given up).
    comment_error: str | None = None
    #: ``comment_error`` with its key (reasons.py): kept with the record
    #: (``comment_error_data``) so readers get it in their language.
    comment_reason: Reason | None = None
    #: ``error`` with its key, when the protocol worded it (reasons.py): kept with the record
    #: (``state_reason_data``) so readers get it in their language.
    reason: Reason | None = None


class LeaseLostError(CampaignSchedulerError):
    """This worker no longer holds the delivery: it must not write to the network again."""


def _rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


_NEXT_STATE = {
    OutcomeKind.PUBLISHED: DeliveryState.PUBLISHED,
    OutcomeKind.RETRY: DeliveryState.RETRY_WAIT,
    OutcomeKind.RATE_LIMITED: DeliveryState.RETRY_WAIT,
    OutcomeKind.FAILED: DeliveryState.FAILED,
    OutcomeKind.AUTH_BROKEN: DeliveryState.PENDING,
    OutcomeKind.EXPIRED: DeliveryState.EXPIRED,
    OutcomeKind.UNKNOWN: DeliveryState.UNKNOWN,
}

#: The lease token: still publishing, held by this worker, at the version it claimed (every
#: claim and every change by a person moves the version on; the worker's own fenced writes
#: below leave it as it is).
_HELD = (
    _D.c.id == bindparam("delivery"),
    _D.c.state == _PUBLISHING,
    _D.c.lease_owner == bindparam("holder"),
    _D.c.version == bindparam("claimed_version"),
)


_RECORD_OUTCOME = (
    update(_D)
    .where(*_HELD)
    .values(
        state=bindparam("new_state"),
        maybe_out=bindparam("maybe"),
        lease_owner=None,
        lease_until=None,
        next_attempt_at=bindparam("next_at", type_=UTCDateTime()),
        remote_id=bindparam("remote"),
        remote_url=bindparam("url"),
        published_at=bindparam("out_at", type_=UTCDateTime()),
        lag_seconds=lag_seconds(bindparam("out_at", type_=UTCDateTime()), _D.c.due_at),
        last_error=bindparam("error_text"),
        state_reason=bindparam("reason"),
        state_reason_data=bindparam("reason_data", type_=JSON()),
        comment_error=bindparam("comment_failure"),
        comment_error_data=bindparam("comment_failure_data", type_=JSON()),
        version=_D.c.version + 1,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)
_FINISH_ATTEMPT = (
    update(_T)
    .where(_T.c.id == bindparam("attempt_id"))
    .values(
        finished_at=bindparam("now", type_=UTCDateTime()),
        outcome=bindparam("label"),
        error=bindparam("attempt_error"),
        http_status=bindparam("status_code"),
    )
)
_FLAG_ACCOUNT = (
    update(_A)
    .where(_A.c.name == bindparam("account"))
    .values(
        needs_attention=True,
        attention_reason=bindparam("why"),
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)
_RATE_LIMIT_ACCOUNT = (  # a rate limit never shortens one already known
    update(_A)
    .where(
        _A.c.name == bindparam("account"),
        or_(
            _A.c.rate_limited_until.is_(None),
            _A.c.rate_limited_until < bindparam("until", type_=UTCDateTime()),
        ),
    )
    .values(rate_limited_until=bindparam("until", type_=UTCDateTime()))
)
_RECORD_PARTS = (
    update(_D)
    .where(*_HELD)
    .values(
        parts=bindparam("done", type_=JSON()),
        maybe_out=False,
        lease_until=bindparam("until", type_=UTCDateTime()),
    )
)
_FREEZE_PLAN = (
    update(_D)
    .where(*_HELD)
    .values(
        plan=bindparam("plan", type_=JSON()),
        lease_until=bindparam("until", type_=UTCDateTime()),
    )
)
_NOT_OUT = update(_D).where(*_HELD).values(maybe_out=False)
_RENEW = update(_D).where(*_HELD).values(lease_until=bindparam("until", type_=UTCDateTime()))
_AU = cast(Table, AuditEventRecord.__table__)
_AUDIT = insert(_AU)


def _build_record_pg() -> Any:
    """PostgreSQL: the outcome, the end of the attempt and the audit event in one statement
    (one round trip instead of three). The attempt says "(lease lost)" and no event is
    written when the delivery was no longer held; the statement returns how many deliveries
    it updated (0 or 1)."""
    recorded = _RECORD_OUTCOME.returning(_D.c.id).cte("recorded")
    held = exists(select(recorded.c.id))
    finished = (
        update(_T)
        .where(_T.c.id == bindparam("attempt_id"))
        .values(
            finished_at=bindparam("now", type_=UTCDateTime()),
            outcome=case(
                (held, bindparam("label", type_=_T.c.outcome.type)),
                else_=bindparam("lost_label", type_=_T.c.outcome.type),
            ),
            error=bindparam("attempt_error", type_=_T.c.error.type),
            http_status=bindparam("status_code", type_=_T.c.http_status.type),
        )
        .returning(_T.c.id)
        .cte("finished")
    )
    audited = (
        insert(_AU)
        .from_select(
            ["at", "actor", "action", "campaign_id", "post_key", "delivery_id", "detail"],
            select(
                bindparam("now", type_=UTCDateTime()),
                literal(SYSTEM_ACTOR, _AU.c.actor.type),
                bindparam("audit_action", type_=_AU.c.action.type),
                literal(None, _AU.c.campaign_id.type),
                bindparam("audit_post_key", type_=_AU.c.post_key.type),
                recorded.c.id,
                bindparam("audit_detail", type_=_AU.c.detail.type),
            ).where(bindparam("audit", type_=_D.c.maybe_out.type)),
        )
        .returning(_AU.c.id)
        .cte("audited")
    )
    return select(func.count()).select_from(recorded).add_cte(finished, audited)


_RECORD_PG = _build_record_pg()


def _token(claim: Claim) -> dict[str, Any]:
    # (Not named after a column: SQLAlchemy would take a parameter named like a column of an
    # UPDATE as a value to set.)
    return {"delivery": claim.delivery_id, "holder": claim.worker, "claimed_version": claim.version}


def _held(store: Store, claim: Claim, statement: Any, values: dict[str, Any]) -> None:
    with store.transaction(write=True, single=True) as connection:
        updated = connection.execute(statement, {**_token(claim), **values}).rowcount
    if not updated:
        raise LeaseLostError(
            msg(
                "{post} on {account}: the lease of {worker} (attempt {attempt}) is gone; "
                "another worker holds the delivery",
                post=claim.post_key,
                account=claim.account_name,
                worker=claim.worker,
                attempt=claim.attempt_number,
            )
        )


def renew_lease(store: Store, claim: Claim, until: datetime) -> None:
    """Extend the lease; raises :class:`LeaseLostError` when it is no longer this worker's."""
    _held(store, claim, _RENEW, {"until": until})


def freeze_plan(store: Store, claim: Claim, plan: list[str], until: datetime) -> None:
    """Store the split of a thread before its first part goes out (and renew the lease)."""
    _held(store, claim, _FREEZE_PLAN, {"plan": plan, "until": until})


def mark_not_out(store: Store, claim: Claim) -> None:
    """A conclusive lookup found nothing: the current part is certainly not out."""
    _held(store, claim, _NOT_OUT, {})


def record_parts(
    store: Store, claim: Claim, parts: list[dict[str, str | None]], until: datetime
) -> None:
    """Remember the thread parts already out, so a crash resumes after the last of them."""
    _held(store, claim, _RECORD_PARTS, {"done": parts, "until": until})


#: Outcomes that write to the account as well as to the delivery.
_TWO_STATEMENT_OUTCOMES = frozenset({OutcomeKind.AUTH_BROKEN, OutcomeKind.RATE_LIMITED})


def record_outcome(store: Store, claim: Claim, outcome: Outcome, now: datetime) -> bool:
    """Commit the result of a call. Returns False when the lease was lost meanwhile (another
    worker took the delivery over); then the delivery is left to that worker."""
    return record_outcomes(store, [(claim, outcome)], now)[0]


def record_outcomes(
    store: Store, results: Sequence[tuple[Claim, Outcome]], now: datetime
) -> list[bool]:
    """Commit the results of calls that finished together in one transaction (group commit):
    each is written as :func:`record_outcome` writes it, under its own lease token, and the
    list says for each whether it was kept. On SQLite the ends of the attempts and the audit
    events are one ``executemany`` each."""
    kept: list[bool] = []
    # On PostgreSQL one outcome is one statement (_build_record_pg; a lost lease only ends its
    # attempt): unless the account is flagged or rate-limited with it, that statement is the
    # whole transaction (see Store.transaction).
    single = len(results) == 1 and results[0][1].kind not in _TWO_STATEMENT_OUTCOMES
    with store.transaction(write=True, single=single) as connection:
        sqlite = store.is_sqlite
        finished: list[dict[str, Any]] = []
        audited: list[dict[str, Any]] = []
        for claim, outcome in results:
            kept.append(_record_one(connection, sqlite, claim, outcome, now, finished, audited))
        _write_ends(connection, finished, audited)
    return kept


def _write_ends(
    connection: Connection, finished: list[dict[str, Any]], audited: list[dict[str, Any]]
) -> None:
    """The ends of attempts and the audit events of a group, one ``executemany`` each (on
    SQLite the ends are sent by the driver, :func:`execute_on_driver`)."""
    if finished and connection.dialect.name == "sqlite":
        execute_on_driver(connection, _FINISH_ATTEMPT, finished)
    elif finished:
        connection.execute(_FINISH_ATTEMPT, finished)
    if audited:
        connection.execute(_AUDIT, audited)


def _record_one(
    connection: Connection,
    sqlite: bool,
    claim: Claim,
    outcome: Outcome,
    now: datetime,
    finished: list[dict[str, Any]],
    audited: list[dict[str, Any]],
) -> bool:
    """Write one outcome; the end of its attempt and its audit event are added to
    ``finished`` and ``audited`` (SQLite; on PostgreSQL the one statement writes them)."""
    if outcome.kind is OutcomeKind.LEASE_LOST:
        finished.append(
            {
                "attempt_id": claim.attempt_id,
                "now": now,
                "label": "lease lost",
                "attempt_error": outcome.error,
                "status_code": None,
            }
        )
        return False
    values = _outcome_values(claim, outcome, now)
    if sqlite:
        updated = _record_sqlite_into(connection, values, finished, audited)
    else:
        updated = _record(connection, sqlite, values)
    if not updated:
        _log_lease_lost(claim, outcome)
        return False
    if outcome.kind is OutcomeKind.AUTH_BROKEN:
        connection.execute(
            _FLAG_ACCOUNT, {"account": claim.account_name, "why": outcome.error, "now": now}
        )
    if outcome.kind is OutcomeKind.RATE_LIMITED and outcome.next_attempt_at is not None:
        connection.execute(
            _RATE_LIMIT_ACCOUNT,
            {"account": claim.account_name, "until": outcome.next_attempt_at},
        )
    return True


def _record(connection: Connection, sqlite: bool, values: dict[str, Any]) -> int:
    """Write an outcome (see :func:`_outcome_values`); returns 1, or 0 if the lease is gone."""
    if sqlite:
        return _record_sqlite(connection, values)
    return int(connection.execute(_RECORD_PG, values).scalar_one())  # see _build_record_pg


def _log_lease_lost(claim: Claim, outcome: Outcome) -> None:
    log.warning(
        "lease on %s/%s lost before its outcome (%s) was recorded",
        claim.post_key,
        claim.account_name,
        outcome.kind.value,
    )


def _outcome_values(claim: Claim, outcome: Outcome, now: datetime) -> dict[str, Any]:
    state = _NEXT_STATE[outcome.kind]
    label = outcome.attempt_label or outcome.kind.value
    published = outcome.kind is OutcomeKind.PUBLISHED
    reason_data = None
    if published:
        reason = None
    elif outcome.kind is OutcomeKind.AUTH_BROKEN:
        held = Reason("held")
        reason, reason_data = held.record(), held.as_json()
    elif outcome.reason is not None:
        reason, reason_data = outcome.reason.record(), outcome.reason.as_json()
    else:
        reason = outcome.error
    return {
        **_token(claim),
        "new_state": state.value,
        "maybe": outcome.maybe_out and not published,
        "next_at": outcome.next_attempt_at,
        "remote": outcome.remote_id if published else None,
        "url": outcome.remote_url if published else None,
        # Some networks give whole seconds: never before the call that published it.
        "out_at": max(outcome.published_at or now, claim.key_first_used) if published else None,
        "error_text": None if published else outcome.error,
        "reason": reason,
        "reason_data": reason_data,
        "comment_failure": outcome.comment_error if published else None,
        "comment_failure_data": (
            outcome.comment_reason.as_json() if published and outcome.comment_reason else None
        ),
        "now": now,
        "attempt_id": claim.attempt_id,
        "label": label,
        "lost_label": f"{label} (lease lost)",
        "attempt_error": outcome.error or outcome.comment_error,
        "status_code": outcome.http_status,
        "audit": outcome.kind not in (OutcomeKind.RETRY, OutcomeKind.RATE_LIMITED),
        "audit_action": f"delivery.{state.value}",
        "audit_post_key": claim.post_key,
        "audit_detail": {
            "account": claim.account_name,
            "worker": claim.worker,
            "attempt": claim.attempt_number,
            "url": outcome.remote_url,
            "error": outcome.error,
            **({"comment_error": outcome.comment_error} if outcome.comment_error else {}),
            **outcome.detail,
        },
    }


class _Rehearsal(Exception):
    """Raised to roll :func:`rehearse`'s writes back."""


#: A moment before anything was ever due: statements run with it find nothing.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def rehearse(store: Store, worker: str, lease: timedelta) -> None:
    """Run every statement of a tick once, finding and changing nothing, so that the first
    wake-up after a quiet spell does not compile them while deliveries are due (SQLAlchemy
    compiles a statement at its first use in a process; tens of milliseconds for the claim's).

    The claims and sweeps run as of a moment long past (nothing is due then); the writes after
    a claim run against a delivery that does not exist, in a transaction rolled back (on
    PostgreSQL the record that goes with the next claim is committed: it changes nothing)."""
    expire_overdue(store, _NEVER)
    release_retries(store, _NEVER)
    claim_abandoned_many(store, worker, _NEVER, lease, 1)
    claim_due_many(store, worker, _NEVER, lease, 1)
    claim_due_many(store, worker, _NEVER, lease, 2)  # (SQLite: the batch claim)
    absent = Claim(
        delivery_id=-1, attempt_id=-1, attempt_number=1, worker=worker, campaign_slug="",
        post_key="", post_source="", account_name="", channel="", text="", language="",
        media=[], idempotency_key="", due_at=_NEVER, not_after=None, grace=timedelta(0),
        key_first_used=_NEVER,
    )  # fmt: skip
    published = Outcome(OutcomeKind.PUBLISHED, remote_id="", published_at=_NEVER)
    # PostgreSQL: the record with the next claim, as one pipeline (nothing is recorded: the
    # delivery does not exist; nothing is due then)
    record_and_claim_due(store, absent, published, _NEVER, lease, 1)
    with contextlib.suppress(_Rehearsal), store.transaction(write=True) as connection:
        if store.is_sqlite:
            connection.execute(_CLAIM_DETAILS, {"id": -1}).first()
            connection.execute(_BATCH_DETAILS_SQLITE, {"ids": [-1]}).all()
            connection.execute(
                _START_ATTEMPTS_SQLITE, {"ids": [-1], "worker_name": worker, "now": _NEVER}
            ).all()
            some = connection.execute(_ANY_DELIVERY).scalar()
            if some is not None:  # (an attempt needs a delivery that exists)
                connection.execute(
                    _INSERT_ATTEMPT, {"delivery": some, "worker_name": worker, "now": _NEVER}
                )
        values = _outcome_values(absent, published, _NEVER)
        _record(connection, store.is_sqlite, values)
        if store.is_sqlite:  # (written only when the record was: here it was not)
            connection.execute(_AUDIT, [_audit_values({**values, "delivery": None})])
        connection.execute(_RENEW, {**_token(absent), "until": _NEVER})
        raise _Rehearsal


def _record_sqlite(connection: Connection, values: dict[str, Any]) -> int:
    """The outcome, the end of the attempt and the audit event, one statement each."""
    finished: list[dict[str, Any]] = []
    audited: list[dict[str, Any]] = []
    updated = _record_sqlite_into(connection, values, finished, audited)
    _write_ends(connection, finished, audited)
    return updated


def _record_sqlite_into(
    connection: Connection,
    values: dict[str, Any],
    finished: list[dict[str, Any]],
    audited: list[dict[str, Any]],
) -> int:
    """The outcome; the end of the attempt and the audit event go to ``finished`` and
    ``audited``, to be written with those of the other outcomes of a group."""
    updated = execute_on_driver(connection, _RECORD_OUTCOME, (values,))
    finished.append(_finish_values(values, updated))
    if updated and values["audit"]:
        audited.append(_audit_values(values))
    return updated


def _finish_values(values: dict[str, Any], updated: int) -> dict[str, Any]:
    """The end of the attempt (:data:`_FINISH_ATTEMPT`) for an outcome's ``values``."""
    return {
        "attempt_id": values["attempt_id"],
        "now": values["now"],
        "label": values["label" if updated else "lost_label"],
        "attempt_error": values["attempt_error"],
        "status_code": values["status_code"],
    }


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    """The audit event (:data:`_AUDIT`) for an outcome's ``values``."""
    return {
        "at": values["now"],
        "actor": SYSTEM_ACTOR,
        "action": values["audit_action"],
        "campaign_id": None,
        "post_key": values["audit_post_key"],
        "delivery_id": values["delivery"],
        "detail": values["audit_detail"],
    }


_APPLY_RECEIPT = (
    update(_D)
    .where(
        _D.c.id == bindparam("delivery"),
        _D.c.state.in_(
            [_PENDING, _PUBLISHING, DeliveryState.RETRY_WAIT.value, DeliveryState.UNKNOWN.value]
        ),
    )
    .values(
        state=DeliveryState.PUBLISHED.value,
        maybe_out=False,
        lease_owner=None,
        lease_until=None,
        next_attempt_at=None,
        remote_id=bindparam("remote"),
        remote_url=bindparam("url"),
        published_at=bindparam("out_at", type_=UTCDateTime()),
        lag_seconds=lag_seconds(bindparam("out_at", type_=UTCDateTime()), _D.c.due_at),
        last_error=None,
        state_reason="receipt applied from the local journal",
        state_reason_data=None,
        comment_error=bindparam("comment_failure"),
        comment_error_data=bindparam("comment_failure_data", type_=JSON()),
        version=_D.c.version + 1,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)


def apply_receipt(
    store: Store,
    *,
    delivery_id: int,
    remote_id: str,
    remote_url: str | None,
    published_at: datetime,
    now: datetime,
    comment_error: str | None = None,
    comment_error_data: dict[str, Any] | None = None,
) -> bool:
    """Record a receipt kept while the database was away. A receipt is the truth: it is
    applied whoever holds the delivery now (that worker's next fence then fails). It is the
    receipt of the whole delivery (a first comment is out and in ``parts``, or given up with
    ``comment_error``, which the journal keeps with the receipt)."""
    with store.transaction(write=True) as connection:
        updated = connection.execute(
            _APPLY_RECEIPT,
            {
                "delivery": delivery_id,
                "remote": remote_id,
                "url": remote_url,
                "out_at": published_at,
                "now": now,
                "comment_failure": comment_error,
                "comment_failure_data": comment_error_data,
            },
        ).rowcount
        if updated:
            connection.execute(
                _AUDIT,
                {
                    "at": now,
                    "actor": SYSTEM_ACTOR,
                    "action": "delivery.published",
                    "campaign_id": None,
                    "post_key": None,
                    "delivery_id": delivery_id,
                    "detail": {"url": remote_url, "from": "receipt journal"},
                },
            )
    return bool(updated)


_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])


def _waiting_due(query: _Q, now: datetime) -> _Q:
    """``query`` (from ``delivery``) over the waiting deliveries due by ``now``, joined with
    their post and account."""
    return (
        query.join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .where(DeliveryRecord.state.in_(WAITING_STATES), DeliveryRecord.due_at <= now)
    )


_WAITING_DEADLINES = (
    select(_D.c.id, _D.c.due_at, _D.c.not_after, _C.c.grace_seconds)
    .select_from(_JOINED)
    .where(
        _D.c.state.in_(WAITING_STATES),
        _D.c.due_at <= bindparam("now", type_=UTCDateTime()),
        _D.c.maybe_out.is_(False),
    )
)


def expire_overdue(store: Store, now: datetime) -> list[tuple[str, str, Reason]]:
    """Move waiting deliveries past their deadline to ``expired``, with the reason.

    Returns (post key, account, reason) for each. Deliveries held for approval or for an
    account that needs attention expire the same way when their moment has passed.
    """
    expired: list[tuple[str, str, Reason]] = []
    # First a plain read of the deadlines (no ORM objects, no write transaction): at a due
    # moment every delivery due then is waiting, and almost never is one overdue.
    with store.transaction() as connection:
        overdue = [
            id_
            for id_, due_at, not_after, grace_seconds in connection.execute(
                _WAITING_DEADLINES, {"now": now}
            )
            if now > deadline(due_at, not_after, timedelta(seconds=grace_seconds))
        ]
    if not overdue:
        return expired
    with store.session(write=True) as session:
        waiting = (
            _waiting_due(select(DeliveryRecord, PostRecord, AccountRecord, CampaignRecord), now)
            .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
            .where(DeliveryRecord.maybe_out.is_(False))
        )
        # Lock only the overdue rows, and skip those a claim or a command holds (PostgreSQL;
        # SQLite's writers are serialised anyway); re-read them under the lock.
        rows = session.execute(
            waiting.where(DeliveryRecord.id.in_(overdue))
            .with_for_update(skip_locked=True, of=DeliveryRecord)
            .execution_options(populate_existing=True)
        ).all()
        for delivery, post, account, campaign in rows:
            grace = timedelta(seconds=campaign.grace_seconds)
            last = deadline(delivery.due_at, delivery.not_after, grace)
            if now <= last or delivery.parts:
                continue  # (what may be out is settled first; a started thread is completed)
            reason = _expiry_reason(delivery, post, account, campaign, grace)
            delivery.state = DeliveryState.EXPIRED.value
            delivery.state_reason = reason.record()
            delivery.state_reason_data = reason.as_json()
            delivery.next_attempt_at = None
            delivery.version += 1
            session.add(
                AuditEventRecord(
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action="delivery.expired",
                    campaign_id=campaign.id,
                    post_key=post.key,
                    delivery_id=delivery.id,
                    detail={"account": account.name, "reason": reason.record()},
                )
            )
            expired.append((post.key, account.name, reason))
    return expired


def _expiry_reason(
    delivery: DeliveryRecord,
    post: PostRecord,
    account: AccountRecord,
    campaign: CampaignRecord,
    grace: timedelta,
) -> Reason:
    if campaign.require_approval and post.approver is None:
        why = Reason("never_approved")
    elif account.needs_attention:
        why = Reason(
            "account_attention", {"account": account.name, "detail": account.attention_reason}
        )
    elif delivery.attempts:
        why = Reason("attempts_failed", {"count": delivery.attempts, "error": delivery.last_error})
    else:
        why = Reason("no_daemon")
    if delivery.not_after is not None and delivery.not_after < delivery.due_at + grace:
        return Reason("deadline", {"why": why})
    return Reason("late", {"grace": int(grace.total_seconds()), "why": why})


def _build_next_wake() -> tuple[Any, Any, Any]:
    """The statements of :func:`next_wake`: the earliest waiting delivery of one state in due
    order, the earliest moment among those due by a bound, and the earliest lease end."""
    retry_or_due = case(
        (_D.c.next_attempt_at > _D.c.due_at, _D.c.next_attempt_at), else_=_D.c.due_at
    )
    effective = type_coerce(
        case((_A.c.rate_limited_until > retry_or_due, _A.c.rate_limited_until), else_=retry_or_due),
        UTCDateTime(),
    )
    may_go = (
        _A.c.needs_attention.is_(False),
        or_(_C.c.require_approval.is_(False), _P.c.approver.is_not(None)),
    )
    first_of_state = (
        select(effective)
        .select_from(_JOINED)
        .where(_D.c.state == bindparam("state"), *may_go)
        .order_by(_D.c.due_at)
        .limit(1)
    )
    earliest_by = (
        select(func.min(effective))
        .select_from(_JOINED)
        .where(
            _D.c.state.in_(WAITING_STATES),
            _D.c.due_at <= bindparam("bound", type_=UTCDateTime()),
            *may_go,
        )
    )
    lease = select(type_coerce(func.min(_D.c.lease_until), UTCDateTime())).where(
        _D.c.state == DeliveryState.PUBLISHING.value
    )
    return first_of_state, earliest_by, lease


_FIRST_OF_STATE, _EARLIEST_BY, _EARLIEST_LEASE = _build_next_wake()


def next_wake(store: Store, now: datetime) -> datetime | None:
    """The earliest moment something may need doing: a due delivery, a retry, the end of a
    rate limit, or a lease that runs out.

    A waiting delivery's moment (the latest of its due time, its next attempt and its
    account's rate limit) is never before its due time, so the earliest moment of all is
    among the deliveries due by any one delivery's moment: the first of each waiting state
    in due order gives such a bound, and only the deliveries due by it are read (an index
    range; the whole queue was read at every wake-up: 10 ms with 10,000 waiting)."""
    with store.transaction() as connection:
        bounds = [
            moment
            for state in sorted(WAITING_STATES)
            if (moment := connection.scalar(_FIRST_OF_STATE, {"state": state})) is not None
        ]
        waiting = connection.scalar(_EARLIEST_BY, {"bound": min(bounds)}) if bounds else None
        lease = connection.scalar(_EARLIEST_LEASE)
    moments = [m for m in (waiting, lease) if m is not None]
    if not moments:
        return None
    earliest: datetime = min(moments)
    return max(earliest, now)


def accounts_due(store: Store, until: datetime) -> list[str]:
    """The accounts with a delivery waiting to go out by ``until``."""
    with store.session() as session:
        return list(
            session.scalars(
                select(AccountRecord.name)
                .join(DeliveryRecord, DeliveryRecord.account_id == AccountRecord.id)
                .where(
                    DeliveryRecord.state.in_(WAITING_STATES),
                    DeliveryRecord.due_at <= until,
                    AccountRecord.needs_attention.is_(False),
                )
                .distinct()
            )
        )


def held_due(store: Store, now: datetime) -> list[tuple[str, str, str]]:
    """Due deliveries held because their account needs attention: (post, account, reason)."""
    with store.session() as session:
        held = select(PostRecord.key, AccountRecord.name, AccountRecord.attention_reason)
        rows = session.execute(
            _waiting_due(held.select_from(DeliveryRecord), now)
            .where(AccountRecord.needs_attention.is_(True))
            .order_by(DeliveryRecord.due_at, PostRecord.key)
        ).all()
    return [(key, name, reason or "needs attention") for key, name, reason in rows]
