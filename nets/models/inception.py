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

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from ..checks import check_bool, check_choice, check_int, check_ints, check_probability
from ..layers import ConvBNAct, Parallel, check_input_size
from ..registry import register
from ..weights import NotThisReference, copy_weights, expect_reference, weighted_modules

__all__ = [
    "GOOGLENET_TABLE",
    "INCEPTION_RESNET_V2_BLOCKS",
    "INCEPTION_V3_LAYOUT",
    "INCEPTION_V4_BLOCKS",
    "REDUCTION_A_FILTERS",
    "REDUCTION_B_FILTERS",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "InceptionModule",
    "InceptionResNetV2",
    "InceptionV3",
    "InceptionV3Outputs",
    "InceptionV4",
    "InceptionWidths",
    "ReductionA",
    "ReductionB",
    "ResidualInceptionBlock",
    "conv_bn",
    "from_timm",
    "from_torchvision",
    "googlenet",
    "inception_resnet_v2",
    "inception_v3",
    "inception_v4",
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


def tower(**layers: nn.Module) -> nn.Sequential:
    """One branch of a block: layers run in order, named as in the paper's figure (Google's "tower")."""
    return nn.Sequential(OrderedDict(layers))


def pool_branch(in_channels: int, out_channels: int, count_include_pad: bool = True) -> nn.Sequential:
    """The pooling branch of the v3 / v4 blocks: 3x3 average pool, then a 1x1 projection.

    torchvision's v3 counts the zero padding in the border averages; timm's v4 / IRv2 do not.
    """
    pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=count_include_pad)
    return tower(pool=pool, proj=conv_bn(in_channels, out_channels, 1))


def classifier_head(in_features: int, num_classes: int, dropout: float, **before: nn.Module) -> nn.Sequential:
    """[``before``,] global average pool -> dropout -> linear: no big FC layers, unlike VGG."""
    return tower(
        **before,
        pool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(1),
        dropout=nn.Dropout(dropout),
        fc=nn.Linear(in_features, num_classes),
    )


