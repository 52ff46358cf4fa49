"""Commands that change one post: queue, approve, cancel, reschedule, resolve."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import (
    ActorOption,
    JsonOption,
    iso_local,
    moment,
    opened,
    parse_option_time,
    time_warnings,
    utcnow,
)
from campaign_scheduler.cli.output import err_line, write_json, write_line
from campaign_scheduler.cli.state import current_user
from campaign_scheduler.errors import CampaignSchedulerError, InputError, UsageError
from campaign_scheduler.textfile import decode_utf8, read_text
from campaign_scheduler.uilang import tr

if TYPE_CHECKING:
    from datetime import datetime

    from campaign_scheduler.campaign import Campaign


def _text_from_editor() -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError(
            tr("no text given and $EDITOR is not set"), hint=tr("pass the text, or - for stdin")
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "post.md"
        path.write_text("", encoding="utf-8")
        completed = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if completed.returncode != 0:
            raise UsageError(
                tr(
                    "the editor ({editor}) exited with {code}",
                    editor=editor,
                    code=completed.returncode,
                )
            )
        return read_text(path, what="the text").strip()


def queue(
    ctx: typer.Context,
    text: Annotated[
        str | None, typer.Argument(help="the post text; - reads stdin; omit to open $EDITOR")
    ] = None,
    sender: Annotated[str, typer.Option("--sender", help="who posts (a sender slug)")] = "",
    channels: Annotated[
        list[str] | None, typer.Option("--channel", help="a network; repeat for several")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="when, e.g. '2021-11-04 09:30' or 'T-2h'")
    ] = None,
    next_slot: Annotated[
        bool, typer.Option("--next-slot", help="the next free time in the posting windows")
    ] = False,
    not_after: Annotated[
        str | None, typer.Option("--not-after", help="never publish after this time")
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="e.g. de")] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue an ad-hoc post for one sender on one or more channels."""
    from campaign_scheduler.calendar_rules import (
        DayPolicy,
        calendar_of,
        next_free_slot,
        policy_for,
    )
    from campaign_scheduler.channels.text import text_length_issues
    from campaign_scheduler.drafts import default_not_after
    from campaign_scheduler.placeholders import PlaceholderError, RenderContext, render
    from campaign_scheduler.store.changes import queue_post, taken_times
    from campaign_scheduler.store.wakeup import announce
    from campaign_scheduler.timeutil import WhenError, in_windows
    from campaign_scheduler.uilang import ui_language

    if not sender:
        raise UsageError(tr("--sender is required"))
    if not channels:
        raise UsageError(tr("give at least one --channel"))
    if (at is None) == (not next_slot):
        raise UsageError(tr("give either --at WHEN or --next-slot"))
    if text == "-":
        text = decode_utf8(sys.stdin.buffer.read(), Path("<stdin>"), what="the text").strip()
    elif text is None:
        text = _text_from_editor()
    if not text:
        raise UsageError(tr("the post text is empty"))

    with opened(ctx) as c:
        campaign, settings = c.campaign, c.settings
        campaign_sender = campaign.sender(sender)
        if campaign_sender is None:
            raise UsageError(tr("--sender: unknown sender '{sender}'", sender=sender))
        accounts = []
        for channel in channels:
            found = settings.accounts_of(sender, channel)
            if not found:
                raise UsageError(
                    tr(
                        "--channel: sender '{sender}' has no account on {channel}",
                        sender=sender,
                        channel=channel,
                    )
                )
            accounts.extend(found)
        problems = []
        now = utcnow()
        calendar = calendar_of(campaign)
        if next_slot:
            taken = taken_times(c.store, [a.name for a in accounts])
            earliest = max(now, campaign.period_start or now)
            # Never a day after the campaign: the search stops where the campaign ends.
            too_late = InputError(
                tr(
                    "no free slot before the campaign ends ({end}); choose a time with --at",
                    ui_language(campaign.language),
                    end=moment(campaign.period_end, campaign, ui_language(campaign.language)),
                )
            )
            if earliest >= campaign.period_end:
                raise too_late
            try:
                due = next_free_slot(
                    max(now, campaign.period_start or now), campaign, calendar, taken
                )
            except WhenError:
                raise too_late from None
            if due >= campaign.period_end:
                raise too_late
        else:
            assert at is not None
            due = parse_option_time(at, "--at", campaign)
            for warning in time_warnings(due, "--at", campaign, now):
                err_line(warning)
            if not in_windows(due, campaign.rules.windows, campaign.zone):
                problems.append(
                    tr(
                        "{when} is outside the posting windows",
                        when=moment(due, campaign),
                    )
                )
            special = calendar.at(due, campaign.zone) if calendar is not None else None
            if special is not None:
                policy = policy_for(campaign, special)
                said = tr(
                    "{when} is on {day}",
                    when=moment(due, campaign),
                    day=special.describe(),
                )
                if policy is DayPolicy.REFUSE:
                    problems.append(said)
                elif policy is DayPolicy.WARN:
                    err_line(tr("warning: {text}", text=said))
        deadline = (
            parse_option_time(not_after, "--not-after", campaign)
            if not_after
            else default_not_after(due, campaign)
        )
        if deadline is not None and due > deadline:
            problems.append(
                tr(
                    "due {when} is after its deadline {deadline}",
                    when=moment(due, campaign),
                    deadline=moment(deadline, campaign),
                )
            )
        try:
            text = render(
                text,
                RenderContext(
                    campaign=campaign,
                    sender_name=campaign_sender.name,
                    language=language or campaign.language,
                    due_at=due,
                ),
            )
        except PlaceholderError as exc:
            problems.append(exc.message)
        hashtag = campaign.hashtag
        if campaign.rules.require_hashtag and hashtag and hashtag.lower() not in text.lower():
            problems.append(tr("the text lacks the hashtag {hashtag}", hashtag=hashtag))
        for account in accounts:
            for issue in text_length_issues(account.channel, text, limit=account.max_characters):
                problems.append(
                    tr(
                        "{problem} (account {account})",
                        problem=issue.message(),
                        account=account.name,
                    )
                )
        if problems:
            raise InputError(tr("not queued: {problems}", problems="; ".join(problems)))
        queued = queue_post(
            c.store,
            campaign,
            sender=sender,
            accounts=[(a.name, a.channel, a.base_url) for a in accounts],
            text=text,
            language=language or campaign.language,
            due_at=due,
            not_after=deadline,
            actor=current_user(actor),
            now=now,
        )
        announce(c.store)
        if as_json:
            write_json(
                {
                    "post": queued.key,
                    "sender": sender,
                    "accounts": queued.accounts,
                    "due_at": iso_local(queued.due_at, campaign),
                    "not_after": iso_local(deadline, campaign),
                }
            )
        else:
            write_line(
                tr(
                    "queued {post} for {when} on {accounts}",
                    post=queued.key,
                    when=moment(queued.due_at, campaign),
                    accounts=", ".join(queued.accounts),
                )
            )


