"""The first comment on the real APIs' loopback sandboxes (Instagram, Facebook, LinkedIn): the
adapters comment on their own post, look the comment up after a lost answer among the post's
comments, and let a refusal through as a refusal; and the whole publish path on each."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, Channel, OutboundPost, Receipt
from campaign_scheduler.channels.facebook import FacebookChannel
from campaign_scheduler.channels.linkedin import LinkedInChannel
from campaign_scheduler.errors import OutcomeUnknownError, RejectedError
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
from campaign_scheduler.store.engine import Store
from conftest import Workspace
from test_first_comment import with_facebook
from test_instagram_channel import setup_on
from test_publishing import DUE, Clock, delivery, load, store, worker

__all__ = ["store"]  # a fixture shared with test_publishing

COMMENT = "#5malklug #Soest #Klimaschutz – alles zur Konferenz: https://example.org/konferenz"


class Network:
    """One network's sandbox and adapter, and what the sandbox holds as comments."""

    def __init__(
        self,
        sandbox: Any,
        channel: Channel,
        post: OutboundPost,
        comments: Callable[[], list[tuple[str, str]]],
    ) -> None:
        self.sandbox = sandbox
        self.channel = channel
        self.post = post
        self.comments = comments  # (post id, text) of the account's own comments

    def comment(self, on: str, text: str = COMMENT) -> OutboundPost:
        return OutboundPost(
            text=text, language="de", idempotency_key=f"{uuid.uuid4().hex}.2", comment_on=on
        )


def outbound(text: str, **kwargs: Any) -> OutboundPost:
    return OutboundPost(text=text, language="de", idempotency_key=uuid.uuid4().hex, **kwargs)


def instagram(tmp_path: Path) -> Iterator[Network]:
    with InstagramSandbox().start_in_process() as sandbox:
        setup = setup_on(sandbox, tmp_path)
        channel = setup.channel()
        user = setup.account.settings["user_id"]
        yield Network(
            sandbox,
            channel,
            outbound("Soest wird klimaneutral.", media=(setup.image(),)),
            lambda: [(m, t) for m, a, t in sandbox.comments() if a == user],
        )


def facebook(tmp_path: Path) -> Iterator[Network]:
    with FacebookSandbox().start_in_process() as sandbox, make_session() as http:
        page_id, token = sandbox.add_page("Stadt Soest")
        account = AccountSettings(
            "soest-facebook", sandbox.url, {"page_id": page_id}, secret={"token": token}.__getitem__
        )
        channel = FacebookChannel(account, sandbox.mount(http), timeout=5)

        def comments() -> list[tuple[str, str]]:
            return [
                (s.reply_to, s.text)
                for s in sandbox.statuses()
                if s.kind == "comment" and s.reply_to is not None
            ]

        yield Network(sandbox, channel, outbound("Soest wird klimaneutral."), comments)


def linkedin(tmp_path: Path) -> Iterator[Network]:
    with LinkedInSandbox().start_in_process() as sandbox, make_session() as http:
        account = sandbox.add_account("Stadt Soest")
        settings = AccountSettings(
            "soest-linkedin",
            sandbox.url,
            {"organization": account.organization},
            secret=lambda key: account.token,
        )
        channel = LinkedInChannel(
            settings, sandbox.mount(http), timeout=5, poll_interval=0, sleep=lambda s: None
        )
        yield Network(
            sandbox,
            channel,
            outbound("Soest wird klimaneutral."),
            lambda: [(p, t) for p, a, t in sandbox.comments() if a == account.organization],
        )


NETWORKS = {"instagram": instagram, "facebook": facebook, "linkedin": linkedin}


@pytest.fixture(params=sorted(NETWORKS))
def network(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Network]:
    yield from NETWORKS[request.param](tmp_path)


def since(receipt: Receipt) -> Any:
    return receipt.published_at - timedelta(minutes=2)


def test_the_adapter_comments_on_its_own_post(network: Network) -> None:
    post = network.channel.publish(network.post)
    assert network.channel.look_up(network.comment(post.remote_id), since=since(post)) is None
    comment = network.channel.publish(network.comment(post.remote_id))
    assert network.comments() == [(post.remote_id, COMMENT)]
    assert comment.remote_id != post.remote_id
    found = network.channel.look_up(network.comment(post.remote_id), since=since(post))
    assert found is not None and found.remote_id == comment.remote_id


def test_a_lost_answer_on_the_comment_is_found_among_the_posts_comments(
    network: Network,
) -> None:
    post = network.channel.publish(network.post)
    network.sandbox.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        network.channel.publish(network.comment(post.remote_id))
    [(on, _)] = network.comments()  # it was made
    found = network.channel.look_up(network.comment(post.remote_id), since=since(post))
    assert found is not None and on == post.remote_id
    # ... and the post itself is still found as the post, not as its comment.
    again = network.channel.look_up(network.post, since=since(post))
    assert again is not None and again.remote_id == post.remote_id


def test_a_comment_the_network_refuses_is_a_refusal(network: Network) -> None:
    post = network.channel.publish(network.post)
    with pytest.raises(RejectedError):
        network.channel.publish(network.comment(post.remote_id, "x" * 9000))
    assert network.comments() == []


@pytest.mark.parametrize("name", ["facebook", "linkedin"])
def test_the_publisher_puts_post_and_comment_out_through_the_adapter(
    name: str, workspace: Workspace, store: Store, tmp_path: Path
) -> None:
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima", channels=("facebook",), extra='first_comment = "#Soest #Klimaschutz"\n'
    )
    load(workspace, store)
    for net in NETWORKS[name](tmp_path):
        net.sandbox.drop_after_create()  # the post goes out, its answer is lost
        clock = Clock(DUE)
        w = worker(store, workspace, net.channel, clock)  # type: ignore[arg-type]
        w.tick()
        assert delivery(store).state == "retry_wait"
        clock.advance(minutes=1)
        w.tick()
        d = delivery(store)
        assert d.state == "published", d.state_reason
        assert net.comments() == [(d.remote_id, "#Soest #Klimaschutz")]
        assert [p.get("kind") for p in d.parts or []] == [None, "comment"]
