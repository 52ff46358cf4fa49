"""``campaign check`` for a draft's videos: probe each one (``ffprobe``) and hold it against the
limits of every network the draft goes to (their channel class's ``spec.video``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaign_scheduler.problems import Problem
from campaign_scheduler.uilang import msg
from campaign_scheduler.videotypes import (
    ProbeUnavailableError,
    is_video_name,
    limit_problems,
    probe_video,
)

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import Channel
    from campaign_scheduler.drafts import Draft


def video_problems(draft: Draft, classes: dict[str, type[Channel]]) -> list[Problem]:
    """Every problem of ``draft``'s videos on the networks in ``classes`` (name -> class)."""
    from campaign_scheduler.channels.base import video_count_problems

    problems: list[Problem] = []
    videos = [media for media in draft.media if is_video_name(media.relative)]
    if not videos:
        return problems
    channels_line = draft.doc.line_of("channels")
    images = len(draft.media) - len(videos)
    for channel, cls in classes.items():
        for problem in video_count_problems(cls.title(), cls.spec.video, len(videos), images):
            problems.append(
                Problem(
                    draft.path,
                    channels_line,
                    msg("{channel}: {problem}", channel=channel, problem=problem),
                )
            )
    for media in videos:
        if not media.path.exists():
            continue  # the media check says it is missing
        try:
            info = probe_video(media.path)
        except ProbeUnavailableError as exc:
            problems.append(
                Problem(
                    draft.path,
                    media.line,
                    msg(
                        "cannot check video {path}: {reason}", path=media.relative, reason=str(exc)
                    ),
                )
            )
            continue
        if info is None:
            problems.append(
                Problem(
                    draft.path,
                    media.line,
                    msg("{path} holds no video the probe can read", path=media.relative),
                )
            )
            continue
        for channel, cls in classes.items():
            if cls.spec.video is None:
                continue  # said once above, at the channels line
            for problem in limit_problems(info, cls.spec.video):
                problems.append(
                    Problem(
                        draft.path,
                        media.line,
                        msg(
                            "video {path} on {channel}: {problem}",
                            path=media.relative,
                            channel=channel,
                            problem=problem,
                        ),
                    )
                )
    return problems
