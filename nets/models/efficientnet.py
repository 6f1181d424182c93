"""EfficientNet B0-B7 and the compound scaling rule that makes them.

Mingxing Tan and Quoc V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019, arXiv 1905.11946.

The paper's two ideas, in the order this file follows them:

1. A baseline found by architecture search, EfficientNet-B0 (paper Table 1): a stem convolution,
   seven stages of MBConv blocks (MobileNetV2's inverted residual with squeeze-and-excitation and
   swish), a 1x1 head convolution, pooling and one fully connected layer.
2. Compound scaling: grow depth, width and input resolution together with one knob ``phi``,
   ``depth = ALPHA**phi, width = BETA**phi, resolution = GAMMA**phi``, with
   ``ALPHA * BETA**2 * GAMMA**2 ~ 2`` so each unit of ``phi`` roughly doubles the FLOPs.

The released B1-B7 use rounded coefficients (``VARIANTS`` below, as in the official TensorFlow code,
timm and torchvision), not ``compound_scaling(phi)`` for any integer ``phi``: the paper never states
a ``phi`` per variant. ``efficientnet_phi`` builds the network the formula itself gives.

At the bottom, the key map that copies torchvision's weights in (``from_torchvision``). What the book's
chapter measures on these models (costs by arithmetic, the scaling study, B0-B7 against the paper)
is in ``nets.lab.efficientnet``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from ..checks import check_float, check_int, check_probability
from ..layers import ConvBNAct, SqueezeExcite, StochasticDepth, check_images, make_divisible
from ..registry import builds, register
from ..weights import copy_weights, expect_reference

__all__ = [
    "ALPHA",
    "B0_STAGES",
    "BETA",
    "GAMMA",
    "VARIANTS",
    "EfficientNet",
    "MBConv",
    "Scaling",
    "Stage",
    "Variant",
    "compound_scaling",
    "efficientnet",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
    "efficientnet_phi",
    "from_torchvision",
    "scaled_stages",
]


class Stage(NamedTuple):
    """One row of the paper's Table 1: ``layers`` MBConv blocks, the first one with ``stride``."""

    expand_ratio: int  # "MBConv6" widens the block input 6x inside the block; "MBConv1" does not
    kernel: int  # depthwise kernel, 3x3 or 5x5
    stride: int
    channels: int  # output channels of every block in the stage
    layers: int


# Paper Table 1, stages 2-8 (stage 1 is the stem, stage 9 the head).
B0_STAGES: tuple[Stage, ...] = (
    #     expand kernel stride channels layers
    Stage(1, 3, 1, 16, 1),  # MBConv1, k3x3, 112x112 -> 112x112
    Stage(6, 3, 2, 24, 2),  # MBConv6, k3x3, -> 56x56
    Stage(6, 5, 2, 40, 2),  # MBConv6, k5x5, -> 28x28
    Stage(6, 3, 2, 80, 3),  # MBConv6, k3x3, -> 14x14
    Stage(6, 5, 1, 112, 3),  # MBConv6, k5x5, 14x14
    Stage(6, 5, 2, 192, 4),  # MBConv6, k5x5, -> 7x7
    Stage(6, 3, 1, 320, 1),  # MBConv6, k3x3, 7x7
)
B0_STEM_CHANNELS = 32  # stage 1: Conv3x3, stride 2
B0_HEAD_CHANNELS = 1280  # stage 9: Conv1x1, then pooling and FC
SE_RATIO = 0.25  # squeeze-excite bottleneck, as a fraction of the block's INPUT channels


class Variant(NamedTuple):
    """The released coefficients of one EfficientNet (TF reference code, timm and torchvision agree)."""

    width: float
    depth: float
    resolution: int  # the paper's input size for this variant
    dropout: float  # before the classifier
    bn_eps: float  # torchvision's B5-B7 use the TF BatchNorm settings, B0-B4 PyTorch's defaults
    bn_momentum: float


