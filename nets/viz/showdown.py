"""The showdown's charts: every contender on one picture, coloured by its family.

They draw the table ``nets.lab.showdown.compare`` returns (one row per model, with ``family``, ``year``,
``params``, ``gmacs``, ``ref_top1``...) and the histories of its race, and return closed ``BookFigure``
charts: end a cell with the call, or return them from a widget's render. The names they share live here
too: ``label`` (the name a reader knows), ``FAMILY_COLORS`` and ``METRICS``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..data import not_imagenette
from ..registry import entry
from .style import SMALL_PT, STANDIN_COLOR, new_figure

if TYPE_CHECKING:
    from ..train import History

FAMILY_COLORS = {
    "alexnet": "tab:brown",
    "vgg": "tab:orange",
    "resnet": "tab:blue",
    "inception": "tab:green",
    "efficientnet": "tab:purple",
}
_FAMILY_NAMES = {
    "alexnet": "AlexNet",
    "vgg": "VGG",
    "resnet": "ResNet",
    "inception": "GoogLeNet / Inception",
    "efficientnet": "EfficientNet",
}
# metric name (as a reader picks it) -> (frame column, axis label, scale, higher is better)
METRICS = {
    "parameters": ("params", "parameters (millions)", 1e-6, False),
    "GMACs": ("gmacs", "GMACs per image at the model's own crop", 1.0, False),
    "CPU images/s": ("cpu_ips", "CPU inference images/s", 1.0, True),
    "GPU images/s": ("gpu_ips", "GPU inference images/s", 1.0, True),
    "ImageNet top-1": ("ref_top1", "ImageNet top-1 % (reference weights, single crop)", 1.0, True),
    "brief-training top-1": ("race_top1", "val top-1 % after brief training", 1.0, True),
}
_CLASSES = 10  # Imagenette, Fashion-MNIST and the stand-in all have ten classes


def label(name: str) -> str:
    """The name a reader knows (the registry's display name): ``"resnet50"`` -> ``"ResNet-50"``."""
    try:
        return entry(name).display
    except ValueError:
        return name


# --------------------------------------------------------------------------------------------------
# Reading the table
# --------------------------------------------------------------------------------------------------


def pareto_front(frame, x: str = "gmacs", y: str = "ref_top1") -> list[str]:
    """The models no other model beats on both counts (less ``x`` and more ``y``), cheapest first."""
    rows = frame[[x, y]].dropna().sort_values([x, y], ascending=[True, False])
    front, best = [], -math.inf
    for name, (_, acc) in rows.iterrows():
        if acc > best:
            front.append(name)
            best = acc
    return front


def best_under(frame, gmacs: float, x: str = "gmacs", y: str = "ref_top1") -> str | None:
    """The most accurate model that costs at most ``gmacs`` (None if none fits the budget)."""
    fits = frame[frame[x] <= gmacs].dropna(subset=[y])
    return None if fits.empty else str(fits[y].idxmax())


# --------------------------------------------------------------------------------------------------
# The charts
# --------------------------------------------------------------------------------------------------


def _family_legend(frame, ax: plt.Axes, **kwargs):
    handles = []
    for family in FAMILY_COLORS:
        years = frame.loc[frame["family"] == family, "year"]
        if len(years):
            span = f"{years.min()}" if years.min() == years.max() else f"{years.min()}–{years.max()}"
            handles.append(Line2D([], [], marker="o", linestyle="", color=FAMILY_COLORS[family], alpha=0.6,
                                  markersize=7, label=f"{_FAMILY_NAMES[family]} ({span})"))  # fmt: skip
    return ax.legend(handles=handles, fontsize=SMALL_PT, **kwargs)


def _bubble_sizes(params: Iterable[float]) -> np.ndarray:
    return np.asarray(list(params), dtype=float) / 1e6 * 6.0  # marker area in pt²: 6 per million parameters


def _place_labels(ax: plt.Axes, points: Sequence[tuple[float, float, float]], texts: Sequence[str],
                  avoid: Sequence = (), **style) -> list:  # fmt: skip
    """Label each (x, y, radius in points) beside its marker where the label hits no earlier label.

    Tries above, below, right and left in turn (``avoid``: artists such as a legend to keep clear of);
    the layout must be final (call after ``tight_layout``). Greedy, which is plenty for ten labels.
    Returns the annotations, in the order of ``texts``.
    """
    notes = []
    taken = [a.get_window_extent() for a in avoid]
    frame = ax.get_window_extent()
    for (x, y, radius), text in zip(points, texts, strict=True):
        gap = radius + 2
        tries = [((0, gap), "center", "bottom"), ((0, -gap), "center", "top"),
                 ((gap, 0), "left", "center"), ((-gap, 0), "right", "center")]  # fmt: skip
        for i, (offset, ha, va) in enumerate(tries):
            note = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va,
                               zorder=4, **style)  # fmt: skip
            box = note.get_window_extent()
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            clear = inside and not any(box.expanded(1.05, 1.15).overlaps(t) for t in taken)
            if clear or i == len(tries) - 1:  # the last try stays, clear or not
                taken.append(box)
                notes.append(note)
                break
            note.remove()
    return notes


