"""Blocks that several families share.

Each block is small and named for what it is, so that a model built from them prints
like the paper's figure: ``ConvBNAct`` (conv -> BatchNorm -> activation; its depthwise convolutions are
``DepthwiseConv2d``), ``SqueezeExcite``,
``StochasticDepth``, ``Parallel`` (the Inception idea: branches side by side, outputs
concatenated), AlexNet's ``local_response_norm`` (VGG's A-LRN column uses it too), and the
input-size guard every model calls first.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "ConvBNAct",
    "DepthwiseConv2d",
    "Parallel",
    "SqueezeExcite",
    "StochasticDepth",
    "check_images",
    "local_response_norm",
    "make_divisible",
]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor`` without losing more than 10%.

    This is the rounding MobileNet and EfficientNet use (and torchvision's ``_make_divisible``).
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def local_response_norm() -> nn.LocalResponseNorm:
    """AlexNet's Section 3.3 normalisation: n = 5 neighbouring channels, k = 2, alpha = 1e-4, beta = 0.75.

    PyTorch (like Caffe) divides ``alpha`` by ``size``; the paper's formula does not, so read literally
    the paper normalises 5x harder. We keep PyTorch/Caffe's convention, as the Caffe reproduction did.
    """
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise convolution (``groups`` = input = output channels): an ``nn.Conv2d`` that prints as one.

    One shortcut, for speed only: while training on the CPU, on a 1x1 map with "same" zero padding (at
    any stride), every tap but the kernel's centre falls on padding, so the output is the input times
    that centre weight. It multiplies instead of convolving: the same output (the other taps add exact
    zeros) and gradients (up to rounding in the weight gradient's sum over the batch), several times
    faster, because oneDNN's depthwise backward pass on a 1x1 map is slower than on a 4x4 one. The
    EfficientNets' last stages run on 1x1 maps at the 24-32 px the book trains them at on a CPU.
    Evaluation (and so MAC counting and export) always runs the convolution.
    """

    def _get_name(self) -> str:
        return "Conv2d"

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.training and x.device.type == "cpu" and x.shape[-2:] == (1, 1) and self._centre_only():
            k = self.kernel_size[0] // 2
            out = x * weight[:, :, k, k].reshape(1, -1, 1, 1)
            return out if bias is None else out + bias.reshape(1, -1, 1, 1)
        return super()._conv_forward(x, weight, bias)

    def _centre_only(self) -> bool:
        """A 1x1 map meets only the centre tap: an odd square kernel, zero padding of half of it, no dilation."""
        k = self.kernel_size[0]
        return (
            self.kernel_size == (k, k)
            and k % 2 == 1
            and self.padding == (k // 2, k // 2)
            and self.dilation == (1, 1)
            and self.padding_mode == "zeros"
            and self.groups == self.in_channels == self.out_channels
        )


class ConvBNAct(nn.Sequential):
    """Convolution, then BatchNorm, then an activation: the brick of every modern CNN.

    The convolution has no bias (BatchNorm's shift does that job). ``padding`` defaults to
    "same" for odd kernels at stride 1 (``kernel_size // 2``). Pass ``act=None`` for no activation.
    A depthwise convolution (``groups`` equal to both channel counts) is a ``DepthwiseConv2d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: int | tuple[int, int] | None = None,
        *,
        groups: int = 1,
        act: Callable[[], nn.Module] | None = nn.ReLU,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        if padding is None:
            if isinstance(kernel_size, int):
                padding = kernel_size // 2
            else:
                padding = (kernel_size[0] // 2, kernel_size[1] // 2)
        depthwise = 1 < groups == in_channels == out_channels
        layers: dict[str, nn.Module] = {
            "conv": (DepthwiseConv2d if depthwise else nn.Conv2d)(
                in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
            ),
            "bn": nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
        }
        if act is not None:
            # ReLU in place, as torchvision does: it overwrites BatchNorm's output, which nothing else
            # needs (BatchNorm's backward uses its input), and saves a tensor per layer.
            layers["act"] = nn.ReLU(inplace=True) if act is nn.ReLU else act()
        super().__init__(*[])
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.out_channels = out_channels


class Parallel(nn.Module):
    """Run branches side by side on the same input and concatenate their outputs along channels.

    This is the Inception module's one idea, kept in one place; the families name the branches
    (``branch1x1``, ``branch3x3``, ``branch_pool``...) so a printed model reads like the paper's figure.
    """

    def __init__(self, **branches: nn.Module) -> None:
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], dim=1)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2017): reweight channels by a gate computed from their means."""

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        *,
        act: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = act()
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.expand(self.act(self.reduce(self.squeeze(x)))))
        return x * scale


class StochasticDepth(nn.Module):
    """Drop a residual branch for a whole sample with probability ``p`` while training (Huang et al., 2016).

    Surviving samples are scaled by ``1 / (1 - p)`` so the expected output is unchanged; at
    evaluation time the block is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"StochasticDepth: drop probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def check_images(x: torch.Tensor, min_size: int, model_name: str, *, model: nn.Module | None = None) -> None:
    """Raise a clear ``ValueError`` for an input a model cannot take, instead of an error deep inside.

    Checks the shape (a batch of 3-channel images, at least ``min_size`` pixels a side), that the images
    are floating point, and, given the ``model``, that they have its dtype and sit on its device.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{model_name} expects a torch.Tensor of images, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(
            f"{model_name} expects a batch of images shaped (N, 3, H, W); got a tensor of shape "
            f"{tuple(x.shape)}. Add a batch dimension with x.unsqueeze(0) for a single image."
        )
    if x.shape[1] != 3:
        hint = " Grey images: x.expand(-1, 3, -1, -1)." if x.shape[1] == 1 else ""
        raise ValueError(
            f"{model_name} expects 3 colour channels (N, 3, H, W); got {x.shape[1]} in shape {tuple(x.shape)}."
            f"{hint}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{model_name} expects float images normalised with the ImageNet mean and std; got {x.dtype}. "
            "Convert with x.float() / 255, then normalise (nets.data.MEAN, nets.data.STD)."
        )
    weight = next(model.parameters(), None) if model is not None else None
    if weight is not None and weight.device.type != "meta":
        if x.device != weight.device:
            raise ValueError(
                f"{model_name}'s weights are on {weight.device}, the input is on {x.device}: "
                f"move it with x.to({str(weight.device)!r})"
            )
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"{model_name}'s weights are {weight.dtype}, the input is {x.dtype}: convert it with "
                f"x.to({weight.dtype}) (or the model with model.to({x.dtype}))"
            )
    height, width = x.shape[-2:]
    if height < min_size or width < min_size:
        raise ValueError(
            f"{model_name} needs an input of at least {min_size}x{min_size} pixels; got {height}x{width}. "
            f"Resize the image (e.g. torchvision.transforms.Resize({min_size})) or pick a smaller model."
        )
