"""Effect against spread: the one rule every chapter's verdict is decided by.

An experiment runs each arm (ReLU and tanh, with and without BatchNorm, ...) under several seeds.
:func:`compare` sets the two arms' per-seed numbers side by side and says whether the difference is
clear: **every seed of one arm beats every seed of the other** (their ranges do not overlap) **and the
difference of the means is larger than the seed-to-seed spread** (the widest range of either arm).
Otherwise the verdict is "no clear difference": with three brief runs a smaller effect cannot be told
from the luck of the draw. A seed that never reached its target (steps to an error rate) counts as
``math.inf``: worse than any number, shown as "did not reach".

Differences are measured as a ratio of means (``scale="ratio"``, for steps and times: "2.3x fewer
steps") or a difference of means (``scale="difference"``, for accuracies and losses: "+4.1 points").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Comparison", "compare"]

SCALES = ("difference", "ratio")


@dataclass(frozen=True)
class Comparison:
    """Two arms' per-seed numbers and what they say."""

    a: str
    b: str
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]
    winner: str | None  # the clearly better arm, or None: no clear difference
    effect: (
        float  # a against b: mean(a) / mean(b) (ratio) or mean(a) - mean(b); inf where an arm never got there
    )
    spread: float  # the widest seed-to-seed range of either arm, on the same scale as the effect
    text: str

    @property
    def clear(self) -> bool:
        return self.winner is not None


def _check(name: str, values: Sequence[float], higher_is_better: bool) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if len(values) < 2:
        raise ValueError(f"{name} needs at least 2 seeds to measure a spread, got {len(values)}")
    if any(math.isnan(v) or v == -math.inf or (higher_is_better and math.isinf(v)) for v in values):
        raise ValueError(
            f"{name}'s values must be numbers (inf: never reached, where lower is better), got {values}"
        )
    return values


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _range(values: Sequence[float], scale: str) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return 1.0 if scale == "ratio" else 0.0
    return max(finite) / min(finite) if scale == "ratio" else max(finite) - min(finite)


def compare(
    a: str,
    a_values: Sequence[float],
    b: str,
    b_values: Sequence[float],
    *,
    higher_is_better: bool = True,
    scale: str = "difference",
    unit: str = "",
    what: str = "",
) -> Comparison:
    """Is arm ``a`` clearly better or worse than arm ``b``, given each one's per-seed numbers?

    ``higher_is_better``: accuracies (True) or steps, losses and errors (False; ``inf`` marks a seed
    that never reached its target). ``scale``: "ratio" (positive numbers: steps, seconds) or
    "difference". ``unit`` follows a difference ("points", "nats"); ``what`` names the quantity in the
    text ("steps to 25 % training error"). Seeds are paired by position when both arms have as many.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    av, bv = _check(a, a_values, higher_is_better), _check(b, b_values, higher_is_better)
    if scale == "ratio" and min(av + bv) <= 0:
        raise ValueError("scale='ratio' compares positive numbers (steps, seconds); use scale='difference'")
    sign = 1.0 if higher_is_better else -1.0
    worst, best = (min, max) if higher_is_better else (max, min)
    ma, mb = _mean(av), _mean(bv)
    with_inf = math.isinf(ma) or math.isinf(mb)
    if scale == "ratio":
        effect = math.nan if (math.isinf(ma) and math.isinf(mb)) else ma / mb
        size = math.inf if with_inf else max(effect, 1 / effect)
    else:
        effect = math.nan if (math.isinf(ma) and math.isinf(mb)) else ma - mb
        size = math.inf if with_inf else abs(effect)
    spread = max(_range(av, scale), _range(bv, scale))
    beyond = size > spread
    winner = None
    if beyond and sign * worst(av) > sign * best(bv):
        winner = a
    elif beyond and sign * worst(bv) > sign * best(av):
        winner = b
    text = _text(a, av, b, bv, winner, scale=scale, unit=unit, what=what, higher_is_better=higher_is_better)
    return Comparison(a, b, av, bv, winner, effect, spread, text)


def _show(v: float, scale: str, unit: str) -> str:
    if not math.isfinite(v):
        return "did not reach"
    if scale == "ratio":
        return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
    return f"{v:.1f}"


def _text(a, av, b, bv, winner, *, scale, unit, what, higher_is_better) -> str:
    n = f"{len(av)} seeds" if len(av) == len(bv) else f"{len(av)} and {len(bv)} seeds"
    seeds = f"{a}: {', '.join(_show(v, scale, unit) for v in av)}; {b}: {', '.join(_show(v, scale, unit) for v in bv)}"
    of = f" in {what}" if what else ""
    if winner is None:
        return (
            f"no clear difference{of} between {a} and {b}: the seeds' ranges overlap or the gap is "
            f"inside the spread ({n}; {seeds})"
        )
    loser, wv, lv = (b, av, bv) if winner == a else (a, bv, av)
    if any(math.isinf(v) for v in lv):
        missed = sum(math.isinf(v) for v in lv)
        return (
            f"{winner} clearly better{of}: {loser} did not get there in {missed} of {len(lv)} seeds ({seeds})"
        )
    if scale == "ratio":
        word = "higher" if higher_is_better else "faster"
        factor = _mean(wv) / _mean(lv) if higher_is_better else _mean(lv) / _mean(wv)
        paired = ""
        if len(wv) == len(lv):
            r = sorted(w / l if higher_is_better else l / w for w, l in zip(wv, lv, strict=True))
            paired = f", per seed {r[0]:.2g}-{r[-1]:.2g}x"
        return f"{winner} {factor:.2g}x {word}{of} than {loser} ({n}{paired}; {seeds})"
    gap = abs(_mean(wv) - _mean(lv))
    word = "ahead" if higher_is_better else "lower"
    return f"{winner} {word} by {gap:.1f}{' ' + unit if unit else ''}{of}, every seed beyond the other's ({n}; {seeds})"