def bubble_chart(frame, *, y: str = "ref_top1", title: str | None = None) -> Figure:
    """Top-1 accuracy against GMACs (log scale) at each model's own crop; bubble area = parameters.

    Colours are the families (with their years); every bubble is labelled with the model and its year.
    """
    rows = frame.dropna(subset=["gmacs", y]).sort_values("gmacs")
    sizes = _bubble_sizes(rows["params"])
    with new_figure(7.0, 4.6) as fig:
        ax = fig.subplots()
        ax.scatter(rows["gmacs"], rows[y], s=sizes, alpha=0.45, edgecolors="black", linewidths=0.6,
                   c=[FAMILY_COLORS[f] for f in rows["family"]], zorder=2)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlim(rows["gmacs"].min() / 2.5, rows["gmacs"].max() * 2.5)
        ax.set_ylim(rows[y].min() - 6, rows[y].max() + 4)
        ax.set(xlabel="GMACs per image at the model's own crop (log scale)",
               ylabel=METRICS["ImageNet top-1"][1] if y == "ref_top1" else y)  # fmt: skip
        ax.set_title(title or "ImageNet accuracy against compute (bubble area = parameters)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        family_key = _family_legend(frame, ax, loc="lower right")
        size_key = [  # empty bubbles say how big a bubble is
            Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="gray",
                   markersize=math.sqrt(_bubble_sizes([m * 1e6])[0]), label=f"{m} M parameters")
            for m in (10, 50, 150)
        ]  # fmt: skip
        ax.add_artist(family_key)
        sizes_legend = ax.legend(
            handles=size_key, fontsize=SMALL_PT, loc="upper left", labelspacing=1.5, borderpad=1.0
        )
        fig.tight_layout()
        points = [
            (r["gmacs"], r[y], math.sqrt(s / math.pi))
            for (_, r), s in zip(rows.iterrows(), sizes, strict=True)
        ]
        texts = [f"{label(n)} ({r['year']})" for n, r in rows.iterrows()]
        _place_labels(ax, points, texts, avoid=[family_key, sizes_legend], fontsize=SMALL_PT)
    return fig


