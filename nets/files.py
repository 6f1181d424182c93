"""Files written so that nothing half-written is ever taken for a complete one, and a full disk says so.

- :func:`atomic_write` / :func:`atomic_write_text` write to a temp file beside the target (named after
  the writing process), flush it to disk and rename it over the target: a reader sees the old file or
  the new one, never a mix. A full disk raises :class:`DiskSpaceError` naming the file, the size
  needed and what is free, with the temp file removed and the old file kept.
- :func:`check_free_space` refuses to start a large write that cannot fit.
- :func:`remove_stale` deletes the temp files that processes which died mid-write (``kill -9``, a
  crash, a full disk) left behind; a live process's files are never touched.

Checkpoints and metrics (``nets.train``) and the data caches (``nets.data``) all use these. This module
imports nothing of ``nets``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = [
    "LOCK_NAME",
    "DiskSpaceError",
    "FolderInUseError",
    "current_umask",
    "folder_lock",
    "atomic_write",
    "atomic_write_text",
    "check_free_space",
    "human_bytes",
    "md5",
    "pid_alive",
    "remove_stale",
    "temp_path",
]

SPACE_MARGIN = 8 << 20  # bytes kept free beyond what a write needs (headers, manifests, other writers)


class DiskSpaceError(OSError):
    """Not enough disk space for a write; the message says where, how much, and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror


def human_bytes(n: float) -> str:
    """1536 -> "1.5 KiB": sizes in messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _free(folder: Path) -> int | None:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:  # cannot tell (an odd file system): the write itself will say
        return None


def check_free_space(folder: Path, needed: int, what: str, *, what_to_do: str = "free some space") -> None:
    """Raise :class:`DiskSpaceError` unless ``folder``'s file system has ``needed`` bytes (plus a margin) free."""
    free = _free(Path(folder))
    if free is not None and free < needed + SPACE_MARGIN:
        raise DiskSpaceError(
            f"not enough disk space for {what} in {folder}: it needs {human_bytes(needed)}, "
            f"{human_bytes(free)} is free. {what_to_do[:1].upper()}{what_to_do[1:]}."
        )


def temp_path(path: Path) -> Path:
    """Where this process writes ``path`` before the rename: ``.<name>.<pid>.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: Path, data: bytes, *, if_full: str = "free some space and try again") -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename). ``if_full``: what to do on ENOSPC."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # as open() would make it: the user's umask decides
        os.replace(tmp, path)
    except OSError as err:
        if err.errno == errno.ENOSPC and not isinstance(err, DiskSpaceError):
            free = _free(path.parent)
            has = "" if free is None else f", {human_bytes(free)} free"
            raise DiskSpaceError(
                f"disk full while writing {path} ({human_bytes(len(data))} needed{has}); {if_full}"
            ) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str, *, if_full: str = "free some space and try again") -> None:
    """:func:`atomic_write` for text (UTF-8)."""
    atomic_write(path, text.encode(), if_full=if_full)


def current_umask() -> int:
    """This process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


LOCK_NAME = ".lock"  # in a folder one process writes at a time: "<pid> <host>" of the writer


class FolderInUseError(RuntimeError):
    """Another live process holds the folder's lock; the message names it and what to do."""


def _holder(lock: Path) -> tuple[int | None, str]:
    try:
        pid, _, host = lock.read_text().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, ""


@contextmanager
def folder_lock(
    folder: Path, *, what: str = "folder", advice: str = "wait for it to end"
) -> Iterator[str | None]:
    """Hold ``folder/.lock`` while the block runs: one writer per folder, across processes.

    The lock file is created exclusively and holds this process's id and host; it is removed when the
    block ends (an exception or Ctrl-C included). If a live process holds it, :class:`FolderInUseError`
    names that process; a lock left by a process that is gone (killed with -9, say) on this host is
    taken over, and the block receives a one-line notice saying so (else None). Taking a lock this
    process already holds is allowed and leaves it to the outer holder to release.
    """
    folder = Path(folder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock, host = folder / LOCK_NAME, socket.gethostname()
    notice = None
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            pid, holder_host = _holder(lock)
            if (pid, holder_host) == (os.getpid(), host):
                yield None  # an outer block of this process holds it, and will release it
                return
            if pid is not None and holder_host == host and not pid_alive(pid):
                lock.unlink(missing_ok=True)
                notice = f"took over {lock}: process {pid}, which held it, is gone"
                continue
            who = (
                f"process {pid} on {holder_host or 'an unknown host'}"
                if pid is not None
                else "another process"
            )
            raise FolderInUseError(
                f"{folder} is in use by {who} (its {what}); {advice}, or choose another folder. "
                f"If that process is gone, delete {lock}."
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {host}\n")
        break
    try:
        yield notice
    finally:
        if _holder(lock) == (os.getpid(), host):
            lock.unlink(missing_ok=True)
        if made:  # a folder made only for the lock, left empty (the run failed before writing), goes too
            with suppress(OSError):
                folder.rmdir()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id may exist here (this one, or one we cannot check, counts as alive)."""
    if pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it exists, under another user; Overflow: not a pid
        return True
    return True


def remove_stale(paths: Iterable[Path]) -> list[Path]:
    """Delete temporary files/folders whose name carries the id of a process that is gone; return them.

    Names look like ``.x.npy.<pid>.tmp``, ``.x.npy.<pid>.kept.tmp``, ``x.tgz.<pid>.part`` or
    ``.x.extracting-<pid>``. A live process's file (this one's included) is never touched; nor is one
    whose process cannot be checked (another user's).
    """
    removed = []
    for path in paths:
        match = re.search(r"[.-](\d+)(?:\.kept)?(?:\.tmp|\.part)?$", path.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def md5(path: Path) -> str:
    """The md5 of a file (read in 4 MiB chunks): what archive mirrors publish to check a download."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
