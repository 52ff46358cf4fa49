"""Connected accounts as the CLI, ``status`` and the daemon see them.

* :func:`token_name` — the token-store NAME of an account: the target of its ``keyring:NAME``
  reference, else the account's own name (what ``accounts connect`` stores under by default).
* :func:`sources` — where each secret of an account comes from (``env:``, ``file:``,
  ``keyring:``), never the value.
* :func:`connect_account` / :func:`refresh_account` — run the channel's flow and store the
  result (refreshed records are written back atomically by the store).
* :func:`token_states` — each stored token's expiry, whether it renews itself, and whether it
  runs out before the account's last scheduled post (:meth:`TokenState.needs_person`).
* :func:`refresh_due` — what the daemon runs: refresh every refreshable stored token that expires
  within :data:`REFRESH_AHEAD`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from campaign_scheduler.auth.base import ConnectContext, flow_for
from campaign_scheduler.auth.tokens import TokenRecord, TokenStore
from campaign_scheduler.errors import CampaignSchedulerError, NotFoundError
from campaign_scheduler.uilang import tr, trn

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.config import Account, Settings

log = logging.getLogger("campaign_scheduler.auth")

#: The daemon refreshes a refreshable token once it expires within this time.
REFRESH_AHEAD = timedelta(days=10)
#: A token that expires within this time is flagged even without a later post.
WARN_AHEAD = timedelta(days=14)


def token_key(account: Account) -> str:
    """The account's secret key that holds its token (``token``, Bluesky's ``password``)."""
    from campaign_scheduler.channels.catalog import spec_of

    spec = spec_of(account.channel)
    keys = spec.secrets if spec is not None else tuple(account.secrets)
    for preferred in ("token", "access_token", "password"):
        if preferred in keys:
            return preferred
    return keys[0] if keys else "token"


def token_name(account: Account) -> str:
    """The NAME the account's token is stored under."""
    ref = account.secrets.get(token_key(account))
    if ref is not None and ref.kind == "keyring":
        return ref.target
    return account.name


def stored_name(account: Account) -> str | None:
    """The NAME of the account's token when config.toml refers to the token store, else
    ``None`` (the token comes from env: or file:, and nothing is known about its expiry)."""
    ref = account.secrets.get(token_key(account))
    return ref.target if ref is not None and ref.kind == "keyring" else None


def sources(account: Account) -> dict[str, str]:
    """Secret key -> its reference (``env:NAME`` …); never a value."""
    return {key: str(ref) for key, ref in sorted(account.secrets.items())}


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until ``expires_at`` (negative: expired that many days ago)."""
    return (expires_at - now) // timedelta(days=1)


def expiry_text(expires_at: datetime | None, now: datetime, lang: str = "en") -> str:
    """ "expires in N days" / "läuft in N Tagen ab" (or "expired", "no expiry known")."""
    if expires_at is None:
        return tr("no expiry known", lang)
    if expires_at <= now:
        return tr("expired", lang)
    days = days_left(expires_at, now)
    if days < 1:
        hours = max(1, int((expires_at - now) / timedelta(hours=1)))
        return trn("expires in {n} hour", "expires in {n} hours", hours, lang)
    return trn("expires in {n} day", "expires in {n} days", days, lang)


def context_for(
    account: Account,
    session: requests.Session,
    **interaction: object,
) -> ConnectContext:
    """A :class:`ConnectContext` for ``account``; ``interaction`` sets ``ask``, ``say``,
    ``open_url``, ``redirect_receiver``, ``clock``, ``options``, ``timeout``."""
    from campaign_scheduler.channels.catalog import spec_of

    spec = spec_of(account.channel)
    base_url = account.base_url or (spec.default_base_url if spec else None) or ""
    return ConnectContext(
        account_name=account.name,
        channel=account.channel,
        base_url=base_url.rstrip("/"),
        settings=dict(account.settings),
        session=session,
        **interaction,  # type: ignore[arg-type]
    )


def connect_account(
    account: Account, ctx: ConnectContext, store: TokenStore
) -> tuple[str, TokenRecord]:
    """Run the channel's connect flow and store the token; ``(NAME, record)``."""
    flow = flow_for(account.channel)
    record = flow.connect(ctx)
    name = token_name(account)
    store.put(name, record)
    return name, record


