"""The interface every network adapter implements, and the values that cross it.

An adapter turns an :class:`OutboundPost` into a call to one network's HTTP API and returns a
:class:`Receipt`, or raises one of the :class:`~campaign_scheduler.errors.ChannelError`
subclasses. It receives a ``requests.Session`` and the account's settings; it knows nothing of
the database, the scheduler or the CLI.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, overload

from campaign_scheduler.channels.catalog import ChannelSpec, VideoLimits
from campaign_scheduler.channels.text import NO_LIMIT, TextRule
from campaign_scheduler.figures import PostFigures
from campaign_scheduler.media import MediaLocation, read_regular
from campaign_scheduler.timeutil import utcnow

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels._http import ApiClient
    from campaign_scheduler.channels.published import PublishedPart
    from campaign_scheduler.errors import OutcomeUnknownError


@dataclass(frozen=True)
class MediaFile:
    """An image (or other file) to attach, with its alt text.

    Adapters read the file with :meth:`read_bytes`, never through ``path``: it refuses a file
    outside its sender's folder, a symlink and anything that is not a regular file."""

    path: Path
    alt: str | None
    mime_type: str
    #: Where the draft says the file is; the publisher always sets it.
    location: MediaLocation | None = None

    def read_bytes(self) -> bytes:
        """The file's bytes; raises :class:`OSError` (``MediaRefusedError`` for a refusal)."""
        if self.location is not None:
            return self.location.read()
        return read_regular(self.path)

    @property
    def is_video(self) -> bool:
        """Whether this is a video (by the media type the publisher gave it)."""
        return self.mime_type.startswith("video/")

    def read(self, channel: str) -> bytes:
        """The file's bytes; :class:`RejectedError` (naming ``channel``) when it cannot be
        read. Every adapter reads media through here."""
        from campaign_scheduler.errors import RejectedError

        try:
            return self.read_bytes()
        except OSError as exc:
            raise RejectedError(
                f"{channel}: cannot read media file {self.path}: {exc.strerror or exc}"
            ) from exc


@dataclass(frozen=True)
class LinkPreview:
    """The card of a post's first link: its page's OpenGraph data, fetched before publishing
    (``campaign check``/``load``), never by the adapter."""

    url: str
    title: str
    description: str = ""
    thumb: bytes | None = field(default=None, repr=False)
    thumb_type: str | None = None  # image/png, image/jpeg, image/gif or image/webp


@dataclass(frozen=True)
class OutboundPost:
    """One post as it is sent to one account."""

    text: str
    language: str
    idempotency_key: str  # stable per delivery: the same on every retry
    media: tuple[MediaFile, ...] = ()
    reply_to: str | None = None  # remote id of the post this one continues (threads)
    link_card: LinkPreview | None = None  # shown by networks that take one, for posts without media
    #: Remote id of the post this is the first comment of (networks with a ``comment_rule``):
    #: ``publish`` comments on that post, ``look_up`` searches that post's comments.
    comment_on: str | None = None
    #: Call before every write to the network that is part of publishing this post (a media
    #: upload, a container, the post itself). It raises when this worker may no longer write
    #: (its lease was taken over); adapters let that exception pass and stop.
    checkpoint: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)


@dataclass(frozen=True)
class Receipt:
    """What the network says about a published post."""

    remote_id: str
    url: str | None
    published_at: datetime


@dataclass(frozen=True)
class Metrics(PostFigures):
    """Figures of one post at one moment. ``None`` means the network does not tell."""

    followers: int | None = None


@dataclass(frozen=True)
class TagUse:
    """A post by someone else that uses the campaign's hashtag (earned reach)."""

    remote_id: str
    author: str  # the author's handle or id, as the network shows it
    posted_at: datetime
    url: str | None = None


@dataclass(frozen=True)
class AccountSettings:
    """An account as an adapter sees it. ``secret(key)`` reads a secret at the moment of use."""

    name: str
    base_url: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secret: Callable[[str], str] = field(default=lambda key: "", repr=False)


ApiT = TypeVar("ApiT", bound="ApiClient")


class AccountApi(Generic[ApiT]):
    """A channel's HTTP dialect, declared once: ``api = AccountApi(MastodonApi)`` in the class
    body makes ``self.api`` a ``MastodonApi`` for the adapter's account (made with the adapter)
    and tells the type checker so."""

    def __init__(self, dialect: type[ApiT]) -> None:
        self.dialect = dialect
        self.attribute = "api"

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    @overload
    def __get__(self, channel: None, owner: type | None = None) -> AccountApi[ApiT]: ...

    @overload
    def __get__(self, channel: Channel, owner: type | None = None) -> ApiT: ...

    def __get__(
        self, channel: Channel | None, owner: type | None = None
    ) -> AccountApi[ApiT] | ApiT:
        return self if channel is None else self.make(channel)

    def make(self, channel: Channel) -> ApiT:
        """The client for ``channel``'s account, made once (it then stands in the instance)."""
        made = channel.__dict__.get(self.attribute)
        if not isinstance(made, self.dialect):
            made = self.dialect(
                channel.name,
                channel.account,
                channel.session,
                timeout=channel.timeout,
                clock=channel.clock,
            )
            channel.__dict__[self.attribute] = made
        return made


