"""config.toml: precedence, relative paths, and secrets that are never stored or shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_scheduler.config import SecretRef, load_settings
from campaign_scheduler.errors import ConfigError, SecretError
from conftest import Workspace

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_example_config_parses_without_errors() -> None:
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert [p for p in settings.problems if p.severity == "error"] == []
    assert settings.campaign_path == ROOT / "campaign" / "5malklug.toml"
    senders = {a.sender for a in settings.accounts.values()}
    assert senders == {"suedwestfalen", "arnsberg", "bad-berleburg", "menden", "olpe", "soest"}


def test_relative_paths_are_resolved_from_the_config_folder(
    workspace: Workspace, tmp_path: Path
) -> None:
    settings = load_settings(workspace.config_file, environ={})
    assert settings.posts_path == workspace.root / "posts"
    assert settings.campaign_path == workspace.root / "campaign" / "testlauf.toml"
    assert settings.database_url == f"sqlite:///{workspace.root / 'campaign.db'}"


def test_environment_overrides_the_file_and_the_option_overrides_both(workspace: Workspace) -> None:
    env = {"CAMPAIGN_DATABASE_URL": "sqlite:////tmp/from-env.db"}
    assert (
        load_settings(workspace.config_file, environ=env).database_url
        == "sqlite:////tmp/from-env.db"
    )
    settings = load_settings(
        workspace.config_file, database_url="sqlite:////tmp/from-option.db", environ=env
    )
    assert settings.database_url == "sqlite:////tmp/from-option.db"


def test_campaign_config_variable_chooses_the_file(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(None, environ={"CAMPAIGN_CONFIG": str(workspace.config_file)})
    assert settings.config_path == workspace.config_file


def test_without_any_config_the_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    assert settings.config_path is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'campaign.db'}"
    assert settings.accounts == {}


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .* not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secrets_are_kept_as_references(workspace: Workspace) -> None:
    settings = load_settings(workspace.config_file, environ={"SOEST_MASTODON_TOKEN": "t0ps3cret"})
    token = settings.accounts["soest-mastodon"].secrets["token"]
    assert str(token) == "env:SOEST_MASTODON_TOKEN"
    assert "t0ps3cret" not in repr(settings)
    assert token.resolve({"SOEST_MASTODON_TOKEN": "t0ps3cret"}) == "t0ps3cret"


def test_an_unset_secret_names_the_variable_not_a_value() -> None:
    ref = SecretRef.parse("env:NOT_THERE", Path("/"))
    assert ref is not None
    with pytest.raises(SecretError, match="secret env:NOT_THERE is not set"):
        ref.resolve({})


def test_file_secrets_are_read_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("abc123\n")
    ref = SecretRef.parse("file:token.txt", tmp_path)
    assert ref is not None
    assert ref.resolve() == "abc123"
    missing = SecretRef.parse("file:missing.txt", tmp_path)
    assert missing is not None
    with pytest.raises(SecretError, match="cannot be read"):
        missing.resolve()


def test_daemon_durations_are_validated(workspace: Workspace) -> None:
    workspace.config_file.write_text(
        workspace.config_file.read_text() + '\n[daemon]\nlease = "zehn Minuten"\n'
    )
    settings = load_settings(workspace.config_file, environ={})
    [problem] = [p for p in settings.problems if p.severity == "error"]
    assert problem.line == 27
    assert problem.message.startswith("daemon.lease: ")


LOOPBACK_ONLY = "(plain http only for loopback addresses)"


def _errors_with(workspace: Workspace, replace: str, by: str) -> list[str]:
    text = workspace.config_file.read_text(encoding="utf-8")
    assert replace in text
    workspace.config_file.write_text(text.replace(replace, by), encoding="utf-8")
    settings = load_settings(workspace.config_file, environ={})
    return [p.message for p in settings.problems if p.severity == "error"]


def test_plain_http_base_url_is_refused(workspace: Workspace) -> None:
    errors = _errors_with(workspace, "https://social.soest.example", "http://social.soest.example")
    assert errors == [
        f"account 'soest-mastodon': base_url must start with https:// {LOOPBACK_ONLY}"
    ]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:3000"])
def test_plain_http_base_url_is_allowed_on_loopback(workspace: Workspace, url: str) -> None:
    assert _errors_with(workspace, "https://social.soest.example", url) == []


def test_a_webhook_address_must_be_https_too(workspace: Workspace) -> None:
    text = workspace.config_file.read_text(encoding="utf-8")
    workspace.config_file.write_text(
        text
        + '\n[accounts.soest-intranet]\nchannel = "webhook"\nsender = "soest"\n'
        + 'url = "http://intranet.soest.example/hook"\nsecret = "env:SOEST_HOOK_SECRET"\n',
        encoding="utf-8",
    )
    settings = load_settings(workspace.config_file, environ={})
    errors = [p.message for p in settings.problems if p.severity == "error"]
    assert errors == [f"account 'soest-intranet': url must start with https:// {LOOPBACK_ONLY}"]
