"""``campaign check``: every problem in the campaign, its drafts and the configuration.

The checks are pure: they read parsed files and return :class:`Problem` objects with file and
line; nothing here touches the database or the network.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from campaign_scheduler.calendar_rules import (
    calendar_of,
    day_problems,
    region_problems,
    weekday_msg,
)
from campaign_scheduler.campaign import Campaign, load_campaign
from campaign_scheduler.channels.catalog import channel_of, installed_names
from campaign_scheduler.channels.registry import ChannelPluginError
from campaign_scheduler.config import Account, Settings
from campaign_scheduler.drafts import Draft, load_drafts, read_drafts, whole_drafts
from campaign_scheduler.fields import did_you_mean
from campaign_scheduler.planning import (
    IntendedDelivery,
    PlannedPost,
    intended_deliveries,
    planned_post,
)
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.timeutil import format_duration, format_local, in_windows
from campaign_scheduler.uilang import N_, msg

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import Channel
    from campaign_scheduler.draftcache import CachedDraft

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass
class CheckResult:
    """What ``check`` found. ``planned`` is what ``load`` compares of each draft; the whole
    ``drafts`` (and their ``deliveries``) are made only when asked for: drafts taken from the
    cache are not built again unless something needs more than their planned posts."""

    campaign: Campaign | None
    problems: list[Problem] = field(default_factory=list)
    planned: list[PlannedPost] = field(default_factory=list)
    #: How many drafts could be parsed (as many as ``drafts`` will hold).
    draft_count: int = 0
    found: list[Draft | CachedDraft] = field(default_factory=list, repr=False)
    settings: Settings | None = field(default=None, repr=False)

    @cached_property
    def drafts(self) -> list[Draft]:
        return whole_drafts(self.found)

    @cached_property
    def deliveries(self) -> list[IntendedDelivery]:
        if self.settings is None or self.campaign is None:
            return []
        return intended_deliveries(self.drafts, self.settings, self.planned)

    def card_links(self) -> Iterator[tuple[Path, tuple[tuple[str, str, int], ...]]]:
        """(file, card links) of each draft that shows a link card, from the planned posts
        (for :func:`campaign_scheduler.linkcards.refresh_card_links`): no draft made whole."""
        for post in self.planned:
            if post.links:
                yield Path(post.file), post.links

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def check(
    settings: Settings,
    *,
    cached: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Parse and validate campaign, drafts and config; collect every problem.

    With ``cached``, drafts whose files have not changed are taken with their problems from
    the campaign's cache (:mod:`campaign_scheduler.draftcache`) instead of parsed and checked
    again. ``progress`` is called with (drafts done, drafts in all)."""
    problems: list[Problem] = list(settings.problems)
    campaign, campaign_problems = load_campaign(settings.campaign_path)
    problems.extend(campaign_problems)
    if campaign is None:
        drafts, draft_problems = load_drafts(settings.posts_path, None, progress=progress)
        return CheckResult(
            None, [*problems, *draft_problems], draft_count=len(drafts), found=list(drafts)
        )
    calendar = calendar_of(campaign)

    def draft_checks(draft: Draft) -> list[Problem]:
        # (imported here: a check of cached drafts checks none, and need not load them)
        from campaign_scheduler.content_checks import date_problems, link_problems

        found = _check_draft(draft, campaign, settings)
        found.extend(date_problems(draft, campaign))
        found.extend(link_problems(draft))
        if calendar is not None:
            found.extend(day_problems(draft, campaign, calendar))
        return found

    cache = None
    if cached:
        from campaign_scheduler.draftcache import DraftCache

        cache = DraftCache.open(settings, campaign)
    found, draft_problems = read_drafts(
        settings.posts_path, campaign, checks=draft_checks, cache=cache, progress=progress
    )
    problems.extend(draft_problems)
    stored = {} if cache is None else cache.planned  # (planned as the cache stored them)
    planned = [
        item.planned
        if not isinstance(item, Draft)
        else stored.get(item.key) or planned_post(item, settings)
        for item in found
    ]
    result = CheckResult(campaign, problems, planned, len(found), found, settings)
    problems.extend(_check_accounts(settings, campaign))
    problems.extend(_example_placeholders(settings))
    problems.extend(region_problems(campaign))
    problems.extend(_check_gaps(planned, campaign))
    problems.sort(key=lambda p: (str(p.path), p.line or 0))
    return result


