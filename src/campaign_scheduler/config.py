"""config.toml plus the environment, turned into a frozen :class:`Settings`.

Precedence: command-line option > environment (``CAMPAIGN_CONFIG``,
``CAMPAIGN_DATABASE_URL``) > file > default. Relative paths in the file are resolved from the
file's folder. Secrets are only ever written as references (``env:NAME``, ``file:PATH`` or
``keyring:NAME`` — a token that ``campaign accounts connect`` stored in the token store, see
:mod:`campaign_scheduler.auth.tokens`); :class:`SecretRef` resolves them at the moment of use
and never shows the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from campaign_scheduler.channels.addresses import url_problem
from campaign_scheduler.channels.catalog import installed_names, spec_of
from campaign_scheduler.channels.registry import ChannelPluginError
from campaign_scheduler.errors import ConfigError, InputError, SecretError
from campaign_scheduler.fields import FieldReader, did_you_mean
from campaign_scheduler.problems import Problem, has_errors
from campaign_scheduler.timeutil import WhenError, parse_duration
from campaign_scheduler.tomlsource import TomlDocument, read_toml
from campaign_scheduler.uilang import msg

CONFIG_ENV = "CAMPAIGN_CONFIG"
DATABASE_ENV = "CAMPAIGN_DATABASE_URL"
DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///campaign.db"
DEFAULT_CAMPAIGN_FOLDER = "campaign"
DEFAULT_POSTS = "posts"


SECRET_KINDS = ("env", "file", "keyring")
SECRET_FORMS = '"env:NAME", "file:PATH" or "keyring:NAME"'


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret: ``env:NAME``, ``file:PATH`` or ``keyring:NAME`` (the access token
    of the record NAME in the token store, whichever backend it uses). Its repr never shows a
    value."""

    kind: str
    target: str
    base_dir: Path

    @classmethod
    def parse(cls, text: str, base_dir: Path) -> SecretRef | None:
        kind, sep, target = text.partition(":")
        if not sep or kind not in SECRET_KINDS or not target.strip():
            return None
        return cls(kind, target.strip(), base_dir)

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"

    def describe(self) -> str:
        if self.kind == "env":
            return msg("environment variable {name}", name=self.target)
        if self.kind == "keyring":
            return msg("token {name} in the token store", name=self.target)
        return msg("file {path}", path=str(self.path()))

    def path(self) -> Path:
        path = Path(self.target).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def readable_by_others(self) -> bool:
        """Whether a secret file grants any access to its group or to others."""
        try:
            return bool(self.path().stat().st_mode & 0o077)
        except (OSError, ValueError):
            return False

    def is_available(self, environ: Mapping[str, str] | None = None) -> bool:
        if self.kind == "env":
            return bool((os.environ if environ is None else environ).get(self.target))
        if self.kind == "keyring":
            from campaign_scheduler.auth.tokens import default_store

            try:
                return default_store(environ).get(self.target) is not None
            except SecretError:
                return False
        try:
            return self.path().is_file()
        except ValueError:  # a NUL in the path
            return False

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret's value, read now. Raises :class:`SecretError` naming the reference."""
        if self.kind == "env":
            value = (os.environ if environ is None else environ).get(self.target)
            if not value:
                raise SecretError(
                    msg("secret {secret} is not set", secret=str(self)),
                    hint=msg("export {name}=... before running the command", name=self.target),
                )
            return value
        if self.kind == "keyring":
            from campaign_scheduler.auth.tokens import default_store

            record = default_store(environ).get(self.target)
            if record is None:
                raise SecretError(
                    msg("secret {secret} is not in the token store", secret=str(self)),
                    hint=msg("run `campaign accounts connect ACCOUNT` to obtain and store it"),
                )
            return record.access_token
        try:
            data = self.path().read_bytes()
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SecretError(
                msg("secret {secret} cannot be read: {reason}", secret=str(self), reason=reason),
                hint=msg("check the path and that only you can read the file (chmod 600)"),
            ) from None
        try:
            value = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8").strip()
        except UnicodeDecodeError:
            # A SecretError marks the account as needing a person; it is not retried.
            raise SecretError(
                msg("secret {secret} is not UTF-8 text", secret=str(self)),
                hint=msg("write the secret into the file as plain UTF-8 text (chmod 600)"),
            ) from None
        if not value:
            raise SecretError(msg("secret {secret} is empty", secret=str(self)))
        return value


