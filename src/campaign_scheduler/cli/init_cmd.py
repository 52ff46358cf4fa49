"""``campaign init``: a guided start that writes config.toml and a campaign file.

Every question has an option, so the command also runs without a terminal (``--no-input``):
then a missing required value is a usage error naming its option. Answers are checked as they
are given and asked again when they cannot be used; nothing is written until every file is
known to be valid and no existing file would be overwritten (unless ``--force``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer

from campaign_scheduler.cli.output import err_line
from campaign_scheduler.errors import InputError, UsageError
from campaign_scheduler.uilang import N_, msg, tr

if TYPE_CHECKING:
    from rich.console import Console

    from campaign_scheduler.campaign import Campaign, Sender

T = TypeVar("T")


class _Asker:
    """Asks one question at a time (rich prompts on stderr), or takes options' values only."""

    def __init__(self, *, interactive: bool, lang: str) -> None:
        from rich.console import Console

        self.interactive = interactive
        self.lang = lang
        self.console: Console = Console(stderr=True, highlight=False)

    def tr(self, message: str, **values: object) -> str:
        from campaign_scheduler.uilang import tr

        return tr(message, self.lang, **values)

    def missing(self, option: str) -> UsageError:
        return UsageError(
            self.tr(
                "{option} is needed when there is no terminal to ask in (or leave out --no-input)",
                option=option,
            )
        )

    def value(
        self,
        given: str | None,
        option: str,
        question: str,
        parse: Callable[[str], T],
        *,
        default: str | None = None,
        required: bool = True,
    ) -> T | None:
        """The option's value, else the answer to ``question``; parsed by ``parse``.

        An empty answer takes ``default``; with no default it means "none" unless required.
        A value that ``parse`` refuses is an error for an option and a new question otherwise.
        """
        from rich.prompt import Prompt

        from campaign_scheduler.timeutil import WhenError

        if given is not None:
            try:
                return parse(given)
            except (WhenError, ValueError) as exc:
                raise UsageError(
                    self.tr("{option}: {error}", option=option, error=self.tr(str(exc)))
                ) from None
        if not self.interactive:
            if default is not None:
                return parse(default)
            if required:
                raise self.missing(option)
            return None
        while True:
            try:
                answer = Prompt.ask(
                    self.tr(question),
                    console=self.console,
                    default=default or "",
                    show_default=bool(default),
                )
            except EOFError:
                raise self.missing(option) from None
            answer = answer.strip()
            if not answer:
                if required:
                    continue
                return None
            try:
                return parse(answer)
            except (WhenError, ValueError) as exc:
                self.console.print("  " + self.tr(str(exc)), style="red", markup=False)

    def confirm(self, given: bool | None, question: str, *, default: bool) -> bool:
        from rich.prompt import Confirm, InvalidResponse

        if given is not None:
            return given
        if not self.interactive:
            return default
        german = self.lang == "de"

        class YesNo(Confirm):
            """Yes or no, also as "j"/"ja"/"nein" when the conversation is in German."""

            choices = ["j", "n"] if german else ["y", "n"]
            validate_error_message = (
                "[prompt.invalid]Bitte j oder n eingeben"
                if german
                else "[prompt.invalid]Please enter y or n"
            )

            def process_response(self, value: str) -> bool:
                answer = value.strip().lower()
                if answer in ("j", "ja", "y", "yes"):
                    return True
                if answer in ("n", "nein", "no"):
                    return False
                raise InvalidResponse(self.validate_error_message)

        try:
            return YesNo.ask(self.tr(question), console=self.console, default=default)
        except EOFError:
            return default


def _slug(text: str) -> str:
    from campaign_scheduler.scaffold import is_slug

    value = text.strip()
    if not is_slug(value):
        raise ValueError(
            msg("'{value}' is not a short name: use lowercase letters, digits and '-'", value=value)
        )
    return value


def _hashtag(text: str) -> str:
    value = text.strip()
    value = value if value.startswith("#") else f"#{value}"
    if len(value) < 2 or any(c.isspace() for c in value):
        raise ValueError(msg("'{text}' is not a hashtag (one word, e.g. #5malklug)", text=text))
    return value


