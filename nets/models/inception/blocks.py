"""What the four Inception networks share: the conv-BN brick, towers, heads, grid reductions, key maps.

The family's one idea is ``nets.layers.Parallel``: branches that see the same input through different
filters, concatenated. Here are the pieces built on it that more than one network uses -- the conv (no
bias) + BatchNorm(eps=1e-3) + ReLU brick of every reference, the classifier head, the 17x17 block with
factorised 7x7 filters and the two grid reductions (Inception-v3 and v4 share them; Inception-ResNet-v2
shares Reduction-A), and the helpers the converters use to pair our modules with the reference's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
from torch import nn

from ...layers import ConvBNAct, Parallel
from ...weights import weighted_modules

__all__ = [
    "BN_EPS",
    "REDUCTION_A_FILTERS",
    "REDUCTION_B_FILTERS",
    "InceptionBlockB",
    "ReductionA",
    "ReductionB",
    "RenormalizeInput",
    "classifier_head",
    "conv_bn",
    "pool_branch",
    "tower",
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


def pool_branch(in_channels: int, out_channels: int, *, count_include_pad: bool = True) -> nn.Sequential:
    """The pooling branch of the v3 / v4 blocks: 3x3 average pool, then a 1x1 projection.

    torchvision's v3 counts the zero padding in the border averages; timm's v4 / IRv2 do not.
    """
    pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=count_include_pad)
    return tower(pool=pool, proj=conv_bn(in_channels, out_channels, 1))


def classifier_head(
    in_features: int, num_classes: int, *, dropout: float, **before: nn.Module
) -> nn.Sequential:
    """[``before``,] global average pool -> dropout -> linear: no big FC layers, unlike VGG."""
    return tower(
        **before,
        pool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(1),
        dropout=nn.Dropout(dropout),
        fc=nn.Linear(in_features, num_classes),
    )


def run_body(
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


# Reduction-A's filter counts k, l, m, n (Inception-v4 paper Figure 7 and Table 1). One module serves
# three networks: a stride-2 3x3 (n) beside a 1x1 (k) -> 3x3 (l) -> stride-2 3x3 (m) tower and a max
# pool. Inception-v3's first grid reduction is the same module with smaller towers.
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
        *,
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
            branch_pool=pool_branch(in_channels, pool_channels, count_include_pad=count_include_pad),
        )
        self.out_channels = ch1x1 + c + d5 + pool_channels


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


def split_1x3_3x1(in_channels: int, out_channels: int) -> Parallel:
    """Paper Figure 7's expanded filter bank: a 1x3 and a 3x1 side by side on the same input."""
    return Parallel(
        conv1x3=conv_bn(in_channels, out_channels, (1, 3)), conv3x1=conv_bn(in_channels, out_channels, (3, 1))
    )


# Loading reference weights
# Every block's branches are built in the reference's order (also the concatenation order), so the key
# map pairs the modules holding weights in order; nets.weights.copy_weights checks each pair (kind of
# layer, kernel, stride, padding, BatchNorm eps, shapes) and that nothing is left over on either side.


def key_map(model: nn.Module, reference_modules: Iterable[str]) -> list[tuple[str, str]]:
    """Our modules holding weights paired in order with the reference's (``weighted_modules`` order)."""
    ours = [n for n in weighted_modules(model) if not n.startswith("input_transform")]  # constants only
    return list(zip(ours, reference_modules, strict=False))  # a surplus on either side: copy_weights says so


def reference_num_classes(fc: nn.Module, source: str) -> int:
    """The number of classes of a reference classifier, which must still be the original ``nn.Linear``."""
    if not isinstance(fc, nn.Linear):
        raise ValueError(
            f"cannot convert {source}: its classifier is a {type(fc).__name__}, not the reference "
            "nn.Linear. Convert the unmodified model, then replace nets' model.head.fc."
        )
    return fc.out_features


def torchvision_options(tv_model: nn.Module, kind: str, aux: nn.Module | None) -> tuple[int, dict]:
    """``num_classes`` and the options of torchvision's GoogLeNet or Inception3 (``kind``), checked.

    ``aux`` is its first auxiliary head (None without); ``aux_logits`` must agree with it.
    """
    if tv_model.aux_logits != (aux is not None):
        raise ValueError(
            f"cannot convert this torchvision {kind}: aux_logits={tv_model.aux_logits} but its aux heads are "
            f"{'present' if aux is not None else 'missing'}. Build it with aux_logits=... unmodified."
        )
    options = dict(
        aux_logits=aux is not None, transform_input=bool(tv_model.transform_input), dropout=tv_model.dropout.p
    )
    return reference_num_classes(tv_model.fc, f"torchvision's {kind}"), options
