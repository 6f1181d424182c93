"""The decode-once tensor cache: each split as one uint8 ``.npy`` file that later runs memory-map.

    root/tensor-cache/<name>.npy    uint8 (N, 3, R, R), the images
    root/tensor-cache/<name>.json   the manifest: the key it was built for, per-class counts, skipped files,
                                    the array's shape and content hash

:func:`cached` opens a cache whose manifest matches the key (what was decoded: source, split,
resolution, a hash of the source files...) and whose bytes match the recorded hash, or builds it:
``fill`` writes the rows into a temporary file, which is hashed and renamed into place before the new
manifest is written, so an interrupted build leaves nothing that passes for valid. A stale or damaged
cache is rebuilt with a warning.

Disk space: before a build the free space of the cache folder is compared with the bytes the array needs
(:class:`DiskSpaceError` says how much, where, and what to do), and the temporary file's blocks are
reserved (``posix_fallocate``) before anything is written through the memory map - writing into a
memory-mapped file on a full disk would otherwise kill the process with SIGBUS. Any ``ENOSPC`` while
writing becomes a :class:`DiskSpaceError` and the temporary file is removed; temporary files left by
processes that died (``kill -9``, a crash) carry their process id in the name and are removed by the
next :func:`cached` call on that folder (:func:`remove_stale`). :func:`decode_files` is the decode for a list of JPEGs (the shorter
side resized to R and the centre square kept, in a thread pool); unreadable files are skipped with an
:class:`UnreadableImageWarning`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..files import DiskSpaceError, atomic_write_text, check_free_space, human_bytes, remove_stale

__all__ = [
    "UnreadableImageWarning",
    "cached",
    "data_dir",
    "decode_files",
    "source_hash",
]

CACHE_VERSION = 1  # part of every key: bump it and every cache is rebuilt


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded; it was skipped (and counted in the tensor cache's manifest)."""


