"""Training data for the book: Imagenette, decoded once into a tensor cache, augmented on the device.

    >>> from nets import data
    >>> d = data.load()            # Imagenette 160px; offline: Fashion-MNIST, else the drawn stand-in
    >>> for x, y in data.batches(d.train, 64, train=True, image_size=128, device="cuda"):
    ...     ...

A Colab machine has two CPU cores, and decoding + augmenting JPEGs with PIL in a ``DataLoader`` cannot
keep even a small GPU busy. So each split is decoded **once** into uint8 tensors that later runs
memory-map, and every batch moves to the device as uint8 to be cropped, flipped and normalised there.

This module is the interface: :func:`load` returns :class:`Data` (two :class:`Split` s: uint8 images +
int64 labels), :func:`batches` yields normalised float32 batches (:func:`raw_batches` the uint8 ones
before augmentation), :func:`num_batches` says how many, :func:`balanced_subset` keeps a few images per
class (``load(subset=)`` and ``nets.train.fit``'s budget previews both use it). The work is done in

* :mod:`nets.data.imagenette` - the class table, the archives, download / md5 / extraction / verification;
* :mod:`nets.data.cache` - the decode-once uint8 memmap cache (manifest, content hash, atomic build,
  free-space check, no temp files left by a full disk or a killed run);
* :mod:`nets.data.augment` - order, rank slices, random-resized-crop + flip and normalisation on the device;
* :mod:`nets.data.fashion` - Fashion-MNIST (real photos, offline from Debian's ``dataset-fashion-mnist``),
  the first substitute when Imagenette is out of reach;
* :mod:`nets.data.standin` - the procedural 10-class stand-in, the last resort.

``NETS_DATA=imagenette|fashion-mnist|standin|auto`` picks the source (``auto``: Imagenette, else
Fashion-MNIST, else the stand-in); ``NETS_DATA_DIR`` the cache folder (default ``~/.cache/nets``);
``NETS_IMAGENETTE_MD5=skip`` accepts a re-uploaded archive. Anything but Imagenette comes with
``data.is_standin`` set and a ``data.banner`` saying its numbers are not Imagenette numbers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import check_choice, check_float, check_int, check_seed
from ..files import DiskSpaceError
from . import fashion, imagenette, standin
from .augment import CROP_RATIO, CROP_SCALE, EVAL_CROP, MEAN, STD, augmented, crop_resize, gather, raw
from .cache import UnreadableImageWarning, check_data_root, data_dir
from .fashion import FASHION_CLASSES, FASHION_COUNTS, FashionMNISTUnavailable, prepare_fashion_mnist
from .imagenette import (
    IMAGENETTE_CLASSES,
    IMAGENETTE_COUNTS,
    IMAGENETTE_WNIDS,
    SIZES,
    SPLITS,
    ImagenetteChecksumError,
    ImagenetteUnavailable,
    download_file,
    prepare_imagenette,
    verify_imagenette_tree,
)
from .standin import STANDIN_CLASSES, STANDIN_PER_CLASS, standin_images

__all__ = [
    "CROP_RATIO",
    "CROP_SCALE",
    "EVAL_CROP",
    "FASHION_CLASSES",
    "FASHION_COUNTS",
    "IMAGENETTE_CLASSES",
    "IMAGENETTE_COUNTS",
    "IMAGENETTE_WNIDS",
    "MEAN",
    "SIZES",
    "SPLITS",
    "STANDIN_CLASSES",
    "STANDIN_PER_CLASS",
    "STD",
    "SOURCES",
    "Data",
    "DiskSpaceError",
    "FashionMNISTUnavailable",
    "ImagenetteChecksumError",
    "ImagenetteUnavailable",
    "Split",
    "UnreadableImageWarning",
    "balanced_subset",
    "batches",
    "crop_resize",
    "check_data_root",
    "data_dir",
    "download_file",
    "load",
    "num_batches",
    "prepare_fashion_mnist",
    "prepare_imagenette",
    "raw_batches",
    "standin_images",
    "verify_imagenette_tree",
    "not_imagenette",
]

SOURCES = ("imagenette", "fashion-mnist", "standin", "auto")  # what NETS_DATA and load(source=) accept


def not_imagenette(source: str | None) -> str:
    """The tag a result on data other than Imagenette carries: ``"FASHION-MNIST (not Imagenette)"``.

    Fashion-MNIST is real photographs, so it is never called stand-in data; ``None`` (a run that did not
    record its source) reads as the stand-in.
    """
    name = {fashion.SOURCE: "FASHION-MNIST", "standin": "STAND-IN DATA"}.get(source or "standin")
    return f"{name or str(source).upper()} (not Imagenette)"


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
    source: str  # "imagenette2-160", "imagenette2-320", "imagenette2", "fashion-mnist" or "standin"
    is_standin: bool  # True for anything but Imagenette (Fashion-MNIST too): its numbers are not Imagenette's
    resolution: int  # R, the side of the cached square images
    note: str = ""  # why this source replaced Imagenette (a few words, shown in the banner)
    why: str = ""  # the full reasons, with how to get the missing data set (not shown in the banner)

    @property
    def is_imagenette(self) -> bool:
        """True for Imagenette; False for Fashion-MNIST and the drawn stand-in (``is_standin``)."""
        return not self.is_standin

    @property
    def banner(self) -> str:
        """One line to print above results; for anything but Imagenette it says they are not Imagenette numbers."""
        if not self.is_standin:
            return ""
        if self.source == fashion.SOURCE:
            line = (
                f"FASHION-MNIST DATA: real photos of clothing (Zalando; 28x28 grey, upsampled to {self.resolution} "
                "px), NOT Imagenette - accuracies measured on it are not Imagenette numbers."
            )
        else:
            line = (
                "STAND-IN DATA: 10 classes of procedurally generated shapes, NOT Imagenette - "
                "accuracies measured on it are not Imagenette numbers."
            )
        return f"{line} ({self.note})" if self.note else line


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
    """Imagenette (or a substitute) as uint8 tensors, decoded once and memory-mapped afterwards.

    ``source``: "imagenette" (Imagenette or an error, never a substitute), "fashion-mnist" (Fashion-MNIST
    or an error: from ``root``, from Debian's ``dataset-fashion-mnist`` files, or downloaded), "standin"
    (drawn shapes), or "auto": Imagenette if it is on disk or can be downloaded, else - with
    ``fallback=True`` - Fashion-MNIST, else the stand-in; a substitute prints its banner (``note`` says
    why in a few words, ``why`` in full). ``None`` reads ``$NETS_DATA``, default "auto". Fashion-MNIST
    is 3 equal channels (the grey one, stored once) upsampled to ``resolution``; its val split is the
    dataset's 10,000 test images.
    ``size``: which Imagenette archive ("160px", "320px", "full"). ``root``: the cache folder (default
    :func:`data_dir`). ``resolution``: side R of the cached square images (the shorter side resized to R,
    then the centre square). ``subset``: keep at most this many images per class in each split
    (:func:`balanced_subset`, chosen by ``seed``) for quick CPU previews. ``verify_md5=False`` (or
    ``NETS_IMAGENETTE_MD5=skip``) accepts an archive whose md5 changed upstream.
    """
    source = _resolve_source(source)
    check_choice("size", size, SIZES)
    resolution = check_int("resolution", resolution, minimum=16)
    if subset is not None:
        subset = check_int("subset", subset, minimum=1)
    seed = check_seed("seed", seed)
    root = check_data_root(root)

    if source == "standin":
        data = _standin(root, resolution, seed)
    elif source == fashion.SOURCE:
        data = _fashion(root, resolution, download=download, progress=progress)
    else:
        try:
            prepare_imagenette(root, size, download=download, verify_md5=verify_md5, progress=progress)
        except ImagenetteUnavailable as err:
            if source == "imagenette" or not fallback:
                raise
            data = _substitute(root, resolution, seed, download=download, progress=progress, reason=err)
        else:
            train, val = (
                _split(*imagenette.read_split(root, size, split, resolution=resolution, progress=progress))
                for split in SPLITS
            )
            name = imagenette.tree_name(size)
            data = Data(train, val, list(IMAGENETTE_CLASSES), name, False, resolution)
    return data if subset is None else balanced_subset(data, subset, seed=seed)


def balanced_subset(data: Data | Split, per_class: int, *, seed: int = 0) -> Data | Split:
    """At most ``per_class`` images of every class, drawn at random from ``seed``, in dataset order.

    On :class:`Data` both splits are cut, each from its own random stream; a lone :class:`Split` is cut
    like a training split. A split with no class above ``per_class`` comes back as it is; otherwise the
    chosen rows are copied out of the memory map (only those rows are read).
    """
    per_class = check_int("per_class", per_class, minimum=1)
    seed = check_seed("seed", seed)
    if isinstance(data, Split):
        return _cut(data, per_class, seed, "train")
    if not (dataclasses.is_dataclass(data) and hasattr(data, "train") and hasattr(data, "val")):
        raise TypeError(f"balanced_subset expects a nets.data.Data or Split, got {type(data).__name__}")
    train, val = (_cut(getattr(data, split), per_class, seed, split) for split in SPLITS)
    return dataclasses.replace(data, train=train, val=val)


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
    crop_scale: tuple[float, float] = CROP_SCALE,
    eval_crop: float = EVAL_CROP,
    shift: float = 0.0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)``: x float32 (b, 3, image_size, image_size) normalised, y int64, both on ``device``.

    Only the batch's images are read from the memmap; they move to ``device`` as uint8 and are augmented
    there. ``train=True``: the order is a permutation drawn from (seed, epoch), random-resized-crop
    (scale ``crop_scale``, default 0.35-1; ratio 3/4-4/3), a shift of up to ``shift`` of the side
    (default none) and a horizontal flip are drawn from (seed, epoch, step) for the whole
    *global* batch and then sliced, so ``world_size`` ranks together see exactly the batch a single
    process sees; incomplete last batches are dropped. ``train=False``: dataset order, the central
    ``eval_crop`` (default 87.5 %) resized to ``image_size``, nothing dropped (a rank whose slice of the last batch is empty gets an
    empty batch, so every rank takes the same number of steps). Global batch k is
    ``order[k*batch_size:(k+1)*batch_size]``; rank r takes its contiguous ``batch_size // world_size``.
    If ``split`` already lives on ``device`` (e.g. ``Split(images.cuda(), labels.cuda())``), rows are
    gathered there and nothing crosses the bus.
    """
    image_size = check_int("image_size", image_size, minimum=8)
    low, high = (check_float("crop_scale", v, low=0.0, high=1.0, low_open=True) for v in crop_scale)
    if low > high:
        raise ValueError(f"crop_scale must be (low, high) with low <= high, got {crop_scale!r}")
    eval_crop = check_float("eval_crop", eval_crop, low=0.0, high=1.0, low_open=True)
    shift = check_float("shift", shift, low=0.0, high=0.5)
    common = {"train": train, "seed": seed, "epoch": epoch, "rank": rank, "world_size": world_size}
    rows = raw_batches(split, batch_size, device=device, **common)
    device = torch.device(device)
    return augmented(
        rows, batch_size, image_size=image_size, device=device, channels_last=channels_last,
        crop_scale=(low, high), eval_crop=eval_crop, shift=shift, **common,
    )  # fmt: skip


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
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_seed("seed", seed)
    epoch = check_int("epoch", epoch, minimum=0)
    world_size = check_int("world_size", world_size, minimum=1)
    rank = check_int("rank", rank, minimum=0)
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
    return raw(
        split.images,
        split.labels,
        batch_size,
        train=train,
        device=torch.device(device),
        seed=seed,
        epoch=epoch,
        rank=rank,
        world_size=world_size,
    )


def num_batches(split: Split, batch_size: int, *, train: bool) -> int:
    """How many batches ``batches`` yields: ``len // batch_size`` for training (drop_last), else rounded up."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n = len(split)
    return n // batch_size if train else -(-n // batch_size)


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _split(images: np.ndarray, labels: np.ndarray) -> Split:
    """A cached array and its labels as a :class:`Split` (sharing the memory map)."""
    if len(labels) != images.shape[0]:
        raise RuntimeError(f"tensor cache holds {images.shape[0]} images but {len(labels)} labels; delete it")
    return Split(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def _standin(root: Path, resolution: int, seed: int, note: str = "", why: str = "") -> Data:
    """The stand-in through the same tensor cache, its banner printed."""
    train, val = (
        _split(*standin.read_split(root, split, resolution=resolution, seed=seed)) for split in SPLITS
    )
    data = Data(train, val, list(STANDIN_CLASSES), "standin", True, resolution, note, why)
    print(data.banner)
    return data


def _fashion(
    root: Path, resolution: int, *, download: bool, progress: bool, note: str = "", why: str = ""
) -> Data:
    """Fashion-MNIST through the same tensor cache (grey stored once, served as 3 channels), banner printed."""
    prepare_fashion_mnist(root, download=download)
    splits = []
    for split in SPLITS:
        images, labels = fashion.read_split(root, split, resolution=resolution, progress=progress)
        grey = _split(images, labels)
        splits.append(dataclasses.replace(grey, images=grey.images.expand(-1, 3, -1, -1)))
    data = Data(*splits, list(fashion.FASHION_CLASSES), fashion.SOURCE, True, resolution, note, why)
    print(data.banner)
    return data


def _substitute(
    root: Path, resolution: int, seed: int, *, download: bool, progress: bool, reason: Exception
) -> Data:
    """Imagenette is out of reach: Fashion-MNIST, else the stand-in; the banner says why in a few words."""
    note = _short_reason(reason)
    try:
        return _fashion(root, resolution, download=download, progress=progress, note=note, why=str(reason))
    except FashionMNISTUnavailable as err:
        return _standin(root, resolution, seed, note=f"{note}; {err.short}", why=f"{reason}\n\n{err}")


def _cut(split: Split, per_class: int, seed: int, name: str) -> Split:
    """:func:`balanced_subset` of one split; ``name`` ("train" or "val") picks the random stream."""
    labels = split.labels.cpu().numpy()
    rng = np.random.default_rng([seed, SPLITS.index(name), 0x5B5E7])
    keep = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        keep.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    index = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
    if len(index) == len(labels):
        return split
    index = torch.from_numpy(index)
    return dataclasses.replace(
        split,
        images=gather(split.images, index, split.images.device),
        labels=gather(split.labels, index, split.labels.device),
    )


def _resolve_source(source: str | None) -> str:
    from_env = source is None
    if from_env:
        source = os.environ.get("NETS_DATA", "").strip().lower() or "auto"
    if not isinstance(source, str) or source.lower() not in SOURCES:
        where = "NETS_DATA" if from_env else "source"
        raise ValueError(f"{where} must be one of {list(SOURCES)}, got {source!r}")
    return source.lower()


def _short_reason(err: Exception) -> str:
    if isinstance(err, ImagenetteChecksumError):
        return "Imagenette archive failed its md5 check"
    return "Imagenette is not available offline"