VARIANTS: dict[str, Variant] = {
    "efficientnet_b0": Variant(1.0, 1.0, 224, 0.2, 1e-5, 0.1),
    "efficientnet_b1": Variant(1.0, 1.1, 240, 0.2, 1e-5, 0.1),
    "efficientnet_b2": Variant(1.1, 1.2, 260, 0.3, 1e-5, 0.1),
    "efficientnet_b3": Variant(1.2, 1.4, 300, 0.3, 1e-5, 0.1),
    "efficientnet_b4": Variant(1.4, 1.8, 380, 0.4, 1e-5, 0.1),
    "efficientnet_b5": Variant(1.6, 2.2, 456, 0.4, 1e-3, 0.01),
    "efficientnet_b6": Variant(1.8, 2.6, 528, 0.5, 1e-3, 0.01),
    "efficientnet_b7": Variant(2.0, 3.1, 600, 0.5, 1e-3, 0.01),
}

# Every stride is "same"-padded (kernel // 2), so a 1x1 image stays 1x1 through all five
# stride-2 layers: the network accepts any input of at least one pixel (torchvision's metadata
# says min_size (1, 1) too). Inputs far below the training size give poor predictions, not errors.
MIN_SIZE = 1

# Compound scaling (paper eq. 3): found by a small grid search at phi = 1 under
# alpha * beta**2 * gamma**2 ~ 2 (FLOPs grow with depth, and with the square of width and resolution).
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15
BASE_RESOLUTION = 224


@dataclass(frozen=True)
class Scaling:
    """How much compound scaling with one ``phi`` deepens, widens and enlarges B0."""

    depth: float  # multiplies every stage's layer count (rounded up)
    width: float  # multiplies every channel count (rounded to a multiple of 8)
    resolution: int  # input side in pixels


def compound_scaling(phi: float) -> Scaling:
    """The paper's compound scaling for coefficient ``phi``: depth ALPHA**phi, width BETA**phi, 224*GAMMA**phi px.

    ``compound_scaling(0)`` is B0 itself and ``compound_scaling(1)`` gives exactly (ALPHA, BETA, 258 px).
    This is the formula, not the released models: B1-B7 use hand-rounded coefficients (``VARIANTS``)
    and the paper gives no ``phi`` for them (B7's depth 3.1 would be phi ~ 6.2 but its width 2.0 phi ~ 7.3).
    """
    phi = check_float("phi", phi)
    resolution = round(BASE_RESOLUTION * GAMMA**phi)
    if resolution < MIN_SIZE:
        raise ValueError(f"phi={phi} scales the input to {resolution} pixels; use a larger phi")
    return Scaling(depth=ALPHA**phi, width=BETA**phi, resolution=resolution)


def scaled_stages(width_mult: float = 1.0, depth_mult: float = 1.0) -> list[Stage]:
    """B0's stage table after scaling: channels make_divisible(c * width, 8), layers ceil(n * depth).

    This is the rounding of the official code; e.g. ``scaled_stages(1.1, 1.2)`` is B2's table.
    """
    width_mult = check_float("width_mult", width_mult, low=0.0, low_open=True)
    depth_mult = check_float("depth_mult", depth_mult, low=0.0, low_open=True)
    return [
        s._replace(
            channels=make_divisible(s.channels * width_mult, 8), layers=math.ceil(s.layers * depth_mult)
        )
        for s in B0_STAGES
    ]


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation (MobileNetV2 + SENet), EfficientNet's only block.

    expand 1x1 (widen ``expand_ratio`` times) -> depthwise kxk (the stride lives here) -> squeeze-excite
    -> project 1x1 back down, with no activation (a "linear bottleneck"). When the block keeps the
    shape, its input is added back, the residual branch dropped at random while training (stochastic depth).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel: int,
        stride: int,
        drop_prob: float,
        *,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        hidden = make_divisible(in_channels * expand_ratio, 8)
        # MBConv1 has nothing to expand; the reference code then skips the 1x1 conv entirely.
        if hidden != in_channels:
            self.expand = ConvBNAct(in_channels, hidden, kernel_size=1, act=nn.SiLU, **bn)
        else:
            self.expand = nn.Identity()
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU, **bn)
        self.squeeze_excite = SqueezeExcite(hidden, max(1, int(in_channels * SE_RATIO)), act=nn.SiLU)
        self.project = ConvBNAct(hidden, out_channels, kernel_size=1, act=None, **bn)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(drop_prob) if self.use_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x)
        out = self.depthwise(out)
        out = self.squeeze_excite(out)
        out = self.project(out)
        if self.use_residual:
            out = self.stochastic_depth(out) + x  # the residual
        return out


