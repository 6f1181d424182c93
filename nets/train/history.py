"""What a run leaves behind: ``History`` (one dict per epoch, the keys ``EPOCH_KEYS``, plus the run's
configuration) and ``TrainingDiverged``, the error a NaN or infinite loss ends a run with."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_write

__all__ = ["EPOCH_KEYS", "History", "TrainingDiverged"]

EPOCH_KEYS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_top1",
    "val_top5",
    "images_per_s",
    "seconds",
)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint (if any) is left as it was."""

    def __init__(self, epoch: int, step: int, loss: float, checkpoint: Path | None) -> None:
        self.epoch, self.step, self.loss, self.checkpoint = epoch, step, loss, checkpoint
        where = (
            f"the last good checkpoint {checkpoint} is untouched (resume=True continues from it)"
            if checkpoint is not None and checkpoint.exists()
            else "no checkpoint was written"
        )
        super().__init__(
            f"training diverged: the loss is {loss} at epoch {epoch}, step {step}. "
            f"Lower the learning rate or turn off fp16; {where}."
        )


@dataclass
class History:
    """Per-epoch metrics of one run, plus its configuration.

    ``epochs`` is a list of dicts with exactly the keys ``EPOCH_KEYS``; accuracies are fractions in
    [0, 1], ``epoch`` counts from 1. ``config`` records model, data source, ``is_standin``, device,
    image size and every training setting, so a saved run explains itself.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's metrics."""
        if not self.epochs:
            raise ValueError("this History has no epochs yet: train with fit() first")
        return self.epochs[-1]

    @property
    def best_top1(self) -> float:
        """The best validation top-1 accuracy (a fraction) over all epochs."""
        if not self.epochs:
            raise ValueError("this History has no epochs yet: train with fit() first")
        return max(e["val_top1"] for e in self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": [dict(e) for e in self.epochs], "config": dict(self.config)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        if not isinstance(d, dict) or not isinstance(d.get("epochs"), list):
            raise ValueError("not a training history: expected a dict with an 'epochs' list")
        return cls(epochs=[dict(e) for e in d["epochs"]], config=dict(d.get("config", {})))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history as JSON (atomically: a crash never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=1).encode())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by ``save`` (a run's ``metrics.json``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no training history at {path}")
        return cls.from_dict(json.loads(path.read_text()))

    def _repr_html_(self) -> str:
        """In a notebook: one row per epoch, accuracies in %, titled with model and data."""
        import html

        title = f"{self.config.get('model', 'model')} on {self.config.get('data', 'data')}"
        if self.config.get("is_standin"):
            title += " (not Imagenette numbers)"
        columns = {  # header -> how to show the epoch's value
            "epoch": lambda e: str(e["epoch"]),
            "train loss": lambda e: f"{e['train_loss']:.3f}",
            "train acc": lambda e: f"{e['train_acc']:.1%}",
            "val loss": lambda e: f"{e['val_loss']:.3f}",
            "val top-1": lambda e: f"{e['val_top1']:.1%}",
            "val top-5": lambda e: f"{e['val_top5']:.1%}",
            "images/s": lambda e: f"{e['images_per_s']:.0f}",
            "seconds": lambda e: f"{e['seconds']:.1f}",
        }
        header = "".join(f"<th>{h}</th>" for h in columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{show(e)}</td>" for show in columns.values()) + "</tr>"
            for e in self.epochs
        )
        return (
            f"<table><caption>{html.escape(title)}</caption><thead><tr>{header}</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    def __repr__(self) -> str:
        name = self.config.get("model", "model")
        data = self.config.get("data", "data")
        if not self.epochs:
            return f"History({name} on {data}, no epochs)"
        return (
            f"History({name} on {data}, {len(self.epochs)} epochs, "
            f"final val top-1 {self.final['val_top1']:.1%}, best {self.best_top1:.1%})"
        )
