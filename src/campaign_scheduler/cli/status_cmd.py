"""``campaign status`` and ``campaign history``: what is waiting, what went out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import JsonOption, iso_local, opened, utcnow
from campaign_scheduler.cli.output import write_json, write_line
from campaign_scheduler.cli.state import current_user
from campaign_scheduler.errors import UsageError
from campaign_scheduler.localformat import format_list
from campaign_scheduler.uilang import N_, state_word, tr, trn, ui_language

if TYPE_CHECKING:
    from campaign_scheduler.store.status_reads import Liveness, ProblemDelivery

#: A problem worded when shown: in a language, or (None) as the record words it, for --json.
Problem = Callable[[str | None], str]

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


def _age(seconds: float, lang: str) -> str:
    """``5 Jahre`` / ``5 years``."""
    from campaign_scheduler.timeutil import span

    return span(timedelta(seconds=seconds), lang)


def _ago(seconds: float, lang: str) -> str:
    """``vor 3 Tagen`` / ``3 days ago``."""
    from campaign_scheduler.timeutil import ago

    return ago(timedelta(seconds=seconds), lang)


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

    # Core reads only: the ORM is loaded for --ack and --alert, which write
    from campaign_scheduler.store.status_reads import (
        daemon_liveness,
        due_within,
        last_ack,
        last_scheduled,
        problems_since,
        status_summary,
    )

    with opened(ctx) as c:
        if alert and not c.settings.alerts.enabled:
            raise UsageError(
                tr("--alert: the config has no [alerts] urls to send to"),
                hint=tr('add [alerts] urls = ["env:NAME"] (see config.example.toml)'),
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
            from campaign_scheduler.store.attention import record_ack

            record_ack(c.store, os_user=os_user, problems=len(news), now=now)
            acked_now = len(news)
            news = []
        from campaign_scheduler.auth.accounts import token_source

        tokens_of = token_source(c.settings)
        with c.store.transaction() as connection:
            tokens = tokens_of(last_scheduled(connection))
        alert_report = None
        if alert:
            from campaign_scheduler.alerts import daemon_down, send_alerts, watch_token_expiry

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
    # Each problem is worded when shown: in the user's language on the terminal, in English
    # (the language-neutral msgids, reasons as recorded) in --json.
    problems: list[Problem] = []
    if due_soon and not liveness.running:
        problems.append(
            lambda lang: trn(
                "no daemon is running ({daemon}) and {n} delivery is due within the next hour "
                "(start it: campaign run, or systemctl start campaign-scheduler)",
                "no daemon is running ({daemon}) and {n} deliveries are due within the next "
                "hour (start it: campaign run, or systemctl start campaign-scheduler)",
                due_soon,
                lang or "en",
                daemon=_daemon_words(liveness, now, lang or "en"),
            )
        )
    for item in news[:NAMED_AT_MOST]:
        seconds = (now - item.at).total_seconds()
        problems.append(
            _say(
                _STATE_WORDS.get(item.state, _STATE_WORDS["failed"]),
                post=item.post,
                account=item.account,
                ago=partial(_ago, seconds),
                reason=_ReasonWords(item),
            )
        )
    if len(news) > NAMED_AT_MOST:
        problems.append(
            lambda lang: tr(
                "… and {count} more failed, expired or unknown deliveries "
                "(campaign history; campaign status --json lists them all)",
                lang or "en",
                count=len(news) - NAMED_AT_MOST,
            )
        )
    unknown_before = summary.counts.get("unknown", 0) - sum(
        1 for item in news if item.state == "unknown"
    )
    if unknown_before > 0:
        problems.append(
            lambda lang: trn(
                "{n} delivery of unknown outcome (campaign resolve)",
                "{n} deliveries of unknown outcome (campaign resolve)",
                unknown_before,
                lang or "en",
            )
        )
    for name, reason in summary.attention:
        problems.append(
            _say(N_("account {account} needs attention: {reason}"), account=name, reason=reason)
        )
    for token in tokens:
        if token.needs_person(now):
            problems.append(
                _say(
                    N_("{token} (connect it again: campaign accounts connect {account})"),
                    token=partial(token.describe, now),
                    account=token.account,
                )
            )
    if alert_report is not None and alert_report.error:
        problems.append(_say(N_("alert not sent: {error}"), error=alert_report.error))

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
                "needs_a_person": [problem(None) for problem in problems],
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
        lang = ui_language()
        counts = [
            tr(
                "{count} {state}",
                lang,
                count=summary.counts.get(state, 0),
                state=state_word(state, lang),
            )
            for state in STATE_ORDER
            if summary.counts.get(state)
        ]
        write_line(
            tr("deliveries: {counts}", lang, counts=format_list(counts, lang))
            if counts
            else tr("deliveries: none loaded", lang)
        )
        if waiting:
            write_line(
                tr(
                    "waiting: {count}, oldest overdue by {age}",
                    lang,
                    count=waiting,
                    age=_age(overdue, lang),
                )
                if overdue
                else tr("waiting: {count}", lang, count=waiting)
            )
        if summary.awaiting_approval:
            write_line(tr("awaiting approval: {count}", lang, count=summary.awaiting_approval))
        write_line(tr("daemon: {state}", lang, state=_daemon_words(liveness, now, lang)))
        for name, until in summary.rate_limited:
            write_line(
                tr(
                    "rate-limited: {account} until {until}",
                    lang,
                    account=name,
                    until=iso_local(until, campaign),
                )
            )
        for token in tokens:
            if token.expires_at is not None and not token.needs_person(now):
                write_line(token.describe(now, lang))
        if acked and not ack:
            write_line(
                tr(
                    "last acknowledged {ago} by {user}",
                    lang,
                    ago=_ago((now - acked.at).total_seconds(), lang),
                    user=acked.os_user,
                )
            )
        if ack:
            write_line(
                tr("acknowledged {count} problem(s) as {user}", lang, count=acked_now, user=os_user)
            )
        if alert_report is not None:
            write_line(alert_report.summary())
        for problem in problems:
            write_line(tr("needs a person: {problem}", lang, problem=problem(lang)))
        if not problems:
            write_line(tr("all well", lang))
    if problems:
        raise typer.Exit(1)


def _say(message: str, **values: object) -> Problem:
    """``message`` worded later, in a language still to be chosen (None: as the record words
    it); a callable value is given the language (an age, a token's description)."""

    def worded(lang: str | None) -> str:
        shown = lang or "en"
        filled = {
            k: v(lang) if isinstance(v, _ReasonWords) else v(shown) if callable(v) else v
            for k, v in values.items()
        }
        return tr(message, shown, **filled)

    return worded


class _ReasonWords:
    """A problem delivery's reason: worded for readers from its key in their language (no
    configuration keys), or as the record words it (``--json``, a network's message)."""

    def __init__(self, item: ProblemDelivery) -> None:
        self.item = item

    def __call__(self, lang: str | None) -> str:
        from campaign_scheduler.reasons import Reason

        reason = Reason.from_json(self.item.reason_data) if lang is not None else None
        if reason is not None:
            return reason.for_readers(lang or "en")
        return self.item.reason or "–"


#: What a person reads about a delivery that needs them, by its state (with what to do).
_STATE_WORDS = {
    "failed": N_("{post} on {account} failed {ago}: {reason} (campaign history)"),
    "expired": N_(
        "{post} on {account} expired {ago}: {reason} (post it by hand or campaign reschedule)"
    ),
    "unknown": N_(
        "{post} on {account} has an unknown outcome (tried {ago}): {reason} "
        "(check the account, then campaign resolve)"
    ),
    "comment_failed": N_(
        "{post} on {account} went out without its first comment {ago}: {reason} "
        "(add the comment by hand; its text: campaign history --post)"
    ),
}

#: The first comment's state in history's text lines (``--json`` keeps the English key).
_COMMENT_STATES = {
    "out": N_("out"),
    "waiting": N_("waiting"),
    "unknown": N_("unknown"),
}


def _comment_state(state: str, lang: str) -> str:
    return tr(_COMMENT_STATES[state], lang) if state in _COMMENT_STATES else state


def _daemon_words(liveness: Liveness, now: datetime, lang: str) -> str:
    from campaign_scheduler.store.status_reads import DaemonState

    if liveness.state is DaemonState.NEVER_STARTED:
        return tr("never started", lang)
    assert liveness.last_heartbeat is not None
    silent = (now - liveness.last_heartbeat).total_seconds()
    if liveness.state is DaemonState.RUNNING:
        return tr("running (heartbeat {ago})", lang, ago=_ago(silent, lang))
    if liveness.state is DaemonState.STOPPED and liveness.stopped_at is not None:
        return tr(
            "stopped {ago}", lang, ago=_ago((now - liveness.stopped_at).total_seconds(), lang)
        )
    return tr("silent for {age} (crashed or hanging?)", lang, age=_age(silent, lang))


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
                    "first_comment": r.comment,
                }
                for r in rows
            ]
        )
        return
    lang = ui_language()
    if not rows:
        write_line(tr("nothing has been published or tried yet", lang))
        return
    for r in rows:
        when = format_local(r.published_at or r.due_at, campaign.zone)
        detail = r.url if r.state == "published" else (r.error_for_readers(lang) or "")
        state = state_word(r.state, lang).ljust(10)
        comment = r.comment
        if comment is not None:
            detail = f"{detail or ''}  " + (
                tr(
                    "first comment: missing ({error})",
                    lang,
                    error=r.comment_error_for_readers(lang),
                )
                if comment["state"] == "failed"
                else tr(
                    "first comment: {state} {where}",
                    lang,
                    state=_comment_state(comment["state"] or "", lang),
                    where=comment["url"] or comment["id"] or "",
                ).rstrip()
            )
        write_line(
            tr(
                "{when}  {state} {post} on {account} ({attempts})  {detail}",
                lang,
                when=when,
                state=state,
                post=r.post,
                account=r.account,
                attempts=trn("{n} attempt", "{n} attempts", r.attempts, lang),
                detail=detail,
            ).rstrip()
        )