class EfficientNet(nn.Module):
    """B0 (paper Table 1) widened by ``width_mult`` and deepened by ``depth_mult``.

    ``stem`` (conv3x3 s2) -> ``stages`` (seven stages of MBConv) -> ``head`` (conv1x1) -> ``pool``
    -> ``classifier`` (dropout, fc). The paper's Table 1 numbers these stages 1-9: the stem is stage 1,
    the modules ``stages.stage1`` ... ``stages.stage7`` are its stages 2-8, and the head is stage 9. Stochastic depth grows linearly over the blocks, from 0 at
    the first block to ``stochastic_depth * (n - 1) / n`` at the last (as the reference code does).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        stochastic_depth: float = 0.2,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        name: str | None = None,
        default_size: int = BASE_RESOLUTION,
    ) -> None:
        super().__init__()
        num_classes = check_int("num_classes", num_classes)
        width_mult = check_float("width_mult", width_mult, low=0.0, low_open=True)
        depth_mult = check_float("depth_mult", depth_mult, low=0.0, low_open=True)
        dropout = check_probability("dropout", dropout)
        stochastic_depth = check_probability("stochastic_depth", stochastic_depth)
        stages = scaled_stages(width_mult, depth_mult)
        self.name = name or f"efficientnet(width_mult={width_mult:g}, depth_mult={depth_mult:g})"
        self.min_size = MIN_SIZE
        self.default_size = default_size
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}

        stem_channels = make_divisible(B0_STEM_CHANNELS * width_mult, 8)
        head_channels = make_divisible(B0_HEAD_CHANNELS * width_mult, 8)
        self.stem = ConvBNAct(3, stem_channels, 3, stride=2, act=nn.SiLU, **bn)

        total_blocks = sum(s.layers for s in stages)
        block_index = 0
        in_channels = stem_channels
        named_stages = OrderedDict()
        for stage_number, stage in enumerate(stages, start=1):
            blocks = OrderedDict()
            for i in range(stage.layers):
                drop_prob = stochastic_depth * block_index / total_blocks
                stride = stage.stride if i == 0 else 1
                block = MBConv(
                    in_channels, stage.channels, stage.expand_ratio, stage.kernel, stride, drop_prob, **bn
                )
                blocks[f"block{i + 1}"] = block
                in_channels = stage.channels
                block_index += 1
            named_stages[f"stage{stage_number}"] = nn.Sequential(blocks)
        self.stages = nn.Sequential(named_stages)

        self.head = ConvBNAct(in_channels, head_channels, kernel_size=1, act=nn.SiLU, **bn)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            OrderedDict(dropout=nn.Dropout(dropout), fc=nn.Linear(head_channels, num_classes))
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # The reference code's initialisation, so a model trained from scratch here starts where theirs does.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
        x = self.stem(x)
        x = self.stages(x)
        x = self.head(x)
        x = self.pool(x).flatten(1)
        return self.classifier(x)


@builds(EfficientNet, name=None)  # the name says the multipliers: "efficientnet(width_mult=1.1, ...)"
def efficientnet():
    """An EfficientNet with any width and depth multipliers: the builder behind B0-B7 and the book's widget.

    ``efficientnet()`` is B0, ``efficientnet(width_mult=1.1, depth_mult=1.2, dropout=0.3)`` is B2's
    architecture. Channels round with make_divisible(c * width, 8) (stem, stages and the 1280-channel
    head alike) and layer counts with ceil(n * depth), as in the official code. ``default_size`` only
    records the input side the model is meant for; the network accepts any size from 1 pixel up.
    """


def efficientnet_phi(
    num_classes: int = 1000, *, phi: float, dropout: float = 0.2, stochastic_depth: float = 0.2
) -> EfficientNet:
    """The network compound scaling gives for ``phi``, with ``default_size`` set to its resolution.

    ``efficientnet_phi(phi=0)`` is B0. For ``phi > 0`` this is the paper's formula applied literally,
    which is not the released B1-B7: those use rounded coefficients (see ``VARIANTS``) and larger
    dropout, and the paper does not say which ``phi`` each corresponds to.
    """
    scaling = compound_scaling(phi)
    model = efficientnet(
        num_classes,
        width_mult=scaling.width,
        depth_mult=scaling.depth,
        dropout=dropout,
        stochastic_depth=stochastic_depth,
        default_size=scaling.resolution,
    )
    model.name = f"efficientnet_phi({phi:g})"
    return model


def _variant(name: str) -> dict:
    """``EfficientNet``'s arguments for a released variant (its ``dropout`` is the factory's default)."""
    v = VARIANTS[name]
    return dict(
        width_mult=v.width,
        depth_mult=v.depth,
        dropout=v.dropout,
        bn_eps=v.bn_eps,
        bn_momentum=v.bn_momentum,
        name=name,
        default_size=v.resolution,
    )


def _released(name: str, display: str, weights: str):
    """``@register`` for a released variant: its sizes come from ``VARIANTS`` and ``MIN_SIZE``."""
    return register(
        name,
        display=display,
        family="efficientnet",
        default_size=VARIANTS[name].resolution,
        min_size=MIN_SIZE,
        weights=weights,
        convert="from_torchvision",
    )


# One factory per released variant; each one's dropout defaults to its variant's own (0.2 ... 0.5).


@_released("efficientnet_b0", "EfficientNet-B0", "torchvision:EfficientNet_B0_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b0"))
def efficientnet_b0():
    """EfficientNet-B0, the searched baseline: width 1.0, depth 1.0, 224 px, 5.3M parameters."""


@_released("efficientnet_b1", "EfficientNet-B1", "torchvision:EfficientNet_B1_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b1"))
def efficientnet_b1():
    """EfficientNet-B1: width 1.0, depth 1.1, 240 px."""


@_released("efficientnet_b2", "EfficientNet-B2", "torchvision:EfficientNet_B2_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b2"))
def efficientnet_b2():
    """EfficientNet-B2: width 1.1, depth 1.2, 260 px (torchvision's weights are evaluated at 288 px)."""


@_released("efficientnet_b3", "EfficientNet-B3", "torchvision:EfficientNet_B3_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b3"))
def efficientnet_b3():
    """EfficientNet-B3: width 1.2, depth 1.4, 300 px."""


