"""A progress bar for long commands: on stderr, only when stderr is a terminal and the output
is not JSON (piped or redirected output, and ``--json``, get no bar and no escape codes)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from campaign_scheduler.uilang import tr

#: Fewer drafts than this finish before a bar would be worth drawing.
SHOWN_FROM = 500


@dataclass
class Steps:
    """What a command tells the bar: drafts read so far, then the phase it is in."""

    drafts: Callable[[int, int], None] | None = None
    phase: Callable[[str], None] = lambda _text: None


def wanted(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


@contextmanager
def draft_progress(as_json: bool) -> Iterator[Steps]:
    """A bar over the drafts as they are read and checked, then a named phase (``load``:
    writing to the database). Nothing at all unless :func:`wanted`."""
    if not wanted(as_json):
        yield Steps()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(tr("reading drafts"), total=None, visible=False)

        def drafts(done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                bar.update(task, completed=done, total=total, visible=total >= SHOWN_FROM)

        def phase(text: str) -> None:
            shown: dict[str, Any] = {"description": text, "total": None, "completed": 0}
            bar.update(task, **shown)

        yield Steps(drafts, phase)
