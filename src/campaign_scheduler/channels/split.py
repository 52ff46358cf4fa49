"""Splitting an over-long text into a thread, for drafts that ask for it (``split = true``).

Each part ends in a counter like " (2/3)"; parts break after sentences where possible, else
between words, and never inside a word, link or hashtag. Whether a part fits is decided by
the caller (the network's own way of counting, e.g. ``Channel.validate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from campaign_scheduler.errors import RejectedError

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _pieces(text: str) -> list[str]:
    """Sentences, each followed by its words if a sentence alone is too long."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _pack(units: list[str], fits: Callable[[str], bool], suffix: str) -> list[str] | None:
    parts: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}".strip()
        if fits(candidate + suffix):
            current = candidate
            continue
        if not current:
            return None  # one unit alone does not fit
        parts.append(current)
        current = unit
        if not fits(current + suffix):
            return None
    if current:
        parts.append(current)
    return parts


def split_into_thread(text: str, fits: Callable[[str], bool]) -> list[str]:
    """The parts of a thread for ``text``; a text that fits is returned as one part."""
    if fits(text):
        return [text]
    # The counter's width depends on the number of parts; assume the widest plausible one.
    widest = " (99/99)"
    sentences = _pieces(text)
    units: list[str] = []
    for sentence in sentences:
        if fits(sentence + widest):
            units.append(sentence)
        else:
            units.extend(sentence.split())
    packed = _pack(units, fits, widest)
    if packed is None:
        raise RejectedError("the text cannot be split into parts that fit (a word is too long)")
    total = len(packed)
    return [f"{part} ({n}/{total})" for n, part in enumerate(packed, start=1)]
