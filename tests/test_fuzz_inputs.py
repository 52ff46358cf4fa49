"""Fuzzing every file a user writes and every time they type: the answer is a located error or
success, never a traceback.

Drafts, the campaign file and config.toml are taken from the small valid workspace and
damaged (values swapped for hostile ones, text inserted or cut, bytes that are not UTF-8);
time expressions go through a draft's ``at`` and ``queue --at``. Each example runs the real
CLI (``check``, ``load``, ``queue``) and must end with exit code 0, 1 or 2 and no traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from conftest import Workspace, draft_text

#: Examples per test; CI may raise it (CAMPAIGN_TEST_FUZZ_EXAMPLES) for a deeper run.
EXAMPLES = int(os.environ.get("CAMPAIGN_TEST_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that has broken parsers before: controls, separators, bidi marks, markup, huge numbers.
HOSTILE_PIECES = [
    "\x00",
    "\x1b[2J",
    "\u2028",
    "\x85",
    "\x0c",
    "\ufeff",
    "\u202e",
    "[/]",
    "[link=https://evil.example]",
    "../../config.toml",
    "/proc/self/environ",
    "9" * 400,
    "0001-01-01 00:00",
    "9999-12-31 23:59",
    "T-99999999d",
    "T+1e9h",
    "a." * 300,
    "https://" + "a." * 200,
    "[" * 300,
    "{a=" * 200,
    '"""',
    "'''",
    "+++",
]

toml_value = st.one_of(
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(HOSTILE_PIECES).map(lambda s: '"' + s.replace('"', '\\"') + '"'),
    st.integers().map(str),
    st.floats(allow_nan=True).map(lambda f: repr(f).replace("inf", "inf")),
    st.sampled_from(
        [
            "true",
            "[]",
            "[1, 2]",
            "{}",
            "{a = 1}",
            "0001-01-01T00:00:00",
            "9999-12-31",
            "1979-05-27T07:32:00Z",
            "23:59:59",
            "[[[[[[]]]]]]",
            "1e308",
            "-0",
        ]
    ),
)


@st.composite
def damaged(draw: st.DrawFn, original: str) -> bytes:
    """``original`` with one to three kinds of damage."""
    text = original
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "insert", "cut", "line"]))
        index = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "value" and "=" in lines[index]:
            key = lines[index].split("=", 1)[0]
            lines[index] = f"{key}= {draw(toml_value)}"
        elif kind == "insert":
            piece = draw(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=20)))
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + piece + lines[index][column:]
        elif kind == "cut" and lines:
            del lines[index]
        else:
            lines.insert(index, draw(st.text(max_size=40)))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "bom", "latin-1", "bytes"]))
    if encoding == "bom":
        data = b"\xef\xbb\xbf" + data
    elif encoding == "latin-1":
        data = "\n".join(lines).encode("latin-1", "replace")
    elif encoding == "bytes":
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(st.binary(min_size=1, max_size=8)) + data[position:]
    return data


DRAFT = draft_text(
    extra='language = "de"\nnot_after = "T-1d 10:00"\n[[media]]\npath = "media/bild.png"\n'
    'alt = "Bild"\n[variants.mastodon]\ntext = "Kurz #5malklug"\n'
)


@pytest.fixture
def fresh() -> Iterator[Workspace]:
    """A base workspace; each example copies it (Hypothesis reuses the fixture)."""
    base = Path(tempfile.mkdtemp(prefix="fuzz-base-"))
    workspace = Workspace(base)
    workspace.draft("soest/01-klima", DRAFT)
    (base / "posts" / "soest" / "media").mkdir()
    (base / "posts" / "soest" / "media" / "bild.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    yield workspace
    shutil.rmtree(base, ignore_errors=True)


def copy_of(base: Workspace) -> Workspace:
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    shutil.copytree(base.root, root, dirs_exist_ok=True, symlinks=True)
    copy = Workspace.__new__(Workspace)
    copy.root = root
    copy.campaign_file = root / "campaign" / "testlauf.toml"
    copy.config_file = root / "config.toml"
    return copy


def assert_clean_run(ws: Workspace, *args: str) -> None:
    result = CliRunner().invoke(app, ["--config", str(ws.config_file), *args])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{args}: {result.exception!r}\n{result.output[-2000:]}"
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output


def check_and_load(ws: Workspace) -> None:
    assert_clean_run(ws, "check")
    assert_clean_run(ws, "load")


@contextmanager
def copied(base: Workspace) -> Iterator[Workspace]:
    """A copy of ``base`` for one example, removed afterwards whatever happens (Hypothesis
    may stop an example while it draws)."""
    ws = copy_of(base)
    try:
        yield ws
    finally:
        shutil.rmtree(ws.root, ignore_errors=True)


@FUZZ
@given(data=st.data())
def test_damaged_drafts_are_located_errors(fresh: Workspace, data: st.DataObject) -> None:
    with copied(fresh) as ws:
        (ws.root / "posts" / "soest" / "01-klima.md").write_bytes(data.draw(damaged(DRAFT)))
        check_and_load(ws)


@FUZZ
@given(data=st.data())
def test_damaged_campaign_files_are_located_errors(fresh: Workspace, data: st.DataObject) -> None:
    with copied(fresh) as ws:
        original = ws.campaign_file.read_text(encoding="utf-8")
        ws.campaign_file.write_bytes(data.draw(damaged(original)))
        check_and_load(ws)


@FUZZ
@given(data=st.data())
def test_damaged_config_files_are_located_errors(fresh: Workspace, data: st.DataObject) -> None:
    with copied(fresh) as ws:
        original = ws.config_file.read_text(encoding="utf-8")
        ws.config_file.write_bytes(data.draw(damaged(original)))
        check_and_load(ws)


time_expression = st.one_of(
    st.builds(
        lambda sign, amount, unit, clock: f"T{sign}{amount}{unit}{clock}",
        st.sampled_from(["-", "+", " - ", "", "--"]),
        st.one_of(st.integers(0, 10**12).map(str), st.text("0123456789.,e", max_size=8)),
        st.sampled_from(["d", "w", "h", "m", "s", "", "x", "dd", "d2h"]),
        st.sampled_from(["", " 09:30", " 24:00", " 99:99", " 9:5", " 09:30:00", " 𝟗:30"]),
    ),
    st.builds(
        lambda y, mo, d, h, mi, zone: f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}{zone}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.sampled_from(["", "Z", " UTC", "+02:00", "+99:99", " Europe/Berlin", " CEST"]),
    ),
    st.sampled_from(HOSTILE_PIECES),
    st.text(max_size=25),
)


@settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(when=time_expression)
def test_time_expressions_in_drafts_and_on_the_command_line(fresh: Workspace, when: str) -> None:
    ws = copy_of(fresh)
    try:
        escaped = when.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in escaped)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in when):
            return  # not representable in a TOML file
        (ws.root / "posts" / "soest" / "02-zeit.md").write_text(
            draft_text(at=escaped).replace(f'at = "{escaped}"', f'at = "{escaped}"'),
            encoding="utf-8",
        )
        assert_clean_run(ws, "check")
        (ws.root / "posts" / "soest" / "02-zeit.md").unlink()
        assert_clean_run(ws, "load")
        if "\x00" not in when:
            assert_clean_run(
                ws, "queue", "Spontan #5malklug", "--sender", "soest", "--channel", "mastodon",
                "--at", when,
            )  # fmt: skip
            assert_clean_run(ws, "reschedule", "soest/01-klima", "--at", when)
    finally:
        shutil.rmtree(ws.root, ignore_errors=True)
