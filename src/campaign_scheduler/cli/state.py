"""What the root command hands to every subcommand: the options and lazily loaded settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from campaign_scheduler.errors import MissingConfigError

if TYPE_CHECKING:
    from campaign_scheduler.config import Settings


#: Whether this process ends when its command does (the ``campaign`` program, not the CLI
#: invoked within a longer-lived Python process such as the tests): set by ``cli.main``.
#: Such a process need not collect its command's garbage (``drafts.collector_paused``).
ends_with_command = False


@dataclass
class AppState:
    config_option: Path | None = None
    command: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, *, required: bool = True) -> Settings:
        """The configuration; without any (no --config, no $CAMPAIGN_CONFIG, no ./config.toml)
        a :class:`MissingConfigError` that says how to start, instead of running on defaults.
        Commands that work without one (``sandbox``) pass ``required=False`` and get defaults."""
        if self._settings is None:
            from campaign_scheduler.config import load_settings

            self._settings = load_settings(self.config_option)
        if required and self._settings.config_path is None:
            raise missing_config_error(self._settings.base_dir, self.command)
        return self._settings


def missing_config_error(folder: Path, command: str | None) -> MissingConfigError:
    from campaign_scheduler.uilang import tr

    return MissingConfigError(
        tr(
            "no configuration found: there is no config.toml in {folder} and CAMPAIGN_CONFIG "
            "is not set",
            folder=folder,
        ),
        hint=tr(
            "start a new campaign here with 'campaign init', or name an existing configuration "
            "with 'campaign --config PATH/config.toml {command}'",
            command=command or "check",
        ),
    )


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
            from campaign_scheduler.uilang import tr

            raise UsageError(tr("--as: give a name (it may not be empty), or leave --as out"))
        return name
    return identity.os_user()