def _check_accounts(settings: Settings, campaign: Campaign) -> list[Problem]:
    problems = []
    slugs = [s.slug for s in campaign.senders]
    config_path = settings.config_path or Path("config.toml")
    for account in settings.accounts.values():
        if campaign.sender(account.sender) is None:
            problems.append(
                Problem(
                    config_path,
                    account.line,
                    msg(
                        "account '{account}': unknown sender '{sender}'{suggestion}",
                        account=account.name,
                        sender=account.sender,
                        suggestion=did_you_mean(account.sender, slugs),
                    ),
                )
            )
    return problems


# What config.example.toml uses for identities: reserved example hosts (RFC 2606: the .example
# top-level domain, example.org/.com/.net) and ids spelt "EXAMPLE" or "beispiel". A live config
# that still holds one publishes nowhere, or somewhere nobody meant.
_EXAMPLE_VALUE = re.compile(r"(?<![\w-])example(?![\w])|beispiel", re.IGNORECASE)


def _example_placeholders(settings: Settings) -> list[Problem]:
    """Warn about example identities left in a live config (not in an *.example.toml itself)."""
    config_path = settings.config_path or Path("config.toml")
    if config_path.name.endswith(".example.toml"):
        return []
    problems = []
    for account in settings.accounts.values():
        values = {"base_url": account.base_url, **account.settings}
        keys = [k for k, v in values.items() if isinstance(v, str) and _EXAMPLE_VALUE.search(v)]
        if keys:
            problems.append(
                Problem(
                    config_path,
                    account.line,
                    msg(
                        "account '{account}': {keys} still holds an example value from "
                        "config.example.toml; put in the account's own",
                        account=account.name,
                        keys=keys[0],
                    )
                    if len(keys) == 1
                    else msg(
                        "account '{account}': {keys} still hold example values from "
                        "config.example.toml; put in the account's own",
                        account=account.name,
                        keys=", ".join(keys),
                    ),
                    Severity.WARNING,
                )
            )
    return problems


def _mentions_hashtag(text: str, hashtag: str) -> bool:
    pattern = rf"(?<![\w#]){re.escape(hashtag)}(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


#: What a draft's time outside the campaign period is told, by the end it lies beyond.
_OUTSIDE_PERIOD = {
    "start": N_("due {due}, before the campaign starts ({start})"),
    "end": N_("due {due}, after the campaign ends ({end}); set campaign.ends to post later"),
}


