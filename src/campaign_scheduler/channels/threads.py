"""Threads: publish posts and reply chains through the Threads API (channels.md §9).

Settings: ``user_id`` (the Threads user id), optional ``media_base_url`` (needed for images:
Threads downloads them from a public URL, see :func:`~campaign_scheduler.channels._graph.media_url`)
and ``api_version`` (default ``v1.0``); secret ``token`` (``threads_basic``,
``threads_content_publish``; ``threads_manage_insights`` for metrics, ``threads_delete``).

Publishing is the Graph container flow (see :mod:`campaign_scheduler.channels._graph`):

1. ``GET /{user-id}/threads_publishing_limit``: 250 posts (1000 replies) per moving 24 hours;
   when used up, :class:`RateLimitedError` without trying;
2. ``POST /{user-id}/threads`` with ``media_type`` ``TEXT`` (``text``), ``IMAGE``
   (``image_url``, ``alt_text``, ``text``) or, for 2-20 images, ``CAROUSEL`` with item
   containers; ``reply_to_id`` makes it a reply (the next link of a chain);
3. ``GET /{container-id}?fields=status,error_message`` until ``FINISHED``;
4. ``POST /{user-id}/threads_publish`` with ``creation_id``, the only call that can create the
   post; then the permalink and timestamp are read.

Length: 500 characters, emoji counted by their UTF-8 bytes (channels/text.py).

Recovery: no idempotency key; :meth:`ThreadsChannel.look_up` lists ``/{user-id}/threads``
(top-level posts) or, for a reply, ``/{user-id}/replies`` back to ``since`` and takes the
oldest post whose text equals the post's (and, for a reply, whose parent is ``reply_to``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from campaign_scheduler.channels._graph import (
    ContainerChannel,
    ContainerDialect,
    GraphApi,
    check_publishing_quota,
    find_by_permalink,
    insight_values,
    media_url,
)
from campaign_scheduler.channels._http import count
from campaign_scheduler.channels.base import AccountApi, AccountSettings
from campaign_scheduler.channels.catalog import MIB, MINUTE, MP4_OR_MOV, ChannelSpec, VideoLimits
from campaign_scheduler.channels.published import (
    PublishedPart,
    not_among_latest,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_THREADS, TextRule, count_threads
from campaign_scheduler.errors import AuthError, RejectedError, UnavailableError

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import MediaFile, Metrics, OutboundPost, Receipt

DEFAULT_THREADS_VERSION = "v1.0"
MEDIA_INSIGHTS = ("views", "likes", "replies", "reposts", "quotes", "shares")


class ThreadsGraph(GraphApi):
    """The Threads API: Graph's dialect on graph.threads.net, with versions of its own."""

    #: Metrics fields and the insights that hold them (``shares`` has no field).
    figures: ClassVar[Mapping[str, str]] = {
        name: name for name in MEDIA_INSIGHTS if name != "shares"
    }

    default_version = DEFAULT_THREADS_VERSION


