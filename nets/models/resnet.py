"""ResNet: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv 1512.03385).

The idea in one line: a block learns a residual ``F(x)`` and outputs ``relu(F(x) + x)``, so a deeper
network can always fall back to the identity. Look for ``out = out + self.shortcut(identity)`` in
``BasicBlock`` and ``Bottleneck`` below; that addition is the whole paper.

The paper's Table 1 is ``LAYERS``: which block each depth uses and how many blocks each of the four
stages (the paper's conv2_x ... conv5_x) stacks. Everything else is shared:

    stem    7x7 conv, 64, stride 2 -> 3x3 max pool, stride 2           (the paper's conv1)
    stages  conv2_x .. conv5_x, widths 64, 128, 256, 512; the first block of conv3_x .. conv5_x
            halves the resolution (stride 2) and its shortcut changes shape
    head    global average pool -> fully connected layer

Options the book's ResNet chapter uses (every factory takes them as keywords):

- ``stride_on="3x3"`` (default) puts a bottleneck's stride on its 3x3 conv, like torchvision ("ResNet
  V1.5"); ``"1x1"`` puts it on the first 1x1 conv as in the paper (V1). Same parameters, but V1
  discards three quarters of the pixels before the 3x3 sees them: ResNet-50 needs 3.86 G MACs at
  224x224 (Table 1: 3.8 x 10^9 FLOPs, i.e. multiply-adds) instead of 4.09 G. Basic blocks have no
  1x1 conv, so the option is bottleneck-only.
- ``shortcut`` picks the paper's shortcut options of Table 3: ``"projection"`` (default, option B, what
  torchvision does) uses a 1x1 conv + BN only where the shape changes and the identity elsewhere;
  ``"identity"`` (option A) is parameter-free everywhere: where the shape changes it subsamples by
  the stride and pads the new channels with zeros; ``"all_projection"`` (option C) projects in every block.
- ``residual=False`` removes the shortcuts and gives the paper's "plain" network of the degradation
  experiment (Fig. 4): the same layers, no skip. The paper compared plain nets with option-A ResNets,
  which have no extra parameters, so ``residual=False`` has exactly the parameters of
  ``shortcut="identity"`` (the default projection shortcuts add a few 1x1 convs).
- ``zero_init_residual=True`` starts each block's last BatchNorm scale at zero, so every residual
  block begins as the identity (Goyal et al. 2017; torchvision's flag of the same name).

``resnet(num_classes, block=..., layers=...)`` builds any depth (e.g. plain-18 vs ResNet-18, a ResNet-10,
or the paper's CIFAR-10 nets with ``widths=(16, 32, 64)`` and ``stem="cifar"``); ``resnet18`` ...
``resnet152`` are the registered ImageNet models. ``from_torchvision`` at the bottom converts torchvision
weights. What the book's chapter measures on these networks lives in ``nets.lab.resnet``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_bool, check_choice, check_int, check_ints
from ..layers import ConvBNAct, check_images
from ..registry import builds, register
from ..weights import copy_weights, expect_reference

__all__ = [
    "LAYERS",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "ZeroPadShortcut",
    "from_torchvision",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]

# The paper's Table 1: depth -> (block, number of blocks in conv2_x, conv3_x, conv4_x, conv5_x).
LAYERS: dict[int, tuple[str, list[int]]] = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}
WIDTHS = (64, 128, 256, 512)  # channels of the 3x3 convs in conv2_x .. conv5_x
MIN_SIZE = 1  # every conv/pool pads enough to map a 1x1 input to 1x1 (torchvision's metadata says 1 too)

Block = Literal["basic", "bottleneck"]
Shortcut = Literal["projection", "identity", "all_projection"]
StrideOn = Literal["3x3", "1x1"]
Stem = Literal["imagenet", "cifar"]


class ZeroPadShortcut(nn.Module):
    """The paper's option A: parameter-free; subsamples by the stride and zero-pads the new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"a zero-padding shortcut cannot shrink {in_channels} to {out_channels} channels"
            )
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x[..., ::2, ::2] has ceil(H/2) rows, the same as the 3x3/stride-2 conv on the residual branch.
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # new channels appended, all zero

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def _make_shortcut(
    in_channels: int, out_channels: int, stride: int, shortcut: Shortcut, residual: bool
) -> nn.Module | None:
    """The shortcut branch of a block: None in a plain network, else identity, projection or zero padding."""
    if not residual:
        return None
    shape_changes = stride != 1 or in_channels != out_channels
    if shortcut == "all_projection" or (shortcut == "projection" and shape_changes):
        return ConvBNAct(in_channels, out_channels, kernel_size=1, stride=stride, act=None)
    if shortcut == "identity" and shape_changes:
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convs and a shortcut (the paper's Fig. 2 / Fig. 5 left), used by ResNet-18 and -34."""

    expansion = 1  # output channels = expansion * width

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        *,
        shortcut: Shortcut = "projection",
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, width, kernel_size=3, stride=stride)
        self.conv2 = ConvBNAct(width, width, kernel_size=3, act=None)  # ReLU waits until after the sum
        self.shortcut = _make_shortcut(in_channels, width, stride, shortcut, residual)
        self.relu = nn.ReLU(inplace=True)  # on the sum, a fresh tensor: nothing else reads it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.conv1(x)
        out = self.conv2(out)
        if self.shortcut is not None:  # None in a plain network
            out = out + self.shortcut(identity)  # the residual connection: F(x) + x
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) and a shortcut (the paper's Fig. 5 right), used by ResNet-50/101/152.

    ``stride_on`` says which conv downsamples: ``"3x3"`` (torchvision, V1.5) or ``"1x1"`` (the paper, V1).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        *,
        shortcut: Shortcut = "projection",
        residual: bool = True,
        stride_on: StrideOn = "3x3",
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        stride_1x1, stride_3x3 = (1, stride) if stride_on == "3x3" else (stride, 1)
        self.reduce = ConvBNAct(in_channels, width, kernel_size=1, stride=stride_1x1)
        self.conv3x3 = ConvBNAct(width, width, kernel_size=3, stride=stride_3x3)
        self.expand = ConvBNAct(width, out_channels, kernel_size=1, act=None)
        self.shortcut = _make_shortcut(in_channels, out_channels, stride, shortcut, residual)
        self.relu = nn.ReLU(inplace=True)  # on the sum, a fresh tensor: nothing else reads it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.reduce(x)
        out = self.conv3x3(out)
        out = self.expand(out)
        if self.shortcut is not None:  # None in a plain network
            out = out + self.shortcut(identity)  # the residual connection: F(x) + x
        return self.relu(out)


def _check_stages(
    block: Block, layers: Sequence[int], widths: Sequence[int] | None, stride_on: StrideOn
) -> tuple[list[int], list[int]]:
    """``layers`` and ``widths`` (default ``WIDTHS``) checked against each other and against ``block``."""
    check_choice("block", block, get_args(Block))
    layers = check_ints("layers", layers, example="[2, 2, 2, 2]")
    if widths is None and len(layers) != len(WIDTHS):
        raise ValueError(
            f"layers has {len(layers)} stages; pass widths= with one channel count per stage "
            f"(the default {WIDTHS} is for the paper's four ImageNet stages)"
        )
    widths = check_ints("widths", WIDTHS if widths is None else widths, example=str(WIDTHS))
    if len(widths) != len(layers):
        raise ValueError(f"widths {widths} and layers {layers} must have one entry per stage each")
    if check_choice("stride_on", stride_on, get_args(StrideOn)) != "3x3" and block == "basic":
        raise ValueError(
            "stride_on='1x1' only exists for bottleneck blocks (ResNet-50 and deeper); a basic block "
            "has no 1x1 conv and always strides its first 3x3. Leave stride_on at '3x3'."
        )
    return layers, widths


class ResNet(nn.Module):
    """A residual network: ``stem`` -> ``stages`` (conv2_x, conv3_x, ...) -> ``head``.

    ``block`` and ``layers`` are one row of the paper's Table 1 (see ``LAYERS``); ``widths`` are the
    stages' 3x3 channel counts (a bottleneck stage outputs 4x as many). ``stem="cifar"`` replaces the
    7x7 conv + max pool by one 3x3 conv at stride 1, as in the paper's CIFAR-10 networks (Sec. 4.2).
    See the module docstring for ``stride_on``, ``shortcut``, ``residual`` and ``zero_init_residual``.
    The network accepts any input of at least ``min_size`` (1) pixels square; the spatial size is
    halved (rounding up) by each stride-2 layer and pooled away by the head.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        block: Block,
        layers: Sequence[int],
        widths: Sequence[int] | None = None,
        stem: Stem = "imagenet",
        stride_on: StrideOn = "3x3",
        shortcut: Shortcut = "projection",
        residual: bool = True,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes)
        layers, widths = _check_stages(block, layers, widths, stride_on)
        check_choice("stem", stem, get_args(Stem))
        check_choice("shortcut", shortcut, get_args(Shortcut))
        check_bool("residual", residual)
        if check_bool("zero_init_residual", zero_init_residual) and not residual:
            raise ValueError(
                "zero_init_residual=True needs residual=True: without shortcuts, a zeroed last BatchNorm "
                "would cut the signal in every block of the plain network."
            )

        block_class = BasicBlock if block == "basic" else Bottleneck
        convs_per_block = 2 if block == "basic" else 3
        depth = convs_per_block * sum(layers) + 2  # + the stem conv and the fc layer, as the paper counts
        self.name = f"{'resnet' if residual else 'plain'}{depth}"
        self.min_size = MIN_SIZE
        self.block, self.layers, self.widths = block, layers, widths
        self.stride_on, self.shortcut, self.residual = stride_on, shortcut, residual

        if stem == "imagenet":
            self.stem = nn.Sequential(
                OrderedDict(
                    conv7x7=ConvBNAct(3, widths[0], kernel_size=7, stride=2),
                    pool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
                )
            )
        else:
            self.stem = nn.Sequential(OrderedDict(conv3x3=ConvBNAct(3, widths[0], kernel_size=3)))

        stages: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = widths[0]
        for index, (width, count) in enumerate(zip(widths, layers, strict=True)):
            blocks = []
            for position in range(count):
                stride = 2 if index > 0 and position == 0 else 1  # first block of a later stage downsamples
                options = {"stride_on": stride_on} if block == "bottleneck" else {}
                blocks.append(
                    block_class(in_channels, width, stride, shortcut=shortcut, residual=residual, **options)
                )
                in_channels = width * block_class.expansion
            stages[f"conv{index + 2}_x"] = nn.Sequential(*blocks)  # the paper's stage names
        self.stages = nn.Sequential(stages)

        self.head = nn.Sequential(
            OrderedDict(
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
                fc=nn.Linear(in_channels, num_classes),
            )
        )
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """He initialisation (the paper's own, arXiv 1502.01852), as torchvision does it."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, BasicBlock):
                    nn.init.zeros_(module.conv2.bn.weight)
                elif isinstance(module, Bottleneck):
                    nn.init.zeros_(module.expand.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
        return self.head(self.stages(self.stem(x)))


@builds(ResNet)
def resnet():
    """Any ResNet (or plain net) from a block type and blocks per stage, with every option of ``ResNet``.

    ``resnet(block="basic", layers=[3, 4, 6, 3], residual=False)`` is the paper's plain-34; the paper's
    CIFAR-10 ResNet-20 is ``resnet(10, block="basic", layers=[3, 3, 3], widths=(16, 32, 64), stem="cifar",
    shortcut="identity")``.
    """


# What every registered ResNet shares in the zoo: torchvision's weights, evaluated at 224x224.
_ZOO = dict(family="resnet", convert="from_torchvision", default_size=224, min_size=MIN_SIZE)
# The options the registered factories take; basic blocks have no 1x1 conv, so no stride_on.
_OPTIONS = ("shortcut", "residual", "zero_init_residual")


def _row(depth: int) -> dict:
    """One row of Table 1 (``LAYERS[depth]``) as ``ResNet``'s ``block`` and ``layers`` arguments."""
    block, layers = LAYERS[depth]
    return {"block": block, "layers": layers}


@register("resnet18", display="ResNet-18", weights="torchvision:ResNet18_Weights.IMAGENET1K_V1", **_ZOO)
@builds(ResNet, *_OPTIONS, **_row(18))
def resnet18():
    """ResNet-18: basic blocks, [2, 2, 2, 2]; 11.7 M parameters, 1.8 G MACs at 224x224."""


@register("resnet34", display="ResNet-34", weights="torchvision:ResNet34_Weights.IMAGENET1K_V1", **_ZOO)
@builds(ResNet, *_OPTIONS, **_row(34))
def resnet34():
    """ResNet-34: basic blocks, [3, 4, 6, 3]; 21.8 M parameters, 3.7 G MACs at 224x224."""


@register("resnet50", display="ResNet-50", weights="torchvision:ResNet50_Weights.IMAGENET1K_V1", **_ZOO)
@builds(ResNet, "stride_on", *_OPTIONS, **_row(50))
def resnet50():
    """ResNet-50: bottleneck blocks, [3, 4, 6, 3]; 25.6 M parameters, 4.1 G MACs (V1.5) at 224x224."""


@register("resnet101", display="ResNet-101", weights="torchvision:ResNet101_Weights.IMAGENET1K_V1", **_ZOO)
@builds(ResNet, "stride_on", *_OPTIONS, **_row(101))
def resnet101():
    """ResNet-101: bottleneck blocks, [3, 4, 23, 3]; 44.5 M parameters, 7.8 G MACs (V1.5) at 224x224."""


@register("resnet152", display="ResNet-152", weights="torchvision:ResNet152_Weights.IMAGENET1K_V1", **_ZOO)
@builds(ResNet, "stride_on", *_OPTIONS, **_row(152))
def resnet152():
    """ResNet-152: bottleneck blocks, [3, 8, 36, 3]; 60.2 M parameters, 11.5 G MACs (V1.5) at 224x224."""


# Loading reference weights
# torchvision names the same layers conv1/bn1, layer1..layer4, conv1/bn1/conv2/bn2(/conv3/bn3),
# downsample.0/.1 and fc. The key map pairs each of our conv/BN/linear modules with its torchvision
# twin; nets.weights.copy_weights checks every pair (kind, stride, padding, dilation, groups, eps, shapes)
# so a torchvision variant we do not build (ResNeXt, Wide ResNet, dilated stages) is refused.


def _torchvision_pairs(model: ResNet) -> list[tuple[str, str]]:
    """(our module name, torchvision module name) for every module that holds weights or BN statistics."""
    pairs = [("stem.conv7x7.conv", "conv1"), ("stem.conv7x7.bn", "bn1")]
    if model.block == "basic":
        convs = [("conv1", "1"), ("conv2", "2")]
    else:
        convs = [("reduce", "1"), ("conv3x3", "2"), ("expand", "3")]
    for index, (stage_name, stage) in enumerate(model.stages.named_children()):
        for position, block in enumerate(stage):
            ours, theirs = f"stages.{stage_name}.{position}", f"layer{index + 1}.{position}"
            for name, number in convs:
                pairs += [(f"{ours}.{name}.{part}", f"{theirs}.{part}{number}") for part in ("conv", "bn")]
            if isinstance(block.shortcut, ConvBNAct):  # a projection: torchvision's downsample
                pairs += [
                    (f"{ours}.shortcut.conv", f"{theirs}.downsample.0"),
                    (f"{ours}.shortcut.bn", f"{theirs}.downsample.1"),
                ]
    pairs.append(("head.fc", "fc"))
    return pairs


def from_torchvision(tv_model: nn.Module) -> ResNet:
    """The ``nets`` ResNet equal to a torchvision ``resnet18/34/50/101/152`` instance, weights copied.

    Works for any ``num_classes`` and either ``zero_init_residual``. Raises ``NotThisReference`` (a
    ``TypeError``) for a model that is not a torchvision ResNet, and ``ValueError`` for a ResNet other
    than those five (ResNeXt, Wide ResNet, dilated or otherwise customised ResNets).
    """
    from torchvision.models import resnet as tv_resnet

    expect_reference(tv_model, tv_resnet.ResNet, "a torchvision ResNet (e.g. torchvision.models.resnet50())")
    kinds = {tv_resnet.BasicBlock: "basic", tv_resnet.Bottleneck: "bottleneck"}
    block = kinds.get(type(tv_model.layer1[0]))
    layers = [len(getattr(tv_model, f"layer{i}")) for i in range(1, 5)]
    if (block, layers) not in LAYERS.values():
        raise ValueError(
            f"torchvision ResNet with {block or type(tv_model.layer1[0]).__name__} blocks {layers} is not "
            "resnet18/34/50/101/152; cannot convert"
        )
    if tv_model.dilation != 1:  # replace_stride_with_dilation: stages that dilate instead of striding
        raise ValueError(
            "torchvision ResNet with dilated stages is not resnet18/34/50/101/152; cannot convert"
        )
    model = ResNet(tv_model.fc.out_features, block=block, layers=layers)
    return copy_weights(model, tv_model, _torchvision_pairs(model))
