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

At the bottom, what the book's chapter measures: ``cost`` (params and MACs by arithmetic, by kind of
layer), ``scale_one`` and ``scaling_study`` (compound scaling against one dimension alone),
``variant_table`` (B0-B7 against the paper and torchvision), ``stage_table`` (Table 1 read off a
built model), ``stochastic_depth_schedule`` and ``se_gates``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from numbers import Real
from typing import NamedTuple

import torch
from torch import nn

from .layers import ConvBNAct, SqueezeExcite, StochasticDepth, check_input_size, make_divisible
from .registry import register

__all__ = [
    "ALPHA",
    "B0_STAGES",
    "BETA",
    "COST_PARTS",
    "FLOPS_PER_PHI",
    "GAMMA",
    "SCALINGS",
    "VARIANTS",
    "Cost",
    "EfficientNet",
    "MBConv",
    "Scaling",
    "Stage",
    "Variant",
    "compound_scaling",
    "cost",
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
    "latency",
    "scale_one",
    "scaled_stages",
    "scaling_study",
    "se_gates",
    "stage_table",
    "stochastic_depth_schedule",
    "variant_table",
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


def _check_real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def compound_scaling(phi: float) -> Scaling:
    """The paper's compound scaling for coefficient ``phi``: depth ALPHA**phi, width BETA**phi, 224*GAMMA**phi px.

    ``compound_scaling(0)`` is B0 itself and ``compound_scaling(1)`` gives exactly (ALPHA, BETA, 258 px).
    This is the formula, not the released models: B1-B7 use hand-rounded coefficients (``VARIANTS``)
    and the paper gives no ``phi`` for them (B7's depth 3.1 would be phi ~ 6.2 but its width 2.0 phi ~ 7.3).
    """
    phi = _check_real(phi, "phi")
    resolution = round(BASE_RESOLUTION * GAMMA**phi)
    if resolution < MIN_SIZE:
        raise ValueError(f"phi={phi} scales the input to {resolution} pixels; use a larger phi")
    return Scaling(depth=ALPHA**phi, width=BETA**phi, resolution=resolution)


def scaled_stages(width_mult: float = 1.0, depth_mult: float = 1.0) -> list[Stage]:
    """B0's stage table after scaling: channels make_divisible(c * width, 8), layers ceil(n * depth).

    This is the rounding of the official code; e.g. ``scaled_stages(1.1, 1.2)`` is B2's table.
    """
    width_mult = _check_multiplier(width_mult, "width_mult")
    depth_mult = _check_multiplier(depth_mult, "depth_mult")
    return [
        s._replace(
            channels=make_divisible(s.channels * width_mult, 8), layers=math.ceil(s.layers * depth_mult)
        )
        for s in B0_STAGES
    ]


def _check_multiplier(value: object, what: str) -> float:
    value = _check_real(value, what)
    if value <= 0:
        raise ValueError(f"{what} must be positive (1.0 is B0), got {value!r}")
    return value


def _check_probability(value: object, what: str) -> float:
    value = _check_real(value, what)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{what} is a probability and must be in [0, 1), got {value!r}")
    return value


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
    -> ``classifier`` (dropout, fc). Stochastic depth grows linearly over the blocks, from 0 at
    the first block to ``stochastic_depth * (n - 1) / n`` at the last (as the reference code does).
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        stochastic_depth: float = 0.2,
        num_classes: int = 1000,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        name: str = "efficientnet",
        default_size: int = BASE_RESOLUTION,
    ) -> None:
        super().__init__()
        stages = scaled_stages(width_mult, depth_mult)
        dropout = _check_probability(dropout, "dropout")
        stochastic_depth = _check_probability(stochastic_depth, "stochastic_depth")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.name = name
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
                blocks[f"block{i + 1}"] = MBConv(
                    in_channels,
                    stage.channels,
                    stage.expand_ratio,
                    stage.kernel,
                    stage.stride if i == 0 else 1,
                    drop_prob,
                    **bn,
                )
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
        check_input_size(x, self.min_size, self.name)
        x = self.stem(x)
        x = self.stages(x)
        x = self.head(x)
        x = self.pool(x).flatten(1)
        return self.classifier(x)


