"""VGG: very deep networks built from one brick, the 3x3 convolution.

Paper: Karen Simonyan, Andrew Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556. Second in the ILSVRC-2014 classification task (7.3% top-5
test error), first in localisation.

The paper's idea: two stacked 3x3 convolutions see a 5x5 window and three see a 7x7 one, with fewer
weights (3 * 3^2 C^2 = 27 C^2 against 7^2 C^2 = 49 C^2) and more non-linearities in between. Its
Table 1 compares six configurations that differ only in depth; all of them have five stages of
"same"-padded stride-1 convolutions, each stage ending in a 2x2 max-pool (224 -> 7), and the same
head: FC-4096, FC-4096, FC-1000. ``CONFIGS`` below is that table (``nets.lab.vgg.config_table()``
lays it out as the paper prints it). Layers are named as in the original Caffe release (``conv4_3``,
``relu5_1``, ``pool5``, ``fc6``), the names style transfer and SSD papers use.

Registered: ``vgg11`` (A), ``vgg13`` (B), ``vgg16`` (D), ``vgg19`` (E) and their ``_bn`` versions
(BatchNorm after every convolution, not in the paper: Ioffe & Szegedy's arXiv paper came about five
months after VGG's, February 2015 against September 2014), all with torchvision's exact layout and
parameter counts. ``vgg(config=...)`` builds any column of the table, including A-LRN and C (the
paper's 16-layer net with three 1x1 convolutions). What the chapter measures on them (layer costs,
activation memory, scale jitter) lives in ``nets.lab.vgg``.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn

from ..checks import check_bool, check_choice, check_float, check_int, check_probability
from ..layers import check_images, local_response_norm
from ..registry import builds, register
from ..weights import copy_weights, expect_reference, weighted_modules

__all__ = [
    "CONFIGS",
    "HEAD",
    "MIN_SIZE",
    "NAMES",
    "VGG",
    "from_torchvision",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "weight_layers",
]

# Table 1 of the paper: one entry per column (configuration), one inner tuple per stage. "conv<k>-<c>"
# is a k x k convolution with c output channels (stride 1, padding k // 2) followed by a ReLU; "LRN" is
# AlexNet's local response normalisation. Every stage ends in a 2x2 max-pool (stride 2).
CONFIGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "A": (
        ("conv3-64",),
        ("conv3-128",),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "A-LRN": (
        ("conv3-64", "LRN"),
        ("conv3-128",),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "B": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "C": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv1-256"),
        ("conv3-512", "conv3-512", "conv1-512"),
        ("conv3-512", "conv3-512", "conv1-512"),
    ),
    "D": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512", "conv3-512"),
    ),
    "E": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512", "conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512", "conv3-512", "conv3-512"),
    ),
}
HEAD = ("FC-4096", "FC-4096", "FC-1000", "soft-max")  # the last row block of Table 1, shared by all

# The names the models go by; the number counts weight layers (convolutions + 3 FC layers).
NAMES = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16_c", "D": "vgg16", "E": "vgg19"}

FC_WIDTH = 4096  # fc6 and fc7
POOL_OUTPUT = 7  # five 2x2 pools take 224 to 7: fc6 sees 512 * 7 * 7 = 25088 features
MIN_SIZE = 32  # 2^5: the smallest input that survives five 2x2 pools


def _parse(layer: str) -> tuple[int, int] | None:
    """``"conv3-64"`` -> (kernel 3, 64 channels); ``"LRN"`` -> None."""
    if layer == "LRN":
        return None
    match = re.fullmatch(r"conv(\d+)-(\d+)", layer)
    if match is None:
        raise ValueError(f"cannot read VGG layer {layer!r}: expected 'conv<kernel>-<channels>' or 'LRN'")
    return int(match[1]), int(match[2])


def _column(config: str) -> str:
    """The key of a column of Table 1 (``"d"`` -> ``"D"``), checked."""
    key = config.strip().upper() if isinstance(config, str) else config
    return check_choice("config", key, tuple(CONFIGS))


def weight_layers(config: str) -> int:
    """Depth as the paper counts it: convolutions plus the three FC layers (A: 11, ..., E: 19)."""
    stages = CONFIGS[_column(config)]
    return sum(_parse(layer) is not None for stage in stages for layer in stage) + 3


class VGG(nn.Module):
    """One column of the paper's Table 1: five stages of convolutions and max-pools, then three FC layers.

    ``batch_norm=True`` puts a BatchNorm after each convolution (torchvision's ``vgg*_bn``; the
    convolutions keep their biases, as there). An adaptive average pool before fc6, the identity at
    224, lets any input of at least 32x32 through. Weights start as torchvision's do (He et al.'s
    fan-out normal for convolutions, N(0, 0.01) for FC layers, zero biases), which trains the deep
    columns from scratch. The paper, to avoid stalled training, drew only A at random (zero mean,
    variance 1e-2) and started deeper nets from A's first four convolutions and three FC layers; it
    notes that Glorot & Bengio's initialisation, found after submission, made that unnecessary.

    ``width`` scales every convolution's channels (rounded, at least 1) and ``fc_width`` sets fc6 and
    fc7: not in the paper, they give a narrow VGG with the same depth and shape that trains in seconds
    on a CPU (the book's previews). The defaults are the paper's; other values add ``_w<width>_fc<fc>``
    to ``name`` so a narrow net is never mistaken for the real one. Built on the meta device (shapes
    only), the random initialisation is skipped.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        config: str = "D",
        batch_norm: bool = False,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_width: int = FC_WIDTH,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, str):  # vgg("A") from before the configuration became a keyword
            raise TypeError(f"num_classes comes first; name the configuration: config={num_classes!r}")
        check_int("num_classes", num_classes)
        config = _column(config)
        check_bool("batch_norm", batch_norm)
        check_probability("dropout", dropout)
        check_float("width", width, low=0.0, high=16.0, low_open=True)
        check_int("fc_width", fc_width)
        self.config = config
        self.name = NAMES[config] + ("_bn" if batch_norm else "")
        if width != 1 or fc_width != FC_WIDTH:
            self.name += f"_w{width:g}_fc{fc_width}"
        self.min_size = MIN_SIZE

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = 3
        for stage, stage_layers in enumerate(CONFIGS[config], start=1):
            for i, layer in enumerate(stage_layers, start=1):
                parsed = _parse(layer)
                if parsed is None:
                    layers[f"norm{stage}"] = local_response_norm()
                    continue
                kernel_size, channels = parsed
                channels = max(1, round(channels * width))
                layers[f"conv{stage}_{i}"] = nn.Conv2d(
                    in_channels, channels, kernel_size, padding=kernel_size // 2
                )
                if batch_norm:
                    layers[f"bn{stage}_{i}"] = nn.BatchNorm2d(channels)
                layers[f"relu{stage}_{i}"] = nn.ReLU()
                in_channels = channels
            layers[f"pool{stage}"] = nn.MaxPool2d(kernel_size=2, stride=2)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(POOL_OUTPUT)
        self.classifier = nn.Sequential(
            OrderedDict(
                fc6=nn.Linear(in_channels * POOL_OUTPUT**2, fc_width),
                relu6=nn.ReLU(),
                dropout6=nn.Dropout(dropout),
                fc7=nn.Linear(fc_width, fc_width),
                relu7=nn.ReLU(),
                dropout7=nn.Dropout(dropout),
                fc8=nn.Linear(fc_width, num_classes),
            )
        )
        if self.classifier.fc8.weight.is_meta:
            return  # shapes only; initialising meta tensors would also import torch._dynamo (seconds)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, self.name, model=self)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@builds(VGG)
