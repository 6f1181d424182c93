"""What the ResNet chapter measures: how much gradient reaches each conv of a freshly initialised network.

:func:`conv_gradient_norms` backpropagates one random batch once and returns every conv weight's gradient
norm in forward order; the chapter plots it for ResNets and their plain twins (``residual=False``) to show
that in BatchNorm networks the gradient does not vanish but grows toward the input, far faster without
the skips.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_int
from .probes import device_of, eval_mode, record

__all__ = ["conv_gradient_norms"]


def conv_gradient_norms(
    model: nn.Module,
    input_size: Sequence[int] = (4, 3, 64, 64),
    *,
    seed: int = 0,
    shortcuts: bool = False,
) -> dict[str, float]:
    """The L2 norm of each conv weight's gradient after one backward pass, in forward order.

    One random batch (normal pixels, random labels, both drawn from ``seed``) goes through ``model`` in
    training mode (BatchNorm normalises with the batch's statistics, as in the first training step) and
    the mean cross-entropy is backpropagated. The result maps each ``nn.Conv2d``'s name to the norm of
    its weight gradient, in the order the forward pass reached the convs: the first entry is the stem,
    the last the conv nearest the classifier. Convs inside a block's ``shortcut`` (projections) are left
    out unless ``shortcuts=True``, so a ResNet and its plain twin list the same layers. (The order is read
    from a pass in eval mode: a branch that runs only in training, such as an auxiliary classifier, is
    left out.)

    The model is left as it was: its gradients, BatchNorm running statistics and train/eval mode are
    restored (it is run on the device of its parameters).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"conv_gradient_norms expects an nn.Module, got {type(model).__name__}")
    size = tuple(input_size)
    if len(size) != 4 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"input_size must be four positive integers (batch, channels, height, width), e.g. (4, 3, 64, 64); "
            f"got {input_size!r}"
        )
    if size[0] < 2:
        raise ValueError(
            f"input_size needs a batch of at least 2 images (BatchNorm in training mode normalises over the "
            f"batch); got {size[0]}"
        )
    check_int("seed", seed, minimum=0)
    convs = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and (shortcuts or "shortcut" not in name.split("."))
    }
    if not convs:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layers to measure")
    device = device_of(model)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, generator=generator).to(device)
    # The order the forward pass reaches the convs (an eval-mode pass without gradients: it changes nothing).
    order = list(record(model, x, convs, capture=lambda *_: None))
    saved_grads = {p: p.grad for p in model.parameters()}
    saved_buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    # BatchNorm with the batch's statistics, as in a first training step; the caller's mode comes back.
    with eval_mode(model, training=True):
        try:
            for p in model.parameters():
                p.grad = None
            logits = model(x)
            logits = logits[0] if isinstance(logits, (tuple, list)) else logits
            y = torch.randint(0, logits.shape[1], (size[0],), generator=generator).to(device)
            F.cross_entropy(logits, y).backward()
            grads = {name: convs[name].weight.grad for name in order}
            return {name: float(g.norm()) if g is not None else 0.0 for name, g in grads.items()}
        finally:
            for p, grad in saved_grads.items():
                p.grad = grad
            buffers = dict(model.named_buffers())
            with torch.no_grad():
                for name, value in saved_buffers.items():
                    buffers[name].copy_(value)
