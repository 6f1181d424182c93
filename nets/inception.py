"""The Inception family: GoogLeNet (2014), Inception-v3 (2015), Inception-v4 and Inception-ResNet-v2 (2016).

One idea runs through all four: a block looks at its input through several filter sizes at once
(1x1, 3x3, 5x5, pooling) and concatenates what the branches see (``nets.layers.Parallel``), with cheap
1x1 convolutions shrinking the channels before the expensive filters. Each version then refines it:

* GoogLeNet (v1) -- the Inception module and its 1x1 "reductions"; two auxiliary classifiers for training.
* Inception-v3 -- factorised filters (a 5x5 becomes two 3x3; an nxn becomes 1xn then nx1) and grid
  reductions that pool and convolve side by side.
* Inception-v4 -- the same blocks made uniform (Inception-A/B/C, Reduction-A/B) behind a deeper stem.
* Inception-ResNet-v2 -- the branches' output is added back to the block's input, scaled down.

The sections below follow that order. Every model takes a batch ``(N, 3, H, W)`` and returns logits;
with ``aux_logits=True`` GoogLeNet and Inception-v3 return a named tuple ``(logits, aux...)`` in
training mode only (like torchvision), because the auxiliary classifiers exist to help training and
are ignored at test time. The convolutions are conv (no bias) + BatchNorm(eps=1e-3) + ReLU throughout,
as in the reference weights (torchvision for GoogLeNet / v3, timm for v4 / Inception-ResNet-v2), so the
conversion functions at the bottom load those weights with equal logits.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from .layers import ConvBNAct, Parallel, check_input_size
from .registry import register

__all__ = [
    "GOOGLENET_TABLE",
    "INCEPTION_RESNET_V2_BLOCKS",
    "INCEPTION_V3_LAYOUT",
    "INCEPTION_V4_BLOCKS",
    "REDUCTION_A_FILTERS",
    "BranchCost",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "InceptionModule",
    "InceptionResNetV2",
    "InceptionV3",
    "InceptionV3Outputs",
    "InceptionV4",
    "InceptionWidths",
    "ReductionA",
    "ResidualInceptionBlock",
    "factorisation_params",
    "footprint",
    "from_timm",
    "from_torchvision",
    "googlenet",
    "googlenet_module_inputs",
    "inception_resnet_v2",
    "inception_v3",
    "inception_v4",
    "module_cost",
    "scale_widths",
]

BN_EPS = 1e-3  # every Inception reference (TF's originals, torchvision, timm) uses BatchNorm eps 0.001


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    padding: int | tuple[int, int] | None = None,
) -> ConvBNAct:
    """The family's brick: conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU.

    ``padding=None`` keeps the grid ("same"); ``padding=0`` is the papers' "V" (valid) convolution.
    """
    return ConvBNAct(in_channels, out_channels, kernel_size, stride, padding, bn_eps=BN_EPS)


def _check_head_options(num_classes: int, **dropouts: float) -> None:
    """Fail early, naming the option, instead of deep inside nn.Linear / nn.Dropout."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    for name, p in dropouts.items():
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
            raise ValueError(f"{name} is a drop probability and must be in [0, 1), got {p!r}")


