"""The loopback redirect receiver and the browser-or-paste step, with real loopback requests."""

from __future__ import annotations

import pytest
import requests

from campaign_scheduler.auth.oauth import (
    RedirectReceiver,
    is_desktop,
    parse_pasted,
    pkce_pair,
)
from campaign_scheduler.errors import AuthError


def test_the_receiver_takes_one_redirect_with_the_right_state() -> None:
    with RedirectReceiver() as receiver:
        receiver.expected_state = "s1"
        uri = receiver.redirect_uri
        assert uri.startswith("http://127.0.0.1:") and uri.endswith("/callback")
        base = uri.rsplit("/", 1)[0]
        assert requests.get(base + "/favicon.ico", timeout=30).status_code == 404
        forged = requests.get(uri + "?code=evil&state=other", timeout=30)
        assert forged.status_code == 400
        page = requests.get(uri + "?code=abc&state=s1", timeout=30)
        assert page.status_code == 200
        assert "Sie können dieses Fenster schließen" in page.text
        assert "You can close this window" in page.text
        assert receiver.wait(0) == {"code": "abc", "state": "s1"}


def test_the_receiver_gives_up_cleanly() -> None:
    with RedirectReceiver() as receiver:
        assert receiver.wait(0) is None


def test_a_pasted_address_must_belong_to_this_sign_in() -> None:
    assert parse_pasted("http://127.0.0.1:5/callback?code=c1&state=s", "s", "x") == "c1"
    assert parse_pasted("  c2 \n", "s", "x") == "c2"
    with pytest.raises(AuthError, match="state differs"):
        parse_pasted("http://127.0.0.1:5/callback?code=c1&state=t", "s", "x")
    with pytest.raises(AuthError, match="refused: the user said no"):
        parse_pasted(
            "/callback?error=access_denied&error_description=the+user+said+no&state=s", "s", "x"
        )


def test_pkce_pair_is_s256() -> None:
    import base64
    import hashlib

    verifier, challenge = pkce_pair()
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert pkce_pair()[0] != verifier


def test_a_browser_opens_only_on_a_desktop() -> None:
    assert not is_desktop({}, "linux")
    assert is_desktop({"DISPLAY": ":0"}, "linux")
    assert not is_desktop({"DISPLAY": ":0", "SSH_CONNECTION": "1 2 3 4"}, "linux")
    assert is_desktop({}, "darwin")