def vgg():
    """Any column of the paper's Table 1: ``vgg(config="C")`` is the 16-layer net with 1x1 convolutions.

    ``vgg(10, config="A", batch_norm=True, width=0.25, fc_width=512)`` is a quarter-width VGG-11 with
    BatchNorm for 10 classes, the book's CPU preview (see ``VGG``).
    """


# What every registered VGG shares: torchvision's weights and converter, 224 px, the 32 px minimum.
_TORCHVISION = dict(convert="from_torchvision", family="vgg", default_size=224, min_size=MIN_SIZE)


@register("vgg11", display="VGG-11", weights="torchvision:VGG11_Weights.IMAGENET1K_V1", **_TORCHVISION)
@builds(VGG, "dropout", config="A")
def vgg11():
    """Configuration A: 8 convolutions + 3 FC layers (132,863,336 parameters)."""


@register(
    "vgg11_bn", display="VGG-11-BN", weights="torchvision:VGG11_BN_Weights.IMAGENET1K_V1", **_TORCHVISION
)
@builds(VGG, "dropout", config="A", batch_norm=True)
def vgg11_bn():
    """Configuration A with BatchNorm (132,868,840 parameters)."""


@register("vgg13", display="VGG-13", weights="torchvision:VGG13_Weights.IMAGENET1K_V1", **_TORCHVISION)
@builds(VGG, "dropout", config="B")
def vgg13():
    """Configuration B: 10 convolutions + 3 FC layers (133,047,848 parameters)."""


