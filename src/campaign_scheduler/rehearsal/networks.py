"""The ten network sandboxes as a rehearsal uses them: started together, seeded with accounts,
and brought to life with simulated engagement.

A :class:`RehearsalNetwork` wraps one sandbox of :mod:`campaign_scheduler.sandbox`. It

* creates an account there for a config.toml account (:meth:`~RehearsalNetwork.seed`): what
  the real adapter needs to publish, look posts up and read their figures, as plain settings
  (with ``base_url``) and secrets;
* lists what our accounts published (:meth:`~RehearsalNetwork.published`);
* lets figures grow (:meth:`~RehearsalNetwork.grow_engagement`) through the sandbox's own
  setters, so that the metrics collector and the report have something to show;
* lets other people use the campaign hashtag where the network can be searched
  (:meth:`~RehearsalNetwork.post_by_others`).

The engagement model. Each post gets lifetime figures once, when it is first seen: a typical
figure per network (:attr:`~RehearsalNetwork.figures`) times the sender's weight
(:data:`SENDER_WEIGHTS`: the agency and the bigger towns reach more people) times a per-post
draw. A figure then approaches its lifetime value as ``1 - exp(-age / engagement_minutes)``:
most of it arrives in the first hours, then it levels off. The draws come from a random
generator seeded from the caller's ``rng`` and the post's account and text, so the same seed and
the same calls give the same figures. A post's age counts from the middle of the interval in
which it first appeared (between the previous call and this one): ``minutes_since_start``
should be simulated campaign minutes, the clock of the campaign rather than of the machine.

Settings the rehearsal changes on the sandboxes, because a campaign of three weeks played in a
minute would otherwise meet limits it never meets for real: Instagram and Threads containers are
ready at once (the adapters would wait seconds between status polls), and Telegram's per-chat
flood limit is off.
"""

from __future__ import annotations

import importlib
import math
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import ClassVar, Protocol

from campaign_scheduler.errors import CampaignSchedulerError, InputError
from campaign_scheduler.sandbox._graph import GraphPost
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.sandbox.matrix import MatrixSandbox
from campaign_scheduler.sandbox.telegram import TelegramSandbox
from campaign_scheduler.sandbox.threads import ThreadsSandbox
from campaign_scheduler.sandbox.webhook import WebhookSandbox
from campaign_scheduler.sandbox.x import XSandbox
from campaign_scheduler.uilang import msg

#: How much more (or less) a sender's posts reach than an average account: the agency speaks
#: for the whole region, then the towns by size. Unknown senders count 1.0.
SENDER_WEIGHTS: Mapping[str, float] = {
    "suedwestfalen": 1.6,
    "arnsberg": 1.3,
    "menden": 1.15,
    "soest": 1.15,
    "olpe": 0.9,
    "bad-berleburg": 0.8,
}
#: The time constant of engagement, in simulated minutes: after it, about 63 % of a post's
#: lifetime figures are there, after three times as long about 95 %.
ENGAGEMENT_MINUTES = 180.0

_TOWNS = ("Arnsberg", "Bad Berleburg", "Menden", "Olpe", "Soest", "Südwestfalen")
_OTHERS = (
    "lena_sauerland",
    "kai_aus_arnsberg",
    "digitales_olpe",
    "soester_boerde",
    "wittgensteiner",
    "mendener_jung",
    "smartcity_fan",
    "netzwerk_swf",
)
_OTHER_TEXTS = (
    "Schon gesehen? {town} zählt die Tage bis zur Smart Cities: Konferenz. {tag}",
    "Wir sind dabei und freuen uns auf den Austausch in Südwestfalen! {tag}",
    "Digitalisierung auf dem Land – spannend, was in {town} gerade passiert. {tag}",
    "Tolle Aktion, weiter so! Grüße aus {town} {tag}",
    "Wer fährt noch zur Konferenz? Ich komme aus {town}. {tag}",
)
_READER_REPLIES = (
    "Bin dabei!",
    "Super Sache, danke für die Info.",
    "Wann genau geht es los?",
    "Freue mich schon auf die Konferenz.",
)
_REACTIONS = ("👍", "❤️", "🎉", "👏")


