"""Changes a person makes to one post: queue, cancel, reschedule, resolve (approve:
:mod:`campaign_scheduler.store.approval`).

Each runs in one transaction and writes an audit event with who did it.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.errors import (
    CampaignSchedulerError,
    ConflictError,
    NotFoundError,
    UsageError,
)
from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.lag import set_lag
from campaign_scheduler.store.models import (
    WAITING,
    AccountRecord,
    AttemptRecord,
    AuditEventRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.timeutil import deadline, format_local
from campaign_scheduler.uilang import N_, msg, state_msg

if TYPE_CHECKING:
    from campaign_scheduler.channels.published import PublishedPart

#: States a person may cancel or move to another time.
CHANGEABLE = frozenset({*WAITING, DeliveryState.FAILED, DeliveryState.EXPIRED})


def _campaign(session: Session, slug: str) -> CampaignRecord:
    record = session.scalar(select(CampaignRecord).where(CampaignRecord.slug == slug))
    if record is None:
        raise NotFoundError(
            msg("campaign '{slug}' is not in the database yet", slug=slug),
            hint=msg("run 'campaign load' first"),
        )
    return record


def _post(session: Session, campaign: CampaignRecord, key: str) -> PostRecord:
    post = session.scalar(
        select(PostRecord)
        .where(PostRecord.campaign_id == campaign.id, PostRecord.key == key)
        .options(selectinload(PostRecord.deliveries).selectinload(DeliveryRecord.account))
    )
    if post is None:
        keys = session.scalars(select(PostRecord.key).where(PostRecord.campaign_id == campaign.id))
        close = difflib.get_close_matches(key, list(keys), n=1)
        suggestion = msg(" (did you mean '{key}'?)", key=close[0]) if close else ""
        raise NotFoundError(
            msg(
                "no post '{key}' in campaign '{slug}'{suggestion}",
                key=key,
                slug=campaign.slug,
                suggestion=suggestion,
            ),
            hint=msg("'campaign plan' lists the posts"),
        )
    return post


def _audit(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    campaign: CampaignRecord,
    post: PostRecord,
    delivery: DeliveryRecord | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEventRecord(
            at=now,
            actor=actor,
            action=action,
            campaign_id=campaign.id,
            post_key=post.key,
            delivery_id=delivery.id if delivery else None,
            detail=detail,
        )
    )


def _set_state(
    delivery: DeliveryRecord, state: DeliveryState, reason: Reason | str | None, now: datetime
) -> None:
    """Change a delivery as a person asked. The flush is a compare-and-set on the version the
    command read (see ``DeliveryRecord.__mapper_args__``): if a daemon changed the delivery
    meanwhile, the whole command rolls back with a ConflictError."""
    delivery.state = state.value
    # The scheduler's own reasons keep their key for readers (campaign_scheduler.reasons).
    delivery.state_reason = reason.record() if isinstance(reason, Reason) else reason
    delivery.state_reason_data = reason.as_json() if isinstance(reason, Reason) else None
    delivery.next_attempt_at = None
    delivery.version += 1
    delivery.updated_at = now
    if state in (DeliveryState.PENDING, DeliveryState.CANCELLED):
        delivery.attempts = 0  # a fresh start: the attempts of the old plan do not count


def _changeable(delivery: DeliveryRecord) -> bool:
    """A person may cancel or move it: it is waiting (or over) and nothing of it may be out."""
    return DeliveryState(delivery.state) in CHANGEABLE and not delivery.may_be_out


MAYBE_OUT_NOTE = N_(
    "{key} on {account} "
    "may already be out (a call had no answer, or a thread is half out); it stays {state} "
    "until the daemon settles it, or a person does with 'campaign resolve'"
)


def _selected(post: PostRecord, account: str | None) -> list[DeliveryRecord]:
    deliveries = sorted(post.deliveries, key=lambda d: d.account.name)
    if account is None:
        return deliveries
    chosen = [d for d in deliveries if d.account.name == account]
    if not chosen:
        names = ", ".join(d.account.name for d in deliveries)
        raise NotFoundError(
            msg(
                "post '{key}' has no delivery on '{account}' (it has: {names})",
                key=post.key,
                account=account,
                names=names,
            )
        )
    return chosen


def cancel(
    store: Store, slug: str, key: str, *, actor: str, now: datetime, account: str | None = None
) -> list[str]:
    """Cancel the deliveries of a post that have not gone out; say what happened to each."""
    lines = []
    with store.session(write=True) as session:
        campaign = _campaign(session, slug)
        post = _post(session, campaign, key)
        for delivery in _selected(post, account):
            state = DeliveryState(delivery.state)
            name = delivery.account.name
            if state in WAITING and delivery.may_be_out:
                lines.append(
                    msg(MAYBE_OUT_NOTE, key=key, account=name, state=state_msg(state.value))
                )
            elif _changeable(delivery):
                _set_state(
                    delivery, DeliveryState.CANCELLED, Reason("cancelled_by", {"actor": actor}), now
                )
                _audit(session, now, actor, "delivery.cancelled", campaign, post, delivery)
                lines.append(msg("cancelled {key} on {account}", key=key, account=name))
            elif state is DeliveryState.PUBLISHED:
                lines.append(
                    msg(
                        "{key} on {account} is already published ({url}); "
                        "remove it on the network if it must go",
                        key=key,
                        account=name,
                        url=delivery.remote_url,
                    )
                )
            elif state is DeliveryState.PUBLISHING:
                raise ConflictError(
                    msg("{key} on {account} is being published right now", key=key, account=name),
                    hint=msg("try again in a moment"),
                )
            else:
                lines.append(
                    msg(
                        "{key} on {account} stays {state}",
                        key=key,
                        account=name,
                        state=state_msg(state.value),
                    )
                )
    return lines


def reschedule(
    store: Store,
    campaign_file: Campaign,
    key: str,
    when: datetime,
    *,
    actor: str,
    now: datetime,
) -> list[str]:
    """Move a post's deliveries that have not gone out to ``when``."""
    from campaign_scheduler.timeutil import in_windows

    zone = campaign_file.zone
    rules = campaign_file.rules
    if not in_windows(when, rules.windows, zone):
        windows = ", ".join(w.text for w in rules.windows)
        raise CampaignSchedulerError(
            msg(
                "{when} is outside the posting windows ({windows})",
                when=format_local(when, zone),
                windows=windows,
            )
        )
    lines = []
    with store.session(write=True) as session:
        campaign = _campaign(session, campaign_file.slug)
        post = _post(session, campaign, key)
        if post.not_after is not None and when > post.not_after:
            raise CampaignSchedulerError(
                msg(
                    "{when} is after the post's deadline ({deadline})",
                    when=format_local(when, zone),
                    deadline=format_local(post.not_after, zone),
                ),
                hint=msg("change not_after in the draft and load it, or choose an earlier time"),
            )
        movable = [d for d in post.deliveries if _changeable(d)]
        _check_gap(session, movable, when, rules.min_gap, zone)
        for delivery in sorted(post.deliveries, key=lambda d: d.account.name):
            if delivery not in movable:
                template = (
                    MAYBE_OUT_NOTE
                    if DeliveryState(delivery.state) in WAITING
                    else N_("{key} on {account} stays {state}")
                )
                lines.append(
                    msg(
                        template,
                        key=key,
                        account=delivery.account.name,
                        state=state_msg(delivery.state),
                    )
                )
                continue
            before = delivery.due_at
            delivery.due_at = when
            _set_state(delivery, DeliveryState.PENDING, None, now)
            _audit(
                session,
                now,
                actor,
                "delivery.rescheduled",
                campaign,
                post,
                delivery,
                before=before.isoformat(),
                after=when.isoformat(),
            )
            lines.append(
                msg(
                    "{key} on {account}: {when}",
                    key=key,
                    account=delivery.account.name,
                    when=format_local(when, zone),
                )
            )
        post.due_at = when
    return lines


