"""Inception-v4 and Inception-ResNet-v2: Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet
and the Impact of Residual Connections on Learning", AAAI 2017, arXiv 1602.07261 (February 2016).

Inception-v4 makes v3's blocks uniform (Inception-A/B/C, Reduction-A/B) behind a deeper stem.
Inception-ResNet-v2 adds each block's branches back to its input, scaled down
(``ResidualInceptionBlock``). The reference weights are TensorFlow's, ported by timm
(``inception_v4.tf_in1k``, ``inception_resnet_v2.tf_in1k``), which expect input scaled to [-1, 1]
(mean = std = 0.5); ``from_timm`` at the bottom loads them.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ...checks import check_int, check_probability
from ...layers import Parallel, check_images
from ...registry import builds, register
from ...weights import NotThisReference, copy_weights, weighted_modules
from .blocks import (
    REDUCTION_A_FILTERS,
    REDUCTION_B_FILTERS,
    InceptionBlockB,
    ReductionA,
    ReductionB,
    classifier_head,
    conv_bn,
    key_map,
    pool_branch,
    reference_num_classes,
    split_1x3_3x1,
    tower,
)
from .inception_v3 import InceptionV3BlockA, InceptionV3Stem

__all__ = [
    "INCEPTION_RESNET_V2_BLOCKS",
    "INCEPTION_V4_BLOCKS",
    "InceptionResNetBlockA",
    "InceptionResNetBlockB",
    "InceptionResNetBlockC",
    "InceptionResNetV2",
    "InceptionResNetV2ReductionB",
    "InceptionV4",
    "InceptionV4BlockA",
    "InceptionV4BlockB",
    "InceptionV4BlockC",
    "InceptionV4Stem",
    "ResidualInceptionBlock",
    "from_timm",
    "inception_resnet_v2",
    "inception_v4",
]


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
            branch3x3=tower(reduce=conv_bn(in_channels, 384, 1), split=split_1x3_3x1(384, 256)),
            branch3x3dbl=tower(
                reduce=conv_bn(in_channels, 384, 1),
                conv3x1=conv_bn(384, 448, (3, 1)),
                conv1x3=conv_bn(448, 512, (1, 3)),
                split=split_1x3_3x1(512, 256),
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
        self.head = classifier_head(1536, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
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
@builds(InceptionV4)
def inception_v4():
    """Inception-v4 (42.7M parameters, 12.3 GMACs at 299). ``dropout``: the paper keeps 0.8 (p = 0.2)."""


class ResidualInceptionBlock(nn.Module):
    """An Inception-ResNet block: ``act(x + scale * project(branches(x)))`` (paper Figures 16-20).

    The branches are a small Inception module; a linear 1x1 ``project`` (with bias, no BatchNorm)
    brings their concatenation back to the input width so it can be added to ``x``. Scaling the
    branch down before the addition is what kept these very wide networks from dying in training.
    """

    def __init__(
        self, branches: Parallel, branch_channels: int, channels: int, scale: float, *, act: bool = True
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

    def __init__(self, scale: float, *, channels: int = 320) -> None:
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

    def __init__(self, scale: float, *, channels: int = 1088) -> None:
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

    def __init__(self, scale: float, *, channels: int = 2080, act: bool = True) -> None:
        branches = Parallel(
            branch1x1=conv_bn(channels, 192, 1),
            branch3x3=tower(
                reduce=conv_bn(channels, 192, 1),
                conv1x3=conv_bn(192, 224, (1, 3)),
                conv3x1=conv_bn(224, 256, (3, 1)),
            ),
        )
        super().__init__(branches, 192 + 256, channels, scale, act=act)


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
        self.head = classifier_head(1536, num_classes, dropout=dropout, conv=conv_bn(2080, 1536, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
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
@builds(InceptionResNetV2)
def inception_resnet_v2():
    """Inception-ResNet-v2 (55.8M parameters, 13.2 GMACs at 299). ``dropout``: the paper keeps 0.8."""


# Loading reference weights: timm builds every block's branches in our order (see ``blocks.key_map``).


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
    model = builders[kind](
        reference_num_classes(timm_model.get_classifier(), source), dropout=timm_model.head_drop.p
    )
    return copy_weights(model, timm_model, key_map(model, weighted_modules(timm_model)), source="timm")
