"""What each built-in network needs in config.toml: its keys, which of them are secrets, defaults.

This is static knowledge about the networks (channels.md), used to validate accounts before any
adapter is loaded. It knows nothing of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    title: str
    settings: tuple[str, ...] = ()  # plain keys (ids, handles), required
    secrets: tuple[str, ...] = ()  # keys that must be env:/file: references, required
    optional: tuple[str, ...] = ()  # plain keys that may be left out
    default_base_url: str | None = None
    needs_base_url: bool = True
    needs_media: bool = False  # the network has no text-only posts
    supports_threads: bool = False  # posts can answer earlier posts (for split = true)
    links_clickable: bool = True  # False: a URL in the text is plain text (Instagram captions)
    extra: dict[str, str] = field(default_factory=dict)


COMMON_ACCOUNT_KEYS = ("channel", "sender", "base_url")

CHANNEL_SPECS: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        ChannelSpec(
            "mastodon",
            "Mastodon",
            secrets=("token",),
            optional=("max_characters",),
            supports_threads=True,
        ),
        ChannelSpec(
            "bluesky",
            "Bluesky",
            settings=("identifier",),
            secrets=("password",),
            optional=("app_url",),
            default_base_url="https://bsky.social",
            supports_threads=True,
        ),
        ChannelSpec(
            "facebook",
            "Facebook Page",
            settings=("page_id",),
            secrets=("token",),
            optional=("api_version",),
            default_base_url="https://graph.facebook.com",
        ),
        ChannelSpec(
            "instagram",
            "Instagram",
            settings=("user_id", "media_base_url"),
            secrets=("token",),
            optional=("api_version",),
            default_base_url="https://graph.facebook.com",
            needs_media=True,
            links_clickable=False,
        ),
        ChannelSpec(
            "linkedin",
            "LinkedIn organisation page",
            settings=("organization",),
            secrets=("token",),
            optional=("api_version",),
            default_base_url="https://api.linkedin.com",
        ),
        ChannelSpec(
            "x",
            "X",
            secrets=("api_key", "api_secret", "access_token", "access_secret"),
            default_base_url="https://api.x.com",
            supports_threads=True,
        ),
        ChannelSpec(
            "telegram",
            "Telegram channel",
            settings=("chat",),
            secrets=("token",),
            default_base_url="https://api.telegram.org",
            supports_threads=True,
        ),
        ChannelSpec(
            "threads",
            "Threads",
            settings=("user_id",),
            secrets=("token",),
            optional=("api_version", "media_base_url"),
            default_base_url="https://graph.threads.net",
            supports_threads=True,
        ),
        ChannelSpec(
            "matrix", "Matrix room", settings=("room",), secrets=("token",), supports_threads=True
        ),
        ChannelSpec(
            "webhook",
            "Signed webhook",
            settings=("url",),
            secrets=("secret",),
            optional=("deduplicates",),
            needs_base_url=False,
        ),
    )
}
