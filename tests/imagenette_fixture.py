"""A small fake Imagenette on disk, in torchvision's exact layout, for tests and the data benchmark.

    root/imagenette2-160/{train,val}/<wnid>/<name>.JPEG   (+ noisy_imagenette.csv)

Images are real JPEGs with smooth random content (so they compress like photos, ~5-10 kB at 160 px);
``corrupt`` of the training files are truncated halfway, like an interrupted copy. With ``marker=True`` the
tree is checked and marked complete by ``nets.data.imagenette.verify_imagenette_tree`` with its own counts, so
``nets.data.load("imagenette", root=root, download=False)`` reads it like the real thing.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from nets.data import imagenette as ni

_SHORT_SIDE = {"160px": 160, "320px": 320}


def fake_counts(per_class: tuple[int, int]) -> dict[str, dict[str, int]]:
    """The per-class counts a tree made with ``per_class=(train_n, val_n)`` has (corrupt files included)."""
    train_n, val_n = per_class
    return {
        "train": {wnid: train_n for wnid in ni.IMAGENETTE_WNIDS},
        "val": {wnid: val_n for wnid in ni.IMAGENETTE_WNIDS},
    }


def _photo_like(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """Smooth colour blobs plus a little grain: compresses like a photo, unlike white noise."""
    coarse = rng.uniform(0, 255, (max(2, height // 24), max(2, width // 24), 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.int16)
    image = image + rng.integers(-6, 7, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def make_fake_imagenette(
    root: str | os.PathLike,
    size: str = "160px",
    per_class: tuple[int, int] = (4, 2),
    corrupt: int = 1,
    seed: int = 0,
    *,
    marker: bool = True,
) -> Path:
    """Write a fake Imagenette under ``root`` and return ``root`` (what ``load(root=...)`` takes).

    ``per_class=(train_n, val_n)`` images in each of the 10 class folders; the first ``corrupt`` training
    files (one per class, in class order) are truncated JPEGs. Deterministic by ``seed``.
    """
    if size not in ni.SIZES:
        raise ValueError(f"size must be one of {list(ni.SIZES)}, got {size!r}")
    train_n, val_n = per_class
    if corrupt > 10 * train_n:
        raise ValueError(f"corrupt={corrupt} exceeds the {10 * train_n} training images")
    root = Path(root)
    rng = np.random.default_rng(seed)
    tree = root / ni.tree_name(size)
    csv_rows = ["path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid"]
    corrupted = 0
    for split, n in (("train", train_n), ("val", val_n)):
        for c, wnid in enumerate(ni.IMAGENETTE_WNIDS):
            folder = tree / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                short = _SHORT_SIDE.get(size) or int(rng.integers(300, 500))
                long = int(short * rng.uniform(1.2, 1.5))
                h, w = (short, long) if rng.random() < 0.7 else (long, short)  # mostly landscape, like photos
                name = (
                    f"{wnid}_{1000 + i}.JPEG"
                    if split == "train"
                    else f"ILSVRC2012_val_{c * 1000 + i:08d}.JPEG"
                )
                buffer = io.BytesIO()
                _photo_like(rng, h, w).save(buffer, format="JPEG", quality=85)
                payload = buffer.getvalue()
                if split == "train" and i == 0 and corrupted < corrupt:
                    payload = payload[: len(payload) // 2]  # truncated: opens, fails to decode
                    corrupted += 1
                (folder / name).write_bytes(payload)
                csv_rows.append(f"{split}/{wnid}/{name},{wnid},{wnid},{wnid},{wnid},{wnid},{split == 'val'}")
    (tree / "noisy_imagenette.csv").write_text("\n".join(csv_rows) + "\n")
    if marker:
        ni.verify_imagenette_tree(root, size, expected_counts=fake_counts(per_class))
    return root


def make_fake_archive(root: str | os.PathLike, dest_dir: str | os.PathLike, size: str = "160px") -> Path:
    """Pack ``root/imagenette2-*`` (without our marker) into ``dest_dir/imagenette2-*.tgz``, like upstream's."""
    stem = ni.tree_name(size)
    dest = Path(dest_dir) / f"{stem}.tgz"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(
            Path(root) / stem,
            arcname=stem,
            filter=lambda info: None if info.name.endswith(ni._MARKER) else info,
        )
    return dest
