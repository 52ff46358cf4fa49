"""A Facebook Page on loopback: the Pages part of the Graph API as channels.md §5 describes it.

What it implements (on top of :mod:`campaign_scheduler.sandbox._graph`):

* ``POST /{page-id}/feed`` (``message``, ``link``, ``attached_media``) → ``{"id":
  "{page-id}_{post-id}"}``; an empty post, a message over :attr:`max_message_length`
  (63 206, UNVERIFIED) and, if :attr:`refuse_duplicates`, a message equal to the Page's last
  post (code 506, UNVERIFIED) are refused;
* ``POST /{page-id}/photos`` (multipart ``source`` or ``url``, ``caption``/``message``,
  ``alt_text_custom``, ``published``) → ``{"id", "post_id"}`` (``post_id`` only if
  :attr:`photo_post_id`, UNVERIFIED); unpublished photos for ``attached_media`` and comments;
* ``POST /{post-id}/comments`` (``message``, ``attachment_id``): the Page comments on a post
  (a message over :attr:`max_comment_length`, 8000, UNVERIFIED, is refused);
* ``GET /{page-id}/feed`` (with visitor posts, see :meth:`add_visitor_post`),
  ``/published_posts`` and ``/posts``: ``fields``, ``since``, ``until``, ``limit``, ``after``;
  ``GET /{post-id}/comments``;
* ``GET /{id}`` of a post, comment, photo or Page with ``fields`` (``permalink_url``,
  ``shares`` — left out at zero if :attr:`omit_zero_shares`, UNVERIFIED —,
  ``reactions.summary(total_count)``, ``comments.summary(total_count)``, …); unknown fields
  are refused like Graph does;
* ``GET /{post-id}/insights?metric=…``: the names in :attr:`insight_metrics`
  (``post_media_view`` is UNVERIFIED); deprecated impressions metrics are refused (code 100);
* ``DELETE /{id}`` → ``{"success": true}``; ``GET /me`` and ``GET /{page-id}``;
* throttling with code 80001 and ``X-Business-Use-Case-Usage`` of type ``pages``.

* ``POST /{page-id}/videos`` (multipart ``source``, ``description``) → ``{"id": video-id}``;
  the post exists at once; ``GET /{video-id}?fields=status,post_id`` answers
  ``video_status`` "processing" for :attr:`video_polls` reads, then "ready" with the
  ``post_id`` (or "error", see :meth:`fail_video_processing`);

Not modelled: scheduled and unpublished feed posts, targeting, resumable video uploads, albums, user tokens and
``/me/accounts``, app secrets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.sandbox._base import Answer
from campaign_scheduler.sandbox._graph import (
    Call,
    Edges,
    GraphMedia,
    GraphPost,
    GraphSandbox,
    Principal,
    Routed,
    account_throttle,
    graph_error,
    graph_time,
    invalid,
    nonexisting_field,
    not_found,
    paginate,
    switch,
    time_param,
    unknown_path,
)
from campaign_scheduler.sandbox._server import HttpResponse, UploadedFile, json_response

#: Impressions-family metrics Meta retired in 2025 (channels.md §5).
DEPRECATED_METRICS = frozenset(
    {
        "post_impressions",
        "post_impressions_unique",
        "post_impressions_paid",
        "post_impressions_organic",
        "post_impressions_viral",
        "post_engaged_users",
    }
)
FIGURES = ("reactions", "shares", "comments", "clicks", "views", "reach")
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 1024 * 1024 * 1024  # a non-resumable upload to /{page-id}/videos: 1 GB


@dataclass
class _Photo:
    id: str
    page: Principal
    media: GraphMedia
    caption: str
    published: bool
    created_at: float
    post_id: str | None = None
    used: bool = False


@dataclass
class _Video:
    """A video uploaded to the Page (``POST /{page-id}/videos``) and the post it makes."""

    id: str
    page: Principal
    media: GraphMedia
    post: _Object
    polls_left: int  # status reads answered "processing"
    failed: bool = False

    @property
    def status(self) -> str:
        if self.polls_left > 0:
            return "processing"
        return "error" if self.failed else "ready"


@dataclass
class _Object:
    """A post on the Page's feed or a comment."""

    id: str
    page: Principal
    author_id: str
    author_name: str
    kind: str  # status, link, photo, album, comment
    message: str
    link: str | None
    photos: list[_Photo]
    parent: _Object | None
    created_at: float
    deleted: bool = False
    figures: dict[str, int] = field(default_factory=dict)
    video: GraphMedia | None = None

    @property
    def object_part(self) -> str:
        return self.id.split("_", 1)[-1]


