"""Which video a file holds, read by a real media probe (``ffprobe`` from FFmpeg), and whether
a network takes it.

A draft's ``[[media]]`` file is a video when its name says so (``.mp4``, ``.mov``, ``.webm``;
the publisher sends the same media type). ``campaign check`` then probes it with ``ffprobe``:
container, codecs, duration, pixel size and frame rate, never guessed from the name. Each
network's limits are its channel class's :class:`~campaign_scheduler.channels.catalog.VideoLimits`
(``spec.video``); a network without them takes no video.

``ffprobe`` is an external program (Debian: ``apt-get install ffmpeg``). When it is missing,
``check`` says so at the ``[[media]]`` line instead of letting an unchecked video through.
"""

from __future__ import annotations

import json
import math
import mimetypes
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from campaign_scheduler.channels.catalog import VideoLimits

#: How long one probe may take; a healthy ffprobe reads a header in milliseconds.
PROBE_TIMEOUT = 30.0


class ProbeUnavailableError(Exception):
    """``ffprobe`` is not installed (or cannot be run)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the probe found: media type, bytes, seconds, pixels, frames per second, codecs."""

    content_type: str  # video/mp4, video/quicktime or video/webm; "" for another container
    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    size: int
    duration: float
    width: int
    height: int
    frame_rate: float | None
    video_codec: str
    audio_codec: str | None


def is_video_name(name: str | Path) -> bool:
    """Whether a media file's name says it is a video (the type the publisher sends)."""
    kind = mimetypes.guess_type(str(name))[0]
    return kind is not None and kind.startswith("video/")


def probe_video(path: Path) -> VideoInfo | None:
    """The video in ``path``; ``None`` when the file holds no video stream (or is no media
    file at all). Raises :class:`ProbeUnavailableError` when ffprobe cannot be run."""
    program = shutil.which("ffprobe")
    if program is None:
        raise ProbeUnavailableError(
            msg("ffprobe is not installed (Debian: apt-get install ffmpeg)")
        )
    command = [
        program,
        *("-v", "error", "-print_format", "json", "-show_format", "-show_streams"),
        "--",
        str(path),
    ]
    try:
        done = subprocess.run(  # a fixed program; the path after --
            command, capture_output=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeUnavailableError(
            msg("ffprobe could not read the file: {error}", error=str(exc))
        ) from exc
    if done.returncode != 0:
        return None
    try:
        found = json.loads(done.stdout)
    except ValueError:
        return None
    return _video_of(found, path)


def _video_of(found: Any, path: Path) -> VideoInfo | None:
    if not isinstance(found, dict):
        return None
    streams = [s for s in found.get("streams") or [] if isinstance(s, dict)]
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    form = _mapping(found.get("format"))
    container = str(form.get("format_name") or "")
    if video is None or container.endswith("_pipe") or container.startswith("image2"):
        return None  # no video stream, or a still image (ffprobe calls a PNG a video stream)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _number(form.get("duration")) or _number(video.get("duration")) or 0.0
    try:
        size = path.stat().st_size
    except OSError:
        size = int(_number(form.get("size")) or 0)
    return VideoInfo(
        content_type=_content_type(container, form, video),
        container=container,
        size=size,
        duration=duration,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        frame_rate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        video_codec=str(video.get("codec_name") or ""),
        audio_codec=str(audio.get("codec_name")) if audio is not None else None,
    )


def _content_type(container: str, form: dict[str, Any], video: dict[str, Any]) -> str:
    names = set(container.split(","))
    if "mp4" in names or "mov" in names:
        tags = _mapping(form.get("tags"))
        brand = str(tags.get("major_brand") or "").strip()
        return "video/quicktime" if brand == "qt" else "video/mp4"
    if "webm" in names and video.get("codec_name") in ("vp8", "vp9", "av1"):
        return "video/webm"
    return ""


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _rate(value: object) -> float | None:
    """``"30000/1001"`` -> 29.97; ``"0/0"`` (unknown) -> None."""
    text = str(value or "")
    top, _, bottom = text.partition("/")
    numerator, denominator = _number(top), _number(bottom or "1")
    if not numerator or not denominator:
        return None
    return numerator / denominator


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def limit_problems(info: VideoInfo, limits: VideoLimits) -> list[str]:
    """What ``limits`` refuse about the probed video (English :class:`Msg` texts, said in the
    user's language where they are shown)."""

    problems: list[str] = []
    if info.content_type not in limits.formats:
        shown = info.content_type or info.container or "unknown"
        problems.append(
            msg(
                "format {found} is not taken (takes {formats})",
                found=shown,
                formats=", ".join(limits.formats),
            )
        )
    if info.size > limits.max_bytes:
        problems.append(
            msg(
                "{size} is larger than the {limit} allowed",
                size=_megabytes(info.size),
                limit=_megabytes(limits.max_bytes),
            )
        )
    if limits.max_seconds is not None and info.duration > limits.max_seconds:
        problems.append(
            msg(
                "{seconds:.1f} s long, at most {limit:g} s allowed",
                seconds=info.duration,
                limit=limits.max_seconds,
            )
        )
    if info.duration < limits.min_seconds:
        problems.append(
            msg(
                "{seconds:.1f} s long, at least {limit:g} s needed",
                seconds=info.duration,
                limit=limits.min_seconds,
            )
        )
    if limits.max_pixels is not None and info.width * info.height > limits.max_pixels:
        problems.append(
            msg(
                "{width}×{height} pixels, at most {limit} pixels allowed",
                width=info.width,
                height=info.height,
                limit=limits.max_pixels,
            )
        )
    if (
        limits.max_frame_rate is not None
        and info.frame_rate is not None
        and info.frame_rate > limits.max_frame_rate + 0.01
    ):
        problems.append(
            msg(
                "{rate:.0f} frames per second, at most {limit:g} allowed",
                rate=info.frame_rate,
                limit=limits.max_frame_rate,
            )
        )
    return problems
