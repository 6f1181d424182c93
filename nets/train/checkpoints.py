"""Checkpoints and run folders: what ``fit`` writes after every epoch, reads to resume, and checks
before any work.

A checkpoint holds the model, optimizer, scheduler, scaler, RNG states and history, with a SHA-256 of
its contents; it is written atomically (a crash never leaves half a file). A resumed run must agree
with its checkpoint on every setting marked ``resume`` in ``TrainConfig`` / ``RunFacts``.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import atomic_write, folder_lock, remove_stale
from .config import recorded_fields
from .history import History

__all__ = ["CHECKPOINT", "CHECKPOINT_FORMAT", "METRICS", "check_out", "check_resume", "hold_run", "load_checkpoint", "restore",
           "save_checkpoint"]  # fmt: skip

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"

CHECKPOINT_FORMAT = 2  # 2: with the SHA-256 of the contents (format 1, without, is still read)


def _digest(value: Any, h: Any = None) -> str:
    """SHA-256 of a checkpoint's contents: every tensor's bytes, dtype and shape, and every plain value."""
    h = hashlib.sha256() if h is None else h
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(b"{")
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _digest(value[key], h)
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _digest(item, h)
        h.update(b"]")
    else:
        h.update(repr(value).encode())
    return h.hexdigest()


def save_checkpoint(path, model, opt, sched, scaler, epoch: int, history: History) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": _rng_states(),
        "history": history.to_dict(),
    }
    state["sha256"] = _digest(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)  # in memory first: a full disk then fails in a plain write, with errno
    if path.exists():
        keep = f"the previous {path.name} is kept: free some space, then continue with resume=True (--resume)"
    else:
        keep = "nothing of this run is saved yet: free some space, then start it again"
    atomic_write(path, buffer.getvalue(), if_full=keep)


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by ``fit`` (``weights_only=True``: it holds tensors and plain types only).

    Its contents are checked against the SHA-256 stored in it: a damaged file is refused, not resumed.
    With ``model``, also load the trained weights into it. Returns the whole checkpoint dict
    (keys: epoch, model, optimizer, scheduler, scaler, rng, history).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a foreign, unsafe or truncated file: say which, and what to do
        raise ValueError(_unreadable(path, e)) from e
    if not isinstance(state, dict) or state.get("format") not in (1, CHECKPOINT_FORMAT):
        raise ValueError(f"{path} is not a nets.train checkpoint (format 1 or {CHECKPOINT_FORMAT})")
    if state["format"] == CHECKPOINT_FORMAT:
        stored = state.pop("sha256", None)
        if stored != _digest(state):
            raise ValueError(
                f"{path} is damaged: its contents do not match the SHA-256 stored in it (a disk or copy "
                "error). Delete it to start afresh, or restore it from a copy."
            )
    if model is not None:
        model.load_state_dict(state["model"])
    return state


def _unreadable(path: Path, error: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in words that say what to do."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":  # torch.save writes a zip archive
        return f"{path} is not a checkpoint (not a file torch.save wrote); check the path, or choose another --out"
    text = str(error)
    if "weights_only" in text or "Unsupported global" in text:
        return (
            f"{path} holds Python objects besides tensors and plain values (a pickle that could run code), "
            "so it is no checkpoint of nets.train, which reads only weights_only=True files. If you trust "
            "where it came from and need it, load it yourself with torch.load(path, weights_only=False)"
        )
    reason = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
    return (
        f"{path} is a damaged checkpoint ({reason}): it was probably cut short by a crash or a copy. "
        "Restore it from a copy, or delete it to start afresh"
    )


def _rng_states() -> dict[str, Any]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"cpu": torch.get_rng_state(), "cuda": list(cuda)}


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["cpu"].cpu())
    if torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])


def restore(state: dict[str, Any], model: nn.Module, opt, sched, scaler) -> None:
    """Put a checkpoint's training state back: weights, optimizer, schedule, scaler and RNGs."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    _set_rng_states(state["rng"])