def efficientnet(
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    dropout: float = 0.2,
    stochastic_depth: float = 0.2,
    num_classes: int = 1000,
    *,
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
    default_size: int = BASE_RESOLUTION,
) -> EfficientNet:
    """An EfficientNet with any width and depth multipliers: the builder behind B0-B7 and the book's widget.

    ``efficientnet(1.0, 1.0)`` is B0, ``efficientnet(1.1, 1.2, dropout=0.3)`` is B2's architecture.
    Channels round with make_divisible(c * width, 8) (stem, stages and the 1280-channel head alike)
    and layer counts with ceil(n * depth), as in the official code. ``default_size`` only records
    the input side the model is meant for; the network accepts any size from 1 pixel up.
    """
    width_mult = _check_multiplier(width_mult, "width_mult")
    depth_mult = _check_multiplier(depth_mult, "depth_mult")
    return EfficientNet(
        width_mult=width_mult,
        depth_mult=depth_mult,
        dropout=dropout,
        stochastic_depth=stochastic_depth,
        num_classes=num_classes,
        bn_eps=bn_eps,
        bn_momentum=bn_momentum,
        name=f"efficientnet(width_mult={width_mult:g}, depth_mult={depth_mult:g})",
        default_size=default_size,
    )


def efficientnet_phi(
    phi: float, num_classes: int = 1000, dropout: float = 0.2, stochastic_depth: float = 0.2
) -> EfficientNet:
    """The network compound scaling gives for ``phi``, with ``default_size`` set to its resolution.

    ``efficientnet_phi(0)`` is B0. For ``phi > 0`` this is the paper's formula applied literally,
    which is not the released B1-B7: those use rounded coefficients (see ``VARIANTS``) and larger
    dropout, and the paper does not say which ``phi`` each corresponds to.
    """
    scaling = compound_scaling(phi)
    model = efficientnet(
        width_mult=scaling.width,
        depth_mult=scaling.depth,
        dropout=dropout,
        stochastic_depth=stochastic_depth,
        num_classes=num_classes,
        default_size=scaling.resolution,
    )
    model.name = f"efficientnet_phi({phi:g})"
    return model


def _variant(name: str, num_classes: int, dropout: float | None, stochastic_depth: float) -> EfficientNet:
    v = VARIANTS[name]
    return EfficientNet(
        width_mult=v.width,
        depth_mult=v.depth,
        dropout=v.dropout if dropout is None else dropout,
        stochastic_depth=stochastic_depth,
        num_classes=num_classes,
        bn_eps=v.bn_eps,
        bn_momentum=v.bn_momentum,
        name=name,
        default_size=v.resolution,
    )


# One factory per released variant. ``dropout=None`` means the variant's own (0.2 ... 0.5).


