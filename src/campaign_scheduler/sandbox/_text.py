"""Building blocks of the sandboxes' own length tables.

The sandboxes judge a post's length the way each network documents it (channels.md, "Text
limits and counting"), written here independently of :mod:`campaign_scheduler.channels.text`:
the sandbox is the check on that module, so it must not ask it. Each network's module keeps
its own table (limits, URL weight, which code points weigh what); this module only splits text
into grapheme clusters and tells emoji apart.
"""

from __future__ import annotations

import regex

_CLUSTER = regex.compile(r"\X")
# An emoji as the networks count one: a pictograph (also a text-style one such as ©), a keycap
# (digit + VS16 + U+20E3), or a flag (a pair of regional indicators).
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\u20E3|\p{Regional_Indicator}")


def clusters(text: str) -> list[str]:
    """``text`` split into extended grapheme clusters (what people see as one character)."""
    return _CLUSTER.findall(text)


def is_emoji(cluster: str) -> bool:
    """Whether the grapheme cluster ``cluster`` is an emoji (sequence)."""
    return _EMOJI.search(cluster) is not None
