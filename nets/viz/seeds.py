"""Experiments with several seeds: every seed shown, never only a mean.

- ``seed_points``: one column per arm, a dot per seed and a bar at the mean; a seed that never
  reached its target is drawn as an open marker above the others, labelled "did not reach".
- ``seed_bands``: a curve per arm over some x (targets, depths, epochs): a thin line per seed, the
  mean bold, and the band between the lowest and highest seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from .style import SMALL_PT, new_figure

__all__ = ["seed_bands", "seed_points"]

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:gray")


def _arms(arms: Mapping[str, Sequence[float]], what: str) -> dict[str, list[float]]:
    if not isinstance(arms, Mapping) or not arms:
        raise ValueError(f"{what} must be a non-empty mapping of arm name -> per-seed numbers, got {arms!r}")
    out = {}
    for name, values in arms.items():
        values = [float(v) for v in values]
        if not values or any(math.isnan(v) for v in values):
            raise ValueError(
                f"{what}[{name!r}] must hold at least one number per seed (no NaN), got {values}"
            )
        out[str(name)] = values
    return out


def seed_points(arms: Mapping[str, Sequence[float]], *, ylabel: str, title: str, log: bool = False) -> Figure:
    """Each arm's per-seed numbers as dots (one per seed) with a bar at the mean of the seeds."""
    arms = _arms(arms, "arms")
    finite = [v for values in arms.values() for v in values if math.isfinite(v)]
    top = max(finite) if finite else 1.0
    above = top * (1.6 if log else 1.0) + (0 if log else 0.12 * (top - min(finite, default=0.0)) + 1e-9)
    with new_figure(max(3.2, 1.3 * len(arms) + 1.6), 3.0) as fig:
        ax = fig.add_subplot()
        for i, values in enumerate(arms.values()):
            color = _COLORS[i % len(_COLORS)]
            xs = [i + 0.08 * (k - (len(values) - 1) / 2) for k in range(len(values))]
            reached = [(x, v) for x, v in zip(xs, values, strict=True) if math.isfinite(v)]
            missed = [x for x, v in zip(xs, values, strict=True) if not math.isfinite(v)]
            if reached:
                ax.scatter(*zip(*reached, strict=True), color=color, s=28, zorder=3, label=None)
            if missed:
                ax.scatter(missed, [above] * len(missed), facecolors="none", edgecolors=color, s=34, zorder=3)
                ax.annotate("did not reach", (i, above), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=SMALL_PT)  # fmt: skip
            if reached and not missed:
                mean = sum(values) / len(values)
                ax.hlines(mean, i - 0.25, i + 0.25, color=color, linewidth=2)
        ax.set_xticks(range(len(arms)), [f"{n}\n({len(v)} seeds)" for n, v in arms.items()])
        ax.set_xlim(-0.6, len(arms) - 0.4)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
    return fig


def seed_bands(
    x: Sequence[float],
    arms: Mapping[str, Sequence[Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    log: bool = False,
) -> Figure:
    """Per arm: one thin line per seed over ``x``, their mean bold, the band from lowest to highest.

    ``arms[name]`` is a list of seeds, each a list of ``len(x)`` numbers (``inf`` where that seed never
    got there: the line stops).
    """
    x = [float(v) for v in x]
    if not x:
        raise ValueError("x must hold at least one value")
    with new_figure(5.6, 3.2) as fig:
        ax = fig.add_subplot()
        for i, (name, seeds) in enumerate(arms.items()):
            seeds = [[float(v) for v in s] for s in seeds]
            if not seeds or any(len(s) != len(x) for s in seeds):
                raise ValueError(
                    f"arms[{name!r}] must be a list of seeds, each with {len(x)} values (one per x)"
                )
            color = _COLORS[i % len(_COLORS)]
            for s in seeds:
                ax.plot(
                    x, [v if math.isfinite(v) else math.nan for v in s], color=color, linewidth=0.8, alpha=0.5
                )
            columns = list(zip(*seeds, strict=True))
            ok = [all(math.isfinite(v) for v in c) for c in columns]
            xs = [xv for xv, good in zip(x, ok, strict=True) if good]
            lo = [min(c) for c, good in zip(columns, ok, strict=True) if good]
            hi = [max(c) for c, good in zip(columns, ok, strict=True) if good]
            mean = [sum(c) / len(c) for c, good in zip(columns, ok, strict=True) if good]
            ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
            ax.plot(
                xs, mean, color=color, linewidth=2, label=f"{name} ({len(seeds)} seeds: mean, each, range)"
            )
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_PT + 1, frameon=False)
        fig.tight_layout()
    return fig