@register("efficientnet_b0", family="efficientnet", default_size=224, min_size=MIN_SIZE)
def efficientnet_b0(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B0, the searched baseline: width 1.0, depth 1.0, 224 px, 5.3M parameters."""
    return _variant("efficientnet_b0", num_classes, dropout, stochastic_depth)


@register("efficientnet_b1", family="efficientnet", default_size=240, min_size=MIN_SIZE)
def efficientnet_b1(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B1: width 1.0, depth 1.1, 240 px."""
    return _variant("efficientnet_b1", num_classes, dropout, stochastic_depth)


@register("efficientnet_b2", family="efficientnet", default_size=260, min_size=MIN_SIZE)
def efficientnet_b2(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B2: width 1.1, depth 1.2, 260 px (torchvision's weights are evaluated at 288 px)."""
    return _variant("efficientnet_b2", num_classes, dropout, stochastic_depth)


@register("efficientnet_b3", family="efficientnet", default_size=300, min_size=MIN_SIZE)
def efficientnet_b3(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B3: width 1.2, depth 1.4, 300 px."""
    return _variant("efficientnet_b3", num_classes, dropout, stochastic_depth)


@register("efficientnet_b4", family="efficientnet", default_size=380, min_size=MIN_SIZE)
def efficientnet_b4(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B4: width 1.4, depth 1.8, 380 px."""
    return _variant("efficientnet_b4", num_classes, dropout, stochastic_depth)


@register("efficientnet_b5", family="efficientnet", default_size=456, min_size=MIN_SIZE)
def efficientnet_b5(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B5: width 1.6, depth 2.2, 456 px; BatchNorm eps 1e-3, momentum 0.01."""
    return _variant("efficientnet_b5", num_classes, dropout, stochastic_depth)


@register("efficientnet_b6", family="efficientnet", default_size=528, min_size=MIN_SIZE)
def efficientnet_b6(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B6: width 1.8, depth 2.6, 528 px; BatchNorm eps 1e-3, momentum 0.01."""
    return _variant("efficientnet_b6", num_classes, dropout, stochastic_depth)


@register("efficientnet_b7", family="efficientnet", default_size=600, min_size=MIN_SIZE)
def efficientnet_b7(
    num_classes: int = 1000, *, dropout: float | None = None, stochastic_depth: float = 0.2
) -> EfficientNet:
    """EfficientNet-B7: width 2.0, depth 3.1, 600 px, 66M parameters; BatchNorm eps 1e-3, momentum 0.01."""
    return _variant("efficientnet_b7", num_classes, dropout, stochastic_depth)


# Loading reference weights

_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _torchvision_names(model: EfficientNet) -> dict[str, str]:
    """Map each of our state_dict keys to torchvision's, part by part.

    torchvision: ``features.0`` stem, ``features.1-7`` the stages, ``features.8`` head,
    ``classifier.1`` the fc; a block is ``block.<k>`` with the expand conv absent for MBConv1,
    each conv ``<k>.0`` and its BatchNorm ``<k>.1``, squeeze-excite ``fc1``/``fc2``.
    """
    names: dict[str, str] = {}

    def conv_bn(ours: str, theirs: str) -> None:
        names[f"{ours}.conv.weight"] = f"{theirs}.0.weight"
        for key in _BN_KEYS:
            names[f"{ours}.bn.{key}"] = f"{theirs}.1.{key}"

    conv_bn("stem", "features.0")
    for s, (stage_name, stage) in enumerate(model.stages.named_children(), start=1):
        for b, (block_name, block) in enumerate(stage.named_children()):
            ours, theirs = f"stages.{stage_name}.{block_name}", f"features.{s}.{b}.block"
            k = 0
            if isinstance(block.expand, ConvBNAct):
                conv_bn(f"{ours}.expand", f"{theirs}.0")
                k = 1
            conv_bn(f"{ours}.depthwise", f"{theirs}.{k}")
            for ours_fc, theirs_fc in (("reduce", "fc1"), ("expand", "fc2")):
                for p in ("weight", "bias"):
                    names[f"{ours}.squeeze_excite.{ours_fc}.{p}"] = f"{theirs}.{k + 1}.{theirs_fc}.{p}"
            conv_bn(f"{ours}.project", f"{theirs}.{k + 2}")
    conv_bn("head", f"features.{len(model.stages) + 1}")
    names["classifier.fc.weight"] = "classifier.1.weight"
    names["classifier.fc.bias"] = "classifier.1.bias"
    return names


def from_torchvision(tv_model: nn.Module) -> EfficientNet:
    """The equivalent of a torchvision EfficientNet B0-B7 (any ``num_classes``), with its weights copied.

    The variant is recognised from the stage table (channels and layer counts), BatchNorm settings,
    dropout and stochastic depth are read from the model; every tensor is copied by explicit name with
    its shape checked. EfficientNetV2 (fused blocks) and custom widths/depths raise ``ValueError``.
    """
    from torchvision.models.efficientnet import EfficientNet as TVEfficientNet
    from torchvision.models.efficientnet import MBConv as TVMBConv

    if not isinstance(tv_model, TVEfficientNet):
        raise TypeError(
            f"from_torchvision expects a torchvision EfficientNet (e.g. torchvision.models.efficientnet_b0()), "
            f"got {type(tv_model).__name__}"
        )
    tv_stages = list(tv_model.features)[1:-1]
    blocks = [block for stage in tv_stages for block in stage]
    if not all(isinstance(block, TVMBConv) for block in blocks):
        raise ValueError(
            "from_torchvision converts EfficientNet B0-B7 (MBConv blocks only); this model has "
            "FusedMBConv blocks, i.e. it is an EfficientNetV2, which nets does not implement."
        )
    table = [(stage[0].out_channels, len(stage)) for stage in tv_stages]
    name = next(
        (
            n
            for n, v in VARIANTS.items()
            if [(s.channels, s.layers) for s in scaled_stages(v.width, v.depth)] == table
        ),
        None,
    )
    if name is None:
        raise ValueError(
            f"this torchvision EfficientNet has stages (channels, layers) {table}, which match none of "
            f"B0-B7; from_torchvision converts only the released variants."
        )
    v = VARIANTS[name]
    bn = tv_model.features[0][1]
    fc = tv_model.classifier[1]
    # torchvision gives block i the drop probability p * i / n_blocks; recover p from the second block.
    sd_p = blocks[1].stochastic_depth.p * len(blocks) if len(blocks) > 1 else 0.2
    model = EfficientNet(
        width_mult=v.width,
        depth_mult=v.depth,
        dropout=tv_model.classifier[0].p,
        stochastic_depth=round(sd_p, 6),
        num_classes=fc.out_features,
        bn_eps=bn.eps,
        bn_momentum=bn.momentum,
        name=name,
        default_size=v.resolution,
    )

    names = _torchvision_names(model)
    theirs = tv_model.state_dict()
    ours = model.state_dict()
    if set(names) != set(ours) or set(names.values()) != set(theirs):
        missing = sorted(set(theirs) - set(names.values()))[:5]
        raise ValueError(f"cannot map torchvision's {name} onto nets' (unmapped torchvision keys: {missing})")
    converted = {}
    for our_key, their_key in names.items():
        if ours[our_key].shape != theirs[their_key].shape:
            raise ValueError(
                f"shape mismatch converting {name}: {their_key} {tuple(theirs[their_key].shape)} -> "
                f"{our_key} {tuple(ours[our_key].shape)}"
            )
        converted[our_key] = theirs[their_key].detach().clone()
    model.load_state_dict(converted, strict=True)
    model.train(tv_model.training)
    return model


# For the book: what a configuration costs (by arithmetic), and what its blocks do
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
    """Parameters and MACs of ``efficientnet(width_mult, depth_mult)`` at ``resolution`` px, by arithmetic.

    Counts what ``count_params`` and ``count_macs`` count (convolution and fc multiply-accumulates;
    BatchNorm scale and shift as parameters, its running statistics not), without building anything.
    """
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < MIN_SIZE:
        raise ValueError(f"resolution must be a positive integer number of pixels, got {resolution!r}")
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


def scale_one(phi: float, how: str = "compound") -> Scaling:
    """``compound_scaling(phi)``, or one dimension alone grown to the same FLOP budget ``FLOPS_PER_PHI**phi``.

    With FLOPs ~ depth * width**2 * resolution**2 (paper section 3.3), depth alone must grow by
    ``FLOPS_PER_PHI**phi`` and width or resolution alone by its square root. ``how`` is one of ``SCALINGS``.
    """
    if how not in SCALINGS:
        raise ValueError(f"how must be one of {', '.join(map(repr, SCALINGS))}; got {how!r}")
    if how == "compound":
        return compound_scaling(phi)
    phi = _check_real(phi, "phi")
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

    The fastest of ``repeats`` timed passes after ``warmup`` untimed ones: other work on a shared machine
    only ever adds time, so the minimum is the most repeatable estimate (as ``timeit`` advises).
    On the CPU it runs on ``threads`` threads (one by default, like the single-core phone timings of the
    mobile-network papers; ``None`` keeps torch's setting). One thread is also the setting that a busy
    machine disturbs least: threads that wait for each other stall whenever one is descheduled.
    """
    import time

    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.randn(tuple(input_size), generator=torch.Generator().manual_seed(0)).to(device)
    was_training = model.training
    threads_before = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
        torch.set_num_threads(threads_before)
    return min(times)


def scaling_study(
    phis=range(8),
    hows=SCALINGS,
    *,
    latency_max_gmacs: float = 1.0,
    repeats: int = 2,
    threads: int | None = 1,
    num_classes: int = 1000,
):
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
                    model = efficientnet(s.width, s.depth, num_classes=num_classes)
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


def variant_table(num_classes: int = 1000):
    """B0-B7: released coefficients, the phi each coefficient implies, and params / MACs (ours vs paper vs torchvision).

    Ours come from ``cost`` (equal to counting the built models); GMACs are given at the paper's resolution
    (against the paper's "FLOPS", which are multiply-adds) and at torchvision's evaluation crop (against its
    "GFLOPS" column, also multiply-adds). The paper gives no phi per variant: the three "phi from" columns
    solve ALPHA**phi = depth, BETA**phi = width, 224 * GAMMA**phi = resolution and disagree.
    """
    import pandas as pd

    from .cards import card

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
    gates: dict[str, torch.Tensor] = {}
    handles = []
    for name, block in _blocks(model):

        def hook(_m: nn.Module, _inputs: object, output: torch.Tensor, name: str = name) -> None:
            gates[name] = output[0].detach().flatten().float().cpu()

        handles.append(block.squeeze_excite.gate.register_forward_hook(hook))
    param = next(model.parameters(), None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(image[:1].to(param.device if param is not None else "cpu"))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return gates


def stage_table(model: EfficientNet, image_size: int = BASE_RESOLUTION):
    """The paper's Table 1 read off a built model: operator, input and output resolution (measured), channels, layers.

    One row per part in forward order (stem, stage1-7, head), numbered as the paper numbers its stages (1-9).
    Resolutions come from running a zero image of ``image_size`` px through the model (eval, no gradients).
    """
    import pandas as pd

    if not isinstance(model, EfficientNet):
        raise TypeError(f"stage_table expects a nets EfficientNet, got {type(model).__name__}")
    parts = [("stem", model.stem), *model.stages.named_children(), ("head", model.head)]
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook_for(name: str):
        def hook(_m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            shapes.setdefault(name, (tuple(inputs[0].shape), tuple(output.shape)))

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in parts]
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device=param.device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
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
