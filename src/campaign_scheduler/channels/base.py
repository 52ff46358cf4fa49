"""The interface every network adapter implements, and the values that cross it.

An adapter turns an :class:`OutboundPost` into a call to one network's HTTP API and returns a
:class:`Receipt`, or raises one of the :class:`~campaign_scheduler.errors.ChannelError`
subclasses. It receives a ``requests.Session`` and the account's settings; it knows nothing of
the database, the scheduler or the CLI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from campaign_scheduler.channels.text import text_length_issues
from campaign_scheduler.media import MediaLocation, read_regular

if TYPE_CHECKING:
    import requests


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


@dataclass(frozen=True)
class OutboundPost:
    """One post as it is sent to one account."""

    text: str
    language: str
    idempotency_key: str  # stable per delivery: the same on every retry
    media: tuple[MediaFile, ...] = ()
    reply_to: str | None = None  # remote id of the post this one continues (threads)


@dataclass(frozen=True)
class Receipt:
    """What the network says about a published post."""

    remote_id: str
    url: str | None
    published_at: datetime


@dataclass(frozen=True)
class Metrics:
    """Figures of one post at one moment. ``None`` means the network does not tell."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    reach: int | None = None
    clicks: int | None = None
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


class Channel(ABC):
    """One network. Subclasses register under the entry-point group
    ``campaign_scheduler.channels``; the built-in ones do too."""

    #: The entry-point name, e.g. "mastodon".
    name: ClassVar[str]
    #: How long the network remembers an idempotency key and returns the original post for it
    #: instead of creating a second one; ``None`` when the network has no such guarantee.
    idempotency_window: ClassVar[timedelta | None] = None
    #: Whether :meth:`look_up` can find a post after a crash.
    can_look_up: ClassVar[bool] = False
    #: Whether :meth:`search_hashtag` can list other people's posts with a hashtag.
    can_search_hashtag: ClassVar[bool] = False

    def __init__(
        self, account: AccountSettings, session: requests.Session, *, timeout: float = 30.0
    ):
        self.account = account
        self.session = session
        self.timeout = timeout

    def text_limit(self) -> int | None:
        """The account's text limit in the network's unit, if it has its own (e.g. an
        instance's ``max_characters``); ``None`` means the network's documented default."""
        return None

    def validate(self, post: OutboundPost) -> list[str]:
        """Problems that would make the network refuse ``post``; empty when it may go out."""
        issues = text_length_issues(
            self.name, post.text, with_media=bool(post.media), limit=self.text_limit()
        )
        return [issue.message() for issue in issues]

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

    @abstractmethod
    def verify(self) -> str:
        """Check the credentials; return the account's handle or name as the network shows it."""
