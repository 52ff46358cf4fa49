"""``campaign check``: validate campaign, drafts and configuration."""

from __future__ import annotations

from pathlib import Path

import typer

from campaign_scheduler.cli.common import JsonOption
from campaign_scheduler.cli.output import err_line, print_problems, write_json
from campaign_scheduler.cli.progress import draft_progress
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.errors import ConfigError, MissingConfigError
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.uilang import tr, trn


def check(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """Check the campaign, its drafts and the config; list every problem as path:line: message."""
    from campaign_scheduler.rules import check as run_check

    problems: list[Problem]
    drafts = 0
    try:
        settings = state_of(ctx).settings()
    except MissingConfigError as exc:
        if not as_json:
            raise  # the message and how to start, not a list of problems
        problems = [Problem(Path("config.toml"), None, f"{exc.message}; {exc.hint}")]
    except ConfigError as exc:
        problems = list(exc.problems) or [Problem(Path("config"), None, exc.message)]
    else:
        from campaign_scheduler.cli import state
        from campaign_scheduler.drafts import collector_paused

        with collector_paused(freeze=state.ends_with_command):
            with draft_progress(as_json) as steps:
                result = run_check(settings, progress=steps.drafts)
            problems = result.problems
            drafts = result.draft_count
            if result.campaign is not None:
                from datetime import UTC, datetime

                from campaign_scheduler.linkcards import refresh_card_links

                now = datetime.now(UTC)
                _, card_problems = refresh_card_links(result.card_links(), result.campaign, now=now)
                problems = sorted(
                    [*problems, *card_problems], key=lambda p: (str(p.path), p.line or 0)
                )
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    warnings = len(problems) - errors
    if as_json:
        write_json([p.as_json(Path.cwd()) for p in problems])
    else:
        print_problems(problems)
        err_line(
            tr(
                "{errors}, {warnings} in {drafts}",
                errors=trn("{n} error", "{n} errors", errors),
                warnings=trn("{n} warning", "{n} warnings", warnings),
                drafts=trn("{n} draft", "{n} drafts", drafts),
            )
        )
    if errors:
        raise typer.Exit(1)
