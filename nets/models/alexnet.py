"""AlexNet: the network that won ILSVRC-2012 and started the deep-learning era of ImageNet.

Paper: Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012 (Advances in Neural Information Processing Systems 25; the
conference was renamed NeurIPS in 2018; no arXiv version). One CNN: 40.7% / 18.2% top-1 / top-5
validation error (Table 2); seven CNNs: 15.3% top-5 test error, against 26.2% for the runner-up.

Two variants live here, both as a table of five convolutional layers followed by three
fully-connected ones (fc6, fc7, fc8), with the layer names of the original Caffe release:

* ``alexnet2012``: the paper's network (its Figure 2). It was split over two GTX 580 GPUs of 3 GB
  each; the split is modelled with grouped convolutions (``groups=2``): conv2, conv4 and conv5 only
  see the half of the previous layer that lives on their own GPU, while conv3 and the FC layers
  talk across GPUs. 60,965,224 parameters (the paper's "60 million").
* ``alexnet``: torchvision's one-GPU variant, the one with pretrained weights: 64-192-384-256-256
  channels, no LRN, 61,100,840 parameters. torchvision's documentation cites Krizhevsky's 2014 "One
  weird trick for parallelizing convolutional neural networks" (arXiv:1404.5997), but that paper's
  one-GPU net has 64-192-384-384-256; torchvision's layout comes from the one-GPU configuration of
  Krizhevsky's cuda-convnet2 (``layers-imagenet-1gpu.cfg``, via a Torch port; pytorch/vision#704).

Local response normalisation (``alexnet2012`` only) uses the paper's constants, Section 3.3: n = 5,
k = 2, alpha = 1e-4, beta = 0.75 (``nets.layers.local_response_norm``; alpha divided by n, as PyTorch
and Caffe do). Caffe's reference ``bvlc_alexnet`` sets only n, alpha and beta, so its k is Caffe's
default of 1. We keep k = 2 because ``alexnet2012`` is the paper's network and no reference weights
tie it to Caffe's choice; with k = 2 the divisor is never below 2 ** 0.75 = 1.68 (with k = 1, never
below 1).

What the chapter measures on them (layer arithmetic, Figure 1's ReLU/tanh experiment, LRN's divisor,
the paper's augmentation) lives in ``nets.lab.alexnet``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from ..checks import check_bool, check_choice, check_int, check_probability
from ..layers import check_images, local_response_norm
from ..registry import builds, register
from ..weights import copy_weights, expect_reference

__all__ = [
    "ACTIVATIONS",
    "ALEXNET_2012",
    "ALEXNET_ONE_GPU",
    "FC_WIDTH",
    "MIN_SIZE",
    "MIN_SIZE_2012",
    "POOL_OUTPUT",
    "TORCHVISION_KEYS",
    "AlexNet",
    "AlexNet2012",
    "ConvLayer",
    "alexnet",
    "alexnet2012",
    "check_groups",
    "from_torchvision",
    "paper_init_",
]


class ConvLayer(NamedTuple):
    """One row of the table: a convolution, its activation, then optionally LRN and a max-pool."""

    name: str
    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    two_towers: bool  # split across the two GPUs: sees only its own GPU's half of the previous layer
    lrn: bool  # local response normalisation after the activation
    pool: bool  # max-pool at the end


# The paper's Figure 2 (input 227x227x3; the text says 224, but only 227 gives its 55x55 conv1 maps).
# fmt: off
ALEXNET_2012: tuple[ConvLayer, ...] = (
    #          name     out  kernel stride pad  two_towers lrn    pool      maps at 227
    ConvLayer("conv1",  96,  11,    4,     0,   False,     True,  True),   # 55x55 -> 27x27
    ConvLayer("conv2",  256, 5,     1,     2,   True,      True,  True),   # 27x27 -> 13x13
    ConvLayer("conv3",  384, 3,     1,     1,   False,     False, False),  # 13x13
    ConvLayer("conv4",  384, 3,     1,     1,   True,      False, False),  # 13x13
    ConvLayer("conv5",  256, 3,     1,     1,   True,      False, True),   # 13x13 -> 6x6
)

# torchvision's one-GPU variant (input 224: conv1's padding of 2 makes 224 give 55x55 maps too).
ALEXNET_ONE_GPU: tuple[ConvLayer, ...] = (
    #          name     out  kernel stride pad  two_towers lrn    pool      maps at 224
    ConvLayer("conv1",  64,  11,    4,     2,   False,     False, True),   # 55x55 -> 27x27
    ConvLayer("conv2",  192, 5,     1,     2,   False,     False, True),   # 27x27 -> 13x13
    ConvLayer("conv3",  384, 3,     1,     1,   False,     False, False),  # 13x13
    ConvLayer("conv4",  256, 3,     1,     1,   False,     False, False),  # 13x13
    ConvLayer("conv5",  256, 3,     1,     1,   False,     False, True),   # 13x13 -> 6x6
)
# fmt: on

FC_WIDTH = 4096  # fc6 and fc7
POOL_OUTPUT = 6  # conv5's maps are 6x6 after pool5: fc6 sees 256 * 6 * 6 = 9216 features

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _conv_layers(
    table: Sequence[ConvLayer],
    act: Callable[[], nn.Module],
    groups: int,
    pool_kernel: int,
    lrn: bool,
) -> tuple[OrderedDict[str, nn.Module], int]:
    """conv1 .. pool5 as named modules (``conv1``, ``act1``, ``norm1``, ``pool1``...), and the last width."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = 3
    for i, row in enumerate(table, start=1):
        layers[row.name] = nn.Conv2d(
            in_channels,
            row.out_channels,
            row.kernel_size,
            row.stride,
            row.padding,
            groups=groups if row.two_towers else 1,
        )
        layers[f"act{i}"] = act()
        if row.lrn and lrn:
            layers[f"norm{i}"] = local_response_norm()  # the paper's Section 3.3 (nets.layers)
        if row.pool:
            layers[f"pool{i}"] = nn.MaxPool2d(kernel_size=pool_kernel, stride=2)
        in_channels = row.out_channels
    return layers, in_channels


