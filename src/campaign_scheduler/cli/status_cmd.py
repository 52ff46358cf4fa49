"""``campaign status`` and ``campaign history``: what is waiting, what went out."""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_scheduler.cli.common import iso_local, opened, utcnow
from campaign_scheduler.cli.output import write_json, write_line

STATE_ORDER = (
    "pending",
    "retry_wait",
    "publishing",
    "published",
    "failed",
    "expired",
    "cancelled",
    "unknown",
)


def _age(seconds: float) -> str:
    from datetime import timedelta

    from campaign_scheduler.timeutil import format_duration

    return format_duration(timedelta(seconds=int(seconds)))


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Deliveries by state, overdue work, the daemon's heartbeat, accounts needing attention.

    Exits 1 when something needs a person."""
    from campaign_scheduler.store.queries import status_summary

    with opened(ctx) as c:
        now = utcnow()
        summary = status_summary(c.store, now)
        reconcile = c.settings.daemon.reconcile
    overdue = (now - summary.oldest_overdue).total_seconds() if summary.oldest_overdue else None
    heartbeat = (now - summary.last_heartbeat).total_seconds() if summary.last_heartbeat else None
    waiting = summary.counts.get("pending", 0) + summary.counts.get("retry_wait", 0)
    problems = []
    if summary.counts.get("failed"):
        problems.append(f"{summary.counts['failed']} failed deliveries (campaign history)")
    if summary.counts.get("unknown"):
        problems.append(
            f"{summary.counts['unknown']} deliveries of unknown outcome (campaign resolve)"
        )
    for name, reason in summary.attention:
        problems.append(f"account {name} needs attention: {reason}")
    stale = heartbeat is None or heartbeat > 3 * reconcile.total_seconds()
    if overdue is not None and overdue > 2 * reconcile.total_seconds() and stale:
        problems.append(f"work is {_age(overdue)} overdue and no daemon is running (campaign run)")

    if as_json:
        write_json(
            {
                "counts": {state: summary.counts.get(state, 0) for state in STATE_ORDER},
                "oldest_overdue_seconds": overdue,
                "awaiting_approval": summary.awaiting_approval,
                "heartbeat_age_seconds": heartbeat,
                "attention": [{"account": a, "reason": r} for a, r in summary.attention],
                "rate_limited": [
                    {"account": a, "until": iso_local(u, c.campaign)}
                    for a, u in summary.rate_limited
                ],
                "needs_a_person": problems,
            }
        )
    else:
        write_line(
            "deliveries: "
            + ", ".join(
                f"{summary.counts.get(s, 0)} {s}" for s in STATE_ORDER if summary.counts.get(s)
            )
            if summary.counts
            else "deliveries: none loaded"
        )
        if waiting:
            write_line(
                f"waiting: {waiting}" + (f", oldest overdue by {_age(overdue)}" if overdue else "")
            )
        if summary.awaiting_approval:
            write_line(f"awaiting approval: {summary.awaiting_approval}")
        write_line(
            f"daemon heartbeat: {_age(heartbeat)} ago"
            if heartbeat is not None
            else "daemon heartbeat: never"
        )
        for name, until in summary.rate_limited:
            write_line(f"rate-limited: {name} until {iso_local(until, c.campaign)}")
        for problem in problems:
            write_line(f"needs a person: {problem}")
        if not problems:
            write_line("all well")
    if problems:
        raise typer.Exit(1)


def history(
    ctx: typer.Context,
    post: Annotated[str | None, typer.Option("--post", help="only this post")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="at most this many rows")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the history as JSON")] = False,
) -> None:
    """What was posted where and when: remote id, URL, attempts, errors."""
    from campaign_scheduler.store.queries import history_rows
    from campaign_scheduler.timeutil import format_local

    with opened(ctx) as c:
        rows = history_rows(c.store, c.campaign.slug, post=post, limit=limit)
        campaign = c.campaign
    if as_json:
        write_json(
            [
                {
                    "post": r.post,
                    "sender": r.sender,
                    "account": r.account,
                    "channel": r.channel,
                    "state": r.state,
                    "due_at": iso_local(r.due_at, campaign),
                    "not_after": iso_local(r.not_after, campaign),
                    "remote_id": r.remote_id,
                    "url": r.url,
                    "published_at": iso_local(r.published_at, campaign),
                    "attempts": r.attempts,
                    "error": r.error,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        write_line("nothing has been published or tried yet")
        return
    for r in rows:
        when = format_local(r.published_at or r.due_at, campaign.zone)
        detail = r.url if r.state == "published" else (r.error or "")
        write_line(
            f"{when}  {r.state:<10} {r.post} on {r.account} ({r.attempts} attempts)  {detail}"
        )
