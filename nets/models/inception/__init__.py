"""The Inception family: GoogLeNet (2014), Inception-v3 (2015), Inception-v4 and Inception-ResNet-v2 (2016).

One idea runs through all four: a block looks at its input through several filter sizes at once
(1x1, 3x3, 5x5, pooling) and concatenates what the branches see (``nets.layers.Parallel``), with cheap
1x1 convolutions shrinking the channels before the expensive filters. Each version then refines it:

* GoogLeNet (v1) -- the Inception module and its 1x1 "reductions"; two auxiliary classifiers for training.
* Inception-v3 -- factorised filters (a 5x5 becomes two 3x3; an nxn becomes 1xn then nx1) and grid
  reductions that pool and convolve side by side.
* Inception-v4 -- the same blocks made uniform (Inception-A/B/C, Reduction-A/B) behind a deeper stem.
* Inception-ResNet-v2 -- the branches' output is added back to the block's input, scaled down.

One module per network, in that order (``googlenet``, ``inception_v3``, ``inception_v4`` with
Inception-ResNet-v2), each with its converter at the bottom, and ``blocks`` for what they share; this
package gathers their names. Every model takes a batch ``(N, 3, H, W)`` and returns logits; with
``aux_logits=True`` GoogLeNet and Inception-v3 return a named tuple ``(logits, aux...)`` in training mode
only (like torchvision), because the auxiliary classifiers exist to help training and are ignored at test
time. The convolutions are conv (no bias) + BatchNorm(eps=1e-3) + ReLU throughout, as in the reference
weights (torchvision for GoogLeNet / v3, timm for v4 / Inception-ResNet-v2), so the converters load
those weights with equal logits.
"""

from __future__ import annotations

from torch import nn

from ...weights import expect_reference
from .blocks import (
    BN_EPS,
    REDUCTION_A_FILTERS,
    REDUCTION_B_FILTERS,
    InceptionBlockB,
    ReductionA,
    ReductionB,
    RenormalizeInput,
    classifier_head,
    conv_bn,
    pool_branch,
    tower,
)
from .googlenet import (
    GOOGLENET_TABLE,
    GoogLeNet,
    GoogLeNetAuxHead,
    GoogLeNetOutputs,
    InceptionModule,
    InceptionWidths,
    googlenet,
)
from .googlenet import from_torchvision as _googlenet_from_torchvision
from .inception_v3 import (
    INCEPTION_V3_LAYOUT,
    InceptionV3,
    InceptionV3AuxHead,
    InceptionV3BlockA,
    InceptionV3BlockB,
    InceptionV3BlockC,
    InceptionV3Outputs,
    InceptionV3Stem,
    inception_v3,
)
from .inception_v3 import from_torchvision as _inception_v3_from_torchvision
from .inception_v4 import (
    INCEPTION_RESNET_V2_BLOCKS,
    INCEPTION_V4_BLOCKS,
    InceptionResNetBlockA,
    InceptionResNetBlockB,
    InceptionResNetBlockC,
    InceptionResNetV2,
    InceptionResNetV2ReductionB,
    InceptionV4,
    InceptionV4BlockA,
    InceptionV4BlockB,
    InceptionV4BlockC,
    InceptionV4Stem,
    ResidualInceptionBlock,
    from_timm,
    inception_resnet_v2,
    inception_v4,
)

__all__ = [
    "BN_EPS",
    "GOOGLENET_TABLE",
    "INCEPTION_RESNET_V2_BLOCKS",
    "INCEPTION_V3_LAYOUT",
    "INCEPTION_V4_BLOCKS",
    "REDUCTION_A_FILTERS",
    "REDUCTION_B_FILTERS",
    "GoogLeNet",
    "GoogLeNetAuxHead",
    "GoogLeNetOutputs",
    "InceptionBlockB",
    "InceptionModule",
    "InceptionResNetBlockA",
    "InceptionResNetBlockB",
    "InceptionResNetBlockC",
    "InceptionResNetV2",
    "InceptionResNetV2ReductionB",
    "InceptionV3",
    "InceptionV3AuxHead",
    "InceptionV3BlockA",
    "InceptionV3BlockB",
    "InceptionV3BlockC",
    "InceptionV3Outputs",
    "InceptionV3Stem",
    "InceptionV4",
    "InceptionV4BlockA",
    "InceptionV4BlockB",
    "InceptionV4BlockC",
    "InceptionV4Stem",
    "InceptionWidths",
    "ReductionA",
    "ReductionB",
    "RenormalizeInput",
    "ResidualInceptionBlock",
    "classifier_head",
    "conv_bn",
    "from_timm",
    "from_torchvision",
    "googlenet",
    "inception_resnet_v2",
    "inception_v3",
    "inception_v4",
    "pool_branch",
    "tower",
]


def from_torchvision(tv_model: nn.Module) -> GoogLeNet | InceptionV3:
    """The ``nets`` model equivalent to torchvision's ``googlenet`` or ``inception_v3``, weights copied.

    Hands it to the converter beside its network, ``googlenet.from_torchvision`` or
    ``inception_v3.from_torchvision``.
    """
    from torchvision.models import GoogLeNet as TorchvisionGoogLeNet
    from torchvision.models import Inception3

    expect_reference(tv_model, (TorchvisionGoogLeNet, Inception3), "torchvision's GoogLeNet or Inception3")
    if isinstance(tv_model, TorchvisionGoogLeNet):
        return _googlenet_from_torchvision(tv_model)
    return _inception_v3_from_torchvision(tv_model)
