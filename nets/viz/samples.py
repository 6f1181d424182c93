"""The data a chapter looks at: a real photograph, a grid of training images, the ILSVRC results.

Nothing here touches the network: the sample photograph ships inside scikit-image.
"""

from __future__ import annotations

import textwrap
from importlib import resources
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch.nn import functional as F

from .. import ilsvrc
from ..data import MEAN, STD
from .page import DPI
from .style import SMALL_PT, STANDIN_COLOR, new_figure

_DEEP_COLOR = "tab:blue"
_CLASSIC_COLOR = "tab:gray"


# --------------------------------------------------------------------------------------------------
# A real photograph
# --------------------------------------------------------------------------------------------------


def _bundled_photo() -> np.ndarray:
    """Chelsea the cat (300×451 RGB, CC0), read from scikit-image's own package files.

    Read straight from the installed package rather than via ``skimage.data.chelsea()`` so that no code
    path can reach pooch and the network.
    """
    path = resources.files("skimage") / "data" / "chelsea.png"
    if not path.is_file():
        raise FileNotFoundError(
            f"the sample photo {path} is missing from the installed scikit-image; reinstall it "
            "(pip install --force-reinstall scikit-image) or pass your own image tensor."
        )
    from PIL import Image

    with path.open("rb") as handle, Image.open(handle) as image:
        return np.asarray(image.convert("RGB"))


