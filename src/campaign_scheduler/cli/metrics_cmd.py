"""``campaign metrics``: fetch reach and engagement snapshots of published posts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from campaign_scheduler.cli.common import JsonOption, opened, utcnow
from campaign_scheduler.cli.output import err_line, write_json
from campaign_scheduler.uilang import tr, ui_language


def metrics(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="a snapshot of every published post, due or not")
    ] = False,
    hashtag: Annotated[
        bool, typer.Option("--hashtag/--no-hashtag", help="also collect others' hashtag use")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Fetch figures for published posts (on a cadence: at once, after 1 h, 1 d, 7 d, at the end)."""
    from campaign_scheduler.cli.run_cmd import log_warnings_for_people
    from campaign_scheduler.metrics.collector import SweepReport, collect, collect_hashtag_use
    from campaign_scheduler.publishing.accounts import ConfiguredChannels

    log_warnings_for_people()

    with opened(ctx) as c:
        channels = ConfiguredChannels(c.settings, timeout=15)
        now = utcnow()
        if as_json or not sys.stderr.isatty():
            report = collect(c.store, channels, now, everything=everything, clock=utcnow)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(tr("fetching figures"), total=None)

                def step(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = collect(
                    c.store, channels, now, everything=everything, progress=step, clock=utcnow
                )
        if hashtag:
            report = collect_hashtag_use(
                c.store, channels, utcnow(), accounts=c.settings.accounts, report=report
            )
    assert isinstance(report, SweepReport)
    if as_json:
        write_json(
            {
                "snapshots": report.snapshots,
                "hashtag_posts": report.hashtag_posts,
                "failures": report.failures,
                "skipped": report.skipped,
            }
        )
    else:
        err_line(tr("metrics: {summary}", summary=report.summary(ui_language())))
    if report.failures:
        raise typer.Exit(1)
