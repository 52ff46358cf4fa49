"""Printing for the CLI: stdout for results, stderr for messages; JSON without rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from campaign_scheduler.errors import CampaignSchedulerError, InputError
from campaign_scheduler.problems import Problem


def write_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def write_line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err_line(text: str) -> None:
    sys.stderr.write(text + "\n")


def print_problems(problems: Iterable[Problem], relative_to: Path | None = None) -> None:
    for problem in problems:
        sys.stdout.write(problem.format(relative_to or Path.cwd()) + "\n")


def report_error(exc: CampaignSchedulerError) -> None:
    if isinstance(exc, InputError) and exc.problems:
        for problem in exc.problems:
            err_line(problem.format(Path.cwd()))
    err_line(f"error: {exc.message}")
    if exc.hint:
        err_line(f"hint: {exc.hint}")
