"""Find channel adapters through the entry-point group ``campaign_scheduler.channels``.

Built-in adapters are registered in our own ``pyproject.toml`` exactly like third-party ones
(``[project.entry-points."campaign_scheduler.channels"]``), so a new network is a package that
declares ``mynet = "mypackage.module:MyNetChannel"``. Nothing is imported until a channel is
asked for by name; importing this module costs next to nothing.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from campaign_scheduler.errors import CampaignSchedulerError, NotFoundError
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import requests

    from campaign_scheduler.channels.base import AccountSettings, Channel

GROUP = "campaign_scheduler.channels"
_BUILT_IN_PREFIX = "campaign_scheduler."

_log = logging.getLogger("campaign_scheduler.channels")


class ChannelPluginError(CampaignSchedulerError):
    """An installed channel plugin cannot be loaded or is not a Channel."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    """Installed channels by name. When two packages claim one name, the built-in one wins,
    otherwise the first found; the clash is logged. Read once per process (see
    :func:`forget_installed`)."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        other = found.get(entry.name)
        if other is not None:
            keep = other if other.value.startswith(_BUILT_IN_PREFIX) else entry
            _log.warning(
                "two packages provide channel %r (%s and %s); using %s",
                entry.name,
                other.value,
                entry.value,
                keep.value,
            )
            found[entry.name] = keep
        else:
            found[entry.name] = entry
    return found


#: Classes loaded so far, by entry point (name, "module:Class"): ``check`` and ``load`` ask
#: for a class several times per draft, and loading an entry point parses its value each time.
_loaded: dict[tuple[str, str], type[Channel]] = {}


def forget_installed() -> None:
    """Read the installed channels again on next use (after installing a plugin at run time)."""
    _entry_points.cache_clear()
    _loaded.clear()


def available_channels() -> dict[str, str]:
    """Every installed channel: name -> ``"module:Class"``, sorted by name."""
    return {name: entry.value for name, entry in sorted(_entry_points().items())}


def channel_class(name: str) -> type[Channel]:
    """The adapter class registered as ``name`` (imported now, on first use)."""
    from campaign_scheduler.channels.base import Channel

    entries = _entry_points()
    entry = entries.get(name)
    if entry is None:
        installed = ", ".join(sorted(entries)) or "none"
        raise NotFoundError(
            msg(
                "no channel named {name!r} is installed (installed: {installed})",
                name=name,
                installed=installed,
            ),
            hint=msg(
                "check `channel` of the account in config.toml, or install the plugin that "
                "provides it"
            ),
        )
    key = (entry.name, entry.value)
    if key in _loaded:
        return _loaded[key]
    try:
        loaded = entry.load()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise ChannelPluginError(
            msg(
                "channel {name!r} ({entry}) cannot be loaded: {error}",
                name=name,
                entry=entry.value,
                error=error,
            ),
            hint=msg("reinstall or update the package that provides it"),
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Channel)):
        raise ChannelPluginError(
            msg(
                "channel {name!r} ({entry}) is not a subclass of "
                "campaign_scheduler.channels.base.Channel",
                name=name,
                entry=entry.value,
            ),
            hint=msg("the plugin is broken or meant for another version of campaign-scheduler"),
        )
    if getattr(loaded, "name", None) != name:
        _log.warning(
            "channel class %s calls itself %r but is registered as %r",
            entry.value,
            getattr(loaded, "name", None),
            name,
        )
    _loaded[key] = loaded
    return loaded


def make_channel(
    name: str,
    account: AccountSettings,
    session: requests.Session | None = None,
    **kwargs: Any,
) -> Channel:
    """An adapter for ``account`` on channel ``name``. Without ``session`` a new one with our
    User-Agent is made; ``kwargs`` go to the adapter's constructor (e.g. ``timeout``)."""
    cls = channel_class(name)
    if session is None:
        from campaign_scheduler.channels._http import make_session

        session = make_session()
    return cls(account, session, **kwargs)
