"""Every user-facing string through the catalog: German where a person reads it, English (and
the same in every language) in ``--json``; and a scan that finds English written past the
catalog."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from campaign_scheduler import timeutil, uilang
from campaign_scheduler.cli import COMMANDS, app
from campaign_scheduler.uilang import tr
from conftest import Workspace

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "campaign_scheduler"
BERLIN = ZoneInfo("Europe/Berlin")
KEY = "soest/01-klima"


def invoke(runner: CliRunner, ws: Workspace, lang: str, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), "--lang", lang, *args])


def german(exc: BaseException) -> str:
    return tr(str(exc), "de")


# --- timeutil: durations, windows, times -------------------------------------------------


def test_ages_and_times_ahead_are_said_as_people_say_them() -> None:
    assert timeutil.ago(timedelta(minutes=3), "de") == "vor 3 Minuten"
    assert timeutil.ago(timedelta(days=3), "de") == "vor 3 Tagen"
    assert timeutil.ago(timedelta(days=3), "en") == "3 days ago"
    assert timeutil.ahead(timedelta(hours=2), "de") == "in 2 Stunden"
    assert timeutil.ahead(timedelta(hours=2), "en") == "in 2 hours"
    assert timeutil.span(timedelta(days=1868), "de") == "5 Jahre"
    assert timeutil.span(timedelta(seconds=40), "de") == "40 Sekunden"


def test_a_bad_duration_is_german() -> None:
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.parse_duration("2x")
    assert (
        german(caught.value) == "ungültige Dauer '2x': unbekannte Einheit 'x' (w, d, h, m oder s)"
    )
    assert str(caught.value) == "bad duration '2x': unknown unit 'x' (use w, d, h, m or s)"


def test_a_bad_posting_window_is_german() -> None:
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.parse_window("Mon-Fri 19:00-08:00")
    assert german(caught.value).startswith(
        "ungültiges Veröffentlichungsfenster 'Mon-Fri 19:00-08:00': das Ende muss nach dem Beginn"
    )
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.parse_window("Mox 08:00-19:00")
    assert "unbekannter Tag 'Mox' (Mon..Sun, Mo..So oder daily)" in german(caught.value)


def test_a_bad_relative_time_is_german() -> None:
    start = datetime(2021, 11, 18, 9, tzinfo=UTC)
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.parse_when("T-14x 09:30", zone=BERLIN, event_start=start)
    assert german(caught.value) == (
        "ungültige Zeit 'T-14x 09:30': unbekannte Einheit 'x' (d, h oder m)"
    )
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.parse_when("2021-11-04", zone=BERLIN, event_start=start)
    assert german(caught.value) == (
        "ungültige Zeit '2021-11-04': ein Datum allein genügt nicht, bitte die Uhrzeit "
        "ergänzen ('2021-11-04 09:30')"
    )


def test_no_free_slot_is_german() -> None:
    start = datetime(2021, 11, 18, 9, tzinfo=UTC)
    with pytest.raises(timeutil.WhenError) as caught:
        timeutil.next_slot(
            start,
            windows=[timeutil.parse_window("Mon 08:00-09:00")],
            zone=BERLIN,
            taken=[],
            min_gap=timedelta(0),
            horizon=timedelta(days=1),
        )
    assert german(caught.value).startswith("kein freier Termin in den Fenstern Mon 08:00-09:00")


# --- queue, approve, token stores --------------------------------------------------------


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace.draft(KEY)
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "anna")
    result = invoke(runner, workspace, "en", "load", "--as", "anna")
    assert result.exit_code == 0, result.output
    return workspace


QUEUE = ("queue", "Infostand am Markt #5malklug", "--sender", "soest", "--channel", "mastodon")


def test_the_queue_result_is_german_with_a_german_date(
    loaded: Workspace, runner: CliRunner
) -> None:
    result = invoke(runner, loaded, "de", *QUEUE, "--at", "10.11.2021 12:00")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("adhoc/soest/20211110-1200-"), line
    assert line.endswith(" eingeplant für Mi., 10. Nov. 2021, 12:00 Uhr auf soest-mastodon"), line
    assert "Warnung: --at: Mi., 10. Nov. 2021, 12:00 Uhr liegt in der Vergangenheit" in (
        result.stderr
    )


@pytest.mark.parametrize("lang", ["de", "en"])
def test_queue_json_is_the_same_in_every_language(
    loaded: Workspace, runner: CliRunner, lang: str
) -> None:
    result = invoke(runner, loaded, lang, *QUEUE, "--at", "2021-11-10 12:00", "--json")
    assert result.exit_code == 0, result.output
    queued = json.loads(result.stdout)
    assert queued.pop("post").startswith("adhoc/soest/20211110-1200-")
    assert queued == {
        "sender": "soest",
        "accounts": ["soest-mastodon"],
        "due_at": "2021-11-10T12:00:00+01:00",
        "not_after": "2021-11-18T10:00:00+01:00",
    }


def _four_eyes(ws: Workspace, extra: str = "") -> None:
    text = ws.campaign_file.read_text().replace(
        'grace = "2h"', f'grace = "2h"\nrequire_approval = true\n{extra}'
    )
    ws.campaign_file.write_text(text)


def test_approval_results_are_german(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _four_eyes(workspace)
    workspace.draft(KEY)
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "anna")
    assert invoke(runner, workspace, "en", "load").exit_code == 0
    refused = invoke(runner, workspace, "de", "approve", KEY)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        (
            "Fehler: anna hat soest/01-klima geschrieben oder geändert; freigeben muss jemand "
            "anderes (Vier-Augen-Prinzip)"
        ),
        (
            "Hinweis: eine Kollegin oder einen Kollegen bitten, 'campaign approve soest/01-klima' "
            "unter der eigenen Anmeldung auszuführen"
        ),
    ]
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "ben")
    approved = invoke(runner, workspace, "de", "approve", KEY)
    assert approved.exit_code == 0, approved.output
    assert approved.stdout.strip() == "soest/01-klima (Version 1, geschrieben von anna) freigegeben"
    again = invoke(runner, workspace, "de", "approve", KEY)
    assert again.stdout.strip() == "soest/01-klima (Version 1) ist bereits freigegeben von ben"
    english = invoke(runner, workspace, "en", "approve", KEY)
    assert english.stdout.strip() == "soest/01-klima (version 1) was already approved by ben"


def test_an_approver_not_listed_is_told_in_german(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _four_eyes(workspace, 'approvers = ["ben", "carla"]')
    workspace.draft(KEY)
    monkeypatch.setattr("campaign_scheduler.identity.os_user", lambda: "dora")
    assert invoke(runner, workspace, "en", "load", "--as", "anna").exit_code == 0
    refused = invoke(runner, workspace, "de", "approve", KEY)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "Fehler: dora darf Beiträge dieser Kampagne nicht freigeben (rules.approvers: ben, carla)",
        "Hinweis: eine oder einen von ihnen bitten, 'campaign approve soest/01-klima' auszuführen",
    ]


def test_token_stores_describe_themselves_in_german(tmp_path: Path) -> None:
    from campaign_scheduler.auth.tokens import FileTokenStore, KeyringTokenStore

    path = tmp_path / "tokens.json"
    assert tr(FileTokenStore(path).describe(), "de") == f"Geheimnisdatei {path}"
    assert FileTokenStore(path).describe() == f"secrets file {path}"

    class Backend:
        pass

    keyring = KeyringTokenStore.__new__(KeyringTokenStore)
    keyring._backend = Backend()  # type: ignore[assignment]
    assert tr(keyring.describe(), "de") == "Schlüsselbund des Systems (Backend)"


# --- the scan: English that bypasses the catalog -----------------------------------------

#: Errors a person reads (the message and the hint); found by their base classes.
_ERROR_ROOTS = {"CampaignSchedulerError", "WhenError"}
#: A network's refusal is recorded with the delivery (``error``, the audit trail) as the
#: network's and the adapter's words, like a reason's record: not looked up, never translated.
_RECORDED = {"ChannelError"}
#: Functions that show their first argument to a person.
_SHOWN = {"write_line", "err_line", "echo", "secho", "print", "say"}
#: Text that is the same in every language: (module, a piece of the call as the scan shows it).
_LANGUAGE_NEUTRAL = {
    ("cli/__init__.py", "typer.echo(f'campaign-scheduler {__version__}')"),  # --version
    ("catalogs.py", "print(f'{lang}: untranslated: {msgid!r}'"),  # make catalogs, for developers
    ("auth/tokens.py", "hint=f'chmod 600 {self.path}'"),  # a command to run
    ("store/engine.py", "hint=\"pip install 'campaign-scheduler[postgres]'\""),  # a command to run
}
#: What puts a text through the catalog.
_CATALOG = {"tr", "trn", "msg", "N_", "Msg"}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        yield relative, ast.parse(path.read_text("utf-8"), relative)


def _error_classes() -> set[str]:
    bases: dict[str, set[str]] = {}
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id for b in node.bases if isinstance(b, ast.Name)}

    def family(roots: set[str]) -> set[str]:
        found = set(roots)
        while more := {name for name, of in bases.items() if of & found} - found:
            found |= more
        return found

    return family(_ERROR_ROOTS) - family(_RECORDED)


def _called(node: ast.Call) -> str:
    func = node.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


def _english(node: ast.expr | None) -> bool:
    """Whether ``node`` is words written in the code that no catalog lookup surrounds."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and any(c.isalpha() for c in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(_english(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _english(node.left) or _english(node.right)
    if isinstance(node, ast.Call) and _called(node) == "format":
        return isinstance(node.func, ast.Attribute) and _english(node.func.value)
    return False


