"""Wait for a freshly started Synapse, then seed it for the integration tests.

Seeds: an admin user registered through the shared-secret admin API (so it has a device, as a
real login does), exempt from the message rate limit; a public room with an alias. Writes an
``env.sh`` with the ``export`` lines tests/test_matrix_synapse.py reads. Uses only the standard
library, so it runs under any Python 3.

    python seed.py --url http://127.0.0.1:PORT --secret SHARED_SECRET --pid PID --env FILE
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

START_TIMEOUT = 60.0


def call(url: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def wait_until_healthy(url: str, pid: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise SystemExit("Synapse exited during start-up") from None
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"Synapse not healthy after {START_TIMEOUT:.0f} s")


def register(url: str, secret: str, user: str, *, admin: bool) -> dict[str, Any]:
    """Register through /_synapse/admin/v1/register (HMAC-SHA1 over nonce, user, password)."""
    nonce = call(url, "GET", "/_synapse/admin/v1/register")["nonce"]
    password = secrets.token_urlsafe(16)
    message = b"\x00".join(
        [nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"]
    )
    mac = hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()
    body = {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac}
    result: dict[str, Any] = call(url, "POST", "/_synapse/admin/v1/register", body)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--env", required=True)
    args = parser.parse_args()

    took = wait_until_healthy(args.url, args.pid)
    account = register(args.url, args.secret, "redaktion", admin=True)
    token, user_id = account["access_token"], account["user_id"]
    quoted = urllib.parse.quote(user_id)
    call(
        args.url,
        "POST",
        f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
        {"messages_per_second": 0, "burst_count": 0},
        token,
    )
    alias = "5malklug-" + secrets.token_hex(3)
    room = call(
        args.url,
        "POST",
        "/_matrix/client/v3/createRoom",
        {
            "name": "#5malklug Bekanntmachungen",
            "topic": "Countdown zur Smart Cities: Konferenz Südwestfalen",
            "preset": "public_chat",
            "room_alias_name": alias,
        },
        token,
    )
    exports = {
        "CAMPAIGN_TEST_SYNAPSE_URL": args.url,
        "CAMPAIGN_TEST_SYNAPSE_TOKEN": token,
        "CAMPAIGN_TEST_SYNAPSE_USER": user_id,
        "CAMPAIGN_TEST_SYNAPSE_ROOM": room["room_id"],
        "CAMPAIGN_TEST_SYNAPSE_ALIAS": f"#{alias}:localhost",
        "CAMPAIGN_TEST_SYNAPSE_REGISTRATION_SECRET": args.secret,
    }
    with open(args.env, "w", encoding="utf-8") as env:
        env.writelines(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items())
    os.chmod(args.env, 0o600)
    alias = exports["CAMPAIGN_TEST_SYNAPSE_ALIAS"]
    sys.stdout.write(f"Synapse healthy after {took:.1f} s at {args.url}; room {alias}\n")


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as exc:
        sys.exit(f"Synapse answered {exc.code} to {exc.url}: {exc.read()[:300]!r}")
