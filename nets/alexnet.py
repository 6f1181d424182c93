"""AlexNet: the network that won ILSVRC-2012 and started the deep-learning era of ImageNet.

Paper: Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NeurIPS 2012 (no arXiv version). One CNN: 40.7% / 18.2% top-1 / top-5
validation error; seven CNNs: 15.3% top-5 test error, against 26.2% for the runner-up.

Two variants live here, both as a table of five convolutional layers followed by three
fully-connected ones (fc6, fc7, fc8), with the layer names of the original Caffe release:

* ``alexnet2012``: the paper's network (its Figure 2). It was split over two GTX 580 GPUs of 3 GB
  each; the split is modelled with grouped convolutions (``groups=2``): conv2, conv4 and conv5 only
  see the half of the previous layer that lives on their own GPU, while conv3 and the FC layers
  talk across GPUs. 60,965,224 parameters (the paper's "60 million").
* ``alexnet``: torchvision's one-GPU variant (its documentation cites Krizhevsky's 2014 "One weird
  trick for parallelizing convolutional neural networks", arXiv:1404.5997): 64-192-384-256-256
  channels, no LRN, the one with pretrained weights. 61,100,840 parameters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .layers import check_input_size
from .registry import register

__all__ = [
    "ALEXNET_2012",
    "ALEXNET_ONE_GPU",
    "AlexNet",
    "AlexNet2012",
    "ConvLayer",
    "Figure1Net",
    "alexnet",
    "alexnet2012",
    "flat_fraction",
    "from_torchvision",
    "he_init_",
    "layer_arithmetic",
    "lrn_divisor",
    "paper_init_",
    "pca_colour_jitter",
    "random_crop_flip",
    "rgb_pca",
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


def local_response_norm() -> nn.LocalResponseNorm:
    """The paper's Section 3.3 normalisation: n = 5 neighbouring channels, k = 2, alpha = 1e-4, beta = 0.75.

    PyTorch (like Caffe) divides ``alpha`` by ``size``; the paper's formula does not, so read literally
    the paper normalises 5x harder. We keep PyTorch/Caffe's convention, as the Caffe reproduction did.
    """
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


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
            layers[f"norm{i}"] = local_response_norm()
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


def _check_dropout(dropout: float) -> None:
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}; the paper uses 0.5")


class AlexNet(nn.Module):
    """torchvision's one-GPU AlexNet: 64-192-384-256-256, no LRN, dropout *before* fc6 and fc7.

    The adaptive average pool makes any input of at least 63x63 give conv5 maps of 6x6 (at 224 it is
    the identity). Initialised with PyTorch's defaults, as torchvision's model is.
    """

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.5) -> None:
        super().__init__()
        _check_dropout(dropout)
        self.name = "alexnet"
        self.min_size = _min_size(ALEXNET_ONE_GPU, pool_kernel=3)
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
        check_input_size(x, self.min_size, self.name)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class AlexNet2012(nn.Module):
    """The paper's AlexNet, with switches for the design choices the paper argues for.

    Args:
        num_classes: size of fc8 (1000 for ImageNet).
        activation: ``"relu"`` (the paper, Section 3.1: a four-layer net on CIFAR-10 reached 25% training
            error six times faster with ReLUs, Figure 1) or ``"tanh"``, the saturating unit it replaced.
        lrn: local response normalisation after conv1's and conv2's ReLU (Section 3.3: -1.4% / -1.2%
            top-1 / top-5 error). ``False`` drops both norm layers.
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
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}"
            )
        _check_dropout(dropout)
        # A split layer divides both its input and its output channels among the towers.
        inputs = (3, *(row.out_channels for row in ALEXNET_2012[:-1]))
        split = {
            c
            for row, c_in in zip(ALEXNET_2012, inputs, strict=True)
            if row.two_towers
            for c in (c_in, row.out_channels)
        }
        if not isinstance(groups, int) or groups < 1 or any(c % groups for c in split):
            raise ValueError(
                f"groups must be a positive integer dividing the channels of every split layer "
                f"({', '.join(map(str, sorted(split)))}); got {groups!r}. "
                f"Use 2 for the paper's two GPUs, 1 for a single tower."
            )
        pool_kernel = 3 if overlapping_pool else 2
        act = ACTIVATIONS[activation]
        self.name = "alexnet2012"
        self.min_size = _min_size(ALEXNET_2012, pool_kernel)
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
        check_input_size(x, self.min_size, self.name)
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


