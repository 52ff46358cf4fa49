"""The report as JSON for scripts. The shape is public and stable (docs/report.md,
``report_version``); unknown figures are ``null``, never 0."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.model import (
    FIGURES,
    OUTCOMES,
    REPORT_VERSION,
    Figures,
    Outcomes,
    Punctuality,
    Report,
)


def report_json(report: Report, words: Words) -> dict[str, Any]:
    zone = ZoneInfo(report.campaign.timezone)
    campaign = report.campaign

    def moment(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value is not None else None

    return {
        "report_version": REPORT_VERSION,
        "generated_at": moment(report.generated_at),
        "language": words.lang.value,
        "by": report.by.value,
        "campaign": {
            "slug": campaign.slug,
            "name": campaign.name,
            "hashtag": campaign.hashtag,
            "timezone": campaign.timezone,
            "event": {
                "name": campaign.event_name,
                "start": moment(campaign.event_start),
                "end": moment(campaign.event_end),
                "url": campaign.event_url,
            },
        },
        "totals": {
            "deliveries": _outcomes(report.totals_outcomes),
            "punctuality": _punctuality(report.totals_punctuality),
            "engagement": _figures(report.totals_figures),
        },
        "groups": [
            {
                "key": group.key,
                "label": group.label,
                **({"countdown": group.countdown} if group.countdown is not None else {}),
                "deliveries": _outcomes(group.outcomes),
                "reasons": [
                    {"state": r.state, "reason": r.reason, "count": r.count} for r in group.reasons
                ],
                "punctuality": _punctuality(group.punctuality),
                "engagement": _figures(group.figures),
            }
            for group in report.groups
        ],
        "channels": [
            {
                "channel": row.channel,
                "deliveries": _outcomes(row.outcomes),
                "engagement": _figures(row.figures),
            }
            for row in report.channels
        ],
        "providers": {name: list(report.providers.get(name, ())) for name in FIGURES},
        "networks_without_impressions": list(report.without_impressions),
        "followers": [
            {
                "account": row.account,
                "channel": row.channel,
                "sender": row.sender,
                "sender_name": row.sender_name,
                "at_first_post": row.at_first_post,
                "at_last_post": row.at_last_post,
            }
            for row in report.followers
        ],
        "top_posts": [
            {
                "rank": post.rank,
                "post": post.post,
                "sender": post.sender,
                "sender_name": post.sender_name,
                "text": post.text,
                "account": post.account,
                "channel": post.channel,
                "published_at": moment(post.published_at),
                "url": post.url,
                "engagement": _figures(post.figures, measured=False),
            }
            for post in report.top_posts
        ],
        "timeline": [
            {
                "date": day.day.isoformat(),
                "countdown": day.countdown,
                "planned": day.planned,
                "published": day.published,
            }
            for day in report.timeline
        ],
        "hashtag": {
            "tag": report.hashtag.tag,
            "posts": report.hashtag.posts,
            "authors": report.hashtag.authors,
            "channels": [
                {"channel": c.channel, "posts": c.posts, "authors": c.authors}
                for c in report.hashtag.channels
            ],
            "days": [
                {
                    "date": d.day.isoformat(),
                    "countdown": d.countdown,
                    "posts": d.posts,
                    "authors": d.authors,
                }
                for d in report.hashtag.days
            ],
        },
        "notes": words.notes(),
    }


def render_json(report: Report, words: Words) -> str:
    return json.dumps(report_json(report, words), ensure_ascii=False, indent=2) + "\n"


def _outcomes(outcomes: Outcomes) -> dict[str, int]:
    return {name: getattr(outcomes, name) for name in OUTCOMES}


def _punctuality(lag: Punctuality) -> dict[str, Any]:
    return fields_of(
        lag, "published", "median_seconds", "p95_seconds", "max_seconds", "within_1_minute"
    )


def _figures(figures: Figures, *, measured: bool = True) -> dict[str, int | None]:
    result: dict[str, int | None] = {name: figures.get(name) for name in FIGURES}
    result["interactions"] = figures.interactions
    if measured:
        result["measured"] = figures.measured
    return result