def check_resume(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    """Refuse to continue ``saved`` (a checkpoint's ``History.config``) under settings ``now`` that
    differ on any field marked ``resume``; a field the checkpoint predates counts as its ``before``."""
    diffs = [
        f"{f.name}: {saved.get(f.name, f.metadata['before'])!r} -> {now.get(f.name)!r}"
        for f in recorded_fields()
        if f.metadata["resume"] and saved.get(f.name, f.metadata["before"]) != now.get(f.name)
    ]
    if diffs:
        raise ValueError(
            f"cannot resume {path}: it was made with different settings ({'; '.join(diffs)}). "
            "Pass the same settings, or use another out folder / resume=False for a new run."
        )


def check_out(
    out: str | os.PathLike | None, *, resume: bool, overwrite: bool, flag: str = "out"
) -> Path | None:
    """The run folder, checked before any work (``~`` expanded): a folder that can be written, never
    someone's run by accident. Nothing is changed on disk here: :func:`hold_run` does that, locked.
    ``flag``: how messages name the setting (``"--out"`` for the command line)."""
    if out is None:
        if resume:
            raise ValueError("resume=True needs out=<folder> holding the checkpoint to continue")
        return None
    if not isinstance(out, (str, os.PathLike)) or not str(out).strip():
        raise ValueError(f"{flag} must name a folder for the run, got {out!r}")
    path = Path(out).expanduser()
    _check_folder_path(path, f"{flag} {path}" if flag.startswith("--") else f"{flag}={str(path)!r}")
    checkpoint, metrics = path / CHECKPOINT, path / METRICS
    if checkpoint.is_dir():
        raise ValueError(
            f"{checkpoint} is a folder, not a checkpoint; move it away or choose another out folder"
        )
    held = [p.name for p in (checkpoint, metrics) if p.exists()]
    if held and not (resume or overwrite):
        raise ValueError(
            f"{path} already holds a run ({', '.join(held)}); continue it with resume=True (--resume), "
            "replace it with overwrite=True (--overwrite), or choose another out folder"
        )
    if resume and metrics.exists() and not checkpoint.exists():
        raise ValueError(
            f"{path} holds the metrics of a run ({METRICS}) but no {CHECKPOINT} to continue it from; "
            "resuming would start afresh over them: replace the run with overwrite=True (--overwrite), "
            "or choose another out folder"
        )
    return path


def _check_folder_path(path: Path, named: str) -> None:
    """A folder can be made at ``path``: no file on the way, no dangling link, and write permission."""
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{named} is a link to {os.readlink(path)!r}, which does not exist; "
                         "point it at a folder or choose another out folder")  # fmt: skip
    if path.exists() and not path.is_dir():
        raise ValueError(f"{named} is a file, not a folder; choose a folder for the run")
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            raise ValueError(f"{named} goes through {str(existing)!r}, a link to nothing")
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{named} goes through {str(existing)!r}, which is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {str(path)!r} (permission denied in {str(existing)!r}); "
                         "choose another out folder")  # fmt: skip


@contextmanager
def hold_run(out: Path | None, *, overwrite: bool) -> Iterator[None]:
    """Lock the run folder for this process (one writer per run folder), then clear it if asked to.

    A second run, resume or overwrite into a folder in use is refused with the other process named
    (``nets.files.FolderInUseError``); a lock left by a process that is gone is taken over, with a notice.
    """
    if out is None:
        yield
        return
    advice = "wait for it to end"
    with folder_lock(out, what="run", advice=advice) as notice:
        if notice:  # rare, and worth knowing even in a quiet run
            print(f"nets.train: {notice}", file=sys.stderr)
        if overwrite:
            for name in (CHECKPOINT, METRICS):
                (out / name).unlink(missing_ok=True)
        # what runs killed mid-write left behind (and the fixed name older versions used)
        remove_stale(out.glob(".*.tmp"))
        for name in (CHECKPOINT, METRICS):
            (out / f"{name}.tmp").unlink(missing_ok=True)
        yield
