"""The ``campaign`` command line: a thin Typer app.

This is the one place where :class:`CampaignSchedulerError` becomes a message on stderr and an
exit code. Subcommands are registered by name and loaded only when they run (or when their own
help is asked for), so ``campaign --help`` imports none of them; the command modules in turn
import their heavy dependencies (SQLAlchemy, requests, APScheduler, the reports) inside the
command functions. ``benchmarks/bench_cli.py`` measures the start-up of both.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, MutableMapping
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperGroup

from campaign_scheduler import __version__, uilang
from campaign_scheduler.cli.values import plain_values
from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.uilang import N_, tr

DEBUG_ENV = "CAMPAIGN_DEBUG"


class LazyCommand(NamedTuple):
    """Where a subcommand lives, and the line ``campaign --help`` shows for it (the first
    paragraph of its docstring; a test checks that the two agree)."""

    module: str
    attribute: str
    summary: str


#: Every subcommand, in the order ``campaign --help`` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "init_cmd",
        "init",
        "Start a campaign: write config.toml and a campaign file, new or copied from another.",
    ),
    "check": LazyCommand(
        "check_cmd",
        "check",
        "Check the campaign, its drafts and the config; list every problem as path:line: message.",
    ),
    "load": LazyCommand(
        "load_cmd",
        "load",
        "Sync drafts into the database: + new, ~ changed, − removed, = unchanged.",
    ),
    "plan": LazyCommand(
        "plan_cmd",
        "plan",
        "Show the schedule grouped by day, with countdown labels, sender, channel and state.",
    ),
    "queue": LazyCommand(
        "posts_cmd", "queue", "Queue an ad-hoc post for one sender on one or more channels."
    ),
    "approve": LazyCommand(
        "posts_cmd",
        "approve",
        "Approve a post as your OS user: never by anyone who wrote or changed it\n"
        "(rules.approvers lists who may).",
    ),
    "cancel": LazyCommand(
        "posts_cmd", "cancel", "Cancel a post's deliveries that have not gone out."
    ),
    "reschedule": LazyCommand(
        "posts_cmd", "reschedule", "Move a post that has not gone out to another time."
    ),
    "resolve": LazyCommand(
        "posts_cmd",
        "resolve",
        "Settle a delivery whose outcome is unknown, after checking the account.",
    ),
    "run": LazyCommand(
        "run_cmd",
        "run",
        "Publish on schedule until stopped (SIGTERM/SIGINT finish the call in flight).",
    ),
    "status": LazyCommand(
        "status_cmd",
        "status",
        "Deliveries by state, overdue work, the daemon's heartbeat, accounts needing attention.",
    ),
    "history": LazyCommand(
        "status_cmd",
        "history",
        "What was posted where and when: remote id, URL, attempts, errors.",
    ),
    "metrics": LazyCommand(
        "metrics_cmd",
        "metrics",
        "Fetch figures for published posts (on a cadence: at once, after 1 h, 1 d, 7 d, at the "
        "end).",
    ),
    "report": LazyCommand(
        "report_cmd",
        "report",
        "Planned vs published, punctuality, engagement per channel, top posts, the countdown\n"
        'timeline and earned hashtag use; unknown figures are shown as "—", never as 0.',
    ),
    "preview": LazyCommand(
        "preview_cmd",
        "preview",
        'Show a draft as each of its networks will: text counted and cut ("… mehr"), thread\n'
        "parts, image crops with alt text, link card. Reads the drafts, not the database.",
    ),
    "sandbox": LazyCommand(
        "rehearsal_cmd",
        "sandbox",
        "Serve every network's API on loopback with seeded accounts until Ctrl-C; print a "
        "config snippet.",
    ),
    "demo": LazyCommand(
        "rehearsal_cmd",
        "demo",
        "Rehearse the campaign end to end on loopback sandboxes in about a minute, then report.",
    ),
    "channels": LazyCommand(
        "channels_cmd", "channels_app", "Installed channels and account checks."
    ),
    "accounts": LazyCommand(
        "accounts_cmd",
        "accounts_app",
        "Connect accounts to their networks and keep their tokens alive.",
    ),
}


#: Typer's own words (``typer.core`` looks them up with the standard library's gettext, which
#: has no German): routed through our catalog by :func:`_typer_words`.
TYPER_WORDS = (
    N_("Usage: "),
    N_("Show this message and exit."),
    N_("Options"),
    N_("Arguments"),
    N_("Commands"),
    N_("required"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("Aborted!"),
    N_("Missing command."),
    N_("No such command {name!r}."),
)


def _typer_gettext(message: str) -> str:
    return tr(message)


def _typer_words() -> None:
    """Typer's headings and option notes in the user's language: ``typer.core`` looks them up
    through its module-level ``_``, the usage line through the context's formatter class."""
    import typer.core
    from typer._click.core import Context
    from typer._click.exceptions import UsageError
    from typer._click.formatting import HelpFormatter

    class Formatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, tr("Usage: ") if prefix is None else prefix)

    typer.core._ = _typer_gettext  # type: ignore[attr-defined,unused-ignore]
    if Context.formatter_class is HelpFormatter:
        Context.formatter_class = Formatter
    UsageError.show = _show_usage_error  # type: ignore[assignment,method-assign]


