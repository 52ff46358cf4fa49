"""Tell a person: alert conditions, found in the record, sent once through apprise.

A *condition* is something that needs a person (a delivery failed, expired or has an unknown
outcome, an account is held because its credentials were refused, a rate limit holds a post
past half of its grace, no daemon runs while work is due). Each has a stable ``key``; the
``notice`` table (:mod:`campaign_scheduler.store.attention`) remembers the keys already told,
so every condition is sent once — also when the daemon and ``campaign status --alert`` from a
timer look at the same time. A key is claimed before sending and released when sending failed.

Conditions come from *detectors*: functions ``(session, now, since) -> conditions``, listed in
:data:`DETECTORS`. A new kind plugs in with :func:`register_detector` and a text entry in
:mod:`campaign_scheduler.alert_texts`. The token-expiry detector (:func:`expiring_tokens`) came
this way: tokens live outside the database, so the command that runs the detectors names where
their states come from with :func:`watch_token_expiry` (``run`` and ``status`` do, from the
config and the token store; see :mod:`campaign_scheduler.auth.accounts`).

Texts are German or English after the campaign's language (``[alerts] language`` overrides).
apprise is imported only when an alert is actually sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign_scheduler.alert_texts import (
    CONDITIONS,
    DAEMON_STATES,
    MORE,
    NEVER,
    TITLE,
    TODO,
    human_age,
    language_of,
)
from campaign_scheduler.errors import AlertError, CampaignSchedulerError
from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.store.status_reads import last_scheduled as last_scheduled  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.timeutil import ago
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from campaign_scheduler.auth.accounts import TokenState
    from campaign_scheduler.config import AlertSettings
    from campaign_scheduler.store.attention import Liveness
    from campaign_scheduler.store.engine import Store

log = logging.getLogger("campaign_scheduler.alerts")

#: At most this many conditions are spelled out in one message; the rest are counted.
MAX_LINES = 25
#: Kinds whose notice is forgotten when the condition clears, so that it can alert again.
REARMING = frozenset({"account_held"})


@dataclass(frozen=True)
class Condition:
    kind: str  # a key of alert_texts.CONDITIONS
    key: str  # stable identity: the same situation always gives the same key
    campaign: str  # campaign slug ("" when not tied to one)
    language: str  # campaign language tag
    facts: dict[str, str] = field(default_factory=dict)
    #: The scheduler's own reason with its key: ``{reason}`` is worded in the alert's language.
    reason: Reason | None = None

    def render(self, language: str) -> tuple[str, str]:
        what, todo = CONDITIONS[self.kind][language]
        facts = self.facts
        if self.reason is not None:
            facts = {**facts, "reason": self.reason.for_readers(language)}
        return what.format(**facts), todo.format(**facts)


Detector = Callable[[Session, datetime, datetime | None], Iterable[Condition]]
DETECTORS: list[Detector] = []


def register_detector(detector: Detector) -> Detector:
    """Add a source of conditions (usable as a decorator)."""
    DETECTORS.append(detector)
    return detector


_PROBLEM_STATES = {
    DeliveryState.FAILED.value: "delivery_failed",
    DeliveryState.EXPIRED.value: "delivery_expired",
    DeliveryState.UNKNOWN.value: "delivery_unknown",
}


def _delivery_rows(
    session: Session, states: Sequence[str], since: datetime | None
) -> Iterator[tuple[DeliveryRecord, str, str, CampaignRecord]]:
    """Deliveries in ``states`` changed after ``since`` (all when None), with their post key,
    account name and campaign."""
    rows = session.execute(
        select(DeliveryRecord, PostRecord.key, AccountRecord.name, CampaignRecord)
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .where(DeliveryRecord.state.in_(states))
        .order_by(DeliveryRecord.updated_at, PostRecord.key, AccountRecord.name)
    )
    for delivery, key, account, campaign in rows:
        if since is None or delivery.updated_at > since:
            yield delivery, key, account, campaign


def _delivery_condition(
    kind: str,
    key: str,
    campaign: CampaignRecord,
    facts: dict[str, str],
    reason: Reason | None = None,
) -> Condition:
    """A condition about one delivery, told in its campaign's language."""
    return Condition(kind, key, campaign.slug, campaign.language, facts, reason)


@register_detector
def problem_deliveries(
    session: Session, now: datetime, since: datetime | None
) -> Iterable[Condition]:
    """Deliveries that failed, expired or ended with an unknown outcome (after ``since``)."""
    for delivery, key, account, campaign in _delivery_rows(session, list(_PROBLEM_STATES), since):
        yield _delivery_condition(
            _PROBLEM_STATES[delivery.state],
            f"delivery:{delivery.id}:{delivery.state}:{delivery.attempts}",
            campaign,
            {
                "post": key,
                "account": account,
                "reason": delivery.state_reason or delivery.last_error or "–",
            },
            Reason.from_json(delivery.state_reason_data)
            if delivery.state_reason is not None
            else None,
        )