def he_init_(model: nn.Module, nonlinearity: str = "relu") -> nn.Module:
    """He et al.'s initialisation (2015), in place: every conv and linear weight ~ N(0, 2 / fan_in), biases 0.

    It keeps the size of the signal roughly constant from layer to layer in a ReLU network without
    normalisation layers, where PyTorch's default (uniform, std 1 / sqrt(3 fan_in)) divides its variance
    by about six at every ReLU layer, so a freshly built AlexNet's logits start near zero. ``nonlinearity`` sets the
    gain (``"relu"``: sqrt(2), ``"tanh"``: 5/3, ``"linear"``: 1); any model works, not only AlexNet.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"he_init_ expects an nn.Module, got {type(model).__name__}")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity=nonlinearity)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


@register("alexnet", family="alexnet", default_size=224, min_size=63)
def alexnet(num_classes: int = 1000, *, dropout: float = 0.5) -> AlexNet:
    """torchvision's one-GPU AlexNet (61,100,840 parameters, 0.714 GMACs at 224)."""
    return AlexNet(num_classes, dropout=dropout)


@register("alexnet2012", family="alexnet", default_size=227, min_size=67)
def alexnet2012(
    num_classes: int = 1000,
    *,
    activation: str = "relu",
    lrn: bool = True,
    dropout: float = 0.5,
    overlapping_pool: bool = True,
    groups: int = 2,
) -> AlexNet2012:
    """The paper's two-tower AlexNet (60,965,224 parameters, 0.724 GMACs at 227); see ``AlexNet2012``."""
    return AlexNet2012(
        num_classes,
        activation=activation,
        lrn=lrn,
        dropout=dropout,
        overlapping_pool=overlapping_pool,
        groups=groups,
    )


# What the book's chapter measures: layer arithmetic, Figure 1's experiment, LRN, the paper's augmentation


