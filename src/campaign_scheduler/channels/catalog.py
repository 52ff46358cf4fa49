"""What a network needs in config.toml and what it can do, as its channel class declares it.

Every :class:`~campaign_scheduler.channels.base.Channel` carries a :class:`ChannelSpec` (its
``spec`` class attribute) and a text rule (``text_rule``). This module reads them through the
registry, so a channel installed by a third-party package is configured, checked and reported
exactly like a built-in one. Looking a channel up imports its module (and nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypedDict, cast

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import Channel

#: Keys every account table may have, whatever its channel.
COMMON_ACCOUNT_KEYS = ("channel", "sender", "base_url")
#: File sizes as the networks' documentation writes them (decimal or binary megabytes).
MB = 1000 * 1000
MIB = 1024 * 1024
#: Video lengths in seconds, as the networks' documentation gives them in minutes.
MINUTE = 60.0
#: MP4 or QuickTime (MOV), the video formats most networks take.
MP4_OR_MOV = ("video/mp4", "video/quicktime")


@dataclass(frozen=True)
class VideoLimits:
    """What a network takes as a video (channels.md): the one place per network; ``campaign
    check`` probes each video against it and the adapters keep to its per-post rules."""

    formats: tuple[str, ...] = ("video/mp4",)  # media types as the probe names them
    max_bytes: int = 100_000_000
    max_seconds: float | None = None  # None: no documented limit
    min_seconds: float = 0.0
    max_pixels: int | None = None  # width × height
    max_frame_rate: float | None = None
    per_post: int = 1  # videos in one post
    with_images: bool = False  # whether a video may share a post with images


@dataclass(frozen=True)
class ChannelSpec:
    """A network's account keys and capabilities (static facts, see channels.md)."""

    title: str = ""  # the network's name as people write it ("LinkedIn"); empty: the entry name
    settings: tuple[str, ...] = ()  # plain keys (ids, handles), required
    secrets: tuple[str, ...] = ()  # keys that must be env:/file: references, required
    #: Alternative sets of secret keys (besides ``secrets``): an account needs every key of one
    #: set — the set it has a key of, else the first (e.g. X: OAuth 1.0a keys or an OAuth 2
    #: ``token``).
    secret_choices: tuple[tuple[str, ...], ...] = ()
    optional: tuple[str, ...] = ()  # plain text keys that may be left out
    optional_integers: tuple[str, ...] = ()  # whole-number keys that may be left out
    addresses: tuple[str, ...] = ()  # settings that are URLs we call (checked like base_url)
    default_base_url: str | None = None
    needs_base_url: bool = True
    needs_media: bool = False  # the network has no text-only posts
    supports_threads: bool = False  # posts can answer earlier posts (for split = true)
    links_clickable: bool = True  # False: a URL in the text is plain text (Instagram captions)
    reports_impressions: bool = True  # the API tells how often a post was seen
    video: VideoLimits | None = None  # None: the network (or its adapter) takes no video
    #: Images in one post (videos: ``video.per_post``); None: no limit known here.
    max_images: int | None = None
    #: The largest image file the network takes, in bytes; None: no limit known here.
    max_image_bytes: int | None = None
    #: False: the network takes images and videos only (no PDFs or other files).
    other_files: bool = True

    @classmethod
    def versioned(
        cls, title: str, *, settings: tuple[str, ...], optional: tuple[str, ...] = (), **facts: Any
    ) -> ChannelSpec:
        """The spec of a network with a versioned API and an access token (Meta's Graph,
        LinkedIn's REST API): besides its own ``settings`` a ``token`` (secret), and besides its
        own ``optional`` keys an ``api_version``."""
        return cls(
            title,
            settings=settings,
            secrets=("token",),
            optional=("api_version", *optional),
            **facts,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key an account table of this channel may have."""
        return (
            *COMMON_ACCOUNT_KEYS,
            *self.settings,
            *self.secrets,
            *(key for choice in self.secret_choices for key in choice),
            *self.optional,
            *self.optional_integers,
        )


class Key(Enum):
    """What a key of an account table is (see :func:`account_keys`)."""

    SETTING = "settings"  # plain text, required
    SECRET = "secrets"  # an env:/file: reference, required
    OPTIONAL = "optional"  # plain text that may be left out
    OPTIONAL_INTEGER = "optional_integers"  # a whole number that may be left out
    ADDRESS = "addresses"  # a required setting that is a URL we call (checked like base_url)


class AccountKeys(TypedDict, total=False):
    """A :class:`ChannelSpec`'s account keys by kind, as :func:`account_keys` sorts them."""

    settings: tuple[str, ...]
    secrets: tuple[str, ...]
    optional: tuple[str, ...]
    optional_integers: tuple[str, ...]
    addresses: tuple[str, ...]


def account_keys(**table: Key) -> AccountKeys:
    """A channel's account table as data, each key with its kind, in the table's order:
    ``ChannelSpec("Bluesky", **account_keys(identifier=Key.SETTING, password=Key.SECRET))``.
    An :attr:`Key.ADDRESS` is a setting and an address."""
    keys: dict[str, tuple[str, ...]] = {}
    for key, kind in table.items():
        for field in (kind.value, "settings") if kind is Key.ADDRESS else (kind.value,):
            keys[field] = (*keys.get(field, ()), key)
    return cast("AccountKeys", keys)


def installed_names() -> list[str]:
    """The names of every installed channel (nothing is imported)."""
    from campaign_scheduler.channels.registry import available_channels

    return list(available_channels())


def channel_of(name: str) -> type[Channel] | None:
    """The class of the installed channel ``name``, or ``None`` when none is installed under
    that name. A plugin that is installed but broken raises
    :class:`~campaign_scheduler.channels.registry.ChannelPluginError`."""
    from campaign_scheduler.channels.registry import _entry_points, channel_class

    if name not in _entry_points():
        return None
    return channel_class(name)


def takes_comments(name: str) -> bool:
    """Whether channel ``name`` can follow a post with a first comment (a ``comment_rule``);
    False for a channel that is not installed or whose plugin is broken."""
    from campaign_scheduler.channels.registry import ChannelPluginError

    try:
        cls = channel_of(name)
    except ChannelPluginError:
        return False
    return cls is not None and cls.comment_rule is not None


def spec_of(name: str) -> ChannelSpec | None:
    """The spec of the installed channel ``name``; ``None`` when there is none."""
    cls = channel_of(name)
    return None if cls is None else cls.spec


def title_of(name: str) -> str:
    """How people write channel ``name`` ("LinkedIn"); the name itself when it is not
    installed (any more) or its plugin is broken: a report must still show its posts."""
    from campaign_scheduler.channels.registry import ChannelPluginError

    try:
        cls = channel_of(name)
    except ChannelPluginError:
        return name
    return name if cls is None else cls.title()


def without_impressions() -> tuple[str, ...]:
    """The installed channels whose APIs report no impressions or views at all, sorted by
    name (a broken plugin is left out: it cannot report anything either)."""
    from campaign_scheduler.channels.registry import ChannelPluginError

    names = []
    for name in installed_names():
        try:
            spec = spec_of(name)
        except ChannelPluginError:
            continue
        if spec is not None and not spec.reports_impressions:
            names.append(name)
    return tuple(names)
