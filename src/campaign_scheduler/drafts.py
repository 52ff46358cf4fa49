"""Drafts: ``posts/<sender>/<name>.md``, TOML front matter between ``+++`` lines, then the text.

A draft's key is its path below ``posts/`` without the extension (``soest/03-klimaneutral``);
it never changes once published. Parsing resolves the draft's times in the campaign's zone and
keeps the line of every front-matter key for messages.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.errors import InputError
from campaign_scheduler.fields import FieldReader, did_you_mean
from campaign_scheduler.media import MediaLocation, MediaRefusedError
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.textfile import read_text, split_lines
from campaign_scheduler.timeutil import WhenError, parse_when
from campaign_scheduler.tomlsource import TomlDocument, parse_toml
from campaign_scheduler.uilang import N_, Msg, msg

if TYPE_CHECKING:
    from campaign_scheduler.draftcache import CachedDraft, DraftCache

FRONT_MATTER_FENCE = "+++"
DRAFT_SUFFIX = ".md"
DRAFT_KEYS = (
    "at",
    "channels",
    "accounts",
    "not_after",
    "language",
    "media",
    "variants",
    "split",
    "first_comment",
)
MEDIA_KEYS = ("path", "alt")
VARIANT_KEYS = ("text",)


@dataclass(frozen=True)
class Media:
    path: Path  # absolute, symlinks resolved, inside the sender's folder
    relative: str  # as written, relative to the draft's folder
    alt: str | None
    line: int
    location: MediaLocation

    def file_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.location.read()).hexdigest()
        except OSError:
            return None


@dataclass(frozen=True)
class Draft:
    key: str
    sender: str
    path: Path
    doc: TomlDocument
    body: str
    body_line: int
    at_text: str
    due_at: datetime | None  # UTC; None when `at` is invalid
    not_after_text: str | None
    not_after: datetime | None  # UTC; explicit or the default deadline
    channels: tuple[str, ...]
    accounts: tuple[str, ...]
    language: str
    media: tuple[Media, ...]
    variants: dict[str, str] = field(default_factory=dict)
    split: bool = False
    #: The comment that follows the post where the network has comments (Instagram, Facebook,
    #: LinkedIn): hashtags or the link, out of the caption.
    first_comment: str | None = None

    def comment_line(self) -> int:
        return self.doc.line_of("first_comment")

    def text_for(self, channel: str) -> str:
        return self.variants.get(channel, self.body)

    @cached_property
    def media_digests(self) -> list[list[str | None]]:
        """What the content hashes cover of the media: path, alt text and file digest."""
        return [[m.relative, m.alt, m.file_digest()] for m in self.media]

    @cached_property
    def content_hash(self) -> str:
        """The hash of the post as a whole (``load`` compares it with the stored one)."""
        from campaign_scheduler.planning import post_hash

        return post_hash(self, self.media_digests)

    @cached_property
    def channel_hashes(self) -> dict[str, str]:
        """The content hash of a delivery on each of the draft's channels."""
        from campaign_scheduler.planning import delivery_hash

        by_content: dict[tuple[str, str | None], str] = {}
        hashes: dict[str, str] = {}
        for channel in self.channels:
            content = (self.text_for(channel), self.comment_for(channel))
            if content not in by_content:
                by_content[content] = delivery_hash(
                    self, content[0], self.media_digests, content[1]
                )
            hashes[channel] = by_content[content]
        return hashes

    def comment_for(self, channel: str) -> str | None:
        """The first comment on ``channel``: only networks that take comments get it (``check``
        warns about the others, or refuses when none of the draft's networks takes it)."""
        if not self.first_comment:
            return None
        from campaign_scheduler.channels.catalog import takes_comments

        return self.first_comment if takes_comments(channel) else None

    def text_line(self, channel: str) -> int:
        if channel in self.variants:
            return self.doc.line_of("variants", channel, "text")
        return self.body_line


