"""Helpers shared by commands: the campaign and store of the current config, times, output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from campaign_scheduler.cli.state import state_of
from campaign_scheduler.errors import UsageError
from campaign_scheduler.timeutil import utcnow as utcnow  # noqa: PLC0414 (re-exported; defined once there)

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.config import Settings
    from campaign_scheduler.store.engine import Store


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
    """A "when" from the command line; a bad one is a usage error naming the option."""
    from campaign_scheduler.timeutil import WhenError, parse_when

    try:
        return parse_when(
            text,
            zone=campaign.zone,
            event_start=campaign.event.start,
            allow_natural=True,
            now=utcnow(),
        )
    except WhenError as exc:
        raise UsageError(f"{option}: {exc}") from None


def iso_local(value: datetime | None, campaign: Campaign) -> str | None:
    return value.astimezone(campaign.zone).isoformat() if value is not None else None
