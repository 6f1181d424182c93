"""The architecture at a glance: a model's parts in forward order, as data and as a diagram."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import nn

from .. import probes
from ..checks import check_input_size
from ..probes import first_tensor
from .style import new_figure


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
# Architecture at a glance
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One box of an architecture diagram: a named part of the model, what it outputs, what it costs."""

    name: str  # dotted module name, e.g. "stages.2"
    kind: str  # the module's class name
    output_shape: tuple[int, ...] | None  # including the batch dimension; None if it did not run
    params: int


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
    size = check_input_size(input_size)
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
    size = check_input_size(input_size)
    boxes = _boxes(parts, size)
    lengths = [max(0.3, math.log10(b.part.params + 1)) for b in boxes]
    longest = max([*lengths, 1.0])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups: dict[str, str] = {}
    rows = len(boxes) + 1
    with new_figure(8.0, 0.9 + 0.27 * rows) as fig:
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
