"""What every chapter shows as a picture: filters, feature maps, training curves, architectures, data.

Every function returns a matplotlib ``Figure`` (a ``BookFigure``) that is already closed in pyplot. In
Jupyter, make the call the cell's last expression (or pass the figure to ``display``): the notebook
renders it exactly once, as a light image (below). Because the figure is not left open, pyplot's
end-of-cell flush (and ``plt.show()``) do not draw it a second time -- and ``plt.show()`` alone does not
draw it at all. In a script, call ``fig.savefig(path)``. (tests/test_viz.py runs a notebook to check
these rules.)

How a figure reaches the page (``encode_figure``, which ``nets.widgets`` uses for its precomputed
outputs too): drawn at ``DPI`` (100) but never wider than the book's text column (``PAGE_WIDTH_PX``),
so that no text is smaller than ``MIN_TEXT_PX`` (9 px) on the page; then sent as a 256-colour PNG when
that loses nothing visible (charts and diagrams: 10-30 KB), else as a JPEG when that is much smaller
than a lossless PNG (photographs, e.g. ``sample_grid``'s thumbnails), else as an optimised lossless PNG.

Nothing here touches the network: the sample photograph ships inside scikit-image.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.nn import functional as F

from . import ilsvrc, probes
from .data import MEAN, STD, not_imagenette
from .probes import first_tensor

__all__ = [
    "DPI",
    "MIN_DPI",
    "MIN_TEXT_PX",
    "PAGE_WIDTH_PX",
    "BookFigure",
    "Part",
    "architecture_diagram",
    "architecture_parts",
    "encode_figure",
    "feature_maps",
    "filter_grid",
    "ilsvrc_chart",
    "sample_grid",
    "sample_photo",
    "smallest_text_px",
    "training_curves",
]

DPI = 100  # every figure's resolution (nets.lab and nets.widgets use it too)
PAGE_WIDTH_PX = 800  # the book's text column: the browser shrinks a wider image to fit
MIN_TEXT_PX = 9.0  # the smallest text a figure may show on the page, in CSS pixels (font size)
MIN_DPI = 90  # nets.widgets draws no figure coarser than this (10 pt text: 12.5 px)
JPEG_QUALITY = 85
_SMALL_PT = 7.0  # the smallest font size used here: 7 pt at 100 dpi is 9.7 px
_JPEG_GAIN = 0.6  # a JPEG is sent only when it is at most 60% of the lossless PNG: photographs
_PALETTE_MEAN_ERROR = 1.0  # a 256-colour PNG is sent when the pixels' mean error (of 255) is at most this
_PALETTE_RARE_ERROR = 10  # ... and 99.9% of pixels are off by at most this much in any channel
_PALETTE_MAX_COLOURS = 1 << 14  # an image with more distinct colours is a photograph: no palette tried
_PALETTE_SIZES = (16, 32, 64, 128)  # smaller palettes tried before 256 colours, smallest first
_DEEP_COLOR = "tab:blue"
_CLASSIC_COLOR = "tab:gray"
_STANDIN_COLOR = "tab:red"
_MAX_MAP_PX = 24  # feature maps are average-pooled to at most this many pixels a side for display


# --------------------------------------------------------------------------------------------------
# How a figure reaches the page
# --------------------------------------------------------------------------------------------------


class BookFigure(Figure):
    """A matplotlib ``Figure`` that a notebook shows as a light image, encoded by ``encode_figure``.

    ``image_format`` says what it holds: ``"png"`` for charts and diagrams (lines, bars and text stay
    crisp: a 256-colour or lossless PNG), ``"auto"`` for pictures (a JPEG when the content is
    photo-like, else a PNG). Everything else is a plain ``Figure``: ``savefig``, ``axes``, ``texts``...
    """

    image_format: str = "auto"

    def _ipython_display_(self) -> None:
        # Shows the figure instead of the inline backend's full-colour PNG at the figure's dpi: an
        # object's _ipython_display_ comes before every formatter, including the one matplotlib
        # registers for all Figures (a _repr_jpeg_ would be shown beside that PNG, not instead of it).
        from IPython.display import display

        mime, data = encode_figure(self)
        display({mime: base64.b64encode(data).decode("ascii"), "text/plain": repr(self)}, raw=True)


def _page_dpi(fig: Figure, dpi: float) -> float:
    """``dpi``, lowered so the figure (its tight bounding box, padded as savefig pads it) fits the page."""
    fig.draw_without_rendering()
    width = fig.get_tightbbox().width + 2 * plt.rcParams["savefig.pad_inches"]
    return min(float(dpi), PAGE_WIDTH_PX / width)


def smallest_text_px(fig: Figure, dpi: float | None = None) -> float:
    """The font size, in CSS pixels on the page, of the smallest visible text in ``fig``.

    The figure is drawn at ``dpi`` (default: its own) and shrunk to the page's width if wider, as
    ``encode_figure`` does. Tick labels, legends, titles and free text all count; ``MIN_TEXT_PX`` is the
    floor the book keeps to.
    """
    dpi = _page_dpi(fig, dpi or fig.dpi)
    texts = fig.findobj(lambda a: isinstance(a, Text) and a.get_visible() and a.get_text().strip() != "")
    if not texts:
        return math.inf
    return min(t.get_fontsize() for t in texts) * dpi / 72


def _draw(fig: Figure, dpi: float) -> Any:
    """The figure's pixels at ``dpi`` (tight bounding box) on white, as a Pillow RGB image."""
    from PIL import Image

    buffer = io.BytesIO()  # an uncompressed PNG: the fastest way to get the pixels of a tight bbox
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pil_kwargs={"compress_level": 0})
    with Image.open(buffer) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, "white")
    return Image.alpha_composite(white, rgba).convert("RGB")


