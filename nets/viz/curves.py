"""Training curves: loss and accuracy per epoch, for one run or several overlaid."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..data import not_imagenette
from .style import SMALL_PT, STANDIN_COLOR, new_figure

_LOSS_SERIES = (("train_loss", "train", "-"), ("val_loss", "val", "--"))
_ACC_SERIES = (("train_acc", "train", "-"), ("val_top1", "val top-1", "--"), ("val_top5", "val top-5", ":"))


@dataclass(frozen=True)
class _Run:
    label: str
    epochs: list[Mapping[str, Any]]
    config: Mapping[str, Any]

    @property
    def is_standin(self) -> bool:
        return bool(self.config.get("is_standin", False))


def _read_metrics(path: str | os.PathLike) -> Any:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no metrics file at {path}; pass a run's metrics.json (or its folder), a history object with "
            ".epochs, or a list of per-epoch dicts"
        )
    with path.open() as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not a metrics file: it is not valid JSON ({err.msg}, line {err.lineno}); pass a "
                "run's metrics.json (or its folder), a history object with .epochs, or a list of per-epoch dicts"
            ) from err


def _history_parts(history: Any) -> tuple[Any, Mapping[str, Any]]:
    """(epochs, config) from any of the accepted history forms."""
    if isinstance(history, (str, os.PathLike)):
        history = _read_metrics(history)
    if isinstance(history, Mapping):
        if "epochs" not in history:
            raise ValueError(f"a metrics dict needs an 'epochs' list; got keys {sorted(history)}")
        return history["epochs"], history.get("config") or {}
    if isinstance(history, (list, tuple)):
        return history, {}
    if hasattr(history, "epochs"):
        config = getattr(history, "config", None) or {}
        if not isinstance(config, Mapping):
            config = vars(config) if hasattr(config, "__dict__") else {}
        return history.epochs, config
    raise TypeError(
        f"can't read training history from a {type(history).__name__}; pass an object with .epochs, a list of "
        "per-epoch dicts, a metrics.json path, or a dict label -> history to compare runs"
    )


def _as_run(label: str | None, history: Any) -> _Run:
    epochs, config = _history_parts(history)
    label = label or str(config.get("model") or config.get("name") or "run")
    if not isinstance(epochs, (list, tuple)) or not epochs:
        raise ValueError(f"history {label!r} has no epochs yet; train at least one epoch before plotting")
    for record in epochs:
        if not isinstance(record, Mapping) or "epoch" not in record:
            raise ValueError(
                f"history {label!r}: every epoch must be a dict with an 'epoch' key; got {record!r}"
            )
        for key, _, _ in _ACC_SERIES:
            value = record.get(key)
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    f"history {label!r}, epoch {record['epoch']}: {key}={value} is not a fraction in [0, 1]. "
                    "Accuracies are stored as fractions (0.75, not 75)."
                )
    return _Run(label, list(epochs), config)


def _as_runs(history: Any) -> list[_Run]:
    """One run, or several from a dict label -> history (a dict with an 'epochs' key is one run)."""
    if isinstance(history, Mapping) and "epochs" not in history:
        if not history:
            raise ValueError(
                "training_curves got an empty dict; pass {label: history, ...} with at least one run"
            )
        return [_as_run(str(label), h) for label, h in history.items()]
    return [_as_run(None, history)]


def _series(run: _Run, key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) for one metric, skipping epochs that did not record it."""
    points = [(float(r["epoch"]), float(r[key])) for r in run.epochs if r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def training_curves(history: Any, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train vs val (top-1 and top-5), for one run or several overlaid.

    ``history`` is an object with ``.epochs`` (and optionally ``.config``), a list of per-epoch dicts, a
    path to a ``metrics.json`` (or its run folder), or a dict ``{label: history}`` to compare runs, e.g.
    ``training_curves({"relu": h1, "tanh": h2})``. Per-epoch keys: epoch, train_loss, train_acc,
    val_loss, val_top1, val_top5 (accuracies as fractions, plotted in %); missing ones are skipped.
    Runs whose config says ``is_standin`` (any data but Imagenette) carry their source in the legend and
    the title, so a curve trained on Fashion-MNIST or the stand-in is never mistaken for an ImageNet result.
    """
    runs = _as_runs(history)
    single = len(runs) == 1
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    with new_figure(8.0, 3.6) as fig:
        loss_ax, acc_ax = fig.subplots(1, 2)
        for index, run in enumerate(runs):
            color = colors[index % len(colors)]
            source = run.config.get("data") or "standin"
            if run.is_standin:  # "(fashion-mnist)" or "(stand-in)"
                name = f"{run.label} ({'stand-in' if source == 'standin' else source})"
            else:
                name = run.label
            for ax, series, scale in ((loss_ax, _LOSS_SERIES, 1.0), (acc_ax, _ACC_SERIES, 100.0)):
                for key, what, style in series:
                    xs, ys = _series(run, key)
                    if xs:
                        label = what if single else f"{name}: {what}"
                        ax.plot(xs, [y * scale for y in ys], style, color=color, marker=".", label=label)
        loss_ax.set(title="loss", xlabel="epoch", ylabel="cross-entropy loss (nats)")
        acc_ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy (%)")
        for ax in (loss_ax, acc_ax):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=SMALL_PT)
        default = (
            f"{runs[0].label}: training curves"
            if single
            else "training curves: " + " vs ".join(r.label for r in runs)
        )
        heading = title or default
        others = [r for r in runs if r.is_standin]
        if others:  # names the source, e.g. "FASHION-MNIST (not Imagenette) -- ..."
            heading = f"{not_imagenette(others[0].config.get('data'))} -- {heading}"
        fig.suptitle(
            heading, fontsize=11, color=STANDIN_COLOR if any(r.is_standin for r in runs) else "black"
        )
        fig.tight_layout()
    return fig