def default_not_after(due_at: datetime, campaign: Campaign) -> datetime | None:
    """A countdown post must not go out after the moment it makes sense: by default the event
    start for posts due before it, the event end for posts during it, no deadline after it."""
    event = campaign.event
    if due_at < event.start:
        return event.start
    if event.end is not None and due_at < event.end:
        return event.end
    return None


def split_front_matter(text: str, path: Path) -> tuple[str, int, str, int]:
    """Return (front matter, its first line, body, the body's first line)."""
    lines = split_lines(text)
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        problem = Problem(path, 1, msg("a draft must start with a '+++' line (TOML front matter)"))
        raise InputError.of(problem)
    for index in range(1, len(lines)):
        if lines[index].strip() == FRONT_MATTER_FENCE:
            front = "\n".join(lines[1:index])
            body_lines = lines[index + 1 :]
            skipped = 0
            while skipped < len(body_lines) and not body_lines[skipped].strip():
                skipped += 1
            body = "\n".join(body_lines[skipped:]).strip()
            return front, 2, body, index + 2 + skipped
    problem = Problem(path, 1, msg("the front matter is not closed: add a '+++' line after it"))
    raise InputError.of(problem)


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a command reads, checks and loads
    thousands of drafts: they make millions of objects that all live until the command ends,
    and the collector would walk them again and again (a quarter of a cached ``check`` of
    10,000 drafts). What they leave behind is collected as usual once it is enabled again.

    With ``freeze`` (a process that ends with its command: ``campaign``'s own), the objects
    alive then are moved out of the collector's way (``gc.freeze``) before it resumes: its
    first collection would otherwise walk all of them, finding nothing to free in a process
    about to end (0.1–0.2 s of CPU after a load of 10,000 drafts). They are still freed by
    their reference counts; only cycles among them wait for the end of the process."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze:
                gc.freeze()
            gc.enable()


def _draft_files(posts_dir: Path) -> list[list[str]]:
    """The parts below ``posts_dir`` of every ``*.md`` file there, sorted, as ``rglob`` finds
    them (symlinked folders not entered), with one ``scandir`` per folder instead of a
    ``stat`` per file; no ``Path`` is made for them (for 10,000 drafts that was a tenth of a
    cached ``check``)."""
    found: list[list[str]] = []
    pending = [[str(posts_dir)]]
    while pending:
        parts = pending.pop()
        try:
            entries = list(os.scandir(os.path.join(*parts)))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append([*parts, entry.name])
            elif entry.name.endswith(DRAFT_SUFFIX) and entry.is_file():
                found.append([*parts[1:], entry.name])
    found.sort()
    return found


def load_drafts(
    posts_dir: Path,
    campaign: Campaign | None,
    *,
    checks: Callable[[Draft], list[Problem]] | None = None,
    cache: DraftCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Draft], list[Problem]]:
    """Parse every draft below ``posts_dir``. Unparseable drafts are left out, with problems.

    ``checks`` finds the problems of one parsed draft; with a ``cache``, a draft whose files
    have not changed is taken from it with its problems, and not parsed or checked again.
    ``progress`` is called with (drafts done, drafts in all) as it goes."""
    found, problems = read_drafts(
        posts_dir, campaign, checks=checks, cache=cache, progress=progress
    )
    return whole_drafts(found), problems


def whole_drafts(found: list[Draft | CachedDraft]) -> list[Draft]:
    """The drafts of :func:`read_drafts`, those from the cache made whole."""
    drafts: list[Draft] = []
    for item in found:
        draft = item if isinstance(item, Draft) else item.draft()
        if draft is not None:
            drafts.append(draft)
    return drafts