def _saved(image: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _palette_png(image: Any) -> bytes | None:
    """The image as a PNG of as few colours as lose nothing visible (16 to 256), or None if even 256 would
    change it visibly (or it is a photograph). 16 colours make a 4-bit PNG, which is a third smaller."""
    from PIL import Image

    if image.getcolors(_PALETTE_MAX_COLOURS) is None:
        return None
    original = np.asarray(image, dtype=np.int16)

    def quantised(colours: int) -> Any:
        palette = image.quantize(colours, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
        error = np.abs(np.asarray(palette.convert("RGB"), dtype=np.int16) - original).max(axis=-1)
        visible = error.mean() > _PALETTE_MEAN_ERROR or np.percentile(error, 99.9) > _PALETTE_RARE_ERROR
        return None if visible else palette

    full = quantised(256)
    if full is None:
        return None
    best = next((q for q in map(quantised, _PALETTE_SIZES) if q is not None), full)
    return _saved(best, "PNG", optimize=True)


def encode_figure(
    fig: Figure, dpi: float | None = None, image_format: str | None = None
) -> tuple[str, bytes]:
    """``fig`` as the book shows it: ``(mime type, bytes)`` of a PNG or a JPEG.

    Drawn at ``dpi`` (default: the figure's own) with a tight bounding box, but never wider than
    ``PAGE_WIDTH_PX``: a wider image would be shrunk by the browser anyway, text and all. Then:

    - a 256-colour PNG if that loses nothing visible (charts, diagrams, most line art);
    - else, for ``image_format="auto"`` (default: the figure's ``image_format``, "auto" for a plain
      Figure), a JPEG (quality ``JPEG_QUALITY``) when it is at most 60% of the lossless PNG, as it is for
      photographs; ``"jpeg"`` always gives a JPEG;
    - else an optimised lossless PNG.
    """
    image_format = image_format or getattr(fig, "image_format", "auto")
    if image_format not in ("auto", "png", "jpeg"):
        raise ValueError(f"image_format must be 'auto', 'png' or 'jpeg', got {image_format!r}")
    image = _draw(fig, float(dpi or fig.dpi))
    if image.width > PAGE_WIDTH_PX:  # drawn again at the resolution the page will show it at
        image = _draw(fig, float(dpi or fig.dpi) * PAGE_WIDTH_PX / image.width)
    if image_format == "jpeg":
        return "image/jpeg", _saved(image, "JPEG", quality=JPEG_QUALITY, optimize=True)
    palette = _palette_png(image)
    if palette is not None:
        return "image/png", palette
    lossless = _saved(image, "PNG", optimize=True)
    if image_format == "auto":
        jpeg = _saved(image, "JPEG", quality=JPEG_QUALITY, optimize=True)
        if len(jpeg) <= _JPEG_GAIN * len(lossless):
            return "image/jpeg", jpeg
    return "image/png", lossless


@contextmanager
def _figure(width: float, height: float, image_format: str = "png") -> Iterator[BookFigure]:
    """A new pyplot figure that is closed when the block ends, even if drawing fails.

    Closing keeps Jupyter from drawing it twice (once as the cell's result, once in pyplot's flush)
    and keeps a half-drawn figure from appearing when a function raises. ``image_format``: "png" for
    charts, "auto" for figures with pictures in them (see ``encode_figure``).
    """
    fig = plt.figure(figsize=(width, height), dpi=DPI, FigureClass=BookFigure)
    fig.image_format = image_format
    try:
        yield fig
    finally:
        plt.close(fig)


def _human_count(n: int) -> str:
    """1234 -> '1.2 k', 25557032 -> '25.6 M': short enough to sit inside a box."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} M"
    if n >= 1_000:
        return f"{n / 1e3:.1f} k"
    return str(n)


def _shape_text(shape: Sequence[int] | None) -> str:
    """(1, 64, 56, 56) -> '64×56×56'; (1, 1000) -> '1000'; the batch dimension is dropped."""
    if shape is None:
        return "not run"
    return "×".join(str(s) for s in shape[1:]) or "scalar"


# --------------------------------------------------------------------------------------------------
# Finding layers and watching them run (shared by filter_grid, feature_maps, architecture_diagram)
# --------------------------------------------------------------------------------------------------

_PLAIN_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _is_plain_container(module: nn.Module) -> bool:
    # Exact types only: ConvBNAct subclasses nn.Sequential but is one brick, not a list of parts.
    return type(module) in _PLAIN_CONTAINERS


def _parts(model: nn.Module, depth: int) -> list[tuple[str, nn.Module]]:
    """The model's top-level children, with plain containers (``stages``...) opened down to ``depth``."""

    def walk(module: nn.Module, prefix: str, level: int) -> Iterator[tuple[str, nn.Module]]:
        for name, child in module.named_children():
            qualified = f"{prefix}{name}"
            if _is_plain_container(child) and len(child) == 0:
                continue  # e.g. an empty ModuleDict of auxiliary heads: nothing to show
            if level < depth and _is_plain_container(child):
                yield from walk(child, qualified + ".", level + 1)
            else:
                yield qualified, child

    return list(walk(model, "", 1)) or [("", model)]  # a model with no children is its own one part


# --------------------------------------------------------------------------------------------------
# First-layer filters
# --------------------------------------------------------------------------------------------------


def _first_rgb_conv(model_or_conv: nn.Module) -> tuple[str, nn.Conv2d]:
    if not isinstance(model_or_conv, nn.Module):
        raise TypeError(f"filter_grid expects a model or an nn.Conv2d, got {type(model_or_conv).__name__}")
    if isinstance(model_or_conv, nn.Conv2d):
        if model_or_conv.weight.shape[1] != 3:
            raise ValueError(
                f"filter_grid shows filters that look at RGB pixels, so the conv must take 3 input channels "
                f"per filter; this one takes {model_or_conv.weight.shape[1]}. Pass the model's first layer."
            )
        return "conv", model_or_conv
    for name, module in model_or_conv.named_modules():
        if isinstance(module, nn.Conv2d) and module.weight.shape[1] == 3:
            return name, module
    raise ValueError(
        f"{type(model_or_conv).__name__} has no nn.Conv2d with 3 input channels, so there are no RGB filters "
        "to show. filter_grid is for image models whose first layer convolves the RGB input."
    )


def _filters_as_rgb(weight: torch.Tensor) -> np.ndarray:
    """(out, 3, kh, kw) weights -> (out, kh, kw, 3) in [0, 1], each filter min-max scaled on its own.

    Per-filter scaling shows each filter's pattern; the cost is that tiles can't be compared for strength.
    A constant filter (e.g. untouched by training) becomes mid-grey instead of dividing by zero.
    """
    w = weight.detach().float().cpu()
    flat = w.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    span = (flat.max(dim=1).values - flat.min(dim=1).values).view(-1, 1, 1, 1)
    scaled = torch.where(span > 0, (w - low) / span.clamp_min(1e-12), torch.full_like(w, 0.5))
    return scaled.permute(0, 2, 3, 1).numpy()


def filter_grid(model_or_conv: nn.Module, *, max_filters: int = 64, title: str | None = None) -> Figure:
    """The first convolution's filters as RGB tiles: what the network looks for in raw pixels.

    Finds the first ``nn.Conv2d`` whose filters take 3 (RGB) channels, in module order, or uses the conv
    passed in. Shows up to ``max_filters`` filters in a near-square grid, each min-max scaled on its own.
    Trained AlexNet-style first layers show edges and colour blobs; a fresh model shows noise.
    """
    if not isinstance(max_filters, int) or isinstance(max_filters, bool) or max_filters < 1:
        raise ValueError(f"max_filters must be a positive integer, got {max_filters!r}")
    name, conv = _first_rgb_conv(model_or_conv)
    tiles = _filters_as_rgb(conv.weight[:max_filters])
    count, kh, kw = tiles.shape[:3]
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    side = min(0.55, 6.0 / cols)  # inches per tile: small grids get bigger tiles
    with _figure(cols * side + 0.4, rows * side + 1.1, image_format="auto") as fig:
        axes = fig.subplots(rows, cols, squeeze=False)
        for index, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if index < count:
                ax.imshow(tiles[index], interpolation="nearest")
        owner = type(model_or_conv).__name__
        fig.suptitle(
            title or f"{owner}: first-layer filters ({count} of {conv.out_channels}, from `{name}`)",
            fontsize=10,
        )
        fig.supxlabel(
            f"each tile: one {kh}×{kw} px filter over R, G, B; colours min-max scaled per filter", fontsize=8
        )
        fig.subplots_adjust(
            left=0.02,
            right=0.98,
            bottom=0.6 / (rows * side + 1.1),
            top=1 - 0.5 / (rows * side + 1.1),
            wspace=0.08,
            hspace=0.08,
        )
    return fig


# --------------------------------------------------------------------------------------------------
# A real photograph, and what each layer makes of it
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
    return image[:1].float()


def _displayable(image: torch.Tensor) -> np.ndarray:
    """Undo the ImageNet normalisation of one (1, 3, H, W) image for imshow: (H, W, 3) in [0, 1]."""
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (image[0].cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def _pick_evenly(names: list[str], count: int) -> list[str]:
    """``count`` names spread from the first to the last, keeping their order."""
    if len(names) <= count:
        return names
    picks = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in sorted(set(picks.tolist()))]


def _feature_layers(
    model: nn.Module, image: torch.Tensor, layers: Sequence[str] | None, max_layers: int
) -> dict[str, torch.Tensor]:
    """Outputs of the layers to show, in the order the forward pass produced them."""
    if layers is None:
        # Parts with weights only: an activation or pooling part repeats its neighbour's maps.
        candidates = {n: m for n, m in _parts(model, depth=2) if next(m.parameters(), None) is not None}
        outputs = probes.record(model, image, candidates)
        spatial = [n for n, t in outputs.items() if t.ndim == 4 and t.shape[-2] * t.shape[-1] > 1]
        if not spatial:
            raise ValueError(
                f"no part of {type(model).__name__} with weights produced a feature map (N, C, H, W) larger "
                "than 1×1; name the layers to show with layers=[...]."
            )
        return {name: outputs[name] for name in _pick_evenly(spatial, max_layers)}
    if isinstance(layers, str):
        layers = [layers]
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        known = [n for n, _ in _parts(model, depth=2)]
        raise ValueError(
            f"{type(model).__name__} has no layer {', '.join(map(repr, unknown))}. Layer names are dotted "
            f"paths from model.named_modules(), e.g. {', '.join(known[:8])}."
        )
    outputs = probes.record(model, image, {name: modules[name] for name in layers})
    for name in layers:
        if name not in outputs:
            raise ValueError(f"layer {name!r} did not run in the forward pass, so it has no feature maps")
        if outputs[name].ndim != 4:
            raise ValueError(
                f"layer {name!r} outputs shape {tuple(outputs[name].shape)}, not a feature map (N, C, H, W); "
                "pick a convolutional layer."
            )
    return outputs


def _display_maps(output: torch.Tensor, count: int) -> torch.Tensor:
    """The first ``count`` channels of one image's feature maps, average-pooled to at most 24×24 for display.

    Pooling (rather than letting matplotlib drop pixels) keeps what each map says while keeping the
    figure's PNG small; 7×7 and 14×14 maps are shown as they are.
    """
    maps = output[:1, :count].float().cpu()
    if max(maps.shape[-2:]) > _MAX_MAP_PX:
        maps = F.adaptive_avg_pool2d(
            maps, (min(maps.shape[-2], _MAX_MAP_PX), min(maps.shape[-1], _MAX_MAP_PX))
        )
    return maps[0]


def feature_maps(
    model: nn.Module,
    image: torch.Tensor | None = None,
    *,
    layers: Sequence[str] | None = None,
    channels: int = 8,
    max_layers: int = 4,
) -> Figure:
    """The photo, and for a few layers the first ``channels`` feature maps it produces.

    Shows how resolution shrinks and channels grow with depth. ``layers`` are dotted module names
    (``model.named_modules()``); by default up to ``max_layers`` are picked, evenly spaced in forward
    order, among the model's top-level parts and the parts of plain containers such as ``stages`` that
    have weights and output a feature map. The model runs once, in eval mode, without gradients; its
    training mode is restored afterwards. Rows come in forward order. Each map is coloured on its own
    scale in 16 steps (bright = strong activation); maps larger than 24×24 are average-pooled to 24×24.
    """
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    if not isinstance(max_layers, int) or isinstance(max_layers, bool) or max_layers < 1:
        raise ValueError(f"max_layers must be a positive integer, got {max_layers!r}")
    image = _as_image_batch(sample_photo() if image is None else image)
    outputs = _feature_layers(model, image, layers, max_layers)
    cols = min(channels, max(t.shape[1] for t in outputs.values()))
    rows = len(outputs)
    tile = min(0.6, 6.0 / cols)
    photo_side = 1.3
    width, height = photo_side + 0.4 + cols * (tile + 0.05), max(2.2, rows * (tile + 0.3) + 0.75)
    cmap = plt.get_cmap("viridis", 16)
    with _figure(width, height, image_format="auto") as fig:
        grid = fig.add_gridspec(
            rows, cols + 1, width_ratios=[photo_side / tile] + [1] * cols, wspace=0.08, hspace=0.45,
            left=0.02, right=0.98, top=1 - 0.55 / height, bottom=0.3 / height,
        )  # fmt: skip
        photo = fig.add_subplot(grid[:, 0])
        photo.imshow(_displayable(image))
        photo.set_title(f"input {image.shape[-2]}×{image.shape[-1]} px", fontsize=8)
        photo.set_axis_off()
        for row, (name, output) in enumerate(outputs.items()):
            maps = _display_maps(output, cols)
            for col in range(cols):
                ax = fig.add_subplot(grid[row, col + 1])
                ax.set_xticks([])
                ax.set_yticks([])
                if col < maps.shape[0]:
                    ax.imshow(maps[col].numpy(), cmap=cmap, interpolation="nearest")
                else:
                    ax.set_frame_on(False)
                if col == 0:
                    label = name or type(model).__name__
                    ax.set_title(f"{label}  ({_shape_text(output.shape)})", loc="left", fontsize=8)
        fig.suptitle(
            f"{type(model).__name__}: the first {cols} feature maps at increasing depth", fontsize=10
        )
        fig.supxlabel("each map: one output channel; colour scaled per map (bright = strong)", fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------------

_LOSS_SERIES = (("train_loss", "train", "-"), ("val_loss", "val", "--"))
_ACC_SERIES = (("train_acc", "train", "-"), ("val_top1", "val top-1", "--"), ("val_top5", "val top-5", ":"))


@dataclass(frozen=True)
class _Run:
    label: str
    epochs: list[Mapping[str, Any]]
    config: Mapping[str, Any]

    @property
    def is_standin(self) -> bool:
        return bool(self.config.get("is_standin", False))


def _read_metrics(path: str | os.PathLike) -> Any:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no metrics file at {path}; pass a run's metrics.json (or its folder), a history object with "
            ".epochs, or a list of per-epoch dicts"
        )
    with path.open() as handle:
        return json.load(handle)


def _history_parts(history: Any) -> tuple[Any, Mapping[str, Any]]:
    """(epochs, config) from any of the accepted history forms."""
    if isinstance(history, (str, os.PathLike)):
        history = _read_metrics(history)
    if isinstance(history, Mapping):
        if "epochs" not in history:
            raise ValueError(f"a metrics dict needs an 'epochs' list; got keys {sorted(history)}")
        return history["epochs"], history.get("config") or {}
    if isinstance(history, (list, tuple)):
        return history, {}
    if hasattr(history, "epochs"):
        config = getattr(history, "config", None) or {}
        if not isinstance(config, Mapping):
            config = vars(config) if hasattr(config, "__dict__") else {}
        return history.epochs, config
    raise TypeError(
        f"can't read training history from a {type(history).__name__}; pass an object with .epochs, a list of "
        "per-epoch dicts, a metrics.json path, or a dict label -> history to compare runs"
    )


def _as_run(label: str | None, history: Any) -> _Run:
    epochs, config = _history_parts(history)
    label = label or str(config.get("model") or config.get("name") or "run")
    if not isinstance(epochs, (list, tuple)) or not epochs:
        raise ValueError(f"history {label!r} has no epochs yet; train at least one epoch before plotting")
    for record in epochs:
        if not isinstance(record, Mapping) or "epoch" not in record:
            raise ValueError(
                f"history {label!r}: every epoch must be a dict with an 'epoch' key; got {record!r}"
            )
        for key, _, _ in _ACC_SERIES:
            value = record.get(key)
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    f"history {label!r}, epoch {record['epoch']}: {key}={value} is not a fraction in [0, 1]. "
                    "Accuracies are stored as fractions (0.75, not 75)."
                )
    return _Run(label, list(epochs), config)


def _as_runs(history: Any) -> list[_Run]:
    """One run, or several from a dict label -> history (a dict with an 'epochs' key is one run)."""
    if isinstance(history, Mapping) and "epochs" not in history:
        if not history:
            raise ValueError(
                "training_curves got an empty dict; pass {label: history, ...} with at least one run"
            )
        return [_as_run(str(label), h) for label, h in history.items()]
    return [_as_run(None, history)]


def _series(run: _Run, key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) for one metric, skipping epochs that did not record it."""
    points = [(float(r["epoch"]), float(r[key])) for r in run.epochs if r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def training_curves(history: Any, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train vs val (top-1 and top-5), for one run or several overlaid.

    ``history`` is an object with ``.epochs`` (and optionally ``.config``), a list of per-epoch dicts, a
    path to a ``metrics.json`` (or its run folder), or a dict ``{label: history}`` to compare runs, e.g.
    ``training_curves({"relu": h1, "tanh": h2})``. Per-epoch keys: epoch, train_loss, train_acc,
    val_loss, val_top1, val_top5 (accuracies as fractions, plotted in %); missing ones are skipped.
    Runs whose config says ``is_standin`` (any data but Imagenette) carry their source in the legend and
    the title, so a curve trained on Fashion-MNIST or the stand-in is never mistaken for an ImageNet result.
    """
    runs = _as_runs(history)
    single = len(runs) == 1
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    with _figure(8.0, 3.6) as fig:
        loss_ax, acc_ax = fig.subplots(1, 2)
        for index, run in enumerate(runs):
            color = colors[index % len(colors)]
            source = run.config.get("data") or "standin"
            if run.is_standin:  # "(fashion-mnist)" or "(stand-in)"
                name = f"{run.label} ({'stand-in' if source == 'standin' else source})"
            else:
                name = run.label
            for ax, series, scale in ((loss_ax, _LOSS_SERIES, 1.0), (acc_ax, _ACC_SERIES, 100.0)):
                for key, what, style in series:
                    xs, ys = _series(run, key)
                    if xs:
                        label = what if single else f"{name}: {what}"
                        ax.plot(xs, [y * scale for y in ys], style, color=color, marker=".", label=label)
        loss_ax.set(title="loss", xlabel="epoch", ylabel="cross-entropy loss (nats)")
        acc_ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy (%)")
        for ax in (loss_ax, acc_ax):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=_SMALL_PT)
        default = (
            f"{runs[0].label}: training curves"
            if single
            else "training curves: " + " vs ".join(r.label for r in runs)
        )
        heading = title or default
        others = [r for r in runs if r.is_standin]
        if others:  # names the source, e.g. "FASHION-MNIST (not Imagenette) -- ..."
            heading = f"{not_imagenette(others[0].config.get('data'))} -- {heading}"
        fig.suptitle(
            heading, fontsize=11, color=_STANDIN_COLOR if any(r.is_standin for r in runs) else "black"
        )
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# Architecture at a glance
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One box of an architecture diagram: a named part of the model, what it outputs, what it costs."""

    name: str  # dotted module name, e.g. "stages.2"
    kind: str  # the module's class name
    output_shape: tuple[int, ...] | None  # including the batch dimension; None if it did not run
    params: int


def _check_input_size(input_size: Sequence[int]) -> tuple[int, ...]:
    size = tuple(input_size)
    if len(size) != 4 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"input_size must be four positive integers (batch, channels, height, width), e.g. (1, 3, 224, 224); "
            f"got {input_size!r}"
        )
    return size


def architecture_parts(
    model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224), *, depth: int = 2
) -> list[Part]:
    """The model's parts in the order the forward pass reaches them, with output shapes and parameter counts.

    Parts are the top-level children; plain containers (``nn.Sequential``, ``nn.ModuleList``,
    ``nn.ModuleDict``, e.g. ``stages``) are opened into their children down to ``depth`` levels. A
    ``ModuleList`` is never called itself, so its output is the output of the last module inside it to
    finish. Parts that do not run in eval mode (e.g. GoogLeNet's auxiliary heads) come last, shape None.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"architecture_parts expects an nn.Module, got {type(model).__name__}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer (1 = top-level parts only), got {depth!r}")
    size = _check_input_size(input_size)
    clock = iter(range(10**12))

    def stamp(_module: nn.Module, _inputs: Any, output: Any) -> tuple[int, tuple[int, ...] | None]:
        tensor = first_tensor(output)
        return next(clock), None if tensor is None else tuple(tensor.shape)

    calls = probes.record(model, torch.zeros(size), lambda n, m: True, capture=stamp, every_call=True)
    # A part starts when the first module inside it finishes (leaves run in the order parts start) and
    # outputs what its last call returned (or, for a ModuleList, which is never called, its last module).
    starts = {name: stamps[0][0] for name, stamps in calls.items()}
    ends = {name: stamps[-1] for name, stamps in calls.items() if stamps[-1][1] is not None}

    parts: list[tuple[float, int, Part]] = []
    for position, (name, module) in enumerate(_parts(model, depth)):
        inside = [n for n in starts if n == name or (name and n.startswith(name + "."))]
        start = min((starts[n] for n in inside), default=math.inf)
        if name in ends:
            shape = ends[name][1]
        else:
            finished = [ends[n] for n in inside if n in ends]
            shape = max(finished)[1] if finished else None
        params = sum(p.numel() for p in module.parameters())
        kind = type(module).__name__
        parts.append((start, position, Part(name or kind, kind, shape, params)))
    return [part for _, _, part in sorted(parts, key=lambda item: (item[0], item[1]))]


def _log_ticks(top: float) -> tuple[list[int], list[str]]:
    names = ["1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1G", "10G"]
    ticks = list(range(0, min(int(math.ceil(top)), len(names) - 1) + 1))
    return ticks, [names[t] for t in ticks]


# Plain torch layers say what they are in their names (conv1, pool2, fc); only blocks get their class shown.
_TORCH_LAYER_NAMES = {name for name in dir(nn) if isinstance(getattr(nn, name), type)}


@dataclass(frozen=True)
class _Box:
    label: str
    part: Part


def _boxes(parts: list[Part], input_shape: tuple[int, ...]) -> list[_Box]:
    """Fold each weightless part that keeps the number of values (activation, dropout, flatten, identity)
    into the box before it, so a VGG reads ``conv1_1 + relu1_1``, not two rows with the same shape."""
    boxes: list[_Box] = []
    previous = math.prod(input_shape)
    for part in parts:
        size = math.prod(part.output_shape) if part.output_shape is not None else None
        if part.params == 0 and size == previous:
            if boxes:
                last = boxes[-1]
                folded = replace(last.part, output_shape=part.output_shape)
                boxes[-1] = _Box(f"{last.label} + {part.name.rsplit('.', 1)[-1]}", folded)
            continue  # a no-op right after the input (e.g. an identity input transform) is dropped
        boxes.append(_Box(part.name, part))
        previous = size if size is not None else previous
    return boxes


def architecture_diagram(
    model: nn.Module,
    input_size: Sequence[int] = (1, 3, 224, 224),
    *,
    depth: int = 2,
    title: str | None = None,
) -> Figure:
    """The architecture at a glance: one box per part, top to bottom in forward order.

    Each box is labelled with the part's name, its output shape (C×H×W, batch dropped), its parameter
    count and its class; its length is log10(parameters + 1), so a 100 M-parameter classifier and a
    10 k-parameter stem are both visible. Weightless parts that keep the number of values (ReLU,
    dropout, flatten) are folded into the box before them. Colours group parts of the same top-level
    child. ``architecture_parts`` returns the unfolded list as data.
    """
    parts = architecture_parts(model, input_size, depth=depth)
    size = _check_input_size(input_size)
    boxes = _boxes(parts, size)
    lengths = [max(0.3, math.log10(b.part.params + 1)) for b in boxes]
    longest = max([*lengths, 1.0])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups: dict[str, str] = {}
    rows = len(boxes) + 1
    with _figure(8.0, 0.9 + 0.27 * rows) as fig:
        ax = fig.add_subplot()
        ax.text(0.05, 0, f"{_shape_text(size)}", va="center", fontsize=7.5, style="italic")
        for row, (box, length) in enumerate(zip(boxes, lengths, strict=True), start=1):
            part = box.part
            color = groups.setdefault(part.name.split(".")[0], colors[len(groups) % len(colors)])
            ran = part.output_shape is not None
            ax.add_patch(
                FancyBboxPatch(
                    (0, row - 0.32), length, 0.64, boxstyle="round,pad=0,rounding_size=0.12",
                    facecolor=color, alpha=0.75 if ran else 0.25, edgecolor="black", linewidth=0.6,
                )
            )  # fmt: skip
            shape = _shape_text(part.output_shape) if ran else "not run in eval mode"
            kind = "" if part.kind in _TORCH_LAYER_NAMES else f"  ({part.kind})"
            ax.text(
                length + 0.1, row, f"{shape} · {_human_count(part.params)}{kind}", va="center", fontsize=7.5
            )
        ax.set_yticks(range(rows), ["input"] + [b.label for b in boxes], fontsize=7.5)
        ax.set_ylim(rows - 0.5, -0.6)
        ax.set_xlim(0, longest + 4.0)
        ax.set_xticks(*_log_ticks(longest))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("parameters per part (box length ∝ log10(params + 1)); text: output C×H×W · parameters",
                      fontsize=8)  # fmt: skip
        ax.set_ylabel("forward order (input at top)", fontsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        total = sum(p.numel() for p in model.parameters())
        ax.set_title(
            title or f"{type(model).__name__} at a glance: {total:,} parameters, input {_shape_text(size)}",
            fontsize=10,
        )
        fig.tight_layout()
    return fig


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
    with _figure(8.0, 4.4) as fig:
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
        fig.text(0.01, 0.01, _ilsvrc_caption(), fontsize=_SMALL_PT, wrap=True, va="bottom")
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
    with _figure(width, height, image_format="auto") as fig:
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
            axes[0, col].set_title(textwrap.fill(name, 11, break_long_words=False), fontsize=_SMALL_PT)
        fig.suptitle(
            f"{split} images, {per_class} per class ({len(shown)} of {len(classes)} classes; "
            f"stored at {images.shape[-2]}×{images.shape[-1]} px)",
            fontsize=10,
            y=1 - (top - 0.6) / height,
            va="bottom",
        )
        if standin:
            fig.text(0.5, 1 - 0.06 / height, banner, ha="center", va="top", fontsize=8.5, color="white",
                     fontweight="bold", bbox={"facecolor": _STANDIN_COLOR, "edgecolor": "none", "pad": 3})  # fmt: skip
        fig.subplots_adjust(left=0.25 / width, right=1 - 0.25 / width, bottom=0.1 / height, top=1 - top / height,
                            wspace=0.08, hspace=0.06)  # fmt: skip
    return fig
