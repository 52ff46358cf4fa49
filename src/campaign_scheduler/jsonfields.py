"""Objects as JSON-able dicts of the fields one names (reports, sandbox control views)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any


def fields_of(obj: object, *names: str, **nested: Sequence[str]) -> dict[str, Any]:
    """``{name: obj.name}`` for ``names``, in that order, as JSON-able values: datetimes as
    ISO 8601 text, tuples and lists as lists, dataclasses as dicts. A name also given in
    ``nested`` is a sequence of objects, each kept as the fields ``nested[name]`` names."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if name in nested:
            values[name] = [fields_of(item, *nested[name]) for item in value]
        else:
            values[name] = _plain(value)
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value
