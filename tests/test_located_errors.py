"""Every bad input gets a located error (file and line, or the option), never a traceback; files
the tool creates are private and written without following planted symlinks."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.config import SecretRef, load_settings
from campaign_scheduler.errors import SecretError
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from conftest import Workspace, draft_text

REPO = Path(__file__).resolve().parent.parent


def run(
    runner: CliRunner, ws: Workspace, *args: str, input: bytes | None = None
) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(ws.config_file), *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def problems_of(ws: Workspace) -> list[str]:
    return [p.format(ws.root) for p in check(load_settings(ws.config_file)).problems]


def errors_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.severity is Severity.ERROR]


# --- years -----------------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01 09:30", "9999-12-31 23:30", "1000-01-01 10:00"])
def test_a_year_out_of_range_in_a_draft_is_located(workspace: Workspace, at: str) -> None:
    workspace.draft("soest/01-klima", at=at)
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-klima.md:2: at: bad time")
    assert "the year must be between 1970 and 9000" in error


def test_a_year_out_of_range_as_a_toml_datetime(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima", text='+++\nat = 0001-01-01T09:30:00\nchannels = ["mastodon"]\n+++\nx\n'
    )
    assert any("01-klima.md:2: at: bad time" in e for e in errors_of(workspace))


def test_a_campaign_date_out_of_range_is_located(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text(encoding="utf-8")
    workspace.campaign_file.write_text(
        text.replace('starts = "2021-10-26"', 'starts = "0001-01-01"\nends = "9999-12-31"'),
        encoding="utf-8",
    )
    errors = errors_of(workspace)
    assert "campaign/testlauf.toml:7: 'starts': the year must be between 1970 and 9000" in errors
    assert "campaign/testlauf.toml:8: 'ends': the year must be between 1970 and 9000" in errors


@pytest.mark.parametrize("at", ["0001-01-01 00:00", "9999-12-31 23:59"])
def test_queue_and_reschedule_refuse_an_out_of_range_year(
    workspace: Workspace, runner: CliRunner, at: str
) -> None:
    workspace.draft("soest/01-klima")
    assert run(runner, workspace, "load")[0] == 0
    code, output = run(
        runner, workspace, "queue", "Hallo #5malklug", "--sender", "soest",
        "--channel", "mastodon", "--at", at,
    )  # fmt: skip
    assert code == 2 and "--at: bad time" in output
    code, output = run(runner, workspace, "reschedule", "soest/01-klima", "--at", at)
    assert code == 2 and "--at: bad time" in output


# --- nesting, NUL, encodings, separators ---------------------------------------------------


def test_deeply_nested_front_matter_is_a_located_error(workspace: Workspace) -> None:
    for value in ("[" * 5000 + "]" * 5000, "{a=" * 5000 + "}" * 5000):
        workspace.draft("soest/01-klima", extra=f"x = {value}\n")
        assert errors_of(workspace) == [
            "posts/soest/01-klima.md:2: malformed TOML: arrays or tables are nested too deeply"
        ]


def test_deeply_nested_config_is_a_located_error(workspace: Workspace, runner: CliRunner) -> None:
    with workspace.config_file.open("a", encoding="utf-8") as config:
        config.write("\n[deep]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    code, output = run(runner, workspace, "check")
    assert (
        code == 1
        and "config.toml:1: malformed TOML: arrays or tables are nested too deeply" in (output)
    )


def test_a_nul_in_a_configured_path_is_reported(workspace: Workspace, runner: CliRunner) -> None:
    text = workspace.config_file.read_text(encoding="utf-8")
    text = text.replace('campaign = "campaign/testlauf.toml"', 'campaign = "camp\\u0000.toml"')
    text = text.replace('url = "sqlite:///campaign.db"', 'url = "sqlite:///camp\\u0000.db"')
    workspace.config_file.write_text(text, encoding="utf-8")
    code, output = run(runner, workspace, "check")
    assert code == 1 and "camp" in output
    code, output = run(runner, workspace, "status")
    assert code == 1


def test_a_latin1_draft_says_save_as_utf8_with_the_line(workspace: Workspace) -> None:
    path = workspace.root / "posts" / "soest" / "01-klima.md"
    path.write_bytes(draft_text("Grüße aus Soest #5malklug").encode("latin-1"))
    expected = (
        "posts/soest/01-klima.md:5: the draft is not UTF-8 (byte 0xfc in column 3); "
        "save it as UTF-8 (in most editors: Save as… → Encoding: UTF-8)"
    )
    assert errors_of(workspace) == [expected]


def test_a_latin1_config_says_save_as_utf8(workspace: Workspace, runner: CliRunner) -> None:
    text = workspace.config_file.read_text(encoding="utf-8") + "\n# Grüße\n"
    workspace.config_file.write_bytes(text.encode("latin-1"))
    code, output = run(runner, workspace, "check")
    assert code == 1 and "config.toml:" in output and "save it as UTF-8" in output


def test_utf8_with_a_byte_order_mark_is_accepted(workspace: Workspace) -> None:
    bom = b"\xef\xbb\xbf"
    workspace.draft("soest/01-klima")
    for path in (
        workspace.root / "posts" / "soest" / "01-klima.md",
        workspace.campaign_file,
        workspace.config_file,
    ):
        path.write_bytes(bom + path.read_bytes())
    result = check(load_settings(workspace.config_file))
    assert result.errors == []
    [draft] = result.drafts
    assert draft.body == "Soest will bis 2030 klimaneutral werden. #5malklug"


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85", "\u2029", "\x0b"])
def test_line_separators_in_a_draft_neither_shift_lines_nor_become_newlines(
    workspace: Workspace, separator: str
) -> None:
    workspace.draft(
        "soest/01-klima",
        text=(
            f'+++\n# Notiz{separator}mit Trenner\nat = "T-14d 09:30"\nchannels = ["mastodon"]\n'
            f'languag = "de"\n+++\nErste{separator}Zeile #5malklug\n'
        ),
    )
    result = check(load_settings(workspace.config_file))
    found = [p.format(workspace.root) for p in result.problems if "config.toml" not in str(p.path)]
    if separator in "\x0c\x0b":  # TOML itself refuses them in a comment: on their line
        assert found[0].startswith("posts/soest/01-klima.md:2: malformed TOML")
        return
    assert "posts/soest/01-klima.md:5: unknown key 'languag' (did you mean 'language'?)" in found
    assert any(f.startswith("posts/soest/01-klima.md:7: warning: the text holds a") for f in found)
    [draft] = result.drafts
    assert draft.body == f"Erste{separator}Zeile #5malklug"  # kept, not made a line break


def test_queue_from_stdin_that_is_not_utf8(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima")
    assert run(runner, workspace, "load")[0] == 0
    code, output = run(
        runner, workspace, "queue", "-", "--sender", "soest", "--channel", "mastodon",
        "--at", "T-2d 10:00", input="Grüße #5malklug".encode("latin-1"),
    )  # fmt: skip
    assert code == 1
    assert "<stdin>:1: the text is not UTF-8 (byte 0xfc in column 3)" in output


# --- secrets ---------------------------------------------------------------------------------


def test_a_secret_file_that_is_not_utf8_is_a_secret_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes("geheim-ü".encode("latin-1"))
    ref = SecretRef.parse("file:token", tmp_path)
    assert ref is not None
    with pytest.raises(SecretError, match="is not UTF-8 text") as raised:
        ref.resolve()
    assert "geheim" not in str(raised.value)


def test_an_unreadable_secret_marks_the_account_not_a_retry(tmp_path: Path) -> None:
    """The publisher records AUTH_BROKEN for a SecretError (a person must act), not a retry."""
    from campaign_scheduler.channels.base import AccountSettings, OutboundPost, Receipt
    from campaign_scheduler.publishing.publisher import Publisher
    from campaign_scheduler.publishing.queue import OutcomeKind
    from fakes import FakeChannels, FakeNetwork, ScriptedChannel
    from test_media_confinement import claim

    (tmp_path / "token").write_bytes(b"\xff\xfe")
    ref = SecretRef.parse("file:token", tmp_path)
    assert ref is not None

    class TokenChannel(ScriptedChannel):
        def publish(self, post: OutboundPost) -> Receipt:
            self.account.secret("token")
            return super().publish(post)

    channel = TokenChannel(FakeNetwork())
    channel.account = AccountSettings("soest-mastodon", "https://x", secret=lambda k: ref.resolve())
    publisher = Publisher(FakeChannels(channel), media_root=tmp_path)
    now = datetime(2021, 11, 4, 8, 31, tzinfo=UTC)
    post_claim = claim("media/klima.png")
    post_claim.media.clear()
    outcome = publisher.publish(post_claim, lambda: now)
    assert outcome.kind is OutcomeKind.AUTH_BROKEN
    assert outcome.error is not None and "is not UTF-8 text" in outcome.error


def test_check_warns_about_a_secret_file_others_can_read(workspace: Workspace) -> None:
    token = workspace.root / "mastodon.token"
    token.write_text("geheim\n", encoding="utf-8")
    token.chmod(0o644)
    text = workspace.config_file.read_text(encoding="utf-8")
    workspace.config_file.write_text(
        text.replace('token = "env:SOEST_MASTODON_TOKEN"', 'token = "file:mastodon.token"'),
        encoding="utf-8",
    )
    assert any(
        "can be read by other users; restrict it with chmod 600" in p
        for p in problems_of(workspace)
    )
    token.chmod(0o600)
    assert not any("chmod 600" in p for p in problems_of(workspace))


# --- files the tool writes -------------------------------------------------------------------


def test_the_sqlite_database_is_created_private(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima")
    old = os.umask(0o022)
    try:
        assert run(runner, workspace, "load")[0] == 0
    finally:
        os.umask(old)
    mode = stat.S_IMODE((workspace.root / "campaign.db").stat().st_mode)
    assert mode == 0o600


def test_plan_ics_into_a_missing_folder_is_a_usage_error(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima")
    assert run(runner, workspace, "load")[0] == 0
    code, output = run(runner, workspace, "plan", "--ics", str(workspace.root / "fehlt" / "p.ics"))
    assert code == 2 and "--ics: the folder" in output and "does not exist" in output


@pytest.mark.parametrize("args", [("plan", "--ics"), ("report", "--format", "md", "-o")])
def test_exports_never_follow_a_planted_symlink(
    workspace: Workspace, runner: CliRunner, args: tuple[str, ...]
) -> None:
    workspace.draft("soest/01-klima")
    assert run(runner, workspace, "load")[0] == 0
    victim = workspace.root / "victim.txt"
    victim.write_text("unangetastet", encoding="utf-8")
    target = workspace.root / "out.file"
    # The names the old code used for its temporary file, planted as symlinks to the victim.
    for name in (f".{target.name}.tmp", f".{target.name}.{os.getpid()}.tmp"):
        (workspace.root / name).symlink_to(victim)
    code, _ = run(runner, workspace, *args, str(target))
    assert code == 0
    assert victim.read_text(encoding="utf-8") == "unangetastet"
    assert target.is_file() and not target.is_symlink()
    leftovers = [p.name for p in workspace.root.glob(".out.file.*") if not p.is_symlink()]
    assert leftovers == []


def test_the_systemd_unit_sets_a_private_umask() -> None:
    unit = (REPO / "contrib" / "campaign-scheduler.service").read_text(encoding="utf-8")
    assert "\nUMask=0077\n" in unit
