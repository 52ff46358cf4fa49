"""A campaign that is live *now*, pointed at a sandbox, for tests that run the real daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from campaign_scheduler.sandbox.mastodon import MastodonSandbox

CANARY_TOKEN_PREFIX = "canary-token-"


class LiveCampaign:
    """Config, campaign and drafts on disk; every account is a sandbox account."""

    def __init__(
        self,
        root: Path,
        sandbox: MastodonSandbox,
        *,
        accounts: int = 1,
        database_url: str | None = None,
        lease: str = "10m",
        reconcile: str = "30s",
        grace: str = "2h",
        min_gap: str = "30m",
        event_start: datetime | None = None,
    ) -> None:
        self.root = root
        self.sandbox = sandbox
        self.now = datetime.now(UTC).replace(microsecond=0)
        start = event_start or self.now + timedelta(days=7)
        (root / "campaign").mkdir(parents=True, exist_ok=True)
        (root / "posts" / "soest").mkdir(parents=True, exist_ok=True)
        (root / "campaign" / "live.toml").write_text(
            f"""[campaign]
slug = "live"
name = "Live"
hashtag = "#5malklug"
timezone = "Europe/Berlin"
language = "de"

[event]
name = "Smart Cities: Konferenz"
start = "{start.isoformat()}"

[rules]
min_gap = "{min_gap}"
grace = "{grace}"

[[senders]]
slug = "soest"
name = "Stadt Soest"
""",
            encoding="utf-8",
        )
        self.env: dict[str, str] = {}
        account_tables = []
        for n in range(accounts):
            name = f"soest-mastodon-{n}" if accounts > 1 else "soest-mastodon"
            variable = f"LIVE_TOKEN_{n}"
            self.env[variable] = sandbox.add_account(f"soest{n}", f"{CANARY_TOKEN_PREFIX}{n}-x9q")
            account_tables.append(
                f'[accounts.{name}]\nchannel = "mastodon"\nsender = "soest"\n'
                f'base_url = "{sandbox.url}"\ntoken = "env:{variable}"\n'
            )
        self.database_url = database_url or f"sqlite:///{root / 'live.db'}"
        self.config = root / "config.toml"
        self.config.write_text(
            f'[database]\nurl = "{self.database_url}"\n\n[paths]\ncampaign = "campaign/live.toml"\n'
            f'\n[daemon]\nlease = "{lease}"\nreconcile = "{reconcile}"\n\n'
            + "\n".join(account_tables),
            encoding="utf-8",
        )

    def draft(self, name: str, at: datetime, text: str = "Live aus Soest #5malklug") -> None:
        (self.root / "posts" / "soest" / f"{name}.md").write_text(
            f'+++\nat = "{at.isoformat()}"\nchannels = ["mastodon"]\n+++\n{text}\n',
            encoding="utf-8",
        )

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "campaign_scheduler", "--config", str(self.config), *args]

    def process_env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
        return {**base, **self.env}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.process_env(),
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> Started:
        """Start a long-running command; its output goes to a file (a pipe nobody reads
        would fill up and block the daemon's logging)."""
        log = self.root / f"process-{len(list(self.root.glob('process-*.log')))}.log"
        with log.open("w", encoding="utf-8") as sink:
            popen = subprocess.Popen(
                self.command(*args),
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.process_env(),
            )
        return Started(popen, log)

    def load(self) -> None:
        result = self.run("load")
        assert result.returncode == 0, result.stdout + result.stderr


class Started:
    """A running command and the file its output goes to."""

    def __init__(self, popen: subprocess.Popen[str], log: Path) -> None:
        self.popen = popen
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def send_signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process; return its exit code and output."""
        code = self.popen.wait(timeout)
        return code, self.log.read_text(encoding="utf-8")


def texts(statuses: Sequence[object]) -> list[str]:
    return [getattr(s, "text") for s in statuses]  # noqa: B009