def _check_gap(
    session: Session,
    deliveries: Sequence[DeliveryRecord],
    when: datetime,
    min_gap: timedelta,
    zone: Any,
) -> None:
    for delivery in deliveries:
        neighbour = session.scalar(
            select(DeliveryRecord)
            .where(
                DeliveryRecord.account_id == delivery.account_id,
                DeliveryRecord.id != delivery.id,
                DeliveryRecord.state.not_in((DeliveryState.CANCELLED.value,)),
                DeliveryRecord.due_at > when - min_gap,
                DeliveryRecord.due_at < when + min_gap,
            )
            .limit(1)
        )
        if neighbour is not None:
            raise CampaignSchedulerError(
                msg(
                    "{account} already posts at {when} ({key}); "
                    "rules.min_gap asks for {gap} between posts",
                    account=delivery.account.name,
                    when=format_local(neighbour.due_at, zone),
                    key=neighbour.post.key,
                    gap=str(min_gap),
                ),
                hint=msg("choose another time, or use --next-slot"),
            )


def resolve(
    store: Store,
    slug: str,
    key: str,
    account: str,
    *,
    published_url: str | None,
    published_as: PublishedPart | None = None,
    actor: str,
    now: datetime,
) -> str:
    """Settle an ``unknown`` delivery after a person checked the account.

    ``published_as`` is what the network's module read from ``published_url`` (the API's id,
    and whether the address is a comment's: ``Channel.find_published``); it is required with
    an address. An address of the post where the part in doubt is the first comment (or the
    other way round) is refused, and nothing is written."""
    if published_url is not None and published_as is None:
        raise TypeError("a published address needs the id its network read from it")
    with store.session(write=True) as session:
        campaign = _campaign(session, slug)
        post = _post(session, campaign, key)
        [delivery] = _selected(post, account)
        if delivery.state != DeliveryState.UNKNOWN.value:
            raise CampaignSchedulerError(
                msg(
                    "{key} on {account} is {state}, not unknown; nothing to resolve",
                    key=key,
                    account=account,
                    state=state_msg(delivery.state),
                )
            )
        last_attempt = session.scalar(
            select(AttemptRecord)
            .where(AttemptRecord.delivery_id == delivery.id)
            .order_by(AttemptRecord.number.desc())
            .limit(1)
        )
        delivery.maybe_out = False  # a person looked: that settles it either way
        delivery.attempts = 0
        if published_url is not None:
            out_at = last_attempt.started_at if last_attempt else now
            assert published_as is not None
            message = _confirm_out(
                delivery, published_url, published_as, out_at, actor, now, key, account
            )
        else:
            last = deadline(
                delivery.due_at, delivery.not_after, timedelta(seconds=campaign.grace_seconds)
            )
            if now <= last or delivery.parts:  # (a started thread is completed, however late)
                _set_state(delivery, DeliveryState.PENDING, f"not published, said {actor}", now)
                message = msg(
                    "{key} on {account}: not published; it goes out again (before {time} UTC)",
                    key=key,
                    account=account,
                    time=last.strftime("%H:%M"),
                )
            else:
                _set_state(
                    delivery,
                    DeliveryState.EXPIRED,
                    Reason("said_not_published_expired", {"actor": actor}),
                    now,
                )
                message = msg(
                    "{key} on {account}: not published, and too late to try again: expired",
                    key=key,
                    account=account,
                )
        if last_attempt is not None:
            last_attempt.outcome = "resolved by a person"
        _audit(
            session,
            now,
            actor,
            "delivery.resolved",
            campaign,
            post,
            delivery,
            published=published_url is not None,
            url=published_url,
        )
        return message


