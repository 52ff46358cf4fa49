"""What the root command hands to every subcommand: the options and lazily loaded settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from campaign_scheduler.config import Settings


@dataclass
class AppState:
    config_option: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from campaign_scheduler.config import load_settings

            self._settings = load_settings(self.config_option)
        return self._settings


def state_of(ctx: typer.Context) -> AppState:
    state = ctx.find_root().obj
    return state if isinstance(state, AppState) else AppState()


def current_user(explicit: str | None = None) -> str:
    """Who is acting: ``--as NAME``, else the operating-system user. ``--as ""`` is refused:
    an empty name would make the record say nobody did it."""
    from campaign_scheduler import identity

    if explicit is not None:
        name = explicit.strip()
        if not name:
            from campaign_scheduler.errors import UsageError

            raise UsageError("--as: give a name (it may not be empty), or leave --as out")
        return name
    return identity.os_user()