def _run_body(
    body: nn.Sequential, aux_heads: nn.ModuleDict | dict, x: torch.Tensor
) -> tuple[torch.Tensor, dict]:
    """Run ``body``'s children in order; return its output and ``{tap: aux logits}`` of the heads fed."""
    aux = {}
    for name, layer in body.named_children():
        x = layer(x)
        if name in aux_heads:
            aux[name] = aux_heads[name](x)
    return x, aux


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
        check_int("in_channels", in_channels)
        w = InceptionWidths(*check_ints("widths", widths, example="GOOGLENET_TABLE['inception3a']"))
        check_choice("kernel_5x5", kernel_5x5, (5, 3))  # 5: the paper; 3: torchvision's layout
        pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        if check_bool("reduce", reduce):
            super().__init__(
                branch1x1=conv_bn(in_channels, w.ch1x1, 1),
                branch3x3=tower(
                    reduce=conv_bn(in_channels, w.ch3x3_reduce, 1), conv=conv_bn(w.ch3x3_reduce, w.ch3x3, 3)
                ),
                branch5x5=tower(
                    reduce=conv_bn(in_channels, w.ch5x5_reduce, 1),
                    conv=conv_bn(w.ch5x5_reduce, w.ch5x5, kernel_5x5),
                ),
                branch_pool=tower(pool=pool, proj=conv_bn(in_channels, w.pool_proj, 1)),
            )
        else:
            super().__init__(
                branch1x1=conv_bn(in_channels, w.ch1x1, 1),
                branch3x3=conv_bn(in_channels, w.ch3x3, 3),
                branch5x5=conv_bn(in_channels, w.ch5x5, kernel_5x5),
                branch_pool=pool,
            )
        self.in_channels = in_channels
        self.out_channels = w.ch1x1 + w.ch3x3 + w.ch5x5 + (w.pool_proj if reduce else in_channels)


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
        check_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        check_probability("dropout_aux", dropout_aux)
        self.aux_logits = check_bool("aux_logits", aux_logits)
        self.transform_input = check_bool("transform_input", transform_input)
        self.input_transform = RenormalizeInput() if transform_input else nn.Identity()
        self.stem = tower(
            conv1=conv_bn(3, 64, 7, stride=2),  # 224 -> 112
            pool1=nn.MaxPool2d(3, stride=2, ceil_mode=True),  # -> 56
            conv2_reduce=conv_bn(64, 64, 1),
            conv2=conv_bn(64, 192, 3),
            pool2=nn.MaxPool2d(3, stride=2, ceil_mode=True),  # -> 28
        )
        kernel_5x5 = 5 if check_bool("paper_5x5", paper_5x5) else 3  # torchvision's "5x5" is 3x3
        body: OrderedDict[str, nn.Module] = OrderedDict()
        channels = 192
        for module_name, widths in GOOGLENET_TABLE.items():
            body[module_name] = InceptionModule(channels, widths, kernel_5x5=kernel_5x5)
            channels = body[module_name].out_channels
            if module_name in GOOGLENET_POOLS:
                pool_name, kernel = GOOGLENET_POOLS[module_name]
                body[pool_name] = nn.MaxPool2d(kernel, stride=2, ceil_mode=True)
        self.body = nn.Sequential(body)
        # keyed by the module each head reads; empty without aux heads
        taps = GOOGLENET_AUX_TAPS if aux_logits else ()
        self.aux_heads = nn.ModuleDict(
            {t: GoogLeNetAuxHead(body[t].out_channels, num_classes, dropout_aux) for t in taps}
        )
        self.head = classifier_head(channels, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_input_size(x, self.min_size, self.name, model=self)
        with_aux = self.training and self.aux_logits
        x, aux = _run_body(self.body, self.aux_heads if with_aux else {}, self.stem(self.input_transform(x)))
        logits = self.head(x)
        if with_aux:
            return GoogLeNetOutputs(logits, aux[GOOGLENET_AUX_TAPS[1]], aux[GOOGLENET_AUX_TAPS[0]])
        return logits


@register(
    "googlenet",
    display="GoogLeNet",
    family="inception",
    default_size=224,
    min_size=GoogLeNet.min_size,
    weights="torchvision:GoogLeNet_Weights.IMAGENET1K_V1",
    convert="from_torchvision",
)
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
# Reduction-B of v3 (mixed_7a) and v4 (paper Figure 8): the widths of its 1x1 -> 3x3/2 tower and of
# its 1x1 -> 1x7 -> 7x1 -> 3x3/2 tower. (Inception-ResNet-v2's Reduction-B has three towers.)
REDUCTION_B_FILTERS: dict[str, tuple[tuple[int, int], tuple[int, int, int, int]]] = {
    "inception_v3": ((192, 320), (192, 192, 192, 192)),
    "inception_v4": ((192, 192), (256, 256, 320, 320)),
}


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
            branch5x5=tower(reduce=conv_bn(in_channels, 48, 1), conv=conv_bn(48, 64, 5)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 64, 1), conv1=conv_bn(64, 96, 3), conv2=conv_bn(96, 96, 3)
            ),
            branch_pool=pool_branch(in_channels, pool_proj, count_include_pad),
        )
        self.out_channels = ch1x1 + 64 + 96 + pool_proj


class ReductionA(Parallel):
    """Grid reduction 35 -> 17 (Inception-v4 paper Figure 7; v3 paper Figure 10's idea).

    Pooling and stride-2 convolutions run side by side, so the grid shrinks without a representational
    bottleneck and without paying for a full-resolution expansion first. Filter counts: ``REDUCTION_A_FILTERS``.
    """

    def __init__(self, in_channels: int, k: int, l: int, m: int, n: int) -> None:  # the paper's names
        super().__init__(
            branch3x3=conv_bn(in_channels, n, 3, stride=2, padding=0),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, k, 1),
                conv1=conv_bn(k, l, 3),
                conv2=conv_bn(l, m, 3, stride=2, padding=0),
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = n + m + in_channels