@_released("efficientnet_b4", "EfficientNet-B4", "torchvision:EfficientNet_B4_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b4"))
def efficientnet_b4():
    """EfficientNet-B4: width 1.4, depth 1.8, 380 px."""


@_released("efficientnet_b5", "EfficientNet-B5", "torchvision:EfficientNet_B5_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b5"))
def efficientnet_b5():
    """EfficientNet-B5: width 1.6, depth 2.2, 456 px; BatchNorm eps 1e-3, momentum 0.01."""


@_released("efficientnet_b6", "EfficientNet-B6", "torchvision:EfficientNet_B6_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b6"))
def efficientnet_b6():
    """EfficientNet-B6: width 1.8, depth 2.6, 528 px; BatchNorm eps 1e-3, momentum 0.01."""


@_released("efficientnet_b7", "EfficientNet-B7", "torchvision:EfficientNet_B7_Weights.IMAGENET1K_V1")
@builds(EfficientNet, "dropout", "stochastic_depth", **_variant("efficientnet_b7"))
def efficientnet_b7():
    """EfficientNet-B7: width 2.0, depth 3.1, 600 px, 66M parameters; BatchNorm eps 1e-3, momentum 0.01."""


# Loading reference weights


def _torchvision_key_map(model: EfficientNet) -> list[tuple[str, str]]:
    """(our module, torchvision's module) for every layer that holds tensors, in forward order.

    torchvision: ``features.0`` stem, ``features.1-7`` the stages, ``features.8`` head,
    ``classifier.1`` the fc; a block is ``block.<k>`` with the expand conv absent for MBConv1,
    each conv ``<k>.0`` and its BatchNorm ``<k>.1``, squeeze-excite ``fc1``/``fc2``.
    """
    pairs: list[tuple[str, str]] = []

    def conv_bn(ours: str, theirs: str) -> None:
        pairs.extend([(f"{ours}.conv", f"{theirs}.0"), (f"{ours}.bn", f"{theirs}.1")])

    conv_bn("stem", "features.0")
    for s, (stage_name, stage) in enumerate(model.stages.named_children(), start=1):
        for b, (block_name, block) in enumerate(stage.named_children()):
            ours, theirs = f"stages.{stage_name}.{block_name}", f"features.{s}.{b}.block"
            k = 0
            if isinstance(block.expand, ConvBNAct):
                conv_bn(f"{ours}.expand", f"{theirs}.0")
                k = 1
            conv_bn(f"{ours}.depthwise", f"{theirs}.{k}")
            pairs.append((f"{ours}.squeeze_excite.reduce", f"{theirs}.{k + 1}.fc1"))
            pairs.append((f"{ours}.squeeze_excite.expand", f"{theirs}.{k + 1}.fc2"))
            conv_bn(f"{ours}.project", f"{theirs}.{k + 2}")
    conv_bn("head", f"features.{len(model.stages) + 1}")
    pairs.append(("classifier.fc", "classifier.1"))
    return pairs


