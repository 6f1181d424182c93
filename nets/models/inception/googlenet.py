"""GoogLeNet (Inception v1): Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich,
"Going Deeper with Convolutions", CVPR 2015, arXiv 1409.4842 (ILSVRC-2014 winner).

The Inception module and its 1x1 "reductions" (``InceptionModule``), nine of them stacked as the
paper's Table 1 says (``GOOGLENET_TABLE``), and two auxiliary classifiers for training. ``from_torchvision``
at the bottom loads torchvision's weights (whose layout has 3x3 filters where the paper has 5x5).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from ...checks import check_bool, check_choice, check_int, check_ints, check_probability
from ...layers import Parallel, check_images
from ...registry import builds, register
from ...weights import copy_weights, expect_reference, weighted_modules
from .blocks import RenormalizeInput, classifier_head, conv_bn, key_map, run_body, torchvision_options, tower

__all__ = [
    "GOOGLENET_TABLE",
    "GoogLeNet",
    "GoogLeNetAuxHead",
    "GoogLeNetOutputs",
    "InceptionModule",
    "InceptionWidths",
    "from_torchvision",
    "googlenet",
]


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

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.7) -> None:
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
            {t: GoogLeNetAuxHead(body[t].out_channels, num_classes, dropout=dropout_aux) for t in taps}
        )
        self.head = classifier_head(channels, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_images(x, self.min_size, self.name, model=self)
        with_aux = self.training and self.aux_logits
        x, aux = run_body(self.body, self.aux_heads if with_aux else {}, self.stem(self.input_transform(x)))
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
@builds(GoogLeNet)
def googlenet():
    """GoogLeNet / Inception v1 (6.6M parameters in torchvision's layout, 1.5 GMACs at 224).

    ``aux_logits`` (default False): add the two auxiliary classifiers (13.0M parameters in all). They
    only help training -- the deployed network, and the paper's test-time network, has none.
    ``paper_5x5`` (default False): the default is torchvision's layout, whose "5x5" branches are 3x3
    (pytorch/vision#906), so torchvision's weights load; True builds the paper's true 5x5 (7.0M params).
    ``transform_input``: re-normalise ImageNet-normalised input as torchvision's pretrained GoogLeNet does.
    ``dropout`` (paper: 0.4; torchvision: 0.2) before the classifier, ``dropout_aux`` in the aux heads.
    """


def from_torchvision(tv_model: nn.Module) -> GoogLeNet:
    """The ``nets`` GoogLeNet equivalent to torchvision's ``googlenet``, weights copied.

    Honours the instance's ``aux_logits``, ``transform_input``, dropout and ``num_classes``; the result is
    in the same train/eval mode. In eval mode and float32 both give the same logits (max abs difference
    <= 1e-5, tested with random weights and random BatchNorm statistics). Weights pair in order (conv1 ..
    inception5b, aux1, aux2, fc: our stem, body, aux_heads, head; see ``blocks.key_map``).
    """
    from torchvision.models import GoogLeNet as TorchvisionGoogLeNet

    expect_reference(tv_model, TorchvisionGoogLeNet, "torchvision's GoogLeNet")
    aux = tv_model.aux1
    num_classes, options = torchvision_options(tv_model, "GoogLeNet", aux)
    # torchvision's "5x5" branches are 3x3 (pytorch/vision#906): paper_5x5=False
    model = GoogLeNet(num_classes, dropout_aux=aux.dropout.p if aux is not None else 0.7, **options)
    return copy_weights(model, tv_model, key_map(model, weighted_modules(tv_model)))
