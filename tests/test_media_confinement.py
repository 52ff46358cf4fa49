"""A draft's media stay in its sender's folder: check, load and the publisher refuse every way
out (``..``, absolute paths, symlinks, a symlinked sender folder, /proc, FIFOs, devices)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

import campaign_scheduler.media as media_module
from campaign_scheduler.channels.base import OutboundPost, Receipt
from campaign_scheduler.cli import app
from campaign_scheduler.config import load_settings
from campaign_scheduler.media import MediaRefusedError, locate_media, read_confined
from campaign_scheduler.problems import Severity
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import Claim, OutcomeKind
from campaign_scheduler.rules import check
from conftest import Workspace
from fakes import FakeChannels, FakeNetwork, ScriptedChannel

SECRET = b"SOEST_MASTODON_TOKEN=geheim"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """A workspace with a real image and a secret file next to the posts folder."""
    media = workspace.root / "posts" / "soest" / "media"
    media.mkdir()
    (media / "klima.png").write_bytes(PNG)
    (workspace.root / "secret.env").write_bytes(SECRET)
    return workspace


def with_media(ws: Workspace, path: str) -> None:
    ws.draft(
        "soest/01-klima",
        extra=f'[[media]]\npath = "{path}"\nalt = "Luftbild der Altstadt"\n',
    )


def errors_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.severity is Severity.ERROR]


def the_error(ws: Workspace) -> str:
    [error] = errors_of(ws)
    assert error.startswith("posts/soest/01-klima.md:5: "), error  # the line of `path = …`
    return error


def test_a_file_in_the_senders_folder_is_fine(ws: Workspace) -> None:
    with_media(ws, "media/klima.png")
    assert errors_of(ws) == []
    with_media(ws, "media/../media/klima.png")  # `..` that stays inside is no way out
    assert errors_of(ws) == []


def test_dot_dot_out_of_the_folder_is_refused(ws: Workspace) -> None:
    with_media(ws, "../../secret.env")
    assert "leads outside posts/soest/" in the_error(ws)


def test_another_senders_folder_is_outside(ws: Workspace) -> None:
    (ws.root / "posts" / "olpe" / "bild.png").write_bytes(PNG)
    with_media(ws, "../olpe/bild.png")
    assert "leads outside posts/soest/" in the_error(ws)


def test_an_absolute_path_is_refused(ws: Workspace) -> None:
    with_media(ws, str(ws.root / "posts" / "soest" / "media" / "klima.png"))
    assert "is absolute" in the_error(ws)


def test_proc_self_environ_is_refused(ws: Workspace) -> None:
    with_media(ws, "/proc/self/environ")
    assert "is absolute" in the_error(ws)
    with_media(ws, "../../../../../../../../../../proc/self/environ")
    assert "leads outside posts/soest/" in the_error(ws)


def test_a_symlink_in_media_pointing_out_is_refused(ws: Workspace) -> None:
    (ws.root / "posts" / "soest" / "media" / "bild.png").symlink_to(ws.root / "secret.env")
    with_media(ws, "media/bild.png")
    assert "leads outside posts/soest/ (symlinks included)" in the_error(ws)


def test_a_symlinked_media_folder_pointing_out_is_refused(ws: Workspace) -> None:
    (ws.root / "elsewhere").mkdir()
    (ws.root / "elsewhere" / "bild.png").write_bytes(PNG)
    (ws.root / "posts" / "soest" / "fotos").symlink_to(ws.root / "elsewhere")
    with_media(ws, "fotos/bild.png")
    assert "leads outside posts/soest/" in the_error(ws)


def test_a_symlink_that_stays_inside_is_fine(ws: Workspace) -> None:
    (ws.root / "posts" / "soest" / "media" / "aktuell.png").symlink_to("klima.png")
    with_media(ws, "media/aktuell.png")
    assert errors_of(ws) == []


def test_a_symlinked_sender_folder_leads_outside(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside-sender"
    outside.mkdir()
    (outside / "bild.png").write_bytes(PNG)
    (ws.root / "posts" / "menden").symlink_to(outside)
    with pytest.raises(MediaRefusedError, match="leads outside posts/menden/"):
        locate_media(ws.root / "posts", "menden", "bild.png")
    with pytest.raises(MediaRefusedError):
        read_confined(ws.root / "posts", "menden", "bild.png")


def test_a_fifo_is_never_opened(ws: Workspace) -> None:
    os.mkfifo(ws.root / "posts" / "soest" / "media" / "rohr.png")
    with_media(ws, "media/rohr.png")
    assert "is not a regular file" in the_error(ws)  # and check did not hang on it
    with pytest.raises(MediaRefusedError, match="not a regular file"):
        read_confined(ws.root / "posts", "soest", "media/rohr.png")


def test_a_device_file_is_refused(ws: Workspace) -> None:
    device = ws.root / "posts" / "soest" / "media" / "null.png"
    try:
        os.mknod(device, 0o600 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null
    except PermissionError:
        if os.environ.get("CI"):  # CI runs as root: there the case must run, not skip
            raise
        pytest.skip("creating a device node needs privileges (runs in CI, as root)")
    with_media(ws, "media/null.png")
    assert "is not a regular file" in the_error(ws)


def test_a_nul_in_the_media_path_is_a_located_error(ws: Workspace) -> None:
    with_media(ws, "media/klima\\u0000.png")
    assert "NUL" in the_error(ws)


def test_load_refuses_and_keeps_nothing(ws: Workspace, runner: CliRunner) -> None:
    with_media(ws, "../../secret.env")
    result = runner.invoke(app, ["--config", str(ws.config_file), "load"])
    assert result.exit_code == 1
    assert "01-klima.md:5: media path '../../secret.env' leads outside posts/soest/" in (
        result.output
    )
    assert "geheim" not in result.output
    assert "Traceback" not in result.output


# --- the publisher: the file is read through the same guard, at the moment of upload ---


class ReadingChannel(ScriptedChannel):
    """Uploads like a real adapter: reads every media file it is given."""

    name: ClassVar[str] = "mastodon"
    uploaded: list[bytes]

    def publish(self, post: OutboundPost) -> Receipt:
        self.uploaded = [m.read_bytes() for m in post.media]
        return super().publish(post)


def claim(path: str) -> Claim:
    due = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
    return Claim(
        delivery_id=1,
        attempt_id=1,
        attempt_number=1,
        worker="w1",
        campaign_slug="testlauf",
        post_key="soest/01-klima",
        post_source="posts/soest/01-klima.md",
        account_name="soest-mastodon",
        channel="mastodon",
        text="Soest will bis 2030 klimaneutral werden. #5malklug",
        language="de",
        media=[{"path": path, "alt": "Luftbild"}],
        idempotency_key="k1",
        due_at=due,
        not_after=None,
        grace=timedelta(hours=2),
        key_first_used=due,
    )


def publish(ws: Workspace, path: str) -> tuple[OutcomeKind, str | None, ReadingChannel]:
    network = FakeNetwork()
    channel = ReadingChannel(network)
    publisher = Publisher(FakeChannels(channel), media_root=ws.root / "posts")
    now = datetime(2021, 11, 4, 8, 31, tzinfo=UTC)
    outcome = publisher.publish(claim(path), lambda: now)
    return outcome.kind, outcome.error, channel


def test_the_publisher_uploads_a_file_inside_the_folder(ws: Workspace) -> None:
    kind, _, channel = publish(ws, "media/klima.png")
    assert kind is OutcomeKind.PUBLISHED
    assert channel.uploaded == [PNG]


@pytest.mark.parametrize(
    "path", ["../../secret.env", "/proc/self/environ", "media/link.png", "media/rohr.png"]
)
def test_the_publisher_never_uploads_what_check_refuses(ws: Workspace, path: str) -> None:
    # The draft was fine when it was loaded; the file was swapped afterwards.
    (ws.root / "posts" / "soest" / "media" / "link.png").symlink_to(ws.root / "secret.env")
    os.mkfifo(ws.root / "posts" / "soest" / "media" / "rohr.png")
    kind, error, channel = publish(ws, path)
    assert kind is OutcomeKind.FAILED
    assert error is not None
    assert any(why in error for why in ("outside posts/soest/", "absolute", "not a regular"))
    assert channel.calls == 0


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_read(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the path is checked, then the folder becomes a symlink before the open."""
    media = ws.root / "posts" / "soest" / "media"
    elsewhere = ws.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "klima.png").symlink_to(ws.root / "secret.env")
    real_locate: Callable[[Path, str, str], Path] = media_module.locate_media

    def locate_then_swap(posts_dir: Path, sender: str, relative: str) -> Path:
        located = real_locate(posts_dir, sender, relative)
        media.rename(ws.root / "old-media")
        media.symlink_to(elsewhere)
        return located

    monkeypatch.setattr(media_module, "locate_media", locate_then_swap)
    with pytest.raises(MediaRefusedError, match="changed into a symlink"):
        read_confined(ws.root / "posts", "soest", "media/klima.png")


def test_no_adapter_reads_a_media_file_behind_the_guard() -> None:
    """Every adapter reads media through MediaFile.read_bytes (the confined read)."""
    channels = Path(media_module.__file__).parent / "channels"
    offenders = [
        path.name
        for path in channels.glob("*.py")
        if ".path.read_bytes(" in path.read_text(encoding="utf-8")
        or ".path.open(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