@register(
    "vgg13_bn", display="VGG-13-BN", weights="torchvision:VGG13_BN_Weights.IMAGENET1K_V1", **_TORCHVISION
)
@builds(VGG, "dropout", config="B", batch_norm=True)
def vgg13_bn():
    """Configuration B with BatchNorm (133,053,736 parameters)."""


@register("vgg16", display="VGG-16", weights="torchvision:VGG16_Weights.IMAGENET1K_V1", **_TORCHVISION)
@builds(VGG, "dropout", config="D")
def vgg16():
    """Configuration D, "VGG-16": 13 convolutions + 3 FC layers (138,357,544 parameters)."""


@register(
    "vgg16_bn", display="VGG-16-BN", weights="torchvision:VGG16_BN_Weights.IMAGENET1K_V1", **_TORCHVISION
)
@builds(VGG, "dropout", config="D", batch_norm=True)
def vgg16_bn():
    """Configuration D with BatchNorm (138,365,992 parameters)."""


@register("vgg19", display="VGG-19", weights="torchvision:VGG19_Weights.IMAGENET1K_V1", **_TORCHVISION)
@builds(VGG, "dropout", config="E")
def vgg19():
    """Configuration E, "VGG-19": 16 convolutions + 3 FC layers (143,667,240 parameters)."""


@register(
    "vgg19_bn", display="VGG-19-BN", weights="torchvision:VGG19_BN_Weights.IMAGENET1K_V1", **_TORCHVISION
)
@builds(VGG, "dropout", config="E", batch_norm=True)
def vgg19_bn():
    """Configuration E with BatchNorm (143,678,248 parameters)."""


# Loading reference weights


def _read_torchvision_config(features: nn.Sequential) -> tuple[str, bool]:
    """Which column of Table 1 a torchvision ``features`` stack is, and whether it has BatchNorm."""
    stages: list[tuple[str, ...]] = []
    stage: list[str] = []
    batch_norm = False
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            stage.append(f"conv{layer.kernel_size[0]}-{layer.out_channels}")
        elif isinstance(layer, nn.BatchNorm2d):
            batch_norm = True
        elif isinstance(layer, nn.MaxPool2d):
            stages.append(tuple(stage))
            stage = []
    for config, table in CONFIGS.items():
        if table == tuple(stages) and not stage:
            return config, batch_norm
    raise ValueError(
        f"this torchvision VGG's convolutions {stages + ([tuple(stage)] if stage else [])} match none of "
        f"the configurations {', '.join(CONFIGS)}; cannot convert it"
    )


def from_torchvision(tv_model: nn.Module) -> VGG:
    """A nets ``VGG`` with the weights of any ``torchvision.models.VGG`` (``vgg11`` ... ``vgg19_bn``).

    The configuration and BatchNorm are read from the torchvision model, ``num_classes`` and dropout
    from its classifier. Layers holding tensors are paired in order (torchvision's ``features.0`` is our
    ``features.conv1_1``, ``classifier.0`` our ``classifier.fc6``) and ``nets.weights.copy_weights``
    checks each pair for type, hyper-parameters and shapes; BatchNorm running statistics are copied too.
    The result is on the source's device and dtype, in the source's train/eval mode.
    """
    from torchvision.models import VGG as TorchvisionVGG

    expect_reference(tv_model, TorchvisionVGG, "a torchvision.models.VGG")
    config, batch_norm = _read_torchvision_config(tv_model.features)
    fc8, dropout = tv_model.classifier[-1], tv_model.classifier[2]
    if not isinstance(fc8, nn.Linear) or not isinstance(dropout, nn.Dropout):
        raise ValueError("this torchvision VGG's classifier was modified; cannot convert it")
    if tv_model.avgpool.output_size not in (POOL_OUTPUT, (POOL_OUTPUT, POOL_OUTPUT)):
        raise ValueError(f"expected a {POOL_OUTPUT}x{POOL_OUTPUT} average pool, found {tv_model.avgpool}")
    with torch.device("meta"):  # every tensor is overwritten by the copy, so skip the random initialisation
        model = VGG(fc8.out_features, config=config, batch_norm=batch_norm, dropout=dropout.p)
    model = model.to_empty(device=next(tv_model.parameters()).device)
    ours, theirs = weighted_modules(model), weighted_modules(tv_model)
    if len(ours) != len(theirs):
        raise ValueError(
            f"this torchvision VGG has {len(theirs)} layers with weights, {model.name} has {len(ours)}"
        )
    return copy_weights(model, tv_model, zip(ours, theirs, strict=True))
