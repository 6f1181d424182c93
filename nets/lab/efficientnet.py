"""What the EfficientNet chapter measures: costs by arithmetic, the scaling study, B0-B7 against the paper.

``cost`` counts a configuration's parameters and multiply-accumulates by kind of layer, from the stage
table alone; ``scale_one`` and ``scaling_study`` set compound scaling against one dimension alone at the
same FLOP budget (timing the smaller networks with ``latency``); ``variant_table`` sets B0-B7 against
the paper and torchvision; ``stage_table`` reads the paper's Table 1 off a built model;
``stochastic_depth_schedule`` and ``se_gates`` look inside its blocks. The models are
``nets.models.efficientnet``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..cards import card
from ..checks import check_choice, check_float, check_int
from ..layers import make_divisible
from ..models.efficientnet import (
    ALPHA,
    B0_HEAD_CHANNELS,
    B0_STEM_CHANNELS,
    BASE_RESOLUTION,
    BETA,
    GAMMA,
    MIN_SIZE,
    SE_RATIO,
    VARIANTS,
    EfficientNet,
    MBConv,
    Scaling,
    compound_scaling,
    efficientnet,
    scaled_stages,
)
from . import probes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_PARTS",
    "FLOPS_PER_PHI",
    "SCALINGS",
    "Cost",
    "cost",
    "latency",
    "scale_one",
    "scaling_study",
    "se_gates",
    "stage_table",
    "stochastic_depth_schedule",
    "variant_table",
]

# What a configuration costs, by arithmetic
#
# The chapter's tables and its scaling widget cover dozens of configurations, up to hundreds of blocks or
# hundreds of millions of parameters; building each one to count it would take minutes. The costs follow
# from the stage table by arithmetic, layer by layer as the network computes them (the tests check that
# ``cost`` equals ``count_params`` and ``count_macs`` of the built models).

COST_PARTS = ("stem", "expand 1x1", "depthwise", "squeeze-excite", "project 1x1", "head 1x1", "classifier")
SCALINGS = ("compound", "depth only", "width only", "resolution only")
# What one unit of phi multiplies the FLOPs by, if FLOPs grow as depth * width**2 * resolution**2.
FLOPS_PER_PHI = ALPHA * BETA**2 * GAMMA**2


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-accumulates of one configuration, by kind of layer (keys ``COST_PARTS``)."""

    params: dict[str, int]
    macs: dict[str, int]

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    @property
    def total_macs(self) -> int:
        return sum(self.macs.values())


def _same_out(size: int, stride: int) -> int:
    # An odd kernel k with padding k // 2: out = (size + 2 * (k // 2) - k) // stride + 1.
    return (size - 1) // stride + 1


def cost(
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    resolution: int = BASE_RESOLUTION,
    num_classes: int = 1000,
) -> Cost:
    """Parameters and MACs of ``efficientnet(width_mult=..., depth_mult=...)`` at ``resolution`` px, by arithmetic.

    Counts what ``count_params`` and ``count_macs`` count (convolution and fc multiply-accumulates;
    BatchNorm scale and shift as parameters, its running statistics not), without building anything.
    """
    resolution = check_int("resolution", resolution, minimum=MIN_SIZE)
    num_classes = check_int("num_classes", num_classes)
    stages = scaled_stages(width_mult, depth_mult)
    params = dict.fromkeys(COST_PARTS, 0)
    macs = dict.fromkeys(COST_PARTS, 0)

    def add(part: str, p: int, m: int) -> None:
        params[part] += p
        macs[part] += m

    stem = make_divisible(B0_STEM_CHANNELS * width_mult, 8)
    head = make_divisible(B0_HEAD_CHANNELS * width_mult, 8)
    size = _same_out(resolution, 2)
    add("stem", 3 * 9 * stem + 2 * stem, size * size * 3 * 9 * stem)  # conv weights + BN scale and shift
    c_in = stem
    for stage in stages:
        k, c_out = stage.kernel, stage.channels
        for i in range(stage.layers):
            hidden = make_divisible(c_in * stage.expand_ratio, 8)
            if hidden != c_in:
                add("expand 1x1", c_in * hidden + 2 * hidden, size * size * c_in * hidden)
            size = _same_out(size, stage.stride if i == 0 else 1)
            add("depthwise", hidden * k * k + 2 * hidden, size * size * hidden * k * k)
            squeezed = max(1, int(c_in * SE_RATIO))
            # two 1x1 convs with biases on the pooled 1x1 map: hidden -> squeezed -> hidden
            add("squeeze-excite", 2 * hidden * squeezed + squeezed + hidden, 2 * hidden * squeezed)
            add("project 1x1", hidden * c_out + 2 * c_out, size * size * hidden * c_out)
            c_in = c_out
    add("head 1x1", c_in * head + 2 * head, size * size * c_in * head)
    add("classifier", head * num_classes + num_classes, head * num_classes)
    return Cost(params, macs)


