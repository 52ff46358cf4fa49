"""How a channel class declares its facts: the account table as data, the versioned-token spec,
the HTTP dialect declared once (``api = AccountApi(...)``)."""

from __future__ import annotations

import requests

from campaign_scheduler.channels._http import ApiClient
from campaign_scheduler.channels.base import (
    AccountApi,
    AccountSettings,
    Channel,
    OutboundPost,
    Receipt,
)
from campaign_scheduler.channels.catalog import ChannelSpec, Key, account_keys


def test_account_keys_sort_a_table_by_kind_in_its_order() -> None:
    keys = account_keys(
        url=Key.ADDRESS,
        room=Key.SETTING,
        token=Key.SECRET,
        app_url=Key.OPTIONAL,
        limit=Key.OPTIONAL_INTEGER,
    )
    assert keys == {
        "addresses": ("url",),
        "settings": ("url", "room"),
        "secrets": ("token",),
        "optional": ("app_url",),
        "optional_integers": ("limit",),
    }
    spec = ChannelSpec("Net", **keys)
    assert spec.keys == (
        "channel",
        "sender",
        "base_url",
        "url",
        "room",
        "token",
        "app_url",
        "limit",
    )


def test_a_versioned_spec_adds_the_token_and_the_api_version() -> None:
    spec = ChannelSpec.versioned(
        "Net", settings=("page_id",), optional=("extra",), needs_media=True
    )
    assert (spec.settings, spec.secrets, spec.optional) == (
        ("page_id",),
        ("token",),
        ("api_version", "extra"),
    )
    assert spec.needs_media


class _NetApi(ApiClient):
    thing = "note"


class _NetChannel(Channel):
    name = "net"
    api = AccountApi(_NetApi)

    def publish(self, post: OutboundPost) -> Receipt:
        raise NotImplementedError

    def verify(self) -> str:
        return "net"


def test_the_declared_dialect_is_made_with_the_adapter_for_its_account() -> None:
    account = AccountSettings("acct", "https://net.example/", secret=lambda key: "tok")
    session = requests.Session()
    channel = _NetChannel(account, session, timeout=7.0)
    api = vars(channel)["api"]  # made by the constructor, not on first use
    assert isinstance(api, _NetApi) and channel.api is api
    assert (api.channel, api.account, api.session) == ("net", account, session)
    assert (api.base_url, api.timeout) == ("https://net.example", 7.0)
    assert _NetChannel.api_class is _NetApi
    assert _NetChannel(account, session).api is not api  # one client per adapter
