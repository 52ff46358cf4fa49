"""``campaign load``: bring the database in line with the drafts, in one transaction.

New drafts become posts with one delivery per (post, account); changed drafts update their
deliveries that have not gone out (compared by content hash); removed drafts cancel theirs.
A change that would alter a delivery which is published, in flight or of unknown outcome is
refused, and then nothing at all is written. Every change leaves an audit event.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, MetaData, Table, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, selectinload

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.config import Account, Settings
from campaign_scheduler.drafts import Draft
from campaign_scheduler.errors import ConflictError
from campaign_scheduler.planning import IntendedDelivery
from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    OUT_OR_MAYBE_OUT,
    AccountRecord,
    AuditEventRecord,
    Base,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
    UTCDateTime,
    utcnow,
)
from campaign_scheduler.store.sync_reads import (
    REASON_CHANNEL_REMOVED,
    REASON_DRAFT_REMOVED,
    RESTORABLE_REASONS,
    ChangeKind,
    LoadReport,
    PostChange,
    campaign_values,
    stored_posts,
)
from campaign_scheduler.uilang import N_, msg, state_msg

#: A new post's line in ``campaign load`` (also its audit event's detail, in English).
_ONE_DELIVERY = N_("1 delivery: {accounts}")
_DELIVERIES = N_("{n} deliveries: {accounts}")
#: How many refused deliveries a refused load names (the rest are counted).
CONFLICTS_SHOWN = 20
#: Rows per bulk statement (and ids per ``IN (...)``): well below SQLite's variable limit.
CHUNK = 500
_UNCHANGED = 0  # (no post has the id 0)
#: States a changed or returning draft may put back to pending.
RESTARTABLE = frozenset(
    {DeliveryState.PENDING, DeliveryState.RETRY_WAIT, DeliveryState.FAILED, DeliveryState.EXPIRED}
)


def _table(record: type[Base]) -> Table:
    """The Core table of an ORM class, for bulk statements that need no mapper."""
    return record.metadata.tables[record.__tablename__]


def _bulk_insert(connection: Connection, record: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into the table of ``record`` with one
    driver-level ``executemany``.

    The statement is compiled once for this database and every value is converted by its
    column type's own bind processor, as SQLAlchemy would (JSON serialised, date-times in
    their stored form), but without SQLAlchemy's per-row parameter handling
    (``construct_params`` for every row, most of a load into an empty database). Date-times
    are converted once per distinct value: most rows share their ``created_at``, and posts and
    deliveries their ``due_at``. What is stored is the same."""
    if not rows:
        return
    dialect = connection.dialect
    table = _table(record)
    names = [*rows[0]]
    target = Table(table.name, MetaData(), *(Column(n, table.c[n].type) for n in names))
    compiled = insert(target).compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or ()) if compiled.positional else names
    converters: list[tuple[int, str, Callable[[Any], Any]]] = []
    for index, name in enumerate(order):
        column_type = table.c[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            convert: Callable[[Any], Any] = processor
            if isinstance(column_type, UTCDateTime):
                convert = _memoized(processor)
            elif isinstance(column_type, JSON):
                convert = _memoized_by_identity(processor)
            converters.append((index, name, convert))
    params: list[Any]
    if compiled.positional:
        values = itemgetter(*order)
        params = []
        for row in rows:
            line = list(values(row))
            for index, _, convert in converters:
                line[index] = convert(line[index])
            params.append(tuple(line))
    else:
        params = [{**row, **{name: f(row[name]) for _, name, f in converters}} for row in rows]
    connection.exec_driver_sql(compiled.string, params)


def _memoized(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` computed once per distinct value (equal date-times are the same instant,
    and the stored form is of the instant in UTC)."""
    done: dict[Any, Any] = {}

    def once(value: Any) -> Any:
        if value is None:
            return None
        try:
            return done[value]
        except KeyError:
            done[value] = converted = convert(value)
            return converted

    return once


def _memoized_by_identity(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` computed once per object (JSON values are dicts and lists, not hashable:
    rows that share one value share the object, see :data:`_NO_VARIANTS`). Every row is
    alive until the statement has run, so no object's id is reused meanwhile."""
    done: dict[int, Any] = {}

    def once(value: Any) -> Any:
        try:
            return done[id(value)]
        except KeyError:
            done[id(value)] = converted = convert(value)
            return converted

    return once


def idempotency_keys(count: int) -> list[str]:
    """``count`` random keys as ``uuid.uuid4().hex`` makes them (version 4, RFC 4122
    variant), from one read of the system's random source instead of one per key."""
    random = os.urandom(16 * count)
    keys = []
    for start in range(0, 16 * count, 16):
        raw = bytearray(random[start : start + 16])
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        keys.append(raw.hex())
    return keys


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def load_campaign_into(
    store: Store,
    campaign: Campaign,
    drafts: Iterable[Draft],
    deliveries: Iterable[IntendedDelivery],
    settings: Settings,
    *,
    actor: str,
    dry_run: bool = False,
) -> LoadReport:
    report = LoadReport(dry_run=dry_run)
    try:
        with store.session(write=True) as session:
            _Sync(session, campaign, settings, actor, report).run(list(drafts), list(deliveries))
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    return report


class _Sync:
    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        settings: Settings,
        actor: str,
        report: LoadReport,
    ) -> None:
        self.session = session
        self.campaign = campaign
        self.settings = settings
        self.actor = actor
        self.report = report
        self.now = utcnow()
        self.conflicts: list[str] = []
        self.record = self._campaign_record()
        self.senders = self._sender_records()
        self.accounts: dict[str, AccountRecord] = {}

    # -- reference data -------------------------------------------------------------------

    def _campaign_record(self) -> CampaignRecord:
        c = self.campaign
        record = self.session.scalar(select(CampaignRecord).where(CampaignRecord.slug == c.slug))
        values = campaign_values(c)
        if record is None:
            record = CampaignRecord(slug=c.slug, **values)
            self.session.add(record)
            self.session.flush()
            self._audit("campaign.created", campaign_id=record.id, detail={"slug": c.slug})
            return record
        changed = {k: v for k, v in values.items() if getattr(record, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(record, key, value)
            self._audit(
                "campaign.updated",
                campaign_id=record.id,
                detail={"fields": sorted(changed)},
            )
        return record

    def _sender_records(self) -> dict[str, SenderRecord]:
        existing = {
            s.slug: s
            for s in self.session.scalars(
                select(SenderRecord).where(SenderRecord.campaign_id == self.record.id)
            )
        }
        for sender in self.campaign.senders:
            record = existing.get(sender.slug)
            if record is None:
                record = SenderRecord(
                    campaign_id=self.record.id, slug=sender.slug, name=sender.name
                )
                self.session.add(record)
                existing[sender.slug] = record
            elif record.name != sender.name:
                record.name = sender.name
        self.session.flush()
        return existing

    def _account_record(self, account: Account) -> AccountRecord:
        if account.name not in self.accounts:
            self._account_records([account])
        return self.accounts[account.name]

    def _account_records(self, accounts: Iterable[Account]) -> None:
        """Read the records of ``accounts`` (in one statement per :data:`CHUNK` names), bring
        them up to date with the configuration, and create the missing ones (in one flush,
        in the order given: as one by one, each at its first use)."""
        wanted = list({a.name: a for a in accounts if a.name not in self.accounts}.values())
        if not wanted:
            return
        names = [a.name for a in wanted]
        found: dict[str, AccountRecord] = {}
        for start in range(0, len(names), CHUNK):
            found.update(
                (record.name, record)
                for record in self.session.scalars(
                    select(AccountRecord).where(
                        AccountRecord.name.in_(names[start : start + CHUNK])
                    )
                )
            )
        added = False
        for account in wanted:
            sender = self.senders[account.sender]
            record = found.get(account.name)
            if record is None:
                record = AccountRecord(
                    name=account.name,
                    channel=account.channel,
                    sender_id=sender.id,
                    base_url=account.base_url,
                    needs_attention=False,
                )
                self.session.add(record)
                added = True
            else:
                record.channel = account.channel
                record.sender_id = sender.id
                record.base_url = account.base_url
            self.accounts[account.name] = record
        if added:
            self.session.flush()

    # -- posts and deliveries ----------------------------------------------------------------

    def run(self, drafts: list[Draft], deliveries: list[IntendedDelivery]) -> None:
        """Compare the drafts with the database in bulk; only posts that differ go through the
        ORM (:meth:`_update_post`, :meth:`_remove_post`: every guard, and the compare-and-set
        on the version), new posts are inserted with bulk statements."""
        by_draft: dict[str, list[IntendedDelivery]] = {}
        for delivery in deliveries:
            by_draft.setdefault(delivery.draft.key, []).append(delivery)
        stored = stored_posts(self.session.connection(), self.record.id)
        plan: list[tuple[Draft, int | None]] = []  # (draft, its post's id if it differs)
        fresh: list[Draft] = []
        for draft in sorted(drafts, key=lambda d: d.key):
            if draft.due_at is None:
                continue
            row = stored.pop(draft.key, None)
            if row is None:
                fresh.append(draft)
                plan.append((draft, None))
            elif row.matches(draft.content_hash, by_draft.get(draft.key, [])):
                plan.append((draft, _UNCHANGED))
            else:
                plan.append((draft, row.id))
        gone = sorted((r for r in stored.values() if not r.removed), key=lambda r: r.key)
        records = self._post_records([i for _, i in plan if i] + [r.id for r in gone])
        created = self._create_posts(fresh, by_draft)
        for draft, post_id in plan:
            if post_id is None:
                self.report.changes.append(created[draft.key])
            elif post_id == _UNCHANGED:
                self.report.changes.append(PostChange(ChangeKind.UNCHANGED, draft.key))
            else:
                self._update_post(records[post_id], draft, by_draft.get(draft.key, []))
        for row in gone:
            self._remove_post(records[row.id])
        if self.conflicts:
            shown = self.conflicts[:CONFLICTS_SHOWN]
            more = len(self.conflicts) - len(shown)
            raise ConflictError(
                msg(
                    "load refused: it would change deliveries that are already out:\n  {shown}"
                    "\n  … and {n} more",
                    shown="\n  ".join(shown),
                    n=more,
                )
                if more
                else msg(
                    "load refused: it would change deliveries that are already out:\n  {shown}",
                    shown="\n  ".join(shown),
                ),
                hint=msg(
                    "restore those drafts as they were published, or give the changed post "
                    "a new file name so it becomes a new post"
                ),
            )

    def _post_records(self, ids: list[int]) -> dict[int, PostRecord]:
        """The posts that differ from their drafts, as ORM objects with their deliveries."""
        records: dict[int, PostRecord] = {}
        for start in range(0, len(ids), CHUNK):
            for post in self.session.scalars(
                select(PostRecord)
                .where(PostRecord.id.in_(ids[start : start + CHUNK]))
                .options(selectinload(PostRecord.deliveries).selectinload(DeliveryRecord.account))
            ):
                records[post.id] = post
        return records

    def _post_values(self, draft: Draft) -> dict[str, object]:
        media = draft.media_digests
        assert draft.due_at is not None
        return {
            "source_path": draft.path.as_posix(),
            "sender_id": self.senders[draft.sender].id,
            "body": draft.body,
            "variants": dict(draft.variants),
            "media": [
                {"path": m.relative, "alt": m.alt, "sha256": digest}
                for m, (_, _, digest) in zip(draft.media, media, strict=True)
            ],
            "language": draft.language,
            "split": draft.split,
            "at_text": draft.at_text,
            "not_after_text": draft.not_after_text,
            "due_at": draft.due_at,
            "not_after": draft.not_after,
            "content_hash": draft.content_hash,
        }

    def _new_delivery(self, post: PostRecord, intended: IntendedDelivery) -> DeliveryRecord:
        assert intended.due_at is not None
        delivery = DeliveryRecord(
            post_id=post.id,
            account_id=self._account_record(intended.account).id,
            state=DeliveryState.PENDING.value,
            text=intended.text,
            first_comment=intended.first_comment,
            content_hash=intended.content_hash,
            due_at=intended.due_at,
            not_after=intended.draft.not_after,
            attempts=0,
            idempotency_key=uuid.uuid4().hex,
            version=1,
        )
        self.session.add(delivery)
        return delivery

    def _create_posts(
        self, drafts: list[Draft], by_draft: dict[str, list[IntendedDelivery]]
    ) -> dict[str, PostChange]:
        """Insert new posts, their deliveries and audit events with bulk statements."""
        if not drafts:
            return {}
        stamps = {"created_at": self.now, "updated_at": self.now}
        # Rows without variants or media share one empty value each, and posts on the same
        # accounts one audit detail: each distinct value is serialised once (see
        # _memoized_by_identity). These objects go only to the bulk INSERTs, never to a record.
        shared: dict[str, Any] = {"variants": {}, "media": []}
        rows = []
        for draft in drafts:
            values = self._post_values(draft)
            for name, empty in shared.items():
                if not values[name]:
                    values[name] = empty
            rows.append(
                {
                    "campaign_id": self.record.id,
                    "key": draft.key,
                    "source": "draft",
                    "author": self.actor,
                    "version": 1,
                    **stamps,
                    **values,
                }
            )
        self._account_records(
            item.account for draft in drafts for item in by_draft.get(draft.key, [])
        )
        # Core statements on the tables (not the ORM's bulk path, which collects each row
        # through the mapper); the ids come back with their keys, in whatever order: a
        # RETURNING sorted by parameter order makes SQLite insert one row per statement.
        connection = self.session.connection()
        _bulk_insert(connection, PostRecord, rows)
        # Their ids by key, in one read (a key is unique within its campaign; a driver-level
        # executemany returns no rows).
        stored = select(PostRecord.key, PostRecord.id).where(
            PostRecord.campaign_id == self.record.id
        )
        ids: dict[str, int] = {row.key: row.id for row in connection.execute(stored)}
        from campaign_scheduler.identity import os_user as current_os_user
        from campaign_scheduler.store.audit import OS_USER_KEY

        os_user = current_os_user()
        account_ids = {name: record.id for name, record in self.accounts.items()}
        keys = iter(idempotency_keys(sum(len(by_draft.get(d.key, [])) for d in drafts)))
        pending = DeliveryState.PENDING.value
        deliveries: list[dict[str, object]] = []
        audits: list[dict[str, object]] = []
        details: dict[tuple[str, ...], dict[str, object]] = {}
        changes = {}
        for draft in drafts:
            intended = by_draft.get(draft.key, [])
            post_id = ids[draft.key]
            for item in intended:
                assert item.due_at is not None
                deliveries.append(
                    {
                        "post_id": post_id,
                        "account_id": account_ids[item.account.name],
                        "state": pending,
                        "text": item.text,
                        "first_comment": item.first_comment,
                        "content_hash": item.content_hash,
                        "due_at": item.due_at,
                        "not_after": item.draft.not_after,
                        "attempts": 0,
                        "idempotency_key": next(keys),
                        "version": 1,
                        **stamps,
                    }
                )
            names = [i.account.name for i in intended]
            detail = details.get(tuple(names))
            if detail is None:
                # (a bulk insert runs no before_insert listener: stamp as audit.py does)
                detail = details[tuple(names)] = {"accounts": names, OS_USER_KEY: os_user}
            audits.append(
                {
                    "at": self.now,
                    "actor": self.actor,
                    "action": "post.created",
                    "campaign_id": self.record.id,
                    "post_key": draft.key,
                    "delivery_id": None,
                    "detail": detail,
                }
            )
            count = len(names)
            changes[draft.key] = PostChange(
                ChangeKind.NEW,
                draft.key,
                [
                    msg(
                        _ONE_DELIVERY if count == 1 else _DELIVERIES,
                        n=count,
                        accounts=", ".join(names),
                    )
                ],
            )
        _bulk_insert(connection, DeliveryRecord, deliveries)
        _bulk_insert(connection, AuditEventRecord, audits)
        return changes

    def _update_post(
        self, post: PostRecord, draft: Draft, intended: list[IntendedDelivery]
    ) -> None:
        details: list[str] = []
        returning = post.removed_at is not None
        current = {d.account.name: d for d in post.deliveries}
        for item in intended:
            delivery = current.pop(item.account.name, None)
            if delivery is None:
                self._new_delivery(post, item)
                details.append(f"+ {item.account.name}")
                continue
            state = DeliveryState(delivery.state)
            if delivery.content_hash != item.content_hash:
                if state in OUT_OR_MAYBE_OUT or delivery.may_be_out:
                    why = (
                        state.value
                        if state in OUT_OR_MAYBE_OUT
                        else (
                            f"{state.value} with {len(delivery.parts)} thread part(s) out"
                            if delivery.parts
                            else f"{state.value} and may already be out (a call had no answer)"
                        )
                    )
                    self.conflicts.append(
                        f"{draft.key} on {item.account.name} is {why}"
                        + (f" ({delivery.remote_url})" if delivery.remote_url else "")
                    )
                    continue
                self._rewrite_delivery(delivery, item)
                details.append(f"~ {item.account.name}")
            elif state is DeliveryState.CANCELLED and delivery.state_reason in RESTORABLE_REASONS:
                self._set_state(delivery, DeliveryState.PENDING, None)
                details.append(msg("+ {account} (restored)", account=item.account.name))
        for name, delivery in sorted(current.items()):
            if DeliveryState(delivery.state) in RESTARTABLE and not delivery.may_be_out:
                self._set_state(delivery, DeliveryState.CANCELLED, REASON_CHANNEL_REMOVED)
                details.append(f"− {name}")

        new_values = self._post_values(draft)
        content_changed = post.content_hash != new_values["content_hash"]
        if not content_changed and not details and not returning:
            self.report.changes.append(PostChange(ChangeKind.UNCHANGED, draft.key))
            return
        if content_changed:
            for key, value in new_values.items():
                setattr(post, key, value)
            post.version += 1
            if post.approver is not None:
                # Approval is of one version: a changed text needs a fresh pair of eyes.
                post.approver = None
                post.approved_at = None
                details.append(msg("approval withdrawn (text changed)"))
        if returning:
            post.removed_at = None
            details.insert(0, msg("draft is back"))
        if not details:
            details.append(msg("metadata only"))
        self._audit(
            "post.changed", post_key=draft.key, detail={"version": post.version, "changes": details}
        )
        self.report.changes.append(PostChange(ChangeKind.CHANGED, draft.key, details))

    def _rewrite_delivery(self, delivery: DeliveryRecord, item: IntendedDelivery) -> None:
        assert item.due_at is not None
        delivery.text = item.text
        delivery.first_comment = item.first_comment
        delivery.content_hash = item.content_hash
        delivery.due_at = item.due_at
        delivery.not_after = item.draft.not_after
        delivery.version += 1
        delivery.attempts = 0  # a new text starts afresh: new plan, new count
        delivery.plan = None
        state = DeliveryState(delivery.state)
        if state in RESTARTABLE and state is not DeliveryState.PENDING:
            self._set_state(delivery, DeliveryState.PENDING, None)
        delivery.next_attempt_at = None

    def _set_state(
        self, delivery: DeliveryRecord, state: DeliveryState, reason: Reason | None
    ) -> None:
        old = delivery.state
        delivery.state = state.value
        delivery.state_reason = reason.record() if reason is not None else None
        delivery.state_reason_data = reason.as_json() if reason is not None else None
        delivery.version += 1
        self._audit(
            "delivery.state",
            post_key=delivery.post.key if delivery.post else None,
            delivery_id=delivery.id,
            detail={"from": old, "to": state.value, "reason": delivery.state_reason},
        )

    def _remove_post(self, post: PostRecord) -> None:
        cancelled = []
        kept = []
        for delivery in post.deliveries:
            state = DeliveryState(delivery.state)
            if state in RESTARTABLE and not delivery.may_be_out:
                self._set_state(delivery, DeliveryState.CANCELLED, REASON_DRAFT_REMOVED)
                cancelled.append(delivery.account.name)
            elif state is not DeliveryState.CANCELLED:
                kept.append(
                    msg(
                        "{account} stays {state}",
                        account=delivery.account.name,
                        state=state_msg(state.value),
                    )
                )
        post.removed_at = self.now
        self._audit("post.removed", post_key=post.key, detail={"cancelled": cancelled})
        details = [msg("{n} cancelled", n=len(cancelled)), *kept]
        self.report.changes.append(PostChange(ChangeKind.REMOVED, post.key, details))

    def _audit(
        self,
        action: str,
        *,
        campaign_id: int | None = None,
        post_key: str | None = None,
        delivery_id: int | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        record = getattr(self, "record", None)
        self.session.add(
            AuditEventRecord(
                at=self.now,
                actor=self.actor,
                action=action,
                campaign_id=campaign_id or (record.id if record is not None else None),
                post_key=post_key,
                delivery_id=delivery_id,
                detail=detail or {},
            )
        )
