"""A cache of parsed and checked drafts, so that ``check`` and ``load`` do not parse again
what has not changed (``.cache/drafts.json`` next to the campaign file, like the link cards).

An entry holds one draft as parsed and rendered, and every problem the per-draft checks found
in it. It is used only while nothing it was computed from has changed:

- the draft file (modification time in nanoseconds, size, inode);
- each media file it names (where the path leads now, and that file's modification time, size
  and inode; the digest in the content hash is taken from the entry only then);
- the context: the campaign as parsed (event, senders, rules: rendered texts depend on them),
  the accounts (name, channel, sender, max_characters; no secrets), the posts folder, the
  installed channels, and this package's code (the newest modification time of its modules).

Any other difference, an unreadable or damaged file, or an entry of the wrong shape counts as a
miss: the draft is parsed and checked as if there were no cache. The file is written
atomically (a concurrent reader sees the old or the new file, never half of one; of two
concurrent writers the last one wins, and both files are whole); a folder that cannot be
written leaves the cache unwritten, never a failed command.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from pathlib import Path
from time import time_ns
from typing import Any, NamedTuple

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.config import Settings
from campaign_scheduler.drafts import Draft, Media
from campaign_scheduler.media import MediaLocation, MediaRefusedError
from campaign_scheduler.planning import PlannedPost, planned_post
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.tomlsource import TomlDocument

CACHE_FILE = Path(".cache") / "drafts.json"
#: Bumped whenever the layout of an entry changes.
FORMAT = 5

Stamp = list[int]


#: A file changed this recently may change again within the same tick of the file system's
#: clock without a new modification time ("racy git"): it is not cached until it is older.
SETTLED_NS = 2_000_000_000


def file_stamp(path: Path | str) -> Stamp | None:
    """What tells that a file changed without reading it: mtime (ns), size, inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _settled(stamp: Stamp | None) -> bool:
    return stamp is not None and stamp[0] < time_ns() - SETTLED_NS


def cache_path(campaign: Campaign) -> Path:
    return campaign.path.parent / CACHE_FILE


def _code_stamp() -> int:
    package = Path(__file__).parent
    return max((p.stat().st_mtime_ns for p in package.rglob("*.py")), default=0)


def context_fingerprint(settings: Settings, campaign: Campaign) -> str | None:
    """What every entry depends on besides its own files; None when it cannot be told."""
    from campaign_scheduler import __version__
    from campaign_scheduler.channels.catalog import installed_names

    described = repr(campaign)
    if " at 0x" in described:  # an object without a value repr: cannot tell a change
        return None
    accounts = sorted(
        (a.name, a.channel, a.sender, a.max_characters) for a in settings.accounts.values()
    )
    context = [
        FORMAT,
        __version__,
        _code_stamp(),
        described,
        accounts,
        str(settings.posts_path.absolute()),
        installed_names(),
    ]
    encoded = json.dumps(context, default=str, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


# --- TOML values as JSON: dates and times as {"\0": [kind, ISO text]} ----------------------

_MARK = "\0"  # (a TOML table with this key is not cached, so the mark is never ambiguous)
_TIMES: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
}


