"""``status`` and ``accounts connect`` in German: a delivery that needs a person is named with
its reason worded for readers (no configuration keys), ``--json`` keeps the record's English;
the questions a connect flow asks are German."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from campaign_scheduler import uilang
from campaign_scheduler.publishing.decide import Abilities, Do, Event, Facts, decide
from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace
from test_i18n_sweep import invoke
from test_status import set_state

KEY = "soest/01-klima"
ACCOUNT = "soest-mastodon"


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The draft loaded (as in test_i18n_sweep.py; a fixture cannot be imported under its name
    without shadowing it in every test)."""
    workspace.draft(KEY)
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "anna")
    assert invoke(runner, workspace, "en", "load", "--as", "anna").exit_code == 0
    return workspace


def set_reason(ws: Workspace, state: str, reason: Reason) -> None:
    """Put the account's delivery into ``state`` with ``reason`` as the scheduler records it."""
    at = datetime.now(UTC) - timedelta(days=3)
    set_state(ws, ACCOUNT, state, reason.record(), at)
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.state == state)
            .values(state_reason_data=reason.as_json(), updated_at=at)
        )
    store.dispose()


def needs_a_person(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("braucht")]


LATE = Reason("late", {"grace": 7200, "why": Reason("never_approved")})


def test_status_words_an_expired_delivery_for_german_readers(
    loaded: Workspace, runner: CliRunner
) -> None:
    set_reason(loaded, "expired", LATE)
    result = invoke(runner, loaded, "de", "status")
    assert result.exit_code == 1, result.output
    assert "rules.grace" not in result.stdout
    assert (
        "nicht innerhalb von 2 Stunden nach dem geplanten Zeitpunkt erschienen: "
        "der Beitrag wurde nicht freigegeben"
    ) in result.stdout, result.stdout
    english = invoke(runner, loaded, "en", "status")
    assert "rules.grace" not in english.stdout
    assert (
        "not published within 2 hours of its planned time: the post was never approved"
    ) in english.stdout


def _asked_a_person() -> Any:
    """What the protocol decides for a delivery an earlier call may have created, on a network
    that can neither replay nor look up."""
    now = datetime(2021, 11, 4, 9, 0, tzinfo=UTC)
    facts = Facts(now=now, deadline=now + timedelta(hours=2), attempt=2, maybe_out=True)
    action = decide(facts, Event.CLAIMED, Abilities(None, False), policy=RetryPolicy())
    assert action.do is Do.ASK
    return action


def test_a_maybe_out_decision_carries_its_keyed_reason() -> None:
    action = _asked_a_person()
    assert isinstance(action.why, Reason)
    assert action.why.record() == action.reason
    assert "Netzwerk" in action.why.for_readers("de")


def test_status_words_a_maybe_out_delivery_for_german_readers(
    loaded: Workspace, runner: CliRunner
) -> None:
    set_reason(loaded, "unknown", _asked_a_person().why)
    result = invoke(runner, loaded, "de", "status")
    assert result.exit_code == 1, result.output
    [line] = [line for line in needs_a_person(result) if ACCOUNT in line]
    assert "earlier call" not in line and "check the account" not in line, line
    assert "Netzwerk" in line, line


@pytest.mark.parametrize("state", ["expired", "unknown"])
def test_status_json_is_the_same_in_german_and_english(
    loaded: Workspace, runner: CliRunner, state: str
) -> None:
    reason = LATE if state == "expired" else _asked_a_person().why
    set_reason(loaded, state, reason)
    german = json.loads(invoke(runner, loaded, "de", "status", "--json").stdout)
    english = json.loads(invoke(runner, loaded, "en", "status", "--json").stdout)
    for report in (german, english):
        report.pop("daemon")
        report.pop("heartbeat_age_seconds")
        report.pop("oldest_overdue_seconds")
    assert german == english
    [item] = german["since_ack"]
    assert item["reason"] == reason.record()
    assert any(reason.record() in problem for problem in german["needs_a_person"])


