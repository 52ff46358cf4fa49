"""``campaign preview POST``: an HTML page showing how a draft will look on each network."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from campaign_scheduler.cli.output import err_line, print_problems
from campaign_scheduler.cli.state import state_of
from campaign_scheduler.uilang import tr


def preview(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the post key, e.g. soest/03-klimaneutral")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write the page to this file (atomically); default: preview-<key>.html here",
            dir_okay=False,
        ),
    ] = None,
    open_page: Annotated[
        bool | None,
        typer.Option(
            "--open/--no-open",
            help="open the page in the web browser (default: only when run in a terminal)",
        ),
    ] = None,
) -> None:
    """Show a draft as each of its networks will: text counted and cut ("… mehr"), thread
    parts, image crops with alt text, link card. Reads the drafts, not the database."""
    from datetime import UTC, datetime

    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.drafts import load_drafts
    from campaign_scheduler.errors import UsageError
    from campaign_scheduler.fields import did_you_mean
    from campaign_scheduler.files import write_atomically
    from campaign_scheduler.linkcards import refresh_cards
    from campaign_scheduler.localformat import format_moment
    from campaign_scheduler.planning import accounts_for
    from campaign_scheduler.preview.build import build_preview, default_file_name
    from campaign_scheduler.preview.html import render_preview
    from campaign_scheduler.preview.words import Words

    if output is not None and not output.parent.resolve().is_dir():
        raise UsageError(tr("--output: the folder {folder} does not exist", folder=output.parent))
    settings = state_of(ctx).settings()
    campaign = require_campaign(settings.campaign_path)
    drafts, problems = load_drafts(settings.posts_path, campaign)
    found = {d.key: d for d in drafts}
    draft = found.get(key.removesuffix(".md"))
    if draft is None:
        raise UsageError(
            tr(
                "no draft '{key}' in {folder}{suggestion}",
                key=key,
                folder=settings.posts_path,
                suggestion=tr(did_you_mean(key, found)),
            ),
            hint=tr("the key is the draft's path below posts/ without .md"),
        )
    print_problems(p for p in problems if p.path == draft.path)
    cards, card_problems = refresh_cards([draft], campaign, now=datetime.now(UTC))
    print_problems(card_problems)
    sender = campaign.sender(draft.sender)
    page = build_preview(
        draft,
        accounts_for(draft, settings),
        sender_name=sender.name if sender else draft.sender,
        due=(
            format_moment(draft.due_at, campaign.zone, Words(draft.language).code)
            if draft.due_at
            else None
        ),
        cards=cards,
    )
    target = output if output is not None else default_file_name(draft.key)
    write_atomically(target, render_preview(page))
    err_line(tr("wrote {path}", path=target.resolve()))
    if open_page is None:
        open_page = sys.stdout.isatty()
    if open_page:
        import webbrowser

        if not webbrowser.open(target.resolve().as_uri()):
            err_line(tr("could not start a web browser; open the file yourself"))
