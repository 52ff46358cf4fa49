"""`campaign check`: every kind of bad input is reported with its file, line and a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler.config import load_settings
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from conftest import Workspace, draft_text

LINK = "https://smartcities-suedwestfalen.com/konferenz/"


def errors_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.severity is Severity.ERROR]


def test_the_small_campaign_is_clean(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima")
    assert errors_of(workspace) == []


def test_malformed_draft_front_matter_names_the_file_line(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-kaputt", '+++\nat = "T-14d 09:30"\nchannels = ["mastodon"\n+++\nText\n'
    )
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-kaputt.md:")
    assert "malformed TOML" in error
    line = int(error.split(":")[1])
    assert line in (3, 4)  # the unclosed array on line 3, reported where the parser noticed


def test_malformed_campaign_file_reports_its_line(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text().replace('language = "de"', "language = de")
    workspace.campaign_file.write_text(text)
    errors = errors_of(workspace)
    assert errors[0].startswith("campaign/testlauf.toml:6: malformed TOML")


def test_malformed_config_is_reported_with_its_line(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app

    text = workspace.config_file.read_text().replace('channel = "bluesky"', 'channel = "bluesky')
    workspace.config_file.write_text(text)
    monkeypatch.chdir(workspace.root)
    result = runner.invoke(app, ["--config", "config.toml", "check"])
    assert result.exit_code == 1
    assert "config.toml:15: malformed TOML" in result.output


def test_unknown_front_matter_key_suggests_the_right_one(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", extra='languag = "de"\n')
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:4: unknown key 'languag' (did you mean 'language'?)"
    ]


def test_unknown_rule_key_in_campaign_file(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text().replace('min_gap = "30m"', 'min_gapp = "30m"')
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-klima")
    assert errors_of(workspace) == [
        "campaign/testlauf.toml:16: unknown key 'min_gapp' in [rules] (did you mean 'min_gap'?)"
    ]


def test_unknown_account_key_in_config(workspace: Workspace) -> None:
    text = workspace.config_file.read_text().replace(
        'identifier = "soest.example"', 'identifer = "soest.example"'
    )
    workspace.config_file.write_text(text)
    errors = errors_of(workspace)
    assert (
        "config.toml:17: unknown key 'identifer' in [accounts.soest-bluesky] (did you mean 'identifier'?)"
        in errors
    )
    assert "config.toml:14: missing key 'identifier' in [accounts.soest-bluesky]" in errors


def test_unknown_sender_folder(workspace: Workspace) -> None:
    workspace.draft("sost/01-klima")
    assert errors_of(workspace) == [
        "posts/sost/01-klima.md: unknown sender 'sost' (folder posts/sost/) (did you mean 'soest'?)"
    ]


def test_unknown_channel(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", channels=("mastodn",))
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:3: unknown channel 'mastodn' (did you mean 'mastodon'?)"
    ]


def test_unknown_account(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", extra='accounts = ["soest-mastodn"]\n')
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:4: unknown account 'soest-mastodn' (did you mean 'soest-mastodon'?)"
    ]


def test_account_with_unknown_sender_in_config(workspace: Workspace) -> None:
    text = workspace.config_file.read_text().replace('sender = "olpe"', 'sender = "olp"')
    workspace.config_file.write_text(text)
    assert errors_of(workspace) == [
        "config.toml:20: account 'olpe-mastodon': unknown sender 'olp' (did you mean 'olpe'?)"
    ]


def test_sender_without_account_on_a_requested_channel(workspace: Workspace) -> None:
    workspace.draft(
        "olpe/01-hallo", body="Hallo aus Olpe #5malklug", channels=("mastodon", "bluesky")
    )
    assert errors_of(workspace) == [
        (
            "posts/olpe/01-hallo.md:3: sender 'olpe' has no account on bluesky "
            "(add [accounts.olpe-bluesky] to the config)"
        )
    ]


def test_bad_when_expression(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="T-14x 09:30")
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-klima.md:2: at: ")
    assert "T-14x 09:30" in error


def test_at_after_not_after(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="T-3d 12:00", extra='not_after = "T-3d 11:00"\n')
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:4: at (2021-11-15 12:00) is after not_after (2021-11-15 11:00)"
    ]


def test_post_after_the_event_start_without_deadline_needs_the_default(
    workspace: Workspace,
) -> None:
    # Due before the event start: the default deadline is the event start, so this is fine.
    workspace.draft("soest/01-klima", at="T-1h")
    assert errors_of(workspace) == []


def test_due_before_the_campaign_starts(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="2021-10-25 09:00")
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:2: due 2021-10-25 09:00, before the campaign starts (2021-10-26 00:00)"
    ]


def test_follow_up_posts_are_allowed_for_two_weeks_after_the_event(workspace: Workspace) -> None:
    workspace.draft("soest/01-danke", at="T+1d 12:00")
    workspace.draft("soest/02-aufzeichnung", at="2021-12-02 15:00", extra='not_after = "T+15d"\n')
    assert errors_of(workspace) == []


def test_due_after_the_campaign_ends(workspace: Workspace) -> None:
    workspace.draft("soest/01-danke", at="2021-12-03 09:00")
    assert errors_of(workspace) == [
        (
            "posts/soest/01-danke.md:2: due 2021-12-03 09:00, after the campaign ends "
            "(2021-12-03 00:00); set campaign.ends to post later"
        )
    ]


def test_campaign_ends_before_the_event_is_an_error(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text().replace(
        'starts = "2021-10-26"', 'starts = "2021-10-26"\nends = "2021-11-17"'
    )
    workspace.campaign_file.write_text(text)
    assert errors_of(workspace) == ["campaign/testlauf.toml:8: campaign 'ends' is before the event"]


def test_campaign_ends_moves_the_end_of_follow_up_posts(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text().replace(
        'starts = "2021-10-26"', 'starts = "2021-10-26"\nends = "2021-11-19"'
    )
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-danke", at="T+1d 12:00")
    workspace.draft("soest/02-spaet", at="T+2d 12:00")
    assert errors_of(workspace) == [
        (
            "posts/soest/02-spaet.md:2: due 2021-11-20 12:00, after the campaign ends "
            "(2021-11-20 00:00); set campaign.ends to post later"
        )
    ]


def test_due_outside_the_posting_windows(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="2021-11-08 07:30")  # a Monday, before 08:00
    assert errors_of(workspace) == [
        (
            "posts/soest/01-klima.md:2: due 2021-11-08 07:30 (Mon), outside the posting windows "
            "(Mon-Fri 08:00-19:00, Sat-Sun 10:00-16:00)"
        )
    ]


def test_missing_hashtag(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", body="Soest wird klimaneutral.")
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:5: the text lacks the hashtag #5malklug"
    ]


def test_hashtag_must_be_the_whole_tag(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", body="Soest wird klimaneutral #5malklugheit")
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:5: the text lacks the hashtag #5malklug"
    ]


def test_missing_hashtag_in_a_variant_points_at_the_variant(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima",
        extra='[variants.bluesky]\ntext = "Kurz und ohne Tag"\n',
    )
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:5: the text (variant for bluesky) lacks the hashtag #5malklug"
    ]


def test_image_without_alt_text(workspace: Workspace) -> None:
    media = workspace.root / "posts" / "soest" / "media"
    media.mkdir()
    (media / "klima.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    workspace.draft("soest/01-klima", extra='[[media]]\npath = "media/klima.png"\n')
    assert errors_of(workspace) == [
        'posts/soest/01-klima.md:4: image media/klima.png has no alt text (add alt = "…")'
    ]


def test_missing_media_file(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima",
        extra='[[media]]\npath = "media/fehlt.png"\nalt = "Luftbild der Altstadt"\n',
    )
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:4: media file not found: media/fehlt.png"
    ]


def test_two_posts_on_one_account_closer_than_min_gap(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="T-14d 09:30")
    workspace.draft("soest/02-mobil", at="T-14d 09:50", body="Mobilitäts-Hubs #5malklug")
    errors = errors_of(workspace)
    assert errors == [
        (
            "posts/soest/02-mobil.md:2: soest/02-mobil and soest/01-klima both post on soest-bluesky "
            "within 20m (rules.min_gap is 30m)"
        ),
        (
            "posts/soest/02-mobil.md:2: soest/02-mobil and soest/01-klima both post on soest-mastodon "
            "within 20m (rules.min_gap is 30m)"
        ),
    ]


def test_different_accounts_may_post_at_the_same_time(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", at="T-14d 09:30", channels=("mastodon",))
    workspace.draft(
        "olpe/01-hallo", at="T-14d 09:30", channels=("mastodon",), body="Olpe #5malklug"
    )
    assert errors_of(workspace) == []


def test_mastodon_counts_every_url_as_23_characters(workspace: Workspace) -> None:
    # 460 letters + space + hashtag (10) + space + URL (23 on Mastodon) = 495 <= 500
    body = "a" * 460 + " #5malklug " + LINK + "?" + "x" * 100
    workspace.draft("soest/01-lang", body=body, channels=("mastodon",))
    assert errors_of(workspace) == []


def test_mastodon_limit_is_grapheme_clusters(workspace: Workspace) -> None:
    body = "ä" * 490 + " #5malklug"  # 500 graphemes: fits exactly
    workspace.draft("soest/01-lang", body=body, channels=("mastodon",))
    assert errors_of(workspace) == []
    workspace.draft("soest/01-lang", body="ä" * 491 + " #5malklug", channels=("mastodon",))
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-lang.md:5: text too long for mastodon")
    assert "501" in error and "500" in error


def test_mastodon_limit_comes_from_the_account(workspace: Workspace) -> None:
    text = workspace.config_file.read_text().replace(
        'token = "env:SOEST_MASTODON_TOKEN"',
        'token = "env:SOEST_MASTODON_TOKEN"\nmax_characters = 1000',
    )
    workspace.config_file.write_text(text)
    workspace.draft("soest/01-lang", body="ü" * 900 + " #5malklug", channels=("mastodon",))
    assert errors_of(workspace) == []


def test_bluesky_counts_urls_at_full_length(workspace: Workspace) -> None:
    # 245 + 1 + 9 + 1 + 48 = 304 graphemes on Bluesky; only 279 on Mastodon.
    body = "b" * 245 + " #5malklug " + LINK
    workspace.draft("soest/01-lang", body=body)
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-lang.md:5: text too long for bluesky: 304 of 300")
    assert "[variants.bluesky]" in error


def test_a_bluesky_variant_is_measured_instead_of_the_body(workspace: Workspace) -> None:
    body = "b" * 245 + " #5malklug " + LINK
    workspace.draft(
        "soest/01-lang", body=body, extra='[variants.bluesky]\ntext = "Kurz: #5malklug"\n'
    )
    assert errors_of(workspace) == []


def test_x_uses_the_weighted_length(workspace: Workspace) -> None:
    text = workspace.config_file.read_text() + (
        '\n[accounts.soest-x]\nchannel = "x"\nsender = "soest"\napi_key = "env:K"\n'
        'api_secret = "env:S"\naccess_token = "env:T"\naccess_secret = "env:A"\n'
    )
    workspace.config_file.write_text(text)
    # 135 CJK characters weigh 270, plus " #5malklug" (10) = 280: fits; one more does not.
    workspace.draft("soest/01-x", body="漢" * 135 + " #5malklug", channels=("x",))
    assert errors_of(workspace) == []
    workspace.draft("soest/01-x", body="漢" * 136 + " #5malklug", channels=("x",))
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-x.md:5: text too long for x: 282 of 280")


def test_literal_secret_in_config_is_an_error_that_does_not_echo_it(workspace: Workspace) -> None:
    text = workspace.config_file.read_text().replace(
        'token = "env:OLPE_MASTODON_TOKEN"', 'token = "hunter2-very-secret"'
    )
    workspace.config_file.write_text(text)
    errors = errors_of(workspace)
    assert errors == [
        (
            "config.toml:24: account 'olpe-mastodon': 'token' must be a reference like \"env:NAME\", "
            '"file:PATH" or "keyring:NAME", never the secret itself'
        )
    ]
    assert not any("hunter2" in e for e in errors)


def test_every_problem_is_reported_in_one_run(workspace: Workspace) -> None:
    workspace.draft("soest/01-a", at="T-14x", body="ohne Tag")
    workspace.draft("soest/02-b", channels=("mastodn",))
    workspace.draft("sost/03-c")
    assert len(errors_of(workspace)) == 4


def test_draft_without_front_matter(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", "Nur Text #5malklug\n")
    assert errors_of(workspace) == [
        "posts/soest/01-klima.md:1: a draft must start with a '+++' line (TOML front matter)"
    ]


def test_draft_text_helper_layout() -> None:
    # The line numbers above rely on this layout: fence, at, channels, extra..., fence, body.
    lines = draft_text(extra="x = 1\n").splitlines()
    assert lines[:5] == [
        "+++",
        'at = "T-14d 09:30"',
        'channels = ["mastodon", "bluesky"]',
        "x = 1",
        "+++",
    ]


def test_check_json_has_path_line_and_message(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from campaign_scheduler.cli import app

    workspace.draft("soest/01-klima", channels=("mastodn",))
    monkeypatch.chdir(workspace.root)
    result = runner.invoke(app, ["check", "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    errors = [p for p in problems if p["severity"] == "error"]
    assert errors == [
        {
            "path": "posts/soest/01-klima.md",
            "line": 3,
            "severity": "error",
            "message": "unknown channel 'mastodn' (did you mean 'mastodon'?)",
        }
    ]


def test_check_exit_code_is_zero_with_only_warnings(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app

    workspace.draft("soest/01-klima")
    monkeypatch.chdir(workspace.root)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert (
        "warning: account 'soest-mastodon': environment variable SOEST_MASTODON_TOKEN is not set"
        in result.stdout
    )


def test_paths_in_problems_are_absolute_objects(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", channels=("mastodn",))
    result = check(load_settings(workspace.config_file))
    assert all(isinstance(p.path, Path) for p in result.problems)


def test_split_allows_long_text_on_networks_with_threads(workspace: Workspace) -> None:
    body = "b" * 245 + " #5malklug " + LINK
    workspace.draft("soest/01-lang", body=body, extra="split = true\n")
    assert errors_of(workspace) == []


def test_split_does_not_help_on_networks_without_threads(workspace: Workspace) -> None:
    text = workspace.config_file.read_text() + (
        '\n[accounts.soest-linkedin]\nchannel = "linkedin"\nsender = "soest"\n'
        'organization = "urn:li:organization:1"\ntoken = "env:LI"\n'
    )
    workspace.config_file.write_text(text)
    body = "c" * 3000 + " #5malklug"
    workspace.draft("soest/01-lang", body=body, channels=("linkedin",), extra="split = true\n")
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-lang.md:6: text too long for linkedin")
    assert error.endswith("add a shorter [variants.linkedin] text (linkedin has no threads)")


def test_example_identities_left_in_a_live_config_are_warned_about(workspace: Workspace) -> None:
    config = workspace.config_file.read_text(encoding="utf-8")
    config = config.replace(
        'base_url = "https://social.soest.example"', 'base_url = "https://m.soest.de"'
    )
    config = config.replace(
        'base_url = "https://social.olpe.example"', 'base_url = "https://m.olpe.de"'
    )
    config += (
        '\n[accounts.soest-telegram]\nchannel = "telegram"\nsender = "soest"\n'
        'chat = "@stadt-beispiel"\ntoken = "env:SOEST_TELEGRAM_TOKEN"\n'
        '\n[accounts.soest-facebook]\nchannel = "facebook"\nsender = "soest"\n'
        'page_id = "EXAMPLE-PAGE-ID"\ntoken = "env:SOEST_FB_TOKEN"\n'
    )
    workspace.config_file.write_text(config, encoding="utf-8")
    workspace.draft("soest/01-klima")
    result = check(load_settings(workspace.config_file))
    placeholders = sorted(p.message for p in result.warnings if "example value" in p.message)
    tail = "still holds an example value from config.example.toml; put in the account's own"
    assert placeholders == [
        f"account 'soest-bluesky': identifier {tail}",
        f"account 'soest-facebook': page_id {tail}",
        f"account 'soest-telegram': chat {tail}",
    ]
    assert result.errors == []  # a warning: a rehearsal with placeholders is still possible


def test_the_example_config_itself_is_not_warned_about_its_placeholders() -> None:
    root = Path(__file__).resolve().parents[1]
    result = check(load_settings(root / "config.example.toml", environ={}))
    assert [p for p in result.warnings if "example value" in p.message] == []
    assert result.errors == []
