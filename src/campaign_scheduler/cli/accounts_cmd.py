"""``campaign accounts``: list the configured accounts, connect one, refresh tokens.

``connect`` runs the network's guided flow (see :mod:`campaign_scheduler.auth`), stores the
token in the token store (OS keyring, else a 0600 secrets file) and prints the lines to put into
``[accounts.NAME]`` of config.toml (``token = "keyring:NAME"`` and any ids the flow found). It
never edits config.toml itself: the file is the user's, with their comments and order, and one
line to paste is easier to review than an edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from campaign_scheduler.cli.common import JsonOption, command_group
from campaign_scheduler.cli.output import write_json, write_line
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.uilang import msg, tr

if TYPE_CHECKING:
    from campaign_scheduler.config import Account, Settings

accounts_app = command_group("Connect accounts to their networks and keep their tokens alive.")


def interaction(no_browser: bool) -> dict[str, Any]:
    """How a flow talks to the person on this terminal (tests replace this function)."""
    from campaign_scheduler.auth.oauth import browser_opener

    def ask(prompt: str, secret: bool = False) -> str:
        return str(
            typer.prompt(tr(prompt).rstrip(": "), hide_input=secret, default="", show_default=False)
        )

    def say(text: str) -> None:
        write_line(tr(text))

    opener = (lambda url: False) if no_browser else browser_opener()
    return {"ask": ask, "say": say, "open_url": opener}


def session_factory() -> Any:
    """A fresh HTTP session for a flow (tests replace this function)."""
    from campaign_scheduler.channels._http import make_session

    return make_session()


def _account(settings: Settings, name: str) -> Account:
    from campaign_scheduler.errors import NotFoundError

    account = settings.accounts.get(name)
    if account is None:
        known = ", ".join(sorted(settings.accounts)) or tr("none")
        raise NotFoundError(
            msg("no account '{name}' in the config (accounts: {known})", name=name, known=known)
        )
    return account


def _lang() -> str:
    from campaign_scheduler.uilang import ui_language

    return ui_language("de")


@accounts_app.command("list")
def list_accounts(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """Every account: network, sender, where its secrets come from, token expiry, flags."""
    from campaign_scheduler.auth.accounts import expiry_text, sources, stored_name
    from campaign_scheduler.auth.tokens import default_store
    from campaign_scheduler.errors import CampaignSchedulerError
    from campaign_scheduler.timeutil import utcnow

    settings = state_of(ctx).settings()
    settings.raise_for_problems()
    now = utcnow()
    lang = _lang()
    store = None
    rows: list[dict[str, Any]] = []
    for account in sorted(settings.accounts.values(), key=lambda a: a.name):
        flags: list[str] = []
        expires_at = None
        name = stored_name(account)
        if name is not None:
            try:
                store = store or default_store()
                record = store.get(name)
            except CampaignSchedulerError as exc:
                record = None
                flags.append(msg("token store: {error}", error=exc.message))
            if record is None:
                flags.append(msg("not connected"))
            else:
                expires_at = record.expires_at
                if record.refresh_token:
                    flags.append(msg("refreshable"))
                if expires_at is not None and expires_at <= now:
                    flags.append(msg("expired"))
        missing = [
            key
            for key, ref in account.secrets.items()
            if ref.kind != "keyring" and not ref.is_available()
        ]
        if missing:
            flags.append(msg("secret missing: {keys}", keys=", ".join(sorted(missing))))
        rows.append(
            {
                "account": account.name,
                "channel": account.channel,
                "sender": account.sender,
                "secrets": sources(account),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "flags": flags,
            }
        )
    if as_json:
        write_json(rows)
        return
    for row in rows:
        where = ", ".join(
            tr("{key} from {source}", key=k, source=v) for k, v in row["secrets"].items()
        ) or tr("no secrets")
        line = f"{row['account']:<20} {row['channel']:<10} {row['sender']:<28} {where}"
        if row["expires_at"] is not None:
            from datetime import datetime

            line += " · " + expiry_text(datetime.fromisoformat(row["expires_at"]), now, lang)
        if row["flags"]:
            line += " [" + "; ".join(tr(flag) for flag in row["flags"]) + "]"
        write_line(line)


@accounts_app.command("connect")
def connect(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="the account's name in config.toml")],
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="print the address instead of opening a browser"),
    ] = False,
) -> None:
    """Obtain a token for ACCOUNT through its network's guided flow and store it."""
    from campaign_scheduler.auth.accounts import connect_account, context_for, token_key
    from campaign_scheduler.auth.tokens import default_store
    from campaign_scheduler.timeutil import utcnow

    settings = state_of(ctx).settings()
    acct = _account(settings, account)
    store = default_store()
    flow_ctx = context_for(acct, session_factory(), **interaction(no_browser))
    name, record = connect_account(acct, flow_ctx, store)
    lang = _lang()
    write_line(
        tr(
            "Stored the token of {account} as {name} in the {store}.",
            account=acct.name,
            name=name,
            store=tr(store.describe()),
        )
    )
    if record.expires_at is not None:
        write_line(tr("Token: {expiry}", expiry=_expiry(record.expires_at, utcnow(), lang)))
    key = token_key(acct)
    lines = [f'{key} = "keyring:{name}"']
    for setting, value in sorted(record.extra.items()):
        if (setting in acct.settings and str(acct.settings[setting]) != value) or (
            setting not in acct.settings and setting in _spec_keys(acct)
        ):
            lines.append(f'{setting} = "{value}"')
    current = acct.secrets.get(key)
    if current is not None and str(current) == f"keyring:{name}" and len(lines) == 1:
        write_line(
            tr('config.toml already refers to it ({key} = "keyring:{name}").', key=key, name=name)
        )
        return
    write_line(tr("Put this into [accounts.{account}] of config.toml:", account=acct.name))
    for line in lines:
        write_line(f"  {line}")


