"""``campaign plan``: what goes out when, per sender and channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import JsonOption
from campaign_scheduler.cli.output import (
    err_line,
    one_line,
    plain,
    write_atomically,
    write_json,
)
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.errors import NotFoundError
from campaign_scheduler.uilang import state_word, tr, trn, ui_language

if TYPE_CHECKING:
    from collections.abc import Callable
    from zoneinfo import ZoneInfo

    from rich.text import Text

    from campaign_scheduler.calendar_rules import SpecialDay
    from campaign_scheduler.store.queries import PlanRow


def plan(
    ctx: typer.Context,
    as_json: JsonOption = False,
    ics: Annotated[
        Path | None,
        typer.Option("--ics", help="also write the plan as an iCalendar file", dir_okay=False),
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--sender", help="only this sender's deliveries")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="only deliveries on this channel")
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="include cancelled deliveries")] = False,
) -> None:
    """Show the schedule grouped by day, with countdown labels, sender, channel and state."""
    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.queries import find_campaign, plan_rows

    settings = state_of(ctx).settings()
    campaign = require_campaign(settings.campaign_path)
    store = open_store(settings.database_url)
    try:
        if find_campaign(store, campaign.slug) is None:
            raise NotFoundError(
                tr("campaign '{slug}' is not in the database yet", slug=campaign.slug),
                hint=tr("run 'campaign load' first"),
            )
        rows = plan_rows(store, campaign.slug, include_cancelled=show_all)
    finally:
        store.dispose()
    if sender:
        rows = [r for r in rows if r.sender == sender]
    if channel:
        rows = [r for r in rows if r.channel == channel]

    zone = campaign.zone
    from campaign_scheduler.calendar_rules import calendar_of

    calendar = calendar_of(campaign)

    def special_day(due_at: datetime) -> SpecialDay | None:
        return calendar.at(due_at, zone) if calendar is not None else None

    if ics is not None:
        from campaign_scheduler.calendar_export import plan_calendar

        data = plan_calendar(
            rows,
            campaign_slug=campaign.slug,
            campaign_name=campaign.name,
            timezone=campaign.timezone,
            generated_at=datetime.now(UTC),
            event_name=campaign.event.name,
            event_start=campaign.event.start,
            event_end=campaign.event.end,
            event_url=campaign.event.url,
        )
        write_atomically(ics, data, option="--ics")
        err_line(
            trn(
                "wrote {path} ({n} post)",
                "wrote {path} ({n} posts)",
                len({r.post for r in rows}),
                path=ics,
            )
        )

    if as_json:
        write_json(
            [_row_json(row, zone, campaign.event.start, special_day(row.due_at)) for row in rows]
        )
    elif ics is None or rows:
        _print_table(rows, zone, campaign.event.start, campaign.name, special_day)


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def _row_json(
    row: PlanRow, zone: ZoneInfo, event_start: datetime, special: SpecialDay | None
) -> dict[str, object]:
    from campaign_scheduler.timeutil import countdown_label

    return {
        "post": row.post,
        "sender": row.sender,
        "account": row.account,
        "channel": row.channel,
        "state": row.state,
        "due_at": _iso(row.due_at, zone),
        "not_after": _iso(row.not_after, zone),
        "countdown": countdown_label(row.due_at, event_start, zone),
        "needs_approval": row.needs_approval,
        "state_reason": row.state_reason,
        "text": row.text,
        # The region's quiet day or public holiday the delivery falls on ([campaign] region).
        "special_day": special.as_json() if special is not None else None,
    }


STATE_STYLES = {
    "pending": "cyan",
    "publishing": "yellow",
    "retry_wait": "yellow",
    "published": "green",
    "failed": "bold red",
    "expired": "red",
    "cancelled": "dim",
    "unknown": "bold magenta",
}


def _channels_cell(rows: list[PlanRow]) -> Text:
    """``mastodon, bluesky: pending`` when all share a state, else each with its own."""
    from rich.text import Text

    states = {r.state for r in rows}
    approval = " " + tr("(needs approval)") if any(r.needs_approval for r in rows) else ""
    cell = Text()
    if len(states) == 1:
        state = rows[0].state
        cell.append(one_line(", ".join(r.channel for r in rows)) + ": ")
        cell.append(one_line(state_word(state) + approval), style=STATE_STYLES.get(state, ""))
        return cell
    for index, r in enumerate(rows):
        if index:
            cell.append(", ")
        cell.append(one_line(r.channel) + ": ")
        cell.append(one_line(state_word(r.state)), style=STATE_STYLES.get(r.state, ""))
    cell.append(approval)
    return cell


def _print_table(
    rows: list[PlanRow],
    zone: ZoneInfo,
    event_start: datetime,
    title: str,
    special_day: Callable[[datetime], SpecialDay | None],
) -> None:
    from rich.console import Console
    from rich.table import Table

    from campaign_scheduler.calendar_rules import DayKind
    from campaign_scheduler.localformat import format_day
    from campaign_scheduler.timeutil import countdown_label

    console = Console()
    if not rows:
        console.print(tr("Nothing planned."))
        return
    lang = ui_language()
    table = Table(title=plain(title), title_justify="left", pad_edge=False)
    table.add_column(tr("Time", lang), no_wrap=True)
    table.add_column(tr("Sender", lang), no_wrap=True)
    table.add_column(tr("Post", lang))
    table.add_column(tr("Channels and state", lang))
    by_post: dict[tuple[datetime, str], list[PlanRow]] = {}
    for row in rows:
        by_post.setdefault((row.due_at, row.post), []).append(row)
    current_day = None
    this_year = datetime.now(UTC).astimezone(zone).year
    for (due_at, key), post_rows in by_post.items():
        local = due_at.astimezone(zone)
        if local.date() != current_day:
            current_day = local.date()
            label = countdown_label(due_at, event_start, zone)
            special = special_day(due_at)
            note: Text | str = ""
            if special is not None:
                style = "bold red" if special.kind is DayKind.QUIET else "bold yellow"
                note = plain(special.label(lang), style)
            table.add_section()
            # The year whenever it is not the current one: "Do., 4. Nov. 2021".
            day = format_day(local.date(), lang, with_year=local.year != this_year)
            table.add_row(plain(day, "bold"), plain(label, "bold"), note, "")
        table.add_row(
            f"{local:%H:%M}",
            plain(post_rows[0].sender),
            plain(key.split("/", 1)[-1]),
            _channels_cell(post_rows),
        )
    console.print(table)
    posts = len({r.post for r in rows})
    err_line(
        tr(
            "{deliveries} of {posts}; times in {zone}",
            lang,
            deliveries=trn("{n} delivery", "{n} deliveries", len(rows), lang),
            posts=trn("{n} post", "{n} posts", posts, lang),
            zone=zone.key,
        )
    )
