"""What the ResNet chapter measures: the degradation experiment's verdict, and the gradient at initialisation.

- :func:`degradation_verdict`: what the chapter's plain and residual runs at two depths showed, read the
  way the paper's Fig. 4 is (final training loss), in sentences decided by the numbers.
- :func:`conv_gradient_norms` backpropagates one random batch once and returns every conv weight's
  gradient norm in forward order; the chapter plots it for ResNets and their plain twins
  (``residual=False``) to show that in BatchNorm networks the gradient does not vanish but grows toward
  the input, far faster without the skips.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_input_size, check_int
from ..probes import device_of, eval_mode, record

__all__ = ["Degradation", "conv_gradient_norms", "degradation_verdict"]


class Degradation(NamedTuple):
    """What :func:`degradation_verdict` read from the runs: three orderings and the sentences.

    Each ordering is True (as in the paper's Fig. 4), False (the other way round) or None (the two losses
    are within the tolerance: too close to call with one seed).
    """

    shallow: int  # depth of the shallower twins
    deep: int  # depth of the deeper twins
    degraded: bool | None  # the deeper plain net ended with the HIGHER training loss
    skips_helped: bool | None  # at the deeper depth, the residual net ended lower than the plain one
    deeper_resnet_better: bool | None  # the deeper residual net ended lower than the shallower one
    text: str

    @property
    def as_in_paper(self) -> int:
        """How many of the three orderings came out as in the paper's Fig. 4 (0 to 3)."""
        return sum(o is True for o in (self.degraded, self.skips_helped, self.deeper_resnet_better))


def degradation_verdict(
    plain: Mapping[int, float], residual: Mapping[int, float], *, tolerance: float = 0.05
) -> Degradation:
    """The verdict on plain vs residual nets at two depths, from their final training losses.

    ``plain`` and ``residual`` map the same two depths (e.g. ``{8: loss, 32: loss}``) to each run's final
    training loss. The paper's Fig. 4 has three orderings: the deeper plain net ends HIGHER than the
    shallower one (degradation), the deeper residual net ends lower than its plain twin (the skips help)
    and lower than the shallower residual net (with skips, depth pays). Each is checked here; a gap of
    at most ``tolerance`` (in the loss's units, nats) is called a tie. A loss that is not finite (a run
    that diverged) counts as the highest.
    """
    depths = sorted(plain)
    if len(depths) != 2 or sorted(residual) != depths:
        raise ValueError(
            f"plain and residual must map the same two depths to training losses, e.g. {{8: 1.8, 32: 2.0}}; "
            f"got depths {sorted(plain)} and {sorted(residual)}"
        )
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    shallow, deep = depths
    loss = {}
    for kind, runs in (("plain", plain), ("residual", residual)):
        for depth, value in runs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{kind}[{depth}] must be a number (a training loss), got {value!r}")
            loss[kind, depth] = float(value) if math.isfinite(value) else math.inf

    def lower(a: tuple[str, int], b: tuple[str, int]) -> bool | None:
        """True if run a ended lower than run b by more than the tolerance, False if higher, None: a tie."""
        if loss[a] == loss[b] or abs(loss[a] - loss[b]) <= tolerance:
            return None
        return loss[a] < loss[b]

    def ended(key: tuple[str, int]) -> str:
        return "diverged" if math.isinf(loss[key]) else f"ended at {loss[key]:.3f}"

    def by(a: tuple[str, int], b: tuple[str, int]) -> str:
        d = abs(loss[a] - loss[b])
        return "" if math.isinf(d) else f" by {d:.3f}"

    def tie(a: tuple[str, int], b: tuple[str, int]) -> str:
        if math.isinf(loss[a]):
            return "both diverged: no comparison"
        return f"within {tolerance:g} of each other, too close to call with one seed"

    p_s, p_d, r_s, r_d = ("plain", shallow), ("plain", deep), ("residual", shallow), ("residual", deep)

    degraded = lower(p_s, p_d)
    head = f"in training loss the plain {deep}-layer net {ended(p_d)}, the plain {shallow}-layer one {ended(p_s)}: "
    if degraded is None:
        first = head + f"{tie(p_d, p_s)}; no clear degradation at this budget."
    elif degraded:
        first = (
            head + f"the deeper plain net trained worse{by(p_d, p_s)}, the degradation of the paper's Fig. 4."
        )
    else:
        first = head + f"the deeper plain net trained better{by(p_d, p_s)}: no degradation at this budget."

    skips_helped = lower(r_d, p_d)
    head = f"At {deep} layers the residual net {ended(r_d)}, its plain twin {ended(p_d)}: "
    if skips_helped is None:
        second = head + f"{tie(r_d, p_d)}."
    elif skips_helped:
        second = head + f"the skips helped{by(r_d, p_d)}."
    else:
        second = (
            head + f"the skips did not help at this budget (the residual net ended higher{by(r_d, p_d)})."
        )

    deeper_better = lower(r_d, r_s)
    head = f"With skips, {deep} layers {ended(r_d)} and {shallow} layers {ended(r_s)}: "
    if deeper_better is None:
        third = head + f"{tie(r_d, r_s)}."
    elif deeper_better:
        third = head + f"the deeper ResNet trained better{by(r_d, r_s)}, as in the paper."
    else:
        third = head + f"the deeper ResNet trained worse{by(r_d, r_s)}, unlike the paper."

    result = Degradation(shallow, deep, degraded, skips_helped, deeper_better, "")
    total = f"{result.as_in_paper} of the paper's 3 orderings appeared" + (
        " (a tie counts as not appearing)." if None in (degraded, skips_helped, deeper_better) else "."
    )
    text = "\n".join(["Verdict: " + first, second, third, total])
    return result._replace(text=text)


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
    size = check_input_size(input_size, example=(4, 3, 64, 64))
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