def _spec_keys(account: Account) -> tuple[str, ...]:
    from campaign_scheduler.channels.catalog import spec_of

    spec = spec_of(account.channel)
    return (*spec.settings, *spec.optional) if spec is not None else ()


def _expiry(expires_at: Any, now: Any, lang: str) -> str:
    from campaign_scheduler.auth.accounts import expiry_text

    return expiry_text(expires_at, now, lang)


@accounts_app.command("refresh")
def refresh(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(help="only this account")] = None,
) -> None:
    """Renew stored tokens now (every account whose token is in the token store)."""
    from campaign_scheduler.auth.accounts import context_for, refresh_account, stored_name
    from campaign_scheduler.auth.tokens import default_store
    from campaign_scheduler.errors import CampaignSchedulerError
    from campaign_scheduler.timeutil import utcnow

    settings = state_of(ctx).settings()
    if account is not None:
        accounts = [_account(settings, account)]
    else:
        accounts = sorted(
            (a for a in settings.accounts.values() if stored_name(a) is not None),
            key=lambda a: a.name,
        )
        if not accounts:
            write_line(
                tr('No account refers to the token store ("keyring:NAME"); nothing to refresh.')
            )
            return
    store = default_store()
    now = utcnow()
    lang = _lang()
    failed = False
    for acct in accounts:
        flow_ctx = context_for(acct, session_factory(), **interaction(True))
        try:
            outcome = refresh_account(acct, flow_ctx, store)
        except CampaignSchedulerError as exc:
            failed = True
            write_line(tr("FAIL {account}: {error}", account=acct.name, error=tr(exc.message)))
            continue
        if outcome.result == "refreshed":
            when = _expiry(outcome.expires_at, now, lang)
            write_line(tr("ok   {account}: refreshed; {when}", account=acct.name, when=when))
        elif outcome.result == "not refreshable":
            when = _expiry(outcome.expires_at, now, lang)
            write_line(
                tr(
                    "-    {account}: cannot be renewed without you ({when}); "
                    "run `campaign accounts connect {account}` before it expires",
                    account=acct.name,
                    when=when,
                )
            )
        elif outcome.result == "missing":
            failed = True
            write_line(
                tr(
                    "FAIL {account}: no token {name} in the {store}; "
                    "run `campaign accounts connect {account}`",
                    account=acct.name,
                    name=outcome.name,
                    store=tr(store.describe()),
                )
            )
        else:
            write_line(
                tr(
                    "-    {account}: its token comes from env:/file:, not the token store",
                    account=acct.name,
                )
            )
    if failed:
        raise typer.Exit(1)
