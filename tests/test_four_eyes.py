"""Four eyes that mean something: the OS user approves, the campaign says who may, and nobody
who wrote a post approves it under any name."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from campaign_scheduler.cli import app
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import AuditEventRecord, PostRecord
from conftest import Workspace

KEY = "soest/01-klima"


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), *args])


def rules(ws: Workspace, extra: str) -> None:
    text = ws.campaign_file.read_text().replace(
        'grace = "2h"', f'grace = "2h"\nrequire_approval = true\n{extra}'
    )
    ws.campaign_file.write_text(text)


def login(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Who the operating system says runs the command (the test cannot create OS users)."""
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: name)


def audit(ws: Workspace) -> list[tuple[str, str, str | None]]:
    store = open_store(ws.database_url)
    with store.session() as session:
        rows = [
            (e.actor, e.action, e.detail.get("os_user"))
            for e in session.scalars(select(AuditEventRecord).order_by(AuditEventRecord.id))
        ]
    store.dispose()
    return rows


def approver(ws: Workspace) -> str | None:
    store = open_store(ws.database_url)
    with store.session() as session:
        post = session.scalars(select(PostRecord).where(PostRecord.key == KEY)).one()
        name = post.approver
    store.dispose()
    return name


@pytest.fixture
def written_by_anna(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    workspace.draft(KEY)
    login(monkeypatch, "anna")
    return workspace


def load(runner: CliRunner, ws: Workspace, *args: str) -> None:
    result = invoke(runner, ws, "load", *args)
    assert result.exit_code == 0, result.output


def test_the_author_cannot_approve_and_is_not_told_to_use_as(
    written_by_anna: Workspace, runner: CliRunner
) -> None:
    rules(written_by_anna, "")
    load(runner, written_by_anna)
    result = invoke(runner, written_by_anna, "approve", KEY)
    assert result.exit_code == 1
    assert "anna wrote or changed soest/01-klima; someone else must approve it" in result.stderr
    assert "--as" not in result.stderr
    assert approver(written_by_anna) is None


def test_as_is_refused_where_the_campaign_does_not_allow_it(
    written_by_anna: Workspace, runner: CliRunner
) -> None:
    rules(written_by_anna, "")
    load(runner, written_by_anna)
    result = invoke(runner, written_by_anna, "approve", KEY, "--as", "ben")
    assert result.exit_code == 2
    assert "--as: this campaign does not allow approving under another name" in result.stderr
    assert approver(written_by_anna) is None


@pytest.mark.parametrize("command", [("approve", KEY), ("load",), ("cancel", KEY)])
def test_an_empty_as_is_refused(
    written_by_anna: Workspace, runner: CliRunner, command: tuple[str, ...]
) -> None:
    rules(written_by_anna, "allow_as = true")
    load(runner, written_by_anna)
    result = invoke(runner, written_by_anna, *command, "--as", " ")
    assert result.exit_code == 2
    assert "--as: give a name (it may not be empty)" in result.stderr


def test_the_author_cannot_approve_under_another_name_even_where_as_is_allowed(
    written_by_anna: Workspace, runner: CliRunner
) -> None:
    rules(written_by_anna, "allow_as = true")
    load(runner, written_by_anna, "--as", "bernd")  # wrote it, calling herself bernd
    result = invoke(runner, written_by_anna, "approve", KEY, "--as", "ben")
    assert result.exit_code == 1
    assert "ben (OS user anna) wrote or changed soest/01-klima" in result.stderr
    result = invoke(runner, written_by_anna, "approve", KEY, "--as", "bernd")
    assert result.exit_code == 1
    assert approver(written_by_anna) is None


def test_a_colleague_approves_under_a_name_the_campaign_allows(
    written_by_anna: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules(written_by_anna, 'allow_as = true\napprovers = ["Ben Berger"]')
    load(runner, written_by_anna)
    login(monkeypatch, "kommunikation2")
    result = invoke(runner, written_by_anna, "approve", KEY, "--as", "Ben Berger")
    assert result.exit_code == 0, result.output
    assert approver(written_by_anna) == "Ben Berger"
    assert ("Ben Berger", "post.approved", "kommunikation2") in audit(written_by_anna)


def test_only_listed_approvers_may_approve(
    written_by_anna: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules(written_by_anna, 'approvers = ["ben"]')
    load(runner, written_by_anna)
    login(monkeypatch, "carla")
    result = invoke(runner, written_by_anna, "approve", KEY)
    assert result.exit_code == 1
    assert "carla may not approve posts of this campaign (rules.approvers: ben)" in result.stderr
    login(monkeypatch, "ben")
    assert invoke(runner, written_by_anna, "approve", KEY).exit_code == 0
    assert approver(written_by_anna) == "ben"


def test_whoever_changed_the_text_cannot_approve_it_either(
    written_by_anna: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules(written_by_anna, "")
    load(runner, written_by_anna)
    login(monkeypatch, "ben")
    written_by_anna.draft(KEY, body="Soest wird klimaneutral – bis 2030. #5malklug")
    load(runner, written_by_anna)
    result = invoke(runner, written_by_anna, "approve", KEY)
    assert result.exit_code == 1
    assert "ben wrote or changed soest/01-klima" in result.stderr
    login(monkeypatch, "carla")
    assert invoke(runner, written_by_anna, "approve", KEY).exit_code == 0


def test_the_approver_is_the_os_user_not_what_user_says(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules(workspace, "")
    workspace.draft(KEY)
    load(runner, workspace)  # written by whoever runs the tests
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    result = invoke(runner, workspace, "approve", KEY)
    assert result.exit_code == 1
    assert "someone-else" not in result.stderr


def test_the_audit_trail_records_the_os_user_of_every_change(
    written_by_anna: Workspace, runner: CliRunner
) -> None:
    load(runner, written_by_anna, "--as", "Anna Arndt")
    assert ("Anna Arndt", "post.created", "anna") in audit(written_by_anna)


def test_approvers_and_allow_as_are_checked_in_the_campaign_file(
    workspace: Workspace, runner: CliRunner
) -> None:
    rules(workspace, 'allow_as = "yes"\napprovers = ["ben", ""]')
    result = invoke(runner, workspace, "check")
    assert result.exit_code == 1
    assert "'allow_as' must be true or false" in result.output
    assert "rules.approvers: a name may not be empty" in result.output
