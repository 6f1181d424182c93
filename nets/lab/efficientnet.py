"""What the EfficientNet chapter measures: costs by arithmetic, the scaling study, B0-B7 against the paper.

``cost`` counts a configuration's parameters and multiply-accumulates by kind of layer, from the stage
table alone; ``scale_one`` and ``scaling_study`` set compound scaling against one dimension alone at the
same FLOP budget (timing the smaller networks with ``latency``); ``equal_macs_arms``, ``train_arms`` and
``scaling_verdict`` train a small base network scaled four ways to the same MACs, several seeds each, and
say whether compound scaling learned better than the best single dimension by more than the spread
between seeds (``nets.lab.verdicts.compare``); ``variant_table`` sets B0-B7 against
the paper and torchvision; ``stage_table`` reads the paper's Table 1 off a built model;
``stochastic_depth_schedule`` and ``se_gates`` look inside its blocks. The models are
``nets.models.efficientnet``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .. import probes
from ..cards import card
from ..checks import check_choice, check_float, check_input_size, check_int
from ..data import balanced_subset
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
from ..train import fit
from .tables import dashed
from .verdicts import Comparison, compare

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_PARTS",
    "FLOPS_PER_PHI",
    "PAPER_GAIN_POINTS",
    "SCALINGS",
    "Cost",
    "ScalingVerdict",
    "cost",
    "equal_macs_arms",
    "latency",
    "per_seed",
    "scale_one",
    "scaling_study",
    "scaling_verdict",
    "se_gates",
    "stage_table",
    "stochastic_depth_schedule",
    "train_arms",
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
    x = torch.randn(check_input_size(input_size), generator=torch.Generator().manual_seed(0)).to(
        probes.device_of(model)
    )
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
    return dashed(pd.DataFrame(rows).set_index(["how", "phi"]))


# Compound scaling against one dimension alone, trained
#
# The paper's evidence is accuracy at roughly equal FLOPs: its Table 3 scales MobileNetV1 and ResNet-50 by one
# dimension or by the compound rule, its Figure 8 does the same for B0. We cannot train those networks
# here, but we can scale a small base network four ways to the same MACs and train each one for the same
# number of steps on the same images.

# Compound over one dimension alone in the paper's Table 3, in points of ImageNet top-1: from +0.7 (ResNet-50,
# over depth alone) to +2.9 (MobileNetV1, over resolution alone); +0.6 for MobileNetV2 over depth alone.
PAPER_GAIN_POINTS = (0.7, 2.9)


def _arm(how: str, width: float, depth: float, resolution: int, num_classes: int) -> dict:
    c = cost(width, depth, resolution, num_classes)
    return {
        "how": how,
        "width": width,
        "depth": depth,
        "resolution": resolution,
        "blocks": sum(s.layers for s in scaled_stages(width, depth)),
        "params": c.total_params,
        "MMACs": c.total_macs / 1e6,
    }


def equal_macs_arms(
    width: float = 0.5,
    depth: float = 0.25,
    resolution: int = 24,
    phi: float = 2.0,
    num_classes: int = 10,
) -> pd.DataFrame:
    """A small base network and four ways to scale it to the same MACs, one row each (index ``how``).

    ``"compound"`` multiplies the base's width, depth and resolution by ``BETA**phi``, ``ALPHA**phi`` and
    ``GAMMA**phi`` (the paper's rule); ``"depth only"``, ``"width only"`` and ``"resolution only"`` grow
    that one dimension until the network's MACs (counted by ``cost``, rounding included) come closest
    to the compound network's. Columns: ``width`` and ``depth`` (multipliers of B0's), ``resolution``
    (px), ``blocks``, ``params``, ``MMACs`` and ``MACs vs compound``. Channels round to multiples of 8
    and layers to whole blocks, so the match is close rather than exact (the last column says how close).
    """
    import pandas as pd

    width = check_float("width", width, low=0.0, low_open=True)
    depth = check_float("depth", depth, low=0.0, low_open=True)
    resolution = check_int("resolution", resolution, minimum=MIN_SIZE)
    phi = check_float("phi", phi, low=0.0, low_open=True)
    compound = (width * BETA**phi, depth * ALPHA**phi, round(resolution * GAMMA**phi))
    target = cost(*compound, num_classes).total_macs

    def closest(candidates: list[tuple[float, float, int]]) -> tuple[float, float, int]:
        # the first (smallest) candidate among those whose MACs are nearest the target's, on a log scale
        return min(candidates, key=lambda c: abs(math.log(cost(*c, num_classes).total_macs / target)))

    grow = [1 + i / 200 for i in range(1, 1400)]  # a factor from 1.005 to 8, in steps of 0.005
    arms = [
        _arm("base", width, depth, resolution, num_classes),
        _arm("compound", *compound, num_classes),
        _arm("depth only", *closest([(width, depth * g, resolution) for g in grow]), num_classes),
        _arm("width only", *closest([(width * g, depth, resolution) for g in grow if g <= 4]), num_classes),
        _arm(
            "resolution only",
            *closest([(width, depth, r) for r in range(resolution + 1, 4 * resolution)]),
            num_classes,
        ),
    ]
    frame = pd.DataFrame(arms).set_index("how")
    frame["MACs vs compound"] = frame["MMACs"] / frame.loc["compound", "MMACs"]
    frame.attrs["phi"] = phi
    return dashed(frame)


def _arm_data(data, steps: int, batch_size: int, val_per_class: int):
    """The images every arm trains on (``steps`` batches, class-balanced) and is validated on."""
    k = len(data.classes)
    return dataclasses.replace(
        data,
        train=balanced_subset(data.train, -(-steps * batch_size // k)),
        val=balanced_subset(data.val, val_per_class),
    )


def _train_arm(arm, data, seed: int, **fit_kwargs) -> tuple[float, float, float]:
    """One arm (a row of ``equal_macs_arms``) trained for one epoch of ``data`` from ``seed``:
    (val top-1 %, final train loss, seconds)."""
    torch.manual_seed(seed)
    model = efficientnet(len(data.classes), width_mult=float(arm["width"]), depth_mult=float(arm["depth"]))
    model.name = f"{arm.name} ({model.name}, {int(arm['resolution'])} px)"
    nn.init.zeros_(model.classifier.fc.weight)  # every arm starts at a loss of ln k
    start = time.perf_counter()
    history = fit(model, data, epochs=1, image_size=int(arm["resolution"]), optimizer="adamw", seed=seed,
                  **fit_kwargs)  # fmt: skip
    return 100 * history.final["val_top1"], history.final["train_loss"], time.perf_counter() - start


def train_arms(
    arms: pd.DataFrame,
    data,
    *,
    steps: int = 100,
    batch_size: int = 32,
    val_per_class: int = 100,
    lr: float = 3e-3,
    seeds: Sequence[int] = (0, 1, 2),
    device: str | torch.device = "auto",
    channels_last: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """Train every scaled arm of ``equal_macs_arms`` (not the base) for the same number of optimiser steps,
    once per seed in ``seeds``.

    One recipe for all: the same ``steps * batch_size`` training images (class-balanced, one epoch) and
    ``val_per_class`` validation images per class, AdamW at ``lr`` with ``nets.train.fit``'s one-cycle
    schedule, the classifier's weights zeroed (every arm starts at a loss of ln k), each arm at its own
    resolution; ``channels_last`` only speeds up the depthwise convolutions on a CPU. A seed sets the
    initial weights and the order of the batches; the images stay the same.

    Returns the arms' rows with ``val top-1 %`` (the mean over the seeds), a ``seed N`` column per seed,
    ``spread`` (the arm's highest seed minus its lowest, in points), ``train loss`` (mean) and ``seconds
    per run``. ``per_seed`` reads the seeds back for ``scaling_verdict``; ``attrs`` holds steps,
    batch_size, val_images, seeds and ``measured`` (the protocol in words, for the verdict).
    """
    steps = check_int("steps", steps)
    batch_size = check_int("batch_size", batch_size)
    val_per_class = check_int("val_per_class", val_per_class)
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"train_arms needs at least one seed and no seed twice, got {seeds}")
    results = arms.drop(index="base", errors="ignore").copy()
    small = _arm_data(data, steps, batch_size, val_per_class)
    runs: dict[str, list[tuple[float, float, float]]] = {how: [] for how in results.index}
    for seed in seeds:  # seed by seed, so that a machine growing busier slows every arm alike
        for how in results.index:
            runs[how].append(_train_arm(results.loc[how], small, seed, batch_size=batch_size, lr=lr,
                                        device=device, channels_last=channels_last, progress=progress))  # fmt: skip
    top1 = {how: [r[0] for r in rs] for how, rs in runs.items()}
    results["val top-1 %"] = [sum(v) / len(v) for v in top1.values()]
    for i, seed in enumerate(seeds):
        results[f"seed {seed}"] = [v[i] for v in top1.values()]
    results["spread"] = [max(v) - min(v) for v in top1.values()]
    results["train loss"] = [sum(r[1] for r in rs) / len(rs) for rs in runs.values()]
    results["seconds per run"] = [sum(r[2] for r in rs) / len(rs) for rs in runs.values()]
    sizes = sorted({int(r) for r in results["resolution"]})
    results.attrs |= {
        "steps": len(small.train) // batch_size,
        "batch_size": batch_size,
        "val_images": len(small.val),
        "seeds": seeds,
        "measured": f"val top-1 on {len(small.val):,} {small.source} images after {len(small.train) // batch_size} "
        f"AdamW steps of {batch_size} images at {sizes[0]}-{sizes[-1]} px, {len(seeds)} seeds per arm",
    }
    return results


def per_seed(results: pd.DataFrame) -> dict[str, list[float]]:
    """Each arm's per-seed val top-1 (%) from ``train_arms``' ``seed N`` columns: ``{arm: [seed 0, ...]}``."""
    columns = [c for c in results.columns if isinstance(c, str) and c.startswith("seed ")]
    if not columns:
        raise ValueError("results has no 'seed N' columns: pass the frame train_arms returned")
    return {str(how): [float(results.loc[how, c]) for c in columns] for how in results.index}


@dataclass(frozen=True)
class ScalingVerdict:
    """What ``scaling_verdict`` decided, and the comparison it decided from (accuracies in % top-1)."""

    best: str  # the arm with the highest mean
    rival: str  # the single-dimension arm with the highest mean: whom compound scaling is measured against
    comparison: Comparison  # compound scaling against ``rival``, seed by seed (``nets.lab.verdicts.compare``)
    agrees: bool | None  # compound clearly ahead: True; ``rival`` clearly ahead: False; else None
    text: str

    @property
    def clear(self) -> bool:
        return self.agrees is not None


def _alone(how: str) -> str:  # "width only" -> "width alone"; "compound" -> "compound scaling"
    return "compound scaling" if how == "compound" else how.replace(" only", " alone")


def scaling_verdict(top1: Mapping[str, Sequence[float]], measured: str = "") -> ScalingVerdict:
    """Did compound scaling learn better than the best single dimension, beyond the seed-to-seed spread?

    ``top1``: each arm's val top-1 (%) per seed (``per_seed(train_arms(...))``), with ``"compound"``
    and at least one single-dimension arm. Compound scaling is set against the single-dimension arm with
    the highest mean by ``nets.lab.verdicts.compare``: clearly ahead or behind only when every seed of one
    beats every seed of the other and the gap of the means exceeds the spread between seeds; otherwise
    "no clear difference". ``measured`` says in words what was measured (``train_arms``' ``attrs``); the
    verdict reports that, and names no figure of the paper, whose protocol (full ImageNet training) it is not.
    """
    singles = [how for how in top1 if how in SCALINGS[1:]]
    if "compound" not in top1 or not singles:
        raise ValueError(
            f"scaling_verdict needs 'compound' and at least one of {SCALINGS[1:]}, got {list(top1)}"
        )
    means = {how: sum(v) / len(v) for how, v in top1.items() if len(v)}
    rival = max(singles, key=lambda how: means.get(how, -math.inf))
    c = compare(_alone("compound"), top1["compound"], _alone(rival), top1[rival], unit="points",
                what="val top-1")  # fmt: skip
    agrees = None if c.winner is None else c.winner == _alone("compound")
    lead = {True: "compound scaling learned best at equal MACs", None: "no clear difference at equal MACs",
            False: f"{_alone(rival)} learned better than compound scaling at equal MACs"}[agrees]  # fmt: skip
    text = f"Verdict: {lead}. Against {_alone(rival)}, the best single dimension: {c.text}."
    if measured:
        text += f" Measured: {measured}."
    return ScalingVerdict(max(means, key=means.get), rival, c, agrees, text)


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
    return dashed(pd.DataFrame.from_dict(rows, orient="index"))


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
    return dashed(pd.DataFrame(rows).set_index("paper stage"))