def _check_draft(draft: Draft, campaign: Campaign, settings: Settings) -> list[Problem]:
    from campaign_scheduler.video_checks import video_problems
    from campaign_scheduler.videotypes import is_video_name

    problems: list[Problem] = []

    def error(message: str, line: int | None, severity: Severity = Severity.ERROR) -> None:
        problems.append(Problem(draft.path, line, message, severity))

    doc = draft.doc
    zone = campaign.zone
    if not draft.body and not all(c in draft.variants for c in draft.channels):
        error(msg("the post text is empty"), draft.body_line)

    # Times.
    due = draft.due_at
    if due is not None:
        at_line = doc.line_of("at")
        if draft.not_after is not None and due > draft.not_after:
            times = {
                "due": format_local(due, zone),
                "deadline": format_local(draft.not_after, zone),
            }
            if draft.not_after_text:
                error(
                    msg("at ({due}) is after not_after ({deadline})", **times),
                    doc.line_of("not_after"),
                )
            else:
                error(
                    msg(
                        "at ({due}) is after the default deadline (event start) ({deadline})",
                        **times,
                    ),
                    at_line,
                )
        for bound, at in campaign.outside_period(due):
            shown = {"due": format_local(due, zone), bound: format_local(at, zone)}
            error(msg(_OUTSIDE_PERIOD[bound], **shown), at_line)
        if not in_windows(due, campaign.rules.windows, zone):
            windows = ", ".join(w.text for w in campaign.rules.windows)
            error(
                msg(
                    "due {due} ({weekday}), outside the posting windows ({windows})",
                    due=format_local(due, zone),
                    weekday=weekday_msg(due.astimezone(zone).date()),
                    windows=windows,
                ),
                at_line,
            )

    if not LANGUAGE_TAG.match(draft.language):
        error(
            msg(
                "language '{language}' is not a language tag like 'de' or 'en-GB'",
                language=draft.language,
            ),
            doc.line_of("language"),
        )

    # Channels and accounts.
    classes: dict[str, type[Channel]] = {}
    for channel in draft.channels:
        try:
            cls = channel_of(channel)
        except ChannelPluginError as exc:
            error(exc.message, doc.line_of("channels"))
            continue
        if cls is None:
            error(
                msg(
                    "unknown channel '{channel}'{suggestion}",
                    channel=channel,
                    suggestion=did_you_mean(channel, installed_names()),
                ),
                doc.line_of("channels"),
            )
            continue
        classes[channel] = cls
        if not settings.accounts_of(draft.sender, channel):
            error(
                msg(
                    "sender '{sender}' has no account on {channel} "
                    "(add [accounts.{sender}-{channel}] to the config)",
                    sender=draft.sender,
                    channel=channel,
                ),
                doc.line_of("channels"),
            )
        elif cls.spec.needs_media and not draft.media:
            error(
                msg("{channel} needs an image: add a [[media]] entry", channel=channel),
                doc.line_of("channels"),
            )

    for name in draft.accounts:
        account = settings.accounts.get(name)
        if account is None:
            error(
                msg(
                    "unknown account '{account}'{suggestion}",
                    account=name,
                    suggestion=did_you_mean(name, settings.accounts),
                ),
                doc.line_of("accounts"),
            )
        elif account.sender != draft.sender:
            error(
                msg(
                    "account '{account}' belongs to sender '{owner}', not '{sender}'",
                    account=name,
                    owner=account.sender,
                    sender=draft.sender,
                ),
                doc.line_of("accounts"),
            )
        elif account.channel not in draft.channels:
            error(
                msg(
                    "account '{account}' is on {channel}, which 'channels' does not list",
                    account=name,
                    channel=account.channel,
                ),
                doc.line_of("accounts"),
            )
    for channel in draft.variants:
        if channel not in draft.channels:
            error(
                msg("variant for '{channel}', which 'channels' does not list", channel=channel),
                doc.line_of("variants", channel),
                Severity.WARNING,
            )

    if draft.first_comment is not None:
        problems.extend(_comment_problems(draft, classes))

    # Hashtag.
    hashtag = campaign.hashtag
    if campaign.rules.require_hashtag and hashtag:
        for channel in draft.channels or ("",):
            text = draft.text_for(channel)
            cls = classes.get(channel)
            if draft.first_comment and cls is not None and cls.comment_rule is not None:
                text = f"{text}\n{draft.first_comment}"  # the hashtag may be in the comment
            if text and not _mentions_hashtag(text, hashtag):
                if channel in draft.variants:
                    lacks = msg(
                        "the text (variant for {channel}) lacks the hashtag {hashtag}",
                        channel=channel,
                        hashtag=hashtag,
                    )
                else:
                    lacks = msg("the text lacks the hashtag {hashtag}", hashtag=hashtag)
                error(lacks, draft.text_line(channel))
                if channel not in draft.variants:
                    break

    # Media.
    for media in draft.media:
        if not media.path.exists():
            error(msg("media file not found: {path}", path=media.relative), media.line)
        if campaign.rules.require_alt_text and not media.alt:
            if is_video_name(media.relative):
                no_alt = msg('video {path} has no alt text (add alt = "…")', path=media.relative)
            else:
                no_alt = msg('image {path} has no alt text (add alt = "…")', path=media.relative)
            error(no_alt, media.line)
    problems.extend(video_problems(draft, classes))

    # Length, counted the way each network counts, per target account.
    seen: set[tuple[str, int | None]] = set()
    for channel, cls in classes.items():
        accounts: list[Account | None] = [*settings.accounts_of(draft.sender, channel)] or [None]
        for account in accounts:
            limit = account.max_characters if account is not None else None
            if (channel, limit) in seen:
                continue
            seen.add((channel, limit))
            threads = cls.spec.supports_threads
            if draft.split and threads:
                continue  # the channel renders an over-long text as a thread
            text = draft.text_for(channel)
            for issue in cls.text_rule.issues(
                channel, text, with_media=bool(draft.media), limit=limit
            ):
                where = (
                    msg(" (account {account})", account=account.name)
                    if limit is not None and account
                    else ""
                )
                if threads:
                    too_long = msg(
                        "{problem}{account}; add a shorter [variants.{channel}] text "
                        "or split = true",
                        problem=issue.message(),
                        account=where,
                        channel=channel,
                    )
                else:
                    too_long = msg(
                        "{problem}{account}; add a shorter [variants.{channel}] text "
                        "({channel} has no threads)",
                        problem=issue.message(),
                        account=where,
                        channel=channel,
                    )
                error(too_long, draft.text_line(channel))
    return problems


