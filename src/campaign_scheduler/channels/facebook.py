"""Facebook Page: publish posts as a Page through the Graph API (channels.md §5).

Settings: ``page_id`` (the Page's numeric id), optional ``api_version`` (default
:data:`~campaign_scheduler.channels._graph.DEFAULT_GRAPH_VERSION`); secret ``token``, a Page
access token with ``pages_manage_posts`` and ``pages_read_engagement`` (``read_insights`` for
the views/reach/clicks figures, ``pages_manage_engagement`` for replies).

What is sent:

* text only: ``POST /{page-id}/feed`` with ``message`` and, when the text contains a URL,
  ``link`` (its first URL, which becomes the link preview);
* one image: ``POST /{page-id}/photos`` (multipart ``source``) with ``caption`` and the image's
  alt text as ``alt_text_custom`` (a parameter of Meta's generated SDK and a field of the Photo
  node; see docs/meta-graph.md);
* several images: each uploaded with ``published=false`` (and its alt text), then one
  ``POST /{page-id}/feed`` with ``attached_media``;
* a reply (``post.reply_to``): Pages have no threads, so a continuation is a comment of the
  Page on its own post, ``POST /{post-id}/comments`` (``attachment_id`` of an unpublished
  photo when it has an image);
* a draft's first comment (``post.comment_on``) is the same call on the post, text only.

The answer's id is ``{page-id}_{post-id}``; the permalink and creation time are read from the
post afterwards. Error codes map as in :mod:`campaign_scheduler.channels._graph`.

Recovery: Facebook has no idempotency key, so ``idempotency_window`` is ``None``. After a lost
answer :meth:`FacebookChannel.look_up` reads ``/{page-id}/feed`` (for a reply: the parent's
comments) back to ``since`` and takes the oldest post of the Page whose message equals the
text. A post with the same text published on purpose earlier is not matched because reading
stops at ``since``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from campaign_scheduler import errors
from campaign_scheduler.channels._graph import (
    GraphChannel,
    find_by_permalink,
    insight_values,
    read_receipt,
)
from campaign_scheduler.channels._http import count
from campaign_scheduler.channels.base import AccountSettings, Metrics
from campaign_scheduler.channels.catalog import MIB, MINUTE, MP4_OR_MOV, ChannelSpec, VideoLimits
from campaign_scheduler.channels.published import (
    PublishedAddressError,
    PublishedPart,
    digits,
    query_value,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_UTF16, TextRule, count_utf16_units

if TYPE_CHECKING:
    from collections.abc import Mapping

    from campaign_scheduler.channels.base import MediaFile, OutboundPost, Receipt


#: Post insights read by :meth:`FacebookChannel.fetch_metrics` -> the Metrics field they fill.
#: ``post_total_media_view_unique`` is the documented successor of the deprecated
#: ``post_impressions_unique``; ``post_media_view`` as the successor of ``post_impressions``
#: is UNVERIFIED (channels.md §5). A metric Meta refuses is left out (its figure is None).
POST_INSIGHTS = {
    "post_media_view": "views",
    "post_total_media_view_unique": "reach",
    "post_clicks": "clicks",
}
_URL = re.compile(r"https?://[^\s<>\"]+")
_POST_FIELDS = "id,message,created_time,from,permalink_url"


class FacebookChannel(GraphChannel):
    """Posts on one Facebook Page."""

    name = "facebook"
    spec = ChannelSpec.versioned(
        "Facebook",
        settings=("page_id",),
        default_base_url="https://graph.facebook.com",
        # Page videos, non-resumable upload (Meta's Video API): MP4 or MOV up to 1 GB and
        # 20 minutes; one video as its own post.
        video=VideoLimits(MP4_OR_MOV, max_bytes=1024 * MIB, max_seconds=20 * MINUTE),
        other_files=False,
    )
    text_rule = TextRule(UNIT_UTF16, count_utf16_units, 63206)
    #: A comment's ``message``: 8000 characters (UNVERIFIED; the limit the web form enforces).
    comment_rule = TextRule(UNIT_UTF16, count_utf16_units, 8000, subject="comment")
    connect_flow = "campaign_scheduler.auth.meta:FacebookPageFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:FacebookNetwork"

    @property
    def page_id(self) -> str:
        return self.setting("page_id")

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        problems: list[str] = []
        if post.reply_to is not None and len(post.media) > 1:
            problems.append("facebook: a reply (a comment) can carry one image at most")
        if post.reply_to is not None and any(m.is_video for m in post.media):
            problems.append("facebook: a reply (a comment) cannot carry a video")
        if not post.text.strip() and not post.media:
            problems.append("facebook: the post has neither text nor an image")
        return problems

    def publish(self, post: OutboundPost) -> Receipt:
        problems = self.validate(post)
        if problems:
            raise errors.RejectedError(f"facebook: {self.account.name}: " + "; ".join(problems))
        parent = post.comment_on or post.reply_to
        if parent is not None:
            return self._comment(post, parent)
        page = self.page_id
        if not post.media:
            data: dict[str, Any] = {"message": post.text}
            link = _first_url(post.text)
            if link:
                data["link"] = link
            post_id = self._created_id(self.api.post(f"{page}/feed", data, creates=True))
        elif post.media[0].is_video:
            post_id = self._video_post(page, post.text, post.media[0])
        elif len(post.media) == 1:
            post_id = self._photo_post(page, post.text, post.media[0])
        else:
            photo_ids = []
            for media in post.media:
                post.checkpoint()  # each upload is a write: only while this worker holds the post
                photo_ids.append(self._upload(page, media, published=False))
            post.checkpoint()
            data = {
                "message": post.text,
                "attached_media": [{"media_fbid": photo_id} for photo_id in photo_ids],
            }
            post_id = self._created_id(self.api.post(f"{page}/feed", data, creates=True))
        receipt = read_receipt(
            self.api, post_id, url_field="permalink_url", time_field="created_time"
        )
        self.api.log.debug("published %s on %s", receipt.remote_id, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest post of the Page (or, for a reply, its oldest comment under the parent)
        created since ``since`` less a minute whose message equals ``post.text``."""
        page = self.page_id
        parent = post.comment_on or post.reply_to
        return self.api.find_oldest_post(
            f"{parent}/comments" if parent is not None else f"{page}/feed",
            _POST_FIELDS,
            query=(
                {"order": "reverse_chronological", "filter": "stream"}
                if parent is not None
                else None
            ),
            list_since=parent is None,
            text=post.text,
            since=since,
            text_field="message",
            time_field="created_time",
            url_field="permalink_url",
            accept=lambda item: _author(item) in (None, page),
        )

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Reactions, comments and shares from the post; views, reach and clicks from its
        insights where Meta provides them; the Page's followers. A comment (a reply) has
        only its likes and replies."""
        remote_id = receipt.remote_id
        if not remote_id.startswith(f"{self.page_id}_"):
            comment = self.api.get(remote_id, {"fields": "id,like_count,comment_count"})
            return Metrics(
                likes=count(comment.get("like_count")),
                replies=count(comment.get("comment_count")),
            )
        entity = self.api.get(
            remote_id,
            {
                "fields": "id,shares,reactions.summary(total_count).limit(0),"
                "comments.summary(total_count).limit(0)"
            },
        )
        shares = entity.get("shares")
        figures = self._insights(remote_id)
        return Metrics(
            likes=_summary_total(entity.get("reactions")),
            replies=_summary_total(entity.get("comments")),
            # Meta leaves ``shares`` out when nobody shared the post.
            reposts=count(shares.get("count")) if isinstance(shares, dict) else 0,
            views=figures.get("views"),
            reach=figures.get("reach"),
            clicks=figures.get("clicks"),
            followers=self._followers(),
        )

    def delete(self, remote_id: str) -> None:
        """Delete the post or comment; one that is already gone counts as deleted."""
        self.api.delete_gone(remote_id)

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://www.facebook.com/PAGEID/posts/POSTID`` or ``…/permalink.php?story_fbid=
        POSTID&id=PAGEID`` of the account's page: the Graph id ``PAGEID_POSTID``; with
        ``comment_id=ID`` in the query, the comment's id ``POSTID_ID``. An address with the
        page's name or a ``pfbid…`` instead of the numbers is looked up
        (:meth:`find_published`)."""
        page = str(account.settings.get("page_id") or "").strip()
        shape = _shape(page)
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts=_WEB_HOSTS
        )
        match segments(parts):
            case [named, "posts", post] if named == page and digits(post):
                pass
            case ["permalink.php" | "story.php"] if query_value(parts, "id") == page:
                post = query_value(parts, "story_fbid") or ""
            case _:
                post = ""
        if not (page and digits(post)):
            raise refusal(cls.title(), account.name, url, shape)
        comment = query_value(parts, "comment_id")
        if comment is not None:
            if not digits(comment):
                raise refusal(cls.title(), account.name, url, shape)
            return PublishedPart(f"{post}_{comment}", comment=True)
        return PublishedPart(f"{page}_{post}")

    def find_published(self, url: str) -> PublishedPart:
        """:meth:`published_part`; an address of the page's post by the page's name or a
        ``pfbid…`` is looked up among the page's latest posts (their ``permalink_url``)."""
        try:
            return self.published_part(url, self.account)
        except PublishedAddressError:
            parts = split_address(
                url,
                network=self.title(),
                account=self.account.name,
                shape=_shape(self.page_id),
                hosts=_WEB_HOSTS,
            )
            match segments(parts):
                case [_page, "posts", code] if query_value(parts, "comment_id") is None:
                    found = find_by_permalink(
                        self.api,
                        [f"{self.page_id}/published_posts"],
                        code,
                        url_field="permalink_url",
                    )
                    if found is not None:
                        return PublishedPart(found)
            raise

    def verify(self) -> str:
        """The Page's name. The token must be a Page token of ``page_id``."""
        me = self.api.get("me", {"fields": "id,name"})
        name = str(me.get("name") or "")
        if str(me.get("id")) != self.page_id:
            raise errors.AuthError(
                f"facebook: {self.account.name}: the token belongs to {name or me.get('id')!s}, "
                f"not to Page {self.page_id}",
                hint="use a Page access token of this Page (GET /me/accounts lists them)",
            )
        if not name:
            raise errors.UnavailableError(f"facebook: {self.account.name}: /me returned no name")
        return name

    # --- steps ----------------------------------------------------------------------------

    def _photo_post(self, page: str, caption: str, media: MediaFile) -> str:
        answer = self._photo_request(page, media, {"caption": caption}, creates=True)
        post_id = answer.get("post_id")
        if isinstance(post_id, str) and post_id:
            return post_id
        photo_id = self._created_id(answer)
        # Whether /photos answers with post_id is UNVERIFIED: ask the photo for its story.
        try:
            story = self.api.get(photo_id, {"fields": "id,page_story_id"}).get("page_story_id")
        except errors.ChannelError as exc:
            raise self._unnamed(f"photo {photo_id}", exc) from exc
        if not isinstance(story, str) or not story:
            raise errors.OutcomeUnknownError(
                f"facebook: {self.account.name}: photo {photo_id} was posted but has no "
                "page_story_id",
                hint="the lookup after a lost answer finds it",
            )
        return story

    def _unnamed(self, what: str, exc: errors.ChannelError) -> errors.OutcomeUnknownError:
        """``what`` was posted, but reading its post id failed: the lookup settles it."""
        return errors.OutcomeUnknownError(
            f"facebook: {self.account.name}: {what} was posted but its post id could not be "
            f"read ({exc.message})",
            hint="the lookup after a lost answer finds it",
        )

    def _video_post(self, page: str, description: str, media: MediaFile) -> str:
        """``POST /{page-id}/videos`` (multipart ``source``, the text as ``description``)
        creates the post; the video's ``status`` is then polled with the injected sleep until
        it is "ready" and names its ``post_id``. Pages have no alt text for videos."""
        content = media.read(self.name)
        files = {"source": (media.path.name, content, media.mime_type)}
        answer = self.api.post(
            f"{page}/videos", {"description": description}, files=files, creates=True
        )
        video_id = self._created_id(answer)
        for attempt in range(max(self.max_polls, 1)):
            if attempt:
                self._sleep(self.poll_interval)
            try:
                video = self.api.get(video_id, {"fields": "id,status,post_id"})
            except errors.ChannelError as exc:
                raise self._unnamed(f"video {video_id}", exc) from exc
            status = video.get("status")
            state = status.get("video_status") if isinstance(status, dict) else None
            post_id = video.get("post_id")
            if state == "error":
                raise errors.RejectedError(
                    f"facebook: {self.account.name}: Facebook could not process the video "
                    f"{media.path.name} (video {video_id}); it is not shown"
                )
            if state == "ready" and isinstance(post_id, str | int) and str(post_id):
                post_id = str(post_id)
                return post_id if "_" in post_id else f"{page}_{post_id}"
        raise errors.OutcomeUnknownError(
            f"facebook: {self.account.name}: video {video_id} was posted and is still being "
            f"processed after {self.max_polls} checks",
            hint="the lookup after a lost answer finds its post once Facebook shows it",
        )

    def _upload(self, page: str, media: MediaFile, *, published: bool) -> str:
        """An unpublished photo (for a multi-photo post or a comment): nothing is posted."""
        answer = self._photo_request(page, media, {"published": published}, creates=False)
        return self._created_id(answer)

    def _photo_request(
        self, page: str, media: MediaFile, fields: Mapping[str, Any], *, creates: bool
    ) -> dict[str, Any]:
        content = media.read(self.name)
        data = dict(fields)
        if media.alt:
            data["alt_text_custom"] = media.alt
        files = {"source": (media.path.name, content, media.mime_type)}
        return self.api.post(f"{page}/photos", data, files=files, creates=creates)

    def _comment(self, post: OutboundPost, parent: str) -> Receipt:
        data: dict[str, Any] = {"message": post.text}
        if post.media:
            data["attachment_id"] = self._upload(self.page_id, post.media[0], published=False)
            post.checkpoint()
        answer = self.api.post(f"{parent}/comments", data, creates=True)
        comment_id = self._created_id(answer)
        return read_receipt(
            self.api, comment_id, url_field="permalink_url", time_field="created_time"
        )

    def _created_id(self, answer: Mapping[str, Any]) -> str:
        value = answer.get("id")
        if isinstance(value, str) and value:
            return value
        raise errors.OutcomeUnknownError(
            f"facebook: {self.account.name}: the answer to a create call names no id",
            hint="the lookup after a lost answer finds the post",
        )

    def _insights(self, remote_id: str) -> dict[str, int | None]:
        """Insight figures by Metrics field; metrics Meta refuses are left out."""
        answer, error = self.api.try_get(
            f"{remote_id}/insights", {"metric": ",".join(POST_INSIGHTS)}
        )
        values: dict[str, Any] = {}
        if answer is not None:
            values = insight_values(answer)
        elif error is not None and error.code == 100:
            # One refused (e.g. renamed) metric fails the whole call: ask one by one.
            for metric in POST_INSIGHTS:
                single, _ = self.api.try_get(f"{remote_id}/insights", {"metric": metric})
                if single is not None:
                    values.update(insight_values(single))
        elif error is not None:
            self.api.log.info("no insights for %s: %s", remote_id, error.describe())
        return {field: count(values.get(metric)) for metric, field in POST_INSIGHTS.items()}

    def _followers(self) -> int | None:
        page, _ = self.api.try_get(self.page_id, {"fields": "id,followers_count"})
        return count(page.get("followers_count")) if page is not None else None


def _first_url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(0).rstrip(".,;:!?)»“\"'") if match else None


def _author(item: Mapping[str, Any]) -> str | None:
    author = item.get("from")
    if isinstance(author, dict) and author.get("id") is not None:
        return str(author["id"])
    return None


def _summary_total(edge: object) -> int | None:
    if isinstance(edge, dict):
        summary = edge.get("summary")
        if isinstance(summary, dict):
            return count(summary.get("total_count"))
    return None


#: Where Facebook shows posts.
_WEB_HOSTS = ("facebook.com", "web.facebook.com")


def _shape(page: str) -> str:
    return f"https://www.facebook.com/{page or 'PAGEID'}/posts/POSTID"