def test_a_connect_prompt_is_german() -> None:
    from campaign_scheduler.auth.base import ConnectContext
    from campaign_scheduler.auth.bluesky import BlueskyFlow

    asked: list[str] = []

    def ask(prompt: str, secret: bool = False) -> str:
        asked.append(uilang.tr(prompt, "de"))
        raise KeyboardInterrupt

    ctx = ConnectContext(
        account_name="soest-bluesky",
        channel="bluesky",
        base_url="https://bsky.social",
        settings={},
        session=None,  # type: ignore[arg-type]
        ask=ask,
    )
    with pytest.raises(KeyboardInterrupt):
        BlueskyFlow().connect(ctx)
    assert asked == ["Handle (z. B. stadt-soest.bsky.social): "]


def test_every_connect_prompt_has_german() -> None:
    """Each question a flow asks is a catalog msgid with a German translation."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "src" / "campaign_scheduler" / "auth"
    prompts: list[str] = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("ask", "answer")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ctx"
            ):
                asked = node.args[-1]
                assert isinstance(asked, ast.Call) and getattr(asked.func, "id", "") == "msg", (
                    f"{path.name}:{node.lineno}: the prompt is not a msg(...)"
                )
                assert isinstance(asked.args[0], ast.Constant)
                prompts.append(str(asked.args[0].value))
    assert len(prompts) >= 10
    for prompt in prompts:
        assert uilang.tr(prompt, "de") != prompt, prompt


def test_history_words_the_protocols_reason_for_german_readers(
    loaded: Workspace, runner: CliRunner
) -> None:
    """``history`` shows a delivery's last error: the protocol's own words (here: the post may
    be out) are worded for readers; ``--json`` keeps the record's English."""
    reason = _asked_a_person().why
    set_reason(loaded, "unknown", reason)
    store = open_store(loaded.database_url)
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.state == "unknown")
            .values(attempts=2, last_error=reason.record())
        )
    store.dispose()
    result = invoke(runner, loaded, "de", "history")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if ACCOUNT in line]
    assert "earlier call" not in line and "check the account" not in line, line
    assert reason.for_readers("de") in line, line
    for lang in ("de", "en"):
        rows = json.loads(invoke(runner, loaded, lang, "history", "--json").stdout)
        [row] = [row for row in rows if row["account"] == ACCOUNT]
        assert row["error"] == reason.record()


def test_choosing_the_only_page_and_having_none_are_said_in_german() -> None:
    import requests

    from auth_browser import Clock, flow_context
    from campaign_scheduler.auth._flowkit import choose
    from campaign_scheduler.errors import ChannelError

    said: list[str] = []
    ctx = flow_context(
        "facebook",
        "https://graph.facebook.com",
        requests.Session(),
        Clock(),
        say=lambda text: said.append(uilang.tr(text, "de")),
    )
    page = uilang.msg("Page")
    assert choose(ctx, [("123", "Stadt Soest")], key="page_id", what=page, network="facebook")
    assert said == ["Seite: Stadt Soest (123)"]
    with pytest.raises(ChannelError) as refused:
        choose(ctx, [], key="page_id", what=page, network="facebook")
    assert uilang.tr(refused.value.message, "de") == (
        "facebook: die angemeldete Person verwaltet keine Seite"
    )


# -- a delivery waiting for its next try ----------------------------------------------------------

WAITS = [
    # (event, maybe_out, abilities, the English record, the German reader's words)
    (Event.UNAVAILABLE, False, Abilities(None, False), "503", "503; es wird erneut versucht"),
    (
        Event.RATE_LIMITED,
        False,
        Abilities(None, False),
        "429",
        (
            "das Netzwerk bittet um weniger Anfragen (429); es wird erneut versucht, "
            "sobald es das zulässt"
        ),
    ),
    (
        Event.LOST_ANSWER,
        False,
        Abilities(None, True),
        "timeout",
        (
            "timeout; der Beitrag ist vielleicht schon veröffentlicht: das wird geprüft, "
            "bevor erneut gesendet wird"
        ),
    ),
    (
        Event.UNAVAILABLE,
        True,
        Abilities(None, True),
        "503",
        (
            "503; der Beitrag ist vielleicht schon veröffentlicht: das wird geprüft, "
            "bevor erneut gesendet wird"
        ),
    ),
    (
        Event.LOOKUP_FAILED,
        True,
        Abilities(None, True),
        "lookup after a lost answer failed: 503",
        (
            "das Netzwerk konnte nicht gefragt werden, ob der Beitrag veröffentlicht wurde (503); "
            "es wird erneut gefragt"
        ),
    ),
]


