"""Where connected accounts' tokens live: :class:`TokenRecord` and :class:`TokenStore`.

A token obtained by ``campaign accounts connect`` is a :class:`TokenRecord`: the access token,
the refresh token if the network gives one, when the access token expires (aware UTC, where the
network tells it), its scope, and ``extra`` — the ids the flow found on the way (``page_id``,
``user_id``, ``organization``, ``chat_id``, ``room_id`` …), as text.

Records are stored under a NAME, never in config.toml and never in the database. config.toml
refers to the access token as ``keyring:NAME`` (besides ``env:NAME`` and ``file:PATH``, see
:class:`campaign_scheduler.config.SecretRef`).

Backends, chosen by :func:`default_store`:

* ``CAMPAIGN_TOKEN_STORE=file:PATH`` — a JSON secrets file at PATH (tests use this).
* ``CAMPAIGN_TOKEN_STORE=keyring`` — the OS keyring, or an error when none is usable.
* unset — the OS keyring (``keyring`` package, imported only here) when a usable backend is
  installed (not the ``fail`` or ``null`` backend); else the secrets file
  ``$XDG_CONFIG_HOME/campaign-scheduler/tokens.json`` (``~/.config/…``).

The secrets file is created with mode 0600 and written atomically (a temporary file in the
same folder, then ``os.replace``), so a refresh that dies half-way leaves the old token. Writers
take an exclusive ``flock`` on ``tokens.json.lock`` beside it, so two processes storing different
tokens never lose one another's. A file
that group or others may read is refused, like ssh refuses such a key. In the keyring, each
record is one JSON entry of the service ``campaign-scheduler`` under its NAME.

A record's ``repr`` never shows a token.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from campaign_scheduler.errors import SecretError
from campaign_scheduler.uilang import msg

STORE_ENV = "CAMPAIGN_TOKEN_STORE"
KEYRING_SERVICE = "campaign-scheduler"
FILE_NAME = "tokens.json"


@dataclass(frozen=True)
class TokenRecord:
    """One account's credentials as a connect flow obtained them."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None  # aware UTC; None: the network does not say
    scope: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def with_access(
        self,
        access_token: str,
        *,
        expires_at: datetime | None,
        refresh_token: str | None = None,
    ) -> TokenRecord:
        """This record after a refresh: a new access token (and refresh token, if the network
        rotated it); scope and ids stay."""
        return replace(
            self,
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=refresh_token if refresh_token is not None else self.refresh_token,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.astimezone(UTC).isoformat() if self.expires_at else None,
            "scope": self.scope,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str) -> TokenRecord:
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise SecretError(msg("token {name} in the token store has no access token", name=name))
        expires = data.get("expires_at")
        expires_at = None
        if isinstance(expires, str) and expires:
            try:
                expires_at = datetime.fromisoformat(expires)
            except ValueError:
                raise SecretError(
                    msg("token {name} in the token store has an unreadable expiry", name=name)
                ) from None
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        extra = data.get("extra") or {}
        return cls(
            access_token=token,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=expires_at,
            scope=scope if isinstance(scope, str) else None,
            extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
        )


class TokenStore(Protocol):
    """Named token records. ``get`` returns ``None`` for a name never stored."""

    #: "keyring" or "file" — what ``accounts list`` shows as where a secret comes from.
    kind: str

    def describe(self) -> str: ...

    def get(self, name: str) -> TokenRecord | None: ...

    def put(self, name: str, record: TokenRecord) -> None: ...

    def delete(self, name: str) -> None: ...


def _not_ours(name: str) -> str:
    return msg("keyring entry {name} is not a campaign-scheduler token", name=name)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or any(ch.isspace() for ch in name):
        raise SecretError(msg("token name {name!r} must be one word without spaces", name=name))
    return name


