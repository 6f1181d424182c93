"""Imagenette on disk: the class table, the archives, and a download that cannot leave a half-made tree.

:func:`prepare_imagenette` makes sure ``root/imagenette2-*/{train,val}/<wnid>/*.JPEG`` is complete:
temp-name download (:func:`download_file`, the only function that touches the network), md5 with a clear
message when upstream re-uploaded the archive, ``tarfile`` extraction with ``filter="data"`` into a temp
folder, per-class count verification, a marker file, atomic move into place. :func:`verify_imagenette_tree`
marks a tree placed by hand. :func:`read_split` reads a verified split through
``torchvision.datasets.Imagenette(root, split, size, download=False)`` into the tensor cache
(:mod:`nets.data.cache`), decoding the JPEGs only the first time.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import tarfile
import time
import urllib.parse
import warnings
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..checks import check_choice
from ..files import atomic_write_text, check_free_space, md5, remove_stale
from .cache import (
    CACHE_VERSION,
    UnreadableImageWarning,
    cached,
    data_dir,
    decode_files,
    source_hash,
)

__all__ = [
    "IMAGENETTE_CLASSES",
    "IMAGENETTE_COUNTS",
    "IMAGENETTE_WNIDS",
    "SIZES",
    "SPLITS",
    "ImagenetteChecksumError",
    "ImagenetteUnavailable",
    "SkippedLinkWarning",
    "download_file",
    "list_images",
    "prepare_imagenette",
    "read_split",
    "tree_name",
    "verify_imagenette_tree",
]

# ---------------------------------------------------------------------------------------------------
# Imagenette facts (fast.ai, "imagenette2", December 2019; see the book's reference notes)
# ---------------------------------------------------------------------------------------------------

# Class index = sorted wnid order, as torchvision.datasets.Imagenette and ImageFolder number them.
# (wnid, human name, train images, val images)
_IMAGENETTE_TABLE = [
    ("n01440764", "tench", 963, 387),
    ("n02102040", "English springer", 955, 395),
    ("n02979186", "cassette player", 993, 357),
    ("n03000684", "chain saw", 858, 386),
    ("n03028079", "church", 941, 409),
    ("n03394916", "French horn", 956, 394),
    ("n03417042", "garbage truck", 961, 389),
    ("n03425413", "gas pump", 931, 419),
    ("n03445777", "golf ball", 951, 399),
    ("n03888257", "parachute", 960, 390),
]
IMAGENETTE_WNIDS: list[str] = [row[0] for row in _IMAGENETTE_TABLE]
IMAGENETTE_CLASSES: list[str] = [row[1] for row in _IMAGENETTE_TABLE]
# Images per class folder in every size of the archive (9,469 train / 3,925 val).
IMAGENETTE_COUNTS: dict[str, dict[str, int]] = {
    "train": {wnid: n for wnid, _, n, _ in _IMAGENETTE_TABLE},
    "val": {wnid: n for wnid, _, _, n in _IMAGENETTE_TABLE},
}

# size -> (url, md5 as torchvision 0.29 knows it). Upstream has re-uploaded these archives before.
_ARCHIVES: dict[str, tuple[str, str]] = {
    "full": (
        "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz",
        "fe2fc210e6bb7c5664d602c3cd71e612",
    ),
    "320px": (
        "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
        "3df6f0d01a2c9592104656642f5e78a3",
    ),
    "160px": (
        "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
        "e793b78cc4c9e9a4ccc0c1155377a412",
    ),
}
_ARCHIVE_MIB = {"full": 1485, "320px": 326, "160px": 94}
_WHERE_TO = "free some space, or set NETS_DATA_DIR=<folder> to keep the data on a disk with room"
SIZES = tuple(_ARCHIVES)
SPLITS = ("train", "val")
_MARKER = ".nets-verified.json"


class ImagenetteUnavailable(RuntimeError):
    """Imagenette is not on disk and could not be fetched; the message says how to get it."""


class ImagenetteChecksumError(ImagenetteUnavailable):
    """The archive's md5 is not the expected one (upstream has re-uploaded before); the message says what to do."""