@dataclass(frozen=True)
class RefreshOutcome:
    account: str
    name: str | None
    #: "refreshed", "not refreshable", "not stored" (env:/file: token), "missing", "failed"
    result: str
    expires_at: datetime | None = None
    detail: str | None = None


def refresh_account(account: Account, ctx: ConnectContext, store: TokenStore) -> RefreshOutcome:
    """Refresh the account's stored token now. Errors of the network propagate."""
    name = stored_name(account)
    if name is None:
        return RefreshOutcome(account.name, None, "not stored")
    record = store.get(name)
    if record is None:
        return RefreshOutcome(account.name, name, "missing")
    flow = flow_for(account.channel)
    renewed = flow.refresh(record, ctx)
    if renewed is None:
        return RefreshOutcome(account.name, name, "not refreshable", record.expires_at)
    store.put(name, renewed)
    return RefreshOutcome(account.name, name, "refreshed", renewed.expires_at)


def stored_tokens(settings: Settings, store: TokenStore) -> dict[str, TokenRecord]:
    """Account name -> its stored token record, for accounts whose token is in the store (an
    unreadable store counts as no record: ``accounts list`` names that problem)."""
    found: dict[str, TokenRecord] = {}
    for account in settings.accounts.values():
        name = stored_name(account)
        if name is None:
            continue
        try:
            record = store.get(name)
        except CampaignSchedulerError:
            continue
        if record is not None:
            found[account.name] = record
    return found


def token_expiry(settings: Settings, store: TokenStore) -> dict[str, datetime | None]:
    """Account name -> its stored token's expiry, for accounts whose token is in the store."""
    return {name: r.expires_at for name, r in stored_tokens(settings, store).items()}


#: A refreshable token is a person's problem only this close to its expiry (the daemon has
#: tried to refresh it since :data:`REFRESH_AHEAD` before and failed).
REFRESH_FAILED_WITHIN = timedelta(days=3)


@dataclass(frozen=True)
class TokenState:
    """What ``status``, ``channels verify`` and the alert know of one account's token."""

    account: str
    expires_at: datetime | None
    refreshable: bool
    last_post: datetime | None  # the account's last scheduled (waiting) delivery

    def before_last_post(self) -> bool:
        return (
            self.expires_at is not None
            and self.last_post is not None
            and self.expires_at <= self.last_post
        )

    def needs_person(self, now: datetime) -> bool:
        """A person must connect the account again: the token runs out before the account's
        last scheduled post (or within :data:`WARN_AHEAD`) and nothing renews it — or it is
        refreshable but still this close to its expiry, so the refreshes failed."""
        if self.expires_at is None:
            return False
        if self.refreshable:
            return self.expires_at - now <= REFRESH_FAILED_WITHIN
        return self.before_last_post() or self.expires_at - now <= WARN_AHEAD

    def describe(self, now: datetime, lang: str = "en") -> str:
        """``soest-mastodon: token expires in 3 days, before its last scheduled post``."""
        expiry = expiry_text(self.expires_at, now, lang)
        if self.before_last_post():
            expiry = tr("{expiry}, before its last scheduled post", lang, expiry=expiry)
        if self.refreshable:
            expiry = tr("{expiry} (renewed automatically)", lang, expiry=expiry)
        return tr("{account}: token {expiry}", lang, account=self.account, expiry=expiry)


def token_states(
    settings: Settings,
    store: TokenStore,
    last_posts: Mapping[str, datetime],
) -> list[TokenState]:
    """One :class:`TokenState` per account whose token is in the store, by account name."""
    return [
        TokenState(name, record.expires_at, record.refresh_token is not None, last_posts.get(name))
        for name, record in sorted(stored_tokens(settings, store).items())
    ]