def _senders(texts: list[str]) -> tuple[Sender, ...]:
    from campaign_scheduler.scaffold import is_slug, parse_sender

    senders = tuple(parse_sender(t) for t in texts if t.strip())
    if not senders:
        raise ValueError(msg("name at least one sender, e.g. 'Stadt Soest'"))
    seen: set[str] = set()
    for sender in senders:
        if not is_slug(sender.slug):
            raise ValueError(
                msg("cannot make a folder name of '{name}'; write 'slug=Name'", name=sender.name)
            )
        if sender.slug in seen:
            raise ValueError(
                msg("two senders would share the folder '{folder}'", folder=sender.slug)
            )
        seen.add(sender.slug)
    return senders


def _networks(texts: list[str]) -> tuple[str, ...]:
    from campaign_scheduler.channels.catalog import installed_names
    from campaign_scheduler.fields import did_you_mean

    installed = installed_names()
    names = tuple(dict.fromkeys(t.strip().lower() for t in texts if t.strip()))
    for name in names:
        if name not in installed:
            raise ValueError(
                msg(
                    "unknown network '{name}'{suggestion}",
                    name=name,
                    suggestion=did_you_mean(name, installed),
                )
            )
    return names


def _split(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.split(",")) if part]


def _wall_clock(
    zone: ZoneInfo, now: datetime, day: date | None = None
) -> Callable[[str], datetime]:
    """Parse a typed time to a naive wall-clock time in ``zone``; ``16:00`` alone means ``day``."""
    import re

    from campaign_scheduler.timeutil import parse_typed_when

    def parse(text: str) -> datetime:
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
        if clock is not None and day is not None:
            return datetime(day.year, day.month, day.day, int(clock[1]), int(clock[2]))
        instant = parse_typed_when(text, zone=zone, event_start=None, now=now)
        return instant.astimezone(zone).replace(tzinfo=None)

    return parse


def _next_year(value: datetime) -> datetime:
    try:
        return value.replace(year=value.year + 1)
    except ValueError:  # 29 February
        return value.replace(year=value.year + 1, day=28)


