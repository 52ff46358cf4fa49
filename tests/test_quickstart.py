"""The German quick start for communications staff and the container files for IT."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from campaign_scheduler.cli import app

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "schnellstart.md"


def command_names() -> set[str]:
    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def test_the_guide_walks_from_draft_to_report() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    order = ["campaign init", "+++", "campaign check", "campaign plan", "campaign approve"]
    order.append("campaign report")
    positions = [text.index(step) for step in order]
    assert positions == sorted(positions)


def test_the_guide_speaks_without_jargon() -> None:
    text = GUIDE.read_text(encoding="utf-8").lower()
    for word in ("idempoten", "skip locked", "lease", "daemon", "transaction", "sqlalchemy"):
        assert word not in text, word


def test_every_command_in_the_guide_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    used = set(re.findall(r"\bcampaign ([a-z]+)\b", text))
    assert used and used <= command_names(), used - command_names()


def test_the_readme_points_staff_to_the_guide() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:3000]
    assert "docs/schnellstart.md" in head


def test_the_dockerfile_copies_what_exists_and_runs_the_daemon_unprivileged() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["campaign"]' in lines
    assert 'CMD ["run", "--log-json"]' in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_compose_mounts_the_campaign_and_takes_secrets_from_the_environment() -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    for mount in ("./config.toml:", "./campaign:", "./posts:"):
        assert mount in text
    assert "image: postgres:" in text and "condition: service_healthy" in text
    assert "CAMPAIGN_DATABASE_URL: postgresql+psycopg://" in text
    # Secrets only as ${VARIABLES} or from env files, never as literal values.
    for match in re.finditer(r"(?im)^\s*([A-Z_]*(?:PASSWORD|TOKEN|SECRET)[A-Z_]*):\s*(.+)$", text):
        assert match.group(2).startswith("${"), match.group(0)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"config.toml", "secrets.env", ".env", ".venv", ".git"} <= set(ignored)
