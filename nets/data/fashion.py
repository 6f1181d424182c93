"""Fashion-MNIST: real photographs that work offline, used when Imagenette is out of reach.

Zalando's article images (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test images, 28x28
grey, 10 balanced classes. :func:`prepare_fashion_mnist` makes sure torchvision's raw layout

    root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte

is complete and sound, taking each file from the first place that has it: already there; its ``.gz``
next to it (torchvision's own download, or put there by hand); the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``, read, never written); the
network (torchvision's mirror and md5s, through ``nets.data.imagenette.download_file``). Every file is
decompressed to a temporary name, checked (IDX magic number, 28x28, image count, size, label range) and
renamed into place, so a truncated ``.gz`` or a wrong file gives :class:`FashionMNISTUnavailable` naming
the file and what to do, and never a half-written raw file.

:func:`read_split` reads a split through ``torchvision.datasets.FashionMNIST(root, download=False)`` and
resizes it once, vectorised (``torch.nn.functional.interpolate`` on chunks of images), into the tensor
cache (:mod:`nets.data.cache`). The grey channel is stored once, (N, 1, R, R); ``nets.data`` serves it
as three equal channels (a view that repeats it), so the cache is a third of an RGB one.
"""

from __future__ import annotations

import errno
import gzip
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..files import DiskSpaceError, check_free_space, md5, remove_stale
from . import imagenette
from .cache import (
    CACHE_VERSION,
    cached,
    data_dir,
    source_hash,
)
from .imagenette import SPLITS

__all__ = [
    "DEBIAN_DIR",
    "FASHION_CLASSES",
    "FASHION_COUNTS",
    "SOURCE",
    "FashionMNISTUnavailable",
    "prepare_fashion_mnist",
    "raw_folder",
    "read_split",
    "upsample",
]

SOURCE = "fashion-mnist"  # Data.source and the NETS_DATA value
# label order 0-9, as in the dataset's README and torchvision.datasets.FashionMNIST.classes
FASHION_CLASSES: list[str] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
# images per split (6,000 / 1,000 of every class); "val" is the dataset's test set
FASHION_COUNTS: dict[str, int] = {"train": 60000, "val": 10000}
# where Debian's dataset-fashion-mnist puts the four .gz files (tests point this elsewhere)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"

_SIDE = 28
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049  # IDX: uint8 data, 3 dimensions / 1 dimension
# split -> (images file, labels file): torchvision's raw names (the .gz names without ".gz")
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# torchvision 0.29's FashionMNIST.mirrors[0] and .resources (a test checks they still agree)
_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_DOWNLOAD_MIB = 30


class FashionMNISTUnavailable(RuntimeError):
    """Fashion-MNIST is not on disk (or is damaged) and could not be fetched; the message says what to do.

    ``short`` is a few words for a banner ("Fashion-MNIST file t10k-images-idx3-ubyte.gz is damaged").
    """

    def __init__(self, message: str, short: str = "Fashion-MNIST is not available offline") -> None:
        super().__init__(message)
        self.short = short


def raw_folder(root: str | os.PathLike) -> Path:
    """``root/FashionMNIST/raw``: where torchvision's FashionMNIST looks for the decompressed files."""
    return Path(root) / "FashionMNIST" / "raw"


# ---------------------------------------------------------------------------------------------------
# The four raw files
# ---------------------------------------------------------------------------------------------------


def prepare_fashion_mnist(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    debian_dir: str | os.PathLike | None = None,
    expected_counts: Mapping[str, int] | None = None,
) -> Path:
    """Make sure ``root/FashionMNIST/raw/`` holds the four decompressed, sound files; return ``root``.

    Each missing (or unsound) file comes from its ``.gz`` in that folder, else from ``debian_dir``
    (default :data:`DEBIAN_DIR`, Debian's ``dataset-fashion-mnist``), else - with ``download=True`` -
    from torchvision's mirror (md5-checked). ``expected_counts`` (default :data:`FASHION_COUNTS`) is the
    number of images per split. Raises :class:`FashionMNISTUnavailable` naming the file and what to do.
    """
    root = Path(root).expanduser() if root is not None else data_dir()
    debian = Path(debian_dir) if debian_dir is not None else DEBIAN_DIR
    expected = dict(FASHION_COUNTS if expected_counts is None else expected_counts)
    if set(expected) != set(SPLITS):
        raise ValueError(f"expected_counts needs exactly the keys {list(SPLITS)}, got {sorted(expected)}")
    raw = raw_folder(root)
    if raw.is_dir():
        remove_stale([*raw.glob(".*.tmp"), *raw.glob("*.part")])  # left by killed runs
    for split in SPLITS:
        for kind, name in zip(("images", "labels"), _FILES[split], strict=True):
            target = raw / name
            if _idx_problem(target, kind, expected[split]) is None:
                continue
            gz = _find_gz(name + ".gz", raw, debian, download, root)
            _decompress(gz, target, kind, expected[split], _what_to_do(gz, debian))
    return root


