"""Whether a load would change anything, read from a SQLite database with Python's own
``sqlite3`` driver: no SQLAlchemy at all.

Importing SQLAlchemy's Core costs about a third of a load that changes nothing (0.15 s of
CPU on a quiet machine, more than the reads and the comparison together). Most loads change
nothing, so for a SQLite database given by a plain ``sqlite:///path`` URL that already
stands at the newest schema, :func:`unchanged_sqlite_load` reads what
``sync_reads.unchanged_load`` reads, with the same statements written out, in one read-only
transaction (``PRAGMA query_only``), and decides with the same code
(:mod:`campaign_scheduler.store.load_decision`). It never writes; whenever it cannot tell
(any other URL, no database file, another schema revision, a value it cannot read), or the
load would write, it answers None and the load goes on as before: ``open_store`` (which
migrates), the Core reads, and the ORM path with every guard.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from campaign_scheduler.store.load_decision import (
    CAMPAIGN_COLUMNS,
    LoadReport,
    StoredPost,
    record_is_current,
    report_if_unchanged,
    senders_are_current,
)
from campaign_scheduler.store.revisions import script_head

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.planning import PlannedPost

#: The campaign's columns that hold date-times (SQLite keeps them as text, in UTC).
_TIMES = ("event_start", "event_end")
BUSY_TIMEOUT_SECONDS = 15

# The statements, written out for SQLite. A test prepares each of them on a schema made from
# the models and on one made by the migrations, so a column or table renamed there fails it
# (here it would only send every load on to the slower path). Identifiers are never quoted:
# SQLite takes an unknown name in double quotes for a string.
VERSION_READ = "SELECT version_num FROM alembic_version"
CAMPAIGN_READ = f"SELECT id, {', '.join(CAMPAIGN_COLUMNS)} FROM campaign WHERE slug = ?"
SENDERS_READ = "SELECT slug, name FROM sender WHERE campaign_id = ?"
POSTS_READ = (
    "SELECT id, key, content_hash, removed_at IS NOT NULL FROM post "
    "WHERE campaign_id = ? AND source = 'draft'"
)
DELIVERIES_READ = (
    "SELECT delivery.post_id, account.name, delivery.content_hash, delivery.state, "
    "delivery.state_reason FROM delivery "
    "JOIN account ON account.id = delivery.account_id "
    "JOIN post ON post.id = delivery.post_id "
    "WHERE post.campaign_id = ? AND post.source = 'draft'"
)
STATEMENTS = (VERSION_READ, CAMPAIGN_READ, SENDERS_READ, POSTS_READ, DELIVERIES_READ)


def sqlite_file(url: str) -> str | None:
    """The database file of a plain ``sqlite:///path`` URL (as SQLAlchemy reads it), or None
    for any other URL: another driver, query arguments, escapes, memory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url.removeprefix(prefix)
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return path


def _stored_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("not a stored date-time")
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def unchanged_sqlite_load(
    url: str, campaign: Campaign, planned: Iterable[PlannedPost], *, dry_run: bool = False
) -> LoadReport | None:
    """The report of a load that would write nothing, read from the SQLite database at
    ``url`` without SQLAlchemy; None when it would write something or this cannot tell."""
    path = sqlite_file(url)
    head = script_head()
    if path is None or head is None or not os.path.isfile(path):
        return None
    try:
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only = ON")
        connection.execute("BEGIN")
        try:
            stored = _stored_state(connection, campaign, head)
        finally:
            connection.execute("ROLLBACK")
    except (sqlite3.Error, ValueError, TypeError, KeyError):
        return None
    finally:
        connection.close()
    if stored is None:
        return None
    return report_if_unchanged(planned, stored, dry_run=dry_run)


def _stored_state(
    connection: sqlite3.Connection, campaign: Campaign, head: str
) -> dict[str, StoredPost] | None:
    """The campaign's stored posts when the schema is at ``head`` and the campaign's record
    and senders are current; else None."""
    versions = [row[0] for row in connection.execute(VERSION_READ)]
    if versions != [head]:
        return None  # (an upgrade is due: open_store does it)
    row = connection.execute(CAMPAIGN_READ, (campaign.slug,)).fetchone()
    if row is None:
        return None
    record = dict(zip(CAMPAIGN_COLUMNS, row[1:], strict=True))
    for name in _TIMES:
        record[name] = _stored_time(record[name])
    if not record_is_current(campaign, record):
        return None
    campaign_id = row[0]
    senders = dict(connection.execute(SENDERS_READ, (campaign_id,)).fetchall())
    if not senders_are_current(campaign, senders):
        return None
    posts = {
        key: StoredPost(post_id, key, content_hash, bool(removed))
        for post_id, key, content_hash, removed in connection.execute(
            POSTS_READ, (campaign_id,)
        ).fetchall()
    }
    by_id = {post.id: post for post in posts.values()}
    for post_id, account, content_hash, state, reason in connection.execute(
        DELIVERIES_READ, (campaign_id,)
    ).fetchall():
        by_id[post_id].add_delivery(account, content_hash, state, reason)
    return posts