class InceptionBlockB(Parallel):
    """17x17 block (v3 paper Figure 6, v4 paper Figure 5): 7x7 filters factorised into 1x7 and 7x1.

    ``tower7x7``: the widths of 1x1 -> 1x7 -> 7x1; ``tower7x7dbl``: of 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        tower7x7: tuple[int, int, int],
        tower7x7dbl: tuple[int, int, int, int, int],
        pool_channels: int,
        count_include_pad: bool = True,
    ) -> None:
        a, b, c = tower7x7
        d1, d2, d3, d4, d5 = tower7x7dbl
        super().__init__(
            branch1x1=conv_bn(in_channels, ch1x1, 1),
            branch7x7=tower(
                reduce=conv_bn(in_channels, a, 1),
                conv1x7=conv_bn(a, b, (1, 7)),
                conv7x1=conv_bn(b, c, (7, 1)),
            ),
            branch7x7dbl=tower(
                reduce=conv_bn(in_channels, d1, 1),
                conv7x1_1=conv_bn(d1, d2, (7, 1)),
                conv1x7_1=conv_bn(d2, d3, (1, 7)),
                conv7x1_2=conv_bn(d3, d4, (7, 1)),
                conv1x7_2=conv_bn(d4, d5, (1, 7)),
            ),
            branch_pool=pool_branch(in_channels, pool_channels, count_include_pad),
        )
        self.out_channels = ch1x1 + c + d5 + pool_channels


class InceptionV3BlockB(InceptionBlockB):
    """v3's 17x17 block: ``c7`` channels inside the factorised 7x7 towers, 192 out of each branch."""

    def __init__(self, in_channels: int, c7: int) -> None:
        super().__init__(in_channels, 192, (c7, c7, 192), (c7, c7, c7, c7, 192), 192)


class ReductionB(Parallel):
    """Grid reduction 17 -> 8: a stride-2 3x3 tower, a 1x7 -> 7x1 -> stride-2 3x3 tower, a max pool.

    Widths: ``REDUCTION_B_FILTERS``.
    """

    def __init__(
        self, in_channels: int, tower3x3: tuple[int, int], tower7x7x3: tuple[int, int, int, int]
    ) -> None:
        a, b = tower3x3
        c, d, e, f = tower7x7x3
        super().__init__(
            branch3x3=tower(reduce=conv_bn(in_channels, a, 1), conv=conv_bn(a, b, 3, stride=2, padding=0)),
            branch7x7x3=tower(
                reduce=conv_bn(in_channels, c, 1),
                conv1x7=conv_bn(c, d, (1, 7)),
                conv7x1=conv_bn(d, e, (7, 1)),
                conv3x3=conv_bn(e, f, 3, stride=2, padding=0),
            ),
            branch_pool=nn.MaxPool2d(3, stride=2),
        )
        self.out_channels = b + f + in_channels


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
            branch3x3=tower(reduce=conv_bn(in_channels, 384, 1), split=_split_1x3_3x1(384, 384)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 448, 1), conv=conv_bn(448, 384, 3), split=_split_1x3_3x1(384, 384)
            ),
            branch_pool=pool_branch(in_channels, 192),
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
        check_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        self.aux_logits = check_bool("aux_logits", aux_logits)
        self.transform_input = check_bool("transform_input", transform_input)
        self.input_transform = RenormalizeInput() if transform_input else nn.Identity()
        self.stem = InceptionV3Stem()
        kinds = {
            "A": lambda c, width: InceptionV3BlockA(c, pool_proj=width),
            "reduction_a": lambda c, _: ReductionA(c, *REDUCTION_A_FILTERS["inception_v3"]),
            "B": lambda c, width: InceptionV3BlockB(c, c7=width),
            "reduction_b": lambda c, _: ReductionB(c, *REDUCTION_B_FILTERS["inception_v3"]),
            "C": lambda c, _: InceptionV3BlockC(c),
        }
        self.body = tower(**{name: kinds[kind](c, width) for name, kind, c, width in INCEPTION_V3_LAYOUT})
        aux_heads = {INCEPTION_V3_AUX_TAP: InceptionV3AuxHead(768, num_classes)} if aux_logits else {}
        self.aux_heads = nn.ModuleDict(aux_heads)
        self.head = classifier_head(2048, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | InceptionV3Outputs:
        check_input_size(x, self.min_size, self.name, model=self)
        with_aux = self.training and self.aux_logits
        if with_aux:
            check_input_size(x, self.aux_min_size, f"{self.name} in training mode with aux_logits=True")
        x, aux = _run_body(self.body, self.aux_heads if with_aux else {}, self.stem(self.input_transform(x)))
        logits = self.head(x)
        return InceptionV3Outputs(logits, aux[INCEPTION_V3_AUX_TAP]) if with_aux else logits


@register(
    "inception_v3",
    display="Inception-v3",
    family="inception",
    default_size=299,
    min_size=InceptionV3.min_size,
    weights="torchvision:Inception_V3_Weights.IMAGENET1K_V1",
    convert="from_torchvision",
)
def inception_v3(
    num_classes: int = 1000, *, aux_logits: bool = False, transform_input: bool = False, dropout: float = 0.5
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
                    branch_pool=nn.MaxPool2d(3, stride=2), branch3x3=conv_bn(64, 96, 3, stride=2, padding=0)
                ),
                mixed_4a=Parallel(  # -> 71x71x192
                    branch3x3=tower(reduce=conv_bn(160, 64, 1), conv=conv_bn(64, 96, 3, padding=0)),
                    branch7x7=tower(
                        reduce=conv_bn(160, 64, 1),
                        conv1x7=conv_bn(64, 64, (1, 7)),
                        conv7x1=conv_bn(64, 64, (7, 1)),
                        conv3x3=conv_bn(64, 96, 3, padding=0),
                    ),
                ),
                mixed_5a=Parallel(  # -> 35x35x384
                    branch3x3=conv_bn(192, 192, 3, stride=2, padding=0), branch_pool=nn.MaxPool2d(3, stride=2)
                ),
            )
        )


