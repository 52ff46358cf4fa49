"""A campaign with random snapshots for the per-delivery summary (``delivery_metrics``): rows
written straight through Core, and the summary the snapshots imply, computed in Python.

The snapshots are inserted in shuffled order with ties in ``fetched_at`` (so that "latest" and
"first" must fall back to the id), figures a network gives only sometimes, and deliveries
without any snapshot.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from campaign_scheduler.store.models import (
    SNAPSHOT_FIGURES,
    AccountRecord,
    CampaignRecord,
    DeliveryMetricsRecord,
    DeliveryRecord,
    MetricSnapshotRecord,
    PostRecord,
    SenderRecord,
)

SLUG = "zufall"
DUE = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
#: channel -> the figures its snapshots may carry
CHANNELS: dict[str, tuple[str, ...]] = {
    "mastodon": ("likes", "reposts", "replies"),
    "linkedin": ("likes", "reposts", "replies", "views", "reach", "clicks"),
    "x": ("likes", "reposts", "replies", "quotes", "views", "clicks"),
    "telegram": (),
}
SENDERS = ("olpe", "soest")
STATES = ("published",) * 6 + ("failed", "expired", "pending", "cancelled")


def campaign_rows(connection: Connection, posts: int, seed: int) -> list[tuple[int, int, int]]:
    """A campaign with ``posts`` posts on every account of their sender; returns the published
    deliveries as (delivery id, campaign id, account id)."""
    rng = random.Random(seed)
    now = DUE - timedelta(days=30)
    connection.execute(
        insert(CampaignRecord),
        [
            {
                "id": 1,
                "slug": SLUG,
                "name": "Zufall",
                "hashtag": "#5malklug",
                "timezone": "Europe/Berlin",
                "language": "de",
                "event_name": "Konferenz",
                "event_start": DUE + timedelta(days=14),
                "grace_seconds": 7200,
                "min_gap_seconds": 0,
                "require_approval": False,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    connection.execute(
        insert(SenderRecord),
        [
            {"id": n + 1, "campaign_id": 1, "slug": s, "name": s.title()}
            for n, s in enumerate(SENDERS)
        ],
    )
    accounts = [
        (n * len(CHANNELS) + m + 1, n + 1, channel)
        for n in range(len(SENDERS))
        for m, channel in enumerate(CHANNELS)
    ]
    connection.execute(
        insert(AccountRecord),
        [
            {
                "id": account_id,
                "name": f"{SENDERS[sender - 1]}-{channel}",
                "channel": channel,
                "sender_id": sender,
                "needs_attention": False,
                "updated_at": now,
            }
            for account_id, sender, channel in accounts
        ],
    )
    post_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for number in range(posts):
        sender = number % len(SENDERS) + 1
        due = DUE + timedelta(hours=number * 7)
        post_rows.append(
            {
                "id": number + 1,
                "campaign_id": 1,
                "key": f"{SENDERS[sender - 1]}/{number:03d}",
                "source": "draft",
                "sender_id": sender,
                "body": f"Beitrag {number} #5malklug",
                "variants": {},
                "media": [],
                "language": "de",
                "split": False,
                "at_text": "x",
                "due_at": due,
                "content_hash": "h",
                "version": 1,
                "author": "anna",
                "created_at": now,
                "updated_at": now,
            }
        )
        for account_id, account_sender, channel in accounts:
            if account_sender != sender:
                continue
            state = rng.choice(STATES)
            published = state == "published"
            delivery_id = len(delivery_rows) + 1
            delivery_rows.append(
                {
                    "id": delivery_id,
                    "post_id": number + 1,
                    "account_id": account_id,
                    "state": state,
                    "state_reason": None if published else f"{state}: reason",
                    "text": f"Beitrag {number} auf {channel}",
                    "content_hash": "h",
                    "due_at": due,
                    "attempts": 1,
                    "idempotency_key": f"k{delivery_id}",
                    "remote_id": str(delivery_id) if published else None,
                    "remote_url": f"https://{channel}.example/{delivery_id}" if published else None,
                    "published_at": due + timedelta(seconds=rng.randrange(1, 300))
                    if published
                    else None,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    connection.execute(insert(PostRecord), post_rows)
    connection.execute(insert(DeliveryRecord), delivery_rows)
    channel_of = {account_id: channel for account_id, _, channel in accounts}
    return [
        (row["id"], 1, row["account_id"])
        for row in delivery_rows
        if row["state"] == "published" and channel_of[row["account_id"]]
    ]


def random_snapshots(
    published: list[tuple[int, int, int]], seed: int, channel_of: Callable[[int], str]
) -> list[dict[str, Any]]:
    """0 to 5 snapshots per published delivery, shuffled, with ties in ``fetched_at``."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for delivery_id, campaign_id, account_id in published:
        given = CHANNELS[channel_of(account_id)]
        for _ in range(rng.randrange(6)):
            row: dict[str, Any] = {
                "delivery_id": delivery_id,
                "campaign_id": campaign_id,
                "account_id": account_id,
                # Few distinct instants: ties are common, and only the id orders them.
                "fetched_at": DUE + timedelta(days=30, hours=rng.randrange(4)),
                "followers": rng.choice([None, rng.randrange(5000)]),
            }
            for name in SNAPSHOT_FIGURES:
                row[name] = rng.randrange(100) if name in given and rng.random() < 0.8 else None
            rows.append(row)
    rng.shuffle(rows)
    return rows


def channel_lookup(connection: Connection) -> Callable[[int], str]:
    channels = dict(connection.execute(select(AccountRecord.id, AccountRecord.channel)).all())
    return lambda account_id: str(channels[account_id])


SUMMARY_COLUMNS = tuple(c.name for c in DeliveryMetricsRecord.__table__.columns)


def summary_rows(connection: Connection) -> dict[int, tuple[Any, ...]]:
    """The summary table as stored: delivery id -> its row (booleans as bools)."""
    table = DeliveryMetricsRecord.__table__
    rows = connection.execute(select(table).order_by(table.c.delivery_id)).all()
    return {
        row.delivery_id: tuple(
            bool(value) if name.startswith("has_") else value
            for name, value in zip(SUMMARY_COLUMNS, row, strict=True)
        )
        for row in rows
    }


def expected_summary(connection: Connection) -> dict[int, tuple[Any, ...]]:
    """The summary implied by the stored snapshots, computed in Python: the latest and first
    snapshot by (fetched_at, id), and which figures any snapshot has."""
    snapshots: dict[int, list[Any]] = {}
    for row in connection.execute(select(MetricSnapshotRecord.__table__)):
        snapshots.setdefault(row.delivery_id, []).append(row)
    result = {}
    for delivery_id, rows in snapshots.items():
        latest = max(rows, key=lambda r: (r.fetched_at, r.id))
        first = min(rows, key=lambda r: (r.fetched_at, r.id))
        values = {
            "delivery_id": delivery_id,
            "latest_snapshot_id": latest.id,
            "latest_fetched_at": latest.fetched_at,
            **{name: getattr(latest, name) for name in SNAPSHOT_FIGURES},
            "first_snapshot_id": first.id,
            "first_fetched_at": first.fetched_at,
            "first_followers": first.followers,
            **{
                f"has_{name}": any(getattr(r, name) is not None for r in rows)
                for name in SNAPSHOT_FIGURES
            },
        }
        result[delivery_id] = tuple(values[name] for name in SUMMARY_COLUMNS)
    return result