def _min_size(table: Sequence[ConvLayer], pool_kernel: int) -> int:
    """Smallest square input for which every layer of ``table`` still has at least one output pixel."""
    size = 1  # walk backwards from a 1x1 map after the last layer
    for row in reversed(table):
        if row.pool:
            size = (size - 1) * 2 + pool_kernel
        size = max(1, (size - 1) * row.stride + row.kernel_size - 2 * row.padding)
    return size


MIN_SIZE = _min_size(ALEXNET_ONE_GPU, pool_kernel=3)  # 63: torchvision's weights metadata says (63, 63)
MIN_SIZE_2012 = _min_size(ALEXNET_2012, pool_kernel=3)  # 67 (39 with the 2x2 pools)


def check_groups(groups: int, table: Sequence[ConvLayer] = ALEXNET_2012) -> int:
    """``groups``, if it divides the input and output channels of every split layer of ``table``."""
    check_int("groups", groups)
    inputs = (3, *(row.out_channels for row in table[:-1]))  # a split layer divides both among towers
    split = {
        c for row, c_in in zip(table, inputs, strict=True) if row.two_towers for c in (c_in, row.out_channels)
    }
    if any(c % groups for c in split):
        raise ValueError(
            f"groups must divide the channels of every split layer ({', '.join(map(str, sorted(split)))}); "
            f"got {groups!r}. Use 2 for the paper's two GPUs, 1 for a single tower."
        )
    return groups