def init(
    folder: Annotated[
        Path, typer.Argument(help="where config.toml, campaign/ and posts/ go", file_okay=False)
    ] = Path(),
    template: Annotated[
        Path | None,
        typer.Option("--from", help="copy this campaign file (next year, another town)"),
    ] = None,
    template_posts: Annotated[
        Path | None,
        typer.Option("--from-posts", help="the template's drafts (default: its ../posts)"),
    ] = None,
    template_config: Annotated[
        Path | None,
        typer.Option("--from-config", help="take accounts and database from this config.toml"),
    ] = None,
    slug: Annotated[str | None, typer.Option("--slug", help="short name, e.g. 5malklug")] = None,
    name: Annotated[str | None, typer.Option("--name", help="the campaign's name")] = None,
    hashtag: Annotated[str | None, typer.Option("--hashtag", help="e.g. #5malklug")] = None,
    event_name: Annotated[str | None, typer.Option("--event-name", help="the event")] = None,
    event_start: Annotated[
        str | None, typer.Option("--event-start", help="e.g. '18.11.2022 10:00'")
    ] = None,
    event_end: Annotated[str | None, typer.Option("--event-end", help="e.g. '16:00'")] = None,
    url: Annotated[str | None, typer.Option("--url", help="the event's web address")] = None,
    starts: Annotated[
        str | None, typer.Option("--starts", help="first day of the campaign, e.g. 26.10.2022")
    ] = None,
    senders: Annotated[
        list[str] | None,
        typer.Option("--sender", help="'Stadt Soest' or 'soest=Stadt Soest'; repeat"),
    ] = None,
    networks: Annotated[
        list[str] | None, typer.Option("--network", help="e.g. mastodon; repeat")
    ] = None,
    approval: Annotated[
        bool | None,
        typer.Option("--approval/--no-approval", help="a second person approves each post"),
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone")] = "Europe/Berlin",
    language: Annotated[str, typer.Option("--language", help="the posts' language")] = "de",
    no_input: Annotated[
        bool, typer.Option("--no-input", help="ask nothing; take the options only")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Start a campaign: write config.toml and a campaign file, new or copied from another."""
    from campaign_scheduler import scaffold
    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.uilang import ui_language

    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise UsageError(
            tr("--timezone: unknown time zone '{timezone}'", timezone=timezone)
        ) from None
    asker = _Asker(interactive=not no_input, lang=ui_language(language))
    now = datetime.now(UTC)
    root = folder.expanduser().absolute()

    source: Campaign | None = None
    if template is not None:
        if approval is not None:
            raise UsageError(
                tr(
                    "--approval/--no-approval: a copied campaign keeps the template's rules; "
                    "change require_approval in the new campaign file"
                )
            )
        source = require_campaign(template)
        asker.console.print(
            asker.tr(
                "Copy the campaign {source} for a new one in {folder}", source=template, folder=root
            ),
            style="bold",
            markup=False,
        )
    else:
        asker.console.print(
            asker.tr("Set up a new campaign in {folder}", folder=root), style="bold", markup=False
        )

    files: dict[Path, bytes] = {}
    notes: list[str] = []
    if source is None:
        new_name = asker.value(name, "--name", N_("Name of the campaign"), str.strip)
        assert new_name is not None
        new_hashtag = asker.value(
            hashtag, "--hashtag", N_("Hashtag every post must carry (empty: none)"), _hashtag,
            required=False,
        )  # fmt: skip
        new_slug = asker.value(
            slug, "--slug", N_("Short name of the campaign (letters, digits, -)"), _slug,
            default=scaffold.slugify((new_hashtag or "").lstrip("#") or new_name) or None,
        )  # fmt: skip
        new_event = asker.value(
            event_name, "--event-name", N_("Name of the event the campaign leads up to"), str.strip,
            default=new_name,
        )  # fmt: skip
        start = asker.value(
            event_start, "--event-start", N_("Start of the event (e.g. 18.11.2022 10:00)"),
            _wall_clock(zone, now),
        )  # fmt: skip
        assert new_slug is not None and new_event is not None and start is not None
        end = asker.value(
            event_end, "--event-end", N_("End of the event (e.g. 18.11.2022 16:00; empty: none)"),
            _wall_clock(zone, now, start.date()), required=False,
        )  # fmt: skip
        if end is not None and end <= start:
            raise UsageError(tr("--event-end: the end must be after the start"))
        new_url = asker.value(
            url, "--url", N_("Web address of the event (empty: none)"), str.strip, required=False
        )
        first_day = asker.value(
            starts, "--starts", N_("First day of the campaign (e.g. 26.10.2022; empty: no limit)"),
            _parse_date, required=False,
        )  # fmt: skip
        new_senders = asker.value(
            ", ".join(senders) if senders else None, "--sender",
            N_("Senders, comma-separated, e.g. 'Stadt Soest, Kreisstadt Olpe'"),
            lambda text: _senders(_split(text) if not senders else senders),
        )  # fmt: skip
        assert new_senders is not None
        text = scaffold.campaign_text(
            scaffold.NewCampaign(
                slug=new_slug,
                name=new_name,
                hashtag=new_hashtag,
                event_name=new_event,
                event_start=start,
                event_end=end,
                event_url=new_url,
                starts=first_day,
                senders=new_senders,
                require_approval=asker.confirm(
                    approval,
                    N_("Should a second person approve every post before it goes out?"),
                    default=True,
                ),
                timezone=timezone,
                language=language,
            )
        )
        default_networks: tuple[str, ...] = scaffold.DEFAULT_NETWORKS
    else:
        assert template is not None
        old_start = source.event.start.astimezone(source.zone).replace(tzinfo=None)
        start = asker.value(
            event_start, "--event-start", N_("Start of the event (e.g. 18.11.2022 10:00)"),
            _wall_clock(zone, now), default=_next_year(old_start).strftime("%d.%m.%Y %H:%M"),
        )  # fmt: skip
        assert start is not None
        new_year = str(start.year)
        old_year = str(old_start.year)
        new_slug = asker.value(
            slug, "--slug", N_("Short name of the campaign (letters, digits, -)"), _slug,
            default=(
                source.slug.replace(old_year, new_year)
                if old_year in source.slug
                else f"{source.slug}-{new_year}"
            ),
        )  # fmt: skip
        new_name = asker.value(
            name, "--name", N_("Name of the campaign"), str.strip,
            default=source.name.replace(old_year, new_year),
        )  # fmt: skip
        new_hashtag = asker.value(
            hashtag, "--hashtag", N_("Hashtag every post must carry (empty: none)"), _hashtag,
            default=source.hashtag, required=False,
        )  # fmt: skip
        assert new_slug is not None
        kept: tuple[Sender, ...] | None = None
        if senders:
            kept = _senders(senders)
        elif not asker.confirm(
            None,
            asker.tr("Keep these senders?") + " " + ", ".join(s.name for s in source.senders),
            default=True,
        ):
            kept = asker.value(
                None,
                "--sender",
                N_("Senders, comma-separated, e.g. 'Stadt Soest, Kreisstadt Olpe'"),
                lambda text: _senders(_split(text)),
            )
        end = _wall_clock(zone, now, start.date())(event_end) if event_end is not None else None
        changes = scaffold.TemplateChanges(
            slug=new_slug,
            name=new_name,
            hashtag=new_hashtag,
            event_name=event_name,
            event_start=start,
            event_end=end,
            event_url=url,
            starts=_parse_date(starts) if starts is not None else None,
            senders=kept,
        )
        text = scaffold.campaign_from_template(
            template.read_text(encoding="utf-8"), source, changes
        )
        posts_source = template_posts or template.absolute().parent.parent / "posts"
        copied = scaffold.copy_drafts(
            posts_source,
            root / "posts",
            kept if kept is not None else source.senders,
            old_hashtag=source.hashtag,
            new_hashtag=new_hashtag,
        )
        files.update(copied.files)
        drafts = sum(1 for path in copied.files if path.suffix == ".md")
        if drafts:
            notes.append(
                asker.tr("copied {count} drafts to {path}", count=drafts, path=root / "posts")
            )
        notes += [
            asker.tr("check the date in {path}: it is not relative to the event (T-…)", path=path)
            for path in copied.absolute_dates
        ]
        default_networks = tuple(copied.networks) or scaffold.DEFAULT_NETWORKS
        new_senders = kept if kept is not None else source.senders

    chosen_networks = () if template_config is not None else asker.value(
        ", ".join(networks) if networks else None, "--network",
        asker.tr("Networks, comma-separated ({choices})", choices=", ".join(_all_networks())),
        lambda text: _networks(_split(text) if not networks else networks),
        default=", ".join(default_networks),
    )  # fmt: skip
    assert chosen_networks is not None

    campaign_file = root / "campaign" / f"{new_slug}.toml"
    try:
        scaffold.validate_campaign_text(text, campaign_file.name)
    except InputError as exc:
        raise InputError(
            asker.tr("the new campaign file would have errors; nothing was written"),
            hint=exc.message,
        ) from None
    config_file = root / "config.toml"
    files[campaign_file] = text.encode("utf-8")
    if template_config is not None:
        try:
            config_source = template_config.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                tr(
                    "--from-config: cannot read {path}: {reason}",
                    path=template_config,
                    reason=exc.strerror,
                )
            ) from None
        config = scaffold.config_from_template(config_source, f"campaign/{campaign_file.name}")
    else:
        config = scaffold.config_text(
            f"campaign/{campaign_file.name}", new_senders, chosen_networks
        )
    files[config_file] = config.encode("utf-8")
    if not force:
        clashes = scaffold.existing(files)
        if clashes:
            raise UsageError(
                asker.tr("{path} already exists; pass --force to overwrite it", path=clashes[0])
            )
    scaffold.write_files(files, [root / "posts" / s.slug for s in new_senders])
    for path in (config_file, campaign_file):
        err_line(asker.tr("wrote {path}", path=path))
    for note in notes:
        err_line(note)
    err_line("")
    err_line(asker.tr("Next steps:"))
    err_line(
        "  "
        + asker.tr(
            "1. enter each account in {config} (the commented examples show what each network "
            "needs)",
            config=config_file,
        )
    )
    err_line(
        "  "
        + asker.tr("2. write a first draft in {posts}/<sender>/01-name.md", posts=root / "posts")
    )
    err_line("  " + asker.tr("3. run 'campaign check' (docs/schnellstart.md explains the rest)"))


def _all_networks() -> list[str]:
    from campaign_scheduler.channels.catalog import installed_names

    return sorted(installed_names())


def _parse_date(text: str) -> date:
    from campaign_scheduler.timeutil import parse_typed_date

    return parse_typed_date(text)
