"""The user's text files (drafts, campaign, config, secrets, stdin): how they are decoded and
split into lines.

* UTF-8 only. A byte-order mark (as Windows editors write it) is accepted and dropped. Any
  other encoding is refused with the line and column of the first byte that is not UTF-8 and
  the remedy ("save the file as UTF-8"); nothing is guessed.
* Lines end at ``\\n`` (``\\r\\n`` counts as one line end), exactly where TOML ends them.
  ``str.splitlines`` would also end lines at form feeds, ``\\x85`` and U+2028/U+2029: line
  numbers would drift from the parser's, and a U+2028 in a post would silently become a line
  break. Those characters stay what they are.

This module imports only the standard library and ``errors``/``problems``/``uilang``.
"""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.errors import InputError
from campaign_scheduler.problems import Problem
from campaign_scheduler.uilang import N_, Msg, msg

UTF8_BOM = b"\xef\xbb\xbf"
#: What ``what`` names in the messages below (translated where they are shown).
WHAT = (N_("the file"), N_("the draft"), N_("the text"))


#: What a text is called in its messages (``what=``).
TEXT_WORDS = (N_("the file"), N_("the text"), N_("the draft"))


def decode_utf8(data: bytes, path: Path, *, what: str = "the file") -> str:
    """``data`` as text; raises :class:`InputError` at the line of the first bad byte."""
    data = data.removeprefix(UTF8_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        said = Msg(what)  # "the draft": English in the text, translated where shown
        problem = Problem(
            path,
            line,
            msg(
                "{what} is not UTF-8 (byte 0x{byte} in column {column}); "
                "save it as UTF-8 (in most editors: Save as… → Encoding: UTF-8)",
                what=said,
                byte=format(byte, "02x"),
                column=column,
            ),
        )
        raise InputError(
            msg("{what} is not UTF-8", what=said),
            problems=[problem],
            hint=msg("save it as UTF-8 and try again"),
        ) from None


def read_text(path: Path, *, what: str = "the file") -> str:
    """The UTF-8 text of ``path``. Raises :class:`InputError` for an unreadable file, a path
    the system cannot name (a NUL in it) and text that is not UTF-8; ``FileNotFoundError``
    passes through for callers that word "not found" themselves."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        problem = Problem(path, None, msg("cannot read: {error}", error=exc.strerror or str(exc)))
        raise InputError.of(problem) from None
    except ValueError as exc:  # "embedded null byte"
        problem = Problem(path, None, msg("unusable file name: {error}", error=str(exc)))
        raise InputError.of(problem) from None
    return decode_utf8(data, path, what=what)


def split_lines(text: str) -> list[str]:
    """``text`` split at ``\\n`` (a ``\\r`` before it dropped) and nowhere else; like
    ``str.splitlines`` a final line end does not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