class InceptionV4BlockA(Parallel):
    """Inception-A, 35x35x384 (paper Figure 4): 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""

    def __init__(self, in_channels: int = 384) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 96, 1),
            branch3x3=tower(reduce=conv_bn(in_channels, 64, 1), conv=conv_bn(64, 96, 3)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 64, 1), conv1=conv_bn(64, 96, 3), conv2=conv_bn(96, 96, 3)
            ),
            branch_pool=pool_branch(in_channels, 96, count_include_pad=False),
        )
        self.out_channels = 4 * 96


class InceptionV4BlockB(InceptionBlockB):
    """Inception-B, 17x17x1024 (paper Figure 5): v3's block B with wider towers."""

    def __init__(self, in_channels: int = 1024) -> None:
        super().__init__(
            in_channels, 384, (192, 224, 256), (192, 192, 224, 224, 256), 128, count_include_pad=False
        )


class InceptionV4BlockC(Parallel):
    """Inception-C, 8x8x1536 (paper Figure 6): towers that end in parallel 1x3 and 3x1 filters."""

    def __init__(self, in_channels: int = 1536) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 256, 1),
            branch3x3=tower(reduce=conv_bn(in_channels, 384, 1), split=_split_1x3_3x1(384, 256)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 384, 1),
                conv3x1=conv_bn(384, 448, (3, 1)),
                conv1x3=conv_bn(448, 512, (1, 3)),
                split=_split_1x3_3x1(512, 256),
            ),
            branch_pool=pool_branch(in_channels, 256, count_include_pad=False),
        )
        self.out_channels = 256 + 512 + 512 + 256


class InceptionV4(nn.Module):
    """Inception-v4 (paper Figure 9): stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B,
    3 x Inception-C, average pool, dropout, linear."""

    name = "inception_v4"
    min_size = 75  # the stem's valid convolutions and the two reductions need 75 px

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.2) -> None:
        super().__init__()
        check_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        n_a, n_b, n_c = INCEPTION_V4_BLOCKS.values()
        self.stem = InceptionV4Stem()
        self.body = tower(
            block_a=nn.Sequential(*[InceptionV4BlockA(384) for _ in range(n_a)]),
            reduction_a=ReductionA(384, *REDUCTION_A_FILTERS["inception_v4"]),  # -> 17x17x1024
            block_b=nn.Sequential(*[InceptionV4BlockB(1024) for _ in range(n_b)]),
            reduction_b=ReductionB(1024, *REDUCTION_B_FILTERS["inception_v4"]),  # -> 8x8x1536
            block_c=nn.Sequential(*[InceptionV4BlockC(1536) for _ in range(n_c)]),
        )
        self.head = classifier_head(1536, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_size, self.name, model=self)
        return self.head(self.body(self.stem(x)))


