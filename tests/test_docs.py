"""The README tells the truth about the CLI, and every command explains itself."""

from __future__ import annotations

from pathlib import Path

from campaign_scheduler.cli.reference import BEGIN, END, command_reference, replace_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_command_reference_in_the_readme_is_current() -> None:
    document = README.read_text(encoding="utf-8")
    assert replace_block(document, command_reference()) == document, (
        "README.md's command reference is out of date: run `make readme`"
    )


def test_every_command_has_a_one_line_description() -> None:
    reference = command_reference()
    for page in reference.split("### ")[1:]:
        title, _, body = page.partition("\n")
        usage_and_description = body.split("Options:")[0]
        lines = [
            line
            for line in usage_and_description.splitlines()
            if line.strip() and "Usage:" not in line and line.strip() != "```"
        ]
        assert lines, f"{title} has no description"


def test_the_readme_starts_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:3000]
    assert "make demo" in head and "make test" in head
    assert BEGIN in README.read_text(encoding="utf-8") and END in README.read_text(encoding="utf-8")
