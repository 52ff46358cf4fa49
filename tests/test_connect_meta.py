"""Connecting Facebook Pages, Instagram and Threads accounts, end to end against the Graph
sandboxes' login endpoints: the test plays the browser (the authorize address consents at once
and redirects to the flow's loopback receiver), and the token the flow stores then posts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from auth_browser import NOW, Clock, flow_context
from campaign_scheduler.auth.base import ConnectContext, flow_for
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.errors import AuthError, ChannelError, UsageError
from campaign_scheduler.sandbox._graph_login import DAY, LONG_LIVED
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.threads import ThreadsSandbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with make_session() as http:
        yield http


def context(
    channel: str,
    url: str,
    session: requests.Session,
    clock: Clock,
    said: list[str],
    answers: tuple[str, ...] = (),
    /,
    **options: str,
) -> ConnectContext:
    return flow_context(channel, url, session, clock, answers, say=said.append, options=options)


def test_facebook_connect_stores_a_page_token_that_never_expires_and_posts(
    clock: Clock, session: requests.Session
) -> None:
    with FacebookSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(session)
        soest, _ = sandbox.add_page("Stadt Soest")
        olpe, _ = sandbox.add_page("Stadt Olpe")
        user = sandbox.login.add_user("Anna Admin")
        sandbox.login.grant_page(user, soest, name="Stadt Soest", acts_as=soest)
        sandbox.login.grant_page(user, olpe, name="Stadt Olpe", acts_as=olpe)
        app = sandbox.login.oauth.add_app(["http://127.0.0.1/callback"])
        said: list[str] = []
        ctx = context(
            "facebook",
            sandbox.url,
            session,
            clock,
            said,
            ("2",),  # the second Page of the list
            client_id=app.client_id,
            client_secret=app.client_secret,
        )
        record = flow_for("facebook").connect(ctx)

        assert record.extra["page_id"] == olpe
        assert record.extra["page_name"] == "Stadt Olpe"
        assert record.expires_at is None  # derived from a long-lived user token
        assert (
            record.extra["data_access_expires_at"]
            == datetime.fromtimestamp(NOW + 90 * DAY, UTC).isoformat()
        )
        assert all(record.access_token not in line for line in said)
        assert all(app.client_secret not in line for line in said)
        assert flow_for("facebook").refresh(record, ctx) is None

        clock.now += LONG_LIVED + DAY  # long after the user token ran out
        answer = session.post(
            f"{sandbox.url}/v25.0/{olpe}/feed",
            data={"message": "Hallo Olpe", "access_token": record.access_token},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        assert [(p.owner_id, p.text) for p in sandbox.statuses()] == [(olpe, "Hallo Olpe")]


def test_facebook_connect_takes_the_page_named_in_the_options_and_refuses_others(
    clock: Clock, session: requests.Session
) -> None:
    with FacebookSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(session)
        soest, _ = sandbox.add_page("Stadt Soest")
        user = sandbox.login.add_user("Anna Admin")
        sandbox.login.grant_page(user, soest, name="Stadt Soest", acts_as=soest)
        app = sandbox.login.oauth.add_app(["http://127.0.0.1/callback"])
        creds = {"client_id": app.client_id, "client_secret": app.client_secret}
        record = flow_for("facebook").connect(
            context("facebook", sandbox.url, session, clock, [], page_id=soest, **creds)
        )
        assert record.extra["page_id"] == soest
        with pytest.raises(UsageError, match="not among"):
            flow_for("facebook").connect(
                context("facebook", sandbox.url, session, clock, [], page_id="999", **creds)
            )
        with pytest.raises(AuthError):
            flow_for("facebook").connect(
                context(
                    "facebook",
                    sandbox.url,
                    session,
                    clock,
                    [],
                    client_id=app.client_id,
                    client_secret="falsch",
                )
            )


def test_instagram_connect_finds_the_business_account_behind_the_page(
    clock: Clock, session: requests.Session
) -> None:
    with InstagramSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(session)
        ig_id, _ = sandbox.add_account("stadt.soest")
        user = sandbox.login.add_user("Anna Admin")
        sandbox.login.grant_page(user, "5550001", name="Stadt Soest", acts_as=ig_id)
        app = sandbox.login.oauth.add_app(["http://127.0.0.1/callback"])
        creds = {"client_id": app.client_id, "client_secret": app.client_secret}
        with pytest.raises(ChannelError, match="no Instagram professional account"):
            flow_for("instagram").connect(
                context("instagram", sandbox.url, session, clock, [], **creds)
            )

        user = sandbox.login.add_user("Berta Admin")
        sandbox.login.grant_page(
            user, "5550002", name="Stadt Soest", acts_as=ig_id, instagram_id=ig_id
        )
        record = flow_for("instagram").connect(
            context("instagram", sandbox.url, session, clock, [], **creds)
        )
        assert record.extra["user_id"] == ig_id and record.extra["page_id"] == "5550002"
        assert "instagram_content_publish" in (record.scope or "")
        answer = session.get(
            f"{sandbox.url}/v25.0/{ig_id}/media",
            params={"access_token": record.access_token},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text


def test_threads_connect_gets_a_long_lived_token_and_refreshes_it_before_it_expires(
    clock: Clock, session: requests.Session
) -> None:
    with ThreadsSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(session)
        user_id, _ = sandbox.add_account("stadt.soest")
        sandbox.login.oauth.consent_as = user_id
        app = sandbox.login.oauth.add_app(["http://127.0.0.1/callback"])
        ctx = context(
            "threads",
            sandbox.url,
            session,
            clock,
            [],
            client_id=app.client_id,
            client_secret=app.client_secret,
        )
        record = flow_for("threads").connect(ctx)
        assert record.extra["user_id"] == user_id
        assert record.expires_at == datetime.fromtimestamp(NOW + LONG_LIVED, UTC)

        clock.now += LONG_LIVED - 5 * DAY
        refreshed = flow_for("threads").refresh(record, ctx)
        assert refreshed is not None and refreshed.access_token != record.access_token
        assert refreshed.expires_at == datetime.fromtimestamp(clock.now + LONG_LIVED, UTC)
        assert refreshed.extra == record.extra

        clock.now += 10 * DAY  # the old token ran out; the refreshed one posts
        for token, status in ((record.access_token, 400), (refreshed.access_token, 200)):
            answer = session.post(
                f"{sandbox.url}/v1.0/{user_id}/threads",
                data={"media_type": "TEXT", "text": "Hallo", "access_token": token},
                timeout=5,
            )
            assert answer.status_code == status, answer.text
        with pytest.raises(AuthError):
            flow_for("threads").refresh(record, ctx)  # an expired token cannot be refreshed
