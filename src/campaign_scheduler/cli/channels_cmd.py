"""``campaign channels``: installed networks, and a check of every account's credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import JsonOption, command_group
from campaign_scheduler.cli.output import write_json, write_line
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.uilang import N_, msg, tr, ui_language

if TYPE_CHECKING:
    from campaign_scheduler.auth.accounts import TokenState
    from campaign_scheduler.config import Settings
    from campaign_scheduler.store.engine import Store


channels_app = command_group("Installed channels and account checks.")


@channels_app.command("list")
def list_channels(
    as_json: JsonOption = False,
) -> None:
    """Installed channels (built-in and plugins) with their limits."""
    from campaign_scheduler.channels.registry import (
        ChannelPluginError,
        available_channels,
        channel_class,
    )

    rows: list[dict[str, object]] = []
    for name, target in sorted(available_channels().items()):
        row: dict[str, object] = {"channel": name, "implementation": target}
        try:
            rule = channel_class(name).text_rule
        except ChannelPluginError:  # listed all the same: `channels list` is where one looks
            row.update(limit=None, unit=None)
        else:
            row.update(limit=rule.limit, unit=rule.unit)
        rows.append(row)
    if as_json:
        write_json(rows)
        return
    from campaign_scheduler.localformat import format_number

    lang = ui_language()
    for row in rows:
        limit = (
            f"{format_number(int(str(row['limit'])), lang)} {tr(str(row['unit']), lang)}"
            if row["limit"]
            else tr("no text limit", lang)
        )
        write_line(f"{row['channel']:<10} {limit:<40} {row['implementation']}")


@channels_app.command("verify")
def verify(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="only this account")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every account's credentials against its network; clears 'needs attention' on success."""
    from campaign_scheduler.auth.accounts import expiry_text
    from campaign_scheduler.errors import CampaignSchedulerError, NotFoundError
    from campaign_scheduler.publishing.accounts import ConfiguredChannels
    from campaign_scheduler.store.accounts import clear_attention
    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.wakeup import announce
    from campaign_scheduler.timeutil import utcnow

    settings = state_of(ctx).settings()
    settings.raise_for_problems()
    names = sorted(settings.accounts)
    if account is not None:
        if account not in settings.accounts:
            raise NotFoundError(msg("no account '{name}' in the config", name=account))
        names = [account]
    channels = ConfiguredChannels(settings, timeout=15)
    results = []
    for name in names:
        try:
            handle = channels.channel_for(name).verify()
        except CampaignSchedulerError as exc:
            results.append({"account": name, "ok": False, "detail": exc.message})
        except NotImplementedError as exc:
            results.append({"account": name, "ok": False, "detail": str(exc)})
        else:
            results.append({"account": name, "ok": True, "detail": handle})
    verified = [name for name, r in zip(names, results, strict=True) if r["ok"]]
    now = utcnow()
    tokens = {}
    store = open_store(settings.database_url)
    try:
        if verified:
            clear_attention(store, verified, now=now)
            announce(store)  # held work on these accounts may go out now
        tokens = _token_states(settings, store)
    finally:
        store.dispose()
    for r in results:
        token = tokens.get(str(r["account"]))
        r["expires_at"] = token.expires_at.isoformat() if token and token.expires_at else None
        r["token_warning"] = token.describe(now) if token and token.needs_person(now) else None
    if as_json:
        write_json(results)
    else:
        for r in results:
            said = N_("ok   {account}: {detail}") if r["ok"] else N_("FAIL {account}: {error}")
            detail = tr(str(r["detail"]))
            line = tr(said, account=r["account"], detail=detail, error=detail)
            token = tokens.get(str(r["account"]))
            if token is not None and token.expires_at is not None:
                line += " · " + expiry_text(token.expires_at, now, ui_language())
            write_line(line)
            if r["token_warning"]:
                write_line(
                    tr(
                        "WARN {warning} (connect it again: campaign accounts connect {account})",
                        warning=r["token_warning"],
                        account=r["account"],
                    )
                )
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def _token_states(settings: Settings, store: Store) -> dict[str, TokenState]:
    """Each account's stored token state, with its last scheduled post from the database."""
    from campaign_scheduler.alerts import last_scheduled
    from campaign_scheduler.auth.accounts import token_source

    with store.session() as session:
        last = last_scheduled(session)
    return {state.account: state for state in token_source(settings)(last)}
