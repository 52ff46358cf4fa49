"""``campaign channels``: installed networks, and a check of every account's credentials."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_scheduler.cli.output import write_json, write_line
from campaign_scheduler.cli.state import state_of

channels_app = typer.Typer(help="Installed channels and account checks.", no_args_is_help=True)


@channels_app.command("list")
def list_channels(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
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
    for row in rows:
        limit = f"{row['limit']} {row['unit']}" if row["limit"] else "no text limit"
        write_line(f"{row['channel']:<10} {limit:<40} {row['implementation']}")


@channels_app.command("verify")
def verify(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="only this account")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Check every account's credentials against its network; clears 'needs attention' on success."""
    from campaign_scheduler.errors import CampaignSchedulerError, NotFoundError
    from campaign_scheduler.publishing.accounts import ConfiguredChannels
    from campaign_scheduler.store.accounts import clear_attention
    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.timeutil import utcnow

    settings = state_of(ctx).settings()
    settings.raise_for_problems()
    names = sorted(settings.accounts)
    if account is not None:
        if account not in settings.accounts:
            raise NotFoundError(f"no account '{account}' in the config")
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
    if verified:
        store = open_store(settings.database_url)
        try:
            clear_attention(store, verified, now=utcnow())
        finally:
            store.dispose()
    if as_json:
        write_json(results)
    else:
        for r in results:
            write_line(f"{'ok  ' if r['ok'] else 'FAIL'} {r['account']}: {r['detail']}")
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)