#: Lifetime figures of a post: ``name -> count``, or ``name -> (share, other name)``.
Figures = Mapping[str, float | tuple[float, str]]


@dataclass(frozen=True)
class SeededAccount:
    """An account created in a sandbox, as config.toml needs it."""

    #: Plain keys of ``[accounts.NAME]``, with ``base_url``.
    settings: dict[str, str | int]
    #: Secret key -> value; the rehearsal stores them as ``env:`` references.
    secrets: dict[str, str]


@dataclass(frozen=True)
class PublishedPost:
    """A post one of our seeded accounts published."""

    remote_id: str  # as the adapter's Receipt has it
    account: str  # the account name given to seed()
    text: str
    created_at: datetime


@dataclass(frozen=True)
class _Raw:
    """A post as a sandbox lists it: whose it is in the sandbox's terms, and what it says."""

    owner: str
    remote_id: str
    text: str
    created_at: datetime


@dataclass
class _Growth:
    born: float  # simulated minute at which the post (probably) appeared
    pace: float  # this post's time constant, relative to engagement_minutes
    lifetime: dict[str, float]
    now: dict[str, int] = field(default_factory=dict)


class _Sandbox(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...

    @property
    def url(self) -> str: ...


class RehearsalNetwork(ABC):
    """One network's sandbox as a rehearsal drives it (see the module documentation)."""

    #: The channel name (the adapter's entry point).
    channel: ClassVar[str]
    #: Lifetime figures of a typical post of an account of weight 1, in the sandbox's own
    #: names: ``name -> count`` or ``name -> (share, other name)`` for a figure that is a share
    #: of another (reach of views, clicks of impressions). Empty: the network has no figures.
    figures: ClassVar[Figures] = {}
    #: Followers of an account of weight 1 when it is seeded (0: the network shows none).
    followers: ClassVar[int] = 0

    #: The sandbox (each network narrows the type) and how it is made.
    sandbox: _Sandbox
    sandbox_class: ClassVar[Callable[[], _Sandbox]]

    def __init__(self) -> None:
        self.sandbox = type(self).sandbox_class()
        #: Simulated minutes until a post has about 63 % of its lifetime figures.
        self.engagement_minutes = ENGAGEMENT_MINUTES
        self._lock = threading.RLock()
        self._owners: dict[str, str] = {}  # the sandbox's id of an account -> account name
        self._weights: dict[str, float] = {}  # account name -> weight
        self._growth: dict[tuple[str, str], _Growth] = {}
        self._seed: int | None = None
        self._last_minutes = 0.0

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.sandbox.start()

    def stop(self) -> None:
        self.sandbox.stop()

    @property
    def url(self) -> str:
        """The sandbox's base URL (while it runs)."""
        return self.sandbox.url

    # --- accounts and posts -------------------------------------------------------------------

    def seed(self, account_name: str, sender: str, *, media_folder: Path | None) -> SeededAccount:
        """Create ``account_name`` of ``sender`` in the sandbox. ``media_folder`` is the
        sender's ``posts/<sender>/media`` folder, served by networks that download images
        from a URL."""
        weight = SENDER_WEIGHTS.get(sender, 1.0)
        owner, seeded = self._create(
            account_name, sender, media_folder, round(self.followers * weight)
        )
        with self._lock:
            self._owners[owner] = account_name
            self._weights[account_name] = weight
        return seeded

    def published(self) -> list[PublishedPost]:
        """What our seeded accounts published and did not delete, oldest first."""
        with self._lock:
            owners = dict(self._owners)
        return [
            PublishedPost(raw.remote_id, owners[raw.owner], raw.text, raw.created_at)
            for raw in self._posts()
            if raw.owner in owners
        ]

    def post_by_others(  # noqa: B027 - most networks cannot be searched: nothing to do
        self, hashtag: str, rng: random.Random, count: int
    ) -> None:
        """``count`` posts by other people that use ``hashtag`` (with or without '#'), where
        the network can be searched for it; elsewhere nothing happens."""

    # --- engagement ---------------------------------------------------------------------------

    def grow_engagement(self, rng: random.Random, minutes_since_start: float) -> None:
        """Raise the figures of every published post to where they are ``minutes_since_start``
        simulated minutes into the rehearsal. Figures never go down."""
        if not self.figures:
            return
        with self._lock:
            if self._seed is None:
                self._seed = rng.getrandbits(64)
            minutes = max(minutes_since_start, self._last_minutes)
            for post in self.published():
                key = (post.account, post.remote_id)
                growth = self._growth.get(key)
                if growth is None:
                    growth = self._first_sight(post, (self._last_minutes + minutes) / 2)
                    self._growth[key] = growth
                target = self._figures_at(growth, minutes)
                if target == growth.now:
                    continue
                try:
                    self._apply(post.remote_id, target, growth.now)
                except KeyError:  # deleted since it was listed
                    continue
                growth.now = target
            self._last_minutes = minutes

    def _first_sight(self, post: PublishedPost, born: float) -> _Growth:
        draw = random.Random(f"{self._seed}|{self.channel}|{post.account}|{post.text}")
        potential = self._weights.get(post.account, 1.0) * draw.lognormvariate(0.0, 0.45)
        lifetime: dict[str, float] = {}
        for name, typical in self.figures.items():
            jitter = draw.uniform(0.75, 1.25)
            if isinstance(typical, tuple):
                share, other = typical
                lifetime[name] = lifetime[other] * share * jitter
            else:
                lifetime[name] = typical * potential * jitter
        return _Growth(born=born, pace=draw.uniform(0.7, 1.4), lifetime=lifetime)

    def _figures_at(self, growth: _Growth, minutes: float) -> dict[str, int]:
        age = max(0.0, minutes - growth.born)
        reached = 1.0 - math.exp(-age / (self.engagement_minutes * growth.pace))
        return {
            name: max(growth.now.get(name, 0), round(total * reached))
            for name, total in growth.lifetime.items()
        }

    # --- what each network implements ---------------------------------------------------------

    @abstractmethod
    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        """Create the account; return the sandbox's id of it (as :meth:`_posts` names owners)
        and what config.toml needs."""

    @abstractmethod
    def _posts(self) -> list[_Raw]:
        """Every post in the sandbox that is not deleted, oldest first."""

    def _apply(  # noqa: B027 - networks without figures never get here
        self, remote_id: str, figures: dict[str, int], before: dict[str, int]
    ) -> None:
        """Make the sandbox show ``figures`` (they were ``before``) for ``remote_id``; raise
        KeyError when the post is gone."""


def _slug(sender: str) -> str:
    """``sender`` as a user name where hyphens are not allowed."""
    return sender.replace("-", "_")


def _tag(hashtag: str) -> str:
    return "#" + hashtag.lstrip("#＃")


def _other_post(hashtag: str, rng: random.Random) -> tuple[str, str]:
    """Someone else's handle and a German post of theirs with ``hashtag``."""
    text = rng.choice(_OTHER_TEXTS).format(town=rng.choice(_TOWNS), tag=_tag(hashtag))
    return rng.choice(_OTHERS), text


# --- the networks -----------------------------------------------------------------------------


class MastodonNetwork(RehearsalNetwork):
    channel = "mastodon"
    sandbox: MastodonSandbox
    sandbox_class = MastodonSandbox
    figures: ClassVar[Figures] = {"favourites": 11.0, "reblogs": 5.0, "replies": 1.5}
    followers = 900

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        username = _slug(sender)
        token = self.sandbox.add_account(username, followers=followers)
        return username, SeededAccount({"base_url": self.url}, {"token": token})

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(s.username, s.id, s.text, s.created_at)
            for s in self.sandbox.statuses()
            if not s.deleted
        ]

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        # quotes stay unset: the sandbox says it is Mastodon 4.3, which has no quote counts.
        self.sandbox.set_engagement(remote_id, **figures)

    def post_by_others(self, hashtag: str, rng: random.Random, count: int) -> None:
        for _ in range(count):
            username, text = _other_post(hashtag, rng)
            self.sandbox.post_as(username, text)


