"""What ``campaign init`` writes: a campaign file and config.toml, new or from a template.

Pure functions build the file texts; :func:`write_files` puts them on disk only after every
target has been checked (nothing half-written). The command in ``cli/init_cmd.py`` asks the
questions; this module asks none.

A template is an existing campaign file. Its text is kept (comments, rules, windows, every
section this module does not know) and only the values that change are rewritten line by
line: slug, name, hashtag, event and campaign dates, senders. Dates move by the distance
between the old and the new event start, so next year's conference keeps its countdown.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from campaign_scheduler.campaign import Campaign, Sender, load_campaign
from campaign_scheduler.channels.catalog import installed_names, spec_of, title_of
from campaign_scheduler.errors import InputError
from campaign_scheduler.problems import Severity, has_errors
from campaign_scheduler.uilang import msg, tr

#: Words that name the kind of body rather than the place ("Stadt Soest" -> "soest").
_BODY_WORDS = frozenset(
    {"stadt", "kreisstadt", "hansestadt", "gemeinde", "kreis", "landkreis", "markt", "amt"}
)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DEFAULT_NETWORKS = ("mastodon", "bluesky")


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def slugify(text: str) -> str:
    """``Stadt Bad Berleburg`` -> ``bad-berleburg``; ``Kreisstadt Olpe`` -> ``olpe``."""
    folded = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    folded = folded.replace("ß", "ss")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", folded)
    if len(words) > 1 and words[0] in _BODY_WORDS:
        words = words[1:]
    return "-".join(words)


def is_slug(text: str) -> bool:
    return _SLUG.fullmatch(text) is not None


def parse_sender(text: str) -> Sender:
    """``Stadt Soest`` or ``soest=Stadt Soest`` (slug given) as a sender."""
    slug, sep, name = text.partition("=")
    if sep and is_slug(slug.strip()):
        return Sender(slug.strip(), name.strip() or slug.strip())
    name = text.strip()
    return Sender(slugify(name), name)


@dataclass(frozen=True)
class NewCampaign:
    """Everything a new campaign file needs. Times are naive wall-clock times in ``timezone``."""

    slug: str
    name: str
    hashtag: str | None
    event_name: str
    event_start: datetime
    event_end: datetime | None
    event_url: str | None
    starts: date | None
    senders: tuple[Sender, ...]
    require_approval: bool
    timezone: str = "Europe/Berlin"
    language: str = "de"


def _wall(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def campaign_text(new: NewCampaign) -> str:
    """The campaign file of a new campaign, commented like the shipped one."""
    lines = [
        f"# {new.name}",
        '# Format: see README.md ("The campaign file"); drafts live in posts/<sender>/*.md.',
        "",
        "[campaign]",
        f"slug = {toml_string(new.slug)}",
        f"name = {toml_string(new.name)}",
    ]
    if new.hashtag:
        lines.append(f"hashtag = {toml_string(new.hashtag)}   # must appear in every post")
    lines += [
        f"timezone = {toml_string(new.timezone)}   # every wall-clock time means this zone",
        f"language = {toml_string(new.language)}",
    ]
    if new.starts is not None:
        lines.append(
            f'starts = "{new.starts.isoformat()}"   # nothing is published before this day'
        )
    lines += [
        "",
        "[event]",
        f"name = {toml_string(new.event_name)}",
        f'start = "{_wall(new.event_start)}"   # T-0: drafts say "T-7d 09:00", "T-2h"',
    ]
    if new.event_end is not None:
        lines.append(f'end = "{_wall(new.event_end)}"')
    if new.event_url:
        lines.append(f"url = {toml_string(new.event_url)}")
    lines += [
        "",
        "[rules]",
        f"require_hashtag = {'true' if new.hashtag else 'false'}",
        "require_alt_text = true           # every image needs a description (BITV 2.0)",
        'min_gap = "30m"                   # least time between two posts on one account',
        'grace = "2h"                      # how late an overdue post may still go out',
        'windows = ["Mon-Fri 08:00-19:00", "Sat-Sun 10:00-16:00"]   # publishing hours',
        f"require_approval = {'true' if new.require_approval else 'false'}   # true: four eyes",
    ]
    for sender in new.senders:
        lines += ["", "[[senders]]", f"slug = {toml_string(sender.slug)}"]
        lines.append(f"name = {toml_string(sender.name)}")
    return "\n".join(lines) + "\n"


def config_text(
    campaign_file: str,
    senders: Sequence[Sender],
    networks: Sequence[str],
    *,
    database_url: str = "sqlite:///campaign.db",
) -> str:
    """config.toml for a campaign: paths, database, and a commented account per sender and network.

    The accounts stay commented out: their ids and addresses are only known to the user, and
    a half-filled account would make every command fail. ``campaign check`` names each account
    a draft needs but the config lacks.
    """
    lines = [
        "# campaign-scheduler configuration, written by `campaign init`.",
        '# Secrets never go into this file: write them as "env:NAME" and set the variable NAME',
        '# (or "file:/path"). config.example.toml explains every key.',
        "",
        "[database]",
        f"url = {toml_string(database_url)}",
        "",
        "[paths]",
        f"campaign = {toml_string(campaign_file)}",
        'posts = "posts"',
        "",
        "# Accounts: remove the leading '# ' of the lines of each account you use and fill in",
        "# its values. One table per sender and network, named [accounts.<sender>-<network>].",
    ]
    for sender in senders:
        for network in networks:
            spec = spec_of(network)
            if spec is None:
                raise ValueError(f"no channel '{network}' is installed")
            name = f"{sender.slug}-{network}"
            env_prefix = re.sub(r"[^A-Z0-9]+", "_", f"{sender.slug}_{network}".upper())
            lines += [
                "",
                f"# [accounts.{name}]   # {sender.name} on {title_of(network)}",
                f'# channel = "{network}"',
                f'# sender = "{sender.slug}"',
            ]
            if spec.default_base_url:
                lines.append(f'# base_url = "{spec.default_base_url}"')
            elif spec.needs_base_url:
                lines.append('# base_url = "https://…"   # the server\'s address')
            lines += [f'# {key} = "…"' for key in spec.settings]
            secret_keys = (*spec.secrets, *(spec.secret_choices[:1] or ((),))[0])
            lines += [f'# {key} = "env:{env_prefix}_{key.upper()}"' for key in secret_keys]
    return "\n".join(lines) + "\n"


# --- templates ------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)(.*)$")
# A one-line value (a basic string or a bare value) and the comment after it.
_TRAILING_COMMENT = re.compile(r'^("(?:[^"\\]|\\.)*"|[^"#\s]+)(\s+#.*)$')


@dataclass(frozen=True)
class TemplateChanges:
    """What differs from the template; None keeps the template's value."""

    slug: str
    name: str | None = None
    hashtag: str | None = None
    event_name: str | None = None
    event_start: datetime | None = None  # naive wall clock
    event_end: datetime | None = None
    event_url: str | None = None
    starts: date | None = None
    senders: tuple[Sender, ...] | None = None


