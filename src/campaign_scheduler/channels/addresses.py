"""Which addresses may carry an account's credentials: ``https://`` anywhere, plain ``http://``
only on this machine (sandboxes, tests). Standard library only: config.py checks addresses
with it before any adapter is loaded, and ``_http.send`` checks every call."""

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


def url_problem(url: str) -> str | None:
    """Why ``url`` may not carry credentials, or ``None`` when it may."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return None
    if scheme == "http" and is_loopback(parts.hostname or ""):
        return None
    if scheme == "http":
        return "must start with https:// (plain http only for loopback addresses)"
    return "must be an https:// address"