class BlueskyNetwork(RehearsalNetwork):
    channel = "bluesky"
    sandbox: BlueskySandbox
    sandbox_class = BlueskySandbox
    figures: ClassVar[Figures] = {"likes": 14.0, "reposts": 4.0, "replies": 2.0, "quotes": 0.6}
    followers = 600

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        handle = f"{sender}.test"
        password = self.sandbox.add_account(handle, followers=followers)
        settings: dict[str, str | int] = {"base_url": self.url, "identifier": handle}
        return handle, SeededAccount(settings, {"password": password})

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(r.handle, r.uri, r.text, r.indexed_at)
            for r in self.sandbox.records()
            if not r.deleted
        ]

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        self.sandbox.set_engagement(remote_id, **figures)

    def post_by_others(self, hashtag: str, rng: random.Random, count: int) -> None:
        """Posts by other handles, with tag facets; the adapter finds them with
        ``searchPosts``."""
        for _ in range(count):
            username, text = _other_post(hashtag, rng)
            self.sandbox.post_as(f"{username.replace('_', '-')}.test", text)


class XNetwork(RehearsalNetwork):
    channel = "x"
    sandbox: XSandbox
    sandbox_class = XSandbox
    figures: ClassVar[Figures] = {
        "impressions": 900.0,
        "likes": 12.0,
        "retweets": 3.0,
        "replies": 1.5,
        "quotes": 0.5,
        "bookmarks": 1.2,
        "url_link_clicks": (0.015, "impressions"),
        "user_profile_clicks": (0.006, "impressions"),
    }
    followers = 2500

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        username = _slug(sender)
        credentials = self.sandbox.add_account(username, followers=followers)
        secrets = {
            "api_key": credentials.api_key,
            "api_secret": credentials.api_secret,
            "access_token": credentials.access_token,
            "access_secret": credentials.access_secret,
        }
        return username, SeededAccount({"base_url": self.url}, secrets)

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(t.username, t.id, t.text, t.created_at)
            for t in self.sandbox.statuses()
            if not t.deleted
        ]

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        self.sandbox.set_engagement(remote_id, **figures)


