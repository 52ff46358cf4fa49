"""`campaign sandbox` serves every network on loopback until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import requests


def test_the_sandbox_serves_all_networks_and_prints_a_working_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "campaign_scheduler", "sandbox"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("# serving"):
                break
        text = "".join(lines)
        tables = tomllib.loads(
            "\n".join(l for l in text.splitlines() if not l.startswith(("#", "export ")))
        )
        accounts = tables["accounts"]
        assert {a["channel"] for a in accounts.values()} == {
            "mastodon",
            "bluesky",
            "x",
            "facebook",
            "instagram",
            "threads",
            "linkedin",
            "telegram",
            "matrix",
            "webhook",
        }
        exports = [l for l in text.splitlines() if l.startswith("export ")]
        assert len(exports) >= 10
        mastodon = accounts["sandbox-mastodon"]
        token = next(l.split("=", 1)[1] for l in exports if "SANDBOX_MASTODON_TOKEN" in l)
        answer = requests.get(
            f"{mastodon['base_url']}/api/v1/accounts/verify_credentials",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "# sandboxes stopped" in out