def english_past_the_catalog() -> list[str]:
    errors = _error_classes()
    found = []
    for relative, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if name in errors:
                shown = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "hint")]
            elif name in _SHOWN or name == "Problem":
                shown = [a for a in node.args if not isinstance(a, ast.Starred)]
                shown += [k.value for k in node.keywords if k.arg in ("message", None)]
            else:
                continue
            code = ast.unparse(node)
            neutral = any(relative == m and piece in code for m, piece in _LANGUAGE_NEUTRAL)
            if any(_english(v) for v in shown) and not neutral:
                found.append(f"{relative}:{node.lineno}: {code[:100]}")
    return found


def test_no_user_facing_english_bypasses_the_catalog() -> None:
    assert english_past_the_catalog() == []


def test_the_scan_finds_english_past_the_catalog(tmp_path: Path) -> None:
    assert _english(ast.parse('f"bad time {x}"', mode="eval").body)
    assert _english(ast.parse('"a " + b', mode="eval").body)
    assert not _english(ast.parse('tr("bad time {x}", x=x)', mode="eval").body)
    assert not _english(ast.parse('f"{a}: {b}"', mode="eval").body)


# --- usage errors (Typer's click writes them in English f-strings) --------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["report", "--format", "pdfx"],
            (
                "Fehler: ungültiger Wert für '--format': 'pdfx' ist keiner von 'table', 'csv', "
                "'json', 'md', 'html'"
            ),
        ),
        (["plan", "--bogus"], "Fehler: unbekannte Option: --bogus"),
        (
            ["history", "--limit", "x"],
            "Fehler: ungültiger Wert für '--limit': 'x' ist keine ganze Zahl",
        ),
        (["preview"], "Fehler: Argument 'key' fehlt."),
        (["status", "extra"], "Fehler: unerwartete zusätzliche Argumente (extra)"),
    ],
)
def test_usage_errors_are_german(runner: CliRunner, args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["--lang", "de", *args])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Aufruf: campaign ")
    assert "[OPTIONEN]" in lines[0]
    assert lines[1] == f"Hilfe: 'campaign {args[0]} --help'"
    assert lines[-1] == expected


