"""Loopback servers that speak each network's API, for rehearsals and tests.

Each sandbox binds 127.0.0.1 on a free port, keeps everything in memory and offers a Python
control API (faults, inspection) plus the same controls over HTTP under ``/_sandbox/``.
"""

from campaign_scheduler.sandbox.mastodon import (
    MastodonSandbox,
    SandboxMedia,
    SandboxStatus,
    SeenRequest,
)

__all__ = ["MastodonSandbox", "SandboxMedia", "SandboxStatus", "SeenRequest"]
