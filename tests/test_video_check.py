"""`campaign check` probes each video with ffprobe and holds it against every network's limits
(the channel class's ``spec.video``); alt text is required for videos as for images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from campaign_scheduler.channels.catalog import VideoLimits
from campaign_scheduler.config import load_settings
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from campaign_scheduler.videotypes import limit_problems, probe_video
from conftest import Workspace, make_video

ALT = 'alt = "Video: Bürgermeisterin lädt zur Konferenz ein"\n'


def errors_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.severity is Severity.ERROR]


def video_draft(
    ws: Workspace,
    name: str = "media/gruss.mp4",
    *,
    alt: str = ALT,
    channels: tuple[str, ...] = ("mastodon", "bluesky"),
    extra: str = "",
) -> None:
    ws.draft("soest/01-video", channels=channels, extra=f'[[media]]\npath = "{name}"\n{alt}{extra}')


def test_the_probe_reads_format_duration_and_pixels(tmp_path: Path) -> None:
    path = make_video(tmp_path / "gruss.mp4", seconds=2, size="96x64", rate=25)
    info = probe_video(path)
    assert info is not None
    assert info.content_type == "video/mp4"
    assert (info.width, info.height) == (96, 64)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.frame_rate == pytest.approx(25.0)
    assert info.video_codec == "h264"
    assert info.size == path.stat().st_size


def test_the_probe_finds_no_video_in_an_image_or_text(tmp_path: Path) -> None:
    make_video(tmp_path / "unused.mp4")  # only for the skip when ffmpeg is missing
    text = tmp_path / "kein.mp4"
    text.write_text("kein Video", encoding="utf-8")
    assert probe_video(text) is None


def test_a_small_mp4_is_clean_on_networks_that_take_video(workspace: Workspace) -> None:
    make_video(workspace.root / "posts/soest/media/gruss.mp4")
    video_draft(workspace)
    assert errors_of(workspace) == []


def test_a_video_without_alt_text_is_refused_like_an_image(workspace: Workspace) -> None:
    make_video(workspace.root / "posts/soest/media/gruss.mp4")
    video_draft(workspace, alt="")
    assert errors_of(workspace) == [
        'posts/soest/01-video.md:4: video media/gruss.mp4 has no alt text (add alt = "…")'
    ]


def test_a_file_named_mp4_that_holds_no_video_is_refused(workspace: Workspace) -> None:
    make_video(workspace.root / "posts/soest/media/unused.mp4")
    (workspace.root / "posts/soest/media/gruss.mp4").write_bytes(b"\x89PNG\r\n\x1a\n")
    video_draft(workspace)
    assert errors_of(workspace) == [
        "posts/soest/01-video.md:4: media/gruss.mp4 holds no video the probe can read"
    ]


def test_a_network_without_video_is_refused_at_the_channels_line(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel whose class declares no ``spec.video`` (a plugin, Matrix, webhooks)."""
    from campaign_scheduler.channels.bluesky import BlueskyChannel

    monkeypatch.setattr(BlueskyChannel, "spec", replace(BlueskyChannel.spec, video=None))
    make_video(workspace.root / "posts/soest/media/gruss.mp4")
    video_draft(workspace, channels=("mastodon", "bluesky"))
    assert errors_of(workspace) == [
        "posts/soest/01-video.md:3: bluesky: Bluesky takes no video here"
    ]


def test_two_videos_or_a_video_with_an_image_are_refused_on_mastodon(
    workspace: Workspace,
) -> None:
    make_video(workspace.root / "posts/soest/media/gruss.mp4")
    (workspace.root / "posts/soest/media/bild.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    video_draft(
        workspace,
        channels=("mastodon",),
        extra=f'[[media]]\npath = "media/bild.png"\n{ALT}',
    )
    assert errors_of(workspace) == [
        "posts/soest/01-video.md:3: mastodon: Mastodon takes a video only without images"
    ]


def test_limits_name_what_is_wrong(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "lang.mp4", seconds=3, size="320x240", rate=30))
    assert info is not None
    limits = VideoLimits(
        formats=("video/quicktime",),
        max_bytes=1000,
        max_seconds=2,
        min_seconds=0,
        max_pixels=320 * 200,
        max_frame_rate=25,
    )
    problems = limit_problems(info, limits)
    assert problems == [
        "format video/mp4 is not taken (takes video/quicktime)",
        f"{info.size / 1e6:.1f} MB is larger than the 0.0 MB allowed",
        "3.0 s long, at most 2 s allowed",
        "320×240 pixels, at most 64000 pixels allowed",
        "30 frames per second, at most 25 allowed",
    ]
    assert (
        limit_problems(
            info,
            replace(
                limits,
                formats=("video/mp4",),
                max_bytes=10**9,
                max_seconds=None,
                max_pixels=None,
                max_frame_rate=None,
            ),
        )
        == []
    )
    assert limit_problems(info, VideoLimits(min_seconds=5)) == ["3.0 s long, at least 5 s needed"]


def test_a_too_long_video_is_refused_per_network(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.channels.mastodon import MastodonChannel

    short = replace(MastodonChannel.spec.video, max_seconds=1.5)  # type: ignore[type-var]
    monkeypatch.setattr(MastodonChannel, "spec", replace(MastodonChannel.spec, video=short))
    make_video(workspace.root / "posts/soest/media/gruss.mp4", seconds=2)
    video_draft(workspace, channels=("mastodon",))
    assert errors_of(workspace) == [
        (
            "posts/soest/01-video.md:4: video media/gruss.mp4 on mastodon: "
            "2.0 s long, at most 1.5 s allowed"
        )
    ]


def test_without_ffprobe_check_says_it_cannot_check_the_video(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_video(workspace.root / "posts/soest/media/gruss.mp4")
    video_draft(workspace, channels=("mastodon",))
    monkeypatch.setenv("PATH", str(workspace.root))
    assert errors_of(workspace) == [
        (
            "posts/soest/01-video.md:4: cannot check video media/gruss.mp4: ffprobe is not "
            "installed (Debian: apt-get install ffmpeg)"
        )
    ]


def test_the_video_messages_speak_german_when_asked(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.channels.mastodon import MastodonChannel

    short = replace(MastodonChannel.spec.video, max_seconds=1.5)  # type: ignore[type-var]
    monkeypatch.setattr(MastodonChannel, "spec", replace(MastodonChannel.spec, video=short))
    monkeypatch.setenv("CAMPAIGN_LANG", "de")
    make_video(workspace.root / "posts/soest/media/gruss.mp4", seconds=2)
    video_draft(workspace, channels=("mastodon",))
    expected = (
        "posts/soest/01-video.md:4: Video media/gruss.mp4 auf mastodon: "
        "2.0 s lang, erlaubt sind höchstens 1.5 s"
    )
    assert errors_of(workspace) == [expected]