class ThreadsChannel(ContainerChannel):
    """Posts on one Threads profile."""

    name = "threads"
    spec = ChannelSpec.versioned(
        "Threads",
        settings=("user_id",),
        optional=("media_base_url",),
        default_base_url="https://graph.threads.net",
        supports_threads=True,
        # VIDEO posts (channels.md §9): MP4 or MOV, at most 1 GB and 5 minutes, up to 60 fps;
        # one video as its own post.
        video=VideoLimits(
            MP4_OR_MOV, max_bytes=1024 * MIB, max_seconds=5 * MINUTE, max_frame_rate=60.0
        ),
        max_images=20,  # a carousel: up to 20 items
        other_files=False,
    )
    text_rule = TextRule(UNIT_THREADS, count_threads, 500)
    api = AccountApi(ThreadsGraph)
    connect_flow = "campaign_scheduler.auth.meta:ThreadsFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:ThreadsNetwork"
    containers = ContainerDialect(
        "threads", "status", "error_message", poll_interval=5.0, max_polls=60
    )

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        if not post.text.strip() and not post.media:
            return ["threads: the post has neither text nor an image"]
        return []

    def publish(self, post: OutboundPost) -> Receipt:
        problems = self.validate(post)
        if problems:
            raise RejectedError(f"threads: {self.account.name}: " + "; ".join(problems))
        user = self.user_id
        reply = post.reply_to is not None
        check_publishing_quota(
            self.api,
            f"{user}/threads_publishing_limit",
            usage_key="reply_quota_usage" if reply else "quota_usage",
            config_key="reply_config" if reply else "config",
            what="reply" if reply else "publishing",
        )
        params: dict[str, Any] = {"text": post.text} if post.text else {}
        if post.reply_to is not None:
            params["reply_to_id"] = post.reply_to
        images = [(media_url(self.account, m), m.alt) for m in post.media]
        children: list[dict[str, Any]] = []
        if post.media and post.media[0].is_video:
            params.update(self._video(post.media[0]))
        elif not images:
            params["media_type"] = "TEXT"
        elif len(images) == 1:
            url, alt = images[0]
            params.update(media_type="IMAGE", image_url=url)
            if alt:
                params["alt_text"] = alt
        else:
            children = [
                {"media_type": "IMAGE", "image_url": url, **({"alt_text": alt} if alt else {})}
                for url, alt in images
            ]
        return self._publish(params, children, checkpoint=post.checkpoint)

    def _video(self, video: MediaFile) -> dict[str, Any]:
        """A VIDEO container: the public ``video_url`` and the alt text; Threads processes
        the video before the container is FINISHED (polled like every container)."""
        params: dict[str, Any] = {
            "media_type": "VIDEO",
            "video_url": media_url(self.account, video),
        }
        if video.alt:
            params["alt_text"] = video.alt
        return params

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest post (or reply to ``post.reply_to``) of the profile created since
        ``since`` less a minute whose text equals ``post.text``."""
        parent = post.reply_to
        return self.api.find_oldest_post(
            f"{self.user_id}/threads" if parent is None else f"{self.user_id}/replies",
            "id,text,timestamp,permalink" + ("" if parent is None else ",replied_to"),
            list_since=True,
            text=post.text,
            since=since,
            text_field="text",
            accept=lambda item: parent is None or _parent(item) in (None, parent),
        )

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """views, likes, replies, reposts and quotes from the post's insights (``shares``
        has no place in :class:`Metrics`); followers from the profile's insights."""
        values = self.api.insights(receipt.remote_id, MEDIA_INSIGHTS)
        return self.api.metrics(values, followers=self._followers())

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """A post's address (``https://www.threads.net/@NAME/post/SHORTCODE``, threads.com
        too) carries a shortcode, not the media id: :meth:`find_published` looks it up."""
        _address(url, account, cls.title())
        raise refusal(cls.title(), account.name, url, _SHAPE)

    def find_published(self, url: str) -> PublishedPart:
        """The shortcode looked up among the profile's latest posts and replies (a thread's
        later parts are replies), by their ``permalink``."""
        code = _address(url, self.account, self.title())
        found = find_by_permalink(
            self.api, [f"{self.user_id}/threads", f"{self.user_id}/replies"], code
        )
        if found is None:
            raise not_among_latest(self.title(), self.account.name, url)
        return PublishedPart(found)

    def verify(self) -> str:
        """``@username`` of the profile the token belongs to, which must be ``user_id``."""
        me = self.api.get("me", {"fields": "id,username"})
        username = me.get("username")
        if str(me.get("id")) != self.user_id:
            raise AuthError(
                f"threads: {self.account.name}: the token belongs to @{username}, not to "
                f"user {self.user_id}",
                hint="set user_id to the id of the profile the token was issued for",
            )
        if not isinstance(username, str) or not username:
            raise UnavailableError(f"threads: {self.account.name}: /me returned no username")
        return f"@{username}"

    def _followers(self) -> int | None:
        answer, _ = self.api.try_get(
            f"{self.user_id}/threads_insights", {"metric": "followers_count"}
        )
        return count(insight_values(answer).get("followers_count")) if answer else None


def _parent(item: dict[str, Any]) -> str | None:
    replied_to = item.get("replied_to")
    if isinstance(replied_to, dict) and replied_to.get("id") is not None:
        return str(replied_to["id"])
    return None


#: The address of a Threads post.
_SHAPE = "https://www.threads.net/@NAME/post/SHORTCODE"
_SHORTCODE = re.compile(r"[A-Za-z0-9_-]{5,64}")


def _address(url: str, account: AccountSettings, network: str) -> str:
    """The shortcode of the post at ``url``."""
    parts = split_address(
        url,
        network=network,
        account=account.name,
        shape=_SHAPE,
        hosts=("threads.net", "threads.com"),
    )
    match segments(parts):
        case [name, "post", code] if name.startswith("@") and _SHORTCODE.fullmatch(code):
            return code
    raise refusal(network, account.name, url, _SHAPE)
