"""``campaign report``: the campaign's reach for leadership and funders, in five formats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from campaign_scheduler.cli.output import err_line, write_atomically
from campaign_scheduler.reports import Format, GroupBy, Lang
from campaign_scheduler.uilang import tr


def report(
    ctx: typer.Context,
    by: Annotated[
        GroupBy,
        typer.Option("--by", help="group the breakdown by sender, channel, day or post"),
    ] = GroupBy.SENDER,
    fmt: Annotated[
        Format, typer.Option("--format", help="table, csv, json, md (Markdown) or html")
    ] = Format.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write to this file (atomically) instead of stdout; "
            "html without --output writes report-<slug>.html here",
            dir_okay=False,
        ),
    ] = None,
    lang: Annotated[
        Lang | None,
        typer.Option("--lang", help="de or en (default: the campaign's language)"),
    ] = None,
) -> None:
    """Planned vs published, punctuality, engagement per channel, top posts, the countdown
    timeline and earned hashtag use; unknown figures are shown as "—", never as 0."""
    from dataclasses import replace

    from campaign_scheduler.cli.common import opened
    from campaign_scheduler.errors import UsageError
    from campaign_scheduler.reports import render
    from campaign_scheduler.reports.branding import branding
    from campaign_scheduler.reports.build import build_report
    from campaign_scheduler.reports.i18n import language_of

    if output is not None and not output.parent.is_dir():
        raise UsageError(tr("--output: the folder {folder} does not exist", folder=output.parent))
    with opened(ctx) as c:
        result = build_report(c.store, c.campaign.slug, by=by)
        result = replace(result, branding=branding(c.campaign.report, c.campaign.path.parent))
        slug, language = c.campaign.slug, lang or language_of(c.campaign.language)
    if output is None and fmt is Format.HTML:
        output = Path(f"report-{slug}.html")
    if output is not None:
        text = render(result, fmt, language)
        encoding = "utf-8-sig" if fmt is Format.CSV else "utf-8"
        write_atomically(output, text.encode(encoding), option="--output")
        err_line(tr("wrote {path}", path=output.resolve()))
    elif fmt is Format.TABLE:
        from rich.console import Console

        from campaign_scheduler.reports.i18n import Words
        from campaign_scheduler.reports.render_table import FILE_WIDTH, print_table

        console = Console(highlight=False, width=None if sys.stdout.isatty() else FILE_WIDTH)
        print_table(result, Words(language), console)
    else:
        from campaign_scheduler.terminal import clean, json_safe

        text = render(result, fmt, language)
        sys.stdout.write(json_safe(text) if fmt is Format.JSON else clean(text))
