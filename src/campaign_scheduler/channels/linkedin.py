"""LinkedIn: posts of an organisation page through the versioned REST API (channels.md §7).

The points that matter to the publisher:

* Every call carries ``Authorization: Bearer <token>``, ``LinkedIn-Version`` (the account setting
  ``api_version``, default :data:`DEFAULT_API_VERSION`; LinkedIn retires a version about a year
  after it appears, so keep it current) and ``X-Restli-Protocol-Version: 2.0.0``. A post is
  ``POST /rest/posts`` with the organisation's URN as ``author``; LinkedIn answers 201 with an
  empty body and the new post's URN in the ``x-restli-id`` header.
* ``commentary`` is in LinkedIn's "little" text format. :func:`to_little` escapes the reserved
  characters ``\\ | { } @ [ ] ( ) < > # * _ ~`` with a backslash, except the ``#`` that starts a
  hashtag (so hashtags stay links). The list is the one LinkedIn's little-format page refers to,
  as quoted by several maintained clients; an unescaped one is reported to cut the post off.
* Images go through the Images API (``initializeUpload`` → ``PUT`` the bytes → wait for
  ``AVAILABLE``) and are attached as ``content.media`` (or ``content.multiImage``) with
  ``altText``.
* LinkedIn has no idempotency key (:attr:`LinkedInChannel.idempotency_window` is ``None``), but
  :meth:`LinkedInChannel.look_up` can list the page's posts, and LinkedIn refuses identical
  commentary with 422 ``DUPLICATE_POST`` naming the earlier post. That refusal is used as a
  recovery signal: when the named post exists, is by this page, has this commentary and is
  younger than :data:`ADOPT_WINDOW`, it is returned as the receipt, so a replay after a lost
  answer settles on the first post. It is not claimed as an idempotency window because LinkedIn
  does not document how long it detects duplicates, nor that it always does.
* HTTP errors map to the error classes like this (LinkedIn's ``message`` is kept):

  ============================  ============================================================
  401                           :class:`AuthError` (token expired or revoked; tokens last
                                60 days)
  403                           :class:`AuthError` (scope or page role missing)
  426, 400 ``VERSION_MISSING``  :class:`AuthError`: ``api_version`` must be updated
  422 ``DUPLICATE_POST``        see above; otherwise :class:`RejectedError`
  other 4xx                     :class:`RejectedError`
  429                           :class:`RateLimitedError`. LinkedIn sends no reset time;
                                a daily quota (the message names a ``DAY`` limit) resets at
                                00:00 UTC, anything else is retried after
                                :data:`THROTTLE_WAIT`; a ``Retry-After`` header wins if sent
  502, 504 on the create        :class:`OutcomeUnknownError` (a gateway gave up; the post may
                                exist)
  other 5xx                     :class:`UnavailableError`
  ============================  ============================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from campaign_scheduler import errors
from campaign_scheduler.channels._http import (
    ApiClient,
    GoneError,
    json_or_none,
    reset_time,
)
from campaign_scheduler.channels.base import AccountApi, AccountSettings, Channel, Receipt
from campaign_scheduler.channels.catalog import MIB, MINUTE, ChannelSpec, VideoLimits
from campaign_scheduler.channels.published import (
    PublishedPart,
    not_of_account,
    query_value,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_UTF16, TextRule, count_utf16_units

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import LinkPreview, MediaFile, Metrics, OutboundPost


#: The LinkedIn-Version sent when the account names none (the version channels.md was checked
#: against). Versions are retired after about a year: set ``api_version`` to a current one.
DEFAULT_API_VERSION = "202605"
#: After a 422 DUPLICATE_POST, the named post counts as this one if it is at most this old.
ADOPT_WINDOW = timedelta(hours=24)
#: Wait after a 429 that is not the daily quota (LinkedIn sends no time).
THROTTLE_WAIT = timedelta(minutes=2)
#: ``look_up`` searches down to ``since`` minus this (clock skew).
LOOK_UP_MARGIN = timedelta(minutes=1)
LOOK_UP_MAX_PAGES = 10
PAGE_SIZE = 50
MAX_ALT_TEXT = 4086
COMMENTARY_LIMIT = 3000
RESERVED = "\\|{}@[]()<>#*_~"
NO_REPLIES = (
    "linkedin: posts cannot reply to posts (follow-ups are comments, which this adapter does "
    "not write)"
)
_VERSION = re.compile(r"\d{6}(\.\d{2})?")
_URN_IN_MESSAGE = re.compile(r"urn:li:(?:share|ugcPost):\d+")
#: What "little" text escapes: a reserved character, unless it is the ``#`` of a hashtag (the
#: first alternative, which is kept as it is).
_LITTLE = re.compile(r"(?<![^\W_])#[^\W_]+|[" + re.escape(RESERVED) + "]")
_ESCAPED = re.compile(r"\\([" + re.escape(RESERVED) + "])")


class LinkedInApi(ApiClient):
    """LinkedIn's versioned REST API (Rest.li 2.0): every call names its API version and its
    Rest.li method; errors are ``{"status", "code", "message"}``; a throttled application
    is told "DAY" limits, which reset at midnight UTC."""

    #: Metrics fields and the organization share statistics that hold them.
    figures: ClassVar[Mapping[str, str]] = {
        "likes": "likeCount",
        "reposts": "shareCount",
        "replies": "commentCount",
        "views": "impressionCount",
        "reach": "uniqueImpressionsCount",
        "clicks": "clickCount",
    }

    message_keys = ("message",)
    rate_limit_words = "throttled"
    auth_statuses: ClassVar[Mapping[int, tuple[str, str]]] = {
        401: (
            "LinkedIn refused the access token",
            "get a new token for the page admin (LinkedIn tokens last 60 days)",
        ),
        403: (
            "not allowed",
            "the token's member needs an admin role on the page and w_organization_social",
        ),
    }

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.secret()}",
            "LinkedIn-Version": self.version(),
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def version(self) -> str:
        version = str(self.account.settings.get("api_version") or DEFAULT_API_VERSION).strip()
        if not _VERSION.fullmatch(version):
            raise errors.AuthError(
                f"linkedin: account {self.account.name}: api_version {version!r} is not YYYYMM",
                hint="set `api_version` to a current LinkedIn API version such as 202605",
            )
        return version

    def rest(
        self, method: str, path: str, restli_method: str, *, creates: bool = False, **kwargs: Any
    ) -> requests.Response:
        """One call to the REST API with its Rest.li method; an HTTP error status raises."""
        headers = {"X-RestLi-Method": restli_method, **kwargs.pop("headers", {})}
        return self.call(method, path, creates=creates, headers=headers, **kwargs)

    def retry_at(self, response: requests.Response) -> datetime:
        now = self.clock()
        when = reset_time(response.headers.get("Retry-After"), now, epoch=False)
        if when is not None:
            return when
        if re.search(r"\bDAY\b", self.error_text(response)):
            return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return now + THROTTLE_WAIT

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        status = response.status_code
        body = json_or_none(response)
        body = body if isinstance(body, dict) else {}
        if status == 426 or str(body.get("code", "")) in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
            return errors.AuthError(
                f"{where}: LinkedIn does not serve API version {self.version()} ({said})",
                network_message=said,
                hint="set `api_version` of the account to a current version (YYYYMM)",
            )
        if status == 422 and _is_duplicate(body):
            return _DuplicateError(f"{where}: duplicate post", network_message=said)
        return None


class LinkedInChannel(Channel):
    """Posts of one LinkedIn organisation page. Setting ``organization``: the page's URN
    (``urn:li:organization:123``) or number; optional ``api_version`` (``YYYYMM``). Secret
    ``token``: a page admin's access token with ``w_organization_social`` (plus
    ``r_organization_social`` for look-ups and ``rw_organization_admin`` for statistics)."""

    name = "linkedin"
    spec = ChannelSpec.versioned(
        "LinkedIn",
        settings=("organization",),
        default_base_url="https://api.linkedin.com",
        # The Videos API: MP4, up to 500 MB, 3 s to 30 min; one video as its own post.
        video=VideoLimits(max_bytes=500 * MIB, max_seconds=30 * MINUTE, min_seconds=3.0),
        max_images=20,  # a multiImage post: 2 to 20 images
        other_files=False,
    )
    text_rule = TextRule(UNIT_UTF16, count_utf16_units, 3000)
    #: A comment's ``message.text``: 1250 characters (UNVERIFIED; the limit of the web form).
    comment_rule = TextRule(UNIT_UTF16, count_utf16_units, 1250, subject="comment")
    api = AccountApi(LinkedInApi)
    can_look_up = True
    connect_flow = "campaign_scheduler.auth.linkedin:LinkedInFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:LinkedInNetwork"

    # --- the Channel interface ------------------------------------------------------------

    def validate(self, post: OutboundPost) -> list[str]:
        problems = super().validate(post)
        escaped = to_little(post.text)
        if not problems and escaped != post.text:
            # Whether LinkedIn counts the escapes is not documented: stay under the limit with them.
            problems += [
                issue.message() + " once reserved characters are escaped"
                for issue in self.text_rule.issues(self.name, escaped, limit=COMMENTARY_LIMIT)
            ]
        if post.reply_to is not None:
            problems.append(NO_REPLIES)
        for media in post.media:  # (how many, their kind: the spec's limits)
            if media.alt and len(media.alt) > MAX_ALT_TEXT:
                problems.append(
                    f"linkedin: the alt text of {media.path.name} is longer than {MAX_ALT_TEXT}"
                )
        return problems

    def publish(self, post: OutboundPost) -> Receipt:
        if post.comment_on is not None:
            return self._comment(post, post.comment_on)
        if post.reply_to is not None:
            raise errors.RejectedError(NO_REPLIES)
        organization = self._organization()
        commentary = to_little(post.text)
        images = []
        video: str | None = None
        for media in post.media:
            post.checkpoint()  # each upload is a write: only while this worker holds the post
            if media.is_video:
                video = self._upload_video(media, organization, post.checkpoint)
            else:
                images.append((self._upload(media, organization), media.alt))
        if post.media:
            post.checkpoint()  # waiting for an upload may have taken long
        body: dict[str, Any] = {
            "author": organization,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if video is not None:
            body["content"] = {"media": {"id": video}}  # LinkedIn keeps no alt text for videos
        elif len(images) == 1:
            body["content"] = {"media": _image_ref(*images[0])}
        elif images:
            body["content"] = {"multiImage": {"images": [_image_ref(*i) for i in images]}}
        elif post.link_card is not None:
            body["content"] = {"article": self._article(post.link_card, organization)}
        try:
            response = self.api.rest("POST", "/rest/posts", "CREATE", json=body, creates=True)
        except _DuplicateError as exc:
            return self._adopt_duplicate(post, exc)
        urn = unquote(response.headers.get("x-restli-id", "")).strip()
        if not urn.startswith("urn:li:"):
            raise errors.OutcomeUnknownError(
                f"linkedin: {self.account.name}: the post was created but LinkedIn named no URN",
                hint="the publisher will look it up on the page",
            )
        receipt = Receipt(urn, post_url(urn), self._answer_time(response))
        self.api.log.debug("published %s on %s", urn, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest post of the page created since ``since`` (less a minute) whose commentary
        is ``post.text`` and that has as many images."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        oldest = since - LOOK_UP_MARGIN
        if post.comment_on is not None:
            return self._look_up_comment(post, post.comment_on, oldest)
        found: Receipt | None = None
        for element in self._page_posts(oldest):
            created = _millis(element.get("createdAt"))
            if created is not None and created >= oldest and _matches(element, post):
                found = _receipt(element, self.clock())  # keep going: the oldest match wins
        return found

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Lifetime organic statistics of the post (``organizationalEntityShareStatistics``)
        and the page's follower count (``networkSizes``)."""
        organization = self._organization()
        kind = "ugcPosts" if receipt.remote_id.startswith("urn:li:ugcPost:") else "shares"
        query = (
            f"q=organizationalEntity&organizationalEntity={quote(organization, safe='')}"
            f"&{kind}=List({quote(receipt.remote_id, safe='')})"
        )
        body = self.api.json_object(
            self.api.rest("GET", f"/rest/organizationalEntityShareStatistics?{query}", "FINDER")
        )
        totals: dict[str, Any] = {}
        for element in body.get("elements") or []:
            if element.get("share", element.get("ugcPost")) == receipt.remote_id:
                totals = element.get("totalShareStatistics") or {}
        return self.api.metrics(totals, read=_count, followers=self._followers(organization))

    def delete(self, remote_id: str) -> None:
        """Delete the post; one already gone counts as deleted."""
        try:
            self.api.rest("DELETE", f"/rest/posts/{quote(remote_id, safe='')}", "DELETE")
        except GoneError:
            self.api.log.info("post %s on %s was already gone", remote_id, self.account.name)

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://www.linkedin.com/feed/update/URN/`` with a share or ugcPost URN (how this
        adapter links its posts): the URN; with ``?commentUrn=…``, the comment's URN. An
        activity URN (LinkedIn's "copy link") is not the post's URN the API takes, and is
        refused naming the shape."""
        shape = "https://www.linkedin.com/feed/update/urn:li:share:ID/"
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts=("linkedin.com",)
        )
        match segments(parts):
            case ["feed", "update", urn] if _POST_URN.fullmatch(urn):
                comment = query_value(parts, "commentUrn")
                if comment is None:
                    return PublishedPart(urn)
                if _COMMENT_URN.fullmatch(comment):
                    return PublishedPart(comment, comment=True)
        raise refusal(cls.title(), account.name, url, shape)

    def find_published(self, url: str) -> PublishedPart:
        """:meth:`published_part`; a post's URN is read back: its author must be the
        account's organisation (a comment's address names its post, which is not checked)."""
        part = self.published_part(url, self.account)
        if part.comment:
            return part
        try:
            element = self.api.json_object(
                self.api.rest("GET", f"/rest/posts/{quote(part.remote_id, safe='')}", "GET")
            )
        except (errors.RejectedError, errors.AuthError) as exc:
            # 404: no such post; 403: another organisation's, which this token may not read
            raise not_of_account(self.title(), self.account.name, url) from exc
        if element.get("author") != self._organization():
            raise not_of_account(self.title(), self.account.name, url)
        return part

    def verify(self) -> str:
        """The page's name as LinkedIn shows it, with its URN."""
        organization = self._organization()
        number = organization.rsplit(":", 1)[-1]
        body = self.api.json_object(self.api.rest("GET", f"/rest/organizations/{number}", "GET"))
        name = body.get("localizedName") or body.get("vanityName") or number
        return f"{name} ({organization})"

    # --- steps ------------------------------------------------------------------------------

    def _organization(self) -> str:
        value = str(self.account.settings.get("organization") or "").strip()
        if value.isdigit():
            return f"urn:li:organization:{value}"
        if re.fullmatch(r"urn:li:organization:\d+", value):
            return value
        raise errors.AuthError(
            f"linkedin: account {self.account.name}: `organization` must be the page's URN "
            f"(urn:li:organization:123), not {value!r}",
            hint="set `organization` of the account in config.toml",
        )

    def _article(self, card: LinkPreview, organization: str) -> dict[str, str]:
        """An article share: the link's source, title, description and thumbnail (uploaded
        through the Images API like any image)."""
        article = {"source": card.url, "title": card.title}
        if card.description:
            article["description"] = card.description
        if card.thumb is not None and card.thumb_type:
            article["thumbnail"] = self._upload_content(
                card.thumb, card.thumb_type, "the link card's image", organization
            )
        return article

    def _upload(self, media: MediaFile, organization: str) -> str:
        """Initialise, upload and wait for one image; return its URN. Nothing here can create
        the post, so lost answers are reported as unavailability."""
        return self._upload_content(
            media.read(self.name), media.mime_type, media.path.name, organization
        )

    def _upload_content(self, content: bytes, mime_type: str, name: str, organization: str) -> str:
        try:
            answer = self.api.json_object(
                self.api.rest(
                    "POST",
                    "/rest/images?action=initializeUpload",
                    "ACTION",
                    json={"initializeUploadRequest": {"owner": organization}},
                )
            )
            upload_url = str(answer["value"]["uploadUrl"])
            urn = str(answer["value"]["image"])
            self._put_bytes(upload_url, content, mime_type)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unreadable(name) from exc
        return self._available(f"/rest/images/{quote(urn, safe='')}", urn, name)

    def _upload_video(
        self, media: MediaFile, organization: str, checkpoint: Callable[[], None]
    ) -> str:
        """The Videos API: ``initializeUpload`` with the size, one ``PUT`` per part LinkedIn
        hands out (each answered with an ETag), ``finalizeUpload`` with the ETags in order,
        then wait until the video is ``AVAILABLE``. Every write is fenced; nothing here can
        create the post (lost answers are unavailability). Returns the video URN."""
        content = media.read(self.name)
        name = media.path.name
        try:
            answer = self.api.json_object(
                self.api.rest(
                    "POST",
                    "/rest/videos?action=initializeUpload",
                    "ACTION",
                    json={
                        "initializeUploadRequest": {
                            "owner": organization,
                            "fileSizeBytes": len(content),
                            "uploadCaptions": False,
                            "uploadThumbnail": False,
                        }
                    },
                )
            )["value"]
            urn = str(answer["video"])
            etags = []
            for instruction in answer["uploadInstructions"]:
                first, last = int(instruction["firstByte"]), int(instruction["lastByte"])
                checkpoint()
                response = self._put_bytes(
                    str(instruction["uploadUrl"]), content[first : last + 1], media.mime_type
                )
                etags.append(response.headers["ETag"])
            checkpoint()
            self.api.rest(
                "POST",
                "/rest/videos?action=finalizeUpload",
                "ACTION",
                json={
                    "finalizeUploadRequest": {
                        "video": urn,
                        "uploadToken": str(answer.get("uploadToken") or ""),
                        "uploadedPartIds": etags,
                    }
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unreadable(name) from exc
        return self._available(f"/rest/videos/{quote(urn, safe='')}", urn, name)

    def _put_bytes(self, upload_url: str, content: bytes, mime_type: str) -> requests.Response:
        headers = {"Content-Type": "application/octet-stream"}
        # The token goes only to LinkedIn itself (or to the host the account is configured for).
        host = urlsplit(upload_url).hostname or ""
        if host == urlsplit(self.base_url).hostname or host.endswith(".linkedin.com"):
            headers["Authorization"] = f"Bearer {self.api.secret()}"
        response = self.api.send(
            "PUT", upload_url, authenticate=False, data=content, headers=headers
        )
        if response.status_code >= 400:
            raise self.api.error(response, "PUT (upload)", creates=False)
        return response

    def _unreadable(self, name: str) -> errors.UnavailableError:
        return errors.UnavailableError(
            f"linkedin: {self.account.name}: unreadable answer to the upload of {name}"
        )

    def _available(self, path: str, urn: str, name: str) -> str:
        """``urn`` once the image or video at ``path`` is AVAILABLE (polled with the injected
        sleep)."""
        for attempt in range(self.max_polls):
            image = self.api.json_object(self.api.rest("GET", path, "GET"))
            status = image.get("status")
            if status == "AVAILABLE":
                return urn
            if status == "PROCESSING_FAILED":
                raise errors.RejectedError(
                    f"linkedin: {self.account.name}: LinkedIn could not process {name}"
                )
            if attempt + 1 < self.max_polls:
                self._sleep(self.poll_interval)
        raise errors.UnavailableError(
            f"linkedin: {self.account.name}: {name} was still being processed after "
            f"{self.max_polls} checks"
        )

    def _answer_time(self, response: requests.Response) -> datetime:
        """The server's ``Date`` (when the post was made), else now."""
        try:
            moment = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError):
            return self.clock()
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

    def _adopt_duplicate(self, post: OutboundPost, refusal: _DuplicateError) -> Receipt:
        said = refusal.network_message or ""
        named = _URN_IN_MESSAGE.search(said)
        who = f"linkedin: {self.account.name}"
        if named is None:
            raise errors.RejectedError(
                f"{who}: LinkedIn refused the post as a duplicate without naming the original",
                network_message=said,
                hint="check the page; change the text if it must go out again",
            )
        urn = named.group(0)
        try:
            element = self.api.json_object(
                self.api.rest("GET", f"/rest/posts/{quote(urn, safe='')}", "GET")
            )
        except GoneError as exc:
            raise errors.RejectedError(
                f"{who}: LinkedIn calls the post a duplicate of {urn}, which no longer exists "
                "(LinkedIn keeps reporting deleted posts as originals for a day or two)",
                network_message=said,
                hint="try again later or change the text",
            ) from exc
        created = _millis(element.get("createdAt"))
        ours = element.get("author") == self._organization() and _matches(element, post)
        recent = created is not None and self.clock() - created <= ADOPT_WINDOW
        if not (ours and recent):
            raise errors.RejectedError(
                f"{who}: LinkedIn refuses the text as a duplicate of {urn} from {_when(created)}",
                network_message=said,
                hint="change the text if it must go out again",
            )
        self.api.log.warning(
            "linkedin refused a duplicate on %s; %s of %s has this text and counts as this post",
            self.account.name,
            urn,
            _when(created),
        )
        return _receipt(element, self.clock())

    def _page_posts(self, oldest: datetime) -> Iterator[dict[str, Any]]:
        """The page's posts, most recently modified first, down to ``oldest``."""
        organization = quote(self._organization(), safe="")
        for page in range(LOOK_UP_MAX_PAGES):
            query = (
                f"author={organization}&q=author&count={PAGE_SIZE}&start={page * PAGE_SIZE}"
                "&sortBy=LAST_MODIFIED"
            )
            elements = self.api.json_object(
                self.api.rest("GET", f"/rest/posts?{query}", "FINDER")
            ).get("elements")
            elements = [e for e in elements or [] if isinstance(e, dict)]
            for element in elements:
                modified = _millis(element.get("lastModifiedAt", element.get("createdAt")))
                if modified is not None and modified < oldest:
                    return  # sorted by modification, and created <= modified
                yield element
            if len(elements) < PAGE_SIZE:
                return
        raise self.search_exhausted(
            f"more than {LOOK_UP_MAX_PAGES * PAGE_SIZE} posts since {_when(oldest)}", "page"
        )

    def _comment(self, post: OutboundPost, urn: str) -> Receipt:
        """The page's comment under its own post (the draft's first comment), through the
        Comments API: ``POST /rest/socialActions/{urn}/comments``."""
        body = {"actor": self._organization(), "object": urn, "message": {"text": post.text}}
        response = self.api.rest(
            "POST",
            f"/rest/socialActions/{quote(urn, safe='')}/comments",
            "CREATE",
            json=body,
            creates=True,
        )
        answer = json_or_none(response)
        answer = answer if isinstance(answer, dict) else {}
        comment = answer.get("commentUrn") or unquote(response.headers.get("x-restli-id", ""))
        if not isinstance(comment, str) or not comment.startswith("urn:li:comment:"):
            raise errors.OutcomeUnknownError(
                f"linkedin: {self.account.name}: the comment was created but LinkedIn named "
                "no comment URN",
                hint="the publisher will look it up among the post's comments",
            )
        self.api.log.info("commented %s on %s", comment, self.account.name)
        return Receipt(comment, _comment_url(urn, comment), self._answer_time(response))

    def _look_up_comment(self, post: OutboundPost, urn: str, oldest: datetime) -> Receipt | None:
        """The oldest comment of the page under ``urn`` since ``oldest`` with the comment's
        text (``GET /rest/socialActions/{urn}/comments``, every page: the order is not
        documented and a fresh post has few comments)."""
        organization = self._organization()
        found: tuple[datetime, str] | None = None
        for page in range(LOOK_UP_MAX_PAGES):
            query = f"start={page * PAGE_SIZE}&count={PAGE_SIZE}"
            elements = self.api.json_object(
                self.api.rest(
                    "GET", f"/rest/socialActions/{quote(urn, safe='')}/comments?{query}", "GET_ALL"
                )
            ).get("elements")
            elements = [e for e in elements or [] if isinstance(e, dict)]
            for element in elements:
                created = _millis((element.get("created") or {}).get("time"))
                text = str((element.get("message") or {}).get("text", ""))
                if (
                    created is not None
                    and created >= oldest
                    and element.get("actor") == organization
                    and _normalise(text) == _normalise(post.text)
                    and (found is None or created < found[0])
                ):
                    found = (created, str(element.get("commentUrn") or element.get("id")))
            if len(elements) < PAGE_SIZE:
                break
        else:
            raise self.search_exhausted(
                f"more than {LOOK_UP_MAX_PAGES * PAGE_SIZE} comments on {urn}", "post"
            )
        if found is None:
            return None
        return Receipt(found[1], _comment_url(urn, found[1]), found[0])

    def _followers(self, organization: str) -> int | None:
        try:
            body = self.api.json_object(
                self.api.rest(
                    "GET",
                    f"/rest/networkSizes/{quote(organization, safe='')}"
                    "?edgeType=COMPANY_FOLLOWED_BY_MEMBER",
                    "GET",
                )
            )
        except (errors.RejectedError, errors.UnavailableError, errors.OutcomeUnknownError) as exc:
            self.api.log.warning("no follower count for %s: %s", self.account.name, exc)
            return None
        return _count(body.get("firstDegreeSize"))


class _DuplicateError(errors.RejectedError):
    """422 DUPLICATE_POST."""


# --- the little text format -------------------------------------------------------------------


def to_little(text: str) -> str:
    """``text`` as literal "little" text: every reserved character backslash-escaped, except
    the ``#`` of a hashtag (``#`` at the start or after a non-alphanumeric character, followed
    by letters or digits), which stays a hashtag."""
    return _LITTLE.sub(lambda m: m[0] if len(m[0]) > 1 else "\\" + m[0], text)


def from_little(commentary: str) -> str:
    """Commentary with its escapes removed (mentions and templates are left as they are)."""
    return _ESCAPED.sub(r"\1", commentary)


def post_url(urn: str) -> str:
    """The post's address on linkedin.com (the feed/update pattern; UNVERIFIED for shares)."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _comment_url(urn: str, comment: str) -> str:
    """A comment's address: its post's, naming the comment (the pattern LinkedIn's "copy link
    to comment" gives; UNVERIFIED)."""
    return f"{post_url(urn)}?commentUrn={quote(comment, safe='')}"


# --- helpers ----------------------------------------------------------------------------------


def _image_ref(urn: str, alt: str | None) -> dict[str, str]:
    return {"id": urn, "altText": alt} if alt else {"id": urn}


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _matches(element: dict[str, Any], post: OutboundPost) -> bool:
    if element.get("lifecycleState", "PUBLISHED") != "PUBLISHED":
        return False
    content = element.get("content") or {}
    if "media" in content:
        images = 1
    else:
        images = len((content.get("multiImage") or {}).get("images") or [])
    if images != len(post.media):
        return False
    commentary = str(element.get("commentary", ""))
    return _normalise(from_little(commentary)) == _normalise(post.text)


def _receipt(element: dict[str, Any], now: datetime) -> Receipt:
    urn = str(element["id"])
    when = _millis(element.get("publishedAt")) or _millis(element.get("createdAt"))
    return Receipt(urn, post_url(urn), when or now)


def _millis(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "an unknown time"


def _is_duplicate(body: dict[str, Any]) -> bool:
    input_errors = ((body.get("errorDetails") or {}).get("inputErrors")) or []
    if any(isinstance(e, dict) and e.get("code") == "DUPLICATE_POST" for e in input_errors):
        return True
    return "duplicate of urn:li:" in str(body.get("message", "")).lower()


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


#: A post's URN as the Posts API takes it.
_POST_URN = re.compile(r"urn:li:(?:share|ugcPost):[0-9]{1,25}")
#: A comment's URN as the socialActions API names it.
_COMMENT_URN = re.compile(r"urn:li:comment:\(urn:li:[A-Za-z]+:[0-9]{1,25},[0-9]{1,25}\)")