def _find_gz(name: str, raw: Path, debian: Path, download: bool, root: Path) -> Path:
    for folder in (raw, debian):
        if (folder / name).is_file():
            return folder / name
    if not download:
        raise FashionMNISTUnavailable(_how_to_get(root, debian, f"{name} is not on disk and download=False"))
    raw.mkdir(parents=True, exist_ok=True)
    part = raw / f"{name}.{os.getpid()}.part"
    part.unlink(missing_ok=True)
    try:
        imagenette.download_file(_MIRROR + name, part)  # the one function that touches the network
    except Exception as err:  # URLError, OSError, HTTPError, ConnectionError...
        part.unlink(missing_ok=True)
        raise FashionMNISTUnavailable(
            _how_to_get(root, debian, f"downloading {name} failed: {type(err).__name__}: {err}"),
            short="Fashion-MNIST is not on disk and could not be downloaded",
        ) from err
    if not part.is_file():
        raise FashionMNISTUnavailable(_how_to_get(root, debian, f"the download of {name} produced no file"))
    digest = md5(part)
    if digest != _MD5[name]:
        part.unlink()
        raise FashionMNISTUnavailable(
            f"the downloaded {name} has md5 {digest}, expected {_MD5[name]} (torchvision's); it was deleted. "
            f"The mirror may have changed or the download was damaged: run again, or install the Debian "
            f"package {DEBIAN_PACKAGE}, or put the four .gz files in {raw} yourself.",
            short=f"the downloaded Fashion-MNIST file {name} failed its md5 check",
        )
    os.replace(part, raw / name)
    return raw / name


def _decompress(gz: Path, target: Path, kind: str, expected_n: int, what_to_do: str) -> None:
    """gunzip ``gz`` to a temp name next to ``target``, check it, rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    needed = 16 + expected_n * (_SIDE * _SIDE if kind == "images" else 1)
    check_free_space(target.parent, needed, f"the Fashion-MNIST file {target.name}")
    try:
        with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
            _copy_at_most(src, dst, needed + _MARGIN, gz, kind)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC:
            raise DiskSpaceError(
                f"disk full while writing {tmp} (decompressing {gz}); free some space there or set "
                "NETS_DATA_DIR (or load(root=...)) to a folder on a disk with room"
            ) from err
        raise _damaged(gz, f"{type(err).__name__}: {err}", what_to_do) from err
    except (EOFError, zlib.error) as err:  # a truncated .gz ends early
        tmp.unlink(missing_ok=True)
        raise _damaged(gz, f"{type(err).__name__}: {err}", what_to_do) from err
    except FashionMNISTUnavailable:  # decompressed past the size a Fashion-MNIST file has
        tmp.unlink(missing_ok=True)
        raise
    problem = _idx_problem(tmp, kind, expected_n)
    if problem is not None:
        tmp.unlink(missing_ok=True)
        raise FashionMNISTUnavailable(
            f"{gz} does not hold the Fashion-MNIST {kind} it should: {problem}. {what_to_do}",
            short=f"Fashion-MNIST file {gz.name} is wrong ({problem})",
        )
    os.replace(tmp, target)


_MARGIN = 1 << 16  # bytes beyond a file's expected size before decompression stops


def _copy_at_most(src, dst, limit: int, gz: Path, kind: str) -> None:
    """Copy ``src`` to ``dst``, refusing (before the disk fills) a stream longer than ``limit`` bytes."""
    total = 0
    while chunk := src.read(1 << 20):
        total += len(chunk)
        if total > limit:
            raise FashionMNISTUnavailable(
                f"{gz} decompresses to more than {limit:,} bytes, more than a Fashion-MNIST {kind} file holds: "
                "refused as not Fashion-MNIST (decompression stopped there). Replace it with the real file",
                short=f"Fashion-MNIST file {gz.name} is too large when decompressed",
            )
        dst.write(chunk)


def _damaged(gz: Path, why: str, what_to_do: str) -> FashionMNISTUnavailable:
    return FashionMNISTUnavailable(
        f"{gz} is truncated or damaged ({why}). {what_to_do}",
        short=f"Fashion-MNIST file {gz.name} is truncated or damaged",
    )


def _idx_problem(path: Path, kind: str, expected_n: int) -> str | None:
    """Why ``path`` is not a sound Fashion-MNIST IDX file of ``kind`` with ``expected_n`` items, or None."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    header_size, magic_expected = (16, _IMAGE_MAGIC) if kind == "images" else (8, _LABEL_MAGIC)
    with open(path, "rb") as f:
        header = f.read(header_size)
    if len(header) < header_size:
        return f"{size} bytes, shorter than the {header_size}-byte header"
    magic, n, *dims = struct.unpack(f">{header_size // 4}I", header)
    if magic != magic_expected:
        return f"the header's magic number is {magic}, expected {magic_expected} (an IDX {kind} file)"
    if dims and tuple(dims) != (_SIDE, _SIDE):
        return f"the header says {dims[0]}x{dims[1]} images, expected {_SIDE}x{_SIDE}"
    if n != expected_n:
        return f"the header says {n:,} {kind}, expected {expected_n:,}"
    want = header_size + n * (_SIDE * _SIDE if kind == "images" else 1)
    if size != want:
        return f"{size:,} bytes, expected {want:,} for {n:,} {kind} (truncated or padded)"
    if kind == "labels":
        top = int(np.fromfile(path, dtype=np.uint8, offset=8).max(initial=0))
        if top >= len(FASHION_CLASSES):
            return f"a label is {top}, but there are only {len(FASHION_CLASSES)} classes"
    return None