# ---------------------------------------------------------------------------------------------------
# Download, extract, verify
# ---------------------------------------------------------------------------------------------------


def download_file(url: str, dest: Path) -> None:
    """Fetch ``url`` to ``dest`` (torchvision's ``download_url``). Tests replace this; nothing else calls the network."""
    from torchvision.datasets.utils import download_url

    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    try:  # fail in seconds, not minutes, when offline
        socket.create_connection((host, port), timeout=10).close()
    except OSError as err:
        raise ConnectionError(f"cannot reach {host} ({err})") from err
    download_url(url, str(dest.parent), filename=dest.name, md5=None)


def prepare_imagenette(
    root: str | os.PathLike | None = None,
    size: str = "160px",
    *,
    download: bool = True,
    verify_md5: bool | None = None,
    downloader: Callable[[str, Path], None] | None = None,
    expected_counts: Mapping[str, Mapping[str, int]] | None = None,
    progress: bool = True,
) -> Path:
    """Make sure ``root/imagenette2-*/{train,val}/<wnid>/*.JPEG`` is complete; return ``root``.

    A tree counts as complete only with the marker file this function writes after checking every class
    folder's image count (``expected_counts``, default the published 9,469 / 3,925), and only while the
    counts still match. A tree without it (e.g. torchvision's own download) is adopted if its counts are
    right; a half-extracted one is replaced. The archive is downloaded to ``<name>.<pid>.part`` and
    renamed when complete (``download=False`` only forbids the network: an archive on disk is used),
    md5-checked, extracted with ``tarfile`` (``filter="data"``) into a temporary folder, verified,
    marked, then moved into place - so an interrupted run leaves nothing that passes for complete and
    can simply be re-run. Raises :class:`ImagenetteUnavailable` (or its subclass
    :class:`ImagenetteChecksumError`) with what to do.
    """
    check_choice("size", size, SIZES)
    root = Path(root).expanduser() if root is not None else data_dir()
    expected = _normalise_counts(expected_counts)
    url, published_md5 = _ARCHIVES[size]
    stem = tree_name(size)
    tree = root / stem
    if _is_verified(tree):
        return root
    if tree.is_dir():
        problems = _count_problems(_count_images(tree), expected)
        if not problems:  # complete but unmarked (extracted by torchvision or by hand): adopt it
            _write_marker(tree, expected, archive_md5=None)
            return root
    archive = root / f"{stem}.tgz"
    if tree.is_dir() and not download and not archive.is_file():
        raise ImagenetteUnavailable(
            f"{tree} is incomplete ({problems[0]}{' ...' if len(problems) > 1 else ''}): probably an interrupted "
            f"extraction. Delete it, or put the archive at {archive}, or call load(download=True) to fetch it again."
        )
    expected_md5 = _expected_md5(published_md5, verify_md5)
    if not archive.is_file():
        if not download:
            raise ImagenetteUnavailable(_how_to_get(size, root, "download=False and it is not on disk"))
        # the archive, then its extracted tree (JPEGs do not compress: about the archive's size again)
        check_free_space(root, 2 * _ARCHIVE_MIB[size] << 20, f"Imagenette {size} (download and extraction)",
                         what_to_do=_WHERE_TO)  # fmt: skip
        _download(url, archive, downloader or download_file, size, root)
    actual_md5 = md5(archive)
    if expected_md5 is not None and actual_md5 != expected_md5:
        raise ImagenetteChecksumError(_checksum_message(archive, actual_md5, expected_md5))
    check_free_space(root, archive.stat().st_size, f"extracting {archive.name}", what_to_do=_WHERE_TO)
    _extract(archive, root, stem, expected, actual_md5, progress)
    return root