def layer_arithmetic(
    input_size: int = 227,
    *,
    conv1: tuple[int, int, int] | None = None,
    overlapping_pool: bool = True,
    groups: int = 2,
    num_classes: int = 1000,
):
    """``alexnet2012``'s layers by arithmetic: output size, receptive field, parameters and MACs of each.

    A pandas DataFrame with one row per convolution, max-pool and fully-connected layer (LRN and the
    activations change no shape and have no weights): ``layer``, ``kernel``, ``stride``, ``channels``,
    ``size`` (the side of the square output map), ``receptive_field`` (input pixels one output unit
    sees; the FC layers see the whole image), ``params`` and ``macs`` (multiply-accumulates for one
    image). ``conv1=(kernel, stride, padding)`` replaces conv1's 11, 4, 0 to ask "what if". When conv5's
    maps are not 6x6, a row for the model's adaptive average pool (not in the paper) resizes them for fc6.
    The numbers equal those of the built model (its hooks, ``count_params`` and ``count_macs``).
    """
    import pandas as pd

    table = list(ALEXNET_2012)
    if conv1 is not None:
        if len(conv1) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in conv1):
            raise ValueError(f"conv1 must be (kernel, stride, padding) as three integers, got {conv1!r}")
        kernel, stride, padding = conv1
        if kernel < 1 or stride < 1 or padding < 0:
            raise ValueError(f"conv1 needs kernel >= 1, stride >= 1 and padding >= 0, got {conv1!r}")
        table[0] = table[0]._replace(kernel_size=kernel, stride=stride, padding=padding)
    inputs = (3, *(row.out_channels for row in table[:-1]))
    split = {
        c for row, c_in in zip(table, inputs, strict=True) if row.two_towers for c in (c_in, row.out_channels)
    }
    if not isinstance(groups, int) or groups < 1 or any(c % groups for c in split):
        raise ValueError(f"groups must be a positive integer dividing {sorted(split)}, got {groups!r}")
    pool_kernel = 3 if overlapping_pool else 2
    rows = []
    channels, size, field, jump = 3, input_size, 1, 1  # jump: input pixels between neighbouring units

    def add(layer, kernel, stride, params, macs, rf=None):
        rows.append({"layer": layer, "kernel": kernel, "stride": stride, "channels": channels, "size": size,
                     "receptive_field": rf, "params": params, "macs": macs})  # fmt: skip

    for i, row in enumerate(table, start=1):
        size = (size + 2 * row.padding - row.kernel_size) // row.stride + 1
        if size < 1:
            raise ValueError(
                f"an input of {input_size} px is too small: {row.name} ({row.kernel_size}x{row.kernel_size}, "
                f"stride {row.stride}) has no output left"
            )
        g = groups if row.two_towers else 1
        fan_in = channels // g * row.kernel_size**2
        channels = row.out_channels
        field, jump = field + (row.kernel_size - 1) * jump, jump * row.stride
        add(
            row.name,
            row.kernel_size,
            row.stride,
            channels * fan_in + channels,
            channels * size**2 * fan_in,
            field,
        )
        if row.pool:
            if size < pool_kernel:
                raise ValueError(
                    f"an input of {input_size} px is too small: {row.name}'s {size}x{size} maps are smaller "
                    f"than pool{i}'s {pool_kernel}x{pool_kernel} window"
                )
            size = (size - pool_kernel) // 2 + 1
            field, jump = field + (pool_kernel - 1) * jump, jump * 2
            add(f"pool{i}", pool_kernel, 2, 0, 0, field)
    if size != POOL_OUTPUT:
        size = POOL_OUTPUT
        add("avgpool", None, None, 0, 0)
    features = channels * POOL_OUTPUT**2
    for name, width in (("fc6", FC_WIDTH), ("fc7", FC_WIDTH), ("fc8", num_classes)):
        channels, size = width, 1
        add(name, None, None, features * width + width, features * width)
        features = width
    frame = pd.DataFrame(rows)
    frame["receptive_field"] = frame["receptive_field"].astype("Int64")
    for column in ("kernel", "stride"):
        frame[column] = frame[column].astype("Int64")
    return frame


