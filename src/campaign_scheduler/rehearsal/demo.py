"""`campaign demo`: the shipped campaign end to end on the sandboxes, in about a minute.

The real pieces run: check and load, the daemon (APScheduler clock, the publish protocol,
every network adapter) against loopback sandboxes, metrics and the report. Only the clock is
compressed: the countdown's due times are mapped onto the next minute, keeping their order and
relative spacing, and the screen says so. Before the report, the rehearsal's record is mapped
back onto the campaign's days (:func:`_map_back`), so the report reads like the campaign's:
its countdown chart spans the campaign, its "as of" date is the campaign's end.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from campaign_scheduler.config import Settings, load_settings
from campaign_scheduler.errors import CampaignSchedulerError, InputError
from campaign_scheduler.rehearsal.clock import CompressedClock
from campaign_scheduler.rehearsal.workspace import Workspace, prepare
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.lag import set_lag
from campaign_scheduler.store.models import (
    AttemptRecord,
    CampaignRecord,
    DeliveryMetricsRecord,
    DeliveryRecord,
    DeliveryState,
    HashtagUseRecord,
    MetricSnapshotRecord,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.terminal import one_line
from campaign_scheduler.uilang import msg, state_word, tr, ui_language

if TYPE_CHECKING:
    from campaign_scheduler.rehearsal.networks import RehearsalNetwork

ACTIVE = (
    DeliveryState.PENDING.value,
    DeliveryState.RETRY_WAIT.value,
    DeliveryState.PUBLISHING.value,
)
DEMO_ACTOR = "demo"
REVIEWER = "demo-reviewer"


@dataclass
class DemoResult:
    workspace: Workspace
    counts: dict[str, int]
    html_report: Path
    seconds: float


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _compress(store: Store, slug: str, span: timedelta, now: datetime) -> CompressedClock:
    """Move every waiting delivery onto the compressed clock, and shrink the grace period."""
    with store.session(write=True) as session:
        campaign = session.scalars(select(CampaignRecord).where(CampaignRecord.slug == slug)).one()
        deliveries = session.scalars(
            select(DeliveryRecord)
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .where(PostRecord.campaign_id == campaign.id, DeliveryRecord.state.in_(ACTIVE))
        ).all()
        if not deliveries:
            raise InputError(msg("the campaign has nothing to publish"))
        first = min(d.due_at for d in deliveries)
        last = max(d.due_at for d in deliveries)
        clock = CompressedClock(first, last, now + timedelta(seconds=5), span)
        for delivery in deliveries:
            delivery.not_after = clock.deadline(delivery.due_at, delivery.not_after)
            delivery.due_at = clock.map(delivery.due_at)
        campaign.grace_seconds = int(
            clock.shrink(timedelta(seconds=campaign.grace_seconds)).total_seconds()
        )
    return clock


def _approve_all(store: Store, slug: str, now: datetime) -> int:
    """Four eyes in the rehearsal's own copy: a reviewer who is not the author approves every
    post, through the same approval (and audit trail) as ``campaign approve``. The reviewer is a
    rehearsal identity, recorded as both the name and the OS user of the approval."""
    from campaign_scheduler.store.approval import approve

    with store.session() as session:
        keys = session.scalars(
            select(PostRecord.key)
            .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
            .where(
                CampaignRecord.slug == slug,
                CampaignRecord.require_approval.is_(True),
                PostRecord.approver.is_(None),
            )
            .order_by(PostRecord.key)
        ).all()
    for key in keys:
        approve(store, slug, key, actor=REVIEWER, os_user=REVIEWER, now=now)
    return len(keys)


def _map_back(store: Store, slug: str, clock: CompressedClock, now: datetime) -> datetime:
    """Move the rehearsal's record back onto the campaign's clock; return the report's "as of".

    Each delivery's story (due, attempts, publication, deadline, figures) moves by one amount,
    the distance from its rehearsal due time back to its real one, so the lags the rehearsal
    measured (punctuality) stay exactly as measured. Others' hashtag posts, which belong to no
    delivery, are mapped back in proportion. The "as of" moment is now, mapped back: as long
    after the campaign's last post as the report comes after the rehearsal's.
    """

    def shift(value: datetime | None, delta: timedelta) -> datetime | None:
        return value + delta if value is not None else None

    with store.session(write=True) as session:
        campaign = session.scalars(select(CampaignRecord).where(CampaignRecord.slug == slug)).one()
        deliveries = session.scalars(
            select(DeliveryRecord)
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .where(PostRecord.campaign_id == campaign.id)
        ).all()
        for delivery in deliveries:
            delta = clock.unmap(delivery.due_at) - delivery.due_at
            delivery.due_at = delivery.due_at + delta
            delivery.not_after = shift(delivery.not_after, delta)
            delivery.published_at = shift(delivery.published_at, delta)
            if delivery.published_at is not None:
                set_lag(delivery)
            delivery.next_attempt_at = shift(delivery.next_attempt_at, delta)
            for attempt in session.scalars(
                select(AttemptRecord).where(AttemptRecord.delivery_id == delivery.id)
            ):
                attempt.started_at = attempt.started_at + delta
                attempt.finished_at = shift(attempt.finished_at, delta)
            for snapshot in session.scalars(
                select(MetricSnapshotRecord).where(MetricSnapshotRecord.delivery_id == delivery.id)
            ):
                snapshot.fetched_at = snapshot.fetched_at + delta
            summary = session.get(DeliveryMetricsRecord, delivery.id)
            if summary is not None:  # the same shift keeps its latest and first snapshot
                summary.latest_fetched_at = summary.latest_fetched_at + delta
                summary.first_fetched_at = summary.first_fetched_at + delta
        for use in session.scalars(
            select(HashtagUseRecord).where(HashtagUseRecord.campaign_id == campaign.id)
        ):
            use.posted_at = clock.unmap_settled(use.posted_at)
            use.fetched_at = clock.unmap_settled(use.fetched_at)
    return clock.unmap_settled(now)


def _progress(store: Store, slug: str) -> tuple[Table, int, dict[str, int]]:
    with store.session() as session:
        rows = session.execute(
            select(SenderRecord.name, DeliveryRecord.state, func.count())
            .join(PostRecord, PostRecord.sender_id == SenderRecord.id)
            .join(DeliveryRecord, DeliveryRecord.post_id == PostRecord.id)
            .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
            .where(CampaignRecord.slug == slug)
            .group_by(SenderRecord.name, DeliveryRecord.state)
        ).all()
    per_sender: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for sender, state, count in rows:
        per_sender.setdefault(sender, {})[state] = count
        totals[state] = totals.get(state, 0) + count
    table = Table(title=tr("Rehearsal"), title_justify="left")
    table.add_column(tr("Sender"), justify="left")
    for column in ("published", "waiting", "failed", "expired", "unknown"):
        table.add_column(
            tr("waiting") if column == "waiting" else state_word(column), justify="right"
        )
    for sender, states in sorted(per_sender.items()):
        table.add_row(
            Text(one_line(sender)),
            str(states.get("published", 0)),
            str(sum(states.get(s, 0) for s in ACTIVE)),
            str(states.get("failed", 0)),
            str(states.get("expired", 0)),
            str(states.get("unknown", 0)),
        )
    active = sum(totals.get(s, 0) for s in ACTIVE)
    return table, active, totals


def run_demo(
    source_config: Path | None,
    *,
    workdir: Path,
    span: timedelta = timedelta(seconds=60),
    seed: int = 5,
    html_report: Path,
    json_report: Path | None = None,
    console: Console | None = None,
) -> DemoResult:
    from campaign_scheduler.metrics.collector import collect, collect_hashtag_use
    from campaign_scheduler.publishing.accounts import ConfiguredChannels
    from campaign_scheduler.rehearsal.networks import start_all
    from campaign_scheduler.reports import Format, render
    from campaign_scheduler.reports.branding import branding
    from campaign_scheduler.reports.build import build_report
    from campaign_scheduler.reports.i18n import Words, language_of
    from campaign_scheduler.reports.render_table import print_table
    from campaign_scheduler.rules import check
    from campaign_scheduler.store.sync import load_campaign_into

    console = console or Console(width=None if sys.stdout.isatty() else 120)
    began = time.monotonic()
    source = load_settings(source_config)
    source.raise_for_problems()
    channels_needed = sorted({a.channel for a in source.accounts.values()})
    if not channels_needed:
        raise InputError(msg("the configuration has no accounts to rehearse with"))
    networks = start_all(channels_needed)
    try:
        workspace = prepare(source, workdir, networks)
        console.print(
            Text(
                one_line(
                    tr(
                        "Rehearsal of {campaign} in {folder}: {accounts} accounts on {networks} "
                        "loopback sandboxes ({channels}). Nothing leaves this machine.",
                        campaign=source.campaign_path.name,
                        folder=workspace.root,
                        accounts=len(workspace.accounts),
                        networks=len(networks),
                        channels=", ".join(channels_needed),
                    )
                ),
                style="bold",
            )
        )
        with _environment(workspace.environ):
            settings = load_settings(workspace.config_path, environ=os.environ)
            result = check(settings)
            if result.errors or result.campaign is None:
                raise InputError(
                    msg("the campaign does not pass 'campaign check'"), problems=result.errors
                )
            campaign = result.campaign
            store = open_store(settings.database_url)
            try:
                load_campaign_into(
                    store, campaign, result.drafts, result.deliveries, settings, actor=DEMO_ACTOR
                )
                approved = _approve_all(store, campaign.slug, datetime.now(UTC))
                if approved:
                    console.print(
                        tr(
                            "Four eyes: {reviewer} approved {count} posts written by {author} "
                            "(in the rehearsal's copy only).",
                            reviewer=REVIEWER,
                            count=approved,
                            author=DEMO_ACTOR,
                        )
                    )
                clock = _compress(store, campaign.slug, span, datetime.now(UTC))
                console.print(
                    tr(
                        "Compressed clock: {clock}. Posts go out from {start} to {end} "
                        "(local time).",
                        clock=clock.describe(),
                        start=clock.start.astimezone().strftime("%H:%M:%S"),
                        end=(clock.start + span).astimezone().strftime("%H:%M:%S"),
                    )
                )
                counts = _play(store, settings, campaign.slug, clock, networks, seed, console)
                console.print()
                console.print(tr("Collecting figures from every network …"))
                channels = ConfiguredChannels(settings, timeout=10)
                sweep = collect(store, channels, datetime.now(UTC), everything=True)
                collect_hashtag_use(
                    store, channels, datetime.now(UTC), accounts=settings.accounts, report=sweep
                )
                console.print(
                    Text(one_line(tr("metrics: {summary}", summary=sweep.summary(ui_language()))))
                )
                as_of = _map_back(store, campaign.slug, clock, datetime.now(UTC))
                console.print(
                    tr(
                        "The report shows the rehearsal on the campaign's own days "
                        "(the compressed clock mapped back; delays as measured)."
                    )
                )
                report = replace(
                    build_report(store, campaign.slug, now=as_of),
                    branding=branding(campaign.report, campaign.path.parent),
                )
                language = language_of(campaign.language)
                print_table(report, Words(language), console)
                html_report.write_text(render(report, Format.HTML, language), encoding="utf-8")
                if json_report is not None:
                    json_report.write_text(render(report, Format.JSON, language), encoding="utf-8")
            finally:
                store.dispose()
        seconds = time.monotonic() - began
        console.print(
            Text(
                one_line(
                    tr(
                        "HTML report: {path}  ({seconds} s in all)",
                        path=html_report.resolve(),
                        seconds=round(seconds),
                    )
                )
            )
        )
        return DemoResult(workspace, counts, html_report, seconds)
    finally:
        for network in networks.values():
            network.stop()


def _play(
    store: Store,
    settings: Settings,
    slug: str,
    clock: CompressedClock,
    networks: Mapping[str, RehearsalNetwork],
    seed: int,
    console: Console,
) -> dict[str, int]:
    """Run the real daemon until every delivery has settled, with a live view."""
    from campaign_scheduler.publishing.accounts import ConfiguredChannels
    from campaign_scheduler.publishing.daemon import Daemon, Worker
    from campaign_scheduler.publishing.publisher import Publisher

    publisher = Publisher(ConfiguredChannels(settings, timeout=10), media_root=settings.posts_path)
    worker = Worker(store, publisher, lease=settings.daemon.lease, threads=4)
    daemon = Daemon(worker, reconcile=settings.daemon.reconcile)
    server = threading.Thread(
        target=daemon.serve, kwargs={"handle_signals": False}, name="daemon", daemon=True
    )
    stop_engagement = threading.Event()
    rng = random.Random(seed)
    hashtag_rng = random.Random(seed + 1)

    def engagement() -> None:
        tick = 0
        while not stop_engagement.wait(1.0):
            tick += 1
            simulated_minutes = max(0.0, (datetime.now(UTC) - clock.start).total_seconds())
            simulated_minutes = simulated_minutes / clock.factor / 60 if clock.factor else 0.0
            for network in networks.values():
                try:
                    network.grow_engagement(rng, simulated_minutes)
                    if tick % 5 == 0:
                        network.post_by_others("5malklug", hashtag_rng, 1)
                except CampaignSchedulerError:
                    continue

    grower = threading.Thread(target=engagement, name="engagement", daemon=True)
    server.start()
    grower.start()
    deadline = time.monotonic() + (clock.start - datetime.now(UTC)).total_seconds()
    deadline += clock.span.total_seconds() + 120
    totals: dict[str, int] = {}
    try:
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while True:
                table, active, totals = _progress(store, slug)
                live.update(table)
                if active == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    finally:
        daemon.stop()
        server.join(timeout=30)
        stop_engagement.set()
        grower.join(timeout=5)
    return totals
