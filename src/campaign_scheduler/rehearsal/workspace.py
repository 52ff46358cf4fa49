"""A rehearsal workspace: the campaign copied to a folder, every account seeded in a sandbox.

The configuration written here is an ordinary config.toml: base URLs point at the sandboxes,
secrets are ``env:`` references whose values live only in this process's environment.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from campaign_scheduler.config import Account, Settings

if TYPE_CHECKING:
    from campaign_scheduler.rehearsal.networks import RehearsalNetwork


def _toml_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


def secret_variable(account: str, key: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"REHEARSAL_{account}_{key}".upper()).strip("_")


@dataclass
class Workspace:
    root: Path
    config_path: Path
    environ: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # account name -> channel

    @property
    def database_path(self) -> Path:
        return self.root / "rehearsal.db"


def account_tables(
    accounts: Mapping[str, Account],
    networks: Mapping[str, RehearsalNetwork],
    media_root: Path | None,
) -> tuple[str, dict[str, str]]:
    """Seed every account in its network's sandbox; return the TOML tables and the secrets.

    A value is written as an ``env:`` reference (its value kept in the returned environment)
    when the channel's ``spec`` names it a secret, or the sandbox seeded it as one."""
    from campaign_scheduler.channels.registry import channel_class

    tables: list[str] = []
    environ: dict[str, str] = {}
    for name in sorted(accounts):
        account = accounts[name]
        network = networks[account.channel]
        media = media_root / account.sender / "media" if media_root is not None else None
        seeded = network.seed(name, account.sender, media_folder=media)
        lines = [
            f"[accounts.{name}]",
            f"channel = {_toml_value(account.channel)}",
            f"sender = {_toml_value(account.sender)}",
        ]
        spec = channel_class(account.channel).spec
        secret_keys = (*spec.secrets, *(k for choice in spec.secret_choices for k in choice))
        for key, value in {**seeded.settings, **seeded.secrets}.items():
            if key in secret_keys or key in seeded.secrets:
                variable = secret_variable(name, key)
                environ[variable] = str(value)
                lines.append(f'{key} = "env:{variable}"')
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n", environ


def prepare(
    source: Settings,
    root: Path,
    networks: Mapping[str, RehearsalNetwork],
    *,
    reconcile: str = "1s",
    lease: str = "30s",
) -> Workspace:
    """Copy the campaign and its drafts to ``root`` and write a config that uses the sandboxes."""
    root.mkdir(parents=True, exist_ok=True)
    campaign_dir = root / "campaign"
    campaign_dir.mkdir(exist_ok=True)
    campaign_file = campaign_dir / source.campaign_path.name
    shutil.copy2(source.campaign_path, campaign_file)
    posts = root / "posts"
    if posts.exists():
        shutil.rmtree(posts)
    shutil.copytree(source.posts_path, posts)
    tables, environ = account_tables(source.accounts, networks, posts)
    config = root / "config.toml"
    config.write_text(
        "# Written by a campaign-scheduler rehearsal: every account is a loopback sandbox.\n"
        f"[database]\nurl = {_toml_value('sqlite:///' + str(root / 'rehearsal.db'))}\n\n"
        f"[paths]\ncampaign = {_toml_value('campaign/' + campaign_file.name)}\n"
        'posts = "posts"\n\n'
        f'[daemon]\nlease = "{lease}"\nreconcile = "{reconcile}"\nmetrics = "1h"\n\n' + tables,
        encoding="utf-8",
    )
    return Workspace(
        root=root,
        config_path=config,
        environ=environ,
        accounts={name: account.channel for name, account in source.accounts.items()},
    )