def _comment_problems(draft: Draft, classes: dict[str, type[Channel]]) -> list[Problem]:
    """``first_comment``: refused when none of the draft's channels takes one, a warning for the
    channels without comments when others take it, and counted per network that takes it."""
    comment = draft.first_comment or ""
    line = draft.comment_line()
    takers = [c for c, cls in classes.items() if cls.comment_rule is not None]
    others = [c for c, cls in classes.items() if cls.comment_rule is None]
    problems: list[Problem] = []
    if not takers and others:
        able = sorted(
            name for name in installed_names() if (cls := _installed(name)) and cls.comment_rule
        )
        problems.append(
            Problem(
                draft.path,
                line,
                msg(
                    "first_comment: {channels} cannot comment on its own posts; only {able} "
                    "take a first comment (remove the key, or put the hashtags or the link "
                    "into the text)",
                    channels=", ".join(others),
                    able=", ".join(able),
                ),
            )
        )
    elif others:
        problems.append(
            Problem(
                draft.path,
                line,
                msg(
                    "first_comment goes out on {takers} only: {channels} cannot comment on its "
                    "own posts, the post goes out there without it",
                    takers=", ".join(takers),
                    channels=", ".join(others),
                ),
                Severity.WARNING,
            )
        )
    for channel in takers:
        rule = classes[channel].comment_rule
        assert rule is not None
        for issue in rule.issues(channel, comment):
            problems.append(
                Problem(
                    draft.path,
                    line,
                    msg("first_comment: {problem}", problem=issue.message()),
                )
            )
    return problems


def _installed(name: str) -> type[Channel] | None:
    try:
        return channel_of(name)
    except ChannelPluginError:
        return None


def _check_gaps(planned: list[PlannedPost], campaign: Campaign) -> list[Problem]:
    """Two posts on one account closer than ``rules.min_gap``."""
    min_gap = campaign.rules.min_gap
    problems: list[Problem] = []
    by_account: dict[str, list[tuple[datetime, PlannedPost]]] = defaultdict(list)
    for post in planned:
        if post.due_at is not None:
            for account, _ in post.deliveries:
                by_account[account].append((post.due_at, post))
    for account, entries in sorted(by_account.items()):
        entries.sort(key=lambda entry: (entry[0], entry[1].key))
        for (earlier_due, earlier), (due, draft) in itertools.pairwise(entries):
            gap = due - earlier_due
            if gap < min_gap:
                problems.append(
                    Problem(
                        Path(draft.file),
                        draft.at_line,
                        msg(
                            "{key} and {other} both post on {account} within {gap} "
                            "(rules.min_gap is {min_gap})",
                            key=draft.key,
                            other=earlier.key,
                            account=account,
                            gap=format_duration(gap),
                            min_gap=format_duration(min_gap),
                        ),
                    )
                )
    return problems
