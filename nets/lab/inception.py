"""What the Inception chapter measures: the cost of one module's branches, factorised filters, footprints.

Small, so the chapter's cells stay a few lines; ``tests/test_inception_chapter.py`` checks them. The
architectures themselves live in ``nets.models.inception``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from ..checks import check_choice, check_float, check_int
from ..models.inception import GOOGLENET_TABLE, GoogLeNet, InceptionModule, InceptionWidths
from ..probes import receptive_field, record
from ..summary import count_macs, count_params

__all__ = [
    "BranchCost",
    "factorisation_params",
    "footprint",
    "googlenet_module_inputs",
    "module_cost",
    "scale_widths",
]


class BranchCost(NamedTuple):
    """Parameters and multiply-accumulates (one image) of one branch of a module."""

    params: int
    macs: int


def googlenet_module_inputs(image_size: int = 224) -> dict[str, tuple[int, int]]:
    """Each Inception module of GoogLeNet -> (input channels, input grid side) for a square input.

    At 224 px the modules see 28x28 (3a, 3b), 14x14 (4a-4e) and 7x7 (5a, 5b) grids, as in Table 1.
    Recorded from a GoogLeNet run on the meta device, so it follows the model's real layout.
    """
    check_int("image_size", image_size, minimum=GoogLeNet.min_size)  # GoogLeNet's smallest input
    return dict(_module_inputs(image_size))


@functools.lru_cache(maxsize=8)
def _module_inputs(image_size: int) -> tuple[tuple[str, tuple[int, int]], ...]:
    with torch.device("meta"):
        model = GoogLeNet()
        x = torch.zeros(1, 3, image_size, image_size)
    modules = {name: model.body.get_submodule(name) for name in GOOGLENET_TABLE}
    seen = record(
        model, x, modules, capture=lambda _, inputs, __: (int(inputs[0].shape[1]), int(inputs[0].shape[-1]))
    )
    return tuple(seen.items())


def scale_widths(widths: InceptionWidths | Sequence[int], factor: float) -> InceptionWidths:
    """Multiply the 3x3 and 5x5 output widths of a Table 1 row by ``factor`` (rounded, at least 1)."""
    check_float("factor", factor, low=0.0, low_open=True)
    w = InceptionWidths(*widths)
    return w._replace(ch3x3=max(1, round(w.ch3x3 * factor)), ch5x5=max(1, round(w.ch5x5 * factor)))


def module_cost(
    module: str, *, reduce: bool = True, factor: float = 1.0, kernel_5x5: int = 5, image_size: int = 224
) -> dict[str, BranchCost]:
    """Per-branch cost of GoogLeNet's Inception ``module`` ("inception3a" ... "inception5b"), as built.

    The module gets the input GoogLeNet gives it at ``image_size`` (``googlenet_module_inputs``);
    ``reduce=False`` builds the naive module of paper Figure 2(a) on the same input, ``factor`` scales
    the 3x3 and 5x5 widths (``scale_widths``). Counted with ``count_params`` / ``count_macs`` on an
    ``InceptionModule`` built on the meta device (no memory, no initialisation).
    """
    check_choice("module", module, list(GOOGLENET_TABLE))
    in_channels, grid = googlenet_module_inputs(image_size)[module]
    widths = scale_widths(GOOGLENET_TABLE[module], factor)
    with torch.device("meta"):
        block = InceptionModule(in_channels, widths, reduce=reduce, kernel_5x5=kernel_5x5)
    return {
        name: BranchCost(count_params(branch), count_macs(branch, (1, in_channels, grid, grid)))
        for name, branch in block.named_children()
    }


def factorisation_params(n: int, channels: int = 192) -> dict[str, int]:
    """Weights of ways to see an n x n window, ``channels`` -> ``channels`` (convolutions without bias).

    ``"n x n"``: one square filter; ``"1 x n + n x 1"``: the asymmetric pair of Inception-v3 (paper
    section 3.2); ``"3 x 3 stack"``: (n - 1) / 2 stacked 3x3 convolutions (two for a 5x5, section 3.1).
    All three see the same n x n window (``footprint``); at stride 1 with "same" padding each costs
    H x W x its weight count in multiply-accumulates, so the ratios hold for MACs too.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3 or n % 2 == 0:
        raise ValueError(f"n must be an odd integer >= 3 (a filter with a centre), got {n!r}")
    c = check_int("channels", channels)
    with torch.device("meta"):
        ways = {
            f"{n} x {n}": nn.Conv2d(c, c, n, bias=False),
            f"1 x {n} + {n} x 1": nn.Sequential(
                nn.Conv2d(c, c, (1, n), bias=False), nn.Conv2d(c, c, (n, 1), bias=False)
            ),
            "3 x 3 stack": nn.Sequential(*[nn.Conv2d(c, c, 3, bias=False) for _ in range((n - 1) // 2)]),
        }
    return {name: count_params(layers) for name, layers in ways.items()}


def footprint(layers: nn.Module, size: int = 11) -> torch.Tensor:
    """Which pixels of a ``size`` x ``size`` input the centre output unit of ``layers`` sees: a bool mask.

    The receptive field of ``nets.probes.receptive_field`` (per axis, from the kernels, strides and
    dilations of the chain), drawn centred on the grid: two 3x3 convolutions see the full 5x5 square,
    a 1x7 followed by a 7x1 the full 7x7 one, a 1x7 alone a 1x7 strip. It is the window; a dilated
    filter's taps lie inside it with gaps. (An even side extends one pixel further after the centre than
    before it, as PyTorch's "same" padding does.)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive integer (so there is a centre pixel), got {size!r}")
    height, width = receptive_field(layers, per_axis=True)
    if height > size or width > size:
        raise ValueError(
            f"the window is {height}x{width}, larger than the {size}x{size} grid; pass a larger size"
        )
    top, left = size // 2 - (height - 1) // 2, size // 2 - (width - 1) // 2
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top : top + height, left : left + width] = True
    return mask