def metric_chart(frame, metric: str) -> Figure:
    """One metric for every contender as a sorted bar chart (best at the top), coloured by family.

    The race's column (``race_top1``, added by the caller) is marked as not Imagenette when
    ``frame.attrs["race_standin"]`` says so (naming ``frame.attrs["race_source"]``, e.g. Fashion-MNIST).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    column, axis, scale, higher_better = METRICS[metric]
    if column not in frame.columns:
        raise ValueError(f"the frame has no {column!r} column: was {metric!r} measured? (see compare)")
    values = (frame[column] * scale).dropna().sort_values(ascending=not higher_better)[::-1]
    missing = [label(n) for n in frame.index if n not in values.index]
    note = f" (not measured: {', '.join(missing)})" if missing else ""
    a = frame.attrs
    if column == "cpu_ips":
        note = f" at {a.get('cpu_size')} px, batch {a.get('batch')}, {a.get('cpu_threads')} thread(s)" + note
    if column == "gpu_ips":
        note = f" at {a.get('gpu_size')} px, batch {a.get('gpu_batch')}, fp16" + note
    title = f"{metric}: {'higher' if higher_better else 'lower'} is better (best at the top)"
    standin = column == "race_top1" and a.get("race_standin", False)  # set by whoever adds the race column
    if standin:
        title = f"{not_imagenette(a.get('race_source'))} -- {title}"
    with new_figure(6.0, 0.28 * len(values) + 1.1) as fig:
        ax = fig.subplots()
        ax.barh([label(n) for n in values.index], values,
                color=[FAMILY_COLORS[frame.loc[n, "family"]] for n in values.index], alpha=0.8)  # fmt: skip
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.3g}", va="center", fontsize=SMALL_PT)
        ax.set_xlabel(axis + note, fontsize=8)
        ax.set_title(title, fontsize=10, color=STANDIN_COLOR if standin else "black")
        ax.tick_params(labelsize=8)
        ax.set_xlim(0, values.max() * 1.18)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
    return fig


def budget_chart(frame, gmacs: float) -> Figure:
    """Which contender is the most accurate for at most ``gmacs`` GMACs per image? (shaded: over budget)."""
    rows = frame.dropna(subset=["gmacs", "ref_top1"])
    best = best_under(rows, gmacs)
    with new_figure(5.6, 3.2) as fig:
        ax = fig.subplots()
        fits = rows["gmacs"] <= gmacs
        ax.scatter(rows["gmacs"], rows["ref_top1"], s=40, c=[FAMILY_COLORS[f] for f in rows["family"]],
                   alpha=np.where(fits, 0.9, 0.25), edgecolors="black", linewidths=0.5, zorder=2)  # fmt: skip
        lo, hi = rows["gmacs"].min() / 2, rows["gmacs"].max() * 2
        ax.axvspan(gmacs, hi, color="gray", alpha=0.15, zorder=0)
        ax.axvline(gmacs, color="black", linewidth=1, linestyle="--")
        if best is not None:
            ax.scatter([rows.loc[best, "gmacs"]], [rows.loc[best, "ref_top1"]], s=220, marker="*",
                       color="gold", edgecolors="black", linewidths=0.7, zorder=3)  # fmt: skip
            title = f"Budget {gmacs:g} GMACs: best is {label(best)}, {rows.loc[best, 'ref_top1']:.1f}% top-1"
        else:
            title = f"Budget {gmacs:g} GMACs: no contender fits"
        ax.set(xscale="log", xlim=(lo, hi), xlabel="GMACs per image at the model's own crop (log scale)",
               ylabel="ImageNet top-1 % (reference)")  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.set_ylim(rows["ref_top1"].min() - 4, rows["ref_top1"].max() + 4)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        ordered = rows.sort_values("gmacs")
        points = [(r["gmacs"], r["ref_top1"], 4.0) for _, r in ordered.iterrows()]
        notes = _place_labels(ax, points, [label(n) for n in ordered.index], fontsize=SMALL_PT)
        for name, note in zip(ordered.index, notes, strict=True):
            note.set_alpha(1.0 if fits[name] else 0.4)
    return fig


def seed_runs(histories: Mapping[str, History | Sequence[History]]) -> dict[str, list[History]]:
    """A race's histories as ``{name: [History of each seed]}``, whether given per seed or one per name."""
    out = {}
    for name, runs in histories.items():
        runs = [runs] if hasattr(runs, "final") else list(runs)
        if not runs:
            raise ValueError(f"histories[{name!r}] holds no run")
        out[name] = runs
    return out


