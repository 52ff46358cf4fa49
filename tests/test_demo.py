"""`campaign demo` plays the shipped #5malklug campaign on the sandboxes and reports on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from campaign_scheduler.store.engine import open_store
from snapshot_data import expected_summary, summary_rows

ROOT = Path(__file__).resolve().parents[1]
SENDERS = {"suedwestfalen", "arnsberg", "bad-berleburg", "menden", "olpe", "soest"}


def test_the_demo_publishes_for_every_sender_and_writes_the_reports(tmp_path: Path) -> None:
    html, report = tmp_path / "demo.html", tmp_path / "demo.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "campaign_scheduler",
            "--config",
            str(ROOT / "config.example.toml"),
            "demo",
            "--span",
            "20",
            "--output",
            str(html),
            "--json-report",
            str(report),
            "--workdir",
            str(tmp_path / "rehearsal"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "120"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Compressed clock:" in result.stdout
    # The shipped campaign requires four eyes; the rehearsal approves its own copy as a reviewer.
    assert "Four eyes: demo-reviewer approved 53 posts written by demo" in result.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    groups = {g["key"]: g for g in data["groups"]}
    assert set(groups) == SENDERS
    for sender, group in groups.items():
        deliveries = group["deliveries"]
        assert deliveries["planned"] > 0, sender
        assert deliveries["published"] == deliveries["planned"], (sender, group["reasons"])
        assert group["engagement"]["measured"] > 0, sender
    for channel in data["channels"]:
        # Every published post was measured, except on webhooks, which have no figures.
        expected = 0 if channel["channel"] == "webhook" else channel["deliveries"]["published"]
        assert channel["engagement"]["measured"] == expected, channel["channel"]
    assert data["totals"]["deliveries"]["planned"] == 216
    assert data["hashtag"]["posts"] >= 1  # others used the hashtag during the rehearsal
    assert "<svg" in html.read_text(encoding="utf-8")
    # The report shows the campaign's days, not the minute the rehearsal took.
    days = [day["date"] for day in data["timeline"]]
    assert days[0] >= "2021-10-26" and days[-1] <= "2021-11-30", days
    assert {day["countdown"] for day in data["timeline"]} >= {"T-0", "T-14"}
    published = sum(day["published"] for day in data["timeline"])
    assert published == data["totals"]["deliveries"]["published"]
    # "As of" agrees with the event: after the last post, in the campaign's year.
    assert "2021-11-18" <= data["generated_at"][:10] <= days[-1]
    assert all(p["published_at"][:4] == "2021" for p in data["top_posts"])
    # Delays as measured in the rehearsal (seconds), not stretched by the compression.
    assert data["totals"]["punctuality"]["max_seconds"] < 600
    # The record mapped back onto the campaign's clock: each delivery's summary of its snapshots
    # moved with them and still says what they imply.
    store = open_store(f"sqlite:///{tmp_path / 'rehearsal' / 'rehearsal.db'}", migrate=False)
    try:
        with store.transaction() as connection:
            summary = summary_rows(connection)
            assert summary and summary == expected_summary(connection)
    finally:
        store.dispose()