class FacebookSandbox(GraphSandbox):
    """A loopback Graph host with Facebook Pages. Use as a context manager."""

    network: ClassVar[str] = "facebook"
    throttle_code, throttle_message = account_throttle(80001, "Page")
    buc_type: ClassVar[str] = "pages"
    figure_names: ClassVar[tuple[str, ...]] = FIGURES
    #: Refuse a message equal to the Page's newest post (code 506; UNVERIFIED).
    refuse_duplicates = switch(True)
    #: Longest message accepted (UNVERIFIED).
    max_message_length = switch(63206)
    #: The longest comment ``message`` (8000, UNVERIFIED: the web form's limit).
    max_comment_length = switch(8000)
    #: ``POST /photos`` answers ``post_id`` besides the photo ``id`` (UNVERIFIED).
    photo_post_id = switch(True)
    #: Status reads a video answers "processing" before "ready".
    video_polls = switch(2)
    #: Leave ``shares`` out of a post nobody shared (commonly reported; UNVERIFIED).
    omit_zero_shares = switch(True)
    #: Post insights metrics that exist (``post_media_view`` is UNVERIFIED).
    insight_metrics = switch(
        [
            "post_media_view",
            "post_total_media_view_unique",
            "post_clicks",
            "post_reactions_by_type_total",
        ]
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._posts: dict[str, _Object] = {}
        self._photos: dict[str, _Photo] = {}
        self._videos: dict[str, _Video] = {}

    # --- control ------------------------------------------------------------------------------

    def add_page(self, name: str, *, page_id: str | None = None, **more: Any) -> tuple[str, str]:
        """Create the Page ``name`` (or reuse it) with a Page token: ``(page_id, token)``;
        ``more``: ``token``, ``followers`` (see :meth:`add_account`)."""
        return self.add_account(name, account_id=page_id, **more)

    def new_account_id(self) -> str:
        return str(100000000000 + next(self._ids))

    def add_visitor_post(self, page_id: str, text: str, *, author: str = "Erika Muster") -> str:
        """A post by someone else on the Page's feed (it shows in ``/feed``, not in
        ``/published_posts``); returns its id."""
        with self._lock:
            page = self._principals[page_id]
            post = _Object(
                id=f"{page.id}_{self.new_id(15)}",
                page=page,
                author_id=self.new_id(15),
                author_name=author,
                kind="status",
                message=text,
                link=None,
                photos=[],
                parent=None,
                created_at=self.clock(),
            )
            self._posts[post.id] = post
            return post.id

    def _lists(self, post: _Object, owner_id: str | None) -> bool:
        """Posts and comments of the Page (or all Pages); visitor posts are left out."""
        return post.author_id == post.page.id and owner_id in (None, post.page.id)

    # --- routing ------------------------------------------------------------------------------

    def _dispatch(self, call: Call) -> Routed:
        parts, method = call.parts, call.method
        page = call.principal
        if parts == ["me"] and method == "GET":
            return Routed(self._page_entity(call, page))
        if len(parts) == 1:
            return Routed(self._node(call, parts[0]))
        if len(parts) != 2:
            return Routed(unknown_path(parts))
        return self._edge(call, *parts)

    def _node(self, call: Call, node: str) -> HttpResponse:
        with self._lock:
            if node in self._principals:
                if call.method != "GET":
                    return not_found(node, call.method.lower())
                return self._page_entity(call, self._principals[node])
            photo = self._photos.get(node)
            obj = self._posts.get(node)
            video = self._videos.get(node)
        if video is not None and video.page is call.principal and call.method == "GET":
            return self._video_entity(call, video)
        if call.method == "DELETE":
            return self._delete(call, node, obj, photo)
        if call.method != "GET":
            return not_found(node, call.method.lower())
        if obj is not None and not obj.deleted:
            return self._entity(call, obj)
        if photo is not None and photo.page is call.principal:
            return self._photo_entity(call, photo)
        return not_found(node)

    # --- creating -----------------------------------------------------------------------------

    def _post_feed(self, call: Call) -> Routed:
        after = self.begin_create(call.principal)
        page = call.principal
        message = call.param("message") or ""
        link = call.param("link") or None
        if not call.flag("published", default=True):
            return Routed(invalid("(#100) The sandbox publishes posts at once (published=true)"))
        try:
            attached = _attached_media(call.params.get("attached_media"))
        except ValueError:
            return Routed(invalid("(#100) param attached_media must be an array of objects"))
        if not message.strip() and link is None and not attached:
            return Routed(invalid("(#100) Missing message or attachment"))
        problem = self._message_problem(page, message)
        if problem is not None:
            return Routed(problem)
        if link is not None and urlsplit(link).scheme not in ("http", "https"):
            return Routed(invalid("(#100) The link must be an http(s) URL"))
        with self._lock:
            photos = [self._photos.get(photo_id) for photo_id in attached]
            if any(p is None or p.page is not page or p.published or p.used for p in photos):
                return Routed(invalid("(#100) param attached_media has an invalid media_fbid"))
            chosen = [p for p in photos if p is not None]
            kind = "album" if chosen else ("link" if link else "status")
            post = self._new_post(page, kind, message, link, chosen)
        return self.created(json_response(200, {"id": post.id}), after)

    def _post_photo(self, call: Call) -> Routed:
        published = call.flag("published", default=True)
        after = None
        if published:
            after = self.begin_create(call.principal)
        media, error = self._photo_media(call)
        if error is not None:
            return Routed(error, creates=published)
        assert media is not None
        page = call.principal
        caption = call.param("caption") or call.param("message") or ""
        if published:
            problem = self._message_problem(page, caption)
            if problem is not None:
                return Routed(problem, creates=True)
        with self._lock:
            photo = _Photo(self.new_id(15), page, media, caption, published, self.clock())
            self._photos[photo.id] = photo
            if not published:
                return Routed(json_response(200, {"id": photo.id}))
            post = self._new_post(page, "photo", caption, None, [photo], post_id=photo.id)
            photo.post_id = post.id
            body = {"id": photo.id}
            if self.photo_post_id:
                body["post_id"] = post.id
        return self.created(json_response(200, body), after)

    def fail_video_processing(self, count: int = 1) -> None:
        """The next ``count`` uploaded videos end in ``video_status`` "error"."""
        self._fail_processing(count)

    def _post_video(self, call: Call) -> Routed:
        """A video post: multipart ``source`` (an MP4/MOV file, at most 1 GB) with
        ``description``. The call creates the post; the video is "processing" for
        :attr:`video_polls` status reads, then "ready" (or "error"), and only a ready video
        names its ``post_id``."""
        after = self.begin_create(call.principal)
        upload = call.params.get("source")
        if not isinstance(upload, UploadedFile):
            return Routed(graph_error(400, 352, "(#352) Requires video file"), creates=True)
        if upload.content[4:8] != b"ftyp":
            return Routed(
                graph_error(
                    400,
                    352,
                    "(#352) Sorry, the video file you selected is in a format "
                    "that we don't support.",
                ),
                creates=True,
            )
        if len(upload.content) > MAX_VIDEO_BYTES:
            return Routed(invalid("(#100) The video is larger than 1 GB"), creates=True)
        page = call.principal
        description = call.param("description") or ""
        problem = self._message_problem(page, description)
        if problem is not None:
            return Routed(problem, creates=True)
        media = GraphMedia(upload.filename, None, upload.content_type, len(upload.content))
        with self._lock:
            video_id = self.new_id(15)
            post = self._new_post(page, "video", description, None, [], post_id=video_id)
            post.video = media
            fails = self._processing_fails()
            self._videos[video_id] = _Video(video_id, page, media, post, self.video_polls, fails)
        return self.created(json_response(200, {"id": video_id}), after)

    def _video_entity(self, call: Call, video: _Video) -> HttpResponse:
        fields = call.fields() or {"id": ""}
        with self._lock:
            status = video.status
            if video.polls_left > 0 and "status" in fields:
                video.polls_left -= 1
        values: dict[str, Any] = {"id": video.id}
        for name in fields:
            if name == "status":
                progress = 100 if status == "ready" else 50
                values[name] = {"video_status": status, "processing_progress": progress}
            elif name == "post_id":
                if status == "ready":
                    values[name] = video.post.id
            elif name == "description":
                if video.post.message:
                    values[name] = video.post.message
            elif name == "permalink_url":
                values[name] = f"/{video.page.id}/videos/{video.id}/"
            elif name == "created_time":
                values[name] = graph_time(video.post.created_at)
            elif name != "id":
                return nonexisting_field(name, "Video")
        return json_response(200, values)

    def _photo_media(self, call: Call) -> tuple[GraphMedia | None, HttpResponse | None]:
        alt = call.param("alt_text_custom") or None
        upload = call.params.get("source")
        if isinstance(upload, UploadedFile):
            info = image_info(upload.content)
            if info is None:
                return None, graph_error(400, 324, "(#324) Missing or invalid image file")
            if info.size > MAX_PHOTO_BYTES:
                return None, invalid("(#100) The image is larger than 10 MB")
            return GraphMedia(upload.filename, alt, info.content_type, info.size), None
        url = call.param("url")
        if url:
            media, reason = self.fetch_image(url, alt)
            if media is None:
                return None, invalid(f"(#100) The photo could not be fetched: {reason}")
            return media, None
        return None, graph_error(400, 324, "(#324) Requires upload file")

    def _post_comment(self, call: Call, parent_id: str) -> Routed:
        after = self.begin_create(call.principal)
        page = call.principal
        message = call.param("message") or ""
        attachment_id = call.param("attachment_id")
        with self._lock:
            parent = self._posts.get(parent_id)
            if parent is None or parent.deleted:
                return Routed(not_found(parent_id, "post"), creates=True)
            photos: list[_Photo] = []
            if attachment_id:
                photo = self._photos.get(attachment_id)
                if photo is None or photo.page is not page or photo.published or photo.used:
                    return Routed(invalid("(#100) Invalid attachment_id"), creates=True)
                photo.used = True
                photos.append(photo)
            if not message.strip() and not photos:
                return Routed(invalid("(#100) Missing message or attachment"), creates=True)
            if len(message) > self.max_comment_length:
                return Routed(
                    invalid(
                        f"(#100) The comment is longer than {self.max_comment_length} characters"
                    ),
                    creates=True,
                )
            root = parent
            while root.parent is not None:
                root = root.parent
            comment = _Object(
                id=f"{root.object_part}_{self.new_id(15)}",
                page=page,
                author_id=page.id,
                author_name=page.name,
                kind="comment",
                message=message,
                link=None,
                photos=photos,
                parent=parent,
                created_at=self.clock(),
            )
            self._posts[comment.id] = comment
        return self.created(json_response(200, {"id": comment.id}), after)

    def _message_problem(self, page: Principal, message: str) -> HttpResponse | None:
        if len(message) > self.max_message_length:
            return invalid(
                f"(#100) The message is longer than {self.max_message_length} characters"
            )
        if self.refuse_duplicates and message.strip():
            with self._lock:
                own = [
                    o
                    for o in self._posts.values()
                    if o.page is page
                    and o.author_id == page.id
                    and o.parent is None
                    and not o.deleted
                ]
            if own and own[-1].message.strip() == message.strip():
                return graph_error(400, 506, "(#506) Duplicate status message")
        return None

    def _new_post(
        self,
        page: Principal,
        kind: str,
        message: str,
        link: str | None,
        photos: list[_Photo],
        *,
        post_id: str | None = None,
    ) -> _Object:
        post = _Object(
            id=f"{page.id}_{post_id or self.new_id(15)}",
            page=page,
            author_id=page.id,
            author_name=page.name,
            kind=kind,
            message=message,
            link=link,
            photos=photos,
            parent=None,
            created_at=self.clock(),
        )
        for photo in photos:
            photo.used = True
        self._posts[post.id] = post
        return post

    # --- reading ------------------------------------------------------------------------------

    def _list_posts(self, call: Call, *, include_visitors: bool) -> HttpResponse:
        page = call.principal
        since = time_param(call.param("since"))
        until = time_param(call.param("until"))
        with self._lock:
            posts = [
                o
                for o in self._posts.values()
                if o.page is page
                and o.parent is None
                and not o.deleted
                and (include_visitors or o.author_id == page.id)
                and (since is None or o.created_at >= since)
                and (until is None or o.created_at <= until)
            ]
            posts.sort(key=lambda o: (o.created_at, int(o.object_part)), reverse=True)
            fields = call.fields() or {"created_time": "", "message": "", "id": ""}
            items = [self._fields(o, fields) for o in posts]
        return paginate(call, items, self.url)

    def _list_comments(self, call: Call, parent_id: str) -> HttpResponse:
        with self._lock:
            parent = self._posts.get(parent_id)
            if parent is None or parent.deleted:
                return not_found(parent_id)
            flat = call.param("filter") == "stream"
            comments = [
                o
                for o in self._posts.values()
                if o.kind == "comment"
                and not o.deleted
                and (o.parent is parent or (flat and _descends(o, parent)))
            ]
            newest_first = call.param("order") == "reverse_chronological"
            comments.sort(key=lambda o: (o.created_at, int(o.object_part)), reverse=newest_first)
            fields = call.fields() or {"created_time": "", "message": "", "id": "", "from": ""}
            items = [self._fields(o, fields) for o in comments]
        return paginate(call, items, self.url)

    def _entity(self, call: Call, obj: _Object) -> HttpResponse:
        fields = call.fields() or {"created_time": "", "message": "", "id": ""}
        with self._lock:
            return json_response(200, self._fields(obj, fields))

    def _fields(self, obj: _Object, fields: dict[str, str]) -> dict[str, Any]:
        node = "Comment" if obj.kind == "comment" else "PagePost"
        values: dict[str, Any] = {"id": obj.id}
        for name, modifiers in fields.items():
            if name == "id":
                continue
            if name == "message":
                if obj.message:
                    values["message"] = obj.message
            elif name == "created_time":
                values[name] = graph_time(obj.created_at)
            elif name == "from":
                values[name] = {"name": obj.author_name, "id": obj.author_id}
            elif name == "permalink_url":
                values[name] = self._permalink(obj)
            elif name == "comments" and node == "PagePost":
                values[name] = self._comments_edge(obj, modifiers)
            elif name == "reactions":
                values[name] = _summary_edge(obj.figures.get("reactions", 0), modifiers)
            elif name == "shares" and node == "PagePost":
                shares = obj.figures.get("shares", 0)
                if shares or not self.omit_zero_shares:
                    values[name] = {"count": shares}
            elif name in ("like_count", "comment_count") and node == "Comment":
                figure = "reactions" if name == "like_count" else "comments"
                replies = sum(1 for o in self._posts.values() if o.parent is obj and not o.deleted)
                values[name] = obj.figures.get(figure, 0) + (replies if figure == "comments" else 0)
            elif name == "parent" and node == "Comment":
                if obj.parent is not None and obj.parent.kind == "comment":
                    values[name] = {"id": obj.parent.id}
            elif name == "link" and node == "PagePost":
                if obj.link:
                    values[name] = obj.link
            elif name == "status_type" and node == "PagePost":
                values[name] = {
                    "status": "mobile_status_update",
                    "link": "shared_story",
                    "photo": "added_photos",
                    "album": "added_photos",
                }[obj.kind]
            elif name == "is_published" and node == "PagePost":
                values[name] = True
            elif name == "attachments" or name == "attachment":
                if obj.photos:
                    values[name] = _attachments(obj.photos, single=name == "attachment")
            else:
                raise Answer(nonexisting_field(name, node))
        return values

    def _comments_edge(self, obj: _Object, modifiers: str) -> dict[str, Any]:
        real = sum(
            1
            for o in self._posts.values()
            if o.kind == "comment" and o.parent is obj and not o.deleted
        )
        edge = _summary_edge(real + obj.figures.get("comments", 0), modifiers)
        if "summary" in edge:
            edge["summary"].update(order="ranked", can_comment=True)
        return edge

    def _permalink(self, obj: _Object) -> str:
        if obj.kind != "comment":
            return f"{self.url}/{obj.page.id}/posts/{obj.object_part}"
        root = obj
        while root.parent is not None:
            root = root.parent
        return f"{self.url}/{obj.page.id}/posts/{root.object_part}?comment_id={obj.object_part}"

    def _photo_entity(self, call: Call, photo: _Photo) -> HttpResponse:
        fields = call.fields() or {"created_time": "", "id": ""}
        values: dict[str, Any] = {"id": photo.id}
        for name in fields:
            if name == "alt_text_custom":
                if photo.media.alt:
                    values[name] = photo.media.alt
            elif name == "page_story_id":
                if photo.post_id:
                    values[name] = photo.post_id
            elif name == "created_time":
                values[name] = graph_time(photo.created_at)
            elif name == "name":
                if photo.caption:
                    values[name] = photo.caption
            elif name != "id":
                return nonexisting_field(name, "Photo")
        return json_response(200, values)

    def _page_entity(self, call: Call, page: Principal) -> HttpResponse:
        fields = call.fields() or {"name": "", "id": ""}
        values: dict[str, Any] = {"id": page.id}
        for name in fields:
            if name == "name":
                values[name] = page.name
            elif name in ("followers_count", "fan_count"):
                values[name] = page.followers
            elif name == "link":
                values[name] = f"{self.url}/{page.id}"
            elif name == "category":
                values[name] = "Government organization"
            elif name != "id":
                return nonexisting_field(name, "Page")
        return json_response(200, values)

    def _insights(self, call: Call, node: str) -> HttpResponse:
        with self._lock:
            obj = self._posts.get(node)
        if obj is None or obj.deleted or obj.page is not call.principal:
            return not_found(node)
        if obj.kind == "comment":
            return nonexisting_field("insights", "Comment")
        raw = call.params.get("metric") or ""
        names = raw if isinstance(raw, list) else str(raw).split(",")
        names = [n.strip() for n in names if n.strip()]
        if not names or any(
            n in DEPRECATED_METRICS or n not in self.insight_metrics for n in names
        ):
            return invalid("(#100) The value must be a valid insights metric")
        values = {
            "post_media_view": obj.figures.get("views", 0),
            "post_total_media_view_unique": obj.figures.get("reach", 0),
            "post_clicks": obj.figures.get("clicks", 0),
        }
        data = []
        for name in names:
            reactions = obj.figures.get("reactions", 0)
            value: Any = (
                ({"like": reactions} if reactions else {})
                if name == "post_reactions_by_type_total"
                else values.get(name, 0)
            )
            data.append(
                {
                    "name": name,
                    "period": "lifetime",
                    "values": [{"value": value}],
                    "title": name.replace("_", " ").capitalize(),
                    "description": f"Lifetime: {name}",
                    "id": f"{obj.id}/insights/{name}/lifetime",
                }
            )
        return json_response(200, {"data": data})

    def _delete(
        self, call: Call, node: str, obj: _Object | None, photo: _Photo | None
    ) -> HttpResponse:
        with self._lock:
            if obj is not None and not obj.deleted and obj.page is call.principal:
                obj.deleted = True
                return json_response(200, {"success": True})
            if photo is not None and photo.page is call.principal and node in self._photos:
                del self._photos[node]
                if photo.post_id and photo.post_id in self._posts:
                    self._posts[photo.post_id].deleted = True
                return json_response(200, {"success": True})
        return not_found(node, "delete")

    def _snapshot(self, obj: _Object) -> GraphPost:
        media = tuple(p.media for p in obj.photos) + ((obj.video,) if obj.video else ())
        return self._post_snapshot(obj, obj.page, obj.parent, text=obj.message, media=media)

    def _feed(self, call: Call) -> HttpResponse:
        return self._list_posts(call, include_visitors=True)

    def _published(self, call: Call) -> HttpResponse:
        return self._list_posts(call, include_visitors=False)

    own_edges: ClassVar[Edges] = {
        ("feed", "POST"): _post_feed,
        ("photos", "POST"): _post_photo,
        ("videos", "POST"): _post_video,
        ("feed", "GET"): _feed,
        ("published_posts", "GET"): _published,
        ("posts", "GET"): _published,
    }
    post_edges: ClassVar[Edges] = {
        ("comments", "POST"): _post_comment,
        ("comments", "GET"): _list_comments,
        ("insights", "GET"): _insights,
    }


# --- helpers ----------------------------------------------------------------------------------


def _attached_media(value: Any) -> list[str]:
    """``attached_media`` as JSON text or form keys ``attached_media[]`` -> photo ids."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        parsed = json.loads(item) if isinstance(item, str) else item
        for entry in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(entry, dict) or "media_fbid" not in entry:
                raise ValueError("not a media_fbid object")
            ids.append(str(entry["media_fbid"]))
    return ids


def _summary_edge(total: int, modifiers: str) -> dict[str, Any]:
    edge: dict[str, Any] = {"data": []}
    if re.search(r"summary\((true|1|total_count)\)", modifiers):
        edge["summary"] = {"total_count": total}
    return edge


def _attachments(photos: list[_Photo], *, single: bool) -> dict[str, Any]:
    items = [
        {"type": "photo", "target": {"id": p.id}, "description": p.media.alt or ""} for p in photos
    ]
    if single:
        return items[0]
    return {"data": items}


def _descends(obj: _Object, ancestor: _Object) -> bool:
    parent = obj.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
