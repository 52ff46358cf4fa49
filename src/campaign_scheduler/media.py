"""Where a draft's media files may be, and the one way to read them.

A draft names its images relative to its sender's folder (``posts/<sender>/``). Whatever the
path says, the file it leads to must lie inside that folder once every symlink is resolved,
and it must be a regular file: ``../../config.toml``, ``/proc/self/environ``, a symlink in
``media/`` that points elsewhere, a sender folder that is itself a symlink, a FIFO or a device
are refused. ``check`` and ``load`` report the refusal at the ``[[media]]`` line; the
publisher reads every file through :func:`read_confined`, which opens it component by
component below the posts folder without following any symlink and checks what it opened
(``fstat``), so a file swapped for a symlink between the check and the upload is refused too.

A refusal is a :class:`MediaRefusedError`, an :class:`OSError`, so that adapters which report
"cannot read media file" for a missing file report a refused one the same way.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from campaign_scheduler.uilang import msg

#: Flags for every component on the way to a media file: never follow a symlink.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: A FIFO must not block ``open``; the regular-file check refuses it right after.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class MediaRefusedError(OSError):
    """A media path leads outside its sender's folder or to something that is not a file."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class MediaLocation:
    """A media file as a draft names it: the posts folder, the sender, the path as written."""

    posts_dir: Path
    sender: str
    relative: str

    def locate(self) -> Path:
        return locate_media(self.posts_dir, self.sender, self.relative)

    def read(self) -> bytes:
        return read_confined(self.posts_dir, self.sender, self.relative)


def sender_folder(posts_dir: Path, sender: str) -> Path:
    """The folder a sender's media must stay in: ``posts/<sender>`` below the resolved posts
    folder (the sender folder itself is not resolved, so a symlinked one leads outside)."""
    return posts_dir.resolve() / sender


def locate_media(posts_dir: Path, sender: str, relative: str) -> Path:
    """The absolute, symlink-free path of ``relative`` in ``sender``'s folder.

    Raises :class:`MediaRefusedError` when it leads outside the folder or to something other
    than a regular file. A file that does not exist is returned as it is (``check`` says it is
    missing)."""
    folder = sender_folder(posts_dir, sender)
    where = f"posts/{sender}/"
    if "\x00" in relative:
        raise MediaRefusedError(msg("the media path contains a NUL character"))
    if not relative.strip():
        raise MediaRefusedError(msg("the media path is empty"))
    if PurePosixPath(relative).is_absolute() or Path(relative).is_absolute():
        raise MediaRefusedError(
            msg(
                "media path {path} is absolute; media must be inside {folder} "
                "and are written relative to it",
                path=repr(relative),
                folder=where,
            )
        )
    try:
        target = (folder / relative).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, an unusable name
        raise MediaRefusedError(
            msg(
                "media path {path} cannot be resolved: {error}", path=repr(relative), error=str(exc)
            )
        ) from exc
    if not target.is_relative_to(folder) or target == folder:
        raise MediaRefusedError(
            msg(
                "media path {path} leads outside {folder} (symlinks included); "
                "copy the file into {folder}media/",
                path=repr(relative),
                folder=where,
            )
        )
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise MediaRefusedError(
            msg(
                "media file {path} cannot be read: {error}",
                path=repr(relative),
                error=str(exc.strerror),
            )
        ) from exc
    if not stat.S_ISREG(mode):
        raise MediaRefusedError(_not_a_file(relative))
    return target


def read_confined(posts_dir: Path, sender: str, relative: str) -> bytes:
    """The bytes of ``relative`` in ``sender``'s folder, read without a race.

    The path is checked with :func:`locate_media`, then opened one component at a time below
    the resolved posts folder with ``O_NOFOLLOW`` (a component that became a symlink since
    the check is refused) and the opened file is checked to be a regular file."""
    target = locate_media(posts_dir, sender, relative)
    base = posts_dir.resolve()
    parts = target.relative_to(base).parts
    fd = os.open(base, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise _refused_on_open(relative, exc) from exc
            os.close(fd)
            fd = next_fd
        try:
            file_fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=fd)
        except OSError as exc:
            raise _refused_on_open(relative, exc) from exc
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise MediaRefusedError(_not_a_file(relative))
        return handle.read()


def read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file and not a symlink (for a media file that
    comes without a :class:`MediaLocation`, e.g. from a third-party caller)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError as exc:
        raise _refused_on_open(str(path), exc) from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise MediaRefusedError(_not_a_file(str(path)))
        return handle.read()


def _refused_on_open(relative: str, exc: OSError) -> OSError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return MediaRefusedError(
            msg(
                "media path {path} changed into a symlink or special file while it was read",
                path=repr(relative),
            )
        )
    return exc


def _not_a_file(relative: str) -> str:
    return msg("media path {path} is not a regular file", path=repr(relative))
