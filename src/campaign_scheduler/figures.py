"""The figures of a post (likes, reposts, …): one definition for the channels, the record
and the report. Imports nothing of the project, so that any layer may use it cheaply."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class PostFigures:
    """The figures of a post, in display order. ``None`` means not known (the network does not
    tell). One definition for what a network reports (``channels.base.Metrics``) and what the
    campaign report sums (``reports.model.Figures``)."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    reach: int | None = None
    clicks: int | None = None


#: The names of :class:`PostFigures`, in display order: the snapshot columns
#: (``store.models.SNAPSHOT_FIGURES``) and the report's figures (``reports.model.FIGURES``).
FIGURE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(PostFigures))
