"""Adapters for the configured accounts: config + registry -> a ready :class:`Channel`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.config import Account, Settings
from campaign_scheduler.errors import ConfigError

if TYPE_CHECKING:
    import requests


def account_settings(account: Account) -> AccountSettings:
    """What an adapter may know of an account: no secret values, only a way to read them."""

    def secret(key: str) -> str:
        ref = account.secrets.get(key)
        if ref is None:
            raise ConfigError(f"account '{account.name}' has no '{key}' in the config")
        return ref.resolve()

    return AccountSettings(
        name=account.name,
        base_url=(account.base_url or "").rstrip("/"),
        settings=dict(account.settings),
        secret=secret,
    )


class ConfiguredChannels:
    """One adapter per account and thread (requests sessions are not shared across threads)."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 30.0,
        session_factory: Callable[[], requests.Session] | None = None,
        channel_options: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.session_factory = session_factory
        self.channel_options = channel_options or {}
        self._local = threading.local()

    def channel_for(self, account_name: str) -> Channel:
        cache: dict[str, Channel] = getattr(self._local, "channels", None) or {}
        self._local.channels = cache
        if account_name in cache:
            return cache[account_name]
        account = self.settings.accounts.get(account_name)
        if account is None:
            raise ConfigError(
                f"account '{account_name}' is in the database but not in the config",
                hint="add it to config.toml again, or cancel its deliveries",
            )
        from campaign_scheduler.channels._http import make_session
        from campaign_scheduler.channels.registry import make_channel

        session = self.session_factory() if self.session_factory else make_session()
        channel = make_channel(
            account.channel,
            account_settings(account),
            session,
            timeout=self.timeout,
            **self.channel_options.get(account.channel, {}),
        )
        cache[account_name] = channel
        return channel
