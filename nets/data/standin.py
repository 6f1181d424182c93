"""The offline stand-in: 10 procedurally generated classes of shapes, for when Imagenette is out of reach.

Each image is one shape (disc, ring, square, ... checkerboard patch) with random colour, position, scale,
rotation, background, clutter and noise, so the class is in the shape and not in any single colour or
place. :func:`standin_images` draws them deterministically from a seed; :func:`read_split` keeps a split
in the tensor cache (:mod:`nets.data.cache`), generated in seconds the first time. ``nets.data.load``
serves it through the same interface as Imagenette, with a banner saying its numbers are not Imagenette
numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..checks import check_choice, check_int
from .cache import CACHE_VERSION, cached
from .imagenette import SPLITS

__all__ = ["STANDIN_CLASSES", "STANDIN_PER_CLASS", "read_split", "standin_images"]

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
    per_class = check_int("per_class", per_class, minimum=1)
    resolution = check_int("resolution", resolution, minimum=16)
    check_choice("split", split, SPLITS)
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


def read_split(root: Path, split: str, *, resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in split as uint8 (N, 3, R, R) memory-mapped from the tensor cache, and its int64 labels."""
    per_class = STANDIN_PER_CLASS[split]
    key = {
        "version": CACHE_VERSION,
        "source": "standin",
        "generator": _STANDIN_VERSION,
        "seed": seed,
        "split": split,
        "resolution": resolution,
        "classes": STANDIN_CLASSES,
    }
    counts = [per_class] * len(STANDIN_CLASSES)

    def fill(array: np.ndarray) -> tuple[np.ndarray, dict]:
        standin_images(per_class, resolution, seed=seed, split=split, out=array)
        return np.ones(array.shape[0], dtype=bool), {"counts": counts, "num_skipped": 0, "skipped": []}

    name = f"standin-g{_STANDIN_VERSION}-seed{seed}-{split}-r{resolution}"
    shape = (per_class * len(STANDIN_CLASSES), 3, resolution, resolution)
    array, manifest = cached(root, name, key, shape, fill)
    return array, np.repeat(np.arange(len(STANDIN_CLASSES)), manifest["counts"])