def _confirm_out(
    delivery: DeliveryRecord,
    url: str,
    seen: PublishedPart,
    out_at: datetime,
    actor: str,
    now: datetime,
    key: str,
    account: str,
) -> str:
    """A person saw the part in doubt on the network, at ``url``: the post itself, the next
    part of a thread, or the first comment (the parts before it are on record). It is recorded
    as out like any part a receipt confirms; if the delivery has more to send (the rest of a
    thread, the first comment, which certainly are not out: nothing is sent before the part
    before it is on record), it waits for the daemon, which sends the rest once (a started
    thread and a comment follow however late). Only a delivery with nothing more to send is
    published."""
    post_parts = max(len(delivery.plan or []), 1)
    total = post_parts + (1 if delivery.first_comment is not None else 0)
    parts: list[dict[str, str | None]] = list(delivery.parts or [])
    in_doubt_is_comment = post_parts <= len(parts) < total
    if seen.comment != in_doubt_is_comment:
        raise UsageError(
            msg(
                "--published: {url} is the address of a comment; the part in doubt is the "
                "post (or a part of its thread): give its address",
                url=url,
            )
            if seen.comment
            else msg(
                "--published: {url} is the address of a post; the part in doubt is its first "
                "comment: give the comment's address",
                url=url,
            ),
            hint=msg("nothing was changed"),
        )
    if len(parts) < total:
        confirmed: dict[str, str | None] = {"id": seen.remote_id, "url": url}
        if len(parts) >= post_parts:
            confirmed["kind"] = "comment"
        parts.append(confirmed)
        if total > 1:  # (a post alone keeps no parts, as when its receipt arrives)
            delivery.parts = parts
    if len(parts) < total:
        _set_state(
            delivery,
            DeliveryState.PENDING,
            f"{url} confirmed out by {actor}; the rest follows",
            now,
        )
        if len(parts) < post_parts:
            return msg(
                "{key} on {account}: part {n} of the thread is out ({url}); "
                "the daemon sends the rest",
                key=key,
                account=account,
                n=len(parts),
                url=url,
            )
        return msg(
            "{key} on {account}: published ({url}); the daemon sends its first comment",
            key=key,
            account=account,
            url=url,
        )
    _set_state(delivery, DeliveryState.PUBLISHED, f"confirmed by {actor}", now)
    first = parts[0]
    delivery.remote_id = first["id"]
    delivery.remote_url = first["url"]
    delivery.published_at = out_at
    set_lag(delivery)
    return msg("{key} on {account}: published ({url})", key=key, account=account, url=url)