# Compound scaling against one dimension alone


def scale_one(phi: float, how: str = "compound") -> Scaling:
    """``compound_scaling(phi)``, or one dimension alone grown to the same FLOP budget ``FLOPS_PER_PHI**phi``.

    With FLOPs ~ depth * width**2 * resolution**2 (paper section 3.3), depth alone must grow by
    ``FLOPS_PER_PHI**phi`` and width or resolution alone by its square root. ``how`` is one of ``SCALINGS``.
    """
    check_choice("how", how, SCALINGS)
    if how == "compound":
        return compound_scaling(phi)
    phi = check_float("phi", phi)
    budget = FLOPS_PER_PHI**phi
    if how == "depth only":
        return Scaling(depth=budget, width=1.0, resolution=BASE_RESOLUTION)
    if how == "width only":
        return Scaling(depth=1.0, width=math.sqrt(budget), resolution=BASE_RESOLUTION)
    resolution = round(BASE_RESOLUTION * math.sqrt(budget))
    if resolution < MIN_SIZE:
        raise ValueError(f"phi={phi} scales the input to {resolution} pixels; use a larger phi")
    return Scaling(depth=1.0, width=1.0, resolution=resolution)


def latency(
    model: nn.Module,
    input_size: tuple[int, ...] = (1, 3, 224, 224),
    repeats: int = 3,
    warmup: int = 1,
    threads: int | None = 1,
) -> float:
    """Wall time in seconds of one forward pass (eval mode, no gradients) on the model's device.

    The fastest of ``repeats`` timed passes after ``warmup`` untimed ones (``probes.best_time``): other
    work on a shared machine only ever adds time, so the minimum is the most repeatable estimate. On the
    CPU it runs on ``threads`` threads (one by default, like the single-core phone timings of the
    mobile-network papers; ``None`` keeps torch's setting). One thread is also the setting that a busy
    machine disturbs least: threads that wait for each other stall whenever one is descheduled.
    """
    x = torch.randn(tuple(input_size), generator=torch.Generator().manual_seed(0)).to(probes.device_of(model))
    with probes.eval_mode(model), torch.no_grad():
        return probes.best_time(lambda: model(x), repeats=repeats, warmup=warmup, threads=threads)


def scaling_study(
    phis=range(8),
    hows=SCALINGS,
    *,
    latency_max_gmacs: float = 1.0,
    repeats: int = 2,
    threads: int | None = 1,
    num_classes: int = 1000,
) -> pd.DataFrame:
    """One row per (how, phi): depth, width, resolution, blocks, params, GMACs and latency in ms.

    Params and MACs come from ``cost`` (so even a 600M-parameter width-only network costs nothing to
    count); latency is measured (``latency`` on a batch of one image, on the CPU with ``threads``) only
    where the configuration has at most ``latency_max_gmacs`` GMACs, and is NaN elsewhere. Returns a
    pandas DataFrame indexed by (how, phi).
    """
    import pandas as pd

    rows = []
    measured: dict[Scaling, float] = {}  # phi = 0 is B0 for every `how`: time it once
    for how in hows:
        for phi in phis:
            s = scale_one(phi, how)
            c = cost(s.width, s.depth, s.resolution, num_classes)
            ms = math.nan
            if c.total_macs <= latency_max_gmacs * 1e9:
                if s not in measured:
                    model = efficientnet(num_classes, width_mult=s.width, depth_mult=s.depth)
                    size = (1, 3, s.resolution, s.resolution)
                    measured[s] = 1000 * latency(model, size, repeats=repeats, threads=threads)
                ms = measured[s]
            rows.append(
                {
                    "how": how,
                    "phi": phi,
                    "depth": s.depth,
                    "width": s.width,
                    "resolution": s.resolution,
                    "blocks": sum(st.layers for st in scaled_stages(s.width, s.depth)),
                    "params": c.total_params,
                    "GMACs": c.total_macs / 1e9,
                    "latency_ms": ms,
                }
            )
    return pd.DataFrame(rows).set_index(["how", "phi"])