class FileTokenStore:
    """A JSON file ``{"tokens": {NAME: record}}``, mode 0600, replaced atomically."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def describe(self) -> str:
        return msg("secrets file {path}", path=self.path)

    def _read(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretError(
                msg(
                    "token file {path} cannot be read: {reason}",
                    path=self.path,
                    reason=exc.strerror or exc,
                )
            ) from None
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise SecretError(
                    msg(
                        "token file {path} may be read by others (mode {mode}); refusing to use it",
                        path=self.path,
                        mode=format(stat.S_IMODE(mode), "03o"),
                    ),
                    hint=f"chmod 600 {self.path}",
                )
            raw = handle.read()
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SecretError(
                msg("token file {path} is not valid JSON: {error}", path=self.path, error=exc)
            ) from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if data and not isinstance(tokens, dict):
            raise SecretError(msg('token file {path} has no "tokens" table', path=self.path))
        return dict(tokens or {})

    def _write(self, tokens: Mapping[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"tokens": dict(sorted(tokens.items()))}, indent=2) + "\n"
        fd, temp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> TokenRecord | None:
        name = _check_name(name)
        data = self._read().get(name)
        if data is None:
            return None
        if not isinstance(data, dict):
            raise SecretError(
                msg("token {name} in {path} is not a table", name=name, path=self.path)
            )
        return TokenRecord.from_json(data, name)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time, also across processes (the daemon refreshing one token while
        ``accounts connect`` stores another must not lose either): a lock file next to the
        secrets file, locked with ``flock`` where the system has it."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock_path = self.path.with_name(self.path.name + ".lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    import fcntl
                except ImportError:  # Windows: the thread lock is all there is
                    yield
                    return
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def put(self, name: str, record: TokenRecord) -> None:
        name = _check_name(name)
        with self._exclusive():
            tokens = self._read()
            tokens[name] = record.to_json()
            self._write(tokens)

    def delete(self, name: str) -> None:
        name = _check_name(name)
        with self._exclusive():
            tokens = self._read()
            if tokens.pop(name, None) is not None:
                self._write(tokens)


class KeyringTokenStore:
    """The OS keyring: one JSON entry per NAME under the service ``campaign-scheduler``."""

    kind = "keyring"

    def __init__(self, backend: Any = None) -> None:
        import keyring
        import keyring.errors

        self._keyring = keyring
        self._errors: tuple[type[Exception], ...] = (keyring.errors.KeyringError, OSError)
        self._backend = backend if backend is not None else keyring.get_keyring()

    def describe(self) -> str:
        return msg("OS keyring ({backend})", backend=type(self._backend).__name__)

    def get(self, name: str) -> TokenRecord | None:
        name = _check_name(name)
        try:
            raw = self._backend.get_password(KEYRING_SERVICE, name)
        except self._errors as exc:
            raise SecretError(
                msg("keyring cannot read token {name}: {error}", name=name, error=exc)
            ) from None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise SecretError(_not_ours(name)) from None
        if not isinstance(data, dict):
            raise SecretError(_not_ours(name))
        return TokenRecord.from_json(data, name)

    def put(self, name: str, record: TokenRecord) -> None:
        name = _check_name(name)
        try:
            self._backend.set_password(KEYRING_SERVICE, name, json.dumps(record.to_json()))
        except self._errors as exc:
            raise SecretError(
                msg("keyring cannot store token {name}: {error}", name=name, error=exc)
            ) from None

    def delete(self, name: str) -> None:
        name = _check_name(name)
        try:
            self._backend.delete_password(KEYRING_SERVICE, name)
        except self._keyring.errors.PasswordDeleteError:  # absent: nothing to delete
            return


def default_file_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "campaign-scheduler" / FILE_NAME


def _usable_keyring() -> Any | None:
    try:
        import keyring
        import keyring.errors
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except (keyring.errors.KeyringError, RuntimeError, OSError):
        return None
    if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith(".null"):
        return None
    priority = getattr(backend, "priority", 1)
    return backend if priority is None or priority > 0 else None


def default_store(environ: Mapping[str, str] | None = None) -> TokenStore:
    """The token store this process uses (see the module doc for the choice)."""
    env = os.environ if environ is None else environ
    choice = env.get(STORE_ENV, "").strip()
    if choice.startswith("file:"):
        target = choice[len("file:") :].strip()
        if not target:
            raise SecretError(
                msg("{variable}=file: needs a path, e.g. file:~/tokens.json", variable=STORE_ENV)
            )
        return FileTokenStore(Path(target).expanduser())
    if choice == "keyring":
        backend = _usable_keyring()
        if backend is None:
            raise SecretError(
                msg("{variable}=keyring, but no OS keyring is usable here", variable=STORE_ENV),
                hint=msg("unset {variable} to use a 0600 secrets file instead", variable=STORE_ENV),
            )
        return KeyringTokenStore(backend)
    if choice:
        raise SecretError(
            msg(
                '{variable} must be "keyring" or "file:PATH", not {choice!r}',
                variable=STORE_ENV,
                choice=choice,
            )
        )
    backend = _usable_keyring()
    if backend is not None:
        return KeyringTokenStore(backend)
    return FileTokenStore(default_file_path(env))