class ChannelProvider(Protocol):
    """Where the publisher and the metrics collector get the adapter for an account."""

    def channel_for(self, account_name: str) -> Channel: ...


class Channel(ABC):
    """One network. Subclasses register under the entry-point group
    ``campaign_scheduler.channels``; the built-in ones do too."""

    #: The entry-point name, e.g. "mastodon".
    name: ClassVar[str]
    #: What an account of this channel has in config.toml, and what the network can do.
    spec: ClassVar[ChannelSpec] = ChannelSpec()
    #: How the network counts a post's text, and its limits.
    text_rule: ClassVar[TextRule] = NO_LIMIT
    #: How the network counts a first comment (``first_comment`` of a draft) and how much it
    #: takes; ``None`` when the channel cannot comment on its own posts.
    comment_rule: ClassVar[TextRule | None] = None
    #: How long the network remembers an idempotency key and returns the original post for it
    #: instead of creating a second one; ``None`` when the network has no such guarantee.
    idempotency_window: ClassVar[timedelta | None] = None
    #: Whether :meth:`look_up` can find a post after a crash.
    can_look_up: ClassVar[bool] = False
    #: Whether :meth:`search_hashtag` can list other people's posts with a hashtag.
    can_search_hashtag: ClassVar[bool] = False

    #: The network's guided connect flow for ``campaign accounts connect``, as
    #: ``"module:Class"`` (imported only when used; see :mod:`campaign_scheduler.auth.base`);
    #: ``None`` when tokens come from the developer console only.
    connect_flow: ClassVar[str | None] = None
    #: The sandbox a rehearsal (``campaign rehearsal``, the demo) runs this network on, as
    #: ``"module:Class"`` of a :class:`~campaign_scheduler.rehearsal.networks.RehearsalNetwork`;
    #: ``None``: rehearsals do not cover it.
    rehearsal_network: ClassVar[str | None] = None

    #: The client of the network's HTTP dialect for the account: declared as
    #: ``api = AccountApi(MastodonApi)`` (made with the adapter).
    api: ApiClient
    #: The dialect's class (set from ``api = AccountApi(…)``; a channel may set it instead,
    #: and the constructor makes ``self.api`` from it).
    api_class: ClassVar[type[ApiClient] | None] = None

    def __init__(
        self,
        account: AccountSettings,
        session: requests.Session,
        *,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 1.0,
        max_polls: int = 60,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.account = account
        self.session = session
        self.timeout = timeout
        self.base_url = account.base_url.rstrip("/")
        #: The time now, aware UTC; adapters read the time only through it.
        self.clock = clock
        #: How an adapter waits for media the network processes after the upload.
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self._sleep = sleep
        declared = getattr(type(self), "api", None)
        if isinstance(declared, AccountApi):
            declared.make(self)
        elif self.api_class is not None:
            self.api = self.api_class(self.name, account, session, timeout=timeout, clock=clock)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("api")
        if isinstance(declared, AccountApi):
            cls.api_class = declared.dialect

    @classmethod
    def title(cls) -> str:
        """The network's name as people write it ("LinkedIn")."""
        return cls.spec.title or cls.name

    def setting(self, key: str) -> str:
        """The account's setting ``key`` as text; :class:`ChannelError` when it is missing."""
        from campaign_scheduler.errors import ChannelError

        value = self.account.settings.get(key)
        if value is None or str(value).strip() == "":
            raise ChannelError(
                f"{self.name}: {self.account.name} has no {key}",
                hint=f"set {key} of the account in config.toml",
            )
        return str(value).strip()

    def search_exhausted(self, searched: str, where: str = "account") -> OutcomeUnknownError:
        """The error of a lookup that ran out of pages before it reached the time it searched
        back to: ``searched`` says what it went through ("more than 1000 posts since …")."""
        from campaign_scheduler.errors import OutcomeUnknownError

        return OutcomeUnknownError(
            f"{self.name}: {self.account.name}: {searched}; could not search back far enough",
            hint=f"check the {where} by hand and settle the delivery with `campaign resolve`",
        )

    def text_limit(self) -> int | None:
        """The account's text limit in the network's unit, if it has its own (e.g. an
        instance's ``max_characters``); ``None`` means the network's documented default."""
        return None

    def validate(self, post: OutboundPost) -> list[str]:
        """Problems that would make the network refuse ``post``; empty when it may go out."""
        issues = self.text_rule.issues(
            self.name, post.text, with_media=bool(post.media), limit=self.text_limit()
        )
        return [
            *(issue.message() for issue in issues),
            *media_limit_problems(self.title(), self.spec, post.media),
            *video_mix_problems(self.title(), self.spec.video, post.media),
            *self.post_problems(post),
        ]

    def post_problems(self, post: OutboundPost) -> list[str]:
        """What the network refuses about ``post`` besides the length of its text and the mix
        of its videos (media it cannot take, a reply it cannot make); :meth:`validate` adds
        them to its own."""
        return []

    @abstractmethod
    def publish(self, post: OutboundPost) -> Receipt:
        """Create the post. Raises a ChannelError subclass when that fails."""

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """Find ``post`` among the account's posts created since ``since`` (after a crash).

        Returns ``None`` when it is certainly not there. Only called when ``can_look_up``.
        """
        raise NotImplementedError(f"{self.name} cannot look posts up")

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """The post's current figures."""
        raise NotImplementedError(f"{self.name} has no metrics")

    def search_hashtag(self, hashtag: str, *, since: datetime) -> list[TagUse]:
        """Public posts using ``hashtag`` (without '#') created since ``since``, newest first.

        Only called when ``can_search_hashtag``."""
        raise NotImplementedError(f"{self.name} cannot search hashtags")

    def delete(self, remote_id: str) -> None:
        """Remove a published post."""
        raise NotImplementedError(f"{self.name} cannot delete posts")

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """The API's id of the post (or first comment) of ``account`` at its public address
        ``url``, as a person gives it to ``campaign resolve --published``; read from the
        address alone. Raises :class:`~campaign_scheduler.channels.published.PublishedAddressError`
        (naming the shape the network's addresses have) for an address of another host,
        account or shape. A channel that cannot tell refuses every address: the record never
        takes a guess for an id."""
        from campaign_scheduler.channels.published import refusal
        from campaign_scheduler.uilang import msg

        raise refusal(
            cls.title(), account.name, url, msg("an address this channel can read (none known)")
        )

    def find_published(self, url: str) -> PublishedPart:
        """:meth:`published_part`, asking the network where the address does not carry the id
        (an Instagram or Threads shortcode): only the account's own posts are found."""
        return self.published_part(url, self.account)

    @abstractmethod
    def verify(self) -> str:
        """Check the credentials; return the account's handle or name as the network shows it."""


def media_limit_problems(
    network: str, spec: ChannelSpec, media: tuple[MediaFile, ...]
) -> list[str]:
    """What ``spec`` refuses about a post's images: how many, their kind, their size. One
    wording for every network; the limits are the network's (its ``spec``)."""
    from campaign_scheduler.uilang import msg

    images = [item for item in media if not item.is_video]
    problems = []
    if spec.max_images is not None and len(images) > spec.max_images:
        problems.append(
            msg(
                "{network} takes at most {count} image(s) in one post; this one has {given}",
                network=network,
                count=spec.max_images,
                given=len(images),
            )
        )
    for item in images:
        if not spec.other_files and not item.mime_type.startswith("image/"):
            problems.append(
                msg(
                    "{network} takes only images and videos, not {type} ({file})",
                    network=network,
                    type=item.mime_type,
                    file=item.path.name,
                )
            )
            continue
        if spec.max_image_bytes is None:
            continue
        try:
            size = item.path.stat().st_size
        except OSError:
            continue  # reported when it is read
        if size > spec.max_image_bytes:
            problems.append(
                msg(
                    "{file} is too large for {network}: {size} bytes, at most {limit}",
                    file=item.path.name,
                    network=network,
                    size=size,
                    limit=spec.max_image_bytes,
                )
            )
    return problems


def video_mix_problems(
    network: str, limits: VideoLimits | None, media: tuple[MediaFile, ...]
) -> list[str]:
    """What ``limits`` refuse about a post's videos as a whole: video at all, how many, video
    next to images (the probe's findings per file are ``campaign check``'s business)."""
    videos = sum(1 for item in media if item.is_video)
    return video_count_problems(network, limits, videos, len(media) - videos)


def video_count_problems(
    network: str, limits: VideoLimits | None, videos: int, images: int
) -> list[str]:
    """The per-post video rules of ``limits`` for ``videos`` videos and ``images`` images."""
    from campaign_scheduler.uilang import msg

    if not videos:
        return []
    if limits is None:
        return [msg("{network} takes no video here", network=network)]
    problems = []
    if videos > limits.per_post:
        problems.append(
            msg(
                "at most {count} video per post on {network}",
                count=limits.per_post,
                network=network,
            )
        )
    if images and not limits.with_images:
        problems.append(msg("{network} takes a video only without images", network=network))
    return problems