def _what_to_do(gz: Path, debian: Path) -> str:
    if gz.parent == debian:
        return (
            f"It comes from the Debian package {DEBIAN_PACKAGE}: reinstall it "
            f"(sudo apt-get install --reinstall {DEBIAN_PACKAGE}), or set NETS_DATA=standin."
        )
    return (
        f"Delete it and run again: it is then taken from {debian} (Debian's {DEBIAN_PACKAGE}) if that "
        "is installed, or downloaded again."
    )


def _how_to_get(root: Path, debian: Path, why: str) -> str:
    return (
        f"Fashion-MNIST is not available in {raw_folder(root)}: {why}. To get it: install the Debian package "
        f"{DEBIAN_PACKAGE} (sudo apt-get install {DEBIAN_PACKAGE}: the four files land in {debian}, about "
        f"{_DOWNLOAD_MIB} MB); or run once with network access (it downloads them from {_MIRROR}); or put "
        f"{', '.join(_MD5)} in {raw_folder(root)} yourself. Without it, NETS_DATA=standin trains on drawn shapes."
    )


# ---------------------------------------------------------------------------------------------------
# A split -> the tensor cache
# ---------------------------------------------------------------------------------------------------


def upsample(images: torch.Tensor, resolution: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 (n, 28, 28) -> uint8 (n, 1, R, R): bilinear (antialiased when R < 28), rounded.

    The same numbers as ``F.interpolate(mode="bilinear")`` (to rounding ties), computed as two batched
    matrix products with the 1-D weights, ``A @ x @ A.T``: about 3x faster on a CPU. The weights of every
    output pixel sum to 1, so adding 0.5 to the input and truncating rounds the output. ``out`` (uint8
    (n, 1, R, R), e.g. rows of the cache's memory map) receives the result without an extra copy.
    """
    weights = _weights(resolution)
    x = images.float().add_(0.5)
    y = torch.matmul(torch.matmul(weights, x), weights.T).unsqueeze(1)
    if out is None:
        return y.to(torch.uint8)
    return out.copy_(y)  # the float -> uint8 cast truncates, like .to


def _weights(resolution: int) -> torch.Tensor:
    """(R, 28): row j holds the input columns' weights in output column j (torch's bilinear, 1-D)."""
    eye = torch.eye(_SIDE).view(_SIDE, 1, 1, _SIDE)  # image c: a single bright pixel in column c
    out = F.interpolate(
        eye, size=(1, resolution), mode="bilinear", align_corners=False, antialias=resolution < _SIDE
    )
    return out.view(_SIDE, resolution).T.contiguous()


def read_split(root: Path, split: str, *, resolution: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """A prepared split as uint8 (N, 1, R, R) memory-mapped from the tensor cache, and its int64 labels.

    The first call reads the split through ``torchvision.datasets.FashionMNIST`` and resizes it
    (:func:`upsample`, in chunks of about 16 M output pixels); later calls only memory-map, until a
    raw file changes. Labels come from the raw label file (the images are not sorted by class).
    """
    raw = raw_folder(root)
    files = [str(raw / name) for name in _FILES[split]]
    labels = np.fromfile(files[1], dtype=np.uint8, offset=8).astype(np.int64)
    key = {
        "version": CACHE_VERSION,
        "source": SOURCE,
        "split": split,
        "resolution": resolution,
        "classes": FASHION_CLASSES,
        "source_hash": source_hash([(f, 0) for f in files], raw),
    }

    def fill(array: np.ndarray) -> tuple[np.ndarray, dict]:
        from torchvision.datasets import FashionMNIST
        from tqdm.auto import tqdm

        ds = FashionMNIST(str(root), train=split == "train", download=False)
        if not np.array_equal(ds.targets.numpy(), labels):
            raise FashionMNISTUnavailable(f"{files[1]} changed while it was read; run again")
        chunk = max(1, (1 << 24) // (resolution * resolution))
        n = len(labels)
        desc = f"resizing Fashion-MNIST {split} to {resolution} px (once)"
        with tqdm(total=n, desc=desc, unit=" img", disable=not progress) as bar:
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                upsample(ds.data[start:stop], resolution, out=torch.from_numpy(array[start:stop]))
                bar.update(stop - start)
        counts = np.bincount(labels, minlength=len(FASHION_CLASSES)).tolist()
        return np.ones(n, dtype=bool), {"counts": counts, "num_skipped": 0, "skipped": []}

    shape = (len(labels), 1, resolution, resolution)
    array, _ = cached(root, f"{SOURCE}-{split}-r{resolution}", key, shape, fill)
    return array, labels
