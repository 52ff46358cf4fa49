"""Option and argument values that need no validation library.

Typer converts the value of every parameter that is not a flag with a pydantic ``TypeAdapter``
that it builds on first use, also for an option that was not given (its value is then None):
any command with such an option (the root's ``--config`` and ``--lang`` are on every command)
imports pydantic, about a third of the start-up of ``import typer, rich.console, sqlalchemy``
and 3 MB in the daemon. Most values need no validation at all: an option left out, plain
text, an exact choice, a number default, a path to a readable file (or to nothing yet).
:class:`PlainValues` converts exactly those itself, to what typer would make of them, and hands
everything else to typer unchanged (a number typed on the command line, a list, a choice in
other case, a path that is a directory), so that errors keep typer's words and exit codes.

:func:`plain_values` gives a command built by typer these parameters; the parameter classes
are typer's own (:class:`typer.core.TyperOption`, :class:`typer.core.TyperArgument`) with
``process_value``, click's hook for turning a parsed value into the command's argument,
answered here first.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.core import TyperArgument, TyperOption

#: :func:`plain` found no plain conversion: typer converts the value.
FOR_TYPER: Any = object()


def plain(param: Any, value: Any) -> Any:
    """``value`` as typer would convert it for ``param``, or :data:`FOR_TYPER` when only its
    validation can tell (and word the error), or when ``param`` lacks what typer 0.29 gives its
    parameters (another typer version: then typer converts everything, as without this module)."""
    try:
        return _plain(param, value)
    except AttributeError:
        return FOR_TYPER


def _plain(param: Any, value: Any) -> Any:
    multiple = param.multiple or param.nargs == -1
    if value is None:
        return () if multiple else None
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if multiple or param.nargs != 1 or info.parser is not None:
        return FOR_TYPER
    if annotation is str and type(value) is str:
        return value
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        # typer compares the choices as text (case-folded unless case_sensitive): an exact
        # value is the same member either way
        exact = [member for member in annotation if member.value == value]
        return exact[0] if len(exact) == 1 and type(exact[0].value) is str else FOR_TYPER
    if annotation in (int, float) and type(value) is annotation:  # a default, not typed text
        low = -float("inf") if param.min is None else param.min
        high = float("inf") if param.max is None else param.max
        return value if low <= value <= high else FOR_TYPER
    if annotation is Path and type(value) is str and info.path_type is None:
        return _plain_path(value, info)
    return FOR_TYPER


def _plain_path(value: str, info: Any) -> Any:
    """A path typer's checks would not complain about, as a :class:`Path`."""
    if info.resolve_path or (info.allow_dash and value == "-"):
        return FOR_TYPER
    try:
        found = os.stat(value)
    except OSError:
        return FOR_TYPER if info.exists else Path(value)
    if stat.S_ISREG(found.st_mode) and not info.file_okay:
        return FOR_TYPER
    if stat.S_ISDIR(found.st_mode) and not info.dir_okay:
        return FOR_TYPER
    if info.readable and not os.access(value, os.R_OK):
        return FOR_TYPER
    if info.writable and not os.access(value, os.W_OK):
        return FOR_TYPER
    return Path(value)


def process_value(param: Any, ctx: Any, value: Any, by_typer: Callable[[Any, Any], Any]) -> Any:
    """Click's hook for a parsed value, answered with :func:`plain` where it can (``by_typer``
    otherwise), then as typer's parameters go on after converting: a missing required value
    is an error, then the parameter's callback runs."""
    converted = plain(param, value)
    if converted is FOR_TYPER:
        return by_typer(ctx, value)
    if param.required and param.value_is_missing(converted):
        from typer._click.exceptions import MissingParameter

        raise MissingParameter(ctx=ctx, param=param)
    if param.callback is not None:
        converted = param.callback(ctx, param, converted)
    return converted


class PlainOption(TyperOption):
    """A typer option whose plain values need no pydantic."""

    def process_value(self, ctx: Any, value: Any) -> Any:
        return process_value(self, ctx, value, super().process_value)


class PlainArgument(TyperArgument):
    """A typer argument whose plain values need no pydantic."""

    def process_value(self, ctx: Any, value: Any) -> Any:
        return process_value(self, ctx, value, super().process_value)


def _hook_as_expected() -> bool:
    """Whether click's ``process_value`` is still ``(self, ctx, value)``, the hook answered here."""
    code = TyperOption.process_value.__code__
    return code.co_argcount == 3 and code.co_varnames[:3] == ("self", "ctx", "value")


def plain_values(command: Any, *, recurse: bool = True) -> None:
    """Give ``command``'s parameters (and its subcommands', unless not ``recurse``) plain value
    conversion, in place; nothing changes where click's hook is not the one this module knows."""
    if not _hook_as_expected():
        return
    # click keeps the --help option apart once built (translate_help builds it early)
    for param in [*command.params, getattr(command, "_help_option", None)]:
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    if recurse:
        for sub in getattr(command, "commands", {}).values():
            plain_values(sub)