class AlexNet(nn.Module):
    """torchvision's one-GPU AlexNet: 64-192-384-256-256, no LRN, dropout *before* fc6 and fc7.

    The adaptive average pool makes any input of at least 63x63 give conv5 maps of 6x6 (at 224 it is
    the identity). Initialised with PyTorch's defaults, as torchvision's model is.
    """

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.5) -> None:
        super().__init__()
        check_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        self.name = "alexnet"
        self.min_size = MIN_SIZE
        layers, channels = _conv_layers(ALEXNET_ONE_GPU, nn.ReLU, groups=1, pool_kernel=3, lrn=False)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(POOL_OUTPUT)
        self.classifier = nn.Sequential(
            OrderedDict(
                dropout6=nn.Dropout(dropout),
                fc6=nn.Linear(channels * POOL_OUTPUT**2, FC_WIDTH),
                act6=nn.ReLU(),
                dropout7=nn.Dropout(dropout),
                fc7=nn.Linear(FC_WIDTH, FC_WIDTH),
                act7=nn.ReLU(),
                fc8=nn.Linear(FC_WIDTH, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class AlexNet2012(nn.Module):
    """The paper's AlexNet, with switches for the design choices the paper argues for.

    Args:
        num_classes: size of fc8 (1000 for ImageNet).
        activation: ``"relu"`` (the paper, Section 3.1: a four-layer net on CIFAR-10 reached 25% training
            error six times faster with ReLUs, Figure 1) or ``"tanh"``, the saturating unit it replaced.
        lrn: local response normalisation after conv1's and conv2's ReLU (Section 3.3: -1.4% / -1.2%
            top-1 / top-5 error), with the paper's k = 2 (Caffe's bvlc_alexnet uses k = 1; see the
            module docstring). ``False`` drops both norm layers.
        dropout: probability of zeroing fc6's and fc7's outputs while training (Section 4.2, 0.5).
            Without it the paper saw substantial overfitting. ``0.0`` turns it off.
        overlapping_pool: ``True`` pools 3x3 windows every 2 pixels, so windows overlap (Section 3.4:
            -0.4% / -0.3% error against 2x2 windows every 2 pixels); ``False`` uses the 2x2 windows.
            Both give the same map sizes (55 -> 27 -> 13 -> 6).
        groups: how many towers conv2, conv4 and conv5 are split into. 2 is the paper's two GPUs
            (Section 3.2: the split lowers error by 1.7% / 1.2% against a net with half the kernels);
            1 is a single tower with full connections, which has more parameters (about 62.4M).

    Input: 227x227 (the paper's text says 224, but 227 is what makes its 55x55 conv1 maps and
    6x6x256 = 9216 fc6 inputs come out). An adaptive average pool before fc6, which is the identity
    at 227, lets other sizes (down to ``min_size``: 67, or 39 with 2x2 pools) through as well; it is
    not in the paper. Initialisation is PyTorch's default; ``paper_init_`` applies the paper's.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        activation: str = "relu",
        lrn: bool = True,
        dropout: float = 0.5,
        overlapping_pool: bool = True,
        groups: int = 2,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        check_bool("lrn", lrn)
        check_probability("dropout", dropout)
        check_bool("overlapping_pool", overlapping_pool)
        check_groups(groups)
        pool_kernel = 3 if overlapping_pool else 2
        act = ACTIVATIONS[activation]
        self.name = "alexnet2012"
        self.min_size = MIN_SIZE_2012 if overlapping_pool else _min_size(ALEXNET_2012, pool_kernel)
        layers, channels = _conv_layers(ALEXNET_2012, act, groups, pool_kernel, lrn)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(POOL_OUTPUT)
        self.classifier = nn.Sequential(
            OrderedDict(
                fc6=nn.Linear(channels * POOL_OUTPUT**2, FC_WIDTH),
                act6=act(),
                dropout6=nn.Dropout(dropout),
                fc7=nn.Linear(FC_WIDTH, FC_WIDTH),
                act7=act(),
                dropout7=nn.Dropout(dropout),
                fc8=nn.Linear(FC_WIDTH, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def paper_init_(model: AlexNet | AlexNet2012) -> AlexNet | AlexNet2012:
    """The paper's initialisation (Section 5), in place: weights ~ N(0, 0.01); biases 1 in conv2,
    conv4, conv5, fc6 and fc7 (to give the ReLUs positive inputs early on), 0 elsewhere."""
    if not isinstance(model, (AlexNet, AlexNet2012)):
        raise TypeError(f"paper_init_ expects an AlexNet or AlexNet2012, got {type(model).__name__}")
    ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
    for name, module in [*model.features.named_children(), *model.classifier.named_children()]:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, mean=0.0, std=0.01)
            nn.init.constant_(module.bias, 1.0 if name in ones else 0.0)
    return model


@register(
    "alexnet",
    display="AlexNet",
    weights="torchvision:AlexNet_Weights.IMAGENET1K_V1",
    convert="from_torchvision",
    family="alexnet",
    default_size=224,
    min_size=MIN_SIZE,
)
@builds(AlexNet)
def alexnet():
    """torchvision's one-GPU AlexNet (61,100,840 parameters, 0.714 GMACs at 224)."""


@register(
    "alexnet2012",
    display="AlexNet (2012 original)",
    family="alexnet",
    default_size=227,
    min_size=MIN_SIZE_2012,
)
@builds(AlexNet2012)
def alexnet2012():
    """The paper's two-tower AlexNet (60,965,224 parameters, 0.724 GMACs at 227); see ``AlexNet2012``."""


# Loading reference weights

# Our layer -> torchvision's AlexNet (its other indices are ReLUs, pools and dropouts: no tensors).
# fmt: off
TORCHVISION_KEYS: dict[str, str] = {
    "features.conv1": "features.0", "features.conv2": "features.3", "features.conv3": "features.6",
    "features.conv4": "features.8", "features.conv5": "features.10",
    "classifier.fc6": "classifier.1", "classifier.fc7": "classifier.4", "classifier.fc8": "classifier.6",
}
# fmt: on


def from_torchvision(tv_model: nn.Module) -> AlexNet:
    """A nets ``AlexNet`` with the weights of a ``torchvision.models.AlexNet`` (any ``num_classes``).

    Layers are paired by ``TORCHVISION_KEYS`` (torchvision's ``features.0`` is our ``features.conv1``,
    ``classifier.1`` our ``classifier.fc6``...) and ``nets.weights.copy_weights`` checks each pair for
    type, hyper-parameters and shapes. The result is on the source's device and dtype, in the source's
    train/eval mode. torchvision has no counterpart of ``alexnet2012``.
    """
    from torchvision.models import AlexNet as TorchvisionAlexNet

    expect_reference(tv_model, TorchvisionAlexNet, "a torchvision.models.AlexNet")
    fc8 = tv_model.classifier[-1]
    dropout = tv_model.classifier[0]
    if not isinstance(fc8, nn.Linear) or not isinstance(dropout, nn.Dropout):
        raise ValueError("this torchvision AlexNet's classifier was modified; cannot convert it")
    if tv_model.avgpool.output_size not in (POOL_OUTPUT, (POOL_OUTPUT, POOL_OUTPUT)):
        raise ValueError(f"expected a {POOL_OUTPUT}x{POOL_OUTPUT} average pool, found {tv_model.avgpool}")
    with torch.device("meta"):  # every tensor is overwritten by the copy, so skip the random initialisation
        model = AlexNet(fc8.out_features, dropout=dropout.p)
    model = model.to_empty(device=next(tv_model.parameters()).device)
    return copy_weights(model, tv_model, TORCHVISION_KEYS.items())