def _show_usage_error(exc: Any, file: Any = None) -> None:
    """A usage error (unknown option, bad value) in the user's language: :mod:`.usage`."""
    from campaign_scheduler.cli.usage import show

    show(exc, file)


def translate_text(text: str | None) -> str | None:
    """A help text in the user's language, paragraph by paragraph (the units that
    :func:`campaign_scheduler.catalogs.paragraphs` extracts)."""
    if not text:
        return text
    import inspect

    return "\n\n".join(tr(part) for part in inspect.cleandoc(text).split("\n\n"))


def translate_help(command: Any, *, recurse: bool = True) -> None:
    """Look up ``command``'s help, its options' help and its subcommands' (in place)."""
    command.help = translate_text(command.help)
    if command.options_metavar == "[OPTIONS]":
        command.options_metavar = tr("[OPTIONS]")
    if getattr(command, "subcommand_metavar", None) == "COMMAND [ARGS]...":
        command.subcommand_metavar = tr("COMMAND [ARGS]...")
    if command.short_help:
        command.short_help = translate_text(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = translate_text(param.help)
    if getattr(command, "_help_option", None) is None and getattr(
        command, "add_help_option", False
    ):
        from typer._click.decorators import help_option

        # Click builds the --help option on first use; build it now so that its help is ours.
        help_option(["--help"])(command)
        command._help_option = command.params.pop()
        command._help_option.help = tr(command._help_option.help)
    if recurse:
        for sub in getattr(command, "commands", {}).values():
            translate_help(sub)


def load_command(name: str) -> typer.core.TyperCommand | TyperGroup:
    """Import one subcommand's module and build its click command (a group for ``channels``)."""
    entry = COMMANDS[name]
    found = getattr(import_module(f"campaign_scheduler.cli.{entry.module}"), entry.attribute)
    if isinstance(found, typer.Typer):
        target = found
    else:
        target = typer.Typer(
            add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
        )
        target.command(name)(found)
    command = typer.main.get_command(target)
    command.name = name
    assert isinstance(command, typer.core.TyperCommand | TyperGroup)
    translate_help(command)
    plain_values(command)
    return command


class _Commands(MutableMapping[str, Any]):
    """The root group's subcommands: every name is known at once, a command is built on first
    access. Click's lookup, listing and typo suggestions all go through this mapping."""

    def __init__(self, eager: MutableMapping[str, Any]) -> None:
        self.loaded: dict[str, Any] = dict(eager)

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self.loaded[name] = load_command(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self.loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self.loaded if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self.loaded


class _RootGroup(TyperGroup):
    """Loads subcommands lazily and turns campaign-scheduler errors into a message and an exit
    code, without traceback."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from typer._click.utils import make_default_short_help

        commands = self.commands
        assert isinstance(commands, _Commands)
        names = list(commands)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in commands.loaded:
                command = commands.loaded[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                summary = translate_text(COMMANDS[name].summary) or ""
                rows.append((name, make_default_short_help(summary, limit)))
        with formatter.section(tr("Commands")):
            formatter.write_dl(rows)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        lang, config = _early_options(args)
        uilang.set_language(lang, uilang.peek_config_language(config) if lang is None else None)
        _typer_words()
        translate_help(self, recurse=False)
        plain_values(self, recurse=False)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CampaignSchedulerError as exc:
            import os

            if os.environ.get(DEBUG_ENV):
                raise
            from campaign_scheduler.cli.output import report_error

            report_error(exc)
            raise typer.Exit(exc.exit_code) from None


def _early_options(args: list[str]) -> tuple[str | None, Path | None]:
    """``--lang`` and ``--config`` among the root's options (before the subcommand's name)."""
    lang: str | None = None
    config: Path | None = None
    index = 0
    while index < len(args):
        arg = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        if arg == "--lang":
            lang, index = value, index + 2
        elif arg.startswith("--lang="):
            lang, index = arg.split("=", 1)[1], index + 1
        elif arg in ("--config", "-c"):
            config, index = (Path(value) if value else None), index + 2
        elif arg.startswith("--config="):
            config, index = Path(arg.split("=", 1)[1]), index + 1
        elif arg.startswith("-"):
            index += 1
        else:
            break
    return (lang if lang in uilang.LANGUAGES else None), config


app = typer.Typer(
    name="campaign",
    cls=_RootGroup,
    help="Run a social-media campaign from the terminal: check, load, plan and publish posts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


class Language(enum.StrEnum):
    de = "de"
    en = "en"


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
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help="language of messages and help: de or en (default: $CAMPAIGN_LANG, else "
            "[ui] language in the config, else the locale)",
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Run a social-media campaign from the terminal: check, load, plan and publish posts."""
    from campaign_scheduler.cli.state import AppState

    ctx.obj = AppState(config_option=config, command=ctx.invoked_subcommand)


def main() -> None:
    from campaign_scheduler.cli import state

    state.ends_with_command = True
    app()
