"""The control routes each sandbox offers under ``/_sandbox/`` (its ``_view_<name>`` and
``_control_<name>`` methods): exactly the documented ones, no helper exposed by its name."""

from __future__ import annotations

import pytest

from campaign_scheduler.sandbox._base import SandboxBase
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.sandbox.matrix import MatrixSandbox
from campaign_scheduler.sandbox.telegram import TelegramSandbox
from campaign_scheduler.sandbox.threads import ThreadsSandbox
from campaign_scheduler.sandbox.webhook import WebhookSandbox
from campaign_scheduler.sandbox.x import XSandbox

GRAPH_CONTROLS = {"accounts", "config", "engagement", "media"}


@pytest.mark.parametrize(
    ("kind", "views", "controls"),
    [
        (BlueskySandbox, {"records", "statuses"}, {"accounts", "engagement"}),
        (FacebookSandbox, {"statuses"}, GRAPH_CONTROLS),
        (InstagramSandbox, {"statuses"}, GRAPH_CONTROLS),
        (ThreadsSandbox, {"statuses"}, GRAPH_CONTROLS),
        (LinkedInSandbox, {"statuses"}, {"accounts", "engagement"}),
        (MastodonSandbox, {"statuses"}, {"accounts", "engagement"}),
        (MatrixSandbox, {"events"}, {"accounts", "engagement", "rooms"}),
        (TelegramSandbox, {"statuses"}, {"bots", "channels"}),
        (WebhookSandbox, {"deliveries"}, {"endpoints"}),
        (XSandbox, {"statuses"}, {"accounts", "engagement"}),
    ],
)
def test_each_sandbox_offers_exactly_its_control_routes(
    kind: type[SandboxBase[object, object]], views: set[str], controls: set[str]
) -> None:
    sandbox = kind()
    assert set(sandbox._views()) == views
    assert set(sandbox._controls()) == controls