def _graph_posts(posts: Iterable[GraphPost]) -> list[_Raw]:
    return [_Raw(p.owner_id, p.id, p.text, p.created_at) for p in posts if not p.deleted]


class FacebookNetwork(RehearsalNetwork):
    channel = "facebook"
    sandbox: FacebookSandbox
    sandbox_class = FacebookSandbox
    figures: ClassVar[Figures] = {
        "views": 1500.0,
        "reach": (0.7, "views"),
        "clicks": (0.025, "views"),
        "reactions": 40.0,
        "comments": 5.0,
        "shares": 5.0,
    }
    followers = 6000

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        page_id, token = self.sandbox.add_page(sender, followers=followers)
        settings: dict[str, str | int] = {"base_url": self.url, "page_id": page_id}
        return page_id, SeededAccount(settings, {"token": token})

    def _posts(self) -> list[_Raw]:
        return _graph_posts(self.sandbox.statuses())

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        self.sandbox.set_engagement(remote_id, **figures)


class _ContainerNetwork(RehearsalNetwork):
    """Instagram and Threads: a Graph host with containers and images fetched from a URL."""

    sandbox: InstagramSandbox | ThreadsSandbox
    sandbox_class: ClassVar[type[InstagramSandbox | ThreadsSandbox]]

    def __init__(self) -> None:
        super().__init__()
        self.sandbox.container_polls = 0  # containers are ready at once on a compressed clock

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        user_id, token = self.sandbox.add_account(_slug(sender), followers=followers)
        settings: dict[str, str | int] = {
            "base_url": self.url,
            "user_id": user_id,
            "media_base_url": _media_url(self.sandbox, account_name, media_folder),
        }
        return user_id, SeededAccount(settings, {"token": token})

    def _posts(self) -> list[_Raw]:
        return _graph_posts(self.sandbox.statuses())

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        self.sandbox.set_engagement(remote_id, **figures)