@register(
    "inception_v4",
    display="Inception-v4",
    family="inception",
    default_size=299,
    min_size=InceptionV4.min_size,
    weights="timm:inception_v4.tf_in1k",
    convert="from_timm",
)
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
            branch3x3=tower(reduce=conv_bn(channels, 32, 1), conv=conv_bn(32, 32, 3)),
            branch3x3dbl=tower(
                reduce=conv_bn(channels, 32, 1), conv1=conv_bn(32, 48, 3), conv2=conv_bn(48, 64, 3)
            ),
        )
        super().__init__(branches, 32 + 32 + 64, channels, scale)


class InceptionResNetBlockB(ResidualInceptionBlock):
    """Inception-ResNet-B, 17x17x1088 (paper Figure 17): 1x1 | 1x1 -> 1x7 -> 7x1."""

    def __init__(self, scale: float, channels: int = 1088) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 192, 1),
            branch7x7=tower(
                reduce=conv_bn(channels, 128, 1),
                conv1x7=conv_bn(128, 160, (1, 7)),
                conv7x1=conv_bn(160, 192, (7, 1)),
            ),
        )
        super().__init__(branches, 192 + 192, channels, scale)


class InceptionResNetBlockC(ResidualInceptionBlock):
    """Inception-ResNet-C, 8x8x2080 (paper Figure 19): 1x1 | 1x1 -> 1x3 -> 3x1."""

    def __init__(self, scale: float, channels: int = 2080, act: bool = True) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 192, 1),
            branch3x3=tower(
                reduce=conv_bn(channels, 192, 1),
                conv1x3=conv_bn(192, 224, (1, 3)),
                conv3x1=conv_bn(224, 256, (3, 1)),
            ),
        )
        super().__init__(branches, 192 + 256, channels, scale, act)


