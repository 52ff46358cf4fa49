"""`campaign resolve --published URL`: each network's module reads the id its API takes from
the address a person copied (never the address's last segment on trust), refuses addresses of
another host, account or shape (exit 2, in the user's language, nothing written), and looks
up the addresses that carry a shortcode instead of the id (Instagram, Threads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaign_scheduler.channels.base import AccountSettings
from campaign_scheduler.channels.published import PublishedAddressError, PublishedPart
from campaign_scheduler.channels.registry import channel_class
from campaign_scheduler.cli import app
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace

RKEY = "3lzq7x2k4ab2c"

#: The settings of one account per network, as config.toml gives them.
ACCOUNTS: dict[str, tuple[str, dict[str, Any]]] = {
    "mastodon": ("https://social.soest.example", {}),
    "bluesky": ("https://bsky.social", {"identifier": "soest.bsky.social"}),
    "x": ("https://api.x.com", {}),
    "facebook": ("https://graph.facebook.com", {"page_id": "104512345678901"}),
    "instagram": ("https://graph.facebook.com", {"user_id": "17841400000000001"}),
    "linkedin": ("https://api.linkedin.com", {"organization": "5515715"}),
    "telegram": ("https://api.telegram.org", {"chat": "@stadtsoest"}),
    "matrix": ("https://matrix.soest.example", {"room": "!rathaus:soest.example"}),
    "threads": ("https://graph.threads.net", {"user_id": "2500000000000001"}),
    "webhook": ("", {"url": "https://cms.soest.example/hook"}),
}


def account(network: str, **settings: Any) -> AccountSettings:
    base_url, defaults = ACCOUNTS[network]
    return AccountSettings(f"soest-{network}", base_url, {**defaults, **settings})


def read(network: str, url: str, **settings: Any) -> PublishedPart:
    return channel_class(network).published_part(url, account(network, **settings))


# --- the shapes each network's addresses have (channels.md, the networks' pages) -------------

READABLE = [
    # Mastodon: a status's url and its uri, on the account's instance.
    ("mastodon", "https://social.soest.example/@stadt/113000000000000001", "113000000000000001"),
    ("mastodon", "https://social.soest.example/users/stadt/statuses/1130000001", "1130000001"),
    ("mastodon", "https://social.soest.example/@stadt/113000000000000001/", "113000000000000001"),
    # Bluesky: the record's at:// URI, under the handle or DID the address names.
    (
        "bluesky",
        f"https://bsky.app/profile/soest.bsky.social/post/{RKEY}",
        f"at://soest.bsky.social/app.bsky.feed.post/{RKEY}",
    ),
    (
        "bluesky",
        f"https://bsky.app/profile/Soest.Bsky.Social/post/{RKEY}?ref_src=embed",
        f"at://soest.bsky.social/app.bsky.feed.post/{RKEY}",
    ),
    # X: x.com and twitter.com, with the user name or /i/web/; tracking queries ignored.
    ("x", "https://x.com/StadtSoest/status/1445880548472328192", "1445880548472328192"),
    (
        "x",
        "https://twitter.com/StadtSoest/status/1445880548472328192?s=20&t=ab",
        "1445880548472328192",
    ),
    ("x", "https://x.com/i/web/status/1445880548472328192", "1445880548472328192"),
    (
        "x",
        "https://mobile.x.com/StadtSoest/status/1445880548472328192/photo/1",
        "1445880548472328192",
    ),
    # Facebook: the Graph id is PAGEID_POSTID.
    (
        "facebook",
        "https://www.facebook.com/104512345678901/posts/987654321098765",
        "104512345678901_987654321098765",
    ),
    (
        "facebook",
        "https://www.facebook.com/permalink.php?story_fbid=987654321098765&id=104512345678901",
        "104512345678901_987654321098765",
    ),
    (
        "facebook",
        "https://m.facebook.com/story.php?story_fbid=987654321098765&id=104512345678901#x",
        "104512345678901_987654321098765",
    ),
    # LinkedIn: the post's URN, as this adapter links it (also percent-encoded).
    (
        "linkedin",
        "https://www.linkedin.com/feed/update/urn:li:share:7141138937766391808/",
        "urn:li:share:7141138937766391808",
    ),
    (
        "linkedin",
        "https://www.linkedin.com/feed/update/urn%3Ali%3AugcPost%3A7141138937766391808",
        "urn:li:ugcPost:7141138937766391808",
    ),
    # Telegram: the message id, in the configured channel.
    ("telegram", "https://t.me/stadtsoest/4711", "4711"),
    ("telegram", "https://t.me/StadtSoest/4711?single", "4711"),
    # Matrix: the event id from the matrix.to permalink of the configured room.
    (
        "matrix",
        "https://matrix.to/#/%21rathaus%3Asoest.example/%24Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg?via=soest.example",
        "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
    ),
    # Webhook: the receiver's own address is the only identity an outsider has.
    ("webhook", "https://cms.soest.example/news/42", "https://cms.soest.example/news/42"),
]


@pytest.mark.parametrize(("network", "url", "remote_id"), READABLE)
def test_each_network_reads_the_id_its_api_takes_from_a_post_address(
    network: str, url: str, remote_id: str
) -> None:
    assert read(network, url) == PublishedPart(remote_id)


def test_a_bluesky_address_with_the_accounts_did_gives_the_did_uri() -> None:
    did = "did:plc:abc123xyz"
    url = f"https://bsky.app/profile/{did}/post/{RKEY}"
    assert read("bluesky", url, identifier=did) == PublishedPart(
        f"at://{did}/app.bsky.feed.post/{RKEY}"
    )


def test_a_telegram_address_of_a_private_channel_gives_the_message_id() -> None:
    assert read("telegram", "https://t.me/c/1234567890/88", chat="-1001234567890") == (
        PublishedPart("88")
    )


COMMENTS = [
    (
        "facebook",
        "https://www.facebook.com/104512345678901/posts/987654321098765?comment_id=1122334455",
        "987654321098765_1122334455",
    ),
    (
        "instagram",
        "https://www.instagram.com/p/C8xYz12AbCd/c/17858893269000001/",
        "17858893269000001",
    ),
    (
        "linkedin",
        (
            "https://www.linkedin.com/feed/update/urn:li:share:7141138937766391808/?commentUrn="
            "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A7141138937766391808%2C7141200000000000000%29"
        ),
        "urn:li:comment:(urn:li:activity:7141138937766391808,7141200000000000000)",
    ),
]


@pytest.mark.parametrize(("network", "url", "remote_id"), COMMENTS)
def test_a_comments_address_gives_the_comments_id_marked_as_a_comment(
    network: str, url: str, remote_id: str
) -> None:
    assert read(network, url) == PublishedPart(remote_id, comment=True)


# --- what is refused --------------------------------------------------------------------------

LONG = "https://x.com/StadtSoest/status/1445880548472328192?" + "a" * 2100

REFUSED = [
    # another origin
    ("mastodon", "https://mastodon.social/@stadt/113000000000000001"),
    ("mastodon", "https://social.soest.example.evil.example/@stadt/1130"),
    ("bluesky", f"https://bsky.app.evil.example/profile/soest.bsky.social/post/{RKEY}"),
    ("x", "https://x.com.evil.example/StadtSoest/status/1445880548472328192"),
    ("facebook", "https://www.facebook.com.evil.example/104512345678901/posts/987654321098765"),
    ("telegram", "https://telegram.me.evil.example/stadtsoest/4711"),
    ("matrix", "https://matrix.to.evil.example/#/%21rathaus%3Asoest.example/%24abc"),
    # another account, instance, page, channel or room
    ("bluesky", f"https://bsky.app/profile/olpe.bsky.social/post/{RKEY}"),
    ("bluesky", f"https://bsky.app/profile/did:plc:someoneelse/post/{RKEY}"),
    ("facebook", "https://www.facebook.com/999999999999999/posts/987654321098765"),
    ("facebook", "https://www.facebook.com/permalink.php?story_fbid=98765&id=999999999"),
    ("telegram", "https://t.me/olpe/4711"),
    ("matrix", "https://matrix.to/#/%21ratssaal%3Aolpe.example/%24Rqnc"),
    # an address that is not a post's, or whose id is not where the network puts it
    ("mastodon", "https://social.soest.example/@stadt"),
    ("mastodon", "https://social.soest.example/about?id=1130"),
    ("x", "https://x.com/StadtSoest"),
    ("x", "https://x.com/StadtSoest/status/14458x"),
    ("x", "https://x.com/home#1445880548472328192"),
    ("bluesky", f"https://bsky.app/profile/soest.bsky.social/feed/{RKEY}"),
    ("facebook", "https://www.facebook.com/104512345678901/posts/pfbid02abc"),
    ("linkedin", "https://www.linkedin.com/feed/update/urn:li:activity:7141138937766391808/"),
    (
        "linkedin",
        "https://www.linkedin.com/posts/stadt-soest_klima-activity-7141138937766391808-AbCd",
    ),
    ("telegram", "https://t.me/stadtsoest"),
    ("instagram", "https://www.instagram.com/stadt.soest/"),
    ("threads", "https://www.threads.net/@stadt.soest"),
    # hostile input: schemes, credentials, control characters, overlong
    ("x", "http://x.com/StadtSoest/status/1445880548472328192"),
    ("x", "javascript://x.com/StadtSoest/status/1445880548472328192"),
    ("x", "https://user:pw@x.com/StadtSoest/status/1445880548472328192"),
    ("x", "https://x.com/StadtSoest/status/1445880548472328192\n"),
    ("x", "https://x.com/StadtSoest/status/14458805\x1b[31m48472328192"),
    ("x", "https://x.com/StadtSoest/status/1445880548472328192\u202e"),
    ("x", " https://x.com/StadtSoest/status/1445880548472328192"),
    ("x", LONG),
    ("x", ""),
    ("webhook", "ftp://cms.soest.example/news/42"),
]


@pytest.mark.parametrize(("network", "url"), REFUSED)
def test_an_address_of_another_origin_account_or_shape_is_refused_naming_the_shape(
    network: str, url: str
) -> None:
    with pytest.raises(PublishedAddressError) as refused:
        read(network, url)
    assert refused.value.exit_code == 2
    assert "--published" in refused.value.message
    assert "expected https://" in refused.value.message
    assert "\n" not in refused.value.message and "\x1b" not in refused.value.message
    assert len(refused.value.message) < 400  # an overlong address is not repeated whole


def test_a_channel_that_cannot_read_addresses_refuses_rather_than_guess() -> None:
    from campaign_scheduler.channels.base import Channel

    class Quiet(Channel):
        name = "quiet"

        def publish(self, post: Any) -> Any:
            raise NotImplementedError

        def verify(self) -> str:
            return ""

    with pytest.raises(PublishedAddressError):
        Quiet.published_part("https://quiet.example/p/1", AccountSettings("q", ""))


# --- the addresses that name a shortcode: looked up among the account's own posts ------------


def test_an_instagram_post_address_is_looked_up_to_its_media_id(tmp_path: Path) -> None:
    from campaign_scheduler.sandbox.instagram import InstagramSandbox
    from test_instagram_channel import post, setup_on

    with InstagramSandbox().start_in_process() as sandbox:
        ig = setup_on(sandbox, tmp_path)
        channel = ig.channel()
        receipt = channel.publish(post(media=(ig.image(),)))
        assert receipt.url is not None and receipt.remote_id not in receipt.url
        shortcode = receipt.url.rstrip("/").rsplit("/", 1)[-1]
        url = f"https://www.instagram.com/p/{shortcode}/"  # as the app shows it
        assert channel.find_published(url) == PublishedPart(receipt.remote_id)
        with pytest.raises(PublishedAddressError, match="not among the latest posts"):
            channel.find_published("https://www.instagram.com/p/Zz9Yy8Xx7Ww/")


def test_a_threads_post_address_is_looked_up_to_its_media_id(tmp_path: Path) -> None:
    from campaign_scheduler.sandbox.threads import ThreadsSandbox
    from test_threads_channel import post, setup_on

    with ThreadsSandbox().start_in_process() as sandbox:
        th = setup_on(sandbox, tmp_path)
        channel = th.channel()
        receipt = channel.publish(post())
        assert receipt.url is not None and receipt.remote_id not in receipt.url
        shortcode = receipt.url.rstrip("/").rsplit("/", 1)[-1]
        url = f"https://www.threads.net/@stadt.soest/post/{shortcode}"
        assert channel.find_published(url) == PublishedPart(receipt.remote_id)


# --- the command ------------------------------------------------------------------------------


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["--config", str(ws.config_file), *args])


def unknown(ws: Workspace, runner: CliRunner) -> None:
    ws.draft("soest/01-klima")
    assert invoke(runner, ws, "load", "--as", "anna").exit_code == 0
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            delivery.state = "unknown"
            delivery.version += 1
    store.dispose()


def test_resolve_records_the_bluesky_record_uri_not_the_last_segment(
    workspace: Workspace, runner: CliRunner
) -> None:
    unknown(workspace, runner)
    url = f"https://bsky.app/profile/soest.example/post/{RKEY}"
    result = invoke(
        runner, workspace, "resolve", "soest/01-klima", "--account", "soest-bluesky",
        "--published", url, "--as", "eva",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    history = json.loads(invoke(runner, workspace, "history", "--json").stdout)
    bluesky = next(h for h in history if h["account"] == "soest-bluesky")
    assert (bluesky["state"], bluesky["url"], bluesky["remote_id"]) == (
        "published",
        url,
        f"at://soest.example/app.bsky.feed.post/{RKEY}",
    )


@pytest.mark.parametrize(
    ("lang", "said"),
    [("en", "is not the address of a post of"), ("de", "ist nicht die Adresse eines Beitrags")],
)
def test_resolve_refuses_an_address_of_another_account_in_the_users_language(
    workspace: Workspace, runner: CliRunner, lang: str, said: str
) -> None:
    unknown(workspace, runner)
    result = invoke(
        runner, workspace, "--lang", lang, "resolve", "soest/01-klima",
        "--account", "soest-bluesky", "--published",
        f"https://bsky.app/profile/olpe.example/post/{RKEY}", "--as", "eva",
    )  # fmt: skip
    assert result.exit_code == 2
    assert said in result.stderr
    assert "--published" in result.stderr
    history = json.loads(invoke(runner, workspace, "history", "--json").stdout)
    assert {h["state"] for h in history} == {"unknown"}  # nothing written


def test_a_facebook_address_with_the_pages_name_is_looked_up_among_the_pages_posts() -> None:
    from campaign_scheduler.channels._http import make_session
    from campaign_scheduler.channels.facebook import FacebookChannel
    from campaign_scheduler.sandbox.facebook import FacebookSandbox
    from test_facebook_channel import account_on, post

    with FacebookSandbox().start_in_process() as sandbox, make_session() as http:
        channel = FacebookChannel(account_on(sandbox), sandbox.mount(http), timeout=5)
        receipt = channel.publish(post())
        _page, number = receipt.remote_id.split("_")
        by_name = f"https://www.facebook.com/StadtSoest/posts/{number}"
        assert channel.find_published(by_name) == PublishedPart(receipt.remote_id)
        with pytest.raises(PublishedAddressError):
            channel.find_published("https://www.facebook.com/StadtSoest/posts/pfbid0zZz")


def test_an_x_address_is_checked_against_the_accounts_own_posts() -> None:
    from campaign_scheduler.channels._http import make_session
    from campaign_scheduler.sandbox.x import XSandbox
    from sandbox_clock import Clock
    from test_x_channel import channel_for, post

    with XSandbox(clock=Clock()).start_in_process() as sandbox, make_session() as http:
        session = sandbox.mount(http)
        ours = channel_for(sandbox, sandbox.add_account("suedwestfalen"), session)
        theirs = channel_for(sandbox, sandbox.add_account("olpe"), session)
        mine, other = ours.publish(post()), theirs.publish(post("Aus Olpe #5malklug"))
        assert ours.find_published(f"https://x.com/suedwestfalen/status/{mine.remote_id}") == (
            PublishedPart(mine.remote_id)
        )
        with pytest.raises(PublishedAddressError, match="is not a post of"):
            ours.find_published(f"https://x.com/i/web/status/{other.remote_id}")


def test_a_linkedin_address_is_checked_against_the_organisations_own_posts() -> None:
    from campaign_scheduler.channels._http import make_session
    from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
    from sandbox_clock import Clock
    from test_linkedin_channel import channel_for, post

    with LinkedInSandbox(clock=Clock()).start_in_process() as sandbox, make_session() as http:
        session = sandbox.mount(http)
        ours = channel_for(sandbox, sandbox.add_account("Südwestfalen Agentur"), session)
        theirs = channel_for(sandbox, sandbox.add_account("Stadt Olpe"), session)
        mine, other = ours.publish(post()), theirs.publish(post("Aus Olpe #5malklug"))
        assert mine.url is not None and other.url is not None
        assert ours.find_published(mine.url) == PublishedPart(mine.remote_id)
        with pytest.raises(PublishedAddressError, match="is not a post of"):
            ours.find_published(other.url)