class InstagramNetwork(_ContainerNetwork):
    channel = "instagram"
    sandbox_class = InstagramSandbox
    figures: ClassVar[Figures] = {
        "views": 1100.0,
        "reach": (0.72, "views"),
        "likes": 60.0,
        "comments": 4.0,
        "saved": 5.0,
        "shares": 6.0,
    }
    followers = 3500


class ThreadsNetwork(_ContainerNetwork):
    channel = "threads"
    sandbox_class = ThreadsSandbox
    figures: ClassVar[Figures] = {
        "views": 500.0,
        "likes": 15.0,
        "replies": 2.0,
        "reposts": 2.5,
        "quotes": 0.6,
        "shares": 1.0,
    }
    followers = 1200


def _media_url(
    sandbox: InstagramSandbox | ThreadsSandbox, name: str, media_folder: Path | None
) -> str:
    """Where the sandbox serves ``media_folder`` (without a folder: an address that answers
    404, so that an image post fails the way it would with a wrong ``media_base_url``)."""
    if media_folder is None:
        return f"{sandbox.url}/_media/{name}"
    return sandbox.serve_media(media_folder, name)


class LinkedInNetwork(RehearsalNetwork):
    channel = "linkedin"
    sandbox: LinkedInSandbox
    sandbox_class = LinkedInSandbox
    figures: ClassVar[Figures] = {
        "impressionCount": 1100.0,
        "uniqueImpressionsCount": (0.68, "impressionCount"),
        "clickCount": (0.03, "impressionCount"),
        "likeCount": 22.0,
        "commentCount": 2.0,
        "shareCount": 3.0,
    }
    followers = 2800

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        account = self.sandbox.add_account(sender, followers=followers)
        settings: dict[str, str | int] = {
            "base_url": self.url,
            "organization": account.organization,
        }
        return account.organization, SeededAccount(settings, {"token": account.token})

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(p.author, p.urn, p.text, p.created_at)
            for p in self.sandbox.statuses()
            if not p.deleted
        ]

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        self.sandbox.set_statistics(remote_id, **figures)


class TelegramNetwork(RehearsalNetwork):
    """A bot that is an administrator of the sender's channel. The Bot API reports no figures
    for channel posts, so there is no engagement to grow."""

    channel = "telegram"
    sandbox: TelegramSandbox
    sandbox_class = partial(TelegramSandbox, chat_per_minute=None)

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        username = f"{_slug(sender)}_news"
        token = self.sandbox.add_bot(f"{_slug(sender)}_bot")
        chat_id = self.sandbox.add_channel(username, title=sender, admins=[token])
        settings: dict[str, str | int] = {"base_url": self.url, "chat": f"@{username}"}
        return str(chat_id), SeededAccount(settings, {"token": token})

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(str(m.chat_id), str(m.message_id), m.text, m.date)
            for m in self.sandbox.statuses()
            if not m.deleted
        ]


