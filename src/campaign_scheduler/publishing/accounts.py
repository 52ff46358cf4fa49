"""Adapters for the configured accounts: config + registry -> a ready :class:`Channel`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from campaign_scheduler.channels.base import AccountSettings, Channel
from campaign_scheduler.config import Account, Settings
from campaign_scheduler.errors import ConfigError
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    import requests

log = logging.getLogger("campaign_scheduler.daemon")


def account_settings(account: Account) -> AccountSettings:
    """What an adapter may know of an account: no secret values, only a way to read them."""

    def secret(key: str) -> str:
        ref = account.secrets.get(key)
        if ref is None:
            raise ConfigError(
                msg(
                    "account '{account}' has no '{key}' in the config",
                    account=account.name,
                    key=key,
                )
            )
        return ref.resolve()

    return AccountSettings(
        name=account.name,
        base_url=(account.base_url or "").rstrip("/"),
        settings=dict(account.settings),
        secret=secret,
    )


class ConfiguredChannels:
    """One adapter per account and thread (requests sessions are not shared across threads).

    With ``per_account``, one adapter per account whatever the thread: for the daemon, whose
    threads make one call at a time per account, so that each account keeps its connection
    (and its login) from one call to the next."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 30.0,
        session_factory: Callable[[], requests.Session] | None = None,
        channel_options: dict[str, dict[str, Any]] | None = None,
        per_account: bool = False,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.session_factory = session_factory
        self.channel_options = channel_options or {}
        self._local = threading.local()
        self._shared: dict[str, Channel] | None = {} if per_account else None
        self._creating = threading.Lock()

    def channel_for(self, account_name: str) -> Channel:
        if self._shared is not None:
            with self._creating:
                if account_name not in self._shared:
                    self._shared[account_name] = self._make(account_name)
                return self._shared[account_name]
        cache: dict[str, Channel] = getattr(self._local, "channels", None) or {}
        self._local.channels = cache
        if account_name not in cache:
            cache[account_name] = self._make(account_name)
        return cache[account_name]

    def _make(self, account_name: str) -> Channel:
        account = self.settings.accounts.get(account_name)
        if account is None:
            raise ConfigError(
                msg(
                    "account '{account}' is in the database but not in the config",
                    account=account_name,
                ),
                hint=msg("add it to config.toml again, or cancel its deliveries"),
            )
        from campaign_scheduler.channels._http import make_session
        from campaign_scheduler.channels.registry import make_channel

        session = self.session_factory() if self.session_factory else make_session()
        return make_channel(
            account.channel,
            account_settings(account),
            session,
            timeout=self.timeout,
            **self.channel_options.get(account.channel, {}),
        )


def warm_up(
    channels: ConfiguredChannels,
    account_names: list[str],
    *,
    publishing: ConfiguredChannels | None = None,
) -> None:
    """Ask the networks ahead of a due moment what a call would ask first (an instance's text
    limit), so that the call itself goes out at once. Failures are left to the call.

    ``publishing`` are the daemon's own adapters: the ones the calls will use are made now
    (no call on them: one may be in flight on its account), not at the due moment."""
    for name in account_names:
        try:
            if publishing is not None:
                publishing.channel_for(name)
            channels.channel_for(name).text_limit()
        except Exception as exc:  # noqa: BLE001 - the call itself will meet it and record it
            log.debug("warming up %s: %s", name, exc)
