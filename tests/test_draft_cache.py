"""The cache of parsed and checked drafts (``.cache/drafts.json``): used while nothing the
entry came from has changed, and never trusted when anything did or when it is damaged."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaign_scheduler import draftcache
from campaign_scheduler import drafts as drafts_module
from campaign_scheduler.config import load_settings
from campaign_scheduler.planning import intended_deliveries
from campaign_scheduler.rules import CheckResult, check
from conftest import Workspace

CACHE = Path("campaign") / ".cache" / "drafts.json"


def settle(*paths: Path, seconds_ago: float = 3600) -> None:
    """Give files a modification time well in the past (each its own, so that a file
    rewritten later with the same size still differs)."""
    for path in paths:
        when = time.time() - seconds_ago
        os.utime(path, (when, when))


def run_check(ws: Workspace) -> CheckResult:
    return check(load_settings(ws.config_file))


def summary(result: CheckResult) -> list[tuple[str, str, str | None, list[str]]]:
    return sorted(
        (d.key, d.body, d.due_at.isoformat() if d.due_at else None, list(d.channels))
        for d in result.drafts
    )


def cached_entries(ws: Workspace) -> dict[str, object]:
    """The entries of the cache's first line (what tells whether each is valid)."""
    first = (ws.root / CACHE).read_text(encoding="utf-8").partition("\n")[0]
    entries: dict[str, object] = json.loads(first)["drafts"]
    return entries