class InceptionResNetV2ReductionB(Parallel):
    """Reduction-B of Inception-ResNet-v2 (paper Figure 18): three stride-2 towers and a max pool."""

    def __init__(self, in_channels: int = 1088) -> None:
        super().__init__(
            branch3x3a=tower(
                reduce=conv_bn(in_channels, 256, 1), conv=conv_bn(256, 384, 3, stride=2, padding=0)
            ),
            branch3x3b=tower(
                reduce=conv_bn(in_channels, 256, 1), conv=conv_bn(256, 288, 3, stride=2, padding=0)
            ),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 256, 1),
                conv1=conv_bn(256, 288, 3),
                conv2=conv_bn(288, 320, 3, stride=2, padding=0),
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
        check_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        (n_a, scale_a), (n_b, scale_b), (n_c, scale_c) = INCEPTION_RESNET_V2_BLOCKS.values()
        self.stem = InceptionV3Stem()
        self.body = tower(
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
        # a 1x1 conv to 8x8x1536 features, as in v4, then the shared head
        self.head = classifier_head(1536, num_classes, dropout, conv=conv_bn(2080, 1536, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_size, self.name, model=self)
        return self.head(self.body(self.stem(x)))


@register(
    "inception_resnet_v2",
    display="Inception-ResNet-v2",
    family="inception",
    default_size=299,
    min_size=InceptionResNetV2.min_size,
    weights="timm:inception_resnet_v2.tf_in1k",
    convert="from_timm",
)
def inception_resnet_v2(num_classes: int = 1000, *, dropout: float = 0.2) -> InceptionResNetV2:
    """Inception-ResNet-v2 (55.8M parameters, 13.2 GMACs at 299). ``dropout``: the paper keeps 0.8."""
    return InceptionResNetV2(num_classes, dropout=dropout)


# =====================================================================================================
# Loading reference weights
# We built every block's branches in the reference's order (also the concatenation order), so the key
# map pairs the modules holding weights in order; copy_weights checks each pair (kind of layer, kernel,
# stride, padding, BatchNorm eps, shapes) and that nothing is left over on either side.
# =====================================================================================================


def _key_map(model: nn.Module, reference_modules: Iterable[str]) -> list[tuple[str, str]]:
    """Our modules holding weights paired in order with the reference's (``weighted_modules`` order)."""
    ours = [n for n in weighted_modules(model) if not n.startswith("input_transform")]  # constants only
    return list(zip(ours, reference_modules, strict=False))  # a surplus on either side: copy_weights says so


def _num_classes(fc: nn.Module, source: str) -> int:
    """The number of classes of a reference classifier, which must still be the original ``nn.Linear``."""
    if not isinstance(fc, nn.Linear):
        raise ValueError(
            f"cannot convert {source}: its classifier is a {type(fc).__name__}, not the reference "
            "nn.Linear. Convert the unmodified model, then replace nets' model.head.fc."
        )
    return fc.out_features


def from_torchvision(tv_model: nn.Module) -> GoogLeNet | InceptionV3:
    """The ``nets`` model equivalent to torchvision's ``googlenet`` or ``inception_v3``, weights copied.

    Honours the instance's ``aux_logits``, ``transform_input``, dropout and ``num_classes``; the result is
    in the same train/eval mode. In eval mode and float32 both give the same logits (max abs difference
    <= 1e-5, tested with random weights and random BatchNorm statistics).
    """
    from torchvision.models import GoogLeNet as TorchvisionGoogLeNet
    from torchvision.models import Inception3

    expect_reference(tv_model, (TorchvisionGoogLeNet, Inception3), "torchvision's GoogLeNet or Inception3")
    is_googlenet = isinstance(tv_model, TorchvisionGoogLeNet)
    kind = "GoogLeNet" if is_googlenet else "Inception3"
    aux = tv_model.aux1 if is_googlenet else tv_model.AuxLogits
    if tv_model.aux_logits != (aux is not None):
        raise ValueError(
            f"cannot convert this torchvision {kind}: aux_logits={tv_model.aux_logits} but its aux heads are "
            f"{'present' if aux is not None else 'missing'}. Build it with aux_logits=... unmodified."
        )
    num_classes = _num_classes(tv_model.fc, f"torchvision's {kind}")
    options = dict(
        aux_logits=aux is not None, transform_input=bool(tv_model.transform_input), dropout=tv_model.dropout.p
    )
    theirs = weighted_modules(tv_model)
    if is_googlenet:  # conv1 .. inception5b, aux1, aux2, fc: our stem, body, aux_heads, head
        # torchvision's "5x5" branches are 3x3 (pytorch/vision#906): paper_5x5=False
        model = GoogLeNet(num_classes, dropout_aux=aux.dropout.p if aux is not None else 0.7, **options)
    else:  # torchvision registers AuxLogits between Mixed_6e and Mixed_7a; ours sits with the head at the end
        model = InceptionV3(num_classes, **options)
        aux_names = [n for n in theirs if n.startswith("AuxLogits.")]
        theirs = [n for n in theirs if n not in aux_names and n != "fc"] + aux_names + ["fc"]
    return copy_weights(model, tv_model, _key_map(model, theirs))


def from_timm(timm_model: nn.Module) -> InceptionV4 | InceptionResNetV2:
    """The ``nets`` model equivalent to timm's ``inception_v4`` or ``inception_resnet_v2``, weights copied.

    Works for any ``num_classes > 0`` and ``drop_rate``; the result is in the same train/eval mode and
    gives the same logits in eval mode (max abs difference <= 1e-5, tested). timm's pretrained weights
    expect input normalised with mean = std = 0.5 (``timm.data.IMAGENET_INCEPTION_MEAN``).
    """
    kind = type(timm_model).__name__  # checked by name: timm is optional, so it may not be importable
    builders = {"InceptionV4": InceptionV4, "InceptionResnetV2": InceptionResNetV2}
    if kind not in builders or not type(timm_model).__module__.startswith("timm."):
        raise NotThisReference(f"expected timm's InceptionV4 or InceptionResnetV2, got {kind}")
    source = f"timm's {kind}"
    if timm_model.num_classes < 1:
        raise ValueError(
            f"cannot convert {source} without a classifier (num_classes=0); create it with num_classes >= 1."
        )
    # what the weights cannot show: the pooling and the activation (timm's BatchNormAct2d holds it)
    pool = getattr(timm_model.global_pool, "pool_type", "avg")
    acts = {
        type(m.act).__name__
        for m in timm_model.modules()
        if isinstance(m, nn.BatchNorm2d) and hasattr(m, "act")
    }
    if pool != "avg" or acts - {"ReLU"}:
        raise ValueError(
            f"cannot convert {source} built with global_pool={pool!r}, activations {sorted(acts)}; nets' "
            "model has average pooling and ReLU like the reference weights."
        )
    model = builders[kind](_num_classes(timm_model.get_classifier(), source), dropout=timm_model.head_drop.p)
    return copy_weights(model, timm_model, _key_map(model, weighted_modules(timm_model)), source="timm")
