"""queue, approve, cancel, reschedule, resolve, status and history through the CLI."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select
from typer.testing import CliRunner, Result

from campaign_scheduler.cli import app
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import AuditEventRecord, DeliveryRecord, PostRecord
from conftest import Workspace


def invoke(runner: CliRunner, ws: Workspace, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), *args], input=input)


def require_approval(ws: Workspace) -> None:
    text = ws.campaign_file.read_text().replace(
        'grace = "2h"', 'grace = "2h"\nrequire_approval = true'
    )
    ws.campaign_file.write_text(text)


def set_state(ws: Workspace, state: str, **values: object) -> None:
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            delivery.state = state
            for key, value in values.items():
                setattr(delivery, key, value)
    store.dispose()


def audit_actions(ws: Workspace) -> list[tuple[str, str]]:
    store = open_store(ws.database_url)
    with store.session() as session:
        events = [
            (e.actor, e.action)
            for e in session.scalars(select(AuditEventRecord).order_by(AuditEventRecord.id))
        ]
    store.dispose()
    return events


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner) -> Workspace:
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load", "--as", "anna").exit_code == 0
    return workspace


def test_four_eyes_the_author_cannot_approve(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_approval(workspace)
    workspace.draft("soest/01-klima")
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "anna")
    invoke(runner, workspace, "load")
    result = invoke(runner, workspace, "approve", "soest/01-klima")
    assert result.exit_code == 1
    assert "anna wrote or changed soest/01-klima; someone else must approve it" in result.stderr
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "ben")
    result = invoke(runner, workspace, "approve", "soest/01-klima")
    assert result.exit_code == 0, result.output
    assert "approved soest/01-klima (version 1, written by anna)" in result.stdout
    assert ("ben", "post.approved") in audit_actions(workspace)


def test_plan_shows_posts_awaiting_approval(workspace: Workspace, runner: CliRunner) -> None:
    require_approval(workspace)
    workspace.draft("soest/01-klima")
    invoke(runner, workspace, "load")
    rows = json.loads(invoke(runner, workspace, "plan", "--json").stdout)
    assert {r["needs_approval"] for r in rows} == {True}


def _awaiting_approval(ws: Workspace, runner: CliRunner) -> int:
    result = invoke(runner, ws, "status", "--json")
    assert result.exit_code in (0, 1), result.output
    count = json.loads(result.stdout)["awaiting_approval"]
    assert isinstance(count, int)
    return count


@pytest.mark.parametrize("approval", [True, False])
def test_status_counts_the_deliveries_awaiting_approval(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, approval: bool
) -> None:
    if approval:
        require_approval(workspace)
    workspace.draft("soest/01-klima")
    workspace.draft(
        "soest/02-wald",
        body="Soest pflanzt Wald. #5malklug",
        at="T-13d 09:30",
        channels=("mastodon",),
    )
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "anna")
    loaded = invoke(runner, workspace, "load")
    assert loaded.exit_code == 0, loaded.output
    assert _awaiting_approval(workspace, runner) == (3 if approval else 0)
    if approval:
        monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "ben")
        assert invoke(runner, workspace, "approve", "soest/01-klima").exit_code == 0
        assert _awaiting_approval(workspace, runner) == 1


def test_an_unknown_key_suggests_the_nearest(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "approve", "soest/01-klma")
    assert result.exit_code == 1
    assert (
        "no post 'soest/01-klma' in campaign 'testlauf' (did you mean 'soest/01-klima'?)"
        in result.stderr
    )


def test_cancel_stops_waiting_deliveries_and_keeps_published_ones(
    loaded: Workspace, runner: CliRunner
) -> None:
    store = open_store(loaded.database_url)
    with store.session(write=True) as session:
        for d in session.scalars(select(DeliveryRecord)):
            if d.account.name == "soest-mastodon":
                d.state, d.remote_url = "published", "https://social.soest.example/@s/1"
    store.dispose()
    result = invoke(runner, loaded, "cancel", "soest/01-klima", "--as", "carla")
    assert result.exit_code == 0, result.output
    assert "cancelled soest/01-klima on soest-bluesky" in result.stdout
    assert (
        "soest/01-klima on soest-mastodon is already published (https://social.soest.example/@s/1)"
        in result.stdout
    )
    assert ("carla", "delivery.cancelled") in audit_actions(loaded)


def test_reschedule_moves_the_post(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "reschedule", "soest/01-klima", "--at", "2021-11-05 10:15")
    assert result.exit_code == 0, result.output
    rows = json.loads(invoke(runner, loaded, "plan", "--json").stdout)
    assert {r["due_at"] for r in rows} == {"2021-11-05T10:15:00+01:00"}
    # The draft file did not change, so loading again keeps the new time.
    invoke(runner, loaded, "load")
    rows = json.loads(invoke(runner, loaded, "plan", "--json").stdout)
    assert {r["due_at"] for r in rows} == {"2021-11-05T10:15:00+01:00"}


def test_reschedule_refuses_a_time_outside_the_windows(
    loaded: Workspace, runner: CliRunner
) -> None:
    result = invoke(runner, loaded, "reschedule", "soest/01-klima", "--at", "2021-11-05 22:00")
    assert result.exit_code == 1
    assert "2021-11-05 22:00 is outside the posting windows" in result.stderr


def test_reschedule_refuses_a_time_after_the_deadline(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "reschedule", "soest/01-klima", "--at", "2021-11-18 12:00")
    assert result.exit_code == 1
    assert "is after the post's deadline (2021-11-18 10:00)" in result.stderr


def test_a_bad_time_option_is_a_usage_error(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "reschedule", "soest/01-klima", "--at", "gestern")
    assert result.exit_code == 2
    assert "--at: bad time 'gestern'" in result.stderr


def test_queue_from_stdin_at_a_given_time(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(
        runner,
        loaded,
        "queue",
        "-",
        "--sender",
        "soest",
        "--channel",
        "mastodon",
        "--at",
        "2021-11-10 12:00",
        "--as",
        "dora",
        "--json",
        input="Spontan: Heute Abend Infostand am Markt #5malklug\n",
    )
    assert result.exit_code == 0, result.output
    queued = json.loads(result.stdout)
    assert queued["post"].startswith("adhoc/soest/20211110-1200-")
    assert queued["accounts"] == ["soest-mastodon"]
    assert queued["not_after"] == "2021-11-18T10:00:00+01:00"
    rows = json.loads(invoke(runner, loaded, "plan", "--json").stdout)
    assert [r["text"] for r in rows if r["post"] == queued["post"]] == [
        "Spontan: Heute Abend Infostand am Markt #5malklug"
    ]
    assert ("dora", "post.queued") in audit_actions(loaded)


def test_queue_refuses_text_without_the_hashtag(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(
        runner,
        loaded,
        "queue",
        "Ohne Tag",
        "--sender",
        "soest",
        "--channel",
        "mastodon",
        "--at",
        "2021-11-10 12:00",
    )
    assert result.exit_code == 1
    assert "the text lacks the hashtag #5malklug" in result.stderr


def test_queue_respects_min_gap(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(
        runner,
        loaded,
        "queue",
        "Nah dran #5malklug",
        "--sender",
        "soest",
        "--channel",
        "mastodon",
        "--at",
        "2021-11-04 09:45",
    )
    assert result.exit_code == 1
    assert "soest-mastodon already posts at 2021-11-04 09:30 (soest/01-klima)" in result.stderr


def test_queue_next_slot_finds_free_times_in_the_windows(
    workspace: Workspace, runner: CliRunner
) -> None:
    from datetime import UTC, datetime, timedelta
    from itertools import pairwise
    from zoneinfo import ZoneInfo

    # A campaign whose event lies ahead, so that the next free slot is in the future.
    event = (datetime.now(UTC) + timedelta(days=10)).astimezone(ZoneInfo("Europe/Berlin"))
    text = workspace.campaign_file.read_text()
    text = text.replace('starts = "2021-10-26"\n', "")
    text = text.replace('start = "2021-11-18T10:00"', f'start = "{event:%Y-%m-%dT10:00}"')
    text = text.replace('end = "2021-11-18T16:00"', f'end = "{event:%Y-%m-%dT16:00}"')
    text = text.replace(
        'windows = ["Mon-Fri 08:00-19:00", "Sat-Sun 10:00-16:00"]',
        'windows = ["daily 09:00-11:00"]',
    )
    workspace.campaign_file.write_text(text)
    assert invoke(runner, workspace, "load").exit_code == 0
    slots = []
    for n in range(3):
        result = invoke(
            runner,
            workspace,
            "queue",
            f"Gleich {n} #5malklug",
            "--sender",
            "soest",
            "--channel",
            "mastodon",
            "--next-slot",
            "--json",
        )
        assert result.exit_code == 0, result.output
        slots.append(datetime.fromisoformat(json.loads(result.stdout)["due_at"]))
    berlin = [slot.astimezone(ZoneInfo("Europe/Berlin")) for slot in slots]
    assert all(9 <= local.hour < 11 for local in berlin)  # inside the window
    assert slots[0] > datetime.now(UTC)
    assert all(b - a >= timedelta(minutes=30) for a, b in pairwise(slots))


def test_queue_needs_at_or_next_slot(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(
        runner, loaded, "queue", "x #5malklug", "--sender", "soest", "--channel", "mastodon"
    )
    assert result.exit_code == 2
    assert "give either --at WHEN or --next-slot" in result.stderr


def on_a_mastodon_sandbox(
    ws: Workspace, sandbox: MastodonSandbox, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The workspace's Mastodon accounts on ``sandbox``; each one's status, posted there."""
    config = ws.config_file.read_text("utf-8")
    for instance in ("https://social.soest.example", "https://social.olpe.example"):
        config = config.replace(instance, sandbox.url)
    ws.config_file.write_text(config, "utf-8")
    urls = {}
    for who in ("soest", "olpe"):
        token = sandbox.add_account(who)
        monkeypatch.setenv(f"{who.upper()}_MASTODON_TOKEN", token)
        answer = requests.post(
            f"{sandbox.url}/api/v1/statuses",
            data={"status": f"Aus {who} #5malklug"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        answer.raise_for_status()
        urls[who] = str(answer.json()["url"])
    return urls


def test_resolve_an_unknown_delivery_as_published(
    loaded: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_state(loaded, "unknown")
    with MastodonSandbox() as sandbox:
        urls = on_a_mastodon_sandbox(loaded, sandbox, monkeypatch)
        refused = invoke(
            runner, loaded, "resolve", "soest/01-klima", "--account", "soest-mastodon",
            "--published", urls["olpe"], "--as", "eva",
        )  # fmt: skip
        assert refused.exit_code == 2
        assert "is not a post of soest-mastodon" in refused.stderr  # another account's
        url = urls["soest"]
        result = invoke(
            runner,
            loaded,
            "resolve",
            "soest/01-klima",
            "--account",
            "soest-mastodon",
            "--published",
            url,
            "--as",
            "eva",
        )
    assert result.exit_code == 0, result.output
    history = json.loads(invoke(runner, loaded, "history", "--json").stdout)
    mastodon = next(h for h in history if h["account"] == "soest-mastodon")
    assert (mastodon["state"], mastodon["url"]) == ("published", url)
    assert mastodon["remote_id"] == url.rsplit("/", 1)[-1]  # Mastodon's address ends in its id
    assert ("eva", "delivery.resolved") in audit_actions(loaded)


def test_resolve_not_published_after_the_deadline_expires(
    loaded: Workspace, runner: CliRunner
) -> None:
    set_state(loaded, "unknown")
    result = invoke(
        runner, loaded, "resolve", "soest/01-klima", "--account", "soest-bluesky", "--not-published"
    )
    assert result.exit_code == 0, result.output
    assert "too late to try again: expired" in result.stdout  # the 2021 campaign is long over


def test_resolve_only_settles_unknown_deliveries(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(
        runner, loaded, "resolve", "soest/01-klima", "--account", "soest-bluesky", "--not-published"
    )
    assert result.exit_code == 1
    assert "is pending, not unknown; nothing to resolve" in result.stderr


def test_status_exits_1_when_something_needs_a_person(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "status", "--json")
    status = json.loads(result.stdout)
    assert status["counts"]["pending"] == 2
    assert status["heartbeat_age_seconds"] is None
    # The campaign lies in the past: its posts are overdue and no daemon runs.
    assert result.exit_code == 1
    assert any("no daemon is running" in p for p in status["needs_a_person"])


def test_status_reports_unknown_and_failed(loaded: Workspace, runner: CliRunner) -> None:
    set_state(loaded, "unknown")
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 1
    for account in ("soest-mastodon", "soest-bluesky"):
        assert f"needs a person: soest/01-klima on {account} has an unknown outcome" in (
            result.stdout
        )
    assert "check the account, then campaign resolve" in result.stdout


def test_history_lists_attempted_deliveries(loaded: Workspace, runner: CliRunner) -> None:
    assert (
        invoke(runner, loaded, "history").stdout.strip()
        == "nothing has been published or tried yet"
    )
    set_state(loaded, "failed", attempts=3, last_error="rejected by mastodon: too long")
    rows = json.loads(invoke(runner, loaded, "history", "--json").stdout)
    assert {(r["state"], r["attempts"], r["error"]) for r in rows} == {
        ("failed", 3, "rejected by mastodon: too long")
    }


def test_posts_keep_their_author(loaded: Workspace) -> None:
    store = open_store(loaded.database_url)
    with store.session() as session:
        assert session.scalars(select(PostRecord.author)).all() == ["anna"]
    store.dispose()