def verify_imagenette_tree(
    root: str | os.PathLike,
    size: str = "160px",
    *,
    expected_counts: Mapping[str, Mapping[str, int]] | None = None,
) -> Path:
    """Check ``root/imagenette2-*``'s per-class counts and write the marker; return the tree's path.

    For a tree you placed yourself (or a generated test tree with its own ``expected_counts``).
    Raises :class:`ImagenetteUnavailable` naming the classes whose counts differ.
    """
    check_choice("size", size, SIZES)
    tree = Path(root).expanduser() / tree_name(size)
    expected = _normalise_counts(expected_counts)
    if not tree.is_dir():
        raise ImagenetteUnavailable(f"no Imagenette tree at {tree}")
    problems = _count_problems(_count_images(tree), expected)
    if problems:
        raise ImagenetteUnavailable(f"{tree} does not have the expected images: " + "; ".join(problems))
    _write_marker(tree, expected, archive_md5=None)
    return tree


def tree_name(size: str) -> str:
    """The folder (and archive) name of one size: "imagenette2-160", "imagenette2-320" or "imagenette2"."""
    return Path(urllib.parse.urlparse(_ARCHIVES[size][0]).path).name.removesuffix(".tgz")


def _normalise_counts(counts: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, int]]:
    if counts is None:
        return {split: dict(c) for split, c in IMAGENETTE_COUNTS.items()}
    if set(counts) != set(SPLITS):
        raise ValueError(f"expected_counts needs exactly the keys {list(SPLITS)}, got {sorted(counts)}")
    return {split: {str(k): int(v) for k, v in counts[split].items()} for split in SPLITS}


class SkippedLinkWarning(UnreadableImageWarning):
    """A link in the data tree was skipped: nets never follows one out of the tree or into a loop."""