def read_drafts(
    posts_dir: Path,
    campaign: Campaign | None,
    *,
    checks: Callable[[Draft], list[Problem]] | None = None,
    cache: DraftCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Draft | CachedDraft], list[Problem]]:
    """As :func:`load_drafts`, but a draft taken from the cache is left as the cache holds
    it (a :class:`~campaign_scheduler.draftcache.CachedDraft`: what ``load`` compares, and
    the way to the whole draft), so that nothing is built that is not needed."""
    problems: list[Problem] = []
    found: list[Draft | CachedDraft] = []
    if not posts_dir.is_dir():
        problems.append(Problem(posts_dir, None, msg("posts folder not found")))
        return found, problems
    sender_slugs = [s.slug for s in campaign.senders] if campaign else []
    known = {s.slug for s in campaign.senders} if campaign else set()
    files = _draft_files(posts_dir)
    folder = str(posts_dir)
    prefix = "" if folder == "." else os.path.join(folder, "")  # (as a Path would say it)
    keys: set[str] = set()
    for done, relative in enumerate(files, 1):
        if progress is not None:
            progress(done, len(files))
        if len(relative) != 2:
            problems.append(
                Problem(
                    posts_dir.joinpath(*relative),
                    None,
                    msg("drafts belong in posts/<sender>/<name>.md, one folder per sender"),
                )
            )
            continue
        sender, name = relative
        if campaign is not None and sender not in known:
            problems.append(
                Problem(
                    posts_dir.joinpath(*relative),
                    None,
                    msg(
                        "unknown sender '{sender}' (folder posts/{sender}/){suggestion}",
                        sender=sender,
                        suggestion=did_you_mean(sender, sender_slugs),
                    ),
                )
            )
            continue
        key = f"{sender}/{name.removesuffix(DRAFT_SUFFIX)}"
        keys.add(key)
        file = f"{prefix}{sender}{os.sep}{name}"
        cached = cache.lookup(file, key, sender, posts_dir) if cache is not None else None
        item: Draft | CachedDraft | None
        if cached is not None:
            item, own = cached
        else:
            path = posts_dir.joinpath(sender, name)
            own = []
            draft = parse_draft(path, key, sender, campaign, own, posts_dir=posts_dir)
            if draft is not None and campaign is not None:
                from campaign_scheduler.placeholders import render_draft  # (only when parsing)

                draft = render_draft(draft, campaign, own)
            if draft is not None and checks is not None:
                own.extend(checks(draft))
            if cache is not None:
                cache.put(path, key, draft, own)
            item = draft
        problems.extend(own)
        if item is not None:
            found.append(item)
    if cache is not None:
        cache.keep_only(keys)
        cache.save()
    return found, problems