def classifier_head(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Global average pool -> dropout -> linear: the head all four share (no big FC layers, unlike VGG)."""
    return nn.Sequential(
        OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            dropout=nn.Dropout(dropout),
            fc=nn.Linear(in_features, num_classes),
        )
    )


class RenormalizeInput(nn.Module):
    """Turn ImageNet-normalised input into the ``(pixel - 0.5) / 0.5`` scaling of Google's original weights.

    torchvision's pretrained GoogLeNet and Inception-v3 were ported from TensorFlow, which fed images
    scaled to [-1, 1]; with ``transform_input=True`` the model accepts the usual ImageNet normalisation
    (mean 0.485/0.456/0.406, std 0.229/0.224/0.225) and converts it here, exactly as torchvision does.
    """

    def __init__(self) -> None:
        super().__init__()
        # computed in float64 then rounded once, like torchvision's Python-float constants
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
        # non-persistent: they are constants, not weights, and stay out of the state_dict
        self.register_buffer("scale", (std / 0.5).float(), persistent=False)
        self.register_buffer("shift", ((mean - 0.5) / 0.5).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise ValueError(
                f"transform_input=True re-normalises RGB images, so the input needs 3 channels; "
                f"got {x.shape[1]}. Pass RGB images or build the model with transform_input=False."
            )
        return x * self.scale + self.shift


# =====================================================================================================
# GoogLeNet (Inception v1)
# Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich,
# "Going Deeper with Convolutions", CVPR 2015, arXiv 1409.4842 (ILSVRC-2014 winner).
# =====================================================================================================


class InceptionWidths(NamedTuple):
    """One row of the paper's Table 1: the output channels of each branch of an Inception module."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_proj: int


# Paper Table 1, the nine Inception modules: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
GOOGLENET_TABLE: dict[str, InceptionWidths] = {
    "inception3a": InceptionWidths(64, 96, 128, 16, 32, 32),  # 28x28x256
    "inception3b": InceptionWidths(128, 128, 192, 32, 96, 64),  # 28x28x480
    "inception4a": InceptionWidths(192, 96, 208, 16, 48, 64),  # 14x14x512
    "inception4b": InceptionWidths(160, 112, 224, 24, 64, 64),  # 14x14x512
    "inception4c": InceptionWidths(128, 128, 256, 24, 64, 64),  # 14x14x512
    "inception4d": InceptionWidths(112, 144, 288, 32, 64, 64),  # 14x14x528
    "inception4e": InceptionWidths(256, 160, 320, 32, 128, 128),  # 14x14x832
    "inception5a": InceptionWidths(256, 160, 320, 32, 128, 128),  # 7x7x832
    "inception5b": InceptionWidths(384, 192, 384, 48, 128, 128),  # 7x7x1024
}
# Max pools that halve the grid between groups of modules: module they follow -> (name, kernel).
# The paper's pool4 is 3x3/2; torchvision's layout (and its weights) uses 2x2/2 (same 14 -> 7), so we do too.
GOOGLENET_POOLS: dict[str, tuple[str, int]] = {"inception3b": ("pool3", 3), "inception4e": ("pool4", 2)}
# The two auxiliary classifiers read the outputs of these modules (paper Figure 3).
GOOGLENET_AUX_TAPS: tuple[str, str] = ("inception4a", "inception4d")


class InceptionModule(Parallel):
    """The Inception module (paper Figure 2): 1x1, 3x3, 5x5 and pooling branches, concatenated.

    ``reduce=True`` is Figure 2(b), the module GoogLeNet uses: 1x1 convolutions shrink the channels
    before the 3x3 and 5x5 filters and after the pooling, which is what keeps the network affordable.
    ``reduce=False`` is the "naive" Figure 2(a): the filters see all input channels and the pooling
    branch passes every input channel through, so the output grows with each module -- build both and
    compare ``count_params`` / ``count_macs`` to see why the reductions matter. ``kernel_5x5=3``
    reproduces torchvision's layout (a known bug, pytorch/vision#906, kept so its weights load).
    BatchNorm was not in the 2014 paper (it arrived with Inception-v2); the reference weights have it.
    """

    def __init__(
        self,
        in_channels: int,
        widths: InceptionWidths | Sequence[int],
        *,
        reduce: bool = True,
        kernel_5x5: int = 5,
    ) -> None:
        widths = InceptionWidths(*widths)
        if in_channels < 1 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(
                f"InceptionModule needs positive channel counts; got in_channels={in_channels}, {widths}"
            )
        if kernel_5x5 not in (3, 5):
            raise ValueError(
                f"kernel_5x5 must be 5 (the paper) or 3 (torchvision's layout), got {kernel_5x5}"
            )
        if reduce:
            branches = dict(
                branch1x1=conv_bn(in_channels, widths.ch1x1, 1),
                branch3x3=nn.Sequential(
                    OrderedDict(
                        reduce=conv_bn(in_channels, widths.ch3x3_reduce, 1),
                        conv=conv_bn(widths.ch3x3_reduce, widths.ch3x3, 3),
                    )
                ),
                branch5x5=nn.Sequential(
                    OrderedDict(
                        reduce=conv_bn(in_channels, widths.ch5x5_reduce, 1),
                        conv=conv_bn(widths.ch5x5_reduce, widths.ch5x5, kernel_5x5),
                    )
                ),
                branch_pool=nn.Sequential(
                    OrderedDict(
                        pool=nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                        proj=conv_bn(in_channels, widths.pool_proj, 1),
                    )
                ),
            )
            out_channels = widths.ch1x1 + widths.ch3x3 + widths.ch5x5 + widths.pool_proj
        else:
            branches = dict(
                branch1x1=conv_bn(in_channels, widths.ch1x1, 1),
                branch3x3=conv_bn(in_channels, widths.ch3x3, 3),
                branch5x5=conv_bn(in_channels, widths.ch5x5, kernel_5x5),
                branch_pool=nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            )
            out_channels = widths.ch1x1 + widths.ch3x3 + widths.ch5x5 + in_channels
        super().__init__(**branches)
        self.in_channels = in_channels
        self.out_channels = out_channels


class GoogLeNetAuxHead(nn.Sequential):
    """An auxiliary classifier (paper section 5): pool to 4x4, 1x1 conv 128, FC 1024, dropout 0.7, linear.

    It adds a loss at a middle layer (weighted 0.3 in the paper) to push gradient into the lower
    modules during training; at inference it is discarded.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__(
            OrderedDict(
                pool=nn.AdaptiveAvgPool2d(4),  # the paper's 5x5/3 average pool, for any input size
                reduce=conv_bn(in_channels, 128, 1),
                flatten=nn.Flatten(1),
                fc=nn.Linear(128 * 4 * 4, 1024),
                act=nn.ReLU(inplace=True),
                dropout=nn.Dropout(dropout),
                classifier=nn.Linear(1024, num_classes),
            )
        )


class GoogLeNetOutputs(NamedTuple):
    """GoogLeNet's training-mode output with aux heads; the field names are torchvision's."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor  # the head on inception4d
    aux_logits1: torch.Tensor  # the head on inception4a


class GoogLeNet(nn.Module):
    """GoogLeNet: a 7x7/3x3 stem, nine Inception modules (Table 1), global average pool, one linear layer.

    ``aux_logits=True`` adds the two auxiliary classifiers; in training mode ``forward`` then returns
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``, in eval mode the logits alone.
    """

    name = "googlenet"
    min_size = 15  # the stride-2 stages and ceil-mode pools leave 1x1 at the last pool from 15 px up

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        aux_logits: bool = False,
        paper_5x5: bool = False,
        transform_input: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        _check_head_options(num_classes, dropout=dropout, dropout_aux=dropout_aux)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.input_transform = RenormalizeInput() if transform_input else nn.Identity()
        self.stem = nn.Sequential(
            OrderedDict(
                conv1=conv_bn(3, 64, 7, stride=2),  # 224 -> 112
                pool1=nn.MaxPool2d(3, stride=2, ceil_mode=True),  # -> 56
                conv2_reduce=conv_bn(64, 64, 1),
                conv2=conv_bn(64, 192, 3),
                pool2=nn.MaxPool2d(3, stride=2, ceil_mode=True),  # -> 28
            )
        )
        body: OrderedDict[str, nn.Module] = OrderedDict()
        channels = 192
        for module_name, widths in GOOGLENET_TABLE.items():
            module = InceptionModule(channels, widths, kernel_5x5=5 if paper_5x5 else 3)
            body[module_name] = module
            channels = module.out_channels
            if module_name in GOOGLENET_POOLS:
                pool_name, kernel = GOOGLENET_POOLS[module_name]
                body[pool_name] = nn.MaxPool2d(kernel, stride=2, ceil_mode=True)
        self.body = nn.Sequential(body)
        # keyed by the module each head reads; empty without aux heads
        self.aux_heads = nn.ModuleDict(
            {
                tap: GoogLeNetAuxHead(body[tap].out_channels, num_classes, dropout_aux)
                for tap in (GOOGLENET_AUX_TAPS if aux_logits else ())
            }
        )
        self.head = classifier_head(channels, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_input_size(x, self.min_size, self.name)
        x = self.stem(self.input_transform(x))
        with_aux = self.training and self.aux_logits
        aux: dict[str, torch.Tensor] = {}
        for module_name, layer in self.body.named_children():
            x = layer(x)
            if with_aux and module_name in self.aux_heads:
                aux[module_name] = self.aux_heads[module_name](x)
        logits = self.head(x)
        if with_aux:
            return GoogLeNetOutputs(logits, aux[GOOGLENET_AUX_TAPS[1]], aux[GOOGLENET_AUX_TAPS[0]])
        return logits


@register("googlenet", family="inception", default_size=224, min_size=GoogLeNet.min_size)
def googlenet(
    num_classes: int = 1000,
    *,
    aux_logits: bool = False,
    paper_5x5: bool = False,
    transform_input: bool = False,
    dropout: float = 0.2,
    dropout_aux: float = 0.7,
) -> GoogLeNet:
    """GoogLeNet / Inception v1 (6.6M parameters in torchvision's layout, 1.5 GMACs at 224).

    ``aux_logits`` (default False): add the two auxiliary classifiers (13.0M parameters in all). They
    only help training -- the deployed network, and the paper's test-time network, has none.
    ``paper_5x5`` (default False): the default is torchvision's layout, whose "5x5" branches are 3x3
    (pytorch/vision#906), so torchvision's weights load; True builds the paper's true 5x5 (7.0M params).
    ``transform_input``: re-normalise ImageNet-normalised input as torchvision's pretrained GoogLeNet does.
    ``dropout`` (paper: 0.4; torchvision: 0.2) before the classifier, ``dropout_aux`` in the aux heads.
    """
    return GoogLeNet(
        num_classes,
        aux_logits=aux_logits,
        paper_5x5=paper_5x5,
        transform_input=transform_input,
        dropout=dropout,
        dropout_aux=dropout_aux,
    )


# =====================================================================================================
# Inception-v3
# Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for Computer Vision",
# CVPR 2016, arXiv 1512.00567.
# =====================================================================================================

# The released Inception-v3 (TensorFlow's, ported by torchvision), block by block after the stem:
# (name, kind, in_channels, width). ``width`` is the pool projection of a 35x35 block "A" and the
# 7x7 bottleneck of a 17x17 block "B". The paper's Table 1 is coarser (3 / 5 / 2 Inception modules).
INCEPTION_V3_LAYOUT: tuple[tuple[str, str, int, int | None], ...] = (
    ("mixed_5b", "A", 192, 32),  # 35x35x256
    ("mixed_5c", "A", 256, 64),  # 35x35x288
    ("mixed_5d", "A", 288, 64),  # 35x35x288
    ("mixed_6a", "reduction_a", 288, None),  # 17x17x768
    ("mixed_6b", "B", 768, 128),
    ("mixed_6c", "B", 768, 160),
    ("mixed_6d", "B", 768, 160),
    ("mixed_6e", "B", 768, 192),  # 17x17x768; the aux head reads this
    ("mixed_7a", "reduction_b", 768, None),  # 8x8x1280
    ("mixed_7b", "C", 1280, None),  # 8x8x2048
    ("mixed_7c", "C", 2048, None),  # 8x8x2048
)
INCEPTION_V3_AUX_TAP = "mixed_6e"

# Reduction-A's filter counts k, l, m, n (paper Figure 7; Inception-v4 paper Table 1). One module
# serves three networks: a stride-2 3x3 (n) beside a 1x1 (k) -> 3x3 (l) -> stride-2 3x3 (m) tower and a
# max pool. Inception-v3's first grid reduction is the same module with smaller towers.
REDUCTION_A_FILTERS: dict[str, tuple[int, int, int, int]] = {
    "inception_v3": (64, 96, 96, 384),  # the released v3's mixed_6a (not in a paper table)
    "inception_v4": (192, 224, 256, 384),
    "inception_resnet_v1": (192, 192, 256, 384),  # (not built here)
    "inception_resnet_v2": (256, 256, 384, 384),
}


def _avg_pool_3x3(count_include_pad: bool) -> nn.AvgPool2d:
    # torchvision's v3 counts the zero padding in the border averages; timm's v4 / IRv2 do not.
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=count_include_pad)


class InceptionV3BlockA(Parallel):
    """35x35 block (paper Figure 5): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1.

    The paper replaces the 5x5 by two 3x3 (same field of view, 28% fewer weights); the released model
    keeps a 5x5 tower too. Inception-ResNet-v2's stem ends in this block with a wider 1x1 branch.
    """

    def __init__(
        self, in_channels: int, pool_proj: int, *, ch1x1: int = 64, count_include_pad: bool = True
    ) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, ch1x1, 1),
            branch5x5=nn.Sequential(OrderedDict(reduce=conv_bn(in_channels, 48, 1), conv=conv_bn(48, 64, 5))),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 64, 1), conv1=conv_bn(64, 96, 3), conv2=conv_bn(96, 96, 3)
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(count_include_pad), proj=conv_bn(in_channels, pool_proj, 1))
            ),
        )
        self.out_channels = ch1x1 + 64 + 96 + pool_proj


