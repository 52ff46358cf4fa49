"""TelegramChannel against the loopback TelegramSandbox, and the rule that the bot token (part
of every URL) never shows in messages, logs or exception chains."""

from __future__ import annotations

import logging
import socket
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._http import make_session, redact_path, safe_url
from campaign_scheduler.channels.base import AccountSettings, MediaFile, Metrics, OutboundPost
from campaign_scheduler.channels.telegram import TelegramChannel, to_html
from campaign_scheduler.errors import (
    AuthError,
    ChannelError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.publishing.decide import Abilities, Do, Event, Facts, decide
from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.sandbox.telegram import TelegramSandbox
from conftest import make_video
from sandbox_clock import Clock

SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def token(sandbox: TelegramSandbox) -> str:
    token = sandbox.add_bot("arnsberg_bot", f"7100000042:{SECRET}")
    sandbox.add_channel("arnsberg_news", title="Stadt Arnsberg", admins=[token])
    return token


@pytest.fixture
def session(sandbox: TelegramSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def channel_for(
    base_url: str, token: str, session: requests.Session, chat: str = "@arnsberg_news", **kw: Any
) -> TelegramChannel:
    account = AccountSettings(
        "arnsberg-telegram", base_url, {"chat": chat}, secret={"token": token}.__getitem__
    )
    return TelegramChannel(account, session, timeout=kw.pop("timeout", 5.0), **kw)


@pytest.fixture
def channel(sandbox: TelegramSandbox, token: str, session: requests.Session) -> TelegramChannel:
    return channel_for(sandbox.url, token, session)


def post(text: str = "Arnsberg ist dabei! #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "heute.png"
    Image.new("RGB", (64, 48), (0, 90, 100)).save(path)
    return MediaFile(path, "Grafik: „Heute“ auf petrolfarbenem Grund", "image/png")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def everything_about(error: BaseException) -> str:
    """The exception as any log or traceback could show it, with its whole chain."""
    parts = ["".join(traceback.format_exception(error)), repr(error), str(error)]
    if isinstance(error, ChannelError):
        parts += [error.network_message or "", error.hint or ""]
    seen = error.__cause__ or error.__context__
    while seen is not None:
        parts.append(repr(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


# --- publishing -------------------------------------------------------------------------------


def test_publish_sends_html_with_escapes_and_links(
    channel: TelegramChannel, sandbox: TelegramSandbox
) -> None:
    text = (
        "Programm <hier> & mehr: https://smartcities-suedwestfalen.com/konferenz/?a=1&b=2 #5malklug"
    )

    receipt = channel.publish(post(text))

    [message] = sandbox.statuses("@arnsberg_news")
    assert message.parse_mode == "HTML"
    assert message.text == text  # what readers see is exactly the draft
    assert "&lt;hier&gt; &amp; mehr" in message.markup
    link = "https://smartcities-suedwestfalen.com/konferenz/?a=1&b=2"
    [entity] = message.entities
    assert entity["type"] == "text_link" and entity["url"] == link
    assert receipt.remote_id == str(message.message_id) == "1"
    assert receipt.url == "https://t.me/arnsberg_news/1"
    assert receipt.published_at == message.date


def test_to_html_escapes_only_what_telegram_needs() -> None:
    assert to_html('Zitat "a" <b> & c') == 'Zitat "a" &lt;b&gt; &amp; c'
    assert to_html("Mehr: https://example.org/?x=1&y=2.") == (
        'Mehr: <a href="https://example.org/?x=1&amp;y=2">https://example.org/?x=1&amp;y=2</a>.'
    )
    assert to_html("ohne Link: example.org") == "ohne Link: example.org"


def test_publish_photo_with_caption(
    channel: TelegramChannel, sandbox: TelegramSandbox, image: MediaFile
) -> None:
    receipt = channel.publish(post("Heute ist es so weit! #5malklug", media=(image,)))

    [message] = sandbox.statuses()
    assert message.photo is not None and message.photo.mime_type == "image/png"
    assert message.photo.size == image.path.stat().st_size
    assert message.text == "Heute ist es so weit! #5malklug"
    assert receipt.remote_id == str(message.message_id)


def test_reply_chain_uses_reply_parameters(
    channel: TelegramChannel, sandbox: TelegramSandbox, image: MediaFile
) -> None:
    first = channel.publish(post("Teil 1"))
    second = channel.publish(post("Teil 2", reply_to=first.remote_id))
    third = channel.publish(post("Teil 3", media=(image,), reply_to=second.remote_id))

    by_id = {str(m.message_id): m for m in sandbox.statuses()}
    assert by_id[second.remote_id].reply_to == int(first.remote_id)
    assert by_id[third.remote_id].reply_to == int(second.remote_id)


def test_reply_to_a_missing_message_is_rejected(channel: TelegramChannel) -> None:
    with pytest.raises(RejectedError, match="replied not found"):
        channel.publish(post("Teil 2", reply_to="99"))


def test_private_channel_by_numeric_id(sandbox: TelegramSandbox, session: requests.Session) -> None:
    token = sandbox.add_bot("olpe_bot")
    chat_id = sandbox.add_channel(None, title="Olpe intern", admins=[token])

    receipt = channel_for(sandbox.url, token, session, chat=str(chat_id)).publish(post())

    assert receipt.url == f"https://t.me/c/{str(chat_id)[4:]}/1"


def test_validate_knows_the_limits(channel: TelegramChannel, image: MediaFile) -> None:
    assert channel.validate(post("x" * 4096)) == []
    assert "4097 of 4096" in channel.validate(post("x" * 4097))[0]
    assert "caption too long" in channel.validate(post("x" * 1025, media=(image,)))[0]
    two = channel.validate(post("zwei Bilder", media=(image, image)))
    assert "Telegram takes at most 1 image(s) in one post; this one has 2" in two
    video = MediaFile(image.path, None, "video/mp4")
    assert channel.validate(post(media=(video,))) == []
    assert "caption too long" in channel.validate(post("x" * 1025, media=(video,)))[0]
    document = MediaFile(image.path, None, "application/pdf")
    assert any(
        "Telegram takes only images and videos, not application/pdf" in problem
        for problem in channel.validate(post(media=(document,)))
    )


def test_publish_video_with_caption_by_send_video(
    channel: TelegramChannel, sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), "Video: Grußwort", "video/mp4")

    receipt = channel.publish(post("Unser Grußwort <b>zur</b> Konferenz #5malklug", media=(video,)))

    [message] = sandbox.statuses()
    assert message.photo is None
    assert message.video is not None and message.video.mime_type == "video/mp4"
    assert message.video.size == video.path.stat().st_size
    assert message.text == "Unser Grußwort <b>zur</b> Konferenz #5malklug"
    assert receipt.remote_id == str(message.message_id)
    assert [c.method for c in sandbox.calls_seen] == ["sendVideo"]


def test_a_video_over_the_bot_upload_limit_is_rejected_before_it_is_sent(
    channel: TelegramChannel, sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    big = tmp_path / "lang.mp4"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    with pytest.raises(RejectedError, match="at most 52428800"):
        channel.publish(post(media=(MediaFile(big, None, "video/mp4"),)))
    assert sandbox.statuses() == []


def test_too_long_for_the_server_is_rejected(channel: TelegramChannel) -> None:
    with pytest.raises(RejectedError, match="message is too long"):
        channel.publish(post("ü" * 4097))


def test_recovery_is_left_to_a_person(channel: TelegramChannel) -> None:
    assert channel.idempotency_window is None
    assert channel.can_look_up is False
    now = datetime.now(UTC)
    facts = Facts(
        now=now,
        deadline=now + timedelta(hours=1),
        attempt=1,
        maybe_out=True,
        key_first_used=now - timedelta(seconds=10),
    )
    abilities = Abilities(channel.idempotency_window, channel.can_look_up)
    action = decide(facts, Event.LOST_ANSWER, abilities, policy=RetryPolicy())
    assert action.do is Do.ASK


# --- errors -----------------------------------------------------------------------------------


def test_revoked_token_is_an_auth_error(
    channel: TelegramChannel, sandbox: TelegramSandbox, token: str
) -> None:
    sandbox.revoke(token)
    with pytest.raises(AuthError) as caught:
        channel.publish(post())
    assert caught.value.network_message == "Unauthorized"
    assert SECRET not in everything_about(caught.value)


def test_malformed_token_is_refused_before_any_call(
    sandbox: TelegramSandbox, session: requests.Session
) -> None:
    channel = channel_for(sandbox.url, "not a token", session)
    with pytest.raises(AuthError, match="malformed"):
        channel.publish(post())
    assert sandbox.calls_seen == []


def test_bot_that_is_not_an_admin_gets_a_hint(
    sandbox: TelegramSandbox, token: str, session: requests.Session
) -> None:
    outsider = sandbox.add_bot("fremder_bot")
    with pytest.raises(AuthError) as caught:
        channel_for(sandbox.url, outsider, session).publish(post())
    assert "not a member" in (caught.value.network_message or "")
    assert caught.value.hint is not None and "administrator" in caught.value.hint


def test_unknown_chat_is_an_account_problem(
    sandbox: TelegramSandbox, token: str, session: requests.Session
) -> None:
    with pytest.raises(AuthError, match="chat not found"):
        channel_for(sandbox.url, token, session, chat="@gibt_es_nicht").publish(post())


def test_flood_control_says_when_to_retry(
    sandbox: TelegramSandbox, token: str, session: requests.Session
) -> None:
    now = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    channel = channel_for(sandbox.url, token, session, clock=lambda: now)
    sandbox.rate_limit_next(1, reset_in=7)
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())
    assert caught.value.retry_at == now + timedelta(seconds=7)
    assert sandbox.statuses() == []


def test_per_chat_flood_limit(
    channel: TelegramChannel, sandbox: TelegramSandbox, clock: Clock
) -> None:
    sandbox.chat_per_minute = 2
    channel.publish(post("eins"))
    clock.now += 10
    channel.publish(post("zwei"))
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post("drei"))
    assert caught.value.retry_at is not None
    assert 45 <= (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 51
    clock.now += 50
    channel.publish(post("drei"))


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, UnavailableError), (503, UnavailableError), (502, OutcomeUnknownError)],
)
def test_server_errors(
    channel: TelegramChannel,
    sandbox: TelegramSandbox,
    status: int,
    error: type[ChannelError],
) -> None:
    sandbox.fail_next(1, status=status)
    with pytest.raises(error):
        channel.publish(post())
    assert sandbox.statuses() == []


def test_dropped_answer_is_an_unknown_outcome(
    channel: TelegramChannel, sandbox: TelegramSandbox
) -> None:
    sandbox.drop_after_create(1)
    with pytest.raises(OutcomeUnknownError) as caught:
        channel.publish(post())
    assert len(sandbox.statuses()) == 1
    assert SECRET not in everything_about(caught.value)


def test_lost_answer_on_a_read_is_plain_unavailability(
    channel: TelegramChannel, sandbox: TelegramSandbox
) -> None:
    sandbox.delay = 1.0
    slow = channel_for(sandbox.url, f"7100000042:{SECRET}", channel.session, timeout=0.3)
    with pytest.raises(UnavailableError) as caught:
        slow.verify()
    assert not isinstance(caught.value, OutcomeUnknownError)
    sandbox.delay = 0


# --- the token stays secret -------------------------------------------------------------------


def test_safe_url_redacts_a_bot_token() -> None:
    url = f"https://api.telegram.org/bot7100000042:{SECRET}/sendMessage?chat_id=1"
    assert safe_url(url) == "https://api.telegram.org/bot<redacted>/sendMessage"
    assert redact_path(f"/bot1:{SECRET}") == "/bot<redacted>"
    assert safe_url("https://social.example/api/v1/statuses") == (
        "https://social.example/api/v1/statuses"
    )


@pytest.mark.parametrize("failure", ["refused", "timeout", "dropped"])
def test_token_never_reaches_messages_logs_or_chains(
    sandbox: TelegramSandbox,
    token: str,
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = sandbox.url
    timeout = 5.0
    if failure == "refused":
        base = f"http://127.0.0.1:{free_port()}"
    elif failure == "timeout":
        sandbox.delay, timeout = 1.0, 0.3
    else:
        sandbox.drop_after_create(1)

    with pytest.raises(ChannelError) as caught:
        channel_for(base, token, session, timeout=timeout).publish(post())
    sandbox.delay = 0
    channel_for(sandbox.url, token, session).publish(post("danach"))  # a success logs too

    assert SECRET not in everything_about(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert any("/bot<redacted>/sendMessage" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text  # the sandbox's own server log included


# --- delete, metrics, verify ------------------------------------------------------------------


def test_delete_and_already_deleted(channel: TelegramChannel, sandbox: TelegramSandbox) -> None:
    receipt = channel.publish(post())
    channel.delete(receipt.remote_id)
    assert [m.deleted for m in sandbox.statuses()] == [True]
    channel.delete(receipt.remote_id)  # gone already: no error


def test_delete_after_48_hours_is_refused(
    channel: TelegramChannel, sandbox: TelegramSandbox, clock: Clock
) -> None:
    receipt = channel.publish(post())
    clock.now += 48 * 3600 + 1
    with pytest.raises(RejectedError, match="can't be deleted"):
        channel.delete(receipt.remote_id)


def test_metrics_are_all_unknown(channel: TelegramChannel) -> None:
    receipt = channel.publish(post())
    assert channel.fetch_metrics(receipt) == Metrics()


def test_verify_names_bot_and_channel(channel: TelegramChannel) -> None:
    assert channel.verify() == "@arnsberg_bot → @arnsberg_news"


def test_verify_refuses_a_bot_without_posting_rights(
    sandbox: TelegramSandbox, session: requests.Session
) -> None:
    token = sandbox.add_bot("stumm_bot")
    sandbox.add_channel("stumm", admins=[token], can_post=False)
    with pytest.raises(AuthError, match="may not post"):
        channel_for(sandbox.url, token, session, chat="@stumm").verify()
