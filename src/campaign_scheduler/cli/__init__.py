"""The ``campaign`` command line: a thin Typer app.

This is the one place where :class:`CampaignSchedulerError` becomes a message on stderr and an
exit code. Command modules import their heavy dependencies (SQLAlchemy, requests, APScheduler)
inside the command functions so that ``campaign --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from campaign_scheduler import __version__
from campaign_scheduler.cli import (
    check_cmd,
    init_cmd,
    load_cmd,
    metrics_cmd,
    plan_cmd,
    posts_cmd,
    preview_cmd,
    rehearsal_cmd,
    report_cmd,
    run_cmd,
    status_cmd,
)
from campaign_scheduler.cli.accounts_cmd import accounts_app
from campaign_scheduler.cli.channels_cmd import channels_app
from campaign_scheduler.cli.output import report_error
from campaign_scheduler.cli.state import AppState
from campaign_scheduler.errors import CampaignSchedulerError

DEBUG_ENV = "CAMPAIGN_DEBUG"


class _TranslatingGroup(TyperGroup):
    """Turns campaign-scheduler errors into a message and an exit code, without traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CampaignSchedulerError as exc:
            import os

            if os.environ.get(DEBUG_ENV):
                raise
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="campaign",
    cls=_TranslatingGroup,
    help="Run a social-media campaign from the terminal: check, load, plan and publish posts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"campaign-scheduler {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="config file (default: $CAMPAIGN_CONFIG, else ./config.toml)",
            dir_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="show the version"),
    ] = False,
) -> None:
    """Run a social-media campaign from the terminal: check, load, plan and publish posts."""
    ctx.obj = AppState(config_option=config, command=ctx.invoked_subcommand)


app.command("init")(init_cmd.init)
app.command("check")(check_cmd.check)
app.command("load")(load_cmd.load)
app.command("plan")(plan_cmd.plan)
app.command("queue")(posts_cmd.queue)
app.command("approve")(posts_cmd.approve)
app.command("cancel")(posts_cmd.cancel)
app.command("reschedule")(posts_cmd.reschedule)
app.command("resolve")(posts_cmd.resolve)
app.command("run")(run_cmd.run)
app.command("status")(status_cmd.status)
app.command("history")(status_cmd.history)
app.command("metrics")(metrics_cmd.metrics)
app.command("report")(report_cmd.report)
app.command("preview")(preview_cmd.preview)
app.add_typer(channels_app, name="channels")
app.add_typer(accounts_app, name="accounts")
app.command("sandbox")(rehearsal_cmd.sandbox)
app.command("demo")(rehearsal_cmd.demo)


def main() -> None:
    app()
