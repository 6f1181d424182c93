"""Inception-v3: Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016, arXiv 1512.00567.

Factorised filters: a 5x5 becomes two 3x3, an nxn becomes 1xn then nx1, and grid reductions pool and
convolve side by side (``blocks.ReductionA`` / ``ReductionB``). The released model, block by block, is
``INCEPTION_V3_LAYOUT``; ``from_torchvision`` at the bottom loads torchvision's port of its weights.
Inception-ResNet-v2's released model reuses this file's stem and 35x35 block.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from ...checks import check_bool, check_int, check_probability
from ...layers import Parallel, check_images
from ...registry import builds, register
from ...weights import copy_weights, expect_reference, weighted_modules
from .blocks import (
    REDUCTION_A_FILTERS,
    REDUCTION_B_FILTERS,
    InceptionBlockB,
    ReductionA,
    ReductionB,
    RenormalizeInput,
    classifier_head,
    conv_bn,
    key_map,
    pool_branch,
    run_body,
    split_1x3_3x1,
    torchvision_options,
    tower,
)

__all__ = [
    "INCEPTION_V3_LAYOUT",
    "InceptionV3",
    "InceptionV3AuxHead",
    "InceptionV3BlockA",
    "InceptionV3BlockB",
    "InceptionV3BlockC",
    "InceptionV3Outputs",
    "InceptionV3Stem",
    "from_torchvision",
    "inception_v3",
]

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
            branch_pool=pool_branch(in_channels, pool_proj, count_include_pad=count_include_pad),
        )
        self.out_channels = ch1x1 + 64 + 96 + pool_proj


class InceptionV3BlockB(InceptionBlockB):
    """v3's 17x17 block: ``c7`` channels inside the factorised 7x7 towers, 192 out of each branch."""

    def __init__(self, in_channels: int, c7: int) -> None:
        super().__init__(in_channels, 192, (c7, c7, 192), (c7, c7, c7, c7, 192), 192)


class InceptionV3BlockC(Parallel):
    """8x8 block (paper Figure 7): the 3x3s end in parallel 1x3 and 3x1 filters, widening the output."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(
            branch1x1=conv_bn(in_channels, 320, 1),
            branch3x3=tower(reduce=conv_bn(in_channels, 384, 1), split=split_1x3_3x1(384, 384)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 448, 1), conv=conv_bn(448, 384, 3), split=split_1x3_3x1(384, 384)
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
        self.head = classifier_head(2048, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | InceptionV3Outputs:
        check_images(x, self.min_size, self.name, model=self)
        with_aux = self.training and self.aux_logits
        if with_aux:
            check_images(x, self.aux_min_size, f"{self.name} in training mode with aux_logits=True")
        x, aux = run_body(self.body, self.aux_heads if with_aux else {}, self.stem(self.input_transform(x)))
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
@builds(InceptionV3)
def inception_v3():
    """Inception-v3 (23.8M parameters, 27.2M with the aux head; 5.7 GMACs at 299).

    ``aux_logits`` (default False): add the auxiliary classifier, which only helps training (and needs
    299x299 input in training mode). ``transform_input``: re-normalise ImageNet-normalised input as
    torchvision's pretrained Inception-v3 does. ``dropout`` before the classifier.
    """


def from_torchvision(tv_model: nn.Module) -> InceptionV3:
    """The ``nets`` Inception-v3 equivalent to torchvision's ``inception_v3``, weights copied.

    Honours the instance's ``aux_logits``, ``transform_input``, dropout and ``num_classes``; the result is
    in the same train/eval mode. In eval mode and float32 both give the same logits (max abs difference
    <= 1e-5, tested with random weights and random BatchNorm statistics).
    """
    from torchvision.models import Inception3

    expect_reference(tv_model, Inception3, "torchvision's Inception3")
    num_classes, options = torchvision_options(tv_model, "Inception3", tv_model.AuxLogits)
    model = InceptionV3(num_classes, **options)
    # torchvision registers AuxLogits between Mixed_6e and Mixed_7a; ours sits with the head at the end
    theirs = weighted_modules(tv_model)
    aux_names = [n for n in theirs if n.startswith("AuxLogits.")]
    theirs = [n for n in theirs if n not in aux_names and n != "fc"] + aux_names + ["fc"]
    return copy_weights(model, tv_model, key_map(model, theirs))
