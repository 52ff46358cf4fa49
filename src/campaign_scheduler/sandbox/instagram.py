"""An Instagram professional account on loopback: content publishing as channels.md §6 has it.

What it implements (on top of :mod:`campaign_scheduler.sandbox._graph`):

* ``POST /{ig-user-id}/media``: image containers (``image_url``, ``caption``, ``alt_text``),
  carousel items (``is_carousel_item=true``) and carousels (``media_type=CAROUSEL``,
  ``children``, 2 to :attr:`max_carousel_items`). The image is downloaded from its URL (see
  :meth:`~campaign_scheduler.sandbox._graph.GraphSandbox.serve_media`) and checked: type
  (:attr:`image_types`; Meta documents JPEG only, PNG is accepted by default — UNVERIFIED),
  at most 8 MiB (code 36000, subcode 2207004), aspect ratio 4:5 to 1.91:1 (code 36003, subcode
  2207009, UNVERIFIED); a failed download is code 9004, subcode 2207052 (UNVERIFIED). The
  caption may have :attr:`max_caption_length` characters, :attr:`max_hashtags` hashtags and
  :attr:`max_mentions` mentions (2200 / 30 / 20, all UNVERIFIED); Reels containers
  (``media_type=REELS``, ``video_url`` downloaded and checked to be an MP4/MOV,
  ``share_to_feed``), published as ``media_type=VIDEO`` with ``media_product_type=REELS``;
* ``GET /{container-id}?fields=status_code,status``: ``IN_PROGRESS`` ×
  :attr:`container_polls` (a reel: :attr:`video_polls`), ``FINISHED``, ``PUBLISHED``, ``ERROR``, ``EXPIRED`` (the last two
  documented for Threads, UNVERIFIED here);
* ``POST /{ig-user-id}/media_publish`` (``creation_id``), at most :attr:`quota_total` per
  moving 24 hours (50; UNVERIFIED against 25/100 elsewhere); ``GET
  /{ig-user-id}/content_publishing_limit`` consistent with it;
* ``GET /{ig-user-id}/media`` (newest first, cursor paging), ``GET /{ig-media-id}``,
  ``/children``, ``/insights`` (``views``, ``reach``, ``likes``, ``comments``, ``saved``,
  ``shares``, ``total_interactions``; the retired ``impressions``/``plays`` are refused; "not
  enough viewers" when :attr:`insights_available` is off, empty data when
  :attr:`insights_delayed`);
* ``POST /{ig-media-id}/comments?message=…``: the account comments on its own media (the
  answer is the comment's ``id``; a comment has the caption's limits, UNVERIFIED) and ``GET
  /{ig-media-id}/comments`` (``id``, ``text``, ``timestamp``, ``from``, ``username``; newest
  first, cursor paging); comments by others are added with :meth:`InstagramSandbox.comment_as`;
* ``DELETE /{ig-media-id}`` only if :attr:`allow_delete` (UNVERIFIED; off by default);
* ``GET /me`` and ``GET /{ig-user-id}``; throttling with code 80002.

Not modelled: stories, resumable video uploads, cover images, user and product tags, locations,
the 400-containers-per-day limit, replies to comments, hiding comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import regex

from campaign_scheduler.sandbox._graph import (
    Call,
    Container,
    ContainerSandbox,
    Edges,
    Principal,
    Published,
    Routed,
    account_throttle,
    graph_error,
    graph_time,
    invalid,
    nonexisting_field,
    not_found,
    paginate,
    switch,
)
from campaign_scheduler.sandbox._server import HttpResponse, json_response

MEDIA_METRICS = frozenset(
    {
        "views",
        "reach",
        "likes",
        "comments",
        "saved",
        "shares",
        "total_interactions",
        "profile_visits",
        "follows",
    }
)
RETIRED_METRICS = frozenset(
    {
        "impressions",
        "plays",
        "clips_replays_count",
        "ig_reels_aggregated_all_plays_count",
        "video_views",
        "engagement",
    }
)
FIGURES = ("views", "reach", "likes", "comments", "saved", "shares")
# The same rule as channels/text.py: "#" + word characters, not glued to a word, "&" or "/".
_HASHTAG = regex.compile(r"(?<![\w&/])[#＃]\w+")
_MENTION = regex.compile(r"(?<![\w@])@[\w.]+")
_STATUS_PROSE = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}


@dataclass
class _Comment:
    id: str
    media_id: str
    author_id: str
    author_name: str
    text: str
    created_at: float


class InstagramSandbox(ContainerSandbox):
    """A loopback Graph host with Instagram content publishing. Use as a context manager."""

    network: ClassVar[str] = "instagram"
    throttle_code, throttle_message = account_throttle(80002, "Instagram")
    buc_type: ClassVar[str] = "instagram"
    status_field: ClassVar[str] = "status_code"
    detail_field: ClassVar[str] = "status"
    text_field: ClassVar[str] = "caption"
    #: A reel is published as a VIDEO whose media_product_type is REELS.
    published_types: ClassVar[Mapping[str, str]] = {
        "IMAGE": "IMAGE",
        "CAROUSEL": "CAROUSEL_ALBUM",
        "REELS": "VIDEO",
    }
    user_node: ClassVar[str] = "IGUser"
    post_node: ClassVar[str] = "IGMedia"
    foreign_account_error = (10, "(#10) Application does not have permission for this action")
    figure_names: ClassVar[tuple[str, ...]] = FIGURES
    post_noun: ClassVar[str] = "media"
    own_edges: ClassVar[Edges] = {
        ("media", "POST"): lambda sandbox, call: sandbox._create_container(call),
        ("media", "GET"): lambda sandbox, call: sandbox.list_posts(call),
        ("media_publish", "POST"): lambda sandbox, call: sandbox.publish_container(
            call, quota=sandbox.publishing_window(call.principal), quota_total=sandbox.quota_total
        ),
        ("content_publishing_limit", "GET"): lambda sandbox, call: sandbox._publishing_limit(call),
    }
    post_edges: ClassVar[Edges] = {
        ("insights", "GET"): lambda sandbox, call, node: sandbox._insights(call, node),
        ("children", "GET"): lambda sandbox, call, node: sandbox._children(call, node),
        ("comments", "POST"): lambda sandbox, call, node: sandbox._post_comment(call, node),
        ("comments", "GET"): lambda sandbox, call, node: sandbox._list_comments(call, node),
    }
    min_aspect_ratio = switch(0.8)
    max_aspect_ratio = switch(1.91)
    max_caption_length = switch(2200)
    max_hashtags = switch(30)
    max_mentions = switch(20)
    max_carousel_items = switch(10)
    #: Whether ``DELETE /{ig-media-id}`` works (UNVERIFIED; historically it did not).
    allow_delete = switch(False)
    #: Off: insights answer "(#10) Not enough viewers for the media to show insights".
    insights_available = switch(True)
    #: On: insights answer an empty ``data`` array (data is delayed up to 48 hours).
    insights_delayed = switch(False)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._comments: dict[str, _Comment] = {}

    # --- control ------------------------------------------------------------------------------

    def comments(self, media_id: str | None = None) -> list[tuple[str, str, str]]:
        """(media id, author id, text) of every comment (under ``media_id``), oldest first."""
        with self._lock:
            return [
                (c.media_id, c.author_id, c.text)
                for c in self._comments.values()
                if media_id in (None, c.media_id)
            ]

    def comment_as(self, media_id: str, author_id: str, author_name: str, text: str) -> str:
        """Another account comments on ``media_id``; returns the comment's id."""
        with self._lock:
            comment = _Comment(
                self.new_id(17), media_id, author_id, author_name, text, self.clock()
            )
            self._comments[comment.id] = comment
        return comment.id

    def container_detail(self, container: Container, status: str) -> str | None:
        if status == "ERROR":
            return f"Error: {container.error}"
        return _STATUS_PROSE.get(status)

    def _delete(self, call: Call, post: Published) -> HttpResponse:
        if not self.allow_delete:
            return invalid("(#100) This media cannot be deleted through the API")
        with self._lock:
            post.deleted = True
        return json_response(200, {"success": True})

    # --- publishing ---------------------------------------------------------------------------

    def _create_container(self, call: Call) -> HttpResponse:
        user = call.principal
        media_type = (call.param("media_type") or "IMAGE").upper()
        caption = call.param("caption") or ""
        problem = self._caption_problem(caption)
        if problem is not None:
            return problem
        if media_type == "CAROUSEL":
            return self._create_carousel(call, caption)
        if media_type == "REELS":
            return self._create_reel(call, caption)
        if media_type != "IMAGE":
            return invalid(f"(#100) media_type {media_type} is not supported by the sandbox")
        alt = call.param("alt_text") or None
        media, reason = self.fetch_image(call.param("image_url"), alt)
        if media is None:
            return _download_error(reason or "")
        container = self.new_container(
            user,
            "IMAGE",
            {"caption": caption},
            [media],
            is_carousel_item=call.flag("is_carousel_item"),
        )
        return json_response(200, {"id": container.id})

    def _create_reel(self, call: Call, caption: str) -> HttpResponse:
        """A Reels container: ``video_url`` (downloaded and checked), ``share_to_feed``;
        transcoding keeps it IN_PROGRESS for :attr:`video_polls` status reads."""
        media, reason = self.fetch_video(call.param("video_url"), None)
        if media is None:
            return _download_error(reason or "")
        params = {"caption": caption, "share_to_feed": call.flag("share_to_feed", True)}
        container = self.new_container(
            call.principal, "REELS", params, [media], polls=self.video_polls
        )
        return json_response(200, {"id": container.id})

    def _create_carousel(self, call: Call, caption: str) -> HttpResponse:
        items = self.carousel_items(call)
        if any(self.container_status(c) in ("ERROR", "EXPIRED") for c in items):
            return invalid("(#100) A carousel item failed or expired; create it again")
        media = [m for c in items for m in c.media]
        children = [c.id for c in items]
        container = self.new_container(
            call.principal, "CAROUSEL", {"caption": caption}, media, children=children
        )
        return json_response(200, {"id": container.id})

    def _caption_problem(self, caption: str) -> HttpResponse | None:
        if len(caption.encode("utf-16-le")) // 2 > self.max_caption_length:
            return invalid(
                "(#100) The caption is too long",
                user_message=f"Captions may have at most {self.max_caption_length} characters.",
            )
        if len(_HASHTAG.findall(caption)) > self.max_hashtags:
            return invalid(
                "(#100) The caption has too many hashtags",
                user_message=f"Captions may have at most {self.max_hashtags} hashtags.",
            )
        if len(_MENTION.findall(caption)) > self.max_mentions:
            return invalid(
                "(#100) The caption has too many mentions",
                user_message=f"Captions may have at most {self.max_mentions} @-mentions.",
            )
        return None

    def _post_comment(self, call: Call, media_id: str) -> Routed:
        after = self.begin_create(call.principal)
        user = call.principal
        text = call.param("message") or ""
        with self._lock:
            media = self._posts.get(media_id)
            if media is None or media.deleted:
                return Routed(not_found(media_id, "post"), creates=True)
            if not text.strip():
                return Routed(invalid("(#100) The parameter message is required"), creates=True)
            problem = self._caption_problem(text)
            if problem is not None:
                return Routed(problem, creates=True)
            comment = _Comment(self.new_id(17), media_id, user.id, user.name, text, self.clock())
            self._comments[comment.id] = comment
        return self.created(json_response(200, {"id": comment.id}), after)

    def _list_comments(self, call: Call, media_id: str) -> HttpResponse:
        self.own_post(call, media_id)
        with self._lock:
            comments = sorted(
                (c for c in self._comments.values() if c.media_id == media_id),
                key=lambda c: (c.created_at, c.id),
                reverse=True,
            )
        fields = call.fields() or {"id": "", "text": "", "timestamp": ""}
        items = []
        for comment in comments:
            values: dict[str, Any] = {}
            for name in fields:
                if name == "id":
                    values["id"] = comment.id
                elif name == "text":
                    values["text"] = comment.text
                elif name == "timestamp":
                    values["timestamp"] = graph_time(comment.created_at)
                elif name == "username":
                    values["username"] = comment.author_name
                elif name == "from":
                    values["from"] = {"id": comment.author_id, "username": comment.author_name}
                else:
                    return nonexisting_field(name, "IGComment")
            items.append(values)
        return paginate(call, items, self.url)

    def _publishing_limit(self, call: Call) -> HttpResponse:
        used = self.publishing_window(call.principal).used(self.clock())
        fields = call.fields() or {"quota_usage": "", "config": ""}
        entry: dict[str, Any] = {}
        if "quota_usage" in fields:
            entry["quota_usage"] = used
        if "config" in fields:
            entry["config"] = {"quota_total": self.quota_total, "quota_duration": 86400}
        return json_response(200, {"data": [entry]})

    # --- reading ------------------------------------------------------------------------------

    def _post_fields(self, post: Published) -> dict[str, Any]:
        return {
            "like_count": post.figures.get("likes", 0),
            "comments_count": post.figures.get("comments", 0),
            "media_product_type": "REELS" if post.media_type == "VIDEO" else "FEED",
        }

    def _permalink(self, post: Published) -> str:
        return f"{self.url}/p/{post.shortcode}/"

    def _children(self, call: Call, node: str) -> HttpResponse:
        media = self.own_post(call, node)
        with self._lock:
            container = self._containers[media.container_id]
            data = [{"id": f"{media.id}{index}"} for index, _ in enumerate(container.children)]
        return json_response(200, {"data": data})

    def _insights(self, call: Call, node: str) -> HttpResponse:
        media = self.own_post(call, node)
        names = self.metric_names(call)
        for name in names:
            if name in RETIRED_METRICS:
                return invalid(
                    f"(#100) The Media Insights API does not support the {name} metric for "
                    "this media product type."
                )
            if name not in MEDIA_METRICS:
                allowed = ", ".join(sorted(MEDIA_METRICS))
                return invalid(f"(#100) metric must be one of the following values: {allowed}")
        if not names:
            return invalid("(#100) The parameter metric is required")
        if not self.insights_available:
            return graph_error(400, 10, "(#10) Not enough viewers for the media to show insights")
        if self.insights_delayed:
            return json_response(200, {"data": []})
        figures = dict(media.figures)
        figures["total_interactions"] = sum(
            figures.get(k, 0) for k in ("likes", "comments", "saved", "shares")
        )
        data = [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": figures.get(name, 0)}],
                "title": name.replace("_", " ").capitalize(),
                "description": f"Lifetime {name}",
                "id": f"{media.id}/insights/{name}/lifetime",
            }
            for name in names
        ]
        return json_response(200, {"data": data})

    def _user_fields(self, user: Principal) -> dict[str, Any]:
        return {
            "followers_count": user.followers,
            "media_count": sum(
                1 for m in self._posts.values() if m.owner is user and not m.deleted
            ),
        }


def _download_error(reason: str) -> HttpResponse:
    if reason == "too large":
        return graph_error(
            400,
            36000,
            "The image size is too large.",
            subcode=2207004,
            transient=False,
            user_title="Image size too large",
            user_message="The image is too large to download. It should be less than 8 MiB.",
        )
    if reason.startswith("aspect ratio"):
        return graph_error(
            400,
            36003,
            "The aspect ratio is not supported.",
            subcode=2207009,
            transient=False,
            user_title="Aspect ratio not supported",
            user_message=f"The submitted image with {reason} cannot be published. Please submit "
            "an image with a valid aspect ratio.",
        )
    return graph_error(
        400,
        9004,
        "Media download has failed. The media URI doesn't meet our requirements.",
        subcode=2207052,
        transient=False,
        user_title="Media download failed",
        user_message=reason,
    )