#: How often the daemon looks for tokens to refresh, unless a network's tokens live shorter.
REFRESH_EVERY = timedelta(hours=6)


def refresh_ahead(account: Account, default: timedelta = REFRESH_AHEAD) -> timedelta:
    """How long before expiry the account's token is renewed: ``default``, or less where the
    network's tokens live shorter than that (its flow's ``refresh_ahead``, e.g. X: 2-hour
    tokens are renewed in their last hour)."""
    try:
        flow = flow_for(account.channel)
    except (CampaignSchedulerError, NotFoundError):
        return default
    lead = getattr(flow, "refresh_ahead", None)
    return min(default, lead) if isinstance(lead, timedelta) else default


def refresh_interval(settings: Settings, default: timedelta = REFRESH_EVERY) -> timedelta:
    """How often the daemon's token job runs: ``default``, or half the shortest refresh lead
    of an account whose token is in the store, so no token runs out between two runs."""
    leads = [
        refresh_ahead(account)
        for account in settings.accounts.values()
        if stored_name(account) is not None
    ]
    return min([default, *(lead / 2 for lead in leads)])


def refresh_due(
    settings: Settings,
    store: TokenStore,
    now: datetime,
    session_factory: Callable[[], requests.Session],
    *,
    ahead: timedelta = REFRESH_AHEAD,
) -> list[RefreshOutcome]:
    """Refresh every stored token that expires within ``ahead`` (or its network's shorter
    :func:`refresh_ahead`) and whose network can renew it without a person. Failures are returned (and logged), not raised: the daemon goes on."""
    outcomes = []
    for account in sorted(settings.accounts.values(), key=lambda a: a.name):
        name = stored_name(account)
        if name is None:
            continue
        try:
            record = store.get(name)
            if record is None or record.expires_at is None:
                continue
            if record.expires_at - now > refresh_ahead(account, ahead):
                continue
            ctx = context_for(account, session_factory(), clock=lambda: now)
            outcome = refresh_account(account, ctx, store)
        except (CampaignSchedulerError, NotFoundError) as exc:
            log.warning("refreshing the token of %s failed: %s", account.name, exc.message)
            outcomes.append(RefreshOutcome(account.name, name, "failed", detail=exc.message))
            continue
        except Exception as exc:  # a broken flow must not keep the other accounts' refresh
            log.exception("refreshing the token of %s failed", account.name)
            outcomes.append(RefreshOutcome(account.name, name, "failed", detail=type(exc).__name__))
            continue
        if outcome.result == "refreshed":
            log.info("refreshed the token of %s", account.name)
        outcomes.append(outcome)
    return outcomes


def token_source(settings: Settings) -> Callable[[Mapping[str, datetime]], list[TokenState]]:
    """``last_posts -> token states`` for ``status``, ``channels verify`` and the alert detector
    (:func:`campaign_scheduler.alerts.watch_token_expiry`). The token store is opened only when
    an account refers to it; an unusable store gives no states (``accounts list`` says why)."""

    def source(last_posts: Mapping[str, datetime]) -> list[TokenState]:
        if not any(stored_name(a) is not None for a in settings.accounts.values()):
            return []
        from campaign_scheduler.auth.tokens import default_store

        try:
            store = default_store()
        except CampaignSchedulerError:
            return []
        return token_states(settings, store, last_posts)

    return source


def refresh_tokens_job(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    session_factory: Callable[[], requests.Session] | None = None,
) -> Callable[[], list[RefreshOutcome]] | None:
    """The daemon's token job: :func:`refresh_due` over the token store, or ``None`` when no
    account keeps its token there (then the daemon schedules nothing)."""
    if not any(stored_name(a) is not None for a in settings.accounts.values()):
        return None

    def job() -> list[RefreshOutcome]:
        from campaign_scheduler.auth.tokens import default_store
        from campaign_scheduler.channels._http import make_session
        from campaign_scheduler.timeutil import utcnow

        now = (clock or utcnow)()
        return refresh_due(settings, default_store(), now, session_factory or make_session)

    return job