def messages(result: CheckResult) -> list[str]:
    return [p.format(Path.cwd()) for p in result.problems]


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every draft that is parsed."""
    parsed: list[str] = []
    original = drafts_module.parse_draft

    def recording(path: Path, key: str, *args: object, **kwargs: object) -> object:
        parsed.append(key)
        return original(path, key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(drafts_module, "parse_draft", recording)
    yield parsed


def test_unchanged_drafts_are_taken_from_the_cache_with_their_problems(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    settle(
        workspace.draft("soest/01-klima"),
        workspace.draft("olpe/01-ohne", body="Olpe ohne Hashtag", channels=("mastodon",)),
    )
    first = run_check(workspace)
    assert (workspace.root / CACHE).is_file()
    assert sorted(no_parsing) == ["olpe/01-ohne", "soest/01-klima"]
    no_parsing.clear()

    second = run_check(workspace)
    assert no_parsing == []
    assert summary(second) == summary(first)
    assert messages(second) == messages(first)
    assert any("lacks the hashtag" in m for m in messages(second))
    assert [(d.account.name, d.content_hash) for d in second.deliveries] == [
        (d.account.name, d.content_hash) for d in first.deliveries
    ]


def test_an_edited_draft_is_parsed_again_even_at_the_same_size(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    path = workspace.draft("soest/01-klima", body="Text Eins. #5malklug")
    settle(path, seconds_ago=7200)
    run_check(workspace)
    workspace.draft("soest/01-klima", body="Text Zwei. #5malklug")  # same length
    settle(path)
    no_parsing.clear()
    result = run_check(workspace)
    assert no_parsing == ["soest/01-klima"]
    assert [d.body for d in result.drafts] == ["Text Zwei. #5malklug"]


def test_a_draft_written_just_now_is_not_cached(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    """Within the file system clock's tick a second write may keep the modification time:
    such a file is parsed again until it has settled."""
    workspace.draft("soest/01-klima")
    run_check(workspace)
    run_check(workspace)
    assert no_parsing == ["soest/01-klima", "soest/01-klima"]


def test_a_changed_media_file_changes_the_delivery_hash(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    media = workspace.root / "posts" / "soest" / "media"
    media.mkdir()
    image = media / "klima.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"A" * 64)
    draft = workspace.draft(
        "soest/01-klima", extra='[[media]]\npath = "media/klima.png"\nalt = "Luftbild"\n'
    )
    settle(draft, image, seconds_ago=7200)
    run_check(workspace)
    first = run_check(workspace)  # (from the cache)
    before = {d.account.name: d.content_hash for d in first.deliveries}
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"B" * 64)  # same size, other picture
    settle(image)
    second = run_check(workspace)
    after = {d.account.name: d.content_hash for d in second.deliveries}
    assert before.keys() == after.keys()
    assert all(before[name] != after[name] for name in before)
    assert dict(first.planned[0].deliveries) == before
    assert dict(second.planned[0].deliveries) == after
    assert first.planned[0].content_hash != second.planned[0].content_hash

    image.unlink()
    result = run_check(workspace)
    assert any("media file not found: media/klima.png" in m for m in messages(result))


def test_moving_the_event_renders_the_cached_drafts_again(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    settle(
        workspace.draft(
            "soest/01-countdown",
            at="T-3d 09:00",
            body="Noch {days_left} Tage bis {event.weekday}, {event.day}! #5malklug",
        )
    )
    assert [d.body for d in run_check(workspace).drafts] == [
        "Noch 3 Tage bis Donnerstag, 18. November! #5malklug"
    ]
    text = workspace.campaign_file.read_text(encoding="utf-8")
    workspace.campaign_file.write_text(
        text.replace("2021-11-18T", "2022-11-17T").replace("2021-10-26", "2022-10-25"),
        encoding="utf-8",
    )
    no_parsing.clear()
    result = run_check(workspace)
    assert no_parsing == ["soest/01-countdown"]
    assert [d.body for d in result.drafts] == [
        "Noch 3 Tage bis Donnerstag, 17. November! #5malklug"
    ]


def test_an_account_limit_in_the_config_is_checked_again(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    body = "Soest " * 50 + "#5malklug"  # 309 characters: within Mastodon's 500
    settle(workspace.draft("soest/01-klima", body=body, channels=("mastodon",)))
    assert not [m for m in messages(run_check(workspace)) if "characters" in m]
    config = workspace.config_file.read_text(encoding="utf-8")
    workspace.config_file.write_text(
        config.replace(
            'token = "env:SOEST_MASTODON_TOKEN"\n',
            'token = "env:SOEST_MASTODON_TOKEN"\nmax_characters = 300\n',
        ),
        encoding="utf-8",
    )
    result = run_check(workspace)
    assert any("account soest-mastodon" in m for m in messages(result))


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b'{"format": 1, "context": ',  # cut off while written by hand or a full disk
        b"\x00\xff not json",
        b"[1, 2, 3]",
        b'{"format": 1, "context": "x", "drafts": []}',
    ],
)
def test_a_damaged_cache_is_ignored_and_written_anew(
    workspace: Workspace, no_parsing: list[str], damage: bytes
) -> None:
    settle(workspace.draft("soest/01-klima"))
    cache = workspace.root / CACHE
    cache.parent.mkdir(parents=True)
    cache.write_bytes(damage)
    result = run_check(workspace)
    assert [d.key for d in result.drafts] == ["soest/01-klima"]
    assert "soest/01-klima" in cached_entries(workspace)


def test_an_entry_of_the_wrong_shape_is_parsed_again(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    settle(workspace.draft("soest/01-klima"))
    run_check(workspace)
    cache = workspace.root / CACHE
    first, _, rest = cache.read_text(encoding="utf-8").partition("\n")
    data = json.loads(first)
    data["drafts"]["soest/01-klima"]["problems"] = [["not", "a", "problem", "at all"]]
    cache.write_text(json.dumps(data) + "\n" + rest, encoding="utf-8")
    no_parsing.clear()
    result = run_check(workspace)
    assert no_parsing == ["soest/01-klima"]
    assert [d.body for d in result.drafts] == ["Soest will bis 2030 klimaneutral werden. #5malklug"]


@pytest.mark.parametrize("damage", ["", "[1, 2", '{"soest/01-klima": {"body": 1}}', "[]"])
def test_a_damaged_draft_is_parsed_again_when_the_whole_draft_is_wanted(
    workspace: Workspace, no_parsing: list[str], damage: str
) -> None:
    """The second line (the drafts as parsed) is read only when a whole draft is wanted; a
    valid entry with a damaged draft still tells its problems and planned post, and the
    draft is parsed again when it is wanted."""
    settle(workspace.draft("soest/01-klima"))
    first = run_check(workspace)
    cache = workspace.root / CACHE
    index = cache.read_text(encoding="utf-8").partition("\n")[0]
    cache.write_text(index + "\n" + damage, encoding="utf-8")
    no_parsing.clear()
    result = run_check(workspace)
    assert no_parsing == []
    assert result.planned == first.planned
    assert messages(result) == messages(first)
    assert summary(result) == summary(first)
    assert no_parsing == ["soest/01-klima"]
    assert result.deliveries[0].content_hash == first.deliveries[0].content_hash


def test_a_cached_entry_keeps_the_planned_post_of_the_parsed_draft(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    """What ``load`` compares (post hash, time, each account's delivery hash) is the same
    from the cache as from parsing, and as the whole drafts' deliveries say."""
    settle(
        workspace.draft("soest/01-klima"),
        workspace.draft("soest/02-ohne-zeit", at="irgendwann"),
        workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug"),
    )
    parsed = run_check(workspace)
    no_parsing.clear()
    cached = run_check(workspace)
    assert no_parsing == []
    assert cached.planned == parsed.planned
    assert [p.key for p in cached.planned] == [
        "olpe/01-hallo",
        "soest/01-klima",
        "soest/02-ohne-zeit",
    ]
    assert cached.planned[2].due_at is None
    worked_out = intended_deliveries(parsed.drafts, load_settings(workspace.config_file))
    assert [(p.key, list(p.deliveries)) for p in cached.planned if p.due_at] == [
        (key, [(d.account.name, d.content_hash) for d in worked_out if d.draft.key == key])
        for key in ("olpe/01-hallo", "soest/01-klima")
    ]
    assert [(d.draft.key, d.account.name, d.content_hash) for d in cached.deliveries] == [
        (d.draft.key, d.account.name, d.content_hash) for d in worked_out
    ]
    assert [p.content_hash for p in cached.planned] == [d.content_hash for d in parsed.drafts]


def test_a_new_account_of_the_sender_changes_the_planned_deliveries(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    settle(workspace.draft("olpe/01-hallo", channels=("mastodon",), body="Olpe #5malklug"))
    before = run_check(workspace)
    config = workspace.config_file.read_text(encoding="utf-8")
    workspace.config_file.write_text(
        config
        + '\n[accounts.olpe-mastodon-zwei]\nchannel = "mastodon"\nsender = "olpe"\n'
        + 'base_url = "https://social.example"\ntoken = "env:SOEST_MASTODON_TOKEN"\n',
        encoding="utf-8",
    )
    no_parsing.clear()
    after = run_check(workspace)
    assert no_parsing == ["olpe/01-hallo"]
    assert [a for a, _ in before.planned[0].deliveries] == ["olpe-mastodon"]
    assert [a for a, _ in after.planned[0].deliveries] == ["olpe-mastodon", "olpe-mastodon-zwei"]


def test_dates_in_the_front_matter_survive_the_cache(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    settle(workspace.draft("soest/01-klima", text=draft_with_toml_date()))
    first = run_check(workspace)
    no_parsing.clear()
    second = run_check(workspace)
    assert no_parsing == []
    assert summary(second) == summary(first)
    assert second.drafts[0].doc.data == first.drafts[0].doc.data


def draft_with_toml_date() -> str:
    return (
        '+++\nat = 2021-11-04T09:30:00\nchannels = ["mastodon"]\n+++\n'
        "Soest will bis 2030 klimaneutral werden. #5malklug\n"
    )


def test_a_removed_draft_leaves_the_cache(workspace: Workspace) -> None:
    settle(workspace.draft("soest/01-klima"), workspace.draft("soest/02-mehr"))
    run_check(workspace)
    workspace.remove("soest/02-mehr")
    run_check(workspace)
    assert list(cached_entries(workspace)) == ["soest/01-klima"]
    drafts = json.loads((workspace.root / CACHE).read_text(encoding="utf-8").partition("\n")[2])
    assert list(drafts) == ["soest/01-klima"]


def test_two_writers_leave_a_whole_file(workspace: Workspace) -> None:
    """Each writer replaces the file in one rename: whoever is last, the file is whole."""
    settle(workspace.draft("soest/01-klima"))
    settings = load_settings(workspace.config_file)
    result = check(settings)
    assert result.campaign is not None
    first = draftcache.DraftCache.open(settings, result.campaign)
    second = draftcache.DraftCache.open(settings, result.campaign)
    assert first is not None and second is not None
    first.changed = second.changed = True
    second.entries.clear()
    first.save()
    second.save()
    assert cached_entries(workspace) == {}
    assert not [p for p in (workspace.root / CACHE).parent.iterdir() if p.suffix == ".tmp"]


def test_deliveries_take_the_planned_accounts_only_while_they_are_configured(
    workspace: Workspace,
) -> None:
    settle(workspace.draft("soest/01-klima"))
    settings = load_settings(workspace.config_file)
    result = check(settings)
    worked_out = intended_deliveries(result.drafts, settings)
    gone = result.planned[0]._replace(deliveries=(("soest-nirgends", "x"),))
    again = intended_deliveries(result.drafts, settings, [gone])
    assert [(d.account.name, d.content_hash) for d in again] == [
        (d.account.name, d.content_hash) for d in worked_out
    ]
    assert [d.account.name for d in worked_out] == ["soest-bluesky", "soest-mastodon"]


def test_a_draft_from_the_cache_has_every_field_of_the_parsed_draft(
    workspace: Workspace, no_parsing: list[str]
) -> None:
    """Drafts from the cache are made without the dataclass's ``__init__``: every field (and
    every value computed already) must still be there, equal to the parsed draft's."""
    from dataclasses import fields

    from campaign_scheduler.drafts import Draft

    settle(
        workspace.draft(
            "soest/01-klima",
            text=(
                '+++\nat = "T-14d 09:30"\nnot_after = "T-13d 18:00"\n'
                'channels = ["mastodon", "bluesky"]\naccounts = ["soest-mastodon"]\n'
                'language = "en"\nsplit = true\nfirst_comment = "#5malklug"\n'
                '[variants.bluesky]\ntext = "Kurz: Soest wird klimaneutral. #5malklug"\n'
                "+++\nSoest will bis 2030 klimaneutral werden. #5malklug\n"
            ),
        )
    )
    parsed = run_check(workspace).drafts[0]
    cached = run_check(workspace).drafts[0]
    assert no_parsing == ["soest/01-klima"]
    assert set(cached.__dict__) == draftcache.DRAFT_VALUES
    for name in (f.name for f in fields(Draft)):
        if name == "doc":
            assert (cached.doc.data, cached.doc.key_lines, cached.doc.first_line) == (
                parsed.doc.data,
                parsed.doc.key_lines,
                parsed.doc.first_line,
            )
        else:
            assert getattr(cached, name) == getattr(parsed, name), name
    assert cached.variants and cached.split and cached.first_comment and cached.not_after_text
    assert (cached.content_hash, cached.channel_hashes, cached.media_digests) == (
        parsed.content_hash,
        parsed.channel_hashes,
        parsed.media_digests,
    )
