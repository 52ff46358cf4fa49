"""A Threads profile on loopback: the Threads API as channels.md §9 describes it.

What it implements (on top of :mod:`campaign_scheduler.sandbox._graph`):

* ``POST /{threads-user-id}/threads`` (also ``/me/threads``): containers of ``media_type``
  ``TEXT`` (``text`` required), ``IMAGE`` (``image_url``, downloaded and checked, with
  ``alt_text``), ``VIDEO`` (``video_url``, downloaded and checked to be an MP4/MOV, with
  ``alt_text``; a failed download ends in ERROR ``FAILED_DOWNLOADING_VIDEO``; processing keeps
  it IN_PROGRESS for :attr:`video_polls` reads), carousel items (``is_carousel_item``) and
  ``CAROUSEL`` (``children``, 2 to
  :attr:`max_carousel_items`); ``reply_to_id`` must name a published post. Text may have
  :attr:`max_text_length` characters counted as Threads documents it (:func:`text_length`:
  emoji by their UTF-8 bytes). Refusals use code 100 (wording UNVERIFIED);
* ``GET /{container-id}?fields=status,error_message``: ``IN_PROGRESS`` ×
  :attr:`container_polls`, ``FINISHED``, ``PUBLISHED``, ``ERROR`` (``error_message``; a failed
  image download says ``UNKNOWN``, UNVERIFIED), ``EXPIRED``;
* ``POST /{threads-user-id}/threads_publish`` (``creation_id``): :attr:`quota_total` posts
  (250) and :attr:`reply_quota_total` replies (1000) per moving 24 hours; ``GET
  /{threads-user-id}/threads_publishing_limit`` consistent with it (refusal codes UNVERIFIED,
  the Instagram ones are used);
* ``GET /{threads-user-id}/threads`` (top-level posts; replies too if
  :attr:`threads_edge_includes_replies`, UNVERIFIED) and ``/replies`` (the profile's replies):
  ``fields``, ``since``, ``until``, ``limit``, ``after``, newest first;
* ``GET /{media-id}`` with ``fields`` (``text``, ``timestamp``, ``permalink``, ``media_type``,
  ``alt_text``, ``is_reply``, ``replied_to``, ``root_post``, …);
* ``GET /{media-id}/insights?metric=views,likes,replies,reposts,quotes,shares`` in the shape
  :attr:`insights_shape` (``values`` or ``total_value``: UNVERIFIED) and ``GET
  /{threads-user-id}/threads_insights?metric=followers_count``;
* ``DELETE /{media-id}`` → ``{"success": true, "deleted_id": …}``, :attr:`delete_limit` (100)
  per day;
* ``GET /me``; throttling with code :attr:`throttle_code` (4; the real code is UNVERIFIED).

Not modelled: videos inside carousels' rules, quote posts, link attachments, topic tags, reply control, polls, the
one-step ``auto_publish_text`` (UNVERIFIED; refused here), keyword search, mentions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from campaign_scheduler.sandbox._graph import (
    Call,
    ContainerSandbox,
    Edges,
    GraphMedia,
    Principal,
    Published,
    Routed,
    Window,
    graph_error,
    invalid,
    nonexisting_field,
    not_found,
    switch,
    time_param,
)
from campaign_scheduler.sandbox._server import HttpResponse, json_response
from campaign_scheduler.sandbox._text import clusters, is_emoji

_log = logging.getLogger("campaign_scheduler.sandbox")

MEDIA_METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
FIGURES = MEDIA_METRICS
_TYPES = {"TEXT": "TEXT_POST", "IMAGE": "IMAGE", "VIDEO": "VIDEO", "CAROUSEL": "CAROUSEL_ALBUM"}


def text_length(text: str) -> int:
    """A post's length as Threads counts it (channels.md §9: 500 characters, "emojis count as
    their UTF-8 byte length"): an emoji counts its UTF-8 bytes, any other grapheme cluster 1."""
    return sum(len(c.encode("utf-8")) if is_emoji(c) else 1 for c in clusters(text))