@dataclass(frozen=True)
class Account:
    """One account of one sender on one network, as configured (no secret values)."""

    name: str
    channel: str
    sender: str
    base_url: str | None
    settings: Mapping[str, Any]
    secrets: Mapping[str, SecretRef]
    line: int | None = None

    @property
    def max_characters(self) -> int | None:
        value = self.settings.get("max_characters")
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class DaemonSettings:
    lease: timedelta = timedelta(minutes=10)
    reconcile: timedelta = timedelta(seconds=30)
    metrics: timedelta = timedelta(hours=1)
    #: Calls in flight at once, each on a different account (one at a time per account).
    parallel: int = 32


#: The most calls one daemon makes at once (each holds a thread and a database connection).
MAX_PARALLEL = 256


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: where a person is told that something needs them (apprise URLs).

    Each URL is a secret reference (``env:NAME`` / ``file:PATH``): notification URLs carry
    passwords and tokens (``mailtos://user:password@…``, ``tgram://bot-token/…``)."""

    urls: tuple[SecretRef, ...] = ()
    every: timedelta = timedelta(minutes=5)
    #: Who is addressed in the text: "de" or "en"; None = the campaign's language.
    language: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.urls)


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    base_dir: Path
    database_url: str
    campaign_path: Path
    posts_path: Path
    daemon: DaemonSettings
    accounts: Mapping[str, Account]
    problems: tuple[Problem, ...] = field(default=())
    alerts: AlertSettings = field(default=AlertSettings())
    #: ``[ui] language``: "de" or "en"; None = CAMPAIGN_LANG or the locale decide.
    ui_language: str | None = None

    def accounts_of(self, sender: str, channel: str) -> list[Account]:
        return list(self._accounts_by_target.get((sender, channel), ()))

    @cached_property
    def _accounts_by_target(self) -> dict[tuple[str, str], list[Account]]:
        """Accounts by (sender, channel), in config order: asked once per draft and channel."""
        index: dict[tuple[str, str], list[Account]] = {}
        for account in self.accounts.values():
            index.setdefault((account.sender, account.channel), []).append(account)
        return index

    def raise_for_problems(self) -> None:
        if has_errors(list(self.problems)):
            raise ConfigError(
                msg("{path}: the configuration has errors", path=str(self.config_path)),
                problems=self.problems,
                hint=msg("run 'campaign check' to see them all"),
            )


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite file path relative to ``base_dir`` (the config file's folder)."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        rest = url[len(prefix) :]
        path_part, sep, query = rest.partition("?")
        if path_part and path_part != ":memory:" and not Path(path_part).is_absolute():
            return f"{prefix}{(base_dir / path_part).resolve()}{sep}{query}"
    return url


def _default_campaign_path(base_dir: Path) -> Path:
    folder = base_dir / DEFAULT_CAMPAIGN_FOLDER
    found = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    return found[0] if len(found) == 1 else folder / "campaign.toml"


def _find_config(option: Path | None, environ: Mapping[str, str]) -> Path | None:
    if option is not None:
        return option
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    candidate = Path.cwd() / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_settings(
    config: Path | None = None,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the configuration. Raises :class:`ConfigError` only when the file cannot be read
    or parsed; every other problem is collected in ``Settings.problems``."""
    env = os.environ if environ is None else environ
    path = _find_config(config, env)
    if path is None:
        base_dir = Path.cwd()
        return Settings(
            config_path=None,
            base_dir=base_dir,
            database_url=resolve_database_url(
                database_url or env.get(DATABASE_ENV) or DEFAULT_DATABASE_URL, base_dir
            ),
            campaign_path=_default_campaign_path(base_dir),
            posts_path=base_dir / DEFAULT_POSTS,
            daemon=DaemonSettings(),
            accounts={},
        )
    path = path.expanduser().absolute()
    if not path.is_file():
        raise ConfigError(
            msg("config file {path} not found", path=str(path)),
            hint=msg("copy config.example.toml to config.toml, or pass --config PATH"),
        )
    try:
        doc = read_toml(path)
    except InputError as exc:
        raise ConfigError(exc.message, problems=exc.problems) from None
    return _settings_from_document(doc, database_url=database_url, environ=env)


def _settings_from_document(
    doc: TomlDocument, *, database_url: str | None, environ: Mapping[str, str]
) -> Settings:
    problems: list[Problem] = []
    reader = FieldReader(doc, problems)
    data = doc.data
    base_dir = doc.path.parent
    reader.known_keys(data, (), ("database", "paths", "daemon", "accounts", "alerts", "ui"))

    database = reader.table(data, ("database",))
    reader.known_keys(database, ("database",), ("url",))
    file_url = reader.string(database, ("database",), "url")
    url = database_url or environ.get(DATABASE_ENV) or file_url or DEFAULT_DATABASE_URL

    paths = reader.table(data, ("paths",))
    reader.known_keys(paths, ("paths",), ("campaign", "posts"))
    campaign_text = reader.string(paths, ("paths",), "campaign")
    posts_text = reader.string(paths, ("paths",), "posts", default=DEFAULT_POSTS)
    campaign_path = base_dir / campaign_text if campaign_text else _default_campaign_path(base_dir)

    daemon_table = reader.table(data, ("daemon",))
    reader.known_keys(daemon_table, ("daemon",), ("lease", "reconcile", "metrics", "parallel"))
    defaults = DaemonSettings()
    parallel = reader.integer(daemon_table, ("daemon",), "parallel", defaults.parallel)
    if parallel is not None and parallel > MAX_PARALLEL:
        reader.error(
            msg("daemon.parallel must be at most {n}", n=MAX_PARALLEL), "daemon", "parallel"
        )
        parallel = defaults.parallel
    durations: dict[str, timedelta] = {}
    for key in ("lease", "reconcile", "metrics"):
        text = reader.string(daemon_table, ("daemon",), key)
        if text is None:
            durations[key] = getattr(defaults, key)
            continue
        try:
            durations[key] = parse_duration(text)
        except WhenError as exc:
            reader.error(msg("daemon.{key}: {error}", key=key, error=str(exc)), "daemon", key)
            durations[key] = getattr(defaults, key)
        else:
            if durations[key] <= timedelta(0):
                reader.error(msg("daemon.{key} must be longer than zero", key=key), "daemon", key)
                durations[key] = getattr(defaults, key)

    accounts: dict[str, Account] = {}
    for name, table in reader.table(data, ("accounts",)).items():
        account = _read_account(reader, name, table, base_dir, environ)
        if account is not None:
            accounts[name] = account

    alerts = _read_alerts(reader, reader.table(data, ("alerts",)), base_dir, environ)

    # [ui] language: the command line's language (read early by uilang.peek_config_language;
    # checked here so that a typo is reported).
    ui = reader.table(data, ("ui",))
    reader.known_keys(ui, ("ui",), ("language",))
    ui_language = reader.string(ui, ("ui",), "language")
    if ui_language is not None and ui_language not in ALERT_LANGUAGES:
        reader.error(
            msg("ui.language must be one of {choices}", choices=", ".join(ALERT_LANGUAGES)),
            "ui",
            "language",
        )
        ui_language = None

    return Settings(
        config_path=doc.path,
        base_dir=base_dir,
        database_url=resolve_database_url(url, base_dir),
        campaign_path=campaign_path,
        posts_path=base_dir / (posts_text or DEFAULT_POSTS),
        daemon=DaemonSettings(**durations, parallel=parallel or defaults.parallel),
        accounts=accounts,
        problems=tuple(problems),
        alerts=alerts,
        ui_language=ui_language,
    )


ALERT_KEYS = ("urls", "every", "language")
ALERT_LANGUAGES = ("de", "en")


def _read_alerts(
    reader: FieldReader, table: dict[str, Any], base_dir: Path, environ: Mapping[str, str]
) -> AlertSettings:
    path = ("alerts",)
    reader.known_keys(table, path, ALERT_KEYS)
    defaults = AlertSettings()
    urls: list[SecretRef] = []
    for text in reader.string_list(table, path, "urls"):
        ref = SecretRef.parse(text, base_dir)
        if ref is None:
            # Never echo the value: a notification URL carries its password or token.
            reader.error(
                msg(
                    'alerts.urls: each entry must be a reference like "env:NAME" or "file:PATH" '
                    "to a notification URL, never the URL itself"
                ),
                *path,
                "urls",
            )
            continue
        if not ref.is_available(environ):
            reader.warning(
                msg(
                    "alerts.urls: {secret} is not set; alerts cannot be sent", secret=ref.describe()
                ),
                *path,
                "urls",
            )
        urls.append(ref)
    every = defaults.every
    every_text = reader.string(table, path, "every")
    if every_text is not None:
        try:
            every = parse_duration(every_text)
        except WhenError as exc:
            reader.error(msg("alerts.every: {error}", error=str(exc)), *path, "every")
        else:
            if every <= timedelta(0):
                reader.error(msg("alerts.every must be longer than zero"), *path, "every")
                every = defaults.every
    language = reader.string(table, path, "language")
    if language is not None and language not in ALERT_LANGUAGES:
        reader.error(
            msg("alerts.language must be one of {choices}", choices=", ".join(ALERT_LANGUAGES)),
            *path,
            "language",
        )
        language = None
    return AlertSettings(urls=tuple(urls), every=every, language=language)


def _read_account(
    reader: FieldReader,
    name: str,
    table: Any,
    base_dir: Path,
    environ: Mapping[str, str],
) -> Account | None:
    path = ("accounts", name)
    if not isinstance(table, dict):
        reader.error(msg("[accounts.{name}] must be a table", name=name), *path)
        return None
    channel = reader.string(table, path, "channel", required=True)
    sender = reader.string(table, path, "sender", required=True)
    if channel is None or sender is None:
        return None
    try:
        spec = spec_of(channel)
    except ChannelPluginError as exc:
        reader.error(
            msg("account '{name}': {error}", name=name, error=exc.message), *path, "channel"
        )
        return None
    if spec is None:
        reader.error(
            msg(
                "account '{name}': unknown channel '{channel}'{suggestion}",
                name=name,
                channel=channel,
                suggestion=did_you_mean(channel, installed_names()),
            ),
            *path,
            "channel",
        )
        return None
    reader.known_keys(table, path, (*spec.keys, "api_base"))

    base_url = reader.string(table, path, "base_url") or reader.string(table, path, "api_base")
    if base_url is None:
        base_url = spec.default_base_url
        if base_url is None and spec.needs_base_url:
            title = spec.title or channel
            reader.error(
                msg(
                    "account '{name}': missing key 'base_url' (the {title} server's address)",
                    name=name,
                    title=title,
                ),
                *path,
            )
    elif (problem := url_problem(base_url)) is not None:
        reader.error(
            msg("account '{name}': base_url {problem}", name=name, problem=problem),
            *path,
            "base_url",
        )

    settings: dict[str, Any] = {}
    for key in spec.settings:
        value = reader.string(table, path, key, required=True)
        if value is not None:
            settings[key] = value
    for key in spec.addresses:
        address = settings.get(key)
        if isinstance(address, str) and (problem := url_problem(address)) is not None:
            reader.error(
                msg("account '{name}': {key} {problem}", name=name, key=key, problem=problem),
                *path,
                key,
            )
    for key in spec.optional_integers:
        number = reader.integer(table, path, key, None)
        if number is not None:
            settings[key] = number
    for key in spec.optional:
        text = reader.string(table, path, key)
        if text is not None:
            settings[key] = text

    secrets: dict[str, SecretRef] = {}
    secret_keys = spec.secrets
    if spec.secret_choices:
        chosen = next(
            (c for c in spec.secret_choices if any(key in table for key in c)),
            spec.secret_choices[0],
        )
        secret_keys = (*secret_keys, *chosen)
    for key in secret_keys:
        value = table.get(key)
        if value is None:
            reader.error(
                msg(
                    "account '{name}': missing secret '{key}' (write it as {forms})",
                    name=name,
                    key=key,
                    forms=SECRET_FORMS,
                ),
                *path,
            )
            continue
        ref = SecretRef.parse(value, base_dir) if isinstance(value, str) else None
        if ref is None:
            # Never echo the value: it may be the secret itself.
            reader.error(
                msg(
                    "account '{name}': '{key}' must be a reference like {forms}, "
                    "never the secret itself",
                    name=name,
                    key=key,
                    forms=SECRET_FORMS,
                ),
                *path,
                key,
            )
            continue
        if not ref.is_available(environ):
            reader.warning(
                msg(
                    "account '{name}': {secret} is not set; '{key}' is needed to publish",
                    name=name,
                    secret=ref.describe(),
                    key=key,
                ),
                *path,
                key,
            )
        elif ref.kind == "file" and ref.readable_by_others():
            reader.warning(
                msg(
                    "account '{name}': {secret} can be read by other users; "
                    "restrict it with chmod 600",
                    name=name,
                    secret=ref.describe(),
                ),
                *path,
                key,
            )
        secrets[key] = ref
    line = reader.doc.key_lines.get(path)
    return Account(name, channel, sender, base_url, settings, secrets, line)