@pytest.mark.parametrize(("event", "maybe_out", "abilities", "record", "words"), WAITS)
def test_every_wait_for_a_retry_carries_a_keyed_reason_worded_for_german_readers(
    event: Event, maybe_out: bool, abilities: Abilities, record: str, words: str
) -> None:
    now = datetime(2021, 11, 4, 9, 0, tzinfo=UTC)
    facts = Facts(now=now, deadline=now + timedelta(hours=2), attempt=1, maybe_out=maybe_out)
    error = record.removeprefix("lookup after a lost answer failed: ")
    action = decide(facts, event, abilities, policy=RetryPolicy(), error=error)
    assert action.do is Do.WAIT
    assert isinstance(action.why, Reason)
    assert action.reason == action.why.record() == record  # the record as before
    assert action.why.for_readers("de") == words


def test_history_shows_a_delivery_waiting_for_a_retry_in_german(
    loaded: Workspace, runner: CliRunner
) -> None:
    """A worker meets a 503: the delivery waits for its next try; ``history`` says why in the
    reader's language, ``--json`` keeps the network's message as the record has it."""
    from campaign_scheduler.errors import UnavailableError
    from campaign_scheduler.publishing.daemon import Worker
    from campaign_scheduler.publishing.publisher import Publisher
    from fakes import FakeChannels, FakeNetwork, KeyedChannel

    store = open_store(loaded.database_url)
    with store.session() as session:
        due = min(d.due_at for d in session.query(DeliveryRecord))
    channel = KeyedChannel(FakeNetwork(), [UnavailableError("503 Service Unavailable")] * 9)
    publisher = Publisher(FakeChannels(channel), media_root=loaded.root / "posts")
    Worker(store, publisher, worker_id="w1", clock=lambda: due + timedelta(seconds=1)).tick()
    store.dispose()
    result = invoke(runner, loaded, "de", "history")
    assert result.exit_code == 0, result.output
    waiting = [line for line in result.stdout.splitlines() if "503" in line]
    assert waiting, result.stdout
    assert all("503 Service Unavailable; es wird erneut versucht" in w for w in waiting), waiting
    rows = json.loads(invoke(runner, loaded, "de", "history", "--json").stdout)
    assert {row["error"] for row in rows if row["state"] == "retry_wait"} == {
        "503 Service Unavailable"
    }


def test_status_and_history_word_a_missing_first_comment_for_german_readers(
    loaded: Workspace, runner: CliRunner
) -> None:
    refused = Reason("comment_refused", {"error": "(#368) The action attempted is abusive"})
    set_state(loaded, ACCOUNT, "published", "", datetime.now(UTC) - timedelta(hours=1))
    store = open_store(loaded.database_url)
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.state == "published")
            .values(
                attempts=1,
                first_comment="#5malklug",
                comment_error=refused.record(),
                comment_error_data=refused.as_json(),
            )
        )
    store.dispose()
    german = (
        "das Netzwerk hat den ersten Kommentar abgelehnt: (#368) The action attempted is abusive"
    )
    status = invoke(runner, loaded, "de", "status")
    [line] = [line for line in needs_a_person(status) if ACCOUNT in line]
    assert german in line and "first comment refused" not in line, line
    history = invoke(runner, loaded, "de", "history")
    [line] = [line for line in history.stdout.splitlines() if ACCOUNT in line]
    assert german in line, line
    [row] = [
        row
        for row in json.loads(invoke(runner, loaded, "de", "history", "--json").stdout)
        if row["account"] == ACCOUNT
    ]
    assert row["first_comment"]["error"] == refused.record()  # the record's English
    assert row["first_comment"]["reason"] == refused.as_json()
