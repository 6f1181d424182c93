"""VGG: very deep networks built from one brick, the 3x3 convolution.

Paper: Karen Simonyan, Andrew Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556. Second in the ILSVRC-2014 classification task (7.3% top-5
test error), first in localisation.

The paper's idea: two stacked 3x3 convolutions see a 5x5 window and three see a 7x7 one, with fewer
weights (3 * 3^2 C^2 = 27 C^2 against 7^2 C^2 = 49 C^2) and more non-linearities in between. Its
Table 1 compares six configurations that differ only in depth; all of them have five stages of
"same"-padded stride-1 convolutions, each stage ending in a 2x2 max-pool (224 -> 7), and the same
head: FC-4096, FC-4096, FC-1000. ``CONFIGS`` below is that table; ``config_table()`` lays it out as
the paper prints it. Layers are named as in the original Caffe release (``conv4_3``, ``relu5_1``,
``pool5``, ``fc6``), the names style transfer and SSD papers use.

Registered: ``vgg11`` (A), ``vgg13`` (B), ``vgg16`` (D), ``vgg19`` (E) and their ``_bn`` versions
(BatchNorm after every convolution, not in the paper: Ioffe & Szegedy came two months later), all
with torchvision's exact layout and parameter counts. ``vgg(config=...)`` builds any column of the
table, including A-LRN and C (the paper's 16-layer net with three 1x1 convolutions).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .alexnet import _copy_in_order, local_response_norm
from .layers import check_input_size
from .registry import register

__all__ = [
    "CONFIGS",
    "NAMES",
    "VGG",
    "JitteredCrop",
    "activation_memory",
    "config_table",
    "from_torchvision",
    "layer_costs",
    "receptive_field",
    "scale_jitter",
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


def _check_config(config: str) -> str:
    key = config.strip().upper() if isinstance(config, str) else config
    if key not in CONFIGS:
        raise ValueError(
            f"unknown VGG configuration {config!r}; choose one of {', '.join(CONFIGS)} "
            f"(the columns of the paper's Table 1; D is VGG-16, E is VGG-19)"
        )
    return key


def weight_layers(config: str) -> int:
    """Depth as the paper counts it: convolutions plus the three FC layers (A: 11, ..., E: 19)."""
    stages = CONFIGS[_check_config(config)]
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
        config: str = "D",
        num_classes: int = 1000,
        *,
        batch_norm: bool = False,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_width: int = FC_WIDTH,
    ) -> None:
        super().__init__()
        config = _check_config(config)
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}; the paper uses 0.5")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 16:
            raise ValueError(
                f"width must be a channel multiplier in (0, 16], got {width!r}; the paper's is 1"
            )
        if isinstance(fc_width, bool) or not isinstance(fc_width, int) or fc_width < 1:
            raise ValueError(
                f"fc_width must be a positive integer, got {fc_width!r}; the paper's is {FC_WIDTH}"
            )
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
        check_input_size(x, self.min_size, self.name)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(
    config: str = "D",
    batch_norm: bool = False,
    num_classes: int = 1000,
    dropout: float = 0.5,
    *,
    width: float = 1.0,
    fc_width: int = FC_WIDTH,
) -> VGG:
    """Any column of the paper's Table 1: ``vgg("C")`` is the 16-layer net with 1x1 convolutions.

    ``vgg("A", True, 10, width=0.25, fc_width=512)`` is a quarter-width VGG-11 with BatchNorm for 10
    classes, the book's CPU preview (see ``VGG``).
    """
    return VGG(config, num_classes, batch_norm=batch_norm, dropout=dropout, width=width, fc_width=fc_width)


def config_table() -> list[list[str]]:
    """The paper's Table 1 as rows of strings, one column per configuration, ready to print.

    The first row is the header (``"A (11 weight layers)"``...); layers of a stage line up by position,
    empty strings fill the shorter columns, and "maxpool" rows separate the stages.
    """
    columns = list(CONFIGS)
    rows = [[f"{c} ({weight_layers(c)} weight layers)" for c in columns]]
    rows.append(["input (224 x 224 RGB image)"] * len(columns))
    for stage in range(len(CONFIGS["A"])):
        depth = max(len(CONFIGS[c][stage]) for c in columns)
        for i in range(depth):
            rows.append([CONFIGS[c][stage][i] if i < len(CONFIGS[c][stage]) else "" for c in columns])
        rows.append(["maxpool"] * len(columns))
    rows.extend([layer] * len(columns) for layer in HEAD)
    return rows


@register("vgg11", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg11(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration A: 8 convolutions + 3 FC layers (132,863,336 parameters)."""
    return VGG("A", num_classes, dropout=dropout)


