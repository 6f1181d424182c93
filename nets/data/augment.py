"""Batches on the training device: read the uint8 rows, move them, crop, flip and normalise there.

The order (a seeded permutation per epoch) and every random-resized-crop box and flip are drawn on the
CPU from ``(seed, epoch, step)`` for the whole *global* batch, then sliced per rank, so ``world_size``
ranks together see exactly the batch one process sees. Only the batch's rows are read from the memory
map (:func:`gather`); they cross to the device as uint8 and :func:`crop_resize` resamples every crop
box with one ``grid_sample`` (the airbench recipe: no PIL, no ``DataLoader`` workers). ``nets.data``'s
``batches`` and ``raw_batches`` check their arguments and call :func:`raw` and :func:`augmented`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CROP_RATIO", "CROP_SCALE", "EVAL_CROP", "MEAN", "STD", "crop_resize"]

# ImageNet normalisation (the statistics every torchvision/timm ImageNet model was trained with).
MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Augmentation and evaluation geometry (torchvision's defaults, except a larger minimum crop scale:
# at 128 px a 8 % crop leaves too little of an Imagenette object to learn from in a few epochs).
CROP_SCALE = (0.35, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
EVAL_CROP = 0.875  # evaluation shows the central 87.5 %, like "resize 256, center crop 224"


def raw(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    train: bool,
    device: torch.device,
    seed: int,
    epoch: int,
    rank: int,
    world_size: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's uint8 rows and labels of every global batch, on ``device`` (arguments already checked).

    Global batch k is ``order[k*batch_size:(k+1)*batch_size]`` (``order`` a permutation drawn from
    (seed, epoch) when training, incomplete last batch dropped; dataset order otherwise, nothing
    dropped); rank r takes its contiguous ``batch_size // world_size`` of it.
    """
    n = len(labels)
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
        yield gather(images, index, device), gather(labels, index, device)


def augmented(
    rows: Iterator[tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    *,
    train: bool,
    image_size: int,
    device: torch.device,
    seed: int,
    epoch: int,
    rank: int,
    world_size: int,
    channels_last: bool,
    crop_scale: tuple[float, float] = CROP_SCALE,
    eval_crop: float = EVAL_CROP,
    shift: float = 0.0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`raw`'s batches as normalised float32 ``image_size`` squares: random crop + flip or the centre.

    ``crop_scale``: the range of the training crop's area, as a fraction of the image; ``eval_crop``:
    the side of the evaluation's centre crop, as a fraction of the image's side; ``shift``: each training
    crop is also moved by up to this fraction of the image's side in x and y, what lies outside the image
    mirrored in (pad-and-crop: ``crop_scale=(1, 1), shift=1/8`` is CIFAR's "pad 4, crop 32" at any size).
    """
    local = batch_size // world_size
    lo, hi = rank * local, (rank + 1) * local
    mean, std = _norm_constants(device)
    for step, (x, y) in enumerate(rows):
        x = x.float()
        if train:
            boxes = _draw_crops(batch_size, seed, epoch, step, crop_scale, shift)
            w, h, cx, cy, flip = (t[lo:hi].to(device) for t in boxes)
            x = crop_resize(x, w * torch.where(flip, -1.0, 1.0), h, cx, cy, image_size)
        else:
            b = x.shape[0]
            full = torch.full((b,), eval_crop, device=device)
            zero = torch.zeros(b, device=device)
            x = crop_resize(x, full, full, zero, zero, image_size)
        x = x.sub_(mean).div_(std)  # crop_resize returned a fresh tensor: normalise in place
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, y


def gather(t: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t[index]`` on ``device``: gathered where ``t`` lives (a memmap reads just those rows), then moved."""
    if t.device.type != "cpu":
        return t[index.to(t.device)].to(device)
    # numpy's fancy indexing copies whole rows; torch's uint8 gather is ~10x slower on the CPU
    # (ascontiguousarray: a split served as a view that repeats one grey channel gathers as plain RGB rows)
    rows = torch.from_numpy(np.ascontiguousarray(t.numpy()[index.numpy()]))
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


def _draw_crops(
    batch: int,
    seed: int,
    epoch: int,
    step: int,
    crop_scale: tuple[float, float] = CROP_SCALE,
    shift: float = 0.0,
) -> tuple[torch.Tensor, ...]:
    """Random-resized-crop boxes + flips for a whole global batch, as fractions of the image side.

    Like torchvision's RandomResizedCrop: up to 10 tries of (area scale, log-uniform aspect ratio), the
    first box that fits wins, the whole image if none does. Returns half-widths-as-fractions ``w``,
    ``h`` (the box is w x h of the image), the box centre ``cx, cy`` in [-1, 1] coordinates, and ``flip``.
    ``shift`` > 0 moves each centre by up to that fraction of the side (drawn after everything else, so
    the boxes of ``shift=0`` are unchanged).
    """
    g = _generator(seed, epoch, step)
    tries = 10
    scale = torch.empty(batch, tries).uniform_(*crop_scale, generator=g)
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
    if shift > 0:  # [-1, 1] spans the side twice: a shift of s of the side is 2 s there
        cx = cx + (2 * torch.rand(batch, generator=g) - 1) * 2 * shift
        cy = cy + (2 * torch.rand(batch, generator=g) - 1) * 2 * shift
    return w, h, cx, cy, flip


def crop_resize(
    x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, size: int
) -> torch.Tensor:
    """Per-sample crop boxes resampled to ``size`` x ``size`` with one ``grid_sample`` (bilinear).

    Box i is centred at (cx[i], cy[i]) in [-1, 1] image coordinates and spans w[i] x h[i] of the image's
    width x height (a negative w mirrors it: the horizontal flip); what lies outside the image is its
    mirror image (``reflection`` padding, as the pad-and-crop of CIFAR recipes). The sampling grid is built with
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
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


# ---------------------------------------------------------------------------------------------------