def _encode(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if _MARK in value:
            raise TypeError("a key the cache uses as its mark")
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, datetime | date | time):
        return {_MARK: [type(value).__name__, value.isoformat()]}
    raise TypeError(f"no cache encoding for {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if _MARK in value:
            kind, text = value[_MARK]
            return _TIMES[kind](text)
        return {k: _decode(v) for k, v in value.items()}
    return value


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class CachedDraft(NamedTuple):
    """A draft whose entry is valid: what ``load`` and the checks across drafts need of it
    (``planned``), and the way to the whole :class:`Draft` when something needs more."""

    key: str
    sender: str
    file: str
    posts_dir: Path
    planned: PlannedPost
    cache: DraftCache

    def draft(self) -> Draft | None:
        return self.cache.draft(self)


@dataclass
class DraftCache:
    """The entries of one campaign's cache, read once and written once per command.

    The file holds two JSON documents, one a line: first what tells whether an entry is
    still valid, with the entry's problems and planned post (``entries``: small, read on
    every command), then the drafts as parsed and rendered (``drafts``: read only when a
    :class:`Draft` is wanted from the cache, or the file is written)."""

    path: Path
    context: str
    entries: dict[str, dict[str, Any]]
    changed: bool = False
    settings: Settings | None = None
    campaign: Campaign | None = None
    #: The planned posts of the drafts stored in this run, by key (for ``check`` to take).
    planned: dict[str, PlannedPost] = field(default_factory=dict)
    #: The second line of the file, decoded and parsed only when needed.
    rest: bytes = b""
    _drafts: dict[str, Any] | None = None
    _folders: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, campaign: Campaign) -> DraftCache | None:
        context = context_fingerprint(settings, campaign)
        if context is None:
            return None
        path = cache_path(campaign)
        entries: dict[str, dict[str, Any]] = {}
        rest = b""
        try:
            first, _, rest = path.read_bytes().partition(b"\n")
            data = json.loads(first)
            if data["format"] == FORMAT and data["context"] == context:
                entries = dict(data["drafts"])
            else:
                rest = b""
        except (OSError, ValueError, KeyError, TypeError):
            rest = b""  # no cache, or a damaged one: it is only a cache
        return cls(path, context, entries, settings=settings, campaign=campaign, rest=rest)

    @property
    def drafts(self) -> dict[str, Any]:
        """The drafts as parsed and rendered, by key (``{}`` when that line is damaged)."""
        if self._drafts is None:
            try:
                drafts = json.loads(self.rest) if self.rest else {}
            except ValueError:
                drafts = {}
            self._drafts = drafts if isinstance(drafts, dict) else {}
            self.rest = b""
        return self._drafts

    def lookup(
        self, file: str, key: str, sender: str, posts_dir: Path
    ) -> tuple[CachedDraft | None, list[Problem]] | None:
        """The draft in ``file`` (None: it could not be parsed) and its problems as cached,
        or None when the entry is missing, stale or damaged. No :class:`Draft` is made."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            if entry["stamp"] != file_stamp(file):
                return None
            for relative, located, stamp in entry["media"]:
                where = MediaLocation(posts_dir, sender, relative).locate()
                if str(where) != located or file_stamp(where) != stamp:
                    return None
            problems = []
            if entry["problems"]:
                path = Path(file)
                problems = [
                    Problem(path, line, _decode_message(message), Severity(severity))
                    for line, message, severity in entry["problems"]
                ]
            plan = entry["plan"]
            if plan is None:
                return None, problems
            due, at_line, post_hash, deliveries, links = plan
            planned = PlannedPost(
                key,
                file,
                _optional_time(due),
                int(at_line),
                str(post_hash),
                tuple([(str(account), str(hash_)) for account, hash_ in deliveries]),
                tuple([(str(channel), str(link), int(line)) for channel, link, line in links]),
            )
        except (MediaRefusedError, KeyError, TypeError, ValueError, IndexError):
            return None
        return CachedDraft(key, sender, file, posts_dir, planned, self), problems

    def draft(self, cached: CachedDraft) -> Draft | None:
        """The whole draft of a valid entry; parsed (and rendered) again when its draft is
        not cached as it should be."""
        folder = self._folders.get(cached.sender)
        if folder is None:
            folder = self._folders[cached.sender] = cached.posts_dir / cached.sender
        path = folder / cached.file.rpartition(os.sep)[2]  # (a third of Path(file)'s cost)
        draft = self._cached_draft(path, cached.key, cached.sender, cached.posts_dir)
        if draft is not None:
            return draft
        from campaign_scheduler.drafts import parse_draft
        from campaign_scheduler.placeholders import render_draft

        ignored: list[Problem] = []  # (the entry's problems are those of this file)
        draft = parse_draft(
            path, cached.key, cached.sender, self.campaign, ignored, posts_dir=cached.posts_dir
        )
        if draft is not None and self.campaign is not None:
            draft = render_draft(draft, self.campaign, ignored)
        return draft

    def _cached_draft(self, path: Path, key: str, sender: str, posts_dir: Path) -> Draft | None:
        raw = self.drafts.get(key)
        if raw is None:
            return None
        try:
            media = []
            for relative, alt, line, located, stamp, digest in raw["media"]:
                location = MediaLocation(posts_dir, sender, relative)
                where = location.locate()
                if str(where) != located or file_stamp(where) != stamp:
                    return None
                media.append((Media(where, relative, alt, line, location), digest))
            doc = TomlDocument(
                path,
                _decode(raw["data"]) if raw["times"] else raw["data"],
                {tuple(k): line for k, line in raw["lines"]},
                raw["first_line"],
            )
            values = {
                "key": key,
                "sender": sender,
                "path": path,
                "doc": doc,
                "body": raw["body"],
                "body_line": raw["body_line"],
                "at_text": raw["at_text"],
                "due_at": _optional_time(raw["due_at"]),
                "not_after_text": raw["not_after_text"],
                "not_after": _optional_time(raw["not_after"]),
                "channels": tuple(raw["channels"]),
                "accounts": tuple(raw["accounts"]),
                "language": raw["language"],
                "media": tuple(m for m, _ in media),
                "variants": dict(raw["variants"]),
                "split": raw["split"],
                "first_comment": raw["first_comment"],
                # The digests were taken of the very files (same stamps) the entry names.
                "media_digests": [[m.relative, m.alt, d] for m, d in media],
                "channel_hashes": dict(raw["hashes"]),
                "content_hash": str(raw["post_hash"]),
            }
        except (MediaRefusedError, KeyError, TypeError, ValueError, IndexError):
            return None
        return _made_draft(values)

    def put(self, path: Path, key: str, draft: Draft | None, problems: list[Problem]) -> None:
        """Remember what parsing and checking ``path`` gave; problems about other files
        (or a draft whose values do not fit the cache) leave it uncached."""
        stamp = file_stamp(path)
        if not _settled(stamp) or any(p.path != path for p in problems):
            self.entries.pop(key, None)
            return
        raw: dict[str, Any] | None = None
        plan: list[Any] | None = None
        try:
            if draft is not None:
                raw = _draft_entry(draft)
                plan = self._plan(draft)
        except TypeError:
            self.entries.pop(key, None)
            return
        self.entries[key] = {
            "stamp": stamp,
            "media": [] if raw is None else [[m[0], m[3], m[4]] for m in raw["media"]],
            "problems": [[p.line, _encode_message(p.message), p.severity.value] for p in problems],
            "plan": plan,
        }
        if raw is None:
            self.drafts.pop(key, None)
        else:
            self.drafts[key] = raw
        self.changed = True

    def _plan(self, draft: Draft) -> list[Any]:
        if self.settings is None:
            raise TypeError("no settings to plan with")
        planned = self.planned[draft.key] = planned_post(draft, self.settings)
        return [
            planned.due_at.isoformat() if planned.due_at else None,
            planned.at_line,
            planned.content_hash,
            [list(d) for d in planned.deliveries],
            [list(link) for link in planned.links],
        ]

    def keep_only(self, keys: set[str]) -> None:
        """Forget the entries of drafts that are gone."""
        for key in set(self.entries) - keys:
            del self.entries[key]
            self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        from campaign_scheduler.errors import CampaignSchedulerError
        from campaign_scheduler.files import write_atomically

        drafts = {key: raw for key, raw in self.drafts.items() if key in self.entries}
        data = {"format": FORMAT, "context": self.context, "drafts": self.entries}
        text = json.dumps(data, ensure_ascii=False) + "\n" + json.dumps(drafts, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, text)
        except (OSError, CampaignSchedulerError):
            return  # a read-only campaign folder: the next command parses again
        self.changed = False


#: What a draft from the cache is given: every field, and the values computed already.
DRAFT_VALUES = frozenset(
    [f.name for f in fields(Draft)] + ["media_digests", "channel_hashes", "content_hash"]
)


def _made_draft(values: dict[str, Any]) -> Draft:
    """A :class:`Draft` of ``values`` (all of :data:`DRAFT_VALUES`), made without its
    frozen dataclass's ``__init__``: that set each of 17 fields through
    ``object.__setattr__``, half the time of making 10,000 drafts whole from the cache."""
    draft = object.__new__(Draft)
    draft.__dict__.update(values)
    return draft


def _draft_entry(draft: Draft) -> dict[str, Any]:
    data = _encode(draft.doc.data)
    stamps = [file_stamp(m.path) for m in draft.media]
    digests = draft.media_digests
    if not all(map(_settled, stamps)) or stamps != [file_stamp(m.path) for m in draft.media]:
        raise TypeError("a media file is changing")  # (so its digest may not be this one)
    return {
        "data": data,
        "times": data != draft.doc.data,  # (only dates and times are encoded)
        "lines": [[list(k), line] for k, line in draft.doc.key_lines.items()],
        "first_line": draft.doc.first_line,
        "body": draft.body,
        "body_line": draft.body_line,
        "at_text": draft.at_text,
        "due_at": draft.due_at.isoformat() if draft.due_at else None,
        "not_after_text": draft.not_after_text,
        "not_after": draft.not_after.isoformat() if draft.not_after else None,
        "channels": list(draft.channels),
        "accounts": list(draft.accounts),
        "language": draft.language,
        "media": [
            [m.relative, m.alt, m.line, str(m.path), stamp, digest]
            for m, stamp, (_, _, digest) in zip(draft.media, stamps, digests, strict=True)
        ],
        "variants": draft.variants,
        "split": draft.split,
        "first_comment": draft.first_comment,
        "hashes": draft.channel_hashes,
        "post_hash": draft.content_hash,
    }


def _encode_message(message: str) -> Any:
    """A problem's message as JSON: a translatable :class:`Msg` keeps its msgid and values
    (so a cached run speaks the user's language too), anything else its text."""
    from campaign_scheduler.uilang import Msg

    if not isinstance(message, Msg):
        return str(message)
    values: dict[str, Any] = {}
    for name, value in message.values.items():
        if isinstance(value, Msg):
            values[name] = _encode_message(value)
        elif value is None or isinstance(value, str | int | float | bool):
            values[name] = value if not isinstance(value, str) else str(value)
        else:
            return str(message)  # (a value JSON cannot hold: keep the English text)
    return {"msgid": message.msgid, "values": values}


def _decode_message(data: Any) -> str:
    from campaign_scheduler.uilang import Msg

    if isinstance(data, str):
        return data
    values = {
        name: _decode_message(value) if isinstance(value, dict) else value
        for name, value in data["values"].items()
    }
    return Msg(str(data["msgid"]), **values)