def variant_table(num_classes: int = 1000) -> pd.DataFrame:
    """B0-B7: released coefficients, the phi each coefficient implies, and params / MACs (ours vs paper vs torchvision).

    Ours come from ``cost`` (equal to counting the built models); GMACs are given at the paper's resolution
    (against the paper's "FLOPS", which are multiply-adds) and at torchvision's evaluation crop (against its
    "GFLOPS" column, also multiply-adds). The paper gives no phi per variant: the three "phi from" columns
    solve ALPHA**phi = depth, BETA**phi = width, 224 * GAMMA**phi = resolution and disagree.
    """
    import pandas as pd

    rows = {}
    for name, v in VARIANTS.items():
        c = card(name)
        ours = cost(v.width, v.depth, v.resolution, num_classes)
        crop = c.ref_crop or v.resolution
        rows[name.replace("efficientnet_", "").upper()] = {
            "width": v.width,
            "depth": v.depth,
            "resolution": v.resolution,
            "phi from depth": math.log(v.depth) / math.log(ALPHA),
            "phi from width": math.log(v.width) / math.log(BETA),
            "phi from resolution": math.log(v.resolution / BASE_RESOLUTION) / math.log(GAMMA),
            "params (nets)": ours.total_params,
            "params (paper, M)": c.paper_params_m,
            "params (torchvision)": c.ref_params,
            "GMACs @ paper res (nets)": ours.total_macs / 1e9,
            "GFLOPS (paper)": c.paper_gmacs,
            "torchvision crop": crop,
            "GMACs @ crop (nets)": cost(v.width, v.depth, crop, num_classes).total_macs / 1e9,
            "GMACs @ crop (torchvision)": c.ref_gmacs,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# Inside a built model


def _blocks(model: nn.Module) -> list[tuple[str, MBConv]]:
    blocks = [(name.removeprefix("stages."), m) for name, m in model.named_modules() if isinstance(m, MBConv)]
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no MBConv blocks; pass an EfficientNet")
    return blocks


def stochastic_depth_schedule(model: nn.Module) -> list[tuple[str, float | None]]:
    """(block name, drop probability) for every MBConv in forward order; None where the block has no shortcut.

    A block that changes shape (the first of a stage that strides or widens) has no residual branch to drop.
    """
    return [
        (name, block.stochastic_depth.p if block.use_residual else None) for name, block in _blocks(model)
    ]


def se_gates(model: nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The squeeze-and-excitation gate (one value in (0, 1) per channel) of every MBConv for ``image[0]``.

    Runs the model once in eval mode without gradients; returns ``{block name: tensor (channels,)}``.
    """
    gates = {name: block.squeeze_excite.gate for name, block in _blocks(model)}
    return probes.record(
        model,
        image[:1],
        gates,
        capture=lambda _m, _inputs, output: output[0].detach().flatten().float().cpu(),
    )


def stage_table(model: EfficientNet, image_size: int = BASE_RESOLUTION) -> pd.DataFrame:
    """The paper's Table 1 read off a built model: operator, input and output resolution (measured), channels, layers.

    One row per part in forward order (stem, stage1-7, head), numbered as the paper numbers its stages (1-9).
    Resolutions come from running a zero image of ``image_size`` px through the model (eval, no gradients).
    """
    import pandas as pd

    if not isinstance(model, EfficientNet):
        raise TypeError(f"stage_table expects a nets EfficientNet, got {type(model).__name__}")
    parts = [("stem", model.stem), *model.stages.named_children(), ("head", model.head)]
    shapes = probes.record(
        model,
        torch.zeros(1, 3, image_size, image_size),
        dict(parts),
        capture=lambda _m, inputs, output: (tuple(inputs[0].shape), tuple(output.shape)),
    )
    rows = []
    for number, (name, module) in enumerate(parts, start=1):
        if name == "stem":
            operator, layers = "Conv3x3, stride 2", 1
        elif name == "head":
            operator, layers = "Conv1x1 & Pooling & FC", 1
        else:
            first: MBConv = module[0]
            conv = first.depthwise.conv
            expand = (
                1
                if isinstance(first.expand, nn.Identity)
                else conv.in_channels // first.expand.conv.in_channels
            )
            operator = (
                f"MBConv{expand}, k{conv.kernel_size[0]}x{conv.kernel_size[1]}, stride {conv.stride[0]}"
            )
            layers = len(module)
        (_, _, h_in, w_in), (_, c_out, h_out, w_out) = shapes[name]
        rows.append(
            {
                "paper stage": number,
                "part": f"stages.{name}" if name.startswith("stage") else name,
                "operator": operator,
                "input resolution": f"{h_in}x{w_in}",
                "output resolution": f"{h_out}x{w_out}",
                "channels": c_out,
                "layers": layers,
                "params": sum(p.numel() for p in module.parameters())
                + (sum(p.numel() for p in model.classifier.parameters()) if name == "head" else 0),
            }
        )
    return pd.DataFrame(rows).set_index("paper stage")