def approve(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the post key")],
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="approve under this name (only where the campaign sets rules.allow_as)",
        ),
    ] = None,
) -> None:
    """Approve a post as your OS user: never by anyone who wrote or changed it
    (rules.approvers lists who may)."""
    from campaign_scheduler import identity
    from campaign_scheduler.store.approval import approve as approve_post
    from campaign_scheduler.store.wakeup import announce

    with opened(ctx) as c:
        rules = c.campaign.rules
        if actor is not None and not rules.allow_as:
            raise UsageError(
                tr(
                    "--as: this campaign does not allow approving under another name "
                    "(rules.allow_as); you approve as your OS user"
                ),
            )
        os_user = identity.os_user()
        write_line(
            tr(
                approve_post(
                    c.store,
                    c.campaign.slug,
                    key,
                    actor=current_user(actor),
                    os_user=os_user,
                    approvers=rules.approvers,
                    now=utcnow(),
                )
            )
        )
        announce(c.store)


def cancel(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the post key")],
    account: Annotated[str | None, typer.Option("--account", help="only this account")] = None,
    actor: ActorOption = None,
) -> None:
    """Cancel a post's deliveries that have not gone out."""
    from campaign_scheduler.store.changes import cancel as cancel_post

    with opened(ctx) as c:
        for line in cancel_post(
            c.store, c.campaign.slug, key, actor=current_user(actor), now=utcnow(), account=account
        ):
            write_line(tr(line))


def _check_calendar(campaign: Campaign, when: datetime) -> None:
    """A time on the region's quiet day or holiday: refused or warned about, per rule."""
    from campaign_scheduler.calendar_rules import DayPolicy, calendar_of, policy_for

    calendar = calendar_of(campaign)
    special = calendar.at(when, campaign.zone) if calendar is not None else None
    if special is None:
        return
    policy = policy_for(campaign, special)
    said = tr("{when} is on {day}", when=moment(when, campaign), day=special.describe())
    if policy is DayPolicy.REFUSE:
        raise CampaignSchedulerError(
            tr("not moved: {reason}", reason=said), hint=tr("choose another day")
        )
    if policy is DayPolicy.WARN:
        err_line(tr("warning: {text}", text=said))


def reschedule(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the post key")],
    at: Annotated[str, typer.Option("--at", help="the new time")],
    actor: ActorOption = None,
) -> None:
    """Move a post that has not gone out to another time."""
    from campaign_scheduler.store.changes import reschedule as reschedule_post
    from campaign_scheduler.store.wakeup import announce

    with opened(ctx) as c:
        when = parse_option_time(at, "--at", c.campaign)
        _check_calendar(c.campaign, when)
        for warning in time_warnings(when, "--at", c.campaign, utcnow()):
            err_line(warning)
        for line in reschedule_post(
            c.store, c.campaign, key, when, actor=current_user(actor), now=utcnow()
        ):
            write_line(tr(line))
        announce(c.store)


def resolve(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the post key")],
    account: Annotated[str, typer.Option("--account", help="the account of the unknown delivery")],
    published: Annotated[
        str | None, typer.Option("--published", help="it is out: its public URL")
    ] = None,
    not_published: Annotated[
        bool, typer.Option("--not-published", help="it is not out: send it again if still in time")
    ] = False,
    actor: ActorOption = None,
) -> None:
    """Settle a delivery whose outcome is unknown, after checking the account."""
    from campaign_scheduler.store.changes import resolve as resolve_delivery
    from campaign_scheduler.store.wakeup import announce

    if (published is None) == (not not_published):
        raise UsageError(tr("give either --published URL or --not-published"))
    with opened(ctx) as c:
        seen = None
        if published is not None:  # the network's module reads the id from the address
            from campaign_scheduler.publishing.accounts import ConfiguredChannels

            channel = ConfiguredChannels(c.settings, timeout=15).channel_for(account)
            seen = channel.find_published(published)
        write_line(
            tr(
                resolve_delivery(
                    c.store,
                    c.campaign.slug,
                    key,
                    account,
                    published_url=published,
                    published_as=seen,
                    actor=current_user(actor),
                    now=utcnow(),
                )
            )
        )
        announce(c.store)  # it may go out again, or its first comment (or the rest of a thread)
    err_line(tr("recorded in the audit trail"))
