"""What a network looks for and what it sees: its first-layer filters, and feature maps layer by layer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from .. import probes
from .architecture import _parts, _shape_text
from .samples import _as_image_batch, _displayable, sample_photo
from .style import new_figure

_MAX_MAP_PX = 24  # feature maps are average-pooled to at most this many pixels a side for display


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
    with new_figure(cols * side + 0.4, rows * side + 1.1, image_format="auto") as fig:
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


def _rgb_weight(weight: nn.Module | torch.Tensor, what: str) -> torch.Tensor:
    if isinstance(weight, nn.Module):
        weight = _first_rgb_conv(weight)[1].weight
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4 or weight.shape[1] != 3:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(
            f"{what} must be RGB filters (out, 3, kh, kw) or a model or conv with them, got {shape}"
        )
    return weight.detach().float().cpu()


def filter_change(
    before: nn.Module | torch.Tensor,
    after: nn.Module | torch.Tensor,
    *,
    max_filters: int = 12,
    title: str | None = None,
    scores: Sequence[float] | None = None,
) -> Figure:
    """First-layer filters before and after training, and what training changed: three rows of tiles.

    ``before`` and ``after`` are the same layer's weights (out, 3, kh, kw) or models/convs holding them
    (their first RGB convolution). Row 1: the filters before; row 2: after; row 3: after - before. Each
    tile is min-max scaled on its own, so a change a few percent of the weights' size is as visible as
    the weights: a brief run leaves the raw filters looking like their initial noise while the change
    already shows the smooth blobs and edges training put there. ``scores``: three numbers to print
    beside the rows (e.g. ``nets.lab.alexnet.neighbour_correlation`` of each row, averaged).
    """
    if not isinstance(max_filters, int) or isinstance(max_filters, bool) or max_filters < 1:
        raise ValueError(f"max_filters must be a positive integer, got {max_filters!r}")
    first, last = _rgb_weight(before, "before"), _rgb_weight(after, "after")
    if first.shape != last.shape:
        raise ValueError(
            f"before and after must have the same shape, got {tuple(first.shape)} and {tuple(last.shape)}"
        )
    if scores is not None and len(scores) != 3:
        raise ValueError(f"scores must be three numbers (before, after, change), got {scores!r}")
    rows = {"before": first, "after": last, "change": last - first}
    count, kh, kw = min(max_filters, first.shape[0]), first.shape[2], first.shape[3]
    side = min(0.55, 6.4 / count)
    width, height = count * side + 1.3, 3 * side + 1.0
    with new_figure(width, height, image_format="auto") as fig:
        axes = fig.subplots(3, count, squeeze=False)
        for row, (label, weight) in enumerate(rows.items()):
            tiles = _filters_as_rgb(weight[:count])
            for index, ax in enumerate(axes[row]):
                ax.set_xticks([])
                ax.set_yticks([])
                ax.imshow(tiles[index], interpolation="nearest")
            note = "" if scores is None else f"\n{scores[row]:+.2f}"
            axes[row, 0].set_ylabel(f"{label}{note}", rotation=0, ha="right", va="center", fontsize=8)
        fig.suptitle(title or f"First-layer filters before and after training ({count} of {first.shape[0]})",
                     fontsize=10)  # fmt: skip
        fig.supxlabel(f"each tile: one {kh}×{kw} px filter over R, G, B; min-max scaled per tile", fontsize=8)
        fig.subplots_adjust(left=1.1 / width, right=0.99, bottom=0.45 / height, top=1 - 0.45 / height,
                            wspace=0.08, hspace=0.08)  # fmt: skip
    return fig


# --------------------------------------------------------------------------------------------------
# What each layer makes of a photograph
# --------------------------------------------------------------------------------------------------


def _pick_evenly(names: list[str], count: int) -> list[str]:
    """``count`` names spread from the first to the last, keeping their order."""
    if len(names) <= count:
        return names
    picks = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in sorted(set(picks.tolist()))]


def _record(model: nn.Module, image: torch.Tensor, modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """``probes.record``, with a model that cannot take the image said in one line."""
    try:
        return probes.record(model, image, modules)
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{type(model).__name__} cannot take this {image.shape[-2]}x{image.shape[-1]} image ({reason}); "
            "pass an image of the size the model was built for, e.g. nets.viz.sample_photo(224)"
        ) from err


def _feature_layers(
    model: nn.Module, image: torch.Tensor, layers: Sequence[str] | None, max_layers: int
) -> dict[str, torch.Tensor]:
    """Outputs of the layers to show, in the order the forward pass produced them."""
    if layers is None:
        # Parts with weights only: an activation or pooling part repeats its neighbour's maps.
        candidates = {n: m for n, m in _parts(model, depth=2) if next(m.parameters(), None) is not None}
        outputs = _record(model, image, candidates)
        spatial = [n for n, t in outputs.items() if t.ndim == 4 and t.shape[-2] * t.shape[-1] > 1]
        if not spatial:
            raise ValueError(
                f"no part of {type(model).__name__} with weights produced a feature map (N, C, H, W) larger "
                "than 1×1; name the layers to show with layers=[...]."
            )
        return {name: outputs[name] for name in _pick_evenly(spatial, max_layers)}
    if isinstance(layers, str):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError("layers must name at least one layer (dotted names from model.named_modules()), "
                         "or be None to pick them")  # fmt: skip
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        known = [n for n, _ in _parts(model, depth=2)]
        raise ValueError(
            f"{type(model).__name__} has no layer {', '.join(map(repr, unknown))}. Layer names are dotted "
            f"paths from model.named_modules(), e.g. {', '.join(known[:8])}."
        )
    outputs = _record(model, image, {name: modules[name] for name in layers})
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
    with new_figure(width, height, image_format="auto") as fig:
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