def parse_draft(
    path: Path,
    key: str,
    sender: str,
    campaign: Campaign | None,
    problems: list[Problem],
    *,
    posts_dir: Path | None = None,
) -> Draft | None:
    """Parse one draft; ``posts_dir`` (by default the folder above the sender's) is where
    its media must stay, in ``posts_dir/<sender>/``."""
    posts_dir = path.parent.parent if posts_dir is None else posts_dir
    try:
        text = read_text(path, what="the draft")
    except FileNotFoundError as exc:
        problems.append(
            Problem(path, None, msg("cannot read draft: {error}", error=str(exc.strerror)))
        )
        return None
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    try:
        front, front_line, body, body_line = split_front_matter(text, path)
        doc = parse_toml(front, path, first_line=front_line)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    reader = FieldReader(doc, problems)
    data = doc.data
    problems.extend(_line_break_lookalikes(path, body, body_line))
    reader.known_keys(data, (), DRAFT_KEYS)

    due_at: datetime | None = None
    at_value = data.get("at")
    at_text = "" if at_value is None else str(at_value)
    if at_value is None:
        reader.error(msg("missing key 'at' (when the post goes out, e.g. \"T-14d 09:30\")"))
    elif campaign is not None:
        due_at = _resolve_when(reader, at_value, campaign, "at")

    not_after: datetime | None = None
    not_after_value = data.get("not_after")
    not_after_text = None if not_after_value is None else str(not_after_value)
    if campaign is not None:
        if not_after_value is not None:
            not_after = _resolve_when(reader, not_after_value, campaign, "not_after")
        elif due_at is not None:
            not_after = default_not_after(due_at, campaign)

    channels = reader.string_list(data, (), "channels", required=True)
    if "channels" in data and not channels and isinstance(data["channels"], list):
        reader.error(msg("'channels' must name at least one channel"), "channels")
    accounts = reader.string_list(data, (), "accounts")
    default_language = campaign.language if campaign else "de"
    language = reader.string(data, (), "language", default=default_language) or default_language
    split = reader.boolean(data, (), "split", False)
    first_comment = reader.string(data, (), "first_comment")
    if first_comment is not None and not first_comment.strip():
        reader.error(
            msg("'first_comment' is empty: write the comment or leave the key out"),
            "first_comment",
        )
    first_comment = (first_comment or "").strip() or None

    media: list[Media] = []
    for media_path, entry in reader.tables(data, "media", MEDIA_KEYS):
        relative = reader.string(entry, media_path, "path", required=True)
        if relative is None:
            continue
        alt = reader.string(entry, media_path, "alt")
        location = MediaLocation(posts_dir, sender, relative)
        try:
            located = location.locate()
        except MediaRefusedError as exc:
            reader.error(exc.reason, *media_path, "path")
            continue
        media.append(
            Media(
                located, relative, alt.strip() if alt else None, doc.line_of(*media_path), location
            )
        )

    variants: dict[str, str] = {}
    for channel, entry in reader.table(data, ("variants",)).items():
        variant_path = ("variants", channel)
        if not isinstance(entry, dict):
            reader.error(
                msg("[variants.{channel}] must be a table with 'text'", channel=channel),
                *variant_path,
            )
            continue
        reader.known_keys(entry, variant_path, VARIANT_KEYS)
        variant_text = reader.string(entry, variant_path, "text", required=True)
        if variant_text is not None:
            variants[channel] = variant_text.strip()

    return Draft(
        key=key,
        sender=sender,
        path=path,
        doc=doc,
        body=body,
        body_line=body_line,
        at_text=at_text,
        due_at=due_at,
        not_after_text=not_after_text,
        not_after=not_after,
        channels=tuple(channels),
        accounts=tuple(accounts),
        language=language,
        media=tuple(media),
        variants=variants,
        split=split,
        first_comment=first_comment,
    )


#: Characters that some programs show as a line break and others not at all. They stay in the
#: text as they are (never turned into a line break); ``check`` warns where they are.
LINE_BREAK_LOOKALIKES = {
    "\x0b": N_("vertical tab"),
    "\x0c": N_("form feed"),
    "\x1c": N_("file separator"),
    "\x1d": N_("group separator"),
    "\x1e": N_("record separator"),
    "\x85": N_("next line (U+0085)"),
    "\u2028": N_("line separator (U+2028)"),
    "\u2029": N_("paragraph separator (U+2029)"),
    "\r": N_("carriage return without line feed"),
}


def _line_break_lookalikes(path: Path, body: str, body_line: int) -> list[Problem]:
    found = []
    for offset, line in enumerate(split_lines(body)):
        names = sorted({LINE_BREAK_LOOKALIKES[ch] for ch in line if ch in LINE_BREAK_LOOKALIKES})
        if names:
            found.append(
                Problem(
                    path,
                    body_line + offset,
                    msg(
                        "the text holds a {names}: networks show it differently (or not at all); "
                        "use a plain line break",
                        names=_named_list(names),
                    ),
                    Severity.WARNING,
                )
            )
    return found


def _named_list(names: list[str]) -> str:
    """``vertical tab, a form feed``: each name said in the user's language where shown."""
    said: str = Msg(names[0])
    for name in names[1:]:
        said = msg("{names}, a {name}", names=said, name=Msg(name))
    return said


def _resolve_when(reader: FieldReader, value: Any, campaign: Campaign, key: str) -> datetime | None:
    if not isinstance(value, str | datetime):
        reader.error(
            msg('\'{key}\' must be a time like "T-14d 09:30" or "2021-11-04 09:30"', key=key), key
        )
        return None
    try:
        return parse_when(value, zone=campaign.zone, event_start=campaign.event.start)
    except WhenError as exc:
        reader.error(msg("{key}: {error}", key=key, error=str(exc)), key)
        return None
