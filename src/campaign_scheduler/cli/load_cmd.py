"""``campaign load``: sync the drafts into the database and show what changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli import state
from campaign_scheduler.cli.common import ActorOption, JsonOption
from campaign_scheduler.cli.output import err_line, write_json, write_line
from campaign_scheduler.cli.progress import draft_progress
from campaign_scheduler.cli.state import current_user, state_of
from campaign_scheduler.errors import InputError
from campaign_scheduler.uilang import tr, trn, ui_language

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.config import Settings
    from campaign_scheduler.rules import CheckResult
    from campaign_scheduler.store.load_decision import LoadReport


def load(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the change without writing anything")
    ] = False,
    actor: ActorOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="also list unchanged posts")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sync drafts into the database: + new, ~ changed, − removed, = unchanged."""
    from campaign_scheduler.drafts import collector_paused
    from campaign_scheduler.rules import check
    from campaign_scheduler.store.load_decision import ChangeKind
    from campaign_scheduler.store.sqlite_reads import unchanged_sqlite_load

    # Options are checked before anything is read: a load that finds nothing to change must
    # refuse a bad --as as the load that writes does.
    acting = current_user(actor)
    settings = state_of(ctx).settings()
    settings.raise_for_problems()
    with collector_paused(freeze=state.ends_with_command), draft_progress(as_json) as steps:
        result = check(settings, progress=steps.drafts)
        if result.errors or result.campaign is None:
            count = len(result.errors)
            raise InputError(
                trn(
                    "load refused: {n} error in the campaign files; nothing was written",
                    "load refused: {n} errors in the campaign files; nothing was written",
                    count,
                ),
                problems=result.errors,
                hint=tr("fix them (campaign check lists them) and load again"),
            )
        _fetch_link_cards(result, result.campaign)
        steps.phase(tr("writing to the database"))
        # Whether anything would change is decided first with SQLite's own driver (no
        # SQLAlchemy to import), then with a few Core reads; the ORM (and its import) is
        # only for a load that writes.
        report = unchanged_sqlite_load(
            settings.database_url, result.campaign, result.planned, dry_run=dry_run
        )
        if report is None:
            report = _load(result.campaign, result, settings, acting, dry_run)

    summary = {kind.name.lower(): report.count(kind) for kind in ChangeKind}
    if as_json:
        write_json(
            {
                "dry_run": dry_run,
                "summary": summary,
                "changes": [
                    {"change": c.kind.value, "post": c.key, "details": c.details}
                    for c in report.changes
                ],
            }
        )
        return
    lang = ui_language()  # (once: looking it up reads the environment)
    for change in report.changes:
        if change.kind is ChangeKind.UNCHANGED and not verbose:
            continue
        details = f"  ({'; '.join(tr(d, lang) for d in change.details)})" if change.details else ""
        write_line(f"{change.kind.value} {change.key}{details}")
    unchanged = report.count(ChangeKind.UNCHANGED)
    if unchanged and not verbose:
        write_line(tr("= {count} unchanged", count=unchanged))
    counts = tr(
        "{new} new, {changed} changed, {removed} removed, {unchanged} unchanged",
        new=summary["new"],
        changed=summary["changed"],
        removed=summary["removed"],
        unchanged=summary["unchanged"],
    )
    err_line(
        tr("dry run, nothing written: {counts}", counts=counts)
        if dry_run
        else tr("loaded: {counts}", counts=counts)
    )


def _load(
    campaign: Campaign, result: CheckResult, settings: Settings, acting: str, dry_run: bool
) -> LoadReport:
    """Open (and migrate) the store, decide with Core reads whether anything changes, and
    load through the ORM with every guard when something does."""
    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.sync_reads import unchanged_load
    from campaign_scheduler.store.wakeup import announce

    store = open_store(settings.database_url)
    try:
        report = unchanged_load(store, campaign, result.planned, dry_run=dry_run)
        if report is None:
            from campaign_scheduler.store.sync import load_campaign_into

            report = load_campaign_into(
                store,
                campaign,
                result.drafts,
                result.deliveries,
                settings,
                actor=acting,
                dry_run=dry_run,
            )
        if report.changed_anything and not dry_run:
            announce(store)
    finally:
        store.dispose()
    return report


def _fetch_link_cards(result: CheckResult, campaign: Campaign) -> None:
    """Fetch (once, into the campaign's cache) the link cards of posts without images; a card
    that cannot be fetched is a warning, not a reason to refuse the load."""
    from datetime import UTC, datetime

    from campaign_scheduler.linkcards import refresh_card_links

    _, problems = refresh_card_links(result.card_links(), campaign, now=datetime.now(UTC))
    here = Path.cwd()
    for problem in problems:
        err_line(problem.format(here))
