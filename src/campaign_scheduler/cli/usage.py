"""Usage errors (an unknown option, a value not among the choices, a missing argument) in the
user's language.

Typer's vendored click writes these in English f-strings, not through gettext, so
:func:`show` replaces ``UsageError.show`` (installed by :func:`campaign_scheduler.cli._typer_words`)
and words each kind of error from the exception's own fields: the option, the value typed,
the choices. A message this module does not know is shown as click wrote it.
"""

from __future__ import annotations

import enum
import sys
from typing import IO, Any

from campaign_scheduler.uilang import N_, tr

#: The kinds of missing parameter, as click names them (``param_type_name``).
_MISSING = {
    "option": N_("Missing option {name}."),
    "argument": N_("Missing argument {name}."),
    "parameter": N_("Missing parameter {name}."),
}
#: What pydantic (through Typer) says of a value of the wrong type, by its error type.
_WRONG_TYPE = {
    "int_parsing": N_("'{value}' is not a whole number"),
    "int_from_float": N_("'{value}' is not a whole number"),
    "float_parsing": N_("'{value}' is not a number"),
    "bool_parsing": N_("'{value}' is neither yes nor no"),
}
_EXTRA_ARGUMENTS = "Got unexpected extra argument(s) ("


def message(exc: Any) -> str:
    """What went wrong, in the user's language."""
    from typer._click import exceptions

    if isinstance(exc, exceptions.NoSuchOption):
        said = tr("No such option: {option}", option=exc.option_name)
        if exc.possibilities:
            options = ", ".join(sorted(exc.possibilities))
            said += " " + tr("(Possible options: {options})", options=options)
        return said
    if isinstance(exc, exceptions.MissingParameter):
        kind = exc.param.param_type_name if exc.param is not None else exc.param_type
        name = _hint(exc)
        return tr(_MISSING.get(kind or "parameter", _MISSING["parameter"]), name=name)
    if isinstance(exc, exceptions.BadParameter):
        name = _hint(exc)
        problem = _value_problem(exc)
        if name:
            return tr("Invalid value for {option}: {problem}", option=name, problem=problem)
        return tr("Invalid value: {problem}", problem=problem)
    text = str(exc.message)
    if text.startswith(_EXTRA_ARGUMENTS) and text.endswith(")"):
        extra = text[len(_EXTRA_ARGUMENTS) : -1]
        return tr("Got unexpected extra argument(s) ({arguments})", arguments=extra)
    return tr(text)


def _hint(exc: Any) -> str:
    if exc.param_hint is not None:
        hint = exc.param_hint
        return hint if isinstance(hint, str) else " / ".join(repr(x) for x in hint)
    return str(exc.param.get_error_hint()) if exc.param is not None else ""


def _value_problem(exc: Any) -> str:
    """``'pdfx' is not one of 'table', 'csv'`` from the value typed and the parameter's
    choices (pydantic's error, the exception's cause, keeps the value)."""
    errors = exc.__cause__.errors() if hasattr(exc.__cause__, "errors") else []
    if not errors or exc.param is None:
        return str(exc.message)
    first = errors[0]
    value = first.get("input")
    annotation = getattr(getattr(exc.param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        choices = ", ".join(f"'{choice.value}'" for choice in annotation)
        return tr("'{value}' is not one of {choices}", value=value, choices=choices)
    wrong = _WRONG_TYPE.get(str(first.get("type")))
    return tr(wrong, value=value) if wrong else str(exc.message)


def show(exc: Any, file: IO[Any] | None = None) -> None:
    """``UsageError.show``: the usage line, where to find help, the error."""
    from typer._click.utils import echo

    out = file if file is not None else sys.stderr
    ctx = exc.ctx
    color = ctx.color if ctx is not None else None
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            command = f"{ctx.command_path} {ctx.help_option_names[0]}"
            hint = tr("Try '{command}' for help.", command=command) + "\n"
        echo(f"{ctx.get_usage()}\n{hint}", file=out, color=color)
    echo(tr("error: {message}", message=message(exc)), file=out, color=color)