class ReductionA(Parallel):
    """Grid reduction 35 -> 17 (Inception-v4 paper Figure 7; v3 paper Figure 10's idea).

    Pooling and stride-2 convolutions run side by side, so the grid shrinks without a representational
    bottleneck and without paying for a full-resolution expansion first. Filter counts: ``REDUCTION_A_FILTERS``.
    """

    def __init__(self, in_channels: int, k: int, l: int, m: int, n: int) -> None:
        super().__init__(
            branch3x3=conv_bn(in_channels, n, 3, stride=2, padding=0),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, k, 1),
                    conv1=conv_bn(k, l, 3),
                    conv2=conv_bn(l, m, 3, stride=2, padding=0),
                )
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = n + m + in_channels


class InceptionV3BlockB(Parallel):
    """17x17 block (paper Figure 6): 7x7 filters factorised into 1x7 then 7x1, ``c7`` channels inside."""

    def __init__(self, in_channels: int, c7: int) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 192, 1),
            branch7x7=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, c7, 1),
                    conv1x7=conv_bn(c7, c7, (1, 7)),
                    conv7x1=conv_bn(c7, 192, (7, 1)),
                )
            ),
            branch7x7dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, c7, 1),
                    conv7x1_1=conv_bn(c7, c7, (7, 1)),
                    conv1x7_1=conv_bn(c7, c7, (1, 7)),
                    conv7x1_2=conv_bn(c7, c7, (7, 1)),
                    conv1x7_2=conv_bn(c7, 192, (1, 7)),
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(True), proj=conv_bn(in_channels, 192, 1))
            ),
        )
        self.out_channels = 4 * 192


