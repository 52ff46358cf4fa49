"""``campaign demo`` and ``campaign sandbox``: rehearse without reaching anyone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from campaign_scheduler.cli.output import err_line, write_line
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.uilang import tr


def demo(
    ctx: typer.Context,
    span: Annotated[
        float, typer.Option("--span", min=5, help="seconds the compressed countdown lasts")
    ] = 60,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="rehearse in this folder (default: a temporary one)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="the HTML report (default: demo-report-<slug>.html)"),
    ] = None,
    json_report: Annotated[
        Path | None, typer.Option("--json-report", help="also write the report as JSON")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of the simulated engagement")] = 5,
) -> None:
    """Rehearse the campaign end to end on loopback sandboxes in about a minute, then report."""
    from datetime import timedelta

    from campaign_scheduler.rehearsal.demo import run_demo

    config = state_of(ctx).config_option
    with tempfile.TemporaryDirectory(prefix="campaign-demo-") as folder:
        root = workdir or Path(folder)
        settings = state_of(ctx).settings()
        slug = settings.campaign_path.stem
        html = output or Path.cwd() / f"demo-report-{slug}.html"
        result = run_demo(
            config,
            workdir=root,
            span=timedelta(seconds=span),
            seed=seed,
            html_report=html,
            json_report=json_report,
        )
    published = result.counts.get("published", 0)
    total = sum(result.counts.values())
    seconds = round(result.seconds)
    err_line(
        tr(
            "demo: {published} of {total} deliveries published in {seconds} s",
            published=published,
            total=total,
            seconds=seconds,
        )
    )


def sandbox(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option("--seed", help="seed of the simulated engagement")] = 5,
) -> None:
    """Serve every network's API on loopback with seeded accounts until Ctrl-C; print a config snippet."""
    import sys

    from campaign_scheduler.rehearsal.serve import serve_sandboxes

    def out(line: str) -> None:
        write_line(line)
        sys.stdout.flush()

    serve_sandboxes(state_of(ctx).settings(required=False), seed=seed, out=out)
