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
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from campaign_scheduler.sandbox._base import Answer
from campaign_scheduler.sandbox._graph import (
    Call,
    Container,
    ContainerSandbox,
    GraphMedia,
    GraphPost,
    Principal,
    Routed,
    Window,
    graph_error,
    graph_time,
    invalid,
    moment,
    nonexisting_field,
    not_found,
    paginate,
    time_param,
    unknown_path,
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


@dataclass
class _Thread:
    id: str
    owner: Principal
    media_type: str  # TEXT_POST, IMAGE, CAROUSEL_ALBUM
    text: str
    media: list[GraphMedia]
    reply_to: _Thread | None
    shortcode: str
    created_at: float
    container_id: str
    deleted: bool = False
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def root(self) -> _Thread:
        post = self
        while post.reply_to is not None:
            post = post.reply_to
        return post


class ThreadsSandbox(ContainerSandbox):
    """A loopback Threads API host. Use as a context manager."""

    network: ClassVar[str] = "threads"
    throttle_code: ClassVar[int] = 4
    throttle_message: ClassVar[str] = "(#4) Application request limit reached"
    buc_type: ClassVar[str] = "threads"
    login_style: ClassVar[str] = "threads"
    status_field: ClassVar[str] = "status"
    detail_field: ClassVar[str] = "error_message"
    SWITCHES: ClassVar[dict[str, type]] = {
        **ContainerSandbox.SWITCHES,
        "max_text_length": int,
        "reply_quota_total": int,
        "delete_limit": int,
        "max_carousel_items": int,
        "insights_shape": str,
        "threads_edge_includes_replies": bool,
    }

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.quota_total = 250
        self.reply_quota_total = 1000
        self.delete_limit = 100
        self.max_text_length = 500
        self.max_carousel_items = 20
        #: ``"values"``: ``{"values": [{"value": n}]}``; ``"total_value"``: ``{"total_value":
        #: {"value": n}}`` (the documented shape is UNVERIFIED).
        self.insights_shape = "values"
        #: Whether ``/{user-id}/threads`` lists replies too (UNVERIFIED; off).
        self.threads_edge_includes_replies = False
        self._threads: dict[str, _Thread] = {}
        self._deletes: dict[str, Window] = {}

    # --- control ------------------------------------------------------------------------------

    def statuses(self, user_id: str | None = None) -> list[GraphPost]:
        """Every published post and reply (also deleted ones), oldest first."""
        with self._lock:
            return [
                self._snapshot(t) for t in self._threads.values() if user_id in (None, t.owner.id)
            ]

    def set_engagement(self, post_id: str, **figures: int) -> None:
        """Set ``views``, ``likes``, ``replies``, ``reposts``, ``quotes``, ``shares``."""
        unknown = set(figures) - set(FIGURES)
        if unknown:
            raise ValueError(f"unknown figure(s): {', '.join(sorted(unknown))}")
        with self._lock:
            thread = self._threads.get(post_id)
            if thread is None:
                raise KeyError(f"no post {post_id}")
            thread.figures.update(figures)

    # --- routing ------------------------------------------------------------------------------

    def _dispatch(self, call: Call) -> Routed:
        parts, method = call.parts, call.method
        user = call.principal
        if len(parts) == 1:
            node = user.id if parts[0] == "me" else parts[0]
            if node in self._principals:
                if node != user.id or method != "GET":
                    return Routed(not_found(node, method.lower()))
                return Routed(self._user_entity(call, user))
            return Routed(self._node(call, node))
        if len(parts) != 2:
            return Routed(unknown_path(parts))
        node, edge = parts
        node = user.id if node == "me" else node
        if node in self._principals:
            if node != user.id:
                return Routed(graph_error(403, 10, "(#10) Application does not have permission"))
            if edge == "threads" and method == "POST":
                return Routed(self._create_container(call))
            if edge == "threads" and method == "GET":
                return Routed(self._list(call, replies=self.threads_edge_includes_replies))
            if edge == "replies" and method == "GET":
                return Routed(self._list(call, replies=True, only_replies=True))
            if edge == "threads_publish" and method == "POST":
                return self._publish(call)
            if edge == "threads_publishing_limit" and method == "GET":
                return Routed(self._publishing_limit(call))
            if edge == "threads_insights" and method == "GET":
                return Routed(self._user_insights(call))
            return Routed(unknown_path(parts))
        if edge == "insights" and method == "GET":
            return Routed(self._insights(call, node))
        return Routed(unknown_path(parts))

    def _node(self, call: Call, node: str) -> HttpResponse:
        with self._lock:
            container = self._containers.get(node)
            thread = self._threads.get(node)
        if container is not None and call.method == "GET":
            return self.get_container(call, container)
        if thread is None or thread.deleted:
            return not_found(node, call.method.lower())
        if call.method == "DELETE":
            return self._delete(call, thread)
        if call.method != "GET":
            return not_found(node, call.method.lower())
        with self._lock:
            return json_response(200, self._fields(thread, call.fields() or {"id": ""}))

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
                parent = self._threads.get(reply_to)
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
        ids = [c.strip() for c in (call.param("children") or "").split(",") if c.strip()]
        if not 2 <= len(ids) <= self.max_carousel_items:
            return invalid(
                f"(#100) A carousel needs 2 to {self.max_carousel_items} children, not {len(ids)}"
            )
        with self._lock:
            children = [self._containers.get(i) for i in ids]
        if any(
            c is None or c.owner is not call.principal or not c.is_carousel_item for c in children
        ):
            return invalid("(#100) The parameter children has an invalid carousel item id")
        items = [c for c in children if c is not None]
        media = [m for c in items for m in c.media]
        error = next((c.error for c in items if c.error is not None), None)
        container = self.new_container(
            call.principal, "CAROUSEL", params, media, children=ids, error=error
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
            materialise=self._materialise,
        )

    def _materialise(self, container: Container) -> str:
        parent_id = container.params.get("reply_to_id")
        thread = _Thread(
            id=self.new_id(17),
            owner=container.owner,
            media_type=_TYPES[container.media_type],
            text=str(container.params.get("text") or ""),
            media=list(container.media),
            reply_to=self._threads.get(str(parent_id)) if parent_id else None,
            shortcode=secrets.token_urlsafe(8)[:11],
            created_at=self.clock(),
            container_id=container.id,
        )
        self._threads[thread.id] = thread
        return thread.id

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

    def _delete(self, call: Call, thread: _Thread) -> HttpResponse:
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
        with self._lock:
            items = [
                t
                for t in self._threads.values()
                if t.owner is call.principal
                and not t.deleted
                and (replies or t.reply_to is None)
                and (not only_replies or t.reply_to is not None)
                and (since is None or t.created_at >= since)
                and (until is None or t.created_at <= until)
            ]
            items.sort(key=lambda t: (t.created_at, int(t.id)), reverse=True)
            fields = call.fields() or {"id": ""}
            data = [self._fields(t, fields) for t in items]
        return paginate(call, data, self.url)

    def _fields(self, thread: _Thread, fields: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {"id": thread.id}
        for name in fields:
            if name == "text":
                if thread.text:
                    values[name] = thread.text
            elif name == "timestamp":
                values[name] = graph_time(thread.created_at)
            elif name == "permalink":
                values[name] = self._permalink(thread)
            elif name == "shortcode":
                values[name] = thread.shortcode
            elif name == "media_type":
                values[name] = thread.media_type
            elif name == "username":
                values[name] = thread.owner.name
            elif name == "is_reply":
                values[name] = thread.reply_to is not None
            elif name == "replied_to":
                if thread.reply_to is not None:
                    values[name] = {"id": thread.reply_to.id}
            elif name == "root_post":
                values[name] = {"id": thread.root.id}
            elif name == "alt_text":
                if thread.media_type in ("IMAGE", "VIDEO") and thread.media[0].alt:
                    values[name] = thread.media[0].alt
            elif name == "media_url":
                if thread.media_type == "IMAGE":
                    values[name] = thread.media[0].source
            elif name != "id":
                raise Answer(nonexisting_field(name, "ThreadsMedia"))
        return values

    def _permalink(self, thread: _Thread) -> str:
        return f"{self.url}/@{thread.owner.name}/post/{thread.shortcode}"

    def _insights(self, call: Call, node: str) -> HttpResponse:
        with self._lock:
            thread = self._threads.get(node)
        if thread is None or thread.deleted or thread.owner is not call.principal:
            return not_found(node)
        names = [n.strip() for n in (call.param("metric") or "").split(",") if n.strip()]
        if not names or any(n not in MEDIA_METRICS for n in names):
            return invalid(
                "(#100) metric must be one of the following values: " + ", ".join(MEDIA_METRICS)
            )
        figures = dict(thread.figures)
        real_replies = sum(
            1 for t in self._threads.values() if t.reply_to is thread and not t.deleted
        )
        figures["replies"] = figures.get("replies", 0) + real_replies
        data = [self._insight(name, figures.get(name, 0), thread.id, "lifetime") for name in names]
        return json_response(200, {"data": data})

    def _user_insights(self, call: Call) -> HttpResponse:
        names = [n.strip() for n in (call.param("metric") or "").split(",") if n.strip()]
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

    def _user_entity(self, call: Call, user: Principal) -> HttpResponse:
        fields = call.fields() or {"id": ""}
        values: dict[str, Any] = {"id": user.id}
        for name in fields:
            if name in ("username", "name"):
                values[name] = user.name
            elif name == "threads_biography":
                values[name] = ""
            elif name != "id":
                return nonexisting_field(name, "ThreadsUser")
        return json_response(200, values)

    def _snapshot(self, thread: _Thread) -> GraphPost:
        return GraphPost(
            id=thread.id,
            owner_id=thread.owner.id,
            text=thread.text,
            kind=thread.media_type,
            media=tuple(thread.media),
            reply_to=thread.reply_to.id if thread.reply_to is not None else None,
            link=None,
            created_at=moment(thread.created_at),
            permalink=self._permalink(thread),
            deleted=thread.deleted,
            container_id=thread.container_id,
        )

    def _log_download_failure(self, reason: str | None) -> None:
        _log.warning(
            "threads sandbox: image download failed (%s); the container ends in ERROR", reason
        )
