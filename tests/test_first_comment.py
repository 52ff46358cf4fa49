"""A draft's first comment (Instagram, Facebook, LinkedIn): parsed, rendered, checked, and
published after the post as the delivery's last part, exactly once, under compound faults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import null, select, update
from sqlalchemy.exc import OperationalError

from campaign_scheduler.alerts import find_conditions
from campaign_scheduler.channels.base import OutboundPost, Receipt
from campaign_scheduler.channels.published import PublishedPart
from campaign_scheduler.channels.text import UNIT_GRAPHEMES, TextRule, count_graphemes
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import RejectedError, UnavailableError, UsageError
from campaign_scheduler.problems import Problem
from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.journal import Journal, JournaledReceipt
from campaign_scheduler.publishing.queue import claim_abandoned
from campaign_scheduler.reasons import COMMENT_MISSING
from campaign_scheduler.reports import Format, Lang, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.rules import CheckResult, check
from campaign_scheduler.store.attention import COMMENT_FAILED, problems_since
from campaign_scheduler.store.changes import resolve
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import DeliveryRecord
from campaign_scheduler.store.queries import HistoryRow, history_rows
from conftest import Workspace
from fakes import CREATE_THEN_LOSE_ANSWER, CommentingChannel, FakeNetwork, ScriptedChannel
from test_publishing import DUE, LEASE, Clock, delivery, load, store, worker

__all__ = ["store"]  # fixture shared with test_publishing

FACEBOOK_ACCOUNT = """
[accounts.soest-facebook]
channel = "facebook"
sender = "soest"
page_id = "1122334455"
token = "env:SOEST_FACEBOOK_TOKEN"
"""
POST_TEXT = "Soest will bis 2030 klimaneutral werden. #5malklug"
COMMENT = "Alles zur Konferenz am {event.date}: {event.url}"
RENDERED = (
    "Alles zur Konferenz am 18. November 2021: https://smartcities-suedwestfalen.com/konferenz/"
)


def with_facebook(ws: Workspace) -> Workspace:
    ws.config_file.write_text(
        ws.config_file.read_text(encoding="utf-8") + FACEBOOK_ACCOUNT, encoding="utf-8"
    )
    return ws


@pytest.fixture
def commented_post(workspace: Workspace, store: Store) -> Workspace:
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima", channels=("facebook",), extra=f'first_comment = "{COMMENT}"\n'
    )
    load(workspace, store)
    return workspace


class Crash(BaseException):
    """The worker process dies (SIGKILL): nothing after this point runs."""


def comments_of(network: FakeNetwork) -> list[tuple[str, str]]:
    return network.comments()


# -- the record and the happy path -------------------------------------------------------------


def test_the_comment_follows_the_post_and_the_record_says_it_is_out(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    report = worker(store, commented_post, CommentingChannel(network), Clock(DUE)).tick()
    assert report.published == 1
    assert network.texts() == [POST_TEXT, RENDERED]
    assert comments_of(network) == [("1", RENDERED)]
    d = delivery(store)
    assert (d.state, d.remote_id, d.comment_error) == ("published", "1", None)
    assert d.parts == [
        {"id": "1", "url": "https://social.example/@s/1"},
        {"id": "2", "url": "https://social.example/@s/2", "kind": "comment"},
    ]
    [(_, post), (_, comment)] = network.posts
    assert comment.idempotency_key == f"{post.idempotency_key}.2"  # a key of its own
    assert comment.media == () and comment.reply_to is None


# -- compound faults ---------------------------------------------------------------------------


def test_a_lost_answer_on_the_comment_is_settled_by_a_lookup_of_the_posts_comments(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = CommentingChannel(network, ["ok", CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, commented_post, channel, clock)
    w.tick()
    d = delivery(store)
    assert (d.state, d.maybe_out, len(d.parts or [])) == ("retry_wait", True, 1)
    clock.advance(minutes=1)
    w.tick()
    d = delivery(store)
    assert d.state == "published" and not d.maybe_out
    assert comments_of(network) == [("1", RENDERED)]  # found, never sent twice
    assert channel.lookups == 1 and channel.calls == 2
    assert (d.parts or [])[-1] == {
        "id": "2",
        "url": "https://social.example/@s/2",
        "kind": "comment",
    }


def test_a_crash_between_post_and_comment_resumes_with_the_comment_only(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = CommentingChannel(network)
    clock = Clock(DUE)

    def die_at_the_comment(post: OutboundPost) -> None:
        if post.comment_on is not None:
            raise Crash

    channel.during_call = die_at_the_comment
    with pytest.raises(Crash):
        worker(store, commented_post, channel, clock).tick()
    d = delivery(store)
    assert (d.state, len(d.parts or [])) == ("publishing", 1)  # the post is on record
    channel.during_call = None
    clock.advance(minutes=11)  # the dead worker's lease runs out; another takes over
    worker(store, commented_post, channel, clock).tick()
    d = delivery(store)
    assert d.state == "published"
    assert network.texts() == [POST_TEXT, RENDERED]  # the post once, then the comment
    assert channel.lookups == 1  # the comments were looked up before the comment was sent


class CreateThenCrash(CommentingChannel):
    """The comment is created, then the worker dies before it hears the answer."""

    crashed: ClassVar[bool] = False

    def publish(self, post: OutboundPost) -> Receipt:
        receipt = super().publish(post)
        if post.comment_on is not None and not CreateThenCrash.crashed:
            CreateThenCrash.crashed = True
            raise Crash
        return receipt


def test_a_crash_after_the_comment_was_created_does_not_comment_again(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    CreateThenCrash.crashed = False
    channel = CreateThenCrash(network)
    clock = Clock(DUE)
    with pytest.raises(Crash):
        worker(store, commented_post, channel, clock).tick()
    clock.advance(minutes=11)
    worker(store, commented_post, channel, clock).tick()
    d = delivery(store)
    assert d.state == "published"
    assert comments_of(network) == [("1", RENDERED)]
    assert (d.parts or [])[-1]["kind"] == "comment"


def test_a_worker_that_lost_its_lease_before_the_comment_sends_no_comment(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    clock = Clock(DUE)
    channel = CommentingChannel(network)

    def taken_over(post: OutboundPost) -> None:
        if post.comment_on is None:  # the post outlasts the lease, and another worker takes over
            clock.advance(minutes=11)
            assert claim_abandoned(store, "thief", clock.now, LEASE) is not None

    channel.during_call = taken_over
    worker(store, commented_post, channel, clock).tick()
    assert network.texts() == [POST_TEXT]  # the comment was fenced off
    d = delivery(store)
    assert (d.state, d.lease_owner, d.parts) == ("publishing", "thief", None)
    # The thief's lease runs out too; the next worker finds the post and adds the comment.
    channel.during_call = None
    clock.advance(minutes=11)
    worker(store, commented_post, channel, clock).tick()
    d = delivery(store)
    assert d.state == "published" and d.remote_id == "1"
    assert network.texts() == [POST_TEXT, RENDERED]


def test_a_refused_comment_leaves_the_post_published_and_tells_a_person(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    refusal = RejectedError("400", network_message="(#368) The action attempted is abusive")
    channel = CommentingChannel(network, ["ok", refusal])
    worker(store, commented_post, channel, Clock(DUE)).tick()
    d = delivery(store)
    assert (d.state, d.remote_id, d.last_error) == ("published", "1", None)
    assert d.comment_error is not None and "abusive" in d.comment_error
    assert [p.get("kind") for p in d.parts or []] == [None]  # no comment is out
    conditions = [c for c in find_conditions(store, DUE) if c.kind == "comment_failed"]
    [condition] = conditions
    assert condition.facts["post"] == "soest/01-klima"
    assert "abusive" in condition.facts["reason"]


def test_a_refused_comments_reason_is_kept_with_its_key_for_history_json_and_german_readers(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    refusal = RejectedError("400", network_message="(#368) The action attempted is abusive")
    worker(store, commented_post, CommentingChannel(network, ["ok", refusal]), Clock(DUE)).tick()
    [row] = history_rows(store, "testlauf")
    comment = row.comment
    assert comment is not None and comment["state"] == "failed"
    assert comment["error"] == row.comment_error  # the record's English, as before
    reason = comment["reason"]
    assert reason is not None and reason["key"] == "comment_refused"
    assert "abusive" in reason["error"]  # the network's refusal, as it was sent
    assert row.comment_error_for_readers("de") == (
        f"das Netzwerk hat den ersten Kommentar abgelehnt: {reason['error']}"
    )


def test_a_comment_that_keeps_failing_is_given_up_with_the_post_published(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = CommentingChannel(network, ["ok", *[UnavailableError("503")] * 3])
    clock = Clock(DUE)
    w = worker(
        store, commented_post, channel, clock, base=timedelta(seconds=1), jitter=0.0, max_attempts=3
    )
    for _ in range(3):
        w.tick()
        clock.advance(minutes=1)
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert "given up after 3 attempts" in (d.comment_error or "")
    assert d.comment_error_data == {"key": "comment_gave_up", "count": 3, "error": "503"}
    assert comments_of(network) == []
    with store.session() as session:
        assert session.scalars(select(DeliveryRecord.comment_error)).one() == d.comment_error


# -- a person settles what the network could not tell ---------------------------------------


class BlindCommentingChannel(ScriptedChannel):
    """Takes comments, but can neither deduplicate a key nor list posts or comments: a lost
    answer goes to a person."""

    comment_rule: ClassVar[TextRule | None] = TextRule(UNIT_GRAPHEMES, count_graphemes, 500)


def a_person_says_it_is_out(store: Store, url: str, *, comment: bool = False) -> str:
    """A person confirms the part at ``url`` (the test network's ids end its addresses)."""
    return resolve(
        store,
        "testlauf",
        "soest/01-klima",
        "soest-facebook",
        published_url=url,
        published_as=PublishedPart(url.rsplit("/", 1)[-1], comment=comment),
        actor="anna",
        now=DUE + timedelta(minutes=5),
    )


def test_a_post_a_person_confirms_is_followed_by_its_first_comment_once(
    commented_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = BlindCommentingChannel(network, [CREATE_THEN_LOSE_ANSWER])
    clock = Clock(DUE)
    w = worker(store, commented_post, channel, clock)
    w.tick()
    assert delivery(store).state == "unknown"
    assert comments_of(network) == []  # the comment waits for the post
    message = a_person_says_it_is_out(store, "https://social.example/@s/1")
    assert "first comment" in message
    d = delivery(store)
    # The post is on record as out; the delivery is not published until its comment is.
    assert (d.state, d.maybe_out, d.parts) == (
        "pending",
        False,
        [{"id": "1", "url": "https://social.example/@s/1"}],
    )
    clock.advance(hours=5)  # however late: the post is out, so its comment follows
    w.tick()
    w.tick()
    d = delivery(store)
    assert (d.state, d.remote_id, d.comment_error) == ("published", "1", None)
    assert comments_of(network) == [("1", RENDERED)]  # on the confirmed post, once
    assert (d.parts or [])[-1] == {
        "id": "2",
        "url": "https://social.example/@s/2",
        "kind": "comment",
    }


def a_comment_in_doubt(store: Store, ws: Workspace) -> tuple[FakeNetwork, Worker]:
    """The post is out and on record; the answer to its comment was lost where the network can
    neither replay nor look up: the delivery waits for a person."""
    network = FakeNetwork()
    channel = BlindCommentingChannel(network, ["ok", CREATE_THEN_LOSE_ANSWER])
    w = worker(store, ws, channel, Clock(DUE))
    w.tick()
    d = delivery(store)
    assert (d.state, len(d.parts or [])) == ("unknown", 1)  # the post out, the comment in doubt
    return network, w


def test_a_comment_a_person_confirms_completes_the_delivery(
    commented_post: Workspace, store: Store
) -> None:
    network, w = a_comment_in_doubt(store, commented_post)
    a_person_says_it_is_out(store, "https://social.example/@s/2", comment=True)
    d = delivery(store)
    assert (d.state, d.remote_id, d.comment_error) == ("published", "1", None)  # the post's id
    assert d.parts == [
        {"id": "1", "url": "https://social.example/@s/1"},
        {"id": "2", "url": "https://social.example/@s/2", "kind": "comment"},
    ]
    w.tick()
    assert comments_of(network) == [("1", RENDERED)]


def test_a_posts_address_given_where_the_comment_is_in_doubt_is_refused_and_nothing_written(
    commented_post: Workspace, store: Store
) -> None:
    a_comment_in_doubt(store, commented_post)
    before = delivery(store)
    with pytest.raises(UsageError, match="the part in doubt is its first comment"):
        a_person_says_it_is_out(store, "https://social.example/@s/1")  # the post's address
    after = delivery(store)
    assert (after.state, after.parts, after.version) == ("unknown", before.parts, before.version)


def test_a_comment_given_up_while_the_database_is_away_stays_given_up_in_the_record(
    commented_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    network = FakeNetwork()
    refusal = RejectedError("400", network_message="(#368) The action attempted is abusive")
    channel = CommentingChannel(network, ["ok", refusal])
    clock = Clock(DUE)
    w = worker(store, commented_post, channel, clock)
    w.journal = Journal(tmp_path / "receipts.journal")
    w.record_retries = 2
    original = store.transaction
    away = [False]

    def refused_then_away(post: OutboundPost) -> None:
        away[0] = post.comment_on is not None  # the database goes away with the refusal

    channel.during_call = refused_then_away

    def unreachable(*, write: bool = False, single: bool = False) -> object:
        if away[0]:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return original(write=write, single=single)

    monkeypatch.setattr(store, "transaction", unreachable)
    keep = w.journal.append

    def journaled_then_back(receipt: JournaledReceipt) -> None:
        keep(receipt)
        away[0] = False

    monkeypatch.setattr(w.journal, "append", journaled_then_back)
    w.tick()
    assert delivery(store).state == "publishing"
    clock.advance(minutes=30)
    w.tick()  # the journal is applied first
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert d.comment_error is not None and "abusive" in d.comment_error
    assert (d.comment_error_data or {}).get("key") == "comment_refused"  # kept in the journal
    assert comments_of(network) == []


# -- the draft key and `campaign check` --------------------------------------------------------


def checked(ws: Workspace) -> CheckResult:
    return check(load_settings(ws.config_file))


def messages(problems: list[Problem], ws: Workspace) -> list[str]:
    return [p.format(ws.root) for p in problems]


def test_the_draft_key_is_rendered_like_the_text_and_kept_per_network(
    workspace: Workspace,
) -> None:
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima",
        channels=("facebook", "mastodon"),
        extra=f'first_comment = "{COMMENT}"\n',
    )
    result = checked(workspace)
    [draft] = result.drafts
    assert draft.first_comment == RENDERED
    comments = {d.account.name: d.first_comment for d in result.deliveries}
    assert comments == {"soest-facebook": RENDERED, "soest-mastodon": None}


def test_check_refuses_a_first_comment_where_no_channel_takes_one(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGN_LANG", "en")
    workspace.draft(
        "soest/01-klima", channels=("mastodon",), extra='first_comment = "#5malklug #Soest"\n'
    )
    result = checked(workspace)
    expected = (
        "posts/soest/01-klima.md:4: first_comment: mastodon cannot comment on its own posts; "
        "only facebook, instagram, linkedin take a first comment (remove the key, or put the "
        "hashtags or the link into the text)"
    )
    assert messages(result.errors, workspace) == [expected]


def test_check_warns_when_only_some_channels_take_the_comment(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGN_LANG", "en")
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima",
        channels=("facebook", "mastodon"),
        extra='first_comment = "#Soest"\n',
    )
    result = checked(workspace)
    assert result.errors == []
    expected = (
        "posts/soest/01-klima.md:4: warning: first_comment goes out on facebook only: "
        "mastodon cannot comment on its own posts, the post goes out there without it"
    )
    assert expected in messages(result.warnings, workspace)


def test_check_counts_the_comment_the_way_each_network_does(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGN_LANG", "en")
    with_facebook(workspace)
    too_long = "x" * 8001
    workspace.draft(
        "soest/01-klima", channels=("facebook",), extra=f'first_comment = "{too_long}"\n'
    )
    [error] = messages(checked(workspace).errors, workspace)
    assert error.startswith("posts/soest/01-klima.md:4: first_comment: ")
    assert "8001" in error and "8000" in error


def test_an_empty_first_comment_is_refused_with_its_line(workspace: Workspace) -> None:
    with_facebook(workspace)
    workspace.draft("soest/01-klima", channels=("facebook",), extra='first_comment = "  "\n')
    [error] = messages(checked(workspace).errors, workspace)
    assert error.startswith("posts/soest/01-klima.md:4: 'first_comment' is empty")


def test_a_placeholder_error_in_the_comment_names_its_line(workspace: Workspace) -> None:
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima", channels=("facebook",), extra='first_comment = "{event.nope}"\n'
    )
    [error] = messages(checked(workspace).errors, workspace)
    assert error.startswith("posts/soest/01-klima.md:4: ")


def test_the_check_messages_have_german_wording() -> None:
    from campaign_scheduler.uilang import tr

    refused = (
        "first_comment: {channels} cannot comment on its own posts; only {able} take a first "
        "comment (remove the key, or put the hashtags or the link into the text)"
    )
    partly = (
        "first_comment goes out on {takers} only: {channels} cannot comment on its own posts, "
        "the post goes out there without it"
    )
    values = {"channels": "mastodon", "able": "facebook", "takers": "facebook"}
    assert tr(refused, "de", **values).startswith("first_comment: mastodon kann eigene Beiträge")
    assert tr(partly, "de", **values).startswith("first_comment erscheint nur auf facebook")


# -- what the record tells: history, status, report --------------------------------------------


def test_history_status_and_report_tell_whether_the_comment_is_out(
    commented_post: Workspace, store: Store
) -> None:
    refusal = RejectedError("400", network_message="(#368) The action attempted is abusive")
    worker(
        store, commented_post, CommentingChannel(FakeNetwork(), ["ok", refusal]), Clock(DUE)
    ).tick()
    [row] = history_rows(store, "testlauf")
    assert row.comment_error_data is not None
    assert row.comment == {
        "text": RENDERED,
        "state": "failed",
        "id": None,
        "url": None,
        "error": row.comment_error,
        "reason": {"key": "comment_refused", "error": row.comment_error_data["error"]},
    }
    [problem] = problems_since(store, None)
    assert (problem.post, problem.state) == ("soest/01-klima", COMMENT_FAILED)
    assert "abusive" in (problem.reason or "")
    report = build_report(store, "testlauf", now=DUE + timedelta(hours=1))
    [group] = report.groups
    [reason] = group.reasons
    assert reason.state == "published"
    assert reason.reason.startswith("published without its first comment: first comment refused")


def a_refused_comment(store: Store, ws: Workspace, *, before_the_key: bool = False) -> None:
    """A published post whose first comment the network refused; ``before_the_key``: its
    record was written before migration 0011 (English text, no ``comment_error_data``)."""
    refusal = RejectedError("400", network_message="(#368) The action attempted is abusive")
    worker(store, ws, CommentingChannel(FakeNetwork(), ["ok", refusal]), Clock(DUE)).tick()
    if before_the_key:
        with store.session() as session, session.begin():
            session.execute(update(DeliveryRecord).values(comment_error_data=null()))


def report_reasons(store: Store, lang: str) -> str:
    report = build_report(store, "testlauf", now=DUE + timedelta(hours=1))
    return render(report, Format.MD, Lang(lang))


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        (
            "de",
            (
                "ohne seinen ersten Kommentar veröffentlicht: "
                "das Netzwerk hat den ersten Kommentar abgelehnt: "
            ),
        ),
        ("en", "published without its first comment: the network refused the first comment: "),
    ],
)
def test_the_report_words_why_a_comment_is_missing_in_its_language(
    commented_post: Workspace, store: Store, lang: str, reason: str
) -> None:
    a_refused_comment(store, commented_post)
    text = report_reasons(store, lang)
    assert reason in text and "abusive" in text  # the network's refusal, as it was sent
    assert "first comment refused" not in text  # the record's English stays in the record


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_report_keeps_the_recorded_text_of_a_comment_refused_before_the_key(
    commented_post: Workspace, store: Store, lang: str
) -> None:
    a_refused_comment(store, commented_post, before_the_key=True)
    missing = {"de": "ohne seinen ersten Kommentar veröffentlicht: ", "en": COMMENT_MISSING}
    text = report_reasons(store, lang)
    assert f"{missing[lang]}first comment refused: " in text and "abusive" in text


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        ("de", "der erste Kommentar aber nicht: das Netzwerk hat den ersten Kommentar abgelehnt: "),
        ("en", "but its first comment is not: the network refused the first comment: "),
    ],
)
def test_the_alert_words_why_a_comment_is_missing_in_its_language(
    commented_post: Workspace, store: Store, lang: str, reason: str
) -> None:
    a_refused_comment(store, commented_post)
    [condition] = [c for c in find_conditions(store, DUE) if c.kind == "comment_failed"]
    what, _todo = condition.render(lang)
    assert reason in what and "abusive" in what
    assert "first comment refused" not in what


