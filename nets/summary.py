"""What a chapter shows about a model: parameter and MAC counts, the layer summary, the paper table."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_macs", "count_params"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params expects an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> int:
    """Multiply-accumulates of one forward pass, as torchinfo's ``input_size`` (e.g. ``(1, 3, 224, 224)``).

    Counted with ``torch.utils.flop_counter`` (MACs = FLOPs / 2) in eval mode on a zero input, so it
    covers every convolution and matrix product. This is the quantity torchvision's "GFLOPS" column and
    most papers' "multiply-adds" report.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_macs expects an nn.Module, got {type(model).__name__}")
    size = tuple(input_size)
    if len(size) != 4 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            f"input_size must be four positive integers (batch, channels, height, width), e.g. "
            f"(1, 3, 224, 224); got {input_size!r}"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.zeros(size, device=device))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2