@dataclass(frozen=True)
class QueuedPost:
    key: str
    due_at: datetime
    accounts: list[str]


def queue_post(
    store: Store,
    campaign_file: Campaign,
    *,
    sender: str,
    accounts: Sequence[tuple[str, str, str | None]],  # (name, channel, base_url)
    text: str,
    language: str,
    due_at: datetime,
    not_after: datetime | None,
    actor: str,
    now: datetime,
) -> QueuedPost:
    """Queue an ad-hoc post (not from a draft file) with one delivery per account."""
    zone = campaign_file.zone
    key = f"adhoc/{sender}/{due_at.astimezone(zone):%Y%m%d-%H%M}-{uuid.uuid4().hex[:4]}"
    with store.session(write=True) as session:
        campaign = _campaign(session, campaign_file.slug)
        sender_record = session.scalar(
            select(SenderRecord).where(
                SenderRecord.campaign_id == campaign.id, SenderRecord.slug == sender
            )
        )
        if sender_record is None:
            raise NotFoundError(
                msg("sender '{sender}' is not in the database; run 'campaign load'", sender=sender)
            )
        import hashlib

        digest = hashlib.sha256(f"{text}\n{language}\n{due_at.isoformat()}".encode()).hexdigest()
        post = PostRecord(
            campaign_id=campaign.id,
            key=key,
            source="adhoc",
            source_path=None,
            sender_id=sender_record.id,
            body=text,
            variants={},
            media=[],
            language=language,
            at_text=due_at.isoformat(),
            not_after_text=not_after.isoformat() if not_after else None,
            due_at=due_at,
            not_after=not_after,
            content_hash=digest,
            version=1,
            author=actor,
        )
        session.add(post)
        session.flush()
        created = []
        for name, channel, base_url in accounts:
            record = session.scalar(select(AccountRecord).where(AccountRecord.name == name))
            if record is None:
                record = AccountRecord(
                    name=name,
                    channel=channel,
                    sender_id=sender_record.id,
                    base_url=base_url,
                    needs_attention=False,
                )
                session.add(record)
                session.flush()
            delivery = DeliveryRecord(
                post_id=post.id,
                account_id=record.id,
                state=DeliveryState.PENDING.value,
                text=text,
                content_hash=digest,
                due_at=due_at,
                not_after=not_after,
                attempts=0,
                idempotency_key=uuid.uuid4().hex,
                version=1,
            )
            delivery.account = record
            session.add(delivery)
            created.append(delivery)
        session.flush()
        _check_gap(session, created, due_at, campaign_file.rules.min_gap, zone)
        _audit(
            session, now, actor, "post.queued", campaign, post, accounts=[a[0] for a in accounts]
        )
    return QueuedPost(key, due_at, [a[0] for a in accounts])


def taken_times(store: Store, account_names: Sequence[str]) -> list[datetime]:
    """When the given accounts already post (for finding the next free slot)."""
    with store.session() as session:
        return list(
            session.scalars(
                select(DeliveryRecord.due_at)
                .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
                .where(
                    AccountRecord.name.in_(account_names),
                    DeliveryRecord.state.not_in(
                        (DeliveryState.CANCELLED.value, DeliveryState.EXPIRED.value)
                    ),
                )
            )
        )
