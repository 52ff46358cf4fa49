"""Which addresses may carry an account's credentials: ``https://`` anywhere, plain ``http://``
only where nothing can leave this machine: loopback addresses (sandboxes, tests) and names
under ``.invalid``, which no resolver answers (RFC 6761; in-process test transports use them).
Standard library only: config.py checks addresses with it before any adapter is loaded, and
``_http.send`` checks every call."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def stays_here(host: str) -> bool:
    """Whether a request to ``host`` cannot leave this machine."""
    return is_loopback(host) or host.lower().rstrip(".").endswith(".invalid")


def url_problem(url: str) -> str | None:
    """Why ``url`` may not carry credentials, or ``None`` when it may."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return None
    if scheme == "http" and stays_here(parts.hostname or ""):
        return None
    if scheme == "http":
        return "must start with https:// (plain http only for loopback addresses)"
    return "must be an https:// address"
