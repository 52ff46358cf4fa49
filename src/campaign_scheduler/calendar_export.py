"""The plan as an iCalendar file a calendar client can subscribe to.

One event per post (not per delivery): a calendar shows when something goes out and where.
UIDs are stable (post key + campaign), and SEQUENCE follows the post's version, so a client
that re-reads the file updates events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from campaign_scheduler import __version__
from campaign_scheduler.store.queries import PlanRow

POST_DURATION = timedelta(minutes=15)


def plan_calendar(
    rows: Sequence[PlanRow],
    *,
    campaign_slug: str,
    campaign_name: str,
    timezone: str,
    generated_at: datetime,
    event_name: str | None = None,
    event_start: datetime | None = None,
    event_end: datetime | None = None,
    event_url: str | None = None,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", f"-//campaign-scheduler {__version__}//{campaign_slug}//DE")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", campaign_name)
    calendar.add("x-wr-timezone", timezone)

    by_post: dict[str, list[PlanRow]] = {}
    for row in rows:
        by_post.setdefault(row.post, []).append(row)
    for key, post_rows in by_post.items():
        first = post_rows[0]
        event = Event()
        event.add("uid", f"{key}@{campaign_slug}.campaign-scheduler")
        event.add("dtstamp", generated_at)
        event.add("dtstart", first.due_at)
        event.add("dtend", first.due_at + POST_DURATION)
        event.add("sequence", first.version)
        channels = ", ".join(sorted({r.channel for r in post_rows}))
        event.add("summary", f"{first.sender_name}: {key.split('/', 1)[-1]} ({channels})")
        lines = [f"{r.account} ({r.channel}): {r.state}" for r in post_rows]
        event.add("description", first.text + "\n\n" + "\n".join(lines))
        event.add("categories", [first.sender])
        states = {r.state for r in post_rows}
        event.add("status", "CANCELLED" if states == {"cancelled"} else "CONFIRMED")
        calendar.add_component(event)

    if event_name and event_start is not None:
        event = Event()
        event.add("uid", f"event@{campaign_slug}.campaign-scheduler")
        event.add("dtstamp", generated_at)
        event.add("dtstart", event_start)
        event.add("dtend", event_end or event_start + timedelta(hours=1))
        event.add("summary", event_name)
        if event_url:
            event.add("url", event_url)
        calendar.add_component(event)
    return bytes(calendar.to_ical())