class InceptionV3ReductionB(Parallel):
    """Grid reduction 17 -> 8: a stride-2 3x3 tower, a 1x7 -> 7x1 -> stride-2 3x3 tower, a max pool."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(
            branch3x3=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 192, 1), conv=conv_bn(192, 320, 3, stride=2, padding=0)
                )
            ),
            branch7x7x3=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 192, 1),
                    conv1x7=conv_bn(192, 192, (1, 7)),
                    conv7x1=conv_bn(192, 192, (7, 1)),
                    conv3x3=conv_bn(192, 192, 3, stride=2, padding=0),
                )
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = 320 + 192 + in_channels


def _split_1x3_3x1(in_channels: int, out_channels: int) -> Parallel:
    """Paper Figure 7's expanded filter bank: a 1x3 and a 3x1 side by side on the same input."""
    return Parallel(
        conv1x3=conv_bn(in_channels, out_channels, (1, 3)), conv3x1=conv_bn(in_channels, out_channels, (3, 1))
    )


class InceptionV3BlockC(Parallel):
    """8x8 block (paper Figure 7): the 3x3s end in parallel 1x3 and 3x1 filters, widening the output."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 320, 1),
            branch3x3=nn.Sequential(
                OrderedDict(reduce=conv_bn(in_channels, 384, 1), split=_split_1x3_3x1(384, 384))
            ),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 448, 1),
                    conv=conv_bn(448, 384, 3),
                    split=_split_1x3_3x1(384, 384),
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(True), proj=conv_bn(in_channels, 192, 1))
            ),
        )
        self.out_channels = 320 + 768 + 768 + 192


class InceptionV3Stem(nn.Sequential):
    """Five plain convolutions and two max pools, 299 -> 35x35x192, as released (paper Table 1 differs a little).

    Inception-ResNet-v2's released model (TF-slim, timm) uses this same stem, not the paper's Figure 3.
    """

    def __init__(self) -> None:
        super().__init__(
            OrderedDict(
                conv1a=conv_bn(3, 32, 3, stride=2, padding=0),  # 299 -> 149
                conv2a=conv_bn(32, 32, 3, padding=0),  # -> 147
                conv2b=conv_bn(32, 64, 3),  # 147
                pool3a=nn.MaxPool2d(3, stride=2),  # -> 73
                conv3b=conv_bn(64, 80, 1),  # 73
                conv4a=conv_bn(80, 192, 3, padding=0),  # -> 71
                pool5a=nn.MaxPool2d(3, stride=2),  # -> 35
            )
        )


class InceptionV3AuxHead(nn.Sequential):
    """The one auxiliary classifier of v3, on the 17x17 grid; the paper finds it acts as a regularizer."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__(
            OrderedDict(
                pool=nn.AvgPool2d(5, stride=3),  # 17 -> 5
                reduce=conv_bn(in_channels, 128, 1),
                conv=conv_bn(128, 768, 5, padding=0),  # 5 -> 1
                gap=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(1),
                fc=nn.Linear(768, num_classes),
            )
        )


class InceptionV3Outputs(NamedTuple):
    """Inception-v3's training-mode output with the aux head; the field names are torchvision's."""

    logits: torch.Tensor
    aux_logits: torch.Tensor


