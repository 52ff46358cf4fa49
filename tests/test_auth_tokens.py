"""The token store: a 0600 JSON file written atomically, or the keyring; keyring: references."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign_scheduler.auth.tokens import (
    FileTokenStore,
    KeyringTokenStore,
    TokenRecord,
    default_store,
)
from campaign_scheduler.config import SecretRef
from campaign_scheduler.errors import SecretError

RECORD = TokenRecord(
    access_token="acc-123",
    refresh_token="ref-456",
    expires_at=datetime(2021, 12, 1, 9, 0, tzinfo=UTC),
    scope="write:statuses",
    extra={"chat": "-100123"},
)


def test_file_store_round_trips_a_record_in_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "secrets" / "tokens.json")
    store.put("soest-mastodon", RECORD)
    assert store.get("soest-mastodon") == RECORD
    assert store.get("unknown") is None
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "tokens.json",
        "tokens.json.lock",
    ]


def test_file_store_refuses_a_file_others_may_read(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.put("a", RECORD)
    os.chmod(store.path, 0o644)
    with pytest.raises(SecretError, match="may be read by others") as caught:
        store.get("a")
    assert caught.value.hint == f"chmod 600 {store.path}"


def test_a_failed_write_leaves_the_old_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.put("a", RECORD)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put("a", RECORD.with_access("new", expires_at=None))
    monkeypatch.undo()
    assert store.get("a") == RECORD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json", "tokens.json.lock"]


def test_a_refresh_keeps_the_refresh_token_unless_rotated() -> None:
    renewed = RECORD.with_access("acc-2", expires_at=None)
    assert (renewed.refresh_token, renewed.extra) == ("ref-456", RECORD.extra)
    assert RECORD.with_access("x", expires_at=None, refresh_token="r2").refresh_token == "r2"


def test_a_record_never_shows_its_tokens() -> None:
    assert "acc-123" not in repr(RECORD) and "ref-456" not in repr(RECORD)


def test_keyring_reference_resolves_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    FileTokenStore(path).put("soest", RECORD)
    environ = {"CAMPAIGN_TOKEN_STORE": f"file:{path}"}
    ref = SecretRef.parse("keyring:soest", tmp_path)
    assert ref is not None
    assert ref.is_available(environ)
    assert ref.resolve(environ) == "acc-123"
    missing = SecretRef.parse("keyring:olpe", tmp_path)
    assert missing is not None and not missing.is_available(environ)
    with pytest.raises(SecretError, match="not in the token store") as caught:
        missing.resolve(environ)
    assert "accounts connect" in (caught.value.hint or "")


def test_store_choice_follows_the_environment(tmp_path: Path) -> None:
    store = default_store({"CAMPAIGN_TOKEN_STORE": f"file:{tmp_path / 'x.json'}"})
    assert isinstance(store, FileTokenStore) and store.path == tmp_path / "x.json"
    with pytest.raises(SecretError, match="keyring"):
        default_store({"CAMPAIGN_TOKEN_STORE": "vault"})
    # No usable keyring on this machine (keyring's fail backend): the secrets file.
    fallback = default_store({"XDG_CONFIG_HOME": str(tmp_path)})
    assert isinstance(fallback, FileTokenStore)
    assert fallback.path == tmp_path / "campaign-scheduler" / "tokens.json"


class _MemoryKeyring:
    priority = 1

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, name: str) -> str | None:
        return self.entries.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        self.entries[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        del self.entries[(service, name)]


def test_keyring_store_keeps_one_json_entry_per_name() -> None:
    backend = _MemoryKeyring()
    store = KeyringTokenStore(backend)
    store.put("soest", RECORD)
    assert json.loads(backend.entries[("campaign-scheduler", "soest")])["scope"] == "write:statuses"
    assert store.get("soest") == RECORD
    store.delete("soest")
    assert store.get("soest") is None