class Figure1Net(nn.Module):
    """A small four-layer CNN for the experiment of the paper's Figure 1: ReLU against tanh.

    The paper trains "a four-layer convolutional neural network" on CIFAR-10 (32x32 images) with each
    activation and reports that the ReLU network reached 25% training error six times faster; it does
    not list the layers. This one has the usual shape of the CIFAR-10 networks of the time: three 5x5
    convolutions (32, 32 and 64 channels, padding 2), each followed by the activation and a 3x3 max-pool
    with stride 2, then one fully-connected layer. It has 85,098 parameters for 10 classes.
    Any input of at least 15 px works: the last maps are average-pooled to 3x3.
    """

    def __init__(self, activation: str = "relu", num_classes: int = 10) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}"
            )
        self.name = f"figure1_net ({activation})"
        self.min_size = 15
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (c_in, c_out) in enumerate(((3, 32), (32, 32), (32, 64)), start=1):
            layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, 5, padding=2)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            layers[f"pool{i}"] = nn.MaxPool2d(3, stride=2)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Linear(64 * 3 * 3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_size, "Figure1Net")
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@torch.no_grad()
def flat_fraction(model: nn.Module, x: torch.Tensor, slope: float = 0.1) -> dict[str, float]:
    """For each ReLU or tanh layer of ``model``, the fraction of its units whose gradient is below ``slope``.

    That is where learning stalls: a ReLU passes no gradient where its input is negative, a tanh passes
    ``1 - tanh(z)**2``, below 0.1 once ``|z| > 1.82`` (its saturated tails). Runs ``model`` once on ``x``
    in eval mode (its mode is restored); keys are the activation modules' names, in forward order.
    """
    if not 0.0 < slope <= 1.0:
        raise ValueError(f"slope must be in (0, 1], got {slope!r}")
    fractions: dict[str, float] = {}

    def hook_for(name: str, module: nn.Module):
        def hook(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
            grad = (output > 0).float() if isinstance(module, nn.ReLU) else 1 - output.pow(2)
            fractions[name] = (grad < slope).float().mean().item()

        return hook

    handles = [
        module.register_forward_hook(hook_for(name, module))
        for name, module in model.named_modules()
        if isinstance(module, (nn.ReLU, nn.Tanh))
    ]
    if not handles:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU or nn.Tanh layers to measure")
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return fractions


def lrn_divisor(x: torch.Tensor, lrn: nn.LocalResponseNorm | None = None) -> torch.Tensor:
    """What local response normalisation divides each activation by: ``lrn(x) == x / lrn_divisor(x)``.

    ``(k + alpha / n * sum of x**2 over the n channels around c) ** beta`` at every position, with the
    channels beyond the first and last counted as zeros (PyTorch's and Caffe's convention; the paper's
    formula has ``alpha`` without the ``/ n``). ``lrn`` defaults to the paper's (n=5, k=2, alpha=1e-4,
    beta=0.75), so the divisor is never below ``k ** beta`` = 1.68.
    """
    lrn = local_response_norm() if lrn is None else lrn
    if x.ndim < 3:
        raise ValueError(f"x must be shaped (N, C, ...) with channels second, got shape {tuple(x.shape)}")
    n = lrn.size
    squares = x.pow(2).unsqueeze(1).flatten(3)  # (N, 1, C, positions)
    squares = F.pad(squares, (0, 0, n // 2, (n - 1) // 2))
    sums = F.avg_pool2d(squares, (n, 1), stride=1).squeeze(1) * n
    return (lrn.k + lrn.alpha / n * sums).pow(lrn.beta).view_as(x)


def random_crop_flip(
    image: torch.Tensor, crop: int = 224, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, tuple[int, int, bool]]:
    """The paper's Section 4.1 augmentation: a random ``crop`` x ``crop`` patch, mirrored half the time.

    ``image`` is (C, H, W); returns the patch and where it came from, ``(top, left, flipped)``. A 256 x 256
    image has (256 - 224 + 1) ** 2 positions for a 224 patch, and each comes mirrored or not.
    """
    if image.ndim != 3:
        raise ValueError(f"image must be shaped (C, H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if not 1 <= crop <= min(height, width):
        raise ValueError(
            f"crop must be between 1 and the image's shorter side ({min(height, width)}), got {crop}"
        )
    top = int(torch.randint(height - crop + 1, (), generator=generator))
    left = int(torch.randint(width - crop + 1, (), generator=generator))
    flipped = bool(torch.rand((), generator=generator) < 0.5)
    patch = image[:, top : top + crop, left : left + crop]
    return (patch.flip(-1) if flipped else patch), (top, left, flipped)


def rgb_pca(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal components of the RGB values of every pixel in ``images`` ((3, H, W) or (N, 3, H, W)).

    Returns ``(stds, vectors)``: the pixels' standard deviation along each component, largest first
    (the square roots of the covariance's eigenvalues), and the components as the columns of ``vectors``.
    The paper computed them over all of ImageNet's training pixels; any set of images works here.
    """
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"images must be shaped (3, H, W) or (N, 3, H, W), got {tuple(images.shape)}")
    pixels = images.movedim(-3, -1).reshape(-1, 3).double()
    values, vectors = torch.linalg.eigh(torch.cov(pixels.T))
    order = values.argsort(descending=True)
    return values[order].clamp_min(0).sqrt().to(images.dtype), vectors[:, order].to(images.dtype)


def pca_colour_jitter(
    image: torch.Tensor,
    stds: torch.Tensor,
    vectors: torch.Tensor,
    sigma: float = 0.1,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's "fancy PCA" colour augmentation: one random colour shift for the whole (3, H, W) image.

    Adds ``vectors @ (alpha * stds)`` to every pixel, ``alpha ~ N(0, sigma)`` drawn once per image and
    component (the paper: sigma = 0.1). ``stds, vectors`` come from ``rgb_pca``. The paper's text scales
    by the eigenvalues; it does not say on what pixel scale, and on pixels in [0, 1] eigenvalues would
    give invisible shifts, so we scale by their square roots, the spread along each component.
    Returns the shifted image and the RGB shift that was added.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be shaped (3, H, W), got {tuple(image.shape)}")
    alpha = torch.randn(3, generator=generator, dtype=stds.dtype) * sigma
    shift = vectors @ (alpha * stds)
    return image + shift.view(3, 1, 1).to(image.dtype), shift


# Loading reference weights


def _copy_in_order(source: nn.Sequential, target: nn.Sequential, what: str) -> None:
    """Copy ``source``'s layers into ``target``'s, pairing them in order and checking every pair.

    Paired layers must be of the same type with the same hyper-parameters (kernel, stride, channels...)
    and the same tensor shapes, so a model of another shape fails loudly instead of converting wrongly.
    """
    sources, targets = list(source.children()), list(target.named_children())
    if len(sources) != len(targets):
        raise ValueError(f"{what}: torchvision has {len(sources)} layers, nets expects {len(targets)}")
    for index, (src, (name, dst)) in enumerate(zip(sources, targets, strict=True)):
        where = f"{what}[{index}] -> {name}"
        if type(src) is not type(dst):
            raise ValueError(f"{where}: expected {type(dst).__name__}, found {type(src).__name__}")
        if isinstance(dst, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.MaxPool2d)) and (
            src.extra_repr() != dst.extra_repr()
        ):
            raise ValueError(f"{where}: expected {dst.extra_repr()!r}, found {src.extra_repr()!r}")
        src_state, dst_state = src.state_dict(), dst.state_dict()
        if src_state.keys() != dst_state.keys():
            raise ValueError(f"{where}: tensors {sorted(src_state)} do not match {sorted(dst_state)}")
        for key, tensor in src_state.items():
            if tensor.shape != dst_state[key].shape:
                raise ValueError(
                    f"{where}.{key}: shape {tuple(tensor.shape)} != expected {tuple(dst_state[key].shape)}"
                )
        dst.load_state_dict(src_state)


def from_torchvision(tv_model: nn.Module) -> AlexNet:
    """A nets ``AlexNet`` with the weights of a ``torchvision.models.AlexNet`` (any ``num_classes``).

    Layers are paired in order (torchvision's ``features.0`` is our ``features.conv1``, ``classifier.1``
    our ``classifier.fc6``...), each pair checked for type, hyper-parameters and shapes. The result is
    on the source's device and dtype, in the source's train/eval mode. torchvision has no counterpart of
    ``alexnet2012``.
    """
    from torchvision.models import AlexNet as TorchvisionAlexNet

    if not isinstance(tv_model, TorchvisionAlexNet):
        raise TypeError(
            f"from_torchvision expects a torchvision.models.AlexNet, got {type(tv_model).__name__}; "
            "nets.pretrained.from_torchvision converts every torchvision model nets supports."
        )
    fc8 = tv_model.classifier[-1]
    dropout = tv_model.classifier[0]
    if not isinstance(fc8, nn.Linear) or not isinstance(dropout, nn.Dropout):
        raise ValueError("this torchvision AlexNet's classifier was modified; cannot convert it")
    if tv_model.avgpool.output_size not in (POOL_OUTPUT, (POOL_OUTPUT, POOL_OUTPUT)):
        raise ValueError(f"expected a {POOL_OUTPUT}x{POOL_OUTPUT} average pool, found {tv_model.avgpool}")
    reference = next(tv_model.parameters())
    with torch.device("meta"):  # every tensor is overwritten below, so skip the random initialisation
        model = AlexNet(fc8.out_features, dropout=dropout.p)
    model = model.to_empty(device=reference.device).to(reference.dtype)
    _copy_in_order(tv_model.features, model.features, "features")
    _copy_in_order(tv_model.classifier, model.classifier, "classifier")
    return model.train(tv_model.training)