class InceptionV3(nn.Module):
    """Inception-v3: the v3 stem, 3 x block A, reduction, 4 x block B, reduction, 2 x block C, pool, linear.

    With ``aux_logits=True``, training-mode ``forward`` returns ``InceptionV3Outputs(logits, aux_logits)``
    (eval mode: the logits alone). The aux head needs the full 17x17 grid, i.e. a 299x299 input.
    """

    name = "inception_v3"
    min_size = 75  # the stem's valid convolutions and the two reductions need 75 px
    aux_min_size = 299  # the aux head's 5x5/3 pool and 5x5 conv need the 17x17 grid of a 299 input

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        aux_logits: bool = False,
        transform_input: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_head_options(num_classes, dropout=dropout)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.input_transform = RenormalizeInput() if transform_input else nn.Identity()
        self.stem = InceptionV3Stem()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        for block_name, kind, in_channels, width in INCEPTION_V3_LAYOUT:
            if kind == "A":
                blocks[block_name] = InceptionV3BlockA(in_channels, pool_proj=width)
            elif kind == "reduction_a":
                blocks[block_name] = ReductionA(in_channels, *REDUCTION_A_FILTERS["inception_v3"])
            elif kind == "B":
                blocks[block_name] = InceptionV3BlockB(in_channels, c7=width)
            elif kind == "reduction_b":
                blocks[block_name] = InceptionV3ReductionB(in_channels)
            else:
                blocks[block_name] = InceptionV3BlockC(in_channels)
        self.body = nn.Sequential(blocks)
        self.aux_heads = nn.ModuleDict(
            {INCEPTION_V3_AUX_TAP: InceptionV3AuxHead(768, num_classes)} if aux_logits else {}
        )
        self.head = classifier_head(2048, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | InceptionV3Outputs:
        check_input_size(x, self.min_size, self.name)
        with_aux = self.training and self.aux_logits
        if with_aux:
            check_input_size(x, self.aux_min_size, f"{self.name} in training mode with aux_logits=True")
        x = self.stem(self.input_transform(x))
        aux = None
        for block_name, block in self.body.named_children():
            x = block(x)
            if with_aux and block_name == INCEPTION_V3_AUX_TAP:
                aux = self.aux_heads[block_name](x)
        logits = self.head(x)
        return InceptionV3Outputs(logits, aux) if with_aux else logits


@register("inception_v3", family="inception", default_size=299, min_size=InceptionV3.min_size)
def inception_v3(
    num_classes: int = 1000,
    *,
    aux_logits: bool = False,
    transform_input: bool = False,
    dropout: float = 0.5,
) -> InceptionV3:
    """Inception-v3 (23.8M parameters, 27.2M with the aux head; 5.7 GMACs at 299).

    ``aux_logits`` (default False): add the auxiliary classifier, which only helps training (and needs
    299x299 input in training mode). ``transform_input``: re-normalise ImageNet-normalised input as
    torchvision's pretrained Inception-v3 does. ``dropout`` before the classifier.
    """
    return InceptionV3(num_classes, aux_logits=aux_logits, transform_input=transform_input, dropout=dropout)


# =====================================================================================================
# Inception-v4 and Inception-ResNet-v2
# Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of Residual
# Connections on Learning", AAAI 2017, arXiv 1602.07261 (first released February 2016).
# The reference weights are TensorFlow's, ported by timm (inception_v4.tf_in1k,
# inception_resnet_v2.tf_in1k); those expect input scaled to [-1, 1] (mean = std = 0.5).
# =====================================================================================================

# Paper Figure 9: how many of each block Inception-v4 stacks between its grid reductions.
INCEPTION_V4_BLOCKS: dict[str, int] = {"block_a": 4, "block_b": 7, "block_c": 3}

# Inception-ResNet-v2: (number of blocks, residual scale). The paper's Figure 15 draws 5 / 10 / 5 blocks;
# the released TF model (and timm) stacks 10 / 20 / 10, the last 8x8 one with scale 1.0 and no ReLU.
# The scales are the paper's section 3.3 remedy for instability: "between 0.1 and 0.3".
INCEPTION_RESNET_V2_BLOCKS: dict[str, tuple[int, float]] = {
    "block_a": (10, 0.17),
    "block_b": (20, 0.10),
    "block_c": (10, 0.20),
}


class InceptionV4Stem(nn.Sequential):
    """Inception-v4's stem (paper Figure 3), 299 -> 35x35x384: three convolutions, then three small
    Inception-style splits that pool and convolve side by side."""

    def __init__(self) -> None:
        super().__init__(
            OrderedDict(
                conv1=conv_bn(3, 32, 3, stride=2, padding=0),  # 299 -> 149
                conv2=conv_bn(32, 32, 3, padding=0),  # -> 147
                conv3=conv_bn(32, 64, 3),  # 147
                mixed_3a=Parallel(  # -> 73x73x160
                    branch_pool=nn.MaxPool2d(3, stride=2),
                    branch3x3=conv_bn(64, 96, 3, stride=2, padding=0),
                ),
                mixed_4a=Parallel(  # -> 71x71x192
                    branch3x3=nn.Sequential(
                        OrderedDict(reduce=conv_bn(160, 64, 1), conv=conv_bn(64, 96, 3, padding=0))
                    ),
                    branch7x7=nn.Sequential(
                        OrderedDict(
                            reduce=conv_bn(160, 64, 1),
                            conv1x7=conv_bn(64, 64, (1, 7)),
                            conv7x1=conv_bn(64, 64, (7, 1)),
                            conv3x3=conv_bn(64, 96, 3, padding=0),
                        )
                    ),
                ),
                mixed_5a=Parallel(  # -> 35x35x384
                    branch3x3=conv_bn(192, 192, 3, stride=2, padding=0),
                    branch_pool=nn.MaxPool2d(3, stride=2),
                ),
            )
        )


class InceptionV4BlockA(Parallel):
    """Inception-A, 35x35x384 (paper Figure 4): 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""

    def __init__(self, in_channels: int = 384) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 96, 1),
            branch3x3=nn.Sequential(OrderedDict(reduce=conv_bn(in_channels, 64, 1), conv=conv_bn(64, 96, 3))),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 64, 1), conv1=conv_bn(64, 96, 3), conv2=conv_bn(96, 96, 3)
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(False), proj=conv_bn(in_channels, 96, 1))
            ),
        )
        self.out_channels = 4 * 96


class InceptionV4BlockB(Parallel):
    """Inception-B, 17x17x1024 (paper Figure 5): factorised 7x7 towers of 1x7 and 7x1 filters."""

    def __init__(self, in_channels: int = 1024) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 384, 1),
            branch7x7=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 192, 1),
                    conv1x7=conv_bn(192, 224, (1, 7)),
                    conv7x1=conv_bn(224, 256, (7, 1)),
                )
            ),
            branch7x7dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 192, 1),
                    conv7x1_1=conv_bn(192, 192, (7, 1)),
                    conv1x7_1=conv_bn(192, 224, (1, 7)),
                    conv7x1_2=conv_bn(224, 224, (7, 1)),
                    conv1x7_2=conv_bn(224, 256, (1, 7)),
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(False), proj=conv_bn(in_channels, 128, 1))
            ),
        )
        self.out_channels = 384 + 256 + 256 + 128


class InceptionV4ReductionB(Parallel):
    """Reduction-B, 17 -> 8 (paper Figure 8): like v3's, with wider towers."""

    def __init__(self, in_channels: int = 1024) -> None:
        super().__init__(
            branch3x3=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 192, 1), conv=conv_bn(192, 192, 3, stride=2, padding=0)
                )
            ),
            branch7x7x3=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 256, 1),
                    conv1x7=conv_bn(256, 256, (1, 7)),
                    conv7x1=conv_bn(256, 320, (7, 1)),
                    conv3x3=conv_bn(320, 320, 3, stride=2, padding=0),
                )
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = 192 + 320 + in_channels


class InceptionV4BlockC(Parallel):
    """Inception-C, 8x8x1536 (paper Figure 6): towers that end in parallel 1x3 and 3x1 filters."""

    def __init__(self, in_channels: int = 1536) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 256, 1),
            branch3x3=nn.Sequential(
                OrderedDict(reduce=conv_bn(in_channels, 384, 1), split=_split_1x3_3x1(384, 256))
            ),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 384, 1),
                    conv3x1=conv_bn(384, 448, (3, 1)),
                    conv1x3=conv_bn(448, 512, (1, 3)),
                    split=_split_1x3_3x1(512, 256),
                )
            ),
            branch_pool=nn.Sequential(
                OrderedDict(pool=_avg_pool_3x3(False), proj=conv_bn(in_channels, 256, 1))
            ),
        )
        self.out_channels = 256 + 512 + 512 + 256


