"""Plain option values (cli/values.py): the same result as typer's conversion, or typer's."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.cli.values import FOR_TYPER, PlainOption, plain, plain_values


class Color(enum.StrEnum):
    red = "red"
    blue = "blue"


def _command() -> Any:
    sample = typer.Typer()

    @sample.command()
    def cmd(
        name: Annotated[str, typer.Argument()],
        path: Annotated[Path | None, typer.Option(dir_okay=False)] = None,
        folder: Annotated[Path | None, typer.Option(file_okay=False, exists=True)] = None,
        text: Annotated[str | None, typer.Option()] = None,
        color: Annotated[Color, typer.Option(case_sensitive=False)] = Color.red,
        count: Annotated[int, typer.Option(min=1, max=5)] = 3,
        ratio: float = 0.5,
        tags: Annotated[list[str] | None, typer.Option()] = None,
    ) -> None:
        """A command with one parameter of each kind."""

    return typer.main.get_command(sample)


def _typer_converts(param: Any, ctx: Context, value: Any) -> Any:
    """What typer's own parameter class makes of ``value`` (an exception is returned)."""
    own = TyperArgument if isinstance(param, TyperArgument) else TyperOption
    try:
        return own.process_value(param, ctx, value)
    except BadParameter as exc:
        return exc


def _cases(tmp_path: Path) -> list[tuple[str, Any]]:
    a_file = tmp_path / "config.toml"
    a_file.write_text("", encoding="utf-8")
    return [
        ("name", "x"),
        ("path", None),
        ("path", str(a_file)),
        ("path", str(tmp_path / "missing.toml")),
        ("path", str(tmp_path)),  # a directory: typer's error
        ("path", "-"),
        ("folder", str(tmp_path)),
        ("folder", str(a_file)),  # a file: typer's error
        ("folder", str(tmp_path / "missing")),  # must exist: typer's error
        ("text", None),
        ("text", "Klima"),
        ("text", ""),
        ("color", Color.red),
        ("color", "blue"),
        ("color", "BLUE"),
        ("color", "green"),
        ("count", 3),
        ("count", 5),
        ("count", 0),  # out of range: typer's error
        ("count", "4"),
        ("ratio", 0.5),
        ("tags", None),
        ("tags", ("a", "b")),
    ]


def test_a_plain_value_is_what_typer_makes_of_it(tmp_path: Path) -> None:
    command = _command()
    ctx = Context(command)
    params = {param.name: param for param in command.params}
    plain_ones = set()
    for name, value in _cases(tmp_path):
        param = params[name]
        converted = plain(param, value)
        if converted is FOR_TYPER:
            continue
        plain_ones.add((name, str(value)))
        expected = _typer_converts(param, ctx, value)
        assert not isinstance(expected, Exception), (name, value, expected)
        assert converted == expected, (name, value)
        assert type(converted) is type(expected), (name, value)
    # the values commands mostly see are plain
    assert {
        ("path", "None"),
        ("path", str(tmp_path / "config.toml")),
        ("path", str(tmp_path / "missing.toml")),
        ("text", "Klima"),
        ("color", "blue"),
        ("count", "3"),
        ("tags", "None"),
    } <= plain_ones


def test_what_typer_rejects_is_left_to_typer(tmp_path: Path) -> None:
    command = _command()
    params = {param.name: param for param in command.params}
    for name, value in [
        ("path", str(tmp_path)),
        ("folder", str(tmp_path / "config.toml")),
        ("folder", str(tmp_path / "missing")),
        ("color", "green"),
        ("count", 0),
        ("count", "4"),
    ]:
        assert plain(params[name], value) is FOR_TYPER, (name, value)


def test_plain_parameters_convert_as_typer_does_in_a_command(tmp_path: Path) -> None:
    command = _command()
    plain_values(command)
    assert all(type(param) is not TyperOption for param in command.params)
    ctx = Context(command)
    for param in command.params:
        for name, value in _cases(tmp_path):
            if name != param.name:
                continue
            expected = _typer_converts(param, ctx, value)
            if isinstance(expected, BadParameter):
                with pytest.raises(BadParameter) as raised:
                    param.process_value(ctx, value)
                assert raised.value.format_message() == expected.format_message()
            else:
                assert param.process_value(ctx, value) == expected


def test_a_directory_as_config_is_typers_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--lang", "en", "--config", str(tmp_path), "status"])
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_the_root_options_are_plain_once_parsed() -> None:
    command = typer.main.get_command(app)
    with pytest.raises(SystemExit):
        command.main(["--lang", "en", "--version"], prog_name="campaign")
    kinds = {param.name: type(param) for param in command.params}
    assert kinds["config"] is PlainOption
    assert kinds["lang"] is PlainOption


def test_a_parameter_of_another_typer_shape_is_left_to_typer() -> None:
    """Should typer's parameters lose what this module reads (another typer version), typer
    converts the value itself instead of the command failing."""

    class Bare:
        multiple = False
        nargs = 1

    assert plain(Bare(), "text") is FOR_TYPER
