"""Instagram: publish image posts through the Graph API's content publishing (channels.md §6).

Settings: ``user_id`` (the Instagram professional account's id), ``media_base_url`` (where
the sender's ``media/`` folder is served publicly: Instagram downloads every image from a URL,
it does not accept uploads), optional ``api_version``; secret ``token`` (with
``instagram_content_publish``, and ``instagram_manage_insights`` for metrics).

Publishing a post takes several calls, and only the last one can create the post:

1. ``GET /{ig-user-id}/content_publishing_limit``: when ``quota_usage`` has reached
   ``config.quota_total`` (50 posts per moving 24 hours on the reference page) the post is not
   attempted and :class:`RateLimitedError` says to try again in an hour;
2. ``POST /{ig-user-id}/media`` with ``image_url``, ``caption`` and ``alt_text`` creates a
   container (for 2-10 images: one carousel item per image, then a ``CAROUSEL`` container);
3. ``GET /{container-id}?fields=status_code`` until ``FINISHED`` (bounded, with an injectable
   sleep); ``ERROR`` or ``EXPIRED`` is a refusal;
4. ``POST /{ig-user-id}/media_publish`` with ``creation_id`` publishes it and answers the
   media id; the permalink and timestamp are read afterwards.

A transport failure in steps 1-3 is :class:`UnavailableError` (an unused container expires by
itself after 24 hours); only step 4 can end in :class:`OutcomeUnknownError`.

Recovery: no idempotency key. The container would be the natural recovery point (its
``status_code`` turns ``PUBLISHED``), but it is created inside the same ``publish`` call and
never reaches the database, so :meth:`InstagramChannel.look_up` lists ``/{ig-user-id}/media``
back to ``since`` and takes the oldest post whose caption equals the text.

Instagram feed posts have no reply chains (follow-ups would be comments without images), so a
post with ``reply_to`` is refused.

A draft's first comment (``post.comment_on``: the media id) is ``POST /{ig-media-id}/comments``
with ``message`` (``instagram_manage_comments``), answering the comment's ``id``; comments have
no permalink. After a lost answer :meth:`InstagramChannel.look_up` reads the media's comments
(``GET /{ig-media-id}/comments?fields=id,text,timestamp,from``) and takes the oldest one of the
account since ``since`` with the comment's text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from campaign_scheduler.channels._graph import (
    LOOK_UP_MARGIN,
    LOOK_UP_MAX_PAGES,
    PAGE_SIZE,
    ContainerChannel,
    ContainerDialect,
    check_publishing_quota,
    find_by_permalink,
    find_oldest_match,
    media_url,
    receipt_of,
)
from campaign_scheduler.channels._http import count
from campaign_scheduler.channels.base import AccountSettings, Metrics, Receipt
from campaign_scheduler.channels.catalog import MB, MINUTE, MP4_OR_MOV, ChannelSpec, VideoLimits
from campaign_scheduler.channels.published import (
    PublishedPart,
    digits,
    not_among_latest,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import (
    UNIT_HASHTAGS,
    UNIT_UTF16,
    Limit,
    TextRule,
    count_hashtags,
    count_utf16_units,
)
from campaign_scheduler.errors import OutcomeUnknownError, RejectedError, UnavailableError

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import MediaFile, OutboundPost

#: Media insights read by :meth:`InstagramChannel.fetch_metrics` (channels.md §6; ``views``
#: replaced ``impressions`` and ``plays`` in 2025).
MEDIA_INSIGHTS = ("views", "reach", "likes", "comments", "saved", "shares")
#: A caption (and a comment, UNVERIFIED) takes 2200 characters and 30 hashtags.
CAPTION = TextRule(
    UNIT_UTF16,
    count_utf16_units,
    2200,
    subject="caption",
    also=(Limit(UNIT_HASHTAGS, count_hashtags, 30),),
)


class InstagramChannel(ContainerChannel):
    """Image posts on one Instagram professional account."""

    name = "instagram"
    spec = ChannelSpec.versioned(
        "Instagram",
        settings=("user_id", "media_base_url"),
        default_base_url="https://graph.facebook.com",
        needs_media=True,
        links_clickable=False,
        # Reels (Meta's reel specifications): MP4 or MOV, at most 300 MB, 3 s to 15 min,
        # up to 60 fps; one video as its own post.
        video=VideoLimits(
            MP4_OR_MOV,
            max_bytes=300 * MB,
            max_seconds=15 * MINUTE,
            min_seconds=3.0,
            max_frame_rate=60.0,
        ),
        max_images=10,  # a carousel: up to 10 items
        other_files=False,
    )
    text_rule = CAPTION
    comment_rule = replace(CAPTION, subject="comment")
    connect_flow = "campaign_scheduler.auth.meta:InstagramFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:InstagramNetwork"
    containers = ContainerDialect("media", "status_code", "status", poll_interval=3.0, max_polls=40)

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        problems = []
        if not post.media:
            problems.append("instagram: a post needs an image (Instagram has no text posts)")
        if post.reply_to is not None:
            problems.append("instagram: feed posts cannot continue another post")
        return problems

    def publish(self, post: OutboundPost) -> Receipt:
        if post.comment_on is not None:
            return self._comment(post, post.comment_on)
        problems = self.validate(post)
        if problems:
            raise RejectedError(f"instagram: {self.account.name}: " + "; ".join(problems))
        user = self.user_id
        check_publishing_quota(
            self.api,
            f"{user}/content_publishing_limit",
            usage_key="quota_usage",
            config_key="config",
            what="publishing",
        )
        params: dict[str, Any] = {"caption": post.text} if post.text else {}
        if post.media[0].is_video:
            return self._publish(self._reel(post.media[0], params), [], checkpoint=post.checkpoint)
        images = [(media_url(self.account, m), m.alt) for m in post.media]
        children: list[dict[str, Any]] = []
        if len(images) == 1:
            url, alt = images[0]
            params["image_url"] = url
            if alt:
                params["alt_text"] = alt
        else:
            children = [
                {"image_url": url, **({"alt_text": alt} if alt else {})} for url, alt in images
            ]
        return self._publish(params, children, checkpoint=post.checkpoint)

    def _reel(self, video: MediaFile, params: dict[str, Any]) -> dict[str, Any]:
        """The container of a Reel: ``media_type=REELS``, the public ``video_url``, shown in
        the feed too. Instagram takes no alt text for reels (``alt_text`` is for images); the
        container stays IN_PROGRESS while Meta transcodes, polled like every container."""
        return {
            **params,
            "media_type": "REELS",
            "video_url": media_url(self.account, video),
            "share_to_feed": "true",
        }

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest post of the account created since ``since`` less a minute whose caption
        equals ``post.text``."""
        if post.comment_on is not None:
            if since.tzinfo is None:
                raise ValueError("since must be an aware datetime")
            return self._look_up_comment(post, post.comment_on, since - LOOK_UP_MARGIN)
        return self.api.find_oldest_post(
            f"{self.user_id}/media",
            "id,caption,timestamp,permalink",
            text=post.text,
            since=since,
            text_field="caption",
        )

    def _comment(self, post: OutboundPost, media_id: str) -> Receipt:
        """The account's comment under its own post (the draft's first comment)."""
        answer = self.api.post(f"{media_id}/comments", {"message": post.text}, creates=True)
        comment_id = answer.get("id")
        if not isinstance(comment_id, str) or not comment_id:
            raise OutcomeUnknownError(
                f"instagram: {self.account.name}: the answer to the comment names no id",
                hint="the lookup after a lost answer reads the post's comments",
            )
        self.api.log.info("commented %s on %s", comment_id, media_id)
        return Receipt(comment_id, None, self.clock())

    def _look_up_comment(
        self, post: OutboundPost, media_id: str, oldest: datetime
    ) -> Receipt | None:
        """The oldest comment of this account under ``media_id`` since ``oldest`` with the
        comment's text. The order of the edge is not documented: every page is read (a
        fresh post has few comments) and sorted newest first."""
        items = sorted(
            self.api.pages(
                f"{media_id}/comments",
                {"fields": "id,text,timestamp,from", "limit": PAGE_SIZE},
                max_pages=LOOK_UP_MAX_PAGES,
            ),
            key=lambda item: str(item.get("timestamp", "")),
            reverse=True,
        )
        user = self.user_id

        def own(item: dict[str, Any]) -> bool:
            author = item.get("from")
            return not isinstance(author, dict) or str(author.get("id", user)) == user

        found = find_oldest_match(
            iter(items),
            text=post.text,
            text_field="text",
            time_field="timestamp",
            oldest=oldest,
            accept=own,
        )
        if found is None:
            return None
        return receipt_of(self.api, found, url_field="permalink", time_field="timestamp")

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Views, reach, likes, comments and shares from the media's insights (``saved`` is
        read but has no place in :class:`Metrics`); when insights are not available yet
        (delayed up to 48 hours, or "not enough viewers") likes and comments come from the
        media's own counters and the rest stays None."""
        remote_id = receipt.remote_id
        values = self.api.insights(remote_id, MEDIA_INSIGHTS)
        likes, comments = count(values.get("likes")), count(values.get("comments"))
        if likes is None or comments is None:
            media = self.api.get(remote_id, {"fields": "id,like_count,comments_count"})
            likes = likes if likes is not None else count(media.get("like_count"))
            comments = comments if comments is not None else count(media.get("comments_count"))
        return Metrics(
            likes=likes,
            replies=comments,
            reposts=count(values.get("shares")),
            views=count(values.get("views")),
            reach=count(values.get("reach")),
            followers=self._followers(),
        )

    def delete(self, remote_id: str) -> None:
        """Delete the post (where Meta allows it; see docs/meta-graph.md). One that is
        already gone counts as deleted."""
        try:
            self.api.delete_gone(remote_id)
        except RejectedError as exc:
            raise RejectedError(
                exc.message,
                network_message=exc.network_message,
                hint="Instagram may not allow deleting through the API; delete it in the app",
            ) from exc

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://www.instagram.com/p/SHORTCODE/c/COMMENTID/`` (a comment): the comment's
        id. A post's address (``/p/SHORTCODE/``, ``/reel/SHORTCODE/``) carries a shortcode,
        not the media id: :meth:`find_published` looks it up."""
        _code, comment = _address(url, account, cls.title())
        if comment is None:
            raise refusal(cls.title(), account.name, url, _SHAPE)
        return PublishedPart(comment, comment=True)

    def find_published(self, url: str) -> PublishedPart:
        """A comment's address as :meth:`published_part`; a post's shortcode is looked up
        among the account's latest media (their ``permalink``)."""
        code, comment = _address(url, self.account, self.title())
        if comment is not None:
            return PublishedPart(comment, comment=True)
        found = find_by_permalink(self.api, [f"{self.user_id}/media"], code)
        if found is None:
            raise not_among_latest(self.title(), self.account.name, url)
        return PublishedPart(found)

    def verify(self) -> str:
        """``@username`` of the account."""
        user = self.api.get(self.user_id, {"fields": "id,username"})
        username = user.get("username")
        if not isinstance(username, str) or not username:
            raise UnavailableError(f"instagram: {self.account.name}: no username in the answer")
        return f"@{username}"

    def _followers(self) -> int | None:
        user, _ = self.api.try_get(self.user_id, {"fields": "id,followers_count"})
        return count(user.get("followers_count")) if user is not None else None


#: The address of an Instagram post.
_SHAPE = "https://www.instagram.com/p/SHORTCODE/"
#: A shortcode (base64url letters).
_SHORTCODE = re.compile(r"[A-Za-z0-9_-]{5,64}")


def _address(url: str, account: AccountSettings, network: str) -> tuple[str, str | None]:
    """The shortcode of the post at ``url`` and, for a comment's address, the comment's id."""
    parts = split_address(
        url,
        network=network,
        account=account.name,
        shape=_SHAPE,
        hosts=("instagram.com",),
    )
    match segments(parts):
        case ["p" | "reel" | "tv", code] if _SHORTCODE.fullmatch(code):
            return code, None
        case ["p" | "reel", code, "c", comment] if _SHORTCODE.fullmatch(code) and digits(comment):
            return code, comment
    raise refusal(network, account.name, url, _SHAPE)
