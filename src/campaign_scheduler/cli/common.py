"""Helpers shared by commands: the campaign and store of the current config, times, output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.state import state_of
from campaign_scheduler.errors import UsageError
from campaign_scheduler.timeutil import utcnow as utcnow  # noqa: PLC0414 (re-exported; defined once there)
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.config import Settings
    from campaign_scheduler.store.engine import Store


#: ``--json``: the command prints its result as JSON instead of text.
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
#: ``--as``: whom the record names as making the change.
ActorOption = Annotated[
    str | None, typer.Option("--as", help="who does this (default: your OS user)")
]


@dataclass
class Context:
    settings: Settings
    campaign: Campaign
    store: Store


@contextmanager
def opened(ctx: typer.Context) -> Iterator[Context]:
    """Settings, the campaign file and the database of the current configuration."""
    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.store.engine import open_store

    settings = state_of(ctx).settings()
    settings.raise_for_problems()
    campaign = require_campaign(settings.campaign_path)
    store = open_store(settings.database_url)
    try:
        yield Context(settings, campaign, store)
    finally:
        store.dispose()


def parse_option_time(text: str, option: str, campaign: Campaign) -> datetime:
    """A "when" from the command line; a bad one is a usage error naming the option.

    Takes the German forms people type (``18.11. 10:00``, ``morgen 9:30``, ``in 2 Stunden``;
    see :func:`~campaign_scheduler.timeutil.parse_typed_when`) besides the contract's forms.
    """
    from campaign_scheduler.timeutil import WhenError, parse_typed_when

    try:
        return parse_typed_when(
            text,
            zone=campaign.zone,
            event_start=campaign.event.start,
            now=utcnow(),
            period=(campaign.period_start, campaign.period_end),
        )
    except WhenError as exc:
        raise UsageError(msg("{option}: {error}", option=option, error=str(exc))) from None


def moment(instant: datetime, campaign: Campaign, lang: str | None = None) -> str:
    """A moment as the user reads it, in the campaign's zone: ``Mi., 10. Nov. 2021, 12:00 Uhr``
    / ``Wed 10 Nov 2021, 12:00`` (``--json`` keeps ISO 8601); in the language of the message
    it goes into (default: the user's)."""
    from campaign_scheduler.localformat import format_moment
    from campaign_scheduler.uilang import ui_language

    return format_moment(instant, campaign.zone, lang or ui_language())


def time_warnings(when: datetime, option: str, campaign: Campaign, now: datetime) -> list[str]:
    """What a person should know about a time they gave: in the past, outside the campaign."""
    from campaign_scheduler.uilang import N_, tr, ui_language

    lang = ui_language(campaign.language)
    shown = moment(when, campaign, lang)
    texts = {
        "now": N_("{option}: {when} is in the past (now: {now})"),
        "start": N_("{option}: {when} is before the campaign starts ({start})"),
        "end": N_("{option}: {when} is after the campaign ends ({end})"),
    }
    past = [("now", now)] if when < now else []
    warnings = [
        tr(texts[bound], lang, option=option, when=shown, **{bound: moment(at, campaign, lang)})
        for bound, at in [*past, *campaign.outside_period(when)]
    ]
    return [tr("warning: {text}", lang, text=text) for text in warnings]


def iso_local(value: datetime | None, campaign: Campaign) -> str | None:
    return value.astimezone(campaign.zone).isoformat() if value is not None else None


def command_group(help: str) -> typer.Typer:
    """A group of subcommands (``campaign accounts …``, ``campaign channels …``): plain help
    text, the help when called without a subcommand."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, add_completion=False)