class MatrixNetwork(RehearsalNetwork):
    """A room per account (``#5malklug-<sender>:localhost``) that the account's user joined.
    Readers (``@leser1`` …) join, react and answer in threads: reactions are the likes, thread
    replies the replies, and the joined readers the followers."""

    channel = "matrix"
    sandbox: MatrixSandbox
    sandbox_class = MatrixSandbox
    figures: ClassVar[Figures] = {"reactions": 4.0, "thread_replies": 0.7}

    def __init__(self) -> None:
        super().__init__()
        self._rooms: dict[str, str] = {}  # account name -> room id

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        alias = f"#5malklug-{sender}:{self.sandbox.server_name}"
        room_id = self._rooms.get(account_name)
        if room_id is None:
            room_id = self.sandbox.add_room(alias)
            self._rooms[account_name] = room_id
        token = self.sandbox.add_account(sender, rooms=(room_id,))
        settings: dict[str, str | int] = {"base_url": self.url, "room": alias}
        return self.sandbox.user_id(sender), SeededAccount(settings, {"token": token})

    def _posts(self) -> list[_Raw]:
        return [
            _Raw(e.sender, e.event_id, str(e.content.get("body", "")), e.sent_at)
            for e in self.sandbox.events()
            if e.type == "m.room.message"
            and not e.redacted
            and e.content.get("msgtype") == "m.text"
        ]

    def _apply(self, remote_id: str, figures: dict[str, int], before: dict[str, int]) -> None:
        for number in range(before.get("reactions", 0), figures["reactions"]):
            key = _REACTIONS[number % len(_REACTIONS)]
            self.sandbox.react(remote_id, key, localpart=f"leser{number + 1}")
        for number in range(before.get("thread_replies", 0), figures["thread_replies"]):
            text = _READER_REPLIES[number % len(_READER_REPLIES)]
            self.sandbox.reply_in_thread(remote_id, text, localpart=f"leser{number + 1}")


class WebhookNetwork(RehearsalNetwork):
    """An endpoint per account (``/hooks/<account name>``) that does not deduplicate, as the
    shipped config assumes. A webhook has no figures."""

    channel = "webhook"
    sandbox: WebhookSandbox
    sandbox_class = WebhookSandbox

    def _create(
        self, account_name: str, sender: str, media_folder: Path | None, followers: int
    ) -> tuple[str, SeededAccount]:
        secret = self.sandbox.add_endpoint(account_name)
        settings: dict[str, str | int] = {
            "base_url": self.url,
            "url": self.sandbox.url_for(account_name),
        }
        return account_name, SeededAccount(settings, {"secret": secret})

    def _posts(self) -> list[_Raw]:
        return [_Raw(d.endpoint, d.id, d.text, d.received_at) for d in self.sandbox.deliveries()]


def _installed_networks() -> dict[str, type[RehearsalNetwork]]:
    """The rehearsal network of every installed channel that names one
    (:attr:`Channel.rehearsal_network <campaign_scheduler.channels.base.Channel.rehearsal_network>`),
    by channel name. A channel that cannot be loaded has none."""
    from campaign_scheduler.channels.registry import available_channels, channel_class

    found: dict[str, type[RehearsalNetwork]] = {}
    for name in available_channels():
        try:
            target = channel_class(name).rehearsal_network
        except CampaignSchedulerError:
            continue
        if target:
            module_name, _, attr = target.partition(":")
            network = getattr(importlib.import_module(module_name), attr)
            if isinstance(network, type) and issubclass(network, RehearsalNetwork):
                found[name] = network
    return found


#: Channel name -> its rehearsal network, read through the channel registry.
NETWORKS: dict[str, type[RehearsalNetwork]] = _installed_networks()


def start_all(channels: Iterable[str]) -> dict[str, RehearsalNetwork]:
    """Start a sandbox for each of ``channels`` (each once); if one fails to start, the ones
    already started are stopped again."""
    wanted = sorted(set(channels))
    unknown = [name for name in wanted if name not in NETWORKS]
    if unknown:
        raise InputError(
            msg("no rehearsal sandbox for channel(s) {channels}", channels=", ".join(unknown)),
            hint=msg(
                "rehearsals cover {channels}; leave other accounts out",
                channels=", ".join(sorted(NETWORKS)),
            ),
        )
    started: dict[str, RehearsalNetwork] = {}
    try:
        for name in wanted:
            network = NETWORKS[name]()
            network.start()
            started[name] = network
    except BaseException:
        for network in started.values():
            network.stop()
        raise
    return started


__all__ = [
    "ENGAGEMENT_MINUTES",
    "NETWORKS",
    "SENDER_WEIGHTS",
    "PublishedPost",
    "RehearsalNetwork",
    "SeededAccount",
    "start_all",
]