@register_detector
def failed_comments(session: Session, now: datetime, since: datetime | None) -> Iterable[Condition]:
    """Published posts whose first comment is missing (refused, or given up): the hashtags
    or the link a person meant to add are not there."""
    published = [DeliveryState.PUBLISHED.value]
    for delivery, key, account, campaign in _delivery_rows(session, published, since):
        if delivery.comment_error is None:
            continue
        yield _delivery_condition(
            "comment_failed",
            f"comment:{delivery.id}:{delivery.attempts}",
            campaign,
            {
                "post": key,
                "account": account,
                "url": delivery.remote_url or "–",
                "reason": delivery.comment_error,
            },
            Reason.from_json(delivery.comment_error_data),  # None for records before 0011
        )


@register_detector
def held_accounts(session: Session, now: datetime, since: datetime | None) -> Iterable[Condition]:
    """Accounts held because the network refused their credentials (publish or metrics)."""
    rows = session.execute(
        select(AccountRecord.name, AccountRecord.attention_reason, CampaignRecord)
        .join(SenderRecord, SenderRecord.id == AccountRecord.sender_id)
        .join(CampaignRecord, CampaignRecord.id == SenderRecord.campaign_id)
        .where(AccountRecord.needs_attention.is_(True))
        .order_by(AccountRecord.name)
    )
    for name, reason, campaign in rows:
        yield Condition(
            kind="account_held",
            key=f"account-held:{name}",
            campaign=campaign.slug,
            language=campaign.language,
            facts={"account": name, "reason": reason or "–"},
        )


@register_detector
def rate_limit_past_half_grace(
    session: Session, now: datetime, since: datetime | None
) -> Iterable[Condition]:
    """Waiting deliveries that a rate limit keeps back past half of the campaign's grace."""
    rows = session.execute(
        select(DeliveryRecord, PostRecord.key, AccountRecord, CampaignRecord)
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .where(
            DeliveryRecord.state.in_((DeliveryState.PENDING.value, DeliveryState.RETRY_WAIT.value)),
            AccountRecord.rate_limited_until > now,
        )
        .order_by(DeliveryRecord.due_at, PostRecord.key)
    )
    for delivery, key, account, campaign in rows:
        until = account.rate_limited_until
        half = timedelta(seconds=campaign.grace_seconds / 2)
        if until is None or until <= delivery.due_at + half:
            continue
        local = until.astimezone(ZoneInfo(campaign.timezone))
        yield _delivery_condition(
            "rate_limited",
            f"rate-limit:{delivery.id}:{delivery.due_at.isoformat()}",
            campaign,
            {
                "post": key,
                "account": account.name,
                "until": f"{local:%Y-%m-%d %H:%M}",
                "grace": human_age(campaign.grace_seconds, language_of(campaign.language)),
            },
        )


TokenStates = Callable[[Mapping[str, datetime]], "Sequence[TokenState]"]
_token_sources: list[TokenStates] = []


def watch_token_expiry(source: TokenStates | None) -> None:
    """Where :func:`expiring_tokens` reads token states: ``source(last_posts)`` with each
    account's last waiting delivery. ``None`` stops watching. One source at a time."""
    _token_sources[:] = [] if source is None else [source]


@register_detector
def expiring_tokens(session: Session, now: datetime, since: datetime | None) -> Iterable[Condition]:
    """Stored tokens a person must renew: they run out before the account's last scheduled
    post (or soon) and the daemon cannot refresh them (see ``TokenState.needs_person``)."""
    if not _token_sources:
        return
    states = _token_sources[0](last_scheduled(session))
    wanted = [s for s in states if s.needs_person(now)]
    if not wanted:
        return
    rows = session.execute(
        select(AccountRecord.name, CampaignRecord)
        .join(SenderRecord, SenderRecord.id == AccountRecord.sender_id)
        .join(CampaignRecord, CampaignRecord.id == SenderRecord.campaign_id)
        .where(AccountRecord.name.in_([s.account for s in wanted]))
    )
    campaigns = {str(name): campaign for name, campaign in rows}
    for state in wanted:
        campaign = campaigns.get(state.account)
        assert state.expires_at is not None
        zone = ZoneInfo(campaign.timezone) if campaign is not None else None
        expires = state.expires_at.astimezone(zone) if zone else state.expires_at
        facts = {"account": state.account, "expires": f"{expires:%Y-%m-%d %H:%M}"}
        kind = "token_expiring"
        if state.before_last_post():
            assert state.last_post is not None
            last = state.last_post.astimezone(zone) if zone else state.last_post
            facts["last"] = f"{last:%Y-%m-%d %H:%M}"
            kind = "token_expiring_before_post"
        yield Condition(
            kind=kind,
            key=f"token-expiring:{state.account}:{state.expires_at.isoformat()}",
            campaign=campaign.slug if campaign is not None else "",
            language=campaign.language if campaign is not None else "en",
            facts=facts,
        )