def test_the_alert_keeps_the_recorded_text_of_a_comment_refused_before_the_key(
    commented_post: Workspace, store: Store
) -> None:
    a_refused_comment(store, commented_post, before_the_key=True)
    [condition] = [c for c in find_conditions(store, DUE) if c.kind == "comment_failed"]
    what, _todo = condition.render("de")
    assert what.endswith(f": {delivery(store).comment_error}")
    assert "first comment refused: " in what


def test_history_says_a_comment_is_out_with_its_address(
    commented_post: Workspace, store: Store
) -> None:
    worker(store, commented_post, CommentingChannel(FakeNetwork()), Clock(DUE)).tick()
    [row] = history_rows(store, "testlauf")
    assert row.comment is not None
    assert (row.comment["state"], row.comment["url"]) == ("out", "https://social.example/@s/2")
    assert problems_since(store, None) == []


def test_a_published_post_whose_comment_the_record_does_not_know_says_so() -> None:
    # A receipt applied from the local journal publishes the delivery without its parts: the
    # record must not claim the comment is still coming.
    row = HistoryRow(
        "soest/01-klima", "soest", "soest-facebook", "facebook", "published", DUE, None,
        "1", None, DUE, 1, None, first_comment=RENDERED, parts=None,
    )  # fmt: skip
    assert row.comment is not None and row.comment["state"] == "unknown"
    waiting = HistoryRow(
        "soest/01-klima", "soest", "soest-facebook", "facebook", "retry_wait", DUE, None,
        None, None, None, 1, None, first_comment=RENDERED, parts=[{"id": "1", "url": None}],
    )  # fmt: skip
    assert waiting.comment is not None and waiting.comment["state"] == "waiting"


def test_the_campaign_hashtag_may_stand_in_the_first_comment(workspace: Workspace) -> None:
    with_facebook(workspace)
    workspace.draft(
        "soest/01-klima",
        '+++\nat = "T-14d 09:30"\nchannels = ["facebook", "mastodon"]\n'
        'first_comment = "#5malklug #Soest"\n+++\nSoest will bis 2030 klimaneutral werden.\n',
    )
    errors = messages(checked(workspace).errors, workspace)
    # Facebook gets the hashtag with the comment; Mastodon gets the text alone, without it.
    assert errors == ["posts/soest/01-klima.md:6: the text lacks the hashtag #5malklug"]
    workspace.draft(
        "soest/01-klima",
        '+++\nat = "T-14d 09:30"\nchannels = ["facebook"]\n'
        'first_comment = "#5malklug #Soest"\n+++\nSoest will bis 2030 klimaneutral werden.\n',
    )
    assert checked(workspace).errors == []