def shifted_changes(template: Campaign, changes: TemplateChanges) -> TemplateChanges:
    """Fill in the dates the user did not give by moving the template's by the same distance."""
    if changes.event_start is None:
        return changes
    zone = template.zone
    old_start = template.event.start.astimezone(zone).replace(tzinfo=None)
    delta = changes.event_start - old_start
    days = (changes.event_start.date() - old_start.date()).days
    event_end = changes.event_end
    if event_end is None and template.event.end is not None:
        event_end = template.event.end.astimezone(zone).replace(tzinfo=None) + delta
    starts = changes.starts
    if starts is None and template.starts is not None:
        starts = template.starts + timedelta(days=days)
    return TemplateChanges(
        slug=changes.slug,
        name=changes.name,
        hashtag=changes.hashtag,
        event_name=changes.event_name,
        event_start=changes.event_start,
        event_end=event_end,
        event_url=changes.event_url,
        starts=starts,
        senders=changes.senders,
    )


def template_ends(template: Campaign, changes: TemplateChanges) -> date | None:
    """The template's ``ends`` moved like the event, or None when it has none."""
    if template.ends is None or changes.event_start is None:
        return template.ends
    old = template.event.start.astimezone(template.zone).date()
    return template.ends + timedelta(days=(changes.event_start.date() - old).days)


def _lines_by_table(source_text: str) -> Iterator[tuple[str, re.Match[str] | None, str]]:
    """Each line of a TOML text with its table header (None on other lines) and the table
    it stands in (on a header line: the table it opens)."""
    table = ""
    for line in source_text.splitlines():
        header = _HEADER.match(line)
        if header is not None:
            table = header.group(2)
        yield line, header, table


def campaign_from_template(source_text: str, template: Campaign, changes: TemplateChanges) -> str:
    """The template's text with the changed values rewritten in place; all else kept."""
    changes = shifted_changes(template, changes)
    replace: dict[tuple[str, str], str] = {("campaign", "slug"): toml_string(changes.slug)}
    if changes.name is not None:
        replace["campaign", "name"] = toml_string(changes.name)
    if changes.hashtag is not None:
        replace["campaign", "hashtag"] = toml_string(changes.hashtag)
    if changes.starts is not None:
        replace["campaign", "starts"] = f'"{changes.starts.isoformat()}"'
    ends = template_ends(template, changes)
    if ends is not None and ends != template.ends:
        replace["campaign", "ends"] = f'"{ends.isoformat()}"'
    if changes.event_name is not None:
        replace["event", "name"] = toml_string(changes.event_name)
    if changes.event_start is not None:
        replace["event", "start"] = f'"{_wall(changes.event_start)}"'
    if changes.event_end is not None:
        replace["event", "end"] = f'"{_wall(changes.event_end)}"'
    if changes.event_url is not None:
        replace["event", "url"] = toml_string(changes.event_url)

    out: list[str] = []
    in_senders = False
    for line, header, table in _lines_by_table(source_text):
        if header is not None:
            in_senders = header.group(1) == "[[" and table == "senders"
            if in_senders and changes.senders is not None:
                continue
        elif in_senders and changes.senders is not None:
            continue  # the template's senders are replaced below
        else:
            assignment = _ASSIGNMENT.match(line)
            if assignment is not None:
                key = assignment.group(2)
                new_value = replace.get((table, key))
                if new_value is not None:
                    indent, _, equals, rest = assignment.groups()
                    comment = _TRAILING_COMMENT.match(rest)
                    tail = comment.group(2) if comment is not None else ""
                    line = f"{indent}{key}{equals}{new_value}{tail}"
        out.append(line)
    if changes.senders is not None:
        while out and not out[-1].strip():
            out.pop()
        for sender in changes.senders:
            out += ["", "[[senders]]", f"slug = {toml_string(sender.slug)}"]
            out.append(f"name = {toml_string(sender.name)}")
    return "\n".join(out) + "\n"