class InceptionV4(nn.Module):
    """Inception-v4 (paper Figure 9): stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B,
    3 x Inception-C, average pool, dropout, linear."""

    name = "inception_v4"
    min_size = 75  # the stem's valid convolutions and the two reductions need 75 px

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.2) -> None:
        super().__init__()
        _check_head_options(num_classes, dropout=dropout)
        self.stem = InceptionV4Stem()
        self.body = nn.Sequential(
            OrderedDict(
                block_a=nn.Sequential(
                    *[InceptionV4BlockA(384) for _ in range(INCEPTION_V4_BLOCKS["block_a"])]
                ),
                reduction_a=ReductionA(384, *REDUCTION_A_FILTERS["inception_v4"]),  # -> 17x17x1024
                block_b=nn.Sequential(
                    *[InceptionV4BlockB(1024) for _ in range(INCEPTION_V4_BLOCKS["block_b"])]
                ),
                reduction_b=InceptionV4ReductionB(1024),  # -> 8x8x1536
                block_c=nn.Sequential(
                    *[InceptionV4BlockC(1536) for _ in range(INCEPTION_V4_BLOCKS["block_c"])]
                ),
            )
        )
        self.head = classifier_head(1536, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_size, self.name)
        return self.head(self.body(self.stem(x)))


@register("inception_v4", family="inception", default_size=299, min_size=InceptionV4.min_size)
def inception_v4(num_classes: int = 1000, *, dropout: float = 0.2) -> InceptionV4:
    """Inception-v4 (42.7M parameters, 12.3 GMACs at 299). ``dropout``: the paper keeps 0.8 (p = 0.2)."""
    return InceptionV4(num_classes, dropout=dropout)


class ResidualInceptionBlock(nn.Module):
    """An Inception-ResNet block: ``act(x + scale * project(branches(x)))`` (paper Figures 16-20).

    The branches are a small Inception module; a linear 1x1 ``project`` (with bias, no BatchNorm)
    brings their concatenation back to the input width so it can be added to ``x``. Scaling the
    branch down before the addition is what kept these very wide networks from dying in training.
    """

    def __init__(
        self, branches: Parallel, branch_channels: int, channels: int, scale: float, act: bool = True
    ) -> None:
        super().__init__()
        self.branches = branches
        self.project = nn.Conv2d(branch_channels, channels, 1)
        self.scale = scale
        self.act = nn.ReLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch_out = self.project(self.branches(x))
        return self.act(x + self.scale * branch_out)  # the residual is added here

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class InceptionResNetBlockA(ResidualInceptionBlock):
    """Inception-ResNet-A, 35x35x320 (paper Figure 16): 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3."""

    def __init__(self, scale: float, channels: int = 320) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 32, 1),
            branch3x3=nn.Sequential(OrderedDict(reduce=conv_bn(channels, 32, 1), conv=conv_bn(32, 32, 3))),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(channels, 32, 1), conv1=conv_bn(32, 48, 3), conv2=conv_bn(48, 64, 3)
                )
            ),
        )
        super().__init__(branches, 32 + 32 + 64, channels, scale)


class InceptionResNetBlockB(ResidualInceptionBlock):
    """Inception-ResNet-B, 17x17x1088 (paper Figure 17): 1x1 | 1x1 -> 1x7 -> 7x1."""

    def __init__(self, scale: float, channels: int = 1088) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 192, 1),
            branch7x7=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(channels, 128, 1),
                    conv1x7=conv_bn(128, 160, (1, 7)),
                    conv7x1=conv_bn(160, 192, (7, 1)),
                )
            ),
        )
        super().__init__(branches, 192 + 192, channels, scale)


class InceptionResNetBlockC(ResidualInceptionBlock):
    """Inception-ResNet-C, 8x8x2080 (paper Figure 19): 1x1 | 1x1 -> 1x3 -> 3x1."""

    def __init__(self, scale: float, channels: int = 2080, act: bool = True) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 192, 1),
            branch3x3=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(channels, 192, 1),
                    conv1x3=conv_bn(192, 224, (1, 3)),
                    conv3x1=conv_bn(224, 256, (3, 1)),
                )
            ),
        )
        super().__init__(branches, 192 + 256, channels, scale, act)