def data_dir() -> Path:
    """The cache folder: ``$NETS_DATA_DIR``, else ``~/.cache/nets``."""
    env = os.environ.get("NETS_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nets"


def check_data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder (``root``, else ``$NETS_DATA_DIR``, else ``~/.cache/nets``), checked before any
    work: a folder, or a path where one can be made, that this user can write; the message names the
    setting it came from (``root`` / ``--data-root`` or ``NETS_DATA_DIR``) and what to do."""
    if root is not None:
        if not str(root).strip():
            raise ValueError("root (--data-root) must name a folder for the data, got an empty path")
        path, setting = Path(root).expanduser(), f"root (--data-root) {str(root)!r}"
    else:
        path = data_dir()
        env = os.environ.get("NETS_DATA_DIR", "").strip()
        setting = f"NETS_DATA_DIR={env!r}" if env else f"the default data folder {str(path)!r}"
    fix = "set NETS_DATA_DIR=<folder> (or pass --data-root / load(root=...)) to a folder you can write"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"goes through {str(existing)!r}, a file"
        raise ValueError(f"{setting} {where}, not a folder: {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {setting} ({str(existing)!r} is read-only for this user): {fix}")
    return path


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _what_to_do(folder: Path) -> str:
    return (
        f"free some space in {folder}, or put the cache on a disk with room: set NETS_DATA_DIR=<folder> "
        "(or pass load(root=<folder>))"
    )


# ---------------------------------------------------------------------------------------------------
# Open or build
# ---------------------------------------------------------------------------------------------------


def cached(
    root: Path, name: str, key: dict, shape: tuple[int, ...], fill: Callable
) -> tuple[np.ndarray, dict]:
    """The memory-mapped array ``root/tensor-cache/<name>.npy`` and its manifest, built first if needed.

    ``key`` is what the cache must have been built for; ``shape`` the array ``fill`` gets to fill.
    ``fill(array)`` returns (kept rows as a bool mask, manifest extras such as ``counts``); rows it could
    not fill (unreadable images) are dropped.
    """
    folder = root / "tensor-cache"
    npy, manifest_path = folder / f"{name}.npy", folder / f"{name}.json"
    if folder.is_dir():  # what killed builds left behind (of any cache in the folder)
        remove_stale(folder.glob(".*.tmp"))
    opened = _open(npy, manifest_path, key)
    if isinstance(opened, tuple):
        return opened
    if opened != "not built yet":
        warnings.warn(f"tensor cache {npy} is stale or damaged ({opened}); rebuilding it", stacklevel=3)
    return _build(npy, manifest_path, key, shape, fill)


def _array_hash(array: np.ndarray) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    flat = array.reshape(array.shape[0], -1) if array.ndim else array
    for start in range(0, flat.shape[0], 256):
        digest.update(np.ascontiguousarray(flat[start : start + 256]).data)
    return digest.hexdigest()


def _manifest_hash(manifest: dict) -> str:
    """SHA-256 of everything in a manifest but this hash: classes, counts, shape and keys alike."""
    body = {k: v for k, v in manifest.items() if k != "manifest_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _open(npy: Path, manifest_path: Path, key: dict) -> tuple[np.ndarray, dict] | str:
    """The memory-mapped array and its manifest if both are intact and match ``key``; else why not."""
    if not npy.is_file() or not manifest_path.is_file():
        return "not built yet"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return "its manifest is unreadable"
    if not isinstance(manifest, dict) or manifest.get("manifest_hash") != _manifest_hash(manifest):
        return "its manifest does not match its hash (edited or damaged)"
    for field, value in key.items():
        if manifest.get(field) != value:
            return f"{field} changed" if field != "source_hash" else "the source images changed"
    try:
        # mode "c" (copy-on-write): a writable tensor view for torch, and nothing ever written back
        array = np.load(npy, mmap_mode="c")
    except (OSError, ValueError, EOFError) as err:
        return f"its array is unreadable ({err})"
    if list(array.shape) != manifest.get("shape") or array.dtype != np.uint8:
        return "its array has the wrong shape"
    if _array_hash(array) != manifest.get("array_hash"):
        return "its array's content hash does not match (corrupted)"
    return array, manifest


def _build(
    npy: Path,
    manifest_path: Path,
    key: dict,
    shape: tuple[int, ...],
    fill: Callable[[np.ndarray], tuple[np.ndarray, dict]],
) -> tuple[np.ndarray, dict]:
    """Write ``fill``'s rows into a temp .npy, hash it, rename it into place, then write the manifest.

    Rows ``fill`` did not keep are dropped by copying the kept ones into a second, smaller file. The
    free space is checked first and the temp file's blocks reserved before ``fill`` writes through the
    memory map; ``ENOSPC`` anywhere becomes a :class:`DiskSpaceError`, and the temp files are removed.
    """
    folder = npy.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DiskSpaceError(
                f"disk full: cannot create {folder}. {_sentence(_what_to_do(folder))}"
            ) from err
        raise
    manifest_path.unlink(missing_ok=True)  # until the new manifest exists, nothing passes for valid
    # the old array is stale or damaged: its space counts as free (a live memmap keeps its own pages)
    with contextlib.suppress(OSError):
        npy.unlink(missing_ok=True)
    needed = _npy_bytes(shape)
    check_free_space(folder, needed, f"the tensor cache {npy.name}", what_to_do=_what_to_do(folder))
    tmp = npy.with_name(f".{npy.name}.{os.getpid()}.tmp")
    tmp_kept = npy.with_name(f".{npy.name}.{os.getpid()}.kept.tmp")
    writing, done = tmp, False
    try:
        array = _reserved_memmap(tmp, shape)
        kept, extras = fill(array)
        if not kept.all():
            writing = tmp_kept
            compact = _reserved_memmap(tmp_kept, (int(kept.sum()), *shape[1:]))
            rows = np.flatnonzero(kept)
            for start in range(0, len(rows), 256):
                compact[start : start + 256] = array[rows[start : start + 256]]
            del array
            os.replace(tmp_kept, tmp)
            writing = tmp
            array = compact
        array.flush()
        manifest = {**key, **extras, "shape": list(array.shape), "array_hash": _array_hash(array)}
        manifest["manifest_hash"] = _manifest_hash(manifest)
        del array
        os.replace(tmp, npy)
        writing = manifest_path
        atomic_write_text(manifest_path, json.dumps(manifest, indent=1), if_full=_what_to_do(folder))
        done = True
    except OSError as err:
        if err.errno != errno.ENOSPC or isinstance(err, DiskSpaceError):
            raise
        try:
            free = human_bytes(shutil.disk_usage(folder).free)
        except OSError:
            free = "unknown"
        raise DiskSpaceError(
            f"disk full while writing {writing} ({human_bytes(needed)} needed for {npy.name}, {free} free "
            f"now); the partial file was removed. {_sentence(_what_to_do(folder))}"
        ) from err
    finally:
        tmp.unlink(missing_ok=True)
        tmp_kept.unlink(missing_ok=True)
        if not done and writing == manifest_path:  # an array without its manifest is only dead weight
            npy.unlink(missing_ok=True)
    return np.load(npy, mmap_mode="c"), manifest


def _npy_bytes(shape: tuple[int, ...]) -> int:
    """Size of a uint8 .npy file of ``shape`` (data plus a header of at most a few hundred bytes)."""
    return int(np.prod(shape, dtype=np.int64)) + 4096


def _reserved_memmap(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A new uint8 .npy memmap whose blocks are allocated on disk before anything is written into it.

    ``open_memmap`` makes a sparse file; writing through the map into a sparse file on a full disk
    raises SIGBUS (the process dies without a message). ``posix_fallocate`` claims the blocks up front
    and fails with ENOSPC instead. File systems without it (and systems without the call) skip this.
    """
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            with open(path, "r+b") as f:
                fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                del array
                raise
            # EOPNOTSUPP, EINVAL...: this file system cannot reserve; the free-space check must do
    return array


# ---------------------------------------------------------------------------------------------------
# Decoding image files into rows
# ---------------------------------------------------------------------------------------------------


def source_hash(samples: Sequence[tuple[str, int]], base: Path) -> str:
    """Hash of the file list with sizes and modification times: any added, removed or edited image changes it."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path, label in samples:
        st = os.stat(path)
        digest.update(f"{os.path.relpath(path, base)}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def decode_image(path: str, resolution: int) -> np.ndarray:
    """One JPEG -> uint8 (3, R, R): shorter side resized to R (antialiased), then the centre square."""
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (resolution, resolution))  # JPEG DCT scaling: big images decode at >= R, cheaply
        im = im.convert("RGB")
        w, h = im.size
        scale = resolution / min(w, h)
        nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
        im = im.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - resolution) // 2, (nh - resolution) // 2
        im = im.crop((left, top, left + resolution, top + resolution))
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def decode_files(
    array: np.ndarray, paths: Sequence[str], resolution: int, *, base: Path, progress: bool, desc: str
) -> tuple[np.ndarray, list[dict]]:
    """Decode every path into its row with a thread pool (PIL releases the GIL).

    Returns the kept rows as a bool mask and the skipped files (``path`` relative to ``base``, ``error``),
    each also announced by an :class:`UnreadableImageWarning`.
    """
    from tqdm.auto import tqdm

    failures: list[tuple[int, str]] = []

    def work(i: int) -> None:
        try:
            array[i] = decode_image(paths[i], resolution)
        except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, ... for broken files
            failures.append((i, f"{type(err).__name__}: {err}"))

    workers = max(1, min(8, os.cpu_count() or 1))
    with (
        ThreadPoolExecutor(workers) as pool,
        tqdm(total=len(paths), desc=desc, unit=" img", disable=not progress) as bar,
    ):
        for _ in pool.map(work, range(len(paths)), chunksize=16):
            bar.update()
    kept = np.ones(len(paths), dtype=bool)
    skipped = []
    for i, why in sorted(failures):
        kept[i] = False
        warnings.warn(f"skipping unreadable image {paths[i]}: {why}", UnreadableImageWarning, stacklevel=2)
        skipped.append({"path": os.path.relpath(paths[i], base), "error": why})
    return kept, skipped