_FRONT_WHEN = re.compile(r"^\s*(?:at|not_after)\s*=\s*[\"'](?P<value>[^\"']*)[\"']", re.MULTILINE)
_FRONT_CHANNELS = re.compile(r"^\s*channels\s*=\s*\[(?P<items>[^\]]*)\]", re.MULTILINE)


@dataclass
class DraftCopy:
    """Drafts of kept senders, copied from the template's posts folder, and what to look at."""

    files: dict[Path, bytes] = field(default_factory=dict)  # target -> content
    absolute_dates: list[Path] = field(default_factory=list)  # drafts with dates to check
    networks: list[str] = field(default_factory=list)  # channels the drafts use


def copy_drafts(
    source_posts: Path,
    target_posts: Path,
    senders: Iterable[Sender],
    *,
    old_hashtag: str | None,
    new_hashtag: str | None,
) -> DraftCopy:
    """The drafts and media of ``senders`` below ``source_posts``, as they would be copied.

    Event-relative times (``T-7d 09:00``) carry over to the new date by themselves; drafts with
    calendar dates are listed for a person to look at. A new hashtag replaces the old one.
    """
    result = DraftCopy()
    networks: set[str] = set()
    for sender in senders:
        folder = source_posts / sender.slug
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            target = target_posts / path.relative_to(source_posts)
            content = path.read_bytes()
            if path.suffix == ".md":
                text = content.decode("utf-8")
                if old_hashtag and new_hashtag and old_hashtag != new_hashtag:
                    text = text.replace(old_hashtag, new_hashtag)
                front = text.split("+++", 2)[1] if text.count("+++") >= 2 else ""
                if any(
                    not m.group("value").strip().upper().startswith("T")
                    for m in _FRONT_WHEN.finditer(front)
                ):
                    result.absolute_dates.append(target)
                for match in _FRONT_CHANNELS.finditer(front):
                    networks.update(re.findall(r"[\"']([a-z]+)[\"']", match.group("items")))
                content = text.encode("utf-8")
            result.files[target] = content
    installed = set(installed_names())
    result.networks = sorted(n for n in networks if n in installed)
    return result


def config_from_template(source_text: str, campaign_file: str) -> str:
    """An existing config.toml (its accounts, database, daemon settings) for the new campaign."""
    out: list[str] = []
    table = ""  # the table of the line before
    replaced = False
    for line, header, in_table in _lines_by_table(source_text):
        if header is not None:
            if table == "paths" and not replaced:
                out.append(f"campaign = {toml_string(campaign_file)}")
                replaced = True
        else:
            assignment = _ASSIGNMENT.match(line)
            if table == "paths" and assignment is not None and assignment.group(2) == "campaign":
                line = f"campaign = {toml_string(campaign_file)}"
                replaced = True
        table = in_table
        out.append(line)
    if not replaced:
        if table == "paths":
            out.append(f"campaign = {toml_string(campaign_file)}")
        else:
            out += ["", "[paths]", f"campaign = {toml_string(campaign_file)}"]
    return "\n".join(out) + "\n"


# --- checking and writing ---------------------------------------------------------------------------


def validate_campaign_text(text: str, name: str) -> None:
    """Raise :class:`InputError` with the problems when ``text`` is not a valid campaign file."""
    with tempfile.TemporaryDirectory(prefix="campaign-init-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        campaign, problems = load_campaign(path)
        if campaign is None or has_errors(problems):
            details = "; ".join(tr(p.message) for p in problems if p.severity is Severity.ERROR)
            raise InputError(
                msg("the new campaign file would have errors: {details}", details=details)
            )


def existing(targets: Iterable[Path]) -> list[Path]:
    return [path for path in targets if path.exists()]


def write_files(files: dict[Path, bytes], folders: Iterable[Path]) -> None:
    """Create ``folders`` and write each file through a temporary neighbour and a rename."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.init-tmp")
        temporary.write_bytes(content)
        temporary.replace(path)
