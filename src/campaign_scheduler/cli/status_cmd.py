"""``campaign status`` and ``campaign history``: what is waiting, what went out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import JsonOption, iso_local, opened, utcnow
from campaign_scheduler.cli.output import write_json, write_line
from campaign_scheduler.cli.state import current_user
from campaign_scheduler.errors import UsageError

if TYPE_CHECKING:
    from campaign_scheduler.store.attention import Liveness

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


#: Work due within this horizon needs a running daemon.
DUE_HORIZON_SECONDS = 3600
#: At most this many problem deliveries are named one by one; the rest are counted.
NAMED_AT_MOST = 20


def _age(seconds: float) -> str:
    from campaign_scheduler.alert_texts import human_age

    return human_age(seconds, "en")


def status(
    ctx: typer.Context,
    as_json: JsonOption = False,
    ack: Annotated[
        bool,
        typer.Option(
            "--ack", help="record that you have seen the problems named now (as your OS user)"
        ),
    ] = False,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert",
            help="also send what needs a person to the [alerts] URLs (for a timer or cron)",
        ),
    ] = False,
) -> None:
    """Deliveries by state, overdue work, the daemon's heartbeat, accounts needing attention.

    Exits 1 when something needs a person: no daemon while work is due within the next hour,
    deliveries failed, expired or of unknown outcome since the last --ack, held accounts."""
    from datetime import timedelta

    from campaign_scheduler.store.attention import (
        daemon_liveness,
        due_within,
        last_ack,
        problems_since,
        record_ack,
    )
    from campaign_scheduler.store.queries import status_summary

    with opened(ctx) as c:
        if alert and not c.settings.alerts.enabled:
            raise UsageError(
                "--alert: the config has no [alerts] urls to send to",
                hint='add [alerts] urls = ["env:NAME"] (see config.example.toml)',
            )
        now = utcnow()
        summary = status_summary(c.store, now)
        reconcile = c.settings.daemon.reconcile
        liveness = daemon_liveness(c.store, now, stale_after=3 * reconcile)
        due_soon = due_within(c.store, now + timedelta(seconds=DUE_HORIZON_SECONDS))
        acked = last_ack(c.store)
        news = problems_since(c.store, acked.at if acked else None)
        os_user = current_user()
        if ack:
            record_ack(c.store, os_user=os_user, problems=len(news), now=now)
            acked_now = len(news)
            news = []
        from campaign_scheduler.alerts import last_scheduled, watch_token_expiry
        from campaign_scheduler.auth.accounts import token_source

        tokens_of = token_source(c.settings)
        with c.store.session() as session:
            tokens = tokens_of(last_scheduled(session))
        alert_report = None
        if alert:
            from campaign_scheduler.alerts import daemon_down, send_alerts

            watch_token_expiry(tokens_of)

            extra = (
                [
                    daemon_down(
                        liveness,
                        due_soon,
                        now,
                        campaign=c.campaign.slug,
                        language=c.campaign.language,
                    )
                ]
                if due_soon and not liveness.running
                else []
            )
            alert_report = send_alerts(
                c.store,
                c.settings.alerts,
                now,
                sender=f"status --alert ({os_user})",
                extra=extra,
            )
        campaign = c.campaign
    overdue = (now - summary.oldest_overdue).total_seconds() if summary.oldest_overdue else None
    heartbeat = (now - summary.last_heartbeat).total_seconds() if summary.last_heartbeat else None
    waiting = summary.counts.get("pending", 0) + summary.counts.get("retry_wait", 0)
    problems = []
    if due_soon and not liveness.running:
        problems.append(
            f"no daemon is running ({_daemon_words(liveness, now)}) and {due_soon} "
            f"{'delivery is' if due_soon == 1 else 'deliveries are'} due within the next hour "
            "(start it: campaign run, or systemctl start campaign-scheduler)"
        )
    for item in news[:NAMED_AT_MOST]:
        problems.append(
            f"{item.post} on {item.account} {_STATE_WORDS.get(item.state, item.state)} "
            f"{_age((now - item.at).total_seconds())} ago: {item.reason or '–'} "
            f"({_STATE_HINTS.get(item.state, 'campaign history')})"
        )
    if len(news) > NAMED_AT_MOST:
        problems.append(
            f"… and {len(news) - NAMED_AT_MOST} more failed, expired or unknown deliveries "
            "(campaign history; campaign status --json lists them all)"
        )
    unknown_before = summary.counts.get("unknown", 0) - sum(
        1 for item in news if item.state == "unknown"
    )
    if unknown_before > 0:
        problems.append(
            f"{unknown_before} {'delivery' if unknown_before == 1 else 'deliveries'} "
            "of unknown outcome (campaign resolve)"
        )
    for name, reason in summary.attention:
        problems.append(f"account {name} needs attention: {reason}")
    for token in tokens:
        if token.needs_person(now):
            problems.append(
                token.describe(now)
                + f" (connect it again: campaign accounts connect {token.account})"
            )
    if alert_report is not None and alert_report.error:
        problems.append(f"alert not sent: {alert_report.error}")

    if as_json:
        write_json(
            {
                "counts": {state: summary.counts.get(state, 0) for state in STATE_ORDER},
                "oldest_overdue_seconds": overdue,
                "awaiting_approval": summary.awaiting_approval,
                "heartbeat_age_seconds": heartbeat,
                "attention": [{"account": a, "reason": r} for a, r in summary.attention],
                "rate_limited": [
                    {"account": a, "until": iso_local(u, campaign)} for a, u in summary.rate_limited
                ],
                "needs_a_person": problems,
                "tokens": [
                    {
                        "account": t.account,
                        "expires_at": iso_local(t.expires_at, campaign),
                        "refreshable": t.refreshable,
                        "before_last_post": t.before_last_post(),
                    }
                    for t in tokens
                ],
                "daemon": {
                    "state": liveness.state.value,
                    "last_heartbeat": iso_local(liveness.last_heartbeat, campaign),
                    "stopped_at": iso_local(liveness.stopped_at, campaign),
                },
                "due_within_hour": due_soon,
                "since_ack": [
                    {
                        "post": item.post,
                        "account": item.account,
                        "state": item.state,
                        "reason": item.reason,
                        "at": iso_local(item.at, campaign),
                    }
                    for item in news
                ],
                "last_ack": (
                    {"at": iso_local(now, campaign), "os_user": os_user}
                    if ack
                    else {"at": iso_local(acked.at, campaign), "os_user": acked.os_user}
                    if acked
                    else None
                ),
                **(
                    {
                        "alert": {
                            "sent": len(alert_report.sent),
                            "error": alert_report.error,
                        }
                    }
                    if alert_report is not None
                    else {}
                ),
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
        write_line(f"daemon: {_daemon_words(liveness, now)}")
        for name, until in summary.rate_limited:
            write_line(f"rate-limited: {name} until {iso_local(until, campaign)}")
        for token in tokens:
            if token.expires_at is not None and not token.needs_person(now):
                write_line(token.describe(now))
        if acked and not ack:
            write_line(
                f"last acknowledged {_age((now - acked.at).total_seconds())} ago by {acked.os_user}"
            )
        if ack:
            write_line(f"acknowledged {acked_now} problem(s) as {os_user}")
        if alert_report is not None:
            write_line(alert_report.summary())
        for problem in problems:
            write_line(f"needs a person: {problem}")
        if not problems:
            write_line("all well")
    if problems:
        raise typer.Exit(1)


_STATE_WORDS = {"failed": "failed", "expired": "expired", "unknown": "has an unknown outcome"}
_STATE_HINTS = {
    "failed": "campaign history",
    "expired": "post it by hand or campaign reschedule",
    "unknown": "check the account, then campaign resolve",
}


def _daemon_words(liveness: Liveness, now: datetime) -> str:
    from campaign_scheduler.store.attention import DaemonState

    if liveness.state is DaemonState.NEVER_STARTED:
        return "never started"
    assert liveness.last_heartbeat is not None
    beat = _age((now - liveness.last_heartbeat).total_seconds())
    if liveness.state is DaemonState.RUNNING:
        return f"running (heartbeat {beat} ago)"
    if liveness.state is DaemonState.STOPPED and liveness.stopped_at is not None:
        return f"stopped {_age((now - liveness.stopped_at).total_seconds())} ago"
    return f"silent for {beat} (crashed or hanging?)"


def history(
    ctx: typer.Context,
    post: Annotated[str | None, typer.Option("--post", help="only this post")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="at most this many rows")] = None,
    as_json: JsonOption = False,
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