def sample_photo(size: int = 224) -> torch.Tensor:
    """A real photograph (a cat) as a network input: shape (1, 3, size, size), ImageNet-normalised.

    The shorter side is resized to ``size`` (antialiased bilinear) and the centre cropped to a square,
    the usual evaluation transform; then each channel is normalised with the ImageNet mean and std.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, got {size!r}")
    pixels = torch.from_numpy(_bundled_photo().copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
    height, width = pixels.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    resized = F.interpolate(pixels, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    crop = resized[..., top : top + size, left : left + size].clamp(0, 1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (crop - mean) / std


def _as_image_batch(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor shaped (1, 3, H, W), got {type(image).__name__}")
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(
            f"image must be shaped (3, H, W) or (N, 3, H, W) and ImageNet-normalised (see sample_photo); "
            f"got shape {tuple(image.shape)}"
        )
    if not image.is_floating_point():  # a uint8 photo: the models' own input checks would be skipped
        raise ValueError(
            f"image must be a float tensor normalised with the ImageNet mean and std (see sample_photo), got "
            f"{image.dtype}; convert with x.float() / 255, then normalise with nets.data.MEAN and STD"
        )
    return image[:1].float()


def _displayable(image: torch.Tensor) -> np.ndarray:
    """Undo the ImageNet normalisation of one (1, 3, H, W) image for imshow: (H, W, 3) in [0, 1]."""
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (image[0].cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


# --------------------------------------------------------------------------------------------------
# The ImageNet challenge, 2010-2017
# --------------------------------------------------------------------------------------------------


def _ilsvrc_caption() -> str:
    sources: list[str] = []
    for entry in ilsvrc.ENTRIES:
        if entry.source not in sources:
            sources.append(entry.source)
    pages = [s for s in sources if "image-net.org" in s]
    papers = [s for s in sources if s not in pages]
    years = sorted({e.year for e in ilsvrc.ENTRIES if e.source in papers})
    return (
        f"Top-5 error on each year's test set; winners are ensembles. 2010-2011 used earlier test sets. "
        f"Sources: {years[0]}-{years[-1]} and human estimate: {'; '.join(papers)}. "
        f"{', '.join(str(e.year) for e in ilsvrc.winners() if e.source in pages)}: "
        "image-net.org/challenges/LSVRC/<year>/results."
    )


def ilsvrc_chart() -> Figure:
    """Top-5 error of the ILSVRC classification winners, 2010-2017, against a human estimate.

    Convolutional networks are blue, hand-designed-feature entries grey; VGG (second in 2014) is drawn
    hatched beside the winner. Data and sources: ``nets.ilsvrc``.
    """
    years = sorted({e.year for e in ilsvrc.ENTRIES})
    by_year = {y: [e for e in ilsvrc.winners() + ilsvrc.runners_up() if e.year == y] for y in years}
    with new_figure(8.0, 4.4) as fig:
        ax = fig.add_subplot()
        for slot, year in enumerate(years):
            entries = by_year[year]
            width = 0.8 / len(entries)
            for k, entry in enumerate(entries):
                x = slot - 0.4 + width * (k + 0.5)
                winner = entry.rank == 1
                ax.bar(
                    x, entry.top5_error_pct, width * 0.92, color=_DEEP_COLOR if entry.deep else _CLASSIC_COLOR,
                    alpha=1.0 if winner else 0.45, hatch=None if winner else "//", edgecolor="black", linewidth=0.5,
                )  # fmt: skip
                ax.text(x, entry.top5_error_pct + 0.4, f"{entry.top5_error_pct:g}%", ha="center", va="bottom",
                        fontsize=8)  # fmt: skip
        ax.set_xticks(range(len(years)), [f"{y}\n" + " / ".join(e.label for e in by_year[y]) for y in years],
                      fontsize=7.5)  # fmt: skip
        human = ilsvrc.HUMAN
        ax.axhline(human.top5_error_pct, color="black", linestyle="--", linewidth=1)
        handles = [
            Patch(facecolor=_DEEP_COLOR, edgecolor="black", linewidth=0.5, label="convolutional network"),
            Patch(facecolor=_CLASSIC_COLOR, edgecolor="black", linewidth=0.5, label="hand-designed features"),
            Patch(facecolor=_DEEP_COLOR, alpha=0.45, hatch="//", edgecolor="black", linewidth=0.5,
                  label="runner-up (VGG, 2014)"),
            Line2D([], [], color="black", linestyle="--", linewidth=1,
                   label=f"human estimate ({human.annotator}): {human.top5_error_pct:g}%"),
        ]  # fmt: skip
        ax.legend(handles=handles, fontsize=8, loc="upper right")
        ax.set_ylim(0, max(e.top5_error_pct for e in ilsvrc.ENTRIES) * 1.15)
        ax.set_ylabel("top-5 error on the test set (%)")
        ax.set_xlabel("ILSVRC year and entry")
        ax.set_title("ImageNet classification winners, 2010-2017: top-5 error by year", fontsize=11)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout(rect=(0, 0.09, 1, 1))
        fig.text(0.01, 0.01, _ilsvrc_caption(), fontsize=SMALL_PT, wrap=True, va="bottom")
    return fig


# --------------------------------------------------------------------------------------------------
# The data a chapter trains on
# --------------------------------------------------------------------------------------------------


def _split_of(data: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    part = getattr(data, split, None)
    images, labels = getattr(part, "images", None), getattr(part, "labels", None)
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"sample_grid expects a nets.data.Data-like object whose .{split} has .images and .labels tensors; "
            f"got {type(data).__name__}"
        )
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"{split}.images must be a uint8 tensor shaped (N, 3, H, W); got {images.dtype} {tuple(images.shape)}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{split}.labels must be one label per image, shape ({len(images)},); got {tuple(labels.shape)}"
        )
    return images, labels


def _thumbnail(image: torch.Tensor, side: int) -> np.ndarray:
    """(3, H, W) uint8 -> (h, w, 3) uint8, shrunk with antialiasing to at most ``side`` pixels a side.

    Shrinking before matplotlib does avoids aliasing (matplotlib would drop pixels) and keeps the PNG small.
    """
    if max(image.shape[-2:]) > side:
        scale = side / max(image.shape[-2:])
        size = (max(1, round(image.shape[-2] * scale)), max(1, round(image.shape[-1] * scale)))
        image = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True)[0]
        image = image.round().clamp(0, 255).to(torch.uint8)
    return image.permute(1, 2, 0).numpy()


def sample_grid(data: Any, *, per_class: int = 4, split: str = "train", max_classes: int = 10) -> Figure:
    """The first ``per_class`` images of each class (up to ``max_classes`` classes), one column per class.

    ``data`` is a ``nets.data.Data``: ``.train``/``.val`` with uint8 ``.images`` (N, 3, H, W) and int
    ``.labels`` (class index into ``.classes``), plus ``.is_standin`` and ``.banner``. Stand-in data
    carries its banner across the top in red, so a reader never mistakes it for ImageNet. Thumbnails are
    about 48 px; photographs do not compress well in PNG, so this figure costs roughly 4-6 KB per image.
    """
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    if not isinstance(max_classes, int) or isinstance(max_classes, bool) or max_classes < 1:
        raise ValueError(f"max_classes must be a positive integer, got {max_classes!r}")
    images, labels = _split_of(data, split)
    classes = [str(c) for c in (getattr(data, "classes", None) or [])]
    if not classes:
        raise ValueError("data.classes is empty; sample_grid needs the class names to label its columns")
    shown = classes[:max_classes]
    standin = bool(getattr(data, "is_standin", False))
    tile = min(0.9, 5.0 / len(shown))
    width = max(4.0, 0.5 + len(shown) * (tile + 0.08))
    banner = ""
    if standin:
        text = str(getattr(data, "banner", "") or "") or "STAND-IN DATA (not Imagenette)"
        banner = textwrap.fill(text, width=int(width * 72 / (8.5 * 0.62)))
    top = 0.75 + (0.2 + 0.16 * (banner.count("\n") + 1) if standin else 0.0)
    height = top + 0.15 + per_class * (tile + 0.06)
    with new_figure(width, height, image_format="auto") as fig:
        axes = fig.subplots(per_class, len(shown), squeeze=False)
        for col, name in enumerate(shown):
            picks = (labels == col).nonzero().flatten()[:per_class].tolist()
            for row, ax in enumerate(axes[:, col]):
                ax.set_xticks([])
                ax.set_yticks([])
                if row < len(picks):
                    ax.imshow(_thumbnail(images[picks[row]], round(tile * DPI)), interpolation="nearest")
                else:
                    ax.set_frame_on(False)
            axes[0, col].set_title(textwrap.fill(name, 11, break_long_words=False), fontsize=SMALL_PT)
        fig.suptitle(
            f"{split} images, {per_class} per class ({len(shown)} of {len(classes)} classes; "
            f"stored at {images.shape[-2]}×{images.shape[-1]} px)",
            fontsize=10,
            y=1 - (top - 0.6) / height,
            va="bottom",
        )
        if standin:
            fig.text(0.5, 1 - 0.06 / height, banner, ha="center", va="top", fontsize=8.5, color="white",
                     fontweight="bold", bbox={"facecolor": STANDIN_COLOR, "edgecolor": "none", "pad": 3})  # fmt: skip
        fig.subplots_adjust(left=0.25 / width, right=1 - 0.25 / width, bottom=0.1 / height, top=1 - top / height,
                            wspace=0.08, hspace=0.06)  # fmt: skip
    return fig