def test_usage_errors_stay_english_in_english(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--lang", "en", "report", "--format", "pdfx"])
    assert result.stderr.splitlines()[1:] == [
        "Try 'campaign report --help' for help.",
        "",
        (
            "error: Invalid value for '--format': 'pdfx' is not one of 'table', 'csv', 'json', "
            "'md', 'html'"
        ),
    ]


def test_the_usage_line_is_german(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--lang", "de", "--help"])
    assert result.stdout.startswith("Aufruf: campaign [OPTIONEN] BEFEHL [ARGUMENTE]...")


# --- load, channels, the daemon's log -----------------------------------------------------


def test_load_lines_are_german_and_load_json_keeps_english(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft(KEY)
    dry = invoke(runner, workspace, "de", "load", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "+ soest/01-klima  (2 Veröffentlichungen: soest-bluesky, soest-mastodon)" in dry.stdout
    english = invoke(runner, workspace, "en", "load", "--dry-run", "--json")
    german = invoke(runner, workspace, "de", "load", "--dry-run", "--json")
    assert json.loads(german.stdout) == json.loads(english.stdout)
    assert json.loads(german.stdout)["changes"][0]["details"] == [
        "2 deliveries: soest-bluesky, soest-mastodon"
    ]


def test_channel_limits_are_german(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--lang", "de", "channels", "list"])
    assert result.exit_code == 0, result.output
    facebook = next(line for line in result.stdout.splitlines() if line.startswith("facebook"))
    assert "63.206 UTF-16-Einheiten" in facebook


@pytest.mark.parametrize(
    ("as_json", "expected"),
    [
        (
            False,
            (
                "abgelaufen: soest/01-klima auf soest-mastodon: nicht innerhalb von 2 Stunden nach "
                "dem geplanten Zeitpunkt erschienen: der Beitrag wurde nicht freigegeben"
            ),
        ),
        (
            True,
            (
                "expired soest/01-klima on soest-mastodon: more than 2h (rules.grace) late: "
                "it was never approved"
            ),
        ),
    ],
)
def test_the_daemon_logs_a_reason_for_readers_and_its_record_in_json(
    as_json: bool, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from campaign_scheduler.cli.run_cmd import _setup_logging
    from campaign_scheduler.reasons import Reason

    reason = Reason("late", {"grace": 7200, "why": Reason("never_approved")})
    uilang.set_language("de")
    _setup_logging(as_json, verbose=False)
    try:
        logging.getLogger("campaign_scheduler.publishing.daemon").warning(
            "expired %s on %s: %s", KEY, "soest-mastodon", reason
        )
    finally:
        logging.getLogger("campaign_scheduler").handlers.clear()
        uilang.set_language(None)
    line = capsys.readouterr().err.strip()
    message = json.loads(line)["message"] if as_json else line.split(" ", 2)[2].strip()
    assert message == expected


def test_run_once_sums_up_in_german() -> None:
    from collections import Counter

    from campaign_scheduler.publishing.daemon import TickReport

    report = TickReport(outcomes=Counter({"published": 2}), expired=1)
    assert report.summary("de") == "2 veröffentlicht, 1 abgelaufen (überfällig)"
    assert report.summary() == "2 published, 1 expired (overdue)"
    assert TickReport().summary("de") == "nichts fällig"


def test_a_command_logs_its_warnings_in_german(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from campaign_scheduler.cli.run_cmd import log_warnings_for_people
    from campaign_scheduler.errors import ConfigError
    from campaign_scheduler.uilang import msg

    uilang.set_language("de")
    logging.getLogger("campaign_scheduler").handlers.clear()
    log_warnings_for_people()
    try:
        error = ConfigError(
            msg("account '{account}' has no '{key}' in the config", account="a", key="k")
        )
        logging.getLogger("campaign_scheduler.metrics").warning(
            "hashtag search on %s failed: %s", "bluesky", error
        )
    finally:
        logging.getLogger("campaign_scheduler").handlers.clear()
        uilang.set_language(None)
    assert capsys.readouterr().err.strip() == (
        "Hashtag-Suche auf bluesky fehlgeschlagen: Konto 'a' hat kein 'k' in der Konfiguration"
    )


HELP_PAGES = [
    *([name] for name in COMMANDS),
    *(["channels", sub] for sub in ("list", "verify")),
    *(["accounts", sub] for sub in ("list", "connect", "refresh")),
]


@pytest.mark.parametrize("command", HELP_PAGES, ids=" ".join)
def test_every_help_page_is_german(runner: CliRunner, command: list[str]) -> None:
    """No line of words reads the same in German and English (names and options may)."""
    import re

    german = runner.invoke(app, ["--lang", "de", *command, "--help"]).stdout.splitlines()
    english = set(runner.invoke(app, ["--lang", "en", *command, "--help"]).stdout.splitlines())
    same = [line for line in german if line in english and re.search(r"[a-z]{4,} [a-z]{3,}", line)]
    assert same == []


def test_init_says_a_bad_date_in_german(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        ["--lang", "de", "init", str(tmp_path / "neu"), "--no-input", "--name", "X",
         "--event-start", "05/11/2027 10:00", "--sender", "Stadt Soest"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert (
        "Fehler: --event-start: ungültige Zeit '05/11/2027 10:00': ein Datum mit Schrägstrichen"
        in result.stderr
    )


def test_a_cached_link_card_problem_is_still_german() -> None:
    from campaign_scheduler.linkcards import LinkCard
    from campaign_scheduler.uilang import msg

    url = "https://example.org/"
    error = msg("{url} answered HTTP {status}", url=url, status=404)
    card = LinkCard(url, datetime(2021, 11, 1, tzinfo=UTC), error=error)
    cached = LinkCard.from_json(url, json.loads(json.dumps(card.as_json())))
    assert tr(cached.error or "", "de") == "https://example.org/ antwortete mit HTTP 404"
    assert cached.error == "https://example.org/ answered HTTP 404"


def test_a_connect_flow_talks_german(capsys: pytest.CaptureFixture[str]) -> None:
    from campaign_scheduler.cli.accounts_cmd import interaction
    from campaign_scheduler.uilang import msg

    uilang.set_language("de")
    try:
        interaction(no_browser=True)["say"](msg("Connected as @{name}.", name="stadt-soest"))
    finally:
        uilang.set_language(None)
    assert capsys.readouterr().out == "Verbunden als @stadt-soest.\n"


def test_status_says_ages_in_the_right_case(loaded: Workspace, runner: CliRunner) -> None:
    import re

    result = invoke(runner, loaded, "de", "status")
    assert re.search(
        r"^wartend: 2, die älteste ist \d+ Jahre überfällig$", result.stdout, re.MULTILINE
    )
