"""What the ResNet chapter measures: the degradation experiment's verdict, and the gradient at initialisation.

- :func:`degradation_verdict`: what the chapter's plain and residual runs at two depths, several seeds
  each, showed: is the deeper plain net worse than the shallower one, and does the residual net fix
  that? Each question is decided by ``nets.lab.verdicts.compare``, the effect against the seeds' spread.
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
from .verdicts import Comparison, compare

__all__ = ["Degradation", "conv_gradient_norms", "degradation_verdict"]


class Degradation(NamedTuple):
    """What :func:`degradation_verdict` read from the runs: its two comparisons and the sentences."""

    shallow: int  # depth of the shallower twins
    deep: int  # depth of the deeper twins
    depth: Comparison  # without skips: the deeper plain net against the shallower one
    skips: Comparison  # at the deeper depth: the residual net against its plain twin
    text: str

    @property
    def degraded(self) -> bool | None:
        """True: the deeper plain net clearly trained worse; False: clearly better; None: no clear difference."""
        return None if self.depth.winner is None else self.depth.winner == self.depth.b

    @property
    def skips_helped(self) -> bool | None:
        """True: the deeper residual net clearly trained better than its plain twin; False: clearly worse."""
        return None if self.skips.winner is None else self.skips.winner == self.skips.a


def _seeds(kind: str, depth: int, values) -> list[float]:
    """One arm's per-seed numbers, a run that diverged (NaN or inf) as ``inf``: worse than any other."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{kind}[{depth}] must be a list of per-seed numbers (one per seed), got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise TypeError(
            f"{kind}[{depth}] must hold numbers (a training error or loss per seed), got {values!r}"
        )
    return [float(v) if math.isfinite(v) else math.inf for v in values]


def degradation_verdict(
    plain: Mapping[int, Sequence[float]],
    residual: Mapping[int, Sequence[float]],
    *,
    what: str = "final training error (%)",
    unit: str = "points",
) -> Degradation:
    """The verdict on plain vs residual nets at two depths, from each seed's final training error.

    ``plain`` maps two depths (e.g. ``{8: [...], 32: [...]}``) to the per-seed numbers of the plain
    nets, ``residual`` the deeper of them (at least) to the residual nets'; lower is better (a training
    error or loss: ``what`` and ``unit`` name it). A run that diverged (NaN or inf) never got there.
    Two questions, each decided by :func:`nets.lab.verdicts.compare` (every seed beyond every seed of
    the other arm, and the gap of the means beyond the seed-to-seed spread): is the deeper plain net
    worse than the shallower one (degradation), and is the deeper residual net better than its plain
    twin (the skips help)?
    """
    depths = sorted(plain)
    if len(depths) != 2 or depths[1] not in residual:
        raise ValueError(
            "plain must map two depths to per-seed training errors and residual the deeper one too, e.g. "
            f"plain={{8: [20.1, 21.0, 20.5], 32: [...]}}, residual={{32: [...]}}; got depths {depths} "
            f"and {sorted(residual)}"
        )
    shallow, deep = depths
    p_s, p_d = _seeds("plain", shallow, plain[shallow]), _seeds("plain", deep, plain[deep])
    r_d = _seeds("residual", deep, residual[deep])
    how = dict(higher_is_better=False, unit=unit, what=what)
    depth = compare(f"plain{deep}", p_d, f"plain{shallow}", p_s, **how)
    skips = compare(f"resnet{deep}", r_d, f"plain{deep}", p_d, **how)
    result = Degradation(shallow, deep, depth, skips, "")
    first = {
        True: "the deeper plain net trained worse: degradation, beyond the seed-to-seed spread.",
        False: "the deeper plain net trained better: no degradation in these runs.",
        None: "no clear degradation in these runs.",
    }[result.degraded]
    second = {
        True: f"the skips helped: the residual {deep}-layer net trained clearly better than its plain twin.",
        False: f"the skips did not help here: the residual {deep}-layer net trained worse than its plain twin.",
        None: "no clear effect of the skips in these runs.",
    }[result.skips_helped]
    n = max(len(p_s), len(p_d), len(r_d))
    text = (
        f"Verdict: in these brief runs ({n} seeds per network), without skips, {deep} against {shallow} "
        f"layers: {depth.text}. So {first}\nWith skips at {deep} layers: {skips.text}. So {second}"
    )
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
