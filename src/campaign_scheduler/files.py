"""Writing a result file so that a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.uilang import msg


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to a fresh temporary file in ``path``'s folder
    (``tempfile``: created exclusively with mode 0600, so no symlink planted under a guessable
    name is followed), flush it to disk, then rename it over ``path``. On failure nothing is
    left behind and ``path`` is unchanged."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    folder = path.parent
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644 & ~_umask())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: OSError) -> CampaignSchedulerError:
    return CampaignSchedulerError(
        msg("cannot write {path}: {reason}", path=path, reason=exc.strerror or exc)
    )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