class ThreadsSandbox(ContainerSandbox):
    """A loopback Threads API host. Use as a context manager."""

    network: ClassVar[str] = "threads"
    buc_type: ClassVar[str] = "threads"
    login_style: ClassVar[str] = "threads"
    status_field: ClassVar[str] = "status"
    detail_field: ClassVar[str] = "error_message"
    published_types: ClassVar[Mapping[str, str]] = _TYPES
    user_node: ClassVar[str] = "ThreadsUser"
    post_node: ClassVar[str] = "ThreadsMedia"
    posts_public: ClassVar[bool] = True
    figure_names: ClassVar[tuple[str, ...]] = FIGURES
    own_edges: ClassVar[Edges] = {
        ("threads", "POST"): lambda sandbox, call: sandbox._create_container(call),
        ("threads", "GET"): lambda sandbox, call: sandbox._list(
            call, replies=sandbox.threads_edge_includes_replies
        ),
        ("replies", "GET"): lambda sandbox, call: sandbox._list(
            call, replies=True, only_replies=True
        ),
        ("threads_publish", "POST"): lambda sandbox, call: sandbox._publish(call),
        ("threads_publishing_limit", "GET"): lambda sandbox, call: sandbox._publishing_limit(call),
        ("threads_insights", "GET"): lambda sandbox, call: sandbox._user_insights(call),
    }
    post_edges: ClassVar[Edges] = {
        ("insights", "GET"): lambda sandbox, call, node: sandbox._insights(call, node),
    }
    quota_total = switch(250)
    reply_quota_total = switch(1000)
    delete_limit = switch(100)
    max_text_length = switch(500)
    max_carousel_items = switch(20)
    #: ``"values"``: ``{"values": [{"value": n}]}``; ``"total_value"``: ``{"total_value":
    #: {"value": n}}`` (the documented shape is UNVERIFIED).
    insights_shape = switch("values")
    #: Whether ``/{user-id}/threads`` lists replies too (UNVERIFIED; off).
    threads_edge_includes_replies = switch(False)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._deletes: dict[str, Window] = {}

    # --- publishing ---------------------------------------------------------------------------

    def _create_container(self, call: Call) -> HttpResponse:
        user = call.principal
        media_type = (call.param("media_type") or "").upper()
        text = call.param("text") or ""
        if call.flag("auto_publish_text"):
            return invalid("(#100) auto_publish_text is not supported by the sandbox")
        if media_type not in _TYPES:
            return invalid(
                f"(#100) media_type must be TEXT, IMAGE, VIDEO or CAROUSEL, not {media_type!r}"
            )
        if text_length(text) > self.max_text_length:
            return invalid(
                f"(#100) The parameter text must be at most {self.max_text_length} characters"
            )
        reply_to = call.param("reply_to_id")
        if reply_to:
            with self._lock:
                parent = self._posts.get(reply_to)
            if parent is None or parent.deleted:
                return invalid("(#100) The parameter reply_to_id is not a valid post")
        params = {"text": text, "reply_to_id": reply_to}
        if media_type == "TEXT":
            if not text.strip():
                return invalid("(#100) The parameter text is required for TEXT posts")
            return json_response(200, {"id": self.new_container(user, "TEXT", params, []).id})
        if media_type == "CAROUSEL":
            return self._create_carousel(call, params)
        if media_type == "VIDEO":
            return self._create_video(call, params)
        alt = call.param("alt_text") or None
        media, reason = self.fetch_image(call.param("image_url"), alt)
        if media is None and not call.param("image_url"):
            return invalid("(#100) The parameter image_url is required for IMAGE posts")
        error = None
        if media is None:
            self._log_download_failure(reason)
            media, error = GraphMedia(call.param("image_url") or "", alt, None, None), "UNKNOWN"
        container = self.new_container(
            user,
            "IMAGE",
            params,
            [media],
            is_carousel_item=call.flag("is_carousel_item"),
            error=error,
        )
        return json_response(200, {"id": container.id})

    def _create_video(self, call: Call, params: dict[str, Any]) -> HttpResponse:
        """A VIDEO container: ``video_url`` downloaded and checked (a failure ends the
        container in ERROR with ``FAILED_DOWNLOADING_VIDEO``), ``alt_text``; IN_PROGRESS for
        :attr:`video_polls` status reads while it is processed."""
        url = call.param("video_url")
        if not url:
            return invalid("(#100) The parameter video_url is required for VIDEO posts")
        alt = call.param("alt_text") or None
        media, reason = self.fetch_video(url, alt)
        error = None
        if media is None:
            self._log_download_failure(reason)
            media, error = GraphMedia(url, alt, None, None), "FAILED_DOWNLOADING_VIDEO"
        container = self.new_container(
            call.principal,
            "VIDEO",
            params,
            [media],
            is_carousel_item=call.flag("is_carousel_item"),
            error=error,
            polls=self.video_polls,
        )
        return json_response(200, {"id": container.id})

    def _create_carousel(self, call: Call, params: dict[str, Any]) -> HttpResponse:
        items = self.carousel_items(call)
        media = [m for c in items for m in c.media]
        error = next((c.error for c in items if c.error is not None), None)
        children = [c.id for c in items]
        container = self.new_container(
            call.principal, "CAROUSEL", params, media, children=children, error=error
        )
        return json_response(200, {"id": container.id})

    def _publish(self, call: Call) -> Routed:
        creation_id = call.param("creation_id") or ""
        with self._lock:
            container = self._containers.get(creation_id)
        reply = container is not None and bool(container.params.get("reply_to_id"))
        return self.publish_container(
            call,
            quota=self.publishing_window(call.principal, "replies" if reply else "posts"),
            quota_total=self.reply_quota_total if reply else self.quota_total,
        )

    def _publishing_limit(self, call: Call) -> HttpResponse:
        now = self.clock()
        posts = self.publishing_window(call.principal, "posts").used(now)
        replies = self.publishing_window(call.principal, "replies").used(now)
        fields = call.fields() or {"quota_usage": "", "config": ""}
        entry: dict[str, Any] = {}
        for name in fields:
            if name == "quota_usage":
                entry[name] = posts
            elif name == "config":
                entry[name] = {"quota_total": self.quota_total, "quota_duration": 86400}
            elif name == "reply_quota_usage":
                entry[name] = replies
            elif name == "reply_config":
                entry[name] = {"quota_total": self.reply_quota_total, "quota_duration": 86400}
            elif name in ("delete_quota_usage", "delete_config"):
                continue
            else:
                return nonexisting_field(name, "ThreadsPublishingLimit")
        return json_response(200, {"data": [entry]})

    def _delete(self, call: Call, thread: Published) -> HttpResponse:
        if thread.owner is not call.principal:
            return not_found(thread.id, "delete")
        now = self.clock()
        with self._lock:
            window = self._deletes.setdefault(call.principal.id, Window(86400.0))
            if window.used(now) >= self.delete_limit:
                return graph_error(
                    400, 4, "(#4) Application request limit reached", subcode=None, transient=True
                )
            window.add(now)
            thread.deleted = True
        return json_response(200, {"success": True, "deleted_id": thread.id})

    # --- reading ------------------------------------------------------------------------------

    def _list(self, call: Call, *, replies: bool, only_replies: bool = False) -> HttpResponse:
        since = time_param(call.param("since"))
        until = time_param(call.param("until"))
        return self.list_posts(
            call,
            lambda t: (
                (replies or t.reply_to is None)
                and (not only_replies or t.reply_to is not None)
                and (since is None or t.created_at >= since)
                and (until is None or t.created_at <= until)
            ),
        )

    def _post_fields(self, post: Published) -> dict[str, Any]:
        return {
            "is_reply": post.reply_to is not None,
            "replied_to": None if post.reply_to is None else {"id": post.reply_to.id},
            "root_post": {"id": post.root.id},
        }

    def _permalink(self, thread: Published) -> str:
        return f"{self.url}/@{thread.owner.name}/post/{thread.shortcode}"

    def _insights(self, call: Call, node: str) -> HttpResponse:
        thread = self.own_post(call, node)
        names = self.metric_names(call)
        if not names or any(n not in MEDIA_METRICS for n in names):
            return invalid(
                "(#100) metric must be one of the following values: " + ", ".join(MEDIA_METRICS)
            )
        figures = dict(thread.figures)
        real_replies = sum(
            1 for t in self._posts.values() if t.reply_to is thread and not t.deleted
        )
        figures["replies"] = figures.get("replies", 0) + real_replies
        data = [self._insight(name, figures.get(name, 0), thread.id, "lifetime") for name in names]
        return json_response(200, {"data": data})

    def _user_insights(self, call: Call) -> HttpResponse:
        names = self.metric_names(call)
        if names != ["followers_count"]:
            return invalid("(#100) The sandbox answers metric=followers_count only")
        user = call.principal
        entry = {
            "name": "followers_count",
            "period": "day",
            "title": "followers_count",
            "description": "The number of followers.",
            "total_value": {"value": user.followers},
            "id": f"{user.id}/insights/followers_count/day",
        }
        return json_response(200, {"data": [entry]})

    def _insight(self, name: str, value: int, owner: str, period: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "period": period}
        if self.insights_shape == "total_value":
            entry["total_value"] = {"value": value}
        else:
            entry["values"] = [{"value": value}]
        entry.update(
            title=name, description=f"{name} of the post", id=f"{owner}/insights/{name}/{period}"
        )
        return entry

    def _user_fields(self, user: Principal) -> dict[str, Any]:
        return {"threads_biography": ""}

    def _log_download_failure(self, reason: str | None) -> None:
        _log.warning(
            "threads sandbox: image download failed (%s); the container ends in ERROR", reason
        )