@register("vgg11_bn", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg11_bn(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration A with BatchNorm (132,868,840 parameters)."""
    return VGG("A", num_classes, batch_norm=True, dropout=dropout)


@register("vgg13", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg13(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration B: 10 convolutions + 3 FC layers (133,047,848 parameters)."""
    return VGG("B", num_classes, dropout=dropout)


@register("vgg13_bn", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg13_bn(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration B with BatchNorm (133,053,736 parameters)."""
    return VGG("B", num_classes, batch_norm=True, dropout=dropout)


@register("vgg16", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg16(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration D, "VGG-16": 13 convolutions + 3 FC layers (138,357,544 parameters)."""
    return VGG("D", num_classes, dropout=dropout)


@register("vgg16_bn", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg16_bn(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration D with BatchNorm (138,365,992 parameters)."""
    return VGG("D", num_classes, batch_norm=True, dropout=dropout)


@register("vgg19", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg19(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration E, "VGG-19": 16 convolutions + 3 FC layers (143,667,240 parameters)."""
    return VGG("E", num_classes, dropout=dropout)


@register("vgg19_bn", family="vgg", default_size=224, min_size=MIN_SIZE)
def vgg19_bn(num_classes: int = 1000, *, dropout: float = 0.5) -> VGG:
    """Configuration E with BatchNorm (143,678,248 parameters)."""
    return VGG("E", num_classes, batch_norm=True, dropout=dropout)


# What the chapter measures: receptive fields, where parameters, compute and memory go, scale jitter


def receptive_field(layers: nn.Module) -> int:
    """The side of the input window one output unit of ``layers`` sees, from kernels, strides and dilations.

    Walks the ``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.AvgPool2d`` inside ``layers`` in module order,
    which is the order they run in a chain such as ``VGG.features``: each k x k layer widens the window
    by (k - 1) x (the product of the strides before it). Two stacked 3x3 convolutions see 5x5, three see
    7x7; a ``pool5`` unit of VGG-16 sees 212x212 pixels.
    """
    if not isinstance(layers, nn.Module):
        raise TypeError(
            f"receptive_field expects an nn.Module (a chain of layers), got {type(layers).__name__}"
        )
    field, jump = 1, 1
    for module in layers.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernel, stride, dilation = (
                _first(getattr(module, attr, 1)) for attr in ("kernel_size", "stride", "dilation")
            )
            field += (kernel - 1) * dilation * jump
            jump *= stride
    return field


def _first(value) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def _block(name: str) -> str:
    """``features.conv3_2`` -> "stage 3", ``classifier.relu6`` -> "fc6", ``avgpool`` -> "avgpool"."""
    head, _, leaf = name.rpartition(".")
    number = re.search(r"\d+", leaf)
    if head.endswith("features") and number:
        return f"stage {number[0]}"
    if head.endswith("classifier") and number:
        return f"fc{number[0]}"
    return leaf


def layer_costs(model: nn.Module, input_size=(1, 3, 224, 224)):
    """One row per layer, in the order the forward pass runs them: what each one costs.

    Columns: ``layer`` (dotted name), ``block`` ("stage 1" ... "stage 5", "avgpool", "fc6" ... "fc8" for a
    ``VGG``), ``kind`` (class name), ``output`` (shape without the batch), ``params``, ``macs``
    (multiply-accumulates of the batch: convolutions and linear layers, as ``nets.count_macs`` counts
    them) and ``activations`` (values the layer writes for the batch). Runs one forward pass in eval
    mode; build the model on the meta device (``with torch.device("meta"):``) and it costs nothing.
    Returns a pandas DataFrame.
    """
    import pandas as pd

    if not isinstance(model, nn.Module):
        raise TypeError(f"layer_costs expects an nn.Module, got {type(model).__name__}")
    size = tuple(input_size)
    if len(size) != 4 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"input_size must be four positive integers, e.g. (1, 3, 224, 224); got {input_size!r}"
        )
    rows: list[dict] = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            if not isinstance(output, torch.Tensor):
                return
            if isinstance(module, nn.Conv2d):
                macs = output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
            elif isinstance(module, nn.Linear):
                macs = output.numel() * module.in_features
            else:
                macs = 0
            rows.append(
                {
                    "layer": name,
                    "block": _block(name),
                    "kind": type(module).__name__,
                    "output": tuple(output.shape[1:]),
                    "params": sum(p.numel() for p in module.parameters()),
                    "macs": macs,
                    "activations": output.numel(),
                }
            )

        return hook

    leaves = [(n, m) for n, m in model.named_modules() if n and next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook_for(n)) for n, m in leaves]
    param = next(model.parameters(), None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(size, device=param.device if param is not None else "cpu"))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return pd.DataFrame(rows, columns=["layer", "block", "kind", "output", "params", "macs", "activations"])


def activation_memory(model: nn.Module, input_size=(1, 3, 224, 224), bytes_per_value: int = 4) -> int:
    """Bytes of all the layer outputs of one forward pass: the values ``layer_costs`` counts, x 4 for float32.

    Training keeps roughly these tensors alive until the backward pass needs them, so this is the
    activation memory a training step needs per ``input_size`` batch; inference can free each output once
    the next layer has read it.
    """
    return int(layer_costs(model, input_size)["activations"].sum()) * bytes_per_value


@dataclass(frozen=True)
class JitteredCrop:
    """One training crop of the paper's scale jittering: the image rescaled so its shorter side is
    ``scale`` (S), and the ``crop`` x ``crop`` window at (``top``, ``left``) taken from it."""

    scale: int
    top: int
    left: int
    rescaled: torch.Tensor  # (1, 3, H, W) with min(H, W) == scale
    crop: torch.Tensor  # (1, 3, crop, crop)


def scale_jitter(
    image: torch.Tensor, n: int = 4, scale_range: tuple[int, int] = (256, 512), crop: int = 224, seed: int = 0
) -> list[JitteredCrop]:
    """``n`` training crops as the paper's multi-scale training makes them (Sec. 3.1).

    For each crop, S is drawn uniformly from ``scale_range`` (the paper's [S_min, S_max] = [256, 512]),
    the (1, 3, H, W) ``image`` is rescaled isotropically (antialiased bilinear) so its shorter side is S,
    and a ``crop`` x ``crop`` window is cut at a random position. At S = 256 a crop holds most of the
    image; at S = 512 it holds about a quarter of it, so the same object appears at different sizes.
    Seeded: the same ``seed`` gives the same crops.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(
            f"image must be a tensor shaped (1, 3, H, W), got {getattr(image, 'shape', image)!r}"
        )
    low, high = scale_range
    if not crop <= low <= high:
        raise ValueError(
            f"scale_range must satisfy crop <= S_min <= S_max, got {scale_range} with crop {crop}"
        )
    generator = torch.Generator().manual_seed(seed)
    height, width = image.shape[-2:]
    crops = []
    for _ in range(n):
        scale = int(torch.randint(low, high + 1, (1,), generator=generator))
        ratio = scale / min(height, width)
        size = (max(scale, round(height * ratio)), max(scale, round(width * ratio)))
        rescaled = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
        top = int(torch.randint(0, size[0] - crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, size[1] - crop + 1, (1,), generator=generator))
        window = rescaled[..., top : top + crop, left : left + crop]
        crops.append(JitteredCrop(scale, top, left, rescaled, window))
    return crops


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
    from its classifier. Layers are paired in order (torchvision's ``features.0`` is our
    ``features.conv1_1``, ``classifier.0`` our ``classifier.fc6``), each pair checked for type,
    hyper-parameters and shapes; BatchNorm running statistics are copied too. The result is on the
    source's device and dtype, in the source's train/eval mode.
    """
    from torchvision.models import VGG as TorchvisionVGG

    if not isinstance(tv_model, TorchvisionVGG):
        raise TypeError(
            f"from_torchvision expects a torchvision.models.VGG, got {type(tv_model).__name__}; "
            "nets.pretrained.from_torchvision converts every torchvision model nets supports."
        )
    config, batch_norm = _read_torchvision_config(tv_model.features)
    fc8, dropout = tv_model.classifier[-1], tv_model.classifier[2]
    if not isinstance(fc8, nn.Linear) or not isinstance(dropout, nn.Dropout):
        raise ValueError("this torchvision VGG's classifier was modified; cannot convert it")
    if tv_model.avgpool.output_size not in (POOL_OUTPUT, (POOL_OUTPUT, POOL_OUTPUT)):
        raise ValueError(f"expected a {POOL_OUTPUT}x{POOL_OUTPUT} average pool, found {tv_model.avgpool}")
    reference = next(tv_model.parameters())
    with torch.device("meta"):  # every tensor is overwritten below, so skip the random initialisation
        model = VGG(config, fc8.out_features, batch_norm=batch_norm, dropout=dropout.p)
    model = model.to_empty(device=reference.device).to(reference.dtype)
    _copy_in_order(tv_model.features, model.features, "features")
    _copy_in_order(tv_model.classifier, model.classifier, "classifier")
    return model.train(tv_model.training)