def daemon_down(
    liveness: Liveness, due_soon: int, now: datetime, *, campaign: str, language: str
) -> Condition:
    """The condition `status --alert` adds from outside: no daemon while work is due soon."""
    alert_language = language_of(language)
    heartbeat = (
        ago(now - liveness.last_heartbeat, alert_language)
        if liveness.last_heartbeat is not None
        else NEVER[alert_language]
    )
    return Condition(
        kind="daemon_down",
        key="daemon-down:"
        + (liveness.last_heartbeat.isoformat() if liveness.last_heartbeat else "never"),
        campaign=campaign,
        language=language,
        facts={
            "state": DAEMON_STATES[alert_language][liveness.state.value],
            "heartbeat": heartbeat,
            "count": str(due_soon),
        },
    )


def find_conditions(
    store: Store, now: datetime, *, since: datetime | None = None
) -> list[Condition]:
    with store.session() as session:
        return [c for detector in DETECTORS for c in detector(session, now, since)]


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def compose(conditions: Sequence[Condition], language: str) -> Message:
    """One message for the conditions of one campaign, in ``language`` ("de" or "en")."""
    lines: list[str] = []
    for condition in conditions[:MAX_LINES]:
        what, todo = condition.render(language)
        lines.append(f"• {what}\n  {TODO[language]}: {todo}")
    if len(conditions) > MAX_LINES:
        lines.append(MORE[language].format(count=len(conditions) - MAX_LINES))
    campaign = conditions[0].campaign if conditions else ""
    title = TITLE[language].format(campaign=campaign or "–", count=len(conditions))
    return Message(title, "\n".join(lines))


Notify = Callable[[Sequence[str], Message], None]


def apprise_notify(urls: Sequence[str], message: Message) -> None:
    """Hand one message to every URL through apprise. Raises :class:`AlertError`."""
    import apprise

    sender = apprise.Apprise()
    for number, url in enumerate(urls, start=1):
        if not sender.add(url):
            raise AlertError(
                msg(
                    "alerts.urls: entry {number} is not a notification URL apprise understands",
                    number=number,
                ),
                hint=msg("see the apprise URL forms, e.g. mailtos://, ntfys://, json://"),
            )
    if not sender.notify(title=message.title, body=message.body):
        raise AlertError(
            msg("the alert could not be delivered to every notification URL"),
            hint=msg("check the alert receiver; the alert is tried again next round"),
        )


@dataclass
class AlertReport:
    sent: list[Condition] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"alert not sent: {self.error}"
        return f"{len(self.sent)} alert(s) sent" if self.sent else "no new alerts"


def send_alerts(
    store: Store,
    settings: AlertSettings,
    now: datetime,
    *,
    sender: str,
    extra: Iterable[Condition] = (),
    notify: Notify = apprise_notify,
) -> AlertReport:
    """Send every condition not told yet, once. Never raises for a failed send: the claims
    are released and the error is in the report (the daemon must go on)."""
    from campaign_scheduler.store.attention import (
        claim_notices,
        last_ack,
        notice_keys,
        rearm,
        release_notices,
    )

    report = AlertReport()
    acked = last_ack(store)  # what a person has acknowledged needs no alert any more
    conditions = [*find_conditions(store, now, since=acked.at if acked else None), *extra]
    for kind in REARMING:
        rearm(store, kind, [c.key for c in conditions if c.kind == kind])
    if not settings.enabled:
        return report
    told = notice_keys(store)
    fresh = [c for c in conditions if c.key not in told]
    if not fresh:
        return report
    try:
        urls = [ref.resolve() for ref in settings.urls]
    except CampaignSchedulerError as exc:
        report.error = exc.message
        log.warning("alerts: %s", exc.message)
        return report
    claimed = set(
        claim_notices(
            store, [(c.key, c.kind, {"campaign": c.campaign}) for c in fresh], by=sender, now=now
        )
    )
    ours = [c for c in fresh if c.key in claimed]
    groups: dict[tuple[str, str], list[Condition]] = {}
    for condition in ours:
        language = settings.language or language_of(condition.language)
        groups.setdefault((condition.campaign, language), []).append(condition)
    for (_campaign, language), group in groups.items():
        try:
            notify(urls, compose(group, language))
        except AlertError as exc:
            release_notices(store, [c.key for c in group])
            report.error = exc.message
            log.warning("alerts: %s", exc.message)
            continue
        report.sent.extend(group)
    if report.sent:
        log.info("alerts: told a person about %d condition(s)", len(report.sent))
    return report
