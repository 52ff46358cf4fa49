"""What the channel contract suite needs from each network: a running sandbox, adapters
pointed at it, and the network's faults in its own dialect.

Each module in tests/harnesses/ defines ``HARNESS``: a callable taking a temporary folder that
returns a started :class:`Harness` (a context manager). test_channel_contract.py runs the same
cases against every harness it finds, so a new network joins the suite by adding one module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from campaign_scheduler.channels.base import Channel


@dataclass(frozen=True)
class Created:
    """A post as the sandbox holds it, in network-neutral terms."""

    remote_id: str
    text: str  # the visible text (markup removed)
    language: str | None = None
    media_alts: tuple[str | None, ...] = ()
    reply_to: str | None = None  # the remote id of the parent post, if any
    #: The alt text of each video the post carries ("" or None where the network keeps none).
    videos: tuple[str | None, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


class Harness(ABC):
    """One network's sandbox with a valid account and switchable faults."""

    #: The channel name (entry point), e.g. "mastodon".
    name: str
    #: The network keeps a language tag on posts (Mastodon `language`, Bluesky `langs`).
    keeps_language: bool = True
    #: The network threads replies (reply chains exist).
    supports_replies: bool = True
    #: Posts need an image (Instagram).
    requires_media: bool = False
    #: The network stores alt text for images.
    supports_alt_text: bool = True
    #: The network stores alt text for videos too.
    video_alt_text: bool = True
    #: A video travels inside the one call that creates the post (Facebook's /videos).
    video_in_creating_call: bool = False
    #: Images travel inside the one call that creates the post (no separate upload).
    media_in_creating_call: bool = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def channel(self, *, timeout: float = 5.0) -> Channel:
        """An adapter for the seeded account, pointed at the sandbox."""

    @abstractmethod
    def channel_with_bad_credentials(self) -> Channel:
        """An adapter whose credentials the sandbox refuses (expired, revoked or wrong)."""

    @abstractmethod
    def created(self) -> list[Created]:
        """Every post the sandbox holds for the seeded account, oldest first."""

    # Faults, each for the next post-creating call, in the network's own dialect.

    @abstractmethod
    def fail_next(self, status: int = 503) -> None:
        """A server error; nothing is created."""

    @abstractmethod
    def rate_limit_next(self, reset_in: float = 60.0) -> None:
        """The network's rate-limit answer, telling to retry after ``reset_in`` seconds."""

    @abstractmethod
    def reject_next(self) -> None:
        """A permanent refusal of this post (validation error); nothing is created."""

    @abstractmethod
    def drop_after_create(self) -> None:
        """Create the post, then close the connection without answering."""

    @abstractmethod
    def set_delay(self, seconds: float) -> None:
        """From now on, answer every call ``seconds`` late (after doing the work); 0 = off."""
