"""A small fake Fashion-MNIST: real IDX files, gzipped, named as upstream, Debian and torchvision name them.

    folder/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz

Each 28x28 image is a blob of grey ``20 + 22 * label`` on black with a little texture, so a test can tell
from an image's brightness which label it should carry; labels are shuffled, as in the real files.
``nets.data.fashion.prepare_fashion_mnist(root, expected_counts=fake_counts(per_class))`` accepts them.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def fake_counts(per_class: tuple[int, int]) -> dict[str, int]:
    """Images per split of a fake made with ``per_class=(train_n, val_n)``."""
    return {"train": 10 * per_class[0], "val": 10 * per_class[1]}


def brightness(label: int) -> int:
    """The grey level of the blob in an image of class ``label``."""
    return 20 + 22 * label


def idx_images(images: np.ndarray) -> bytes:
    """uint8 (n, rows, cols) -> the bytes of an IDX image file (magic 2051)."""
    n, rows, cols = images.shape
    return struct.pack(">4I", 2051, n, rows, cols) + np.ascontiguousarray(images, dtype=np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    """uint8 (n,) -> the bytes of an IDX label file (magic 2049)."""
    return struct.pack(">2I", 2049, len(labels)) + np.asarray(labels, dtype=np.uint8).tobytes()


def fake_split(n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``10 * n_per_class`` images (uint8 (N, 28, 28)) and their shuffled labels."""
    labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), n_per_class))
    y, x = np.mgrid[0:28, 0:28]
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        cy, cx = rng.uniform(11, 17, 2)
        blob = (y - cy) ** 2 / 64 + (x - cx) ** 2 / 36 < 1
        texture = rng.integers(-8, 9, (28, 28))
        images[i] = np.where(blob, np.clip(brightness(int(label)) + texture, 0, 255), 0)
    return images, labels


def make_fake_fashion(
    folder: str | os.PathLike, per_class: tuple[int, int] = (30, 10), seed: int = 0
) -> Path:
    """Write the four .gz files into ``folder`` and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_class, strict=True):
        images, labels = fake_split(n, rng)
        image_name, label_name = FILES[split]
        (folder / f"{image_name}.gz").write_bytes(gzip.compress(idx_images(images), mtime=0))
        (folder / f"{label_name}.gz").write_bytes(gzip.compress(idx_labels(labels), mtime=0))
    return folder


def read_fake(folder: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels a fake's .gz files hold (what a loader should have read)."""
    image_name, label_name = FILES[split]
    images = np.frombuffer(gzip.decompress((Path(folder) / f"{image_name}.gz").read_bytes())[16:], np.uint8)
    labels = np.frombuffer(gzip.decompress((Path(folder) / f"{label_name}.gz").read_bytes())[8:], np.uint8)
    return images.reshape(-1, 28, 28).copy(), labels.astype(np.int64)