class InceptionResNetV2ReductionB(Parallel):
    """Reduction-B of Inception-ResNet-v2 (paper Figure 18): three stride-2 towers and a max pool."""

    def __init__(self, in_channels: int = 1088) -> None:
        super().__init__(
            branch3x3a=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 256, 1), conv=conv_bn(256, 384, 3, stride=2, padding=0)
                )
            ),
            branch3x3b=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 256, 1), conv=conv_bn(256, 288, 3, stride=2, padding=0)
                )
            ),
            branch3x3dbl=nn.Sequential(
                OrderedDict(
                    reduce=conv_bn(in_channels, 256, 1),
                    conv1=conv_bn(256, 288, 3),
                    conv2=conv_bn(288, 320, 3, stride=2, padding=0),
                )
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = 384 + 288 + 320 + in_channels


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 as released (TF-slim, timm): v3's stem and a 35x35 block A (320 channels),
    10 x Inception-ResNet-A, Reduction-A, 20 x B, Reduction-B, 10 x C, a 1x1 conv to 1536, pool, linear."""

    name = "inception_resnet_v2"
    min_size = 75  # the stem's valid convolutions and the two reductions need 75 px

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.2) -> None:
        super().__init__()
        _check_head_options(num_classes, dropout=dropout)
        n_a, scale_a = INCEPTION_RESNET_V2_BLOCKS["block_a"]
        n_b, scale_b = INCEPTION_RESNET_V2_BLOCKS["block_b"]
        n_c, scale_c = INCEPTION_RESNET_V2_BLOCKS["block_c"]
        self.stem = InceptionV3Stem()
        self.body = nn.Sequential(
            OrderedDict(
                mixed_5b=InceptionV3BlockA(192, pool_proj=64, ch1x1=96, count_include_pad=False),  # 35x35x320
                block_a=nn.Sequential(*[InceptionResNetBlockA(scale_a) for _ in range(n_a)]),
                reduction_a=ReductionA(320, *REDUCTION_A_FILTERS["inception_resnet_v2"]),  # -> 17x17x1088
                block_b=nn.Sequential(*[InceptionResNetBlockB(scale_b) for _ in range(n_b)]),
                reduction_b=InceptionResNetV2ReductionB(1088),  # -> 8x8x2080
                block_c=nn.Sequential(
                    *[InceptionResNetBlockC(scale_c) for _ in range(n_c - 1)],
                    InceptionResNetBlockC(scale=1.0, act=False),
                ),
            )
        )
        self.head = nn.Sequential(
            OrderedDict(
                conv=conv_bn(2080, 1536, 1),  # 8x8x1536 features, as in v4
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(1),
                dropout=nn.Dropout(dropout),
                fc=nn.Linear(1536, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_size, self.name)
        return self.head(self.body(self.stem(x)))


@register("inception_resnet_v2", family="inception", default_size=299, min_size=InceptionResNetV2.min_size)
def inception_resnet_v2(num_classes: int = 1000, *, dropout: float = 0.2) -> InceptionResNetV2:
    """Inception-ResNet-v2 (55.8M parameters, 13.2 GMACs at 299). ``dropout``: the paper keeps 0.8."""
    return InceptionResNetV2(num_classes, dropout=dropout)


# =====================================================================================================
# Loading reference weights
# The reference models register their tensors in the same order as ours (we built the branches in
# their order, which is also the concatenation order), so the conversion zips the two state_dicts and
# checks every pair: same kind of tensor (weight / bias / running stats) and same shape.
# =====================================================================================================


def _copy_in_order(model: nn.Module, source: Iterable[tuple[str, torch.Tensor]], source_name: str) -> None:
    """Copy ``source`` tensors into ``model``'s state_dict position by position, checking each pair."""
    source = list(source)
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(
            f"cannot convert {source_name}: it has {len(source)} tensors where nets' {model.name} has "
            f"{len(target)}. Only the reference architecture (any num_classes / aux flags) can be converted."
        )
    copied = {}
    for (src_key, src), (dst_key, dst) in zip(source, target.items(), strict=True):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or src.shape != dst.shape:
            raise ValueError(
                f"cannot convert {source_name}: its {src_key} {tuple(src.shape)} does not match "
                f"nets' {dst_key} {tuple(dst.shape)}; is it a modified architecture?"
            )
        copied[dst_key] = src.detach().to(dst.dtype).clone()
    model.load_state_dict(copied, strict=True)


def _check_batchnorm_eps(reference: nn.Module, model: nn.Module, source_name: str) -> None:
    """Equal weights give equal logits only with equal BatchNorm eps; refuse a model built otherwise."""
    ref_eps = {m.eps for m in reference.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    if ref_eps != {BN_EPS}:
        raise ValueError(
            f"cannot convert {source_name}: its BatchNorm eps is {sorted(ref_eps)}, nets' {model.name} "
            f"uses {BN_EPS} like the reference weights. Build the reference with its default eps."
        )


def _classifier_outputs(fc: nn.Module, source_name: str) -> int:
    """The number of classes of a reference classifier, which must still be the original ``nn.Linear``."""
    if not isinstance(fc, nn.Linear):
        raise ValueError(
            f"cannot convert {source_name}: its classifier is a {type(fc).__name__}, not the reference "
            "nn.Linear. Convert the unmodified model, then replace nets' model.head.fc."
        )
    return fc.out_features


def _googlenet_from_torchvision(tv_model: nn.Module) -> GoogLeNet:
    has_aux = tv_model.aux1 is not None
    if tv_model.aux_logits != has_aux:
        raise ValueError(
            f"cannot convert this torchvision GoogLeNet: aux_logits={tv_model.aux_logits} but its aux heads "
            f"are {'present' if has_aux else 'missing'}. Build it with googlenet(aux_logits=...) unmodified."
        )
    model = GoogLeNet(
        _classifier_outputs(tv_model.fc, "torchvision's GoogLeNet"),
        aux_logits=has_aux,
        paper_5x5=False,  # torchvision's "5x5" branches are 3x3 (pytorch/vision#906)
        transform_input=bool(tv_model.transform_input),
        dropout=tv_model.dropout.p,
        dropout_aux=tv_model.aux1.dropout.p if has_aux else 0.7,
    )
    # torchvision registers conv1..inception5b, aux1, aux2, fc: our stem, body, aux_heads, head order.
    _check_batchnorm_eps(tv_model, model, "torchvision's GoogLeNet")
    _copy_in_order(model, tv_model.state_dict().items(), "torchvision's GoogLeNet")
    return model


def _inception_v3_from_torchvision(tv_model: nn.Module) -> InceptionV3:
    has_aux = tv_model.AuxLogits is not None
    if tv_model.aux_logits != has_aux:
        raise ValueError(
            f"cannot convert this torchvision Inception3: aux_logits={tv_model.aux_logits} but its aux head "
            f"is {'present' if has_aux else 'missing'}. Build it with inception_v3(aux_logits=...) unmodified."
        )
    model = InceptionV3(
        _classifier_outputs(tv_model.fc, "torchvision's Inception3"),
        aux_logits=has_aux,
        transform_input=bool(tv_model.transform_input),
        dropout=tv_model.dropout.p,
    )
    # torchvision registers AuxLogits between Mixed_6e and Mixed_7a; we keep the heads together at the
    # end (aux_heads, then head), so its tensors move to just before fc.
    state = list(tv_model.state_dict().items())
    aux = [(k, v) for k, v in state if k.startswith("AuxLogits.")]
    main = [(k, v) for k, v in state if not k.startswith("AuxLogits.")]
    fc_start = next(i for i, (k, _) in enumerate(main) if k.startswith("fc."))
    _check_batchnorm_eps(tv_model, model, "torchvision's Inception3")
    _copy_in_order(model, main[:fc_start] + aux + main[fc_start:], "torchvision's Inception3")
    return model


def from_torchvision(tv_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to torchvision's ``googlenet`` or ``inception_v3``, weights copied.

    Honours the instance's ``aux_logits``, ``transform_input``, dropout and ``num_classes``; the result is
    in the same train/eval mode. In eval mode and float32 both give the same logits (max abs difference
    <= 1e-5, tested with random weights and random BatchNorm statistics).
    """
    from torchvision.models import GoogLeNet as TorchvisionGoogLeNet
    from torchvision.models import Inception3

    if isinstance(tv_model, TorchvisionGoogLeNet):
        model = _googlenet_from_torchvision(tv_model)
    elif isinstance(tv_model, Inception3):
        model = _inception_v3_from_torchvision(tv_model)
    else:
        raise TypeError(
            f"nets.inception.from_torchvision converts torchvision's GoogLeNet and Inception3, not a "
            f"{type(tv_model).__name__}. For timm's inception_v4 / inception_resnet_v2 use from_timm."
        )
    return model.train(tv_model.training)


def from_timm(timm_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to timm's ``inception_v4`` or ``inception_resnet_v2``, weights copied.

    Works for any ``num_classes > 0`` and ``drop_rate``; the result is in the same train/eval mode and
    gives the same logits in eval mode (max abs difference <= 1e-5, tested). timm's pretrained weights
    expect input normalised with mean = std = 0.5 (``timm.data.IMAGENET_INCEPTION_MEAN``).
    """
    kind = type(timm_model).__name__
    builders = {"InceptionV4": InceptionV4, "InceptionResnetV2": InceptionResNetV2}
    if kind not in builders or not type(timm_model).__module__.startswith("timm."):
        raise TypeError(
            f"nets.inception.from_timm converts timm's InceptionV4 and InceptionResnetV2 "
            f"(timm.create_model('inception_v4') / ('inception_resnet_v2')), not a {kind}. "
            "For torchvision's googlenet / inception_v3 use from_torchvision."
        )
    source_name = f"timm's {kind}"
    if timm_model.num_classes < 1:
        raise ValueError(
            f"cannot convert {source_name} without a classifier (num_classes=0); create it with num_classes >= 1."
        )
    if (
        getattr(timm_model.global_pool, "pool_type", "avg") != "avg"
        or getattr(timm_model, "in_chans", 3) != 3
    ):
        raise ValueError(
            f"cannot convert {source_name} built with global_pool={timm_model.global_pool.pool_type!r}, "
            f"in_chans={timm_model.in_chans}; nets' model has average pooling and 3 input channels."
        )
    activations = {
        type(m.act) for m in timm_model.modules() if hasattr(m, "act") and hasattr(m, "running_var")
    }
    if activations - {nn.ReLU}:
        raise ValueError(
            f"cannot convert {source_name} built with activation {sorted(a.__name__ for a in activations)}; "
            "nets' model uses ReLU like the reference weights."
        )
    num_classes = _classifier_outputs(timm_model.get_classifier(), source_name)
    model = builders[kind](num_classes, dropout=timm_model.head_drop.p)
    _check_batchnorm_eps(timm_model, model, source_name)
    _copy_in_order(model, timm_model.state_dict().items(), source_name)
    return model.train(timm_model.training)


# =====================================================================================================
# What the book's chapter computes: the cost of one module, factorised filters, receptive fields.
# Small, so the chapter's cells stay a few lines; tests/test_inception_chapter.py checks them.
# =====================================================================================================


class BranchCost(NamedTuple):
    """Parameters and multiply-accumulates (one image) of one branch of a module."""

    params: int
    macs: int


def googlenet_module_inputs(image_size: int = 224) -> dict[str, tuple[int, int]]:
    """Each Inception module of GoogLeNet -> (input channels, input grid side) for a square input.

    At 224 px the modules see 28x28 (3a, 3b), 14x14 (4a-4e) and 7x7 (5a, 5b) grids, as in Table 1.
    Computed by running the stem and body on the meta device, so it follows the model's real layout.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < GoogLeNet.min_size:
        raise ValueError(
            f"image_size must be an integer >= {GoogLeNet.min_size} (GoogLeNet's smallest input)"
        )
    return dict(_module_inputs(image_size))


@functools.lru_cache(maxsize=8)
def _module_inputs(image_size: int) -> tuple[tuple[str, tuple[int, int]], ...]:
    with torch.device("meta"):
        model = GoogLeNet().eval()  # eval: BatchNorm accepts a 1x1 grid of one image
        x = model.stem(torch.zeros(1, 3, image_size, image_size))
        inputs = []
        for name, layer in model.body.named_children():
            if name in GOOGLENET_TABLE:
                inputs.append((name, (int(x.shape[1]), int(x.shape[-1]))))
            x = layer(x)
    return tuple(inputs)


def scale_widths(widths: InceptionWidths | Sequence[int], factor: float) -> InceptionWidths:
    """Multiply the 3x3 and 5x5 output widths of a Table 1 row by ``factor`` (rounded, at least 1)."""
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
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
    from .summary import count_macs, count_params

    if module not in GOOGLENET_TABLE:
        raise ValueError(f"unknown module {module!r}; GoogLeNet's are {', '.join(GOOGLENET_TABLE)}")
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
    from .summary import count_params

    if not isinstance(n, int) or isinstance(n, bool) or n < 3 or n % 2 == 0:
        raise ValueError(f"n must be an odd integer >= 3 (a filter with a centre), got {n!r}")
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    c = channels
    with torch.device("meta"):
        ways = {
            f"{n} x {n}": nn.Conv2d(c, c, n, bias=False),
            f"1 x {n} + {n} x 1": nn.Sequential(
                nn.Conv2d(c, c, (1, n), bias=False), nn.Conv2d(c, c, (n, 1), bias=False)
            ),
            "3 x 3 stack": nn.Sequential(*[nn.Conv2d(c, c, 3, bias=False) for _ in range((n - 1) // 2)]),
        }
    return {name: count_params(layers) for name, layers in ways.items()}


def footprint(layers: nn.Module, in_channels: int, size: int = 11) -> torch.Tensor:
    """Which input pixels reach the centre output pixel of ``layers``: a (size, size) bool mask.

    The receptive field, measured rather than derived: a copy of ``layers`` with every weight set to 1
    (so no cancellation can hide a pixel) runs in eval mode on an all-ones input; the pixels with a
    non-zero gradient of the centre output are the ones it sees. Two 3x3 convolutions give a 5x5 mask,
    a 1x7 followed by a 7x1 a 7x7 one.
    """
    import copy

    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive integer (so there is a centre pixel), got {size!r}")
    probe = copy.deepcopy(layers).float().cpu().eval()
    with torch.no_grad():
        for p in probe.parameters():
            p.fill_(1.0)
    x = torch.ones(1, in_channels, size, size, requires_grad=True)
    out = probe(x)
    if out.shape[-2:] != (size, size):
        raise ValueError(
            f"footprint needs layers that keep the grid (stride 1, 'same' padding); "
            f"{size}x{size} became {tuple(out.shape[-2:])}"
        )
    out[..., size // 2, size // 2].sum().backward()
    return x.grad[0].abs().sum(0) > 0
