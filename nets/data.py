"""Training data for the book: Imagenette, decoded once into a tensor cache, augmented on the device.

Why this shape: a Colab machine has two CPU cores, and decoding + augmenting JPEGs with PIL in a
``DataLoader`` cannot keep even a small GPU busy. So each split is decoded **once** (shorter side resized
and center-cropped to ``resolution``, 144 px by default) into a uint8 ``.npy`` file that later runs
memory-map; every batch then moves to the training device as uint8 and is cropped, flipped and
normalised there as batched tensor ops (the airbench recipe).

    >>> from nets import data
    >>> d = data.load()                                  # Imagenette 160px, or the stand-in when offline
    >>> for x, y in data.batches(d.train, 64, train=True, image_size=128, device="cuda"):
    ...     ...

``load`` returns :class:`Data` (two :class:`Split` s: uint8 images + int64 labels); ``batches`` yields
normalised float32 batches (``raw_batches`` the uint8 ones before augmentation, ``crop_resize`` is the
batched crop); ``num_batches`` says how many.

Imagenette is fetched robustly by :func:`prepare_imagenette` (temp-name download, md5 with a clear message
when upstream re-uploaded the archive, ``tarfile`` extraction with ``filter="data"`` into a temp folder,
per-class count verification, a marker file, atomic move into place) and then read through
``torchvision.datasets.Imagenette(root, split, size, download=False)``.

Without Imagenette (no network) ``load`` falls back to a procedurally generated 10-class **stand-in**
(shapes with random colour, position, scale, rotation, background, clutter and noise) through the same
interface, with a banner saying its numbers are not Imagenette numbers. ``NETS_DATA=imagenette|standin|auto``
picks the source; ``NETS_DATA_DIR`` the cache folder (default ``~/.cache/nets``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import socket
import tarfile
import time
import urllib.parse
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENETTE_CLASSES",
    "IMAGENETTE_COUNTS",
    "IMAGENETTE_WNIDS",
    "MEAN",
    "STANDIN_CLASSES",
    "STD",
    "Data",
    "ImagenetteChecksumError",
    "ImagenetteUnavailable",
    "Split",
    "UnreadableImageWarning",
    "batches",
    "crop_resize",
    "data_dir",
    "download_file",
    "load",
    "num_batches",
    "prepare_imagenette",
    "raw_batches",
    "standin_images",
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
SIZES = tuple(_ARCHIVES)
SPLITS = ("train", "val")

# ImageNet normalisation (the statistics every torchvision/timm ImageNet model was trained with).
MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Augmentation and evaluation geometry (torchvision's defaults, except a larger minimum crop scale:
# at 128 px a 8 % crop leaves too little of an Imagenette object to learn from in a few epochs).
CROP_SCALE = (0.35, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
EVAL_CROP = 0.875  # evaluation shows the central 87.5 %, like "resize 256, center crop 224"

_MARKER = ".nets-verified.json"
_CACHE_VERSION = 1
_SOURCES = ("imagenette", "standin", "auto")


class ImagenetteUnavailable(RuntimeError):
    """Imagenette is not on disk and could not be fetched; the message says how to get it."""


class ImagenetteChecksumError(ImagenetteUnavailable):
    """The archive's md5 is not the expected one (upstream has re-uploaded before); the message says what to do."""


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded; it was skipped (and counted in the tensor cache's manifest)."""


# ---------------------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------------------


@dataclass
class Split:
    """One split: ``images`` uint8 (N, 3, R, R) on the CPU (memory-mapped from the tensor cache), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Data:
    """Both splits plus what a plot or a report needs (class names, where the images came from)."""

    train: Split
    val: Split
    classes: list[str]
    source: str  # "imagenette2-160", "imagenette2-320", "imagenette2" or "standin"
    is_standin: bool
    resolution: int  # R, the side of the cached square images
    note: str = ""  # why the stand-in is used, when it replaced Imagenette

    @property
    def banner(self) -> str:
        """One line to print above results: for the stand-in it says they are not Imagenette numbers."""
        if not self.is_standin:
            return ""
        line = (
            "STAND-IN DATA: 10 classes of procedurally generated shapes, NOT Imagenette - "
            "accuracies measured on it are not Imagenette numbers."
        )
        return f"{line} ({self.note})" if self.note else line


def data_dir() -> Path:
    """The cache folder: ``$NETS_DATA_DIR``, else ``~/.cache/nets``."""
    env = os.environ.get("NETS_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nets"


def load(
    source: str | None = None,
    *,
    size: str = "160px",
    root: str | os.PathLike | None = None,
    download: bool = True,
    fallback: bool = True,
    resolution: int = 144,
    subset: int | None = None,
    seed: int = 0,
    progress: bool = True,
    verify_md5: bool | None = None,
) -> Data:
    """Imagenette (or the stand-in) as uint8 tensors, decoded once and memory-mapped afterwards.

    ``source``: "imagenette" (Imagenette or an error, never a substitute), "standin", or "auto"
    (Imagenette if it is on disk or can be downloaded, else - with ``fallback=True`` - the stand-in,
    announced by a warning and a printed banner). ``None`` reads ``$NETS_DATA``, default "auto".
    ``size``: which Imagenette archive ("160px", "320px", "full"). ``root``: the cache folder (default
    :func:`data_dir`). ``resolution``: side R of the cached square images. ``subset``: keep at most this
    many images per class in each split (balanced, chosen by ``seed``) for quick CPU previews.
    ``verify_md5=False`` (or ``NETS_IMAGENETTE_MD5=skip``) accepts an archive whose md5 changed upstream.
    """
    source = _resolve_source(source)
    if size not in _ARCHIVES:
        raise ValueError(f"size must be one of {list(_ARCHIVES)}, got {size!r}")
    resolution = _check_int("resolution", resolution, minimum=16)
    if subset is not None:
        subset = _check_int("subset", subset, minimum=1)
    seed = _check_int("seed", seed, minimum=0)
    root = Path(root).expanduser() if root is not None else data_dir()

    if source == "standin":
        return _load_standin(root, resolution=resolution, subset=subset, seed=seed)
    try:
        prepare_imagenette(root, size, download=download, verify_md5=verify_md5, progress=progress)
    except ImagenetteUnavailable as err:
        if source == "imagenette" or not fallback:
            raise
        data = _load_standin(root, resolution=resolution, subset=subset, seed=seed, note=_short_reason(err))
        warnings.warn(f"{data.banner}\nWhy: {err}", stacklevel=2)
        return data
    return _load_imagenette(root, size, resolution=resolution, subset=subset, seed=seed, progress=progress)


def batches(
    split: Split,
    batch_size: int,
    *,
    train: bool,
    image_size: int,
    device: torch.device | str = "cpu",
    seed: int = 0,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
    channels_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)``: x float32 (b, 3, image_size, image_size) normalised, y int64, both on ``device``.

    Only the batch's images are read from the memmap; they move to ``device`` as uint8 and are augmented
    there. ``train=True``: the order is a permutation drawn from (seed, epoch), random-resized-crop
    (scale 0.35-1, ratio 3/4-4/3) and horizontal flip are drawn from (seed, epoch, step) for the whole
    *global* batch and then sliced, so ``world_size`` ranks together see exactly the batch a single
    process sees; incomplete last batches are dropped. ``train=False``: dataset order, the central
    87.5 % resized to ``image_size``, nothing dropped (a rank whose slice of the last batch is empty gets an
    empty batch, so every rank takes the same number of steps). Global batch k is
    ``order[k*batch_size:(k+1)*batch_size]``; rank r takes its contiguous ``batch_size // world_size``.
    If ``split`` already lives on ``device`` (e.g. ``Split(images.cuda(), labels.cuda())``), rows are
    gathered there and nothing crosses the bus.
    """
    image_size = _check_int("image_size", image_size, minimum=8)
    raw = raw_batches(
        split,
        batch_size,
        train=train,
        device=device,
        seed=seed,
        epoch=epoch,
        rank=rank,
        world_size=world_size,
    )
    return _augmented(
        raw, batch_size, train, image_size, torch.device(device), seed, epoch, rank, world_size, channels_last
    )


def raw_batches(
    split: Split,
    batch_size: int,
    *,
    train: bool,
    device: torch.device | str = "cpu",
    seed: int = 0,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The uint8 (b, 3, R, R) batches and labels ``batches`` augments: same order, slicing and checks."""
    if not isinstance(split, Split):
        raise TypeError(f"batches expects a nets.data.Split, got {type(split).__name__}")
    batch_size = _check_int("batch_size", batch_size, minimum=1)
    seed = _check_int("seed", seed, minimum=0)
    epoch = _check_int("epoch", epoch, minimum=0)
    world_size = _check_int("world_size", world_size, minimum=1)
    rank = _check_int("rank", rank, minimum=0)
    if rank >= world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    if batch_size % world_size:
        raise ValueError(
            f"batch_size ({batch_size}) must be divisible by world_size ({world_size}): each rank takes an "
            f"equal slice of the global batch; use e.g. batch_size={max(1, batch_size // world_size) * world_size}"
        )
    if split.images.ndim != 4 or split.images.shape[1] != 3 or split.images.dtype != torch.uint8:
        raise ValueError(
            f"split.images must be uint8 (N, 3, R, R), got {split.images.dtype} {tuple(split.images.shape)}"
        )
    if train and len(split) < batch_size:
        raise ValueError(
            f"the split has {len(split)} images, fewer than one training batch of {batch_size} "
            "(training drops incomplete batches); use a smaller batch_size"
        )
    return _raw(split, batch_size, train, torch.device(device), seed, epoch, rank, world_size)


def num_batches(split: Split, batch_size: int, *, train: bool) -> int:
    """How many batches ``batches`` yields: ``len // batch_size`` for training (drop_last), else rounded up."""
    batch_size = _check_int("batch_size", batch_size, minimum=1)
    n = len(split)
    return n // batch_size if train else -(-n // batch_size)


# ---------------------------------------------------------------------------------------------------
# Batches: read the uint8 rows, move them, augment on the device
# ---------------------------------------------------------------------------------------------------


def _raw(
    split: Split,
    batch_size: int,
    train: bool,
    device: torch.device,
    seed: int,
    epoch: int,
    rank: int,
    world_size: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n = len(split)
    local = batch_size // world_size
    lo, hi = rank * local, (rank + 1) * local
    if train:
        order = torch.randperm(n, generator=_generator(seed, epoch, "order"))
        steps = n // batch_size
    else:
        order = torch.arange(n)
        steps = -(-n // batch_size)
    for step in range(steps):
        index = order[step * batch_size : (step + 1) * batch_size][lo:hi]
        yield _gather(split.images, index, device), _gather(split.labels, index, device)


def _augmented(
    raw: Iterator[tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    train: bool,
    image_size: int,
    device: torch.device,
    seed: int,
    epoch: int,
    rank: int,
    world_size: int,
    channels_last: bool,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    local = batch_size // world_size
    lo, hi = rank * local, (rank + 1) * local
    mean, std = _norm_constants(device)
    for step, (x, y) in enumerate(raw):
        x = x.float()
        if train:
            w, h, cx, cy, flip = (t[lo:hi].to(device) for t in _draw_crops(batch_size, seed, epoch, step))
            x = crop_resize(x, w * torch.where(flip, -1.0, 1.0), h, cx, cy, image_size)
        else:
            b = x.shape[0]
            full = torch.full((b,), EVAL_CROP, device=device)
            zero = torch.zeros(b, device=device)
            x = crop_resize(x, full, full, zero, zero, image_size)
        x = x.sub_(mean).div_(std)  # crop_resize returned a fresh tensor: normalise in place
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, y


def _gather(t: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t[index]`` on ``device``: gathered where ``t`` lives (a memmap reads just those rows), then moved."""
    if t.device.type != "cpu":
        return t[index.to(t.device)].to(device)
    # numpy's fancy indexing copies whole rows; torch's uint8 gather is ~10x slower on the CPU
    rows = torch.from_numpy(t.numpy()[index.numpy()])
    if device.type == "cuda":
        return rows.pin_memory().to(device, non_blocking=True)
    return rows.to(device)


def _norm_constants(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # Applied to 0-255 values, so the /255 is folded into the constants.
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    return mean, std


def _generator(seed: int, epoch: int, step: int | str) -> torch.Generator:
    """A CPU generator from (seed, epoch, step): the same on every rank and every device."""
    tag = step if isinstance(step, int) else zlib.crc32(step.encode())
    state = np.random.SeedSequence([seed, epoch, tag, 0x6E657473]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)


def _draw_crops(batch: int, seed: int, epoch: int, step: int) -> tuple[torch.Tensor, ...]:
    """Random-resized-crop boxes + flips for a whole global batch, as fractions of the image side.

    Like torchvision's RandomResizedCrop: up to 10 tries of (area scale, log-uniform aspect ratio), the
    first box that fits wins, the whole image if none does. Returns half-widths-as-fractions ``w``,
    ``h`` (the box is w x h of the image), the box centre ``cx, cy`` in [-1, 1] coordinates, and ``flip``.
    """
    g = _generator(seed, epoch, step)
    tries = 10
    scale = torch.empty(batch, tries).uniform_(*CROP_SCALE, generator=g)
    log_ratio = torch.empty(batch, tries).uniform_(
        math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), generator=g
    )
    ratio = torch.exp(log_ratio)
    w_all, h_all = torch.sqrt(scale * ratio), torch.sqrt(scale / ratio)
    fits = (w_all <= 1) & (h_all <= 1)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first fitting try (0 when none fits)
    any_fit = fits.any(dim=1)
    w = torch.where(any_fit, w_all.gather(1, first).squeeze(1), torch.ones(batch))
    h = torch.where(any_fit, h_all.gather(1, first).squeeze(1), torch.ones(batch))
    u, v = torch.rand(batch, generator=g), torch.rand(batch, generator=g)
    flip = torch.rand(batch, generator=g) < 0.5
    cx = 2 * u * (1 - w) + w - 1  # left edge at u * (1 - w) of the side, mapped to [-1, 1]
    cy = 2 * v * (1 - h) + h - 1
    return w, h, cx, cy, flip


def crop_resize(
    x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, size: int
) -> torch.Tensor:
    """Per-sample crop boxes resampled to ``size`` x ``size`` with one ``grid_sample`` (bilinear).

    Box i is centred at (cx[i], cy[i]) in [-1, 1] image coordinates and spans w[i] x h[i] of the image's
    width x height (a negative w mirrors it: the horizontal flip). The sampling grid is built with
    elementwise ops only, so each sample's pixels do not depend on which other samples share the batch
    (a rank's slice equals the same rows of the single-process batch, bit for bit). When the batch would
    be shrunk by more than 1.25x, it is first resized with antialiasing so bilinear sampling doesn't alias.
    """
    side = x.shape[-1]
    if side > 1.25 * size:
        x = F.interpolate(x, size=round(1.25 * size), mode="bilinear", antialias=True, align_corners=False)
    base = (torch.arange(size, device=x.device, dtype=x.dtype) + 0.5) / size * 2 - 1
    gx = w.to(x.dtype)[:, None, None] * base[None, None, :] + cx.to(x.dtype)[:, None, None]
    gy = h.to(x.dtype)[:, None, None] * base[None, :, None] + cy.to(x.dtype)[:, None, None]
    grid = torch.stack(torch.broadcast_tensors(gx, gy), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ---------------------------------------------------------------------------------------------------
# Imagenette on disk: download, extract, verify
# ---------------------------------------------------------------------------------------------------


def download_file(url: str, dest: Path) -> None:
    """Fetch ``url`` to ``dest`` (torchvision's ``download_url``). Tests replace this; nothing else calls the network."""
    from torchvision.datasets.utils import download_url

    host = urllib.parse.urlparse(url).hostname or ""
    try:  # fail in seconds, not minutes, when offline
        socket.create_connection((host, 443), timeout=10).close()
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
    renamed when complete (``download=False`` only forbids the network: an archive on disk is used), md5-checked, extracted with ``tarfile`` (``filter="data"``) into a temporary folder,
    verified, marked, then moved into place - so an interrupted run leaves nothing that passes for
    complete and can simply be re-run. Raises :class:`ImagenetteUnavailable` (or its subclass
    :class:`ImagenetteChecksumError`) with what to do.
    """
    if size not in _ARCHIVES:
        raise ValueError(f"size must be one of {list(_ARCHIVES)}, got {size!r}")
    root = Path(root).expanduser() if root is not None else data_dir()
    expected = _normalise_counts(expected_counts)
    url, md5 = _ARCHIVES[size]
    stem = _stem(size)
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
    expected_md5 = _expected_md5(md5, verify_md5)
    if not archive.is_file():
        if not download:
            raise ImagenetteUnavailable(_how_to_get(size, root, "download=False and it is not on disk"))
        _download(url, archive, downloader or download_file, size, root)
    actual_md5 = _md5(archive)
    if expected_md5 is not None and actual_md5 != expected_md5:
        raise ImagenetteChecksumError(_checksum_message(archive, actual_md5, expected_md5))
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
    if size not in _ARCHIVES:
        raise ValueError(f"size must be one of {list(_ARCHIVES)}, got {size!r}")
    tree = Path(root).expanduser() / _stem(size)
    expected = _normalise_counts(expected_counts)
    if not tree.is_dir():
        raise ImagenetteUnavailable(f"no Imagenette tree at {tree}")
    problems = _count_problems(_count_images(tree), expected)
    if problems:
        raise ImagenetteUnavailable(f"{tree} does not have the expected images: " + "; ".join(problems))
    _write_marker(tree, expected, archive_md5=None)
    return tree


def _stem(size: str) -> str:
    return Path(urllib.parse.urlparse(_ARCHIVES[size][0]).path).name.removesuffix(".tgz")


def _normalise_counts(counts: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, int]]:
    if counts is None:
        return {split: dict(c) for split, c in IMAGENETTE_COUNTS.items()}
    if set(counts) != set(SPLITS):
        raise ValueError(f"expected_counts needs exactly the keys {list(SPLITS)}, got {sorted(counts)}")
    return {split: {str(k): int(v) for k, v in counts[split].items()} for split in SPLITS}


def _count_images(tree: Path) -> dict[str, dict[str, int]]:
    """Per split, per class folder: how many ``*.jpeg`` files (any case, as torchvision counts them)."""
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts[split] = {}
        split_dir = tree / split
        if not split_dir.is_dir():
            continue
        for entry in os.scandir(split_dir):
            if entry.is_dir():
                with os.scandir(entry.path) as files:
                    counts[split][entry.name] = sum(
                        1 for f in files if f.name.lower().endswith(".jpeg") and f.is_file()
                    )
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
    _atomic_write_text(tree / _MARKER, json.dumps(record, indent=1))


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


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _download(
    url: str, archive: Path, downloader: Callable[[str, Path], None], size: str, root: Path
) -> None:
    """Download to ``<archive>.<pid>.part``, rename when the downloader returns: a partial file is never the archive.

    The process id in the temporary name keeps simultaneous runs (the ranks of a DDP job) from writing
    into one file; leftovers of runs that died are removed.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(archive.parent.glob(f"{archive.name}.*.part"))
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


def _remove_stale(paths: Iterable[Path]) -> None:
    """Delete temporary files/folders named ``...<pid>...`` whose process is gone (never a live run's)."""
    for path in paths:
        match = re.search(r"[.-](\d+)(?:\.part)?$", path.name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
            continue  # that process still runs
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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

    _remove_stale(root.glob(f".{stem}.extracting-*"))  # left by an interrupted run
    tmp = root / f".{stem}.extracting-{os.getpid()}"
    try:
        try:
            with tarfile.open(archive) as tar:
                members = tqdm(tar, desc=f"extracting {archive.name}", unit=" files", disable=not progress)
                tar.extractall(tmp, members=members, filter="data")
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
        f"Imagenette ({_stem(size)}) is not available in {root}: {why}. To get it: run once with network access "
        f"(it downloads {_ARCHIVE_MIB[size]} MiB from {url}); or download that file yourself and put it at "
        f"{root / (_stem(size) + '.tgz')} (it is checked and extracted on the next run); or point NETS_DATA_DIR "
        "at a folder that holds it. To train on the offline stand-in instead, set NETS_DATA=standin or call "
        "load(fallback=True)."
    )


def _checksum_message(archive: Path, actual: str, expected: str) -> str:
    return (
        f"{archive.name} has md5 {actual}, expected {expected}. The file at {archive} is complete but its "
        "checksum differs. Upstream (fast.ai) has re-uploaded the Imagenette archives before, which changes the "
        "md5, so this may be a newer upload rather than a bad download. What you can do: (1) accept it - set "
        f"NETS_IMAGENETTE_MD5=skip (or NETS_IMAGENETTE_MD5={actual}) or pass verify_md5=False; the images are "
        f"still counted class by class after extraction; (2) delete {archive} and run again to download it "
        "afresh; (3) use the offline stand-in: NETS_DATA=standin."
    )


def _short_reason(err: Exception) -> str:
    if isinstance(err, ImagenetteChecksumError):
        return "Imagenette archive failed its md5 check"
    return "Imagenette is not available offline"


# ---------------------------------------------------------------------------------------------------
# The decode-once tensor cache
# ---------------------------------------------------------------------------------------------------


def _decode_image(path: str, resolution: int) -> np.ndarray:
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


def _cache_paths(root: Path, name: str) -> tuple[Path, Path]:
    folder = root / "tensor-cache"
    return folder / f"{name}.npy", folder / f"{name}.json"


def _array_hash(array: np.ndarray) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    flat = array.reshape(array.shape[0], -1) if array.ndim else array
    for start in range(0, flat.shape[0], 256):
        digest.update(np.ascontiguousarray(flat[start : start + 256]).data)
    return digest.hexdigest()


def _open_cache(npy: Path, manifest_path: Path, key: dict) -> tuple[np.ndarray, dict] | str:
    """The memory-mapped array and its manifest if both are intact and match ``key``; else why not."""
    if not npy.is_file() or not manifest_path.is_file():
        return "not built yet"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return "its manifest is unreadable"
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


def _build_cache(
    npy: Path,
    manifest_path: Path,
    key: dict,
    shape: tuple[int, ...],
    fill: Callable[[np.ndarray], tuple[np.ndarray, dict]],
) -> tuple[np.ndarray, dict]:
    """Write ``fill``'s rows into a temp .npy, hash it, rename it into place, then write the manifest.

    ``fill(array)`` fills the preallocated array and returns (kept rows as a bool mask, manifest extras);
    rows it could not fill (unreadable images) are dropped by copying into a second, smaller file.
    """
    npy.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)  # until the new manifest exists, nothing passes for valid
    tmp = npy.with_name(f".{npy.name}.{os.getpid()}.tmp")
    tmp_kept = npy.with_name(f".{npy.name}.{os.getpid()}.kept.tmp")
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        kept, extras = fill(array)
        if not kept.all():
            compact = np.lib.format.open_memmap(
                tmp_kept, mode="w+", dtype=np.uint8, shape=(int(kept.sum()), *shape[1:])
            )
            rows = np.flatnonzero(kept)
            for start in range(0, len(rows), 256):
                compact[start : start + 256] = array[rows[start : start + 256]]
            del array
            os.replace(tmp_kept, tmp)
            array = compact
        array.flush()
        manifest = {**key, **extras, "shape": list(array.shape), "array_hash": _array_hash(array)}
        del array
        os.replace(tmp, npy)
        _atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    finally:
        tmp.unlink(missing_ok=True)
        tmp_kept.unlink(missing_ok=True)
    return np.load(npy, mmap_mode="c"), manifest


def _cached(
    npy: Path, manifest_path: Path, key: dict, shape: tuple[int, ...], fill: Callable
) -> tuple[np.ndarray, dict]:
    opened = _open_cache(npy, manifest_path, key)
    if isinstance(opened, tuple):
        return opened
    if opened != "not built yet":
        warnings.warn(f"tensor cache {npy} is stale or damaged ({opened}); rebuilding it", stacklevel=3)
    return _build_cache(npy, manifest_path, key, shape, fill)


def _source_hash(samples: Sequence[tuple[str, int]], base: Path) -> str:
    """Hash of the file list with sizes and modification times: any added, removed or edited image changes it."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path, label in samples:
        st = os.stat(path)
        digest.update(f"{os.path.relpath(path, base)}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _decode_into(
    array: np.ndarray, paths: Sequence[str], resolution: int, progress: bool, desc: str
) -> list[tuple[int, str]]:
    """Decode every path into its row with a thread pool (PIL releases the GIL); return the failures."""
    from tqdm.auto import tqdm

    failures: list[tuple[int, str]] = []

    def work(i: int) -> None:
        try:
            array[i] = _decode_image(paths[i], resolution)
        except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, ... for broken files
            failures.append((i, f"{type(err).__name__}: {err}"))

    workers = max(1, min(8, os.cpu_count() or 1))
    with (
        ThreadPoolExecutor(workers) as pool,
        tqdm(total=len(paths), desc=desc, unit=" img", disable=not progress) as bar,
    ):
        for _ in pool.map(work, range(len(paths)), chunksize=16):
            bar.update()
    return sorted(failures)


def _load_imagenette(
    root: Path, size: str, *, resolution: int, subset: int | None, seed: int, progress: bool
) -> Data:
    from torchvision.datasets import Imagenette
    from torchvision.datasets.folder import make_dataset

    stem = _stem(size)
    splits = {}
    for split in SPLITS:
        ds = Imagenette(str(root), split=split, size=size, download=False)
        if list(ds.wnids) != IMAGENETTE_WNIDS[: len(ds.wnids)] or not ds.wnids:
            raise ImagenetteUnavailable(f"{root / stem / split} has unexpected class folders: {ds.wnids}")
        samples = getattr(ds, "_samples", None)  # [(path, class index)], sorted by class then file name
        if samples is None:  # torchvision renamed its private list: build the same one publicly
            samples = make_dataset(str(root / stem / split), ds.wnid_to_idx, extensions=".jpeg")
        paths = [p for p, _ in samples]
        labels = np.array([c for _, c in samples], dtype=np.int64)
        key = {
            "version": _CACHE_VERSION,
            "source": stem,
            "split": split,
            "resolution": resolution,
            "classes": IMAGENETTE_CLASSES,
            "source_hash": _source_hash(samples, root / stem),
        }

        def fill(array: np.ndarray, paths=paths, labels=labels, split=split) -> tuple[np.ndarray, dict]:
            failures = _decode_into(array, paths, resolution, progress, f"decoding {stem}/{split} once")
            kept = np.ones(len(paths), dtype=bool)
            for i, why in failures:
                kept[i] = False
                warnings.warn(
                    f"skipping unreadable image {paths[i]}: {why}", UnreadableImageWarning, stacklevel=2
                )
            counts = np.bincount(labels[kept], minlength=len(IMAGENETTE_CLASSES)).tolist()
            skipped = [{"path": os.path.relpath(paths[i], root / stem), "error": why} for i, why in failures]
            return kept, {"counts": counts, "num_skipped": len(skipped), "skipped": skipped}

        npy, manifest_path = _cache_paths(root, f"{stem}-{split}-r{resolution}")
        array, manifest = _cached(npy, manifest_path, key, (len(paths), 3, resolution, resolution), fill)
        kept_labels = np.repeat(np.arange(len(manifest["counts"])), manifest["counts"])
        splits[split] = _make_split(array, kept_labels, subset, seed, split)
    return Data(splits["train"], splits["val"], list(IMAGENETTE_CLASSES), stem, False, resolution)


def _make_split(array: np.ndarray, labels: np.ndarray, subset: int | None, seed: int, split: str) -> Split:
    if len(labels) != array.shape[0]:
        raise RuntimeError(f"tensor cache holds {array.shape[0]} images but {len(labels)} labels; delete it")
    if subset is not None:
        rng = np.random.default_rng([seed, SPLITS.index(split), 0x5B5E7])
        keep = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            keep.append(np.sort(rng.choice(rows, size=min(subset, len(rows)), replace=False)))
        index = np.concatenate(keep)
        return Split(
            torch.from_numpy(np.ascontiguousarray(array[index])), torch.from_numpy(labels[index].copy())
        )
    return Split(torch.from_numpy(array), torch.from_numpy(labels.astype(np.int64)))


# ---------------------------------------------------------------------------------------------------
# The offline stand-in: 10 procedurally generated classes
# ---------------------------------------------------------------------------------------------------

STANDIN_CLASSES: list[str] = [
    "disc",
    "ring",
    "square",
    "square frame",
    "triangle",
    "plus sign",
    "five-point star",
    "crescent",
    "striped patch",
    "checkerboard patch",
]
STANDIN_PER_CLASS = {"train": 500, "val": 100}
_STANDIN_VERSION = 2  # bump when the generator changes: cached stand-ins are rebuilt


def _shape_mask(label: int, u: torch.Tensor, v: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
    """Inside-the-shape mask in the shape's own coordinates (u, v), where the shape's radius is about 1."""
    r2 = u * u + v * v
    box = torch.maximum(u.abs(), v.abs())
    if label == 0:
        return r2 < 1
    if label == 1:
        return (r2 < 1) & (r2 > 0.55**2)
    if label == 2:
        return box < 0.8
    if label == 3:
        return (box < 0.85) & (box > 0.5)
    if label == 4:  # equilateral, circumradius 1
        inside = torch.ones_like(u, dtype=torch.bool)
        for angle in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6):
            inside &= u * math.cos(angle) + v * math.sin(angle) < 0.5
        return inside
    if label == 5:
        return ((u.abs() < 0.28) & (v.abs() < 0.95)) | ((v.abs() < 0.28) & (u.abs() < 0.95))
    if label == 6:
        return r2.sqrt() < 0.38 + 0.62 * torch.cos(2.5 * torch.atan2(v, u)).abs() ** 4
    if label == 7:
        return (r2 < 1) & ((u - 0.45) ** 2 + v * v > 0.85**2)
    if label == 8:
        return (box < 0.85) & (torch.sin(math.pi * freq * u) > 0)
    if label == 9:
        return (box < 0.85) & (torch.sin(math.pi * freq * u) * torch.sin(math.pi * freq * v) > 0)
    raise ValueError(f"stand-in class index must be in 0..9, got {label}")


def _render_standin(
    label: int, n: int, resolution: int, rng: np.random.Generator, noise_bank: torch.Tensor
) -> np.ndarray:
    """``n`` images of one class, uint8 (n, 3, R, R): every nuisance factor drawn per image.

    The per-image parameters come from the numpy ``rng``; the pixels are computed with in-place torch
    ops (multi-threaded), because a few full-size passes over 6,000 images is what the time goes on.
    """

    def draw(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(low, high, (n, *shape)).astype(np.float32))

    def per_image(t: torch.Tensor) -> torch.Tensor:  # (n,) -> (n, 1, 1) to broadcast over pixels
        return t.view(n, 1, 1)

    coords = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    y, x = coords.view(1, -1, 1), coords.view(1, 1, -1)

    # the shape: random scale, position, rotation (and stripe frequency) in its own coordinates u, v
    # like an Imagenette photo, the object is large-ish and near the middle, so a random-resized crop
    # rarely misses it; it still moves, and may be cut by the border
    scale = draw(0.35, 0.7)
    cx, cy = draw(-0.45, 0.45), draw(-0.45, 0.45)
    theta, freq = draw(0, 2 * math.pi), draw(2.5, 4.0)
    cos, sin = per_image(theta.cos() / scale), per_image(theta.sin() / scale)
    dx, dy = x - per_image(cx), y - per_image(cy)
    u, v = dx * cos + dy * sin, dy * cos - dx * sin
    mask = _shape_mask(label, u, v, per_image(freq)).unsqueeze(1)

    # background (0-255 scale): a gradient between two random colours in a random direction + soft waves
    c0, c1 = draw(0, 1, 3), draw(0, 1, 3)
    phi = draw(0, 2 * math.pi)
    wave_f = draw(1, 4, 2)
    t = x * per_image(phi.cos() * 0.5) + y * per_image(phi.sin() * 0.5) + 0.5
    image = torch.addcmul((c0 * 255).view(n, 3, 1, 1), ((c1 - c0) * 255).view(n, 3, 1, 1), t.unsqueeze(1))
    wave = torch.sin(math.pi * (x * per_image(wave_f[:, 0]) + y * per_image(wave_f[:, 1])))
    image.add_(wave.mul_(12).unsqueeze(1))

    # foreground: a random colour, pushed to a luminance 0.2-0.5 away from the background's
    luma = torch.tensor([0.299, 0.587, 0.114])
    fg = draw(0, 1, 3)
    bg_luma = ((c0 + c1) / 2) @ luma
    delta = draw(0.2, 0.5)
    target = torch.where(bg_luma > 0.5, bg_luma - delta, bg_luma + delta)
    fg = (fg + (target - fg @ luma)[:, None]).clamp(0, 1) * 255
    image = torch.where(mask, fg.view(n, 3, 1, 1), image)

    # clutter: three small dots of random colours anywhere (they may land on the shape)
    for _ in range(3):
        px, py, radius = draw(-1, 1), draw(-1, 1), draw(0.03, 0.08)
        dot = (x - per_image(px)) ** 2 + (y - per_image(py)) ** 2 < per_image(radius) ** 2
        image = torch.where(dot.unsqueeze(1), (draw(0, 1, 3) * 255).view(n, 3, 1, 1), image)

    # sensor noise of a random strength, from the shared bank (class-independent, so nothing to memorise)
    sigma = draw(0.02, 0.1).view(n, 1, 1, 1)
    image.addcmul_(noise_bank[torch.from_numpy(rng.integers(len(noise_bank), size=n))], sigma)
    return image.clamp_(0, 255).to(torch.uint8).numpy()


def standin_images(
    per_class: int,
    resolution: int = 144,
    *,
    seed: int = 0,
    split: str = "train",
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in's images (uint8 (10 * per_class, 3, R, R), grouped by class) and labels, from ``seed``.

    Deterministic: the same (per_class, resolution, seed, split) gives the same bytes. Train and val are
    drawn from different streams, so they share no image.
    """
    per_class = _check_int("per_class", per_class, minimum=1)
    resolution = _check_int("resolution", resolution, minimum=16)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    n_classes = len(STANDIN_CLASSES)
    shape = (n_classes * per_class, 3, resolution, resolution)
    if out is None:
        out = np.empty(shape, dtype=np.uint8)
    elif out.shape != shape or out.dtype != np.uint8:
        raise ValueError(f"out must be uint8 {shape}, got {out.dtype} {out.shape}")
    chunk = max(1, (1 << 21) // (resolution * resolution))  # ~2 M pixels per step keeps memory small
    # 64 noise images (0-255 scale) shared by all classes: drawing fresh Gaussian noise per pixel
    # would be a third of the generation time
    bank_seed = np.random.SeedSequence([seed, SPLITS.index(split), _STANDIN_VERSION]).generate_state(1)[0]
    noise_bank = torch.randn(
        (64, 3, resolution, resolution), generator=torch.Generator().manual_seed(int(bank_seed))
    )
    noise_bank.mul_(255)
    # One intra-op thread: these are many mid-sized elementwise ops, where thread hand-offs cost more
    # than they bring (and cost 10-30x on a CPU shared with other processes). The bytes don't depend on it.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label in range(n_classes):
            rng = np.random.default_rng([seed, SPLITS.index(split), label, _STANDIN_VERSION])
            for start in range(0, per_class, chunk):
                n = min(chunk, per_class - start)
                row = label * per_class + start
                out[row : row + n] = _render_standin(label, n, resolution, rng, noise_bank)
    finally:
        torch.set_num_threads(threads)
    return out, np.repeat(np.arange(n_classes, dtype=np.int64), per_class)


def _load_standin(root: Path, *, resolution: int, subset: int | None, seed: int, note: str = "") -> Data:
    """The stand-in through the same tensor cache (generated in seconds the first time, then memory-mapped)."""
    splits = {}
    for split in SPLITS:
        per_class = STANDIN_PER_CLASS[split]
        key = {
            "version": _CACHE_VERSION,
            "source": "standin",
            "generator": _STANDIN_VERSION,
            "seed": seed,
            "split": split,
            "resolution": resolution,
            "classes": STANDIN_CLASSES,
        }
        counts = [per_class] * len(STANDIN_CLASSES)

        def fill(
            array: np.ndarray, per_class=per_class, split=split, counts=counts
        ) -> tuple[np.ndarray, dict]:
            standin_images(per_class, resolution, seed=seed, split=split, out=array)
            return np.ones(array.shape[0], dtype=bool), {"counts": counts, "num_skipped": 0, "skipped": []}

        npy, manifest_path = _cache_paths(
            root, f"standin-g{_STANDIN_VERSION}-seed{seed}-{split}-r{resolution}"
        )
        shape = (per_class * len(STANDIN_CLASSES), 3, resolution, resolution)
        array, manifest = _cached(npy, manifest_path, key, shape, fill)
        labels = np.repeat(np.arange(len(STANDIN_CLASSES)), manifest["counts"])
        splits[split] = _make_split(array, labels, subset, seed, split)
    data = Data(splits["train"], splits["val"], list(STANDIN_CLASSES), "standin", True, resolution, note)
    print(data.banner)
    return data


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _resolve_source(source: str | None) -> str:
    from_env = source is None
    if from_env:
        source = os.environ.get("NETS_DATA", "").strip().lower() or "auto"
    if not isinstance(source, str) or source.lower() not in _SOURCES:
        where = "NETS_DATA" if from_env else "source"
        raise ValueError(f"{where} must be one of {list(_SOURCES)}, got {source!r}")
    return source.lower()


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
