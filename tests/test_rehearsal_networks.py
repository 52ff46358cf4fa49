"""The rehearsal's networks: every sandbox seeded so that the real adapter publishes there, lists
what was published, grows figures that the adapter reads back, and (where searchable) holds
other people's hashtag posts."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from campaign_scheduler.channels.base import (
    AccountSettings,
    Channel,
    MediaFile,
    Metrics,
    OutboundPost,
    Receipt,
)
from campaign_scheduler.channels.registry import make_channel
from campaign_scheduler.errors import InputError
from campaign_scheduler.rehearsal import networks as networks_module
from campaign_scheduler.rehearsal.networks import (
    NETWORKS,
    RehearsalNetwork,
    SeededAccount,
    start_all,
)

TEXT = (
    "Noch 7 Tage bis zur Smart Cities: Konferenz! Die Südwestfalen Agentur zählt mit fünf "
    "Städten herunter. #5malklug"
)


@dataclass(frozen=True)
class Expect:
    grows: tuple[str, ...]  # Metrics fields that must be above zero after growing
    absent: tuple[str, ...]  # Metrics fields the network does not report (None)
    image: bool = False  # publish with an image (the network needs one, or fetches it by URL)


EXPECT = {
    "mastodon": Expect(("likes", "reposts", "followers"), ("views", "reach", "clicks", "quotes")),
    "bluesky": Expect(("likes", "reposts", "followers"), ("views", "reach", "clicks")),
    "x": Expect(("likes", "reposts", "views", "clicks", "followers"), ("reach",)),
    "facebook": Expect(
        ("likes", "replies", "reposts", "views", "reach", "clicks", "followers"), ("quotes",)
    ),
    "instagram": Expect(("likes", "views", "reach", "followers"), ("quotes", "clicks"), image=True),
    "threads": Expect(("likes", "views", "followers"), ("reach", "clicks"), image=True),
    "linkedin": Expect(("likes", "views", "reach", "clicks", "followers"), ("quotes",)),
    "telegram": Expect((), tuple(f.name for f in fields(Metrics))),
    "matrix": Expect(("likes", "followers"), ("reposts", "quotes", "views", "reach", "clicks")),
    "webhook": Expect((), ()),
}


def adapter(channel: str, name: str, seeded: SeededAccount) -> Channel:
    account = AccountSettings(
        name,
        str(seeded.settings["base_url"]),
        seeded.settings,
        secret=lambda key: seeded.secrets[key],
    )
    return make_channel(channel, account, timeout=5.0)


def picture(folder: Path) -> MediaFile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "countdown.png"
    Image.new("RGB", (120, 120), (0, 110, 160)).save(path)
    return MediaFile(path, "Ein blaues Quadrat mit dem Countdown", "image/png")


def publish(channel: Channel, media: tuple[MediaFile, ...] = ()) -> Receipt:
    post = OutboundPost(TEXT, "de", uuid.uuid4().hex, media=media)
    assert channel.validate(post) == []
    return channel.publish(post)


@pytest.fixture
def network(request: pytest.FixtureRequest) -> Iterator[RehearsalNetwork]:
    started = NETWORKS[request.param]()
    started.start()
    try:
        yield started
    finally:
        started.stop()


def has_metrics(channel: Channel) -> bool:
    return type(channel).fetch_metrics is not Channel.fetch_metrics


def test_every_network_is_there_under_its_channel_name() -> None:
    assert set(NETWORKS) == set(EXPECT)
    assert all(cls.channel == name for name, cls in NETWORKS.items())


@pytest.mark.parametrize("network", sorted(NETWORKS), indirect=True)
def test_the_real_adapter_publishes_and_reads_growing_figures(
    network: RehearsalNetwork, tmp_path: Path
) -> None:
    name = f"suedwestfalen-{network.channel}"
    expect = EXPECT[network.channel]
    media_folder = tmp_path / "posts" / "suedwestfalen" / "media"
    seeded = network.seed(name, "suedwestfalen", media_folder=media_folder)
    assert seeded.settings["base_url"] == network.url
    channel = adapter(network.channel, name, seeded)

    receipt = publish(channel, (picture(media_folder),) if expect.image else ())

    [listed] = network.published()
    assert (listed.remote_id, listed.account) == (receipt.remote_id, name)
    assert "Smart Cities" in listed.text and "#5malklug" in listed.text
    assert abs(listed.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    rng = random.Random(11)
    network.grow_engagement(rng, 60)
    if not has_metrics(channel):
        network.grow_engagement(rng, 2000)
        assert network.published() == [listed]
        return
    early = channel.fetch_metrics(receipt)
    network.grow_engagement(rng, 2000)
    late = channel.fetch_metrics(receipt)
    for figure in fields(Metrics):
        before, after = getattr(early, figure.name), getattr(late, figure.name)
        if figure.name in expect.absent:
            assert before is None and after is None, figure.name
        elif before is not None:
            assert after is not None and after >= before, figure.name
    for figure_name in expect.grows:
        assert (getattr(late, figure_name) or 0) > 0, figure_name
    if expect.grows:
        assert late != early


@pytest.mark.parametrize("network", ["mastodon"], indirect=True)
def test_other_people_use_the_hashtag_where_it_can_be_searched(
    network: RehearsalNetwork,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    seeded = network.seed("soest-mastodon", "soest", media_folder=None)
    channel = adapter("mastodon", "soest-mastodon", seeded)
    receipt = publish(channel)

    network.post_by_others("5malklug", random.Random(3), 3)
    network.post_by_others("#anderes", random.Random(4), 1)

    found = channel.search_hashtag("5malklug", since=since)
    others = [use for use in found if use.remote_id != receipt.remote_id]
    assert len(others) == 3
    assert all(use.author != "soest" for use in others)
    assert [p.remote_id for p in network.published()] == [receipt.remote_id]


@pytest.mark.parametrize("network", ["bluesky"], indirect=True)
def test_bluesky_keeps_other_peoples_hashtag_posts_with_tag_facets(
    network: RehearsalNetwork,
) -> None:
    from campaign_scheduler.sandbox.bluesky import BlueskySandbox

    network.seed("olpe-bluesky", "olpe", media_folder=None)
    network.post_by_others("5malklug", random.Random(3), 2)

    assert network.published() == []
    assert isinstance(network.sandbox, BlueskySandbox)
    records = network.sandbox.records()
    assert len(records) == 2
    for record in records:
        assert record.handle != "olpe.test"
        [facet] = [f for f in record.facets if f["features"][0].get("tag") == "5malklug"]
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert record.text.encode()[start:end] == b"#5malklug"


@pytest.mark.parametrize("network", ["telegram", "webhook"], indirect=True)
def test_networks_without_search_ignore_posts_by_others(network: RehearsalNetwork) -> None:
    network.seed(f"arnsberg-{network.channel}", "arnsberg", media_folder=None)
    network.post_by_others("5malklug", random.Random(1), 3)
    network.grow_engagement(random.Random(1), 100)
    assert network.published() == []


def figures_after_two_rounds(channel_name: str, seed: int, folder: Path) -> list[Metrics]:
    network = NETWORKS[channel_name]()
    network.start()
    try:
        results = []
        receipts = []
        for sender in ("arnsberg", "bad-berleburg"):
            name = f"{sender}-{channel_name}"
            seeded = network.seed(name, sender, media_folder=folder)
            channel = adapter(channel_name, name, seeded)
            receipts.append((channel, publish(channel)))
        rng = random.Random(seed)
        network.grow_engagement(rng, 120)
        network.grow_engagement(rng, 900)
        for channel, receipt in receipts:
            results.append(channel.fetch_metrics(receipt))
        return results
    finally:
        network.stop()


@pytest.mark.parametrize("channel_name", ["mastodon", "matrix", "linkedin"])
def test_the_same_seed_gives_the_same_figures(channel_name: str, tmp_path: Path) -> None:
    first = figures_after_two_rounds(channel_name, 5, tmp_path)
    again = figures_after_two_rounds(channel_name, 5, tmp_path)
    other = figures_after_two_rounds(channel_name, 6, tmp_path)
    assert first == again
    assert first != other
    arnsberg, bad_berleburg = first
    # Arnsberg is the bigger town: it has more followers where the network counts them.
    assert (arnsberg.followers or 0) >= (bad_berleburg.followers or 0)


def test_figures_grow_fast_at_first_then_level_off_and_never_fall() -> None:
    network = networks_module.MastodonNetwork()
    network.start()
    try:
        seeded = network.seed("soest-mastodon", "soest", media_folder=None)
        channel = adapter("mastodon", "soest-mastodon", seeded)
        receipt = publish(channel)
        rng = random.Random(2)
        likes = []
        for minutes in (0, 60, 120, 180, 600, 1200, 3000, 2000):
            network.grow_engagement(rng, minutes)
            likes.append(channel.fetch_metrics(receipt).likes or 0)
        assert likes == sorted(likes)
        assert likes[3] - likes[0] > likes[6] - likes[4]  # the first three hours outgrow the rest
        assert likes[-1] == likes[-2]  # the clock going back changes nothing
    finally:
        network.stop()


def test_start_all_starts_each_network_once_and_refuses_unknown_channels() -> None:
    started = start_all(["webhook", "telegram", "webhook"])
    try:
        assert sorted(started) == ["telegram", "webhook"]
        assert all(network.url.startswith("http://127.0.0.1:") for network in started.values())
    finally:
        for network in started.values():
            network.stop()
    with pytest.raises(InputError, match="myspace"):
        start_all(["mastodon", "myspace"])


def test_start_all_stops_what_it_started_when_one_network_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped: list[str] = []

    class Broken(networks_module.WebhookNetwork):
        def start(self) -> None:
            raise OSError("no free port")

    class Watched(networks_module.TelegramNetwork):
        def stop(self) -> None:
            stopped.append(self.channel)
            super().stop()

    monkeypatch.setitem(NETWORKS, "webhook", Broken)
    monkeypatch.setitem(NETWORKS, "telegram", Watched)
    with pytest.raises(OSError, match="no free port"):
        start_all(["telegram", "webhook"])
    assert stopped == ["telegram"]


def test_each_channel_class_names_its_rehearsal_network() -> None:
    """The channel class is the one place for a network's facts: NETWORKS is read through the
    registry from ``Channel.rehearsal_network``, not from a list of names."""
    from campaign_scheduler.channels.registry import channel_class

    for name, network in NETWORKS.items():
        module, _, attr = str(channel_class(name).rehearsal_network).partition(":")
        assert (module, attr) == (network.__module__, network.__name__)