def list_images(split_dir: Path, *, warn: bool = True) -> tuple[list[str], list[tuple[str, int]]]:
    """The class folders of ``split_dir`` (sorted) and every image the loader decodes, as
    ``(path, class index)`` sorted by class then file name: regular files named ``*.jpeg`` (any case)
    directly in a real class folder. Links, to files or folders, are skipped (with a warning unless
    ``warn=False``): a link can lead out of the tree or back into it, and the counts that verify a
    tree must count exactly what is decoded.
    """
    links: list[str] = []
    classes: list[tuple[str, str]] = []
    with os.scandir(split_dir) as entries:
        for entry in entries:
            if entry.is_symlink():
                links.append(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                classes.append((entry.name, entry.path))
    classes.sort()
    samples = []
    for index, (_, folder) in enumerate(classes):
        with os.scandir(folder) as files:
            for f in sorted(files, key=lambda e: e.name):
                if f.is_symlink():
                    links.append(f.path)
                elif f.name.lower().endswith(".jpeg") and f.is_file(follow_symlinks=False):
                    samples.append((f.path, index))
    if links and warn:
        shown = ", ".join(links[:3]) + (f" and {len(links) - 3} more" if len(links) > 3 else "")
        warnings.warn(f"skipped {len(links)} link(s) in {split_dir} (links in a data tree are not followed): "
                      f"{shown}", SkippedLinkWarning, stacklevel=2)  # fmt: skip
    return [name for name, _ in classes], samples


def _count_images(tree: Path) -> dict[str, dict[str, int]]:
    """Per split, per class folder: how many images the loader decodes (see :func:`list_images`)."""
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts[split] = {}
        split_dir = tree / split
        if not split_dir.is_dir() or split_dir.is_symlink():
            continue
        classes, samples = list_images(split_dir, warn=False)
        found = np.bincount([c for _, c in samples], minlength=len(classes)).tolist() if classes else []
        counts[split] = dict(zip(classes, found, strict=True))
    return counts


def _count_problems(found: dict[str, dict[str, int]], expected: dict[str, dict[str, int]]) -> list[str]:
    problems = []
    for split in SPLITS:
        have, want = found.get(split, {}), expected[split]
        if not have:
            problems.append(f"no {split}/ folder")
            continue
        for wnid in sorted(set(have) | set(want)):
            if have.get(wnid) != want.get(wnid):
                problems.append(f"{split}/{wnid}: {have.get(wnid, 0)} images, expected {want.get(wnid, 0)}")
    return problems


def _write_marker(tree: Path, counts: dict[str, dict[str, int]], archive_md5: str | None) -> None:
    record = {"verified": time.strftime("%Y-%m-%dT%H:%M:%S"), "archive_md5": archive_md5, "counts": counts}
    atomic_write_text(tree / _MARKER, json.dumps(record, indent=1))


def _is_verified(tree: Path) -> bool:
    """The marker exists, parses, and the class folders still hold the counts it recorded."""
    try:
        record = json.loads((tree / _MARKER).read_text())
        return not _count_problems(_count_images(tree), _normalise_counts(record["counts"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _expected_md5(default: str, verify_md5: bool | None) -> str | None:
    """None = don't check. ``NETS_IMAGENETTE_MD5`` may say "skip" or give the md5 of a newer upload."""
    env = os.environ.get("NETS_IMAGENETTE_MD5", "").strip().lower()
    if verify_md5 is False or (verify_md5 is None and env == "skip"):
        return None
    if env and env != "skip":
        if not re.fullmatch(r"[0-9a-f]{32}", env):
            raise ValueError(f"NETS_IMAGENETTE_MD5 must be 'skip' or a 32-digit hex md5, got {env!r}")
        return env
    return default


def _download(
    url: str, archive: Path, downloader: Callable[[str, Path], None], size: str, root: Path
) -> None:
    """Download to ``<archive>.<pid>.part``, rename when the downloader returns: a partial file is never the archive.

    The process id in the temporary name keeps simultaneous runs (the ranks of a DDP job) from writing
    into one file; leftovers of runs that died are removed.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(archive.parent.glob(f"{archive.name}.*.part"))
    part = archive.with_name(f"{archive.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)
    try:
        downloader(url, part)
    except Exception as err:  # network errors come in many types (URLError, OSError, HTTPError, ...)
        part.unlink(missing_ok=True)
        raise ImagenetteUnavailable(
            _how_to_get(size, root, f"download failed: {type(err).__name__}: {err}")
        ) from err
    if not part.is_file():
        raise ImagenetteUnavailable(_how_to_get(size, root, f"the download of {url} produced no file"))
    os.replace(part, archive)


def _extract(
    archive: Path,
    root: Path,
    stem: str,
    expected: dict[str, dict[str, int]],
    archive_md5: str,
    progress: bool,
) -> None:
    """Extract into ``root/.<stem>.extracting-<pid>``, verify counts, mark, then move into place."""
    from tqdm.auto import tqdm

    remove_stale(root.glob(f".{stem}.extracting-*"))  # left by an interrupted run
    tmp = root / f".{stem}.extracting-{os.getpid()}"
    try:
        try:
            if not hasattr(tarfile, "data_filter"):  # Python < 3.10.12 / 3.11.4: no safe extraction
                raise ImagenetteUnavailable(
                    f"this Python ({platform.python_version()}) cannot extract {archive} safely: its tarfile "
                    "has no 'data' filter (added in 3.10.12 and 3.11.4). Upgrade Python, or extract the "
                    f"archive yourself into {root} and run again"
                )
            with tarfile.open(archive) as tar:
                members = tqdm(tar, desc=f"extracting {archive.name}", unit=" files", disable=not progress)
                tar.extractall(tmp, members=members, filter="data")
        except tarfile.FilterError as err:  # a member that would land outside the folder, or a device
            raise ImagenetteUnavailable(
                f"refused to extract {archive}: {err}. A genuine Imagenette archive never does this, so "
                "this one was altered or is not Imagenette: nothing of it was kept. Delete it and run again "
                "to download the real one."
            ) from err
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
            raise ImagenetteUnavailable(
                f"could not extract {archive} ({type(err).__name__}: {err}). The file is probably truncated or "
                "damaged: delete it and run again to re-download it."
            ) from err
        extracted = tmp / stem
        if not extracted.is_dir():
            raise ImagenetteUnavailable(
                f"{archive} does not contain a {stem}/ folder; delete it and run again to re-download it."
            )
        problems = _count_problems(_count_images(extracted), expected)
        if problems:
            raise ImagenetteUnavailable(
                f"{archive} extracted, but its image counts are not Imagenette's: {'; '.join(problems[:5])}"
                f"{' ...' if len(problems) > 5 else ''}. Delete the archive and run again to re-download it."
            )
        _write_marker(extracted, expected, archive_md5=archive_md5)
        target = root / stem
        if _is_verified(target):  # another process (a DDP rank) finished first
            return
        if target.exists():  # an earlier, incomplete tree
            shutil.rmtree(target)
        os.replace(extracted, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _how_to_get(size: str, root: Path, why: str) -> str:
    url = _ARCHIVES[size][0]
    return (
        f"Imagenette ({tree_name(size)}) is not available in {root}: {why}. To get it: run once with network access "
        f"(it downloads {_ARCHIVE_MIB[size]} MiB from {url}); or download that file yourself and put it at "
        f"{root / (tree_name(size) + '.tgz')} (it is checked and extracted on the next run); or point NETS_DATA_DIR "
        "at a folder that holds it. To train without it: NETS_DATA=fashion-mnist (real photos, offline once the "
        "Debian package dataset-fashion-mnist is installed), NETS_DATA=standin (drawn shapes), or load(fallback=True)."
    )


def _checksum_message(archive: Path, actual: str, expected: str) -> str:
    return (
        f"{archive.name} has md5 {actual}, expected {expected}. The file at {archive} is complete but its "
        "checksum differs. Upstream (fast.ai) has re-uploaded the Imagenette archives before, which changes the "
        "md5, so this may be a newer upload rather than a bad download. What you can do: (1) accept it - set "
        f"NETS_IMAGENETTE_MD5=skip (or NETS_IMAGENETTE_MD5={actual}) or pass verify_md5=False; the images are "
        f"still counted class by class after extraction; (2) delete {archive} and run again to download it "
        "afresh; (3) train on something else: NETS_DATA=fashion-mnist or NETS_DATA=standin."
    )


# ---------------------------------------------------------------------------------------------------
# A verified split -> the tensor cache
# ---------------------------------------------------------------------------------------------------


def read_split(
    root: Path, size: str, split: str, *, resolution: int, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A verified split as uint8 (N, 3, R, R) memory-mapped from the tensor cache, and its int64 labels.

    The first call decodes every JPEG (unreadable ones are skipped with a warning and recorded in the
    manifest); later calls only memory-map, until a source file is added, removed or edited.
    """
    stem = tree_name(size)
    split_dir = root / stem / split
    if not split_dir.is_dir() or split_dir.is_symlink():
        raise ImagenetteUnavailable(f"{split_dir} is not a folder of class folders")
    wnids, samples = list_images(split_dir)
    if not wnids or wnids != IMAGENETTE_WNIDS[: len(wnids)]:
        raise ImagenetteUnavailable(f"{split_dir} has unexpected class folders: {wnids}")
    paths = [p for p, _ in samples]
    labels = np.array([c for _, c in samples], dtype=np.int64)
    key = {
        "version": CACHE_VERSION,
        "source": stem,
        "split": split,
        "resolution": resolution,
        "classes": IMAGENETTE_CLASSES,
        "source_hash": source_hash(samples, root / stem),
    }

    def fill(array: np.ndarray) -> tuple[np.ndarray, dict]:
        desc = f"decoding {stem}/{split} once"
        kept, skipped = decode_files(array, paths, resolution, base=root / stem, progress=progress, desc=desc)
        counts = np.bincount(labels[kept], minlength=len(IMAGENETTE_CLASSES)).tolist()
        return kept, {"counts": counts, "num_skipped": len(skipped), "skipped": skipped}

    shape = (len(paths), 3, resolution, resolution)
    array, manifest = cached(root, f"{stem}-{split}-r{resolution}", key, shape, fill)
    return array, np.repeat(np.arange(len(manifest["counts"])), manifest["counts"])
