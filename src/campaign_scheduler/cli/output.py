"""Printing for the CLI: stdout for results, stderr for messages; JSON without rich.

Every line goes through :func:`~campaign_scheduler.terminal.clean`: names, file names, network
answers and errors can come from outside and must not drive the terminal. Rich output takes
outside text only as :func:`plain` (a ``Text``, never parsed for markup).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_scheduler.errors import CampaignSchedulerError, InputError, UsageError
from campaign_scheduler.problems import Problem
from campaign_scheduler.terminal import clean, json_safe, one_line
from campaign_scheduler.uilang import tr

if TYPE_CHECKING:
    from rich.text import Text

__all__ = [
    "clean",
    "err_line",
    "one_line",
    "plain",
    "write_atomically",
    "write_json",
    "write_line",
]


def write_json(value: Any) -> None:
    sys.stdout.write(json_safe(json.dumps(value, ensure_ascii=False, indent=2)) + "\n")


def write_line(text: str = "") -> None:
    sys.stdout.write(clean(text) + "\n")


def err_line(text: str) -> None:
    sys.stderr.write(clean(text) + "\n")


def plain(text: str, style: str = "") -> Text:
    """Outside text for a rich table or console: escaped, and never read as markup."""
    from rich.text import Text

    return Text(one_line(text), style=style)


def print_problems(problems: Iterable[Problem], relative_to: Path | None = None) -> None:
    for problem in problems:
        write_line(problem.format(relative_to or Path.cwd()))


def report_error(exc: CampaignSchedulerError) -> None:
    if isinstance(exc, InputError) and exc.problems:
        for problem in exc.problems:
            err_line(problem.format(Path.cwd()))
    err_line(tr("error: {message}", message=tr(exc.message)))
    if exc.hint:
        err_line(tr("hint: {hint}", hint=tr(exc.hint)))


def write_atomically(path: Path, data: bytes, *, option: str) -> None:
    """Write a command's output file ``path`` (given with ``option``) atomically (see
    :func:`campaign_scheduler.files.write_atomically`); a NUL or a missing folder is a usage
    error naming the option."""
    from campaign_scheduler.files import write_atomically as write

    if "\x00" in str(path):
        raise UsageError(tr("{option}: the path contains a NUL character", option=option))
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(
            tr(
                "{option}: the folder {folder} does not exist",
                option=option,
                folder=one_line(str(folder)),
            )
        )
    write(path, data)
