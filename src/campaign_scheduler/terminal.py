"""Text from outside, made safe to print on a terminal.

Campaign and sender names, file names, draft text, network answers and receiver errors can
hold control characters: an ESC sequence clears the screen or retitles the window, a carriage
return overwrites what was printed, bidi overrides reorder a line. :func:`clean` shows every
such character as an escape (``\\x1b``, ``\\u202e``) instead; :func:`one_line` does the same
for line breaks, for text that must stay on one line. Rich markup is a separate matter:
text from outside goes into rich as :class:`rich.text.Text` (``cli.output.plain``) or with
``markup=False``, never inside a markup string.

This module imports only the standard library, so any layer that prints may use it.
"""

from __future__ import annotations

import re

# C0 controls except tab and line feed (a carriage return only where it is not part of a CRLF
# line end), DEL, C1 controls (U+009B is a CSI on some terminals), the line and paragraph
# separators, and the bidirectional formatting characters.
_OTHERS = r"\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f{_OTHERS}]|\r(?!\n)")
_UNSAFE_LINE = re.compile(rf"[\x00-\x1f{_OTHERS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape; line breaks
    and tabs stay."""
    return _UNSAFE.sub(_escape, text)


def one_line(text: str) -> str:
    """Like :func:`clean`, and line breaks and tabs are escaped too."""
    return _UNSAFE_LINE.sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text with the characters :func:`clean` escapes written as JSON ``\\uXXXX``
    escapes (still valid JSON, the same value once parsed). They can only occur in strings."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
