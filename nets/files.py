"""Files written so that nothing half-written is ever taken for a complete one.

:func:`atomic_write` writes to a temp file beside the target (named after the writing process), flushes
it to disk and renames it over the target: a reader sees the old file or the new one, never a mix. A
full disk raises ``OSError(ENOSPC)`` saying so, with the temp file removed and the old file kept.
:func:`remove_stale_temps` deletes the temp files that processes which died mid-write (``kill -9``, a
crash, a full disk) left behind. Checkpoints, metrics, the tensor cache's manifests and the book
build's downloads all use these. This module imports nothing of ``nets``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

__all__ = ["atomic_write", "disk_full_error", "pid_alive", "remove_stale_temps", "temp_path"]

_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.tmp")


def temp_path(path: Path) -> Path:
    """Where this process writes ``path`` before the rename: ``.<name>.<pid>.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Delete ``folder``'s temp files (of ``name``, or of any file) whose writing process is gone."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TEMP.fullmatch(path.name)
        legacy = name is not None and path.name == f"{name}.tmp"  # the fixed name older versions used
        if not legacy and (match is None or (name is not None and match["name"] != name)):
            continue
        if legacy or not pid_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def disk_full_error(path: Path, needed: int, what: str) -> OSError:
    """The one message for a full disk: which file, how much was needed, how much is free, what to do."""
    try:
        free = shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free
        has = f", {free / 1e6:.1f} MB free"
    except OSError:
        has = ""
    return OSError(
        errno.ENOSPC, f"disk full while writing {path} ({needed / 1e6:.1f} MB needed{has}); {what}"
    )


def atomic_write(path: Path, data: bytes, *, if_full: str = "free some space and try again") -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename). ``if_full``: what to do on ENOSPC."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise disk_full_error(path, len(data), if_full) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)