def from_torchvision(reference: nn.Module) -> EfficientNet:
    """The equivalent of a torchvision EfficientNet B0-B7 (any ``num_classes``), with its weights copied.

    The variant is recognised from the stage table (channels and layer counts); BatchNorm settings,
    dropout and stochastic depth are read from the model; ``copy_weights`` copies every layer through
    the key map, checking it. EfficientNetV2 (fused blocks) and custom widths/depths raise ``ValueError``.
    """
    from torchvision.models.efficientnet import EfficientNet as TVEfficientNet
    from torchvision.models.efficientnet import MBConv as TVMBConv

    expect_reference(
        reference, TVEfficientNet, "a torchvision EfficientNet (e.g. torchvision.models.efficientnet_b0())"
    )
    tv_stages = list(reference.features)[1:-1]
    blocks = [block for stage in tv_stages for block in stage]
    if not all(isinstance(block, TVMBConv) for block in blocks):
        raise ValueError(
            "from_torchvision converts EfficientNet B0-B7 (MBConv blocks only); this model has "
            "FusedMBConv blocks, i.e. it is an EfficientNetV2, which nets does not implement."
        )
    table = [(stage[0].out_channels, len(stage)) for stage in tv_stages]
    known = {
        n: [(s.channels, s.layers) for s in scaled_stages(v.width, v.depth)] for n, v in VARIANTS.items()
    }
    name = next((n for n, stages in known.items() if stages == table), None)
    if name is None:
        raise ValueError(
            f"this torchvision EfficientNet has stages (channels, layers) {table}, which match none of "
            f"B0-B7; from_torchvision converts only the released variants."
        )
    v = VARIANTS[name]
    bn = reference.features[0][1]
    # torchvision gives block i the drop probability p * i / n_blocks; recover p from the second block.
    sd_p = blocks[1].stochastic_depth.p * len(blocks) if len(blocks) > 1 else 0.2
    model = EfficientNet(
        reference.classifier[1].out_features,
        width_mult=v.width,
        depth_mult=v.depth,
        dropout=reference.classifier[0].p,
        stochastic_depth=round(sd_p, 6),
        bn_eps=bn.eps,
        bn_momentum=bn.momentum,
        name=name,
        default_size=v.resolution,
    )
    return copy_weights(model, reference, _torchvision_key_map(model))