def _race_curves(ax: plt.Axes, histories: Mapping[str, list[History]], classes: int) -> None:
    """Each seed's validation top-1 epoch by epoch (a thin line per seed), chance marked; line styles tell
    members of a family apart."""
    members: dict[str, int] = {}
    for name, runs in histories.items():
        family = entry(name).family
        style = ("-", "--", ":", "-.")[members.get(family, 0) % 4]
        members[family] = members.get(family, 0) + 1
        for i, h in enumerate(runs):
            ax.plot([e["epoch"] for e in h.epochs], [100 * e["val_top1"] for e in h.epochs], style, marker="o",
                    markersize=2.5, linewidth=1, alpha=0.7, color=FAMILY_COLORS.get(family, "black"),
                    label=f"{label(name)} ({len(runs)} seeds)" if i == 0 else None)  # fmt: skip
    ax.axhline(100 / classes, color="gray", linestyle=":", linewidth=1)
    ax.set(
        xlabel="epoch",
        ylabel="val top-1 (%)",
        title="validation accuracy per epoch, every seed",
        ylim=(0, 100),
    )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=SMALL_PT, ncol=2, loc="best")
    ax.grid(alpha=0.3)


def _race_seeds(ax: plt.Axes, histories: Mapping[str, list[History]], classes: int) -> None:
    """Where each entrant ended: a dot per seed and a bar at their mean, best mean at the top, chance marked."""
    top1 = {name: [100 * h.final["val_top1"] for h in runs] for name, runs in histories.items()}
    mean = {name: sum(v) / len(v) for name, v in top1.items()}
    order = sorted(mean, key=mean.get)
    for i, name in enumerate(order):
        color = FAMILY_COLORS.get(entry(name).family, "gray")
        ax.scatter(top1[name], [i] * len(top1[name]), s=22, color=color, alpha=0.8, zorder=3)
        ax.vlines(mean[name], i - 0.3, i + 0.3, color=color, linewidth=2)
    ax.set_yticks(range(len(order)), [f"{label(n)} ({len(top1[n])} seeds)" for n in order])
    ax.axvline(100 / classes, color="black", linestyle=":", linewidth=1)
    ax.text(100 / classes, len(order) - 0.4, f" chance (1 in {classes})", fontsize=SMALL_PT, va="bottom")
    epochs = {len(runs[0]) for runs in histories.values()}
    ax.set(xlabel=f"val top-1 (%) after {'/'.join(map(str, sorted(epochs)))} epoch(s)", xlim=(0, 100),
           ylim=(-0.6, len(order) + 0.2))  # fmt: skip
    ax.set_title("where each ended: a dot per seed, a bar at the mean", fontsize=9)
    ax.tick_params(labelsize=SMALL_PT)
    ax.grid(alpha=0.3, axis="x")


def race_chart(histories: Mapping[str, History | Sequence[History]]) -> Figure:
    """Where every seed of each entrant ended (validation top-1, a bar at each entrant's mean, chance
    marked) and, for runs of more than one epoch, every seed's validation top-1 epoch by epoch.

    ``histories``: ``race``'s ``{name: [History of each seed]}`` (one History per name is one seed)."""
    if not histories:
        raise ValueError("race_chart needs at least one trained contender")
    runs = seed_runs(histories)
    several_epochs = max(len(h) for rs in runs.values() for h in rs) > 1
    some = next(iter(runs.values()))[0]
    classes = len(some.config.get("classes", [])) or _CLASSES
    width, height = (8.0, 3.4) if several_epochs else (5.5, 0.3 * len(runs) + 1.4)
    with new_figure(width, height) as fig:
        if several_epochs:
            curves, ends = fig.subplots(ncols=2, gridspec_kw={"width_ratios": [3, 2]})
            _race_curves(curves, runs, classes)
        else:
            ends = fig.subplots()
        _race_seeds(ends, runs, classes)
        heading = "The race: one recipe, one budget"
        standin = [h.config.get("data") for rs in runs.values() for h in rs if h.config.get("is_standin")]
        if standin:
            heading = f"{not_imagenette(standin[0])} -- {heading}"
        fig.suptitle(heading, fontsize=10, color=STANDIN_COLOR if standin else "black")
        fig.tight_layout()
    return fig
