"""Brief training: ``fit(model, data)`` and what a run leaves behind.

The book trains its contenders for a few epochs, on a laptop CPU (a preview of a minute) or on a
GPU (a real brief run on Imagenette). One function does it, the same way everywhere:

- Nesterov SGD (or AdamW), a one-cycle or warmup + cosine learning-rate schedule stepped every batch,
  label smoothing, mixed precision on CUDA (bf16 where the GPU has it, else fp16 with a GradScaler),
  optional channels-last memory and ``torch.compile``.
- Seeded: the data order and augmentation come from ``(seed, epoch, step)`` (see ``nets.data.batches``)
  and dropout / stochastic depth from ``(seed, epoch, rank)``, so a CPU run repeats exactly.
- A checkpoint (model, optimizer, scheduler, scaler, RNG states, history) is written atomically after
  every epoch; ``resume=True`` continues a stopped run and ends with exactly the weights the
  uninterrupted run would have had.
- A NaN or infinite loss stops the run with ``TrainingDiverged`` (naming epoch and step) before the
  bad step can reach the checkpoint.
- Under ``torchrun`` the same call runs DistributedDataParallel: each rank reads its slice of every
  global batch, gradients are averaged, validation counts are summed over ranks, and only rank 0
  writes files or shows progress.

``History`` holds one dict per epoch (the keys ``EPOCH_KEYS``) plus the run's configuration.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_bool, check_choice, check_float, check_int
from .data import CROP_SCALE, EVAL_CROP, balanced_subset, batches, num_batches
from .files import atomic_write, remove_stale
from .registry import entry
from .summary import count_macs
from .zoo import build

__all__ = [
    "EPOCH_KEYS",
    "History",
    "Plan",
    "TrainingDiverged",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "plan_budget",
    "resolve_device",
]

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
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
BUDGETS = ("brief",)
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine")
AMP_MODES = ("auto", "bf16", "fp16", "off")

# Settings that decide what a run computes: a resumed run must agree with its checkpoint on all of them,
# or it would silently continue a different experiment.
_RESUME_KEYS = (
    "model",
    "data",
    "train_size",
    "val_size",
    "epochs",
    "batch_size",
    "image_size",
    "lr",
    "optimizer",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "crop_scale",
    "eval_crop",
    "shift",
    "seed",
)
# What a checkpoint made before a key existed was trained with (``shift`` came with the brief recipe's
# pad-and-crop): such a run resumes under the same settings instead of being refused as different.
_RESUME_KEYS_ADDED = {"shift": 0.0}


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


# ----------------------------------------------------------------------------------------------------------
# History: what a run measured, epoch by epoch
# ----------------------------------------------------------------------------------------------------------


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

    def plot(self):
        """Loss and accuracy against epoch (``nets.viz.training_curves``); returns the Figure."""
        from .viz import training_curves

        return training_curves(self)

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


# ----------------------------------------------------------------------------------------------------------
# Devices and budgets
# ----------------------------------------------------------------------------------------------------------


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if present, else Apple's MPS, else the CPU; other names are checked, not trusted."""
    if isinstance(device, torch.device):
        device_name = str(device)
    elif isinstance(device, str):
        device_name = device.strip().lower()
    else:
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}")
    if device_name == "auto":
        if torch.cuda.is_available():
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device_name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use device='auto'")
    if dev.type == "cuda" and dev.index is None:  # under torchrun each rank takes its own GPU
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError(
            f"device {device!r} asked for, but Apple MPS is not available here; use device='auto'"
        )
    return dev


@dataclass(frozen=True)
class Plan:
    """What a budget chose for this device and model (``plan_budget``); prints as one line."""

    budget: str
    device: str
    model: str
    epochs: int
    image_size: int
    batch_size: int
    subset: int | None  # images per class per split; None = the full data
    warmup_epochs: float
    estimate_s: float | None  # expected wall time of the run, where we can estimate it (CPU)
    kind: str  # "preview", "publishing run" or "brief run"

    def __str__(self) -> str:
        data = "full data" if self.subset is None else f"{self.subset} images per class per split"
        est = f", about {self.estimate_s:.0f} s" if self.estimate_s is not None else ""
        return (
            f"budget {self.budget!r} on {self.device}: a {self.kind} of {self.model}, {self.epochs} epochs "
            f"at {self.image_size} px, batch {self.batch_size}, {data}{est}"
        )


# The CPU preview aims at this much training + validation compute on the machine's threads, so that
# with data loading and start-up it ends within about a minute on two cores. NETS_BUDGET=publish (for a
# book published from a CPU runner) multiplies it.
_CPU_PREVIEW_SECONDS = 40.0
_PUBLISH_FACTOR = 10.0
BUDGET_ENV = "NETS_BUDGET"
_CPU_PREVIEW_SIZE = 64  # px for Imagenette (160 px photos); low-resolution data trains at its own size
_LOW_RES_SIZE = 32  # Fashion-MNIST's 28 px images (and the stand-in's shapes) gain nothing above this
_CPU_PREVIEW_EPOCHS = 3
_CPU_PREVIEW_CLASSES = 10  # Imagenette, Fashion-MNIST and the stand-in all have 10
_CPU_MIN_STEPS = 60  # fewer optimiser steps than this and no network leaves chance
# Training throughput of one CPU thread, in forward multiply-accumulates x 3 (forward + backward) per
# second, measured at 64 px (80 px for Inception), batch 16, torch 2.14 on this project's machine:
# resnet18 20.8, resnet50 20.3, vgg16 25.3, vgg11_bn 19.1, alexnet 10.6 (its big FC layers are memory
# bound), googlenet 17.4, inception_v3 15.7, efficientnet_b0 4.8 (depthwise convolutions are slow per MAC).
# Validation costs about 0.3 x training per image. A second thread adds about half a thread (resnet18:
# 47 -> 68 images/s). The plan is computed, not timed, so the same model on the same machine always
# gets the same preview (and the book the same numbers).
_CPU_GMACS_PER_THREAD = {"resnet": 20.0, "vgg": 20.0, "alexnet": 10.0, "inception": 15.0, "efficientnet": 4.8}
_CPU_GMACS_DEFAULT = 10.0


def _publishing() -> bool:
    value = os.environ.get(BUDGET_ENV, "").strip().lower()
    if value not in ("", "brief", "publish"):
        raise ValueError(f"{BUDGET_ENV} must be 'brief' or 'publish', got {value!r}")
    return value == "publish"


def plan_budget(
    budget: str = "brief",
    device: str | torch.device = "auto",
    model: str | nn.Module | None = None,
    data=None,
) -> Plan:
    """Choose epochs, resolution, batch size and data subset for ``budget`` on ``device``.

    ``"brief"`` means: on a GPU a real brief run (5 epochs at 128 px on the full data); on Apple MPS
    a shorter one on part of the data; on a CPU a preview that ends in about a minute on two cores:
    3 epochs on as many images per class as ~40 s of compute allow for this model (its
    multiply-accumulates against a measured per-family CPU rate), so a VGG-16 gets fewer images than a
    ResNet-18 rather than a longer wait, but never fewer than 60 optimiser steps. The resolution is
    64 px for Imagenette and 32 px for low-resolution ``data`` (Fashion-MNIST, the stand-in), or the
    model's smallest input. ``NETS_BUDGET=publish`` gives CPU runs ten times the compute (more images
    and epochs), for a book published from a runner without a GPU; GPUs keep the brief run.
    """
    check_choice("budget", budget, BUDGETS)
    dev = resolve_device(device)
    name, min_size = _model_name_and_min_size(model)
    if dev.type == "cuda":
        size = max(128, _round_up(min_size, 16))
        return Plan(budget, str(dev), name, 5, size, 128, None, 1.0, None, "brief run")
    if dev.type == "mps":
        size = max(112, _round_up(min_size, 16))
        return Plan(budget, str(dev), name, 3, size, 64, 300, 1.0, None, "brief run")
    publish = _publishing()
    low_res = data is not None and (
        getattr(data, "resolution", 999) < 64 or getattr(data, "source", "") in ("fashion-mnist", "standin")
    )
    size = max(_LOW_RES_SIZE if low_res else _CPU_PREVIEW_SIZE, _round_up(min_size, 16))
    epochs = _CPU_PREVIEW_EPOCHS * (2 if publish else 1)
    seconds = _CPU_PREVIEW_SECONDS * (_PUBLISH_FACTOR if publish else 1)
    cap = 600 if publish else 300
    macs = _macs_at(model, size)
    if macs is None:
        subset, estimate = 50, None
    else:
        threads = max(1, torch.get_num_threads())
        rate = _CPU_GMACS_PER_THREAD.get(_family(model), _CPU_GMACS_DEFAULT) * 1e9 * (1 + 0.5 * (threads - 1))
        seconds_per_image = 3 * macs / rate * (1 + 0.3)  # train, plus validating as many images
        per_class_s = _CPU_PREVIEW_CLASSES * epochs * seconds_per_image
        subset = int(min(cap, max(8, seconds / per_class_s)))
    batch = 32 if subset * _CPU_PREVIEW_CLASSES >= 160 else 16
    # A floor on optimiser steps, not only on seconds: a slow model gets more images, not fewer steps.
    subset = max(subset, -(-_CPU_MIN_STEPS * batch // (epochs * _CPU_PREVIEW_CLASSES)))
    estimate = None if macs is None else subset * per_class_s
    kind = "publishing run" if publish else "preview"
    return Plan(budget, "cpu", name, epochs, size, batch, subset, 1.0, estimate, kind)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _model_name_and_min_size(model: str | nn.Module | None) -> tuple[str, int]:

    if model is None:
        return "model", 1
    name = model if isinstance(model, str) else getattr(model, "name", None)
    if isinstance(name, str):
        try:
            e = entry(name)
        except ValueError:
            if isinstance(model, str):
                raise
            return name, 1
        return e.name, e.min_size
    return type(model).__name__, 1


def _family(model: str | nn.Module | None) -> str | None:

    name = model if isinstance(model, str) else getattr(model, "name", None)
    try:
        return entry(name).family if isinstance(name, str) else None
    except ValueError:
        return None


def _macs_at(model: str | nn.Module | None, size: int) -> int | None:
    """Forward multiply-accumulates of one image at ``size`` px (None when they cannot be counted)."""

    if model is None:
        return None
    if isinstance(model, str):
        # Built on the meta device: no memory, no initialisation, only shapes for the flop counter.
        with torch.device("meta"):
            model = build(model, num_classes=_CPU_PREVIEW_CLASSES)
    try:
        return count_macs(model, (1, 3, size, size))
    except Exception:  # a custom model the counter cannot run at this size: plan without its cost
        return None


# ----------------------------------------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What ``fit`` does by default besides the optimiser: augmentation strength and the loss's targets."""

    crop_scale: tuple[float, float]  # training crops cover this fraction of the image's area
    eval_crop: float  # evaluation sees this central fraction of the image's side
    label_smoothing: float
    shift: float = 0.0  # training crops also move by up to this fraction of the side (pad-and-crop)


BRIEF_EPOCHS = 10  # runs shorter than this get the brief recipe's milder crops


def brief_recipe(epochs: int) -> Recipe:
    """The recipe ``fit`` uses for a run of ``epochs`` epochs, measured with bench/recipe.py.

    A brief run (under 10 epochs) trains on the whole image moved by up to 1/8 of its side, what lies
    outside mirrored in, and flipped (CIFAR's pad-and-crop, at any size), and evaluates on the whole
    image: with a few hundred steps a network cannot yet use the scale changes of random-resized crops.
    Chosen on Fashion-MNIST at 32 px (3 epochs, batch 64, lr 0.05, seed 0): ResNet-18 reached 78.9 %
    with it and 77.7 % with random-resized crops of 60-100 %; GoogLeNet 75.2 % and 72.4 %. Then
    measured against a plain loop by bench/recipe.py (two seeds; its docstring has the whole table):
    ResNet-18 80.0 % vs 76.9 % at 3 epochs, batch 64 and 81.6 % vs 79.1 % at 5 epochs, batch 128.
    Longer runs get the long-run crops (35-100 %, then a central 87.5 % at test time). Label smoothing
    0.1 throughout.
    """
    check_int("epochs", epochs)
    if epochs < BRIEF_EPOCHS:
        return Recipe(crop_scale=(1.0, 1.0), eval_crop=1.0, label_smoothing=0.1, shift=0.125)
    return Recipe(crop_scale=CROP_SCALE, eval_crop=EVAL_CROP, label_smoothing=0.1)


def default_lr(optimizer: str, batch_size: int) -> float:
    """``fit``'s peak learning rate: 0.05 x batch/128 for Nesterov SGD, 2e-3 x batch/128 for AdamW.

    SGD's is Goyal et al.'s linear scaling rule (2017: 0.1 x batch/256). It was 0.2 x batch/128 until
    bench/recipe.py measured brief runs on Fashion-MNIST at 32 px (seed 0): ResNet-18 at batch 128 over
    5 epochs ended at 54.4 % with 0.2 and 76.9 % with 0.1; at batch 64 over 3 epochs 73.8 % (0.2),
    77.7 % (0.1) and 78.0 % (0.05). A brief run has no epochs in which to recover from a too-large step,
    and GoogLeNet at 0.1 x batch/128 went from 75.9 % to 57.9 % when a few pixels at the image border
    were sampled differently: the edge of stability. The smaller rate keeps runs away from it.
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    return (0.05 if optimizer == "sgd" else 2e-3) * batch_size / 128


def fit(
    model: nn.Module | str,
    data,
    epochs: int | None = None,
    *,
    batch_size: int | None = None,
    image_size: int | None = None,
    lr: float | None = None,
    optimizer: str = "sgd",
    weight_decay: float | None = None,
    schedule: str = "onecycle",
    warmup_epochs: float | None = None,
    label_smoothing: float | None = None,
    crop_scale: tuple[float, float] | None = None,
    eval_crop: float | None = None,
    shift: float | None = None,
    amp: str | bool = "auto",
    channels_last: bool = False,
    compile: bool = False,
    device: str | torch.device = "auto",
    seed: int = 0,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    budget: str | Plan | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` on ``data`` (a ``nets.data.Data``) and return its ``History``.

    ``model`` is a module whose classifier has ``len(data.classes)`` outputs, or a registry name
    (built here, its initialisation seeded by ``seed``). Defaults: 5 epochs, batch 64, 128 px;
    ``budget="brief"`` chooses epochs, size, batch and a data subset for the device instead (see
    ``plan_budget``; arguments given explicitly still win). ``lr`` defaults to 0.05 x batch/128 for
    Nesterov SGD (momentum 0.9) and 2e-3 x batch/128 for AdamW; ``weight_decay`` to 5e-4 (SGD) or
    0.05 (AdamW), applied to weights only, not to biases and norm parameters. ``schedule`` is
    ``"onecycle"`` (warm up from lr/25 to lr, then cosine down to ~0) or ``"cosine"`` (linear warmup
    from 0, cosine to 0), stepped per batch; ``warmup_epochs`` defaults to a quarter of the run, at
    most one epoch. ``amp="auto"``: bf16 autocast on CUDA GPUs that have it, else fp16 with a
    GradScaler; off on CPU and MPS ("bf16", "fp16", "off" force a choice). ``label_smoothing``,
    ``crop_scale`` (training crops' area), ``shift`` (how far crops move, a fraction of the side) and
    ``eval_crop`` (evaluation's centre crop) default to :func:`brief_recipe`'s for ``epochs``.

    ``out``: folder for ``checkpoint.pt`` and ``metrics.json`` (written after every epoch, atomically;
    the checkpoint carries a SHA-256 of its contents, checked when it is read); ``resume=True``
    continues from ``out/checkpoint.pt`` if it exists (else starts afresh), and refuses a checkpoint
    made with different settings or damaged on disk. A folder that already holds a run is never
    overwritten unless ``resume=True`` continues it or ``overwrite=True`` replaces it. Under ``torchrun`` (or an initialised
    process group) it trains with DistributedDataParallel: ``batch_size`` is the global batch.
    """

    _check_args(epochs, batch_size, image_size, lr, optimizer, weight_decay, schedule, warmup_epochs,
                label_smoothing, amp, seed, resume, overwrite, channels_last, compile)  # fmt: skip
    if crop_scale is not None:
        crop_scale = tuple(check_float("crop_scale", v, low=0.0, high=1.0, low_open=True) for v in crop_scale)
    if eval_crop is not None:
        check_float("eval_crop", eval_crop, low=0.0, high=1.0, low_open=True)
    if shift is not None:
        check_float("shift", shift, low=0.0, high=0.5)
    out = _check_out(out, resume=resume, overwrite=overwrite)
    dev = resolve_device(device)
    rank, world_size, owns_group = init_distributed(dev)
    show = progress and rank == 0
    try:
        plan = None
        if budget is not None:
            plan = budget if isinstance(budget, Plan) else plan_budget(budget, dev, model, data)
            if show:
                print(plan)
        epochs = epochs if epochs is not None else plan.epochs if plan else 5
        batch_size = batch_size if batch_size is not None else plan.batch_size if plan else 64
        image_size = image_size if image_size is not None else plan.image_size if plan else 128
        if warmup_epochs is None:
            warmup_epochs = plan.warmup_epochs if plan else min(1.0, epochs / 4)
        warmup_epochs = min(float(warmup_epochs), float(epochs))
        if lr is None:
            lr = default_lr(optimizer, batch_size)
        if weight_decay is None:
            weight_decay = 5e-4 if optimizer == "sgd" else 0.05
        defaults = brief_recipe(epochs)
        label_smoothing = defaults.label_smoothing if label_smoothing is None else label_smoothing
        crop_scale = defaults.crop_scale if crop_scale is None else crop_scale
        eval_crop = defaults.eval_crop if eval_crop is None else eval_crop
        shift = defaults.shift if shift is None else float(shift)
        if plan is not None and plan.subset is not None:
            data = balanced_subset(data, plan.subset, seed=seed)
        _check_data(data, batch_size, world_size)

        name, min_size = _model_name_and_min_size(model)
        if image_size < min_size:
            raise ValueError(f"image_size {image_size} is below {name}'s smallest input ({min_size} px)")
        if isinstance(model, str):
            torch.manual_seed(seed)
            model = build(model, num_classes=len(data.classes))
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module or a model name, got {type(model).__name__}")

        amp_dtype = _amp_dtype(amp, dev)
        model.to(dev)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if world_size > 1 and dev.type == "cuda":
            # Per-rank BatchNorm would normalise with statistics of batch/world_size images: not the run
            # the single-GPU code describes. SyncBatchNorm computes them over the global batch.
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        steps_per_epoch = num_batches(data.train, batch_size, train=True)
        total_steps = epochs * steps_per_epoch
        opt = _make_optimizer(model, optimizer, lr, weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _lr_factor(schedule, round(warmup_epochs * steps_per_epoch), total_steps)
        )
        scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)

        config = {
            "model": name,
            "data": data.source,
            "is_standin": bool(data.is_standin),
            "classes": list(data.classes),
            "train_size": len(data.train),
            "val_size": len(data.val),
            "device": str(dev),
            "world_size": world_size,
            "epochs": epochs,
            "batch_size": batch_size,
            "image_size": image_size,
            "lr": lr,
            "optimizer": optimizer,
            "weight_decay": weight_decay,
            "schedule": schedule,
            "warmup_epochs": warmup_epochs,
            "label_smoothing": label_smoothing,
            "crop_scale": list(crop_scale),
            "eval_crop": eval_crop,
            "shift": shift,
            "amp": "off" if amp_dtype is None else str(amp_dtype).removeprefix("torch."),
            "channels_last": channels_last,
            "compile": compile,
            "seed": seed,
            "budget": plan.budget if plan else None,
            "subset": plan.subset if plan else None,
            "torch": str(torch.__version__),
        }
        history = History(config=config)
        out_dir = out
        ckpt_path = out_dir / CHECKPOINT if out_dir is not None else None
        start_epoch = 0
        if resume and ckpt_path is not None and ckpt_path.exists():
            state = load_checkpoint(ckpt_path, map_location=dev)
            _check_resume(state["history"]["config"], config, ckpt_path)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            _set_rng_states(state["rng"])
            history = History.from_dict(state["history"])
            history.config.update({k: config[k] for k in ("device", "world_size", "amp", "torch")})
            start_epoch = state["epoch"]
            if show:
                print(f"resuming {ckpt_path} after epoch {start_epoch} of {epochs}")
        elif resume and show:
            print(f"resume=True but there is no checkpoint in {out_dir}: starting a fresh run")

        net: nn.Module = model
        if world_size > 1:
            ids = [dev.index] if dev.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if compile:
            net = torch.compile(net)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True

        run = _Run(
            net=net, model=model, opt=opt, sched=sched, scaler=scaler, dev=dev, amp_dtype=amp_dtype,
            rank=rank, world_size=world_size, batch_size=batch_size, image_size=image_size, seed=seed,
            label_smoothing=label_smoothing, crop_scale=crop_scale, eval_crop=eval_crop,
            shift=shift, channels_last=channels_last, data=data, show=show,
            ckpt_path=ckpt_path, batches=batches, steps_per_epoch=steps_per_epoch, epochs=epochs,
        )  # fmt: skip
        epoch_bar = _bar(show, total=epochs, initial=start_epoch, desc=f"{name}", unit="epoch")
        try:
            for epoch in range(start_epoch, epochs):
                t0 = time.perf_counter()
                # Dropout and stochastic depth draw from the global generator: seed it per (epoch, rank) so
                # ranks draw independent masks and a resumed run draws what the uninterrupted one did.
                torch.manual_seed(_derive_seed(seed, epoch, rank))
                train_loss, train_acc, images_per_s = run.train_epoch(epoch)
                val_loss, val_top1, val_top5 = run.evaluate()
                row = {
                    "epoch": epoch + 1,
                    "train_loss": train_loss,
                    "train_acc": train_acc,
                    "val_loss": val_loss,
                    "val_top1": val_top1,
                    "val_top5": val_top5,
                    "images_per_s": images_per_s,
                    "seconds": time.perf_counter() - t0,
                }
                history.epochs.append(row)
                if rank == 0 and out_dir is not None:
                    _save_checkpoint(ckpt_path, model, opt, sched, scaler, epoch + 1, history)
                    history.save(out_dir / METRICS)
                line = (
                    f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.3f} acc {train_acc:.1%} | "
                    f"val loss {val_loss:.3f} top-1 {val_top1:.1%} top-5 {val_top5:.1%} | "
                    f"{images_per_s:.0f} img/s, {row['seconds']:.1f} s"
                )
                if epoch_bar is not None:
                    epoch_bar.set_postfix(
                        {"val loss": f"{val_loss:.3f}", "top-1": f"{val_top1:.1%}"}, refresh=False
                    )
                    epoch_bar.update(1)
                    epoch_bar.write(line)
                elif show:
                    print(line, flush=True)
        finally:
            if epoch_bar is not None:
                epoch_bar.close()
        if rank == 0 and out_dir is not None and start_epoch == epochs:
            history.save(out_dir / METRICS)  # a finished run resumed again: rewrite nothing else
        return history
    finally:
        if owns_group:
            torch.distributed.destroy_process_group()


@dataclass
class _Run:
    """The pieces one epoch needs, so that the loops below read as the algorithm."""

    net: nn.Module
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    dev: torch.device
    amp_dtype: torch.dtype | None
    rank: int
    world_size: int
    batch_size: int
    image_size: int
    seed: int
    label_smoothing: float
    crop_scale: tuple[float, float]
    eval_crop: float
    shift: float
    channels_last: bool
    data: Any
    show: bool
    ckpt_path: Path | None
    batches: Callable
    steps_per_epoch: int
    epochs: int

    @property
    def _sum_dtype(self) -> torch.dtype:
        return torch.float32 if self.dev.type == "mps" else torch.float64  # MPS has no float64

    def _autocast(self):
        return torch.autocast(self.dev.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def train_epoch(self, epoch: int) -> tuple[float, float, float]:
        """One pass over the training split; returns (mean loss, accuracy, images/s)."""
        self.net.train()
        n = self.steps_per_epoch
        # Losses stay on the device and are looked at every `check_every` steps: on a GPU each look is a
        # synchronisation, on the CPU it is free, so the CPU checks every step, before the backward pass.
        check_every = 1 if self.dev.type == "cpu" else 20
        losses = torch.zeros(n, device=self.dev)
        correct = torch.zeros((), device=self.dev, dtype=torch.long)
        seen = 0
        bar = _bar(self.show, total=n, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", leave=False)
        it = self.batches(
            self.data.train, self.batch_size, train=True, image_size=self.image_size, device=self.dev,
            seed=self.seed, epoch=epoch, rank=self.rank, world_size=self.world_size,
            channels_last=self.channels_last, crop_scale=self.crop_scale, shift=self.shift,
        )  # fmt: skip
        start = time.perf_counter()
        try:
            for step, (x, y) in enumerate(it):
                with self._autocast():
                    out = self.net(x)
                    loss, logits = _loss(out, y, self.label_smoothing, len(self.data.classes))
                losses[step] = loss.detach().float()
                if (step + 1) % check_every == 0 or step == n - 1:
                    self._check_finite(losses, epoch, step)
                self.opt.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
                self.sched.step()
                correct += (logits.detach().argmax(1) == y).sum()
                seen += y.numel()
                if bar is not None and ((step + 1) % check_every == 0 or step == n - 1):
                    done = step + 1
                    elapsed = time.perf_counter() - start
                    stats = {
                        "loss": f"{losses[:done].mean().item():.3f}",
                        "acc": f"{correct.item() / seen:.1%}",
                        "img/s": f"{seen * self.world_size / elapsed:.0f}",
                    }
                    bar.set_postfix(stats, refresh=False)
                    bar.update(done - bar.n)
        finally:
            if bar is not None:
                bar.close()
        if step != n - 1:
            raise RuntimeError(f"nets.data.batches yielded {step + 1} training batches, num_batches said {n}")
        totals = torch.stack([losses.sum(), correct.float(), torch.tensor(float(seen), device=self.dev)])
        self._all_reduce(totals)
        elapsed = time.perf_counter() - start
        loss_sum, correct_sum, seen_sum = totals.tolist()
        return loss_sum / (n * self.world_size), correct_sum / seen_sum, seen_sum / elapsed

    def _check_finite(self, losses: torch.Tensor, epoch: int, step: int) -> None:
        """Raise TrainingDiverged at the first non-finite loss up to ``step`` (agreed over all ranks)."""
        bad = (~torch.isfinite(losses[: step + 1])).nonzero()
        first = torch.tensor(
            [float(bad[0, 0]) if len(bad) else math.inf], device=self.dev, dtype=self._sum_dtype
        )
        if self.world_size > 1:
            torch.distributed.all_reduce(first, op=torch.distributed.ReduceOp.MIN)
        if math.isfinite(first.item()):
            i = int(first.item())
            raise TrainingDiverged(epoch + 1, i + 1, losses[i].item(), self.ckpt_path)

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float, float]:
        """Validation loss (no label smoothing), top-1 and top-5 accuracy over the whole val split."""
        model = self.model
        model.eval()
        k = min(5, len(self.data.classes))
        totals = torch.zeros(4, device=self.dev, dtype=self._sum_dtype)  # loss sum, top-1, top-5, count
        it = self.batches(
            self.data.val, self.batch_size, train=False, image_size=self.image_size, device=self.dev,
            seed=self.seed, rank=self.rank, world_size=self.world_size, channels_last=self.channels_last,
            eval_crop=self.eval_crop,
        )  # fmt: skip
        for x, y in it:
            if y.numel() == 0:  # this rank's slice of the last, short batch is empty
                continue
            with self._autocast():
                out = model(x)
            logits = (out[0] if isinstance(out, (tuple, list)) else out).float()
            topk = logits.topk(k, dim=1).indices
            totals[0] += F.cross_entropy(logits, y, reduction="sum")
            totals[1] += (topk[:, 0] == y).sum()
            totals[2] += (topk == y[:, None]).any(dim=1).sum()
            totals[3] += y.numel()
        self._all_reduce(totals)
        loss_sum, top1, top5, count = totals.tolist()
        if int(count) != len(self.data.val):
            raise RuntimeError(f"validation saw {int(count)} images, the split has {len(self.data.val)}")
        return loss_sum / count, top1 / count, top5 / count

    def _all_reduce(self, t: torch.Tensor) -> None:
        if self.world_size > 1:
            torch.distributed.all_reduce(t)


def _loss(
    out, y: torch.Tensor, label_smoothing: float, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the main logits, plus 0.3 x each auxiliary head's (GoogLeNet's weighting)."""
    logits, aux = (out[0], out[1:]) if isinstance(out, (tuple, list)) else (out, ())
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise ValueError(
            f"the model outputs shape {tuple(logits.shape)} but the data has {num_classes} classes: "
            f"build it with num_classes={num_classes}"
        )
    loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    for a in aux:
        if a is not None:
            loss = loss + 0.3 * F.cross_entropy(a, y, label_smoothing=label_smoothing)
    return loss, logits


def _make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    # Decaying biases and BatchNorm scales only fights the normalisation; weights (ndim > 1) are decayed.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # One fused kernel for the whole update where PyTorch has it (CPU, CUDA): on a CPU it cut AlexNet's
    # brief run from 66 to 49 s of CPU time, same accuracy (68.1 % vs 67.8 %).
    first = next((p for p in decay + no_decay), None)
    fused = first is not None and first.device.type in ("cpu", "cuda")
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, fused=fused or None)
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None)


def _lr_factor(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The learning rate at optimizer step ``s`` as a fraction of ``lr``."""
    warmup_steps = min(warmup_steps, total_steps)

    def cosine(s: int, floor: float) -> float:
        p = min(1.0, (s - warmup_steps) / max(1, total_steps - warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))

    def onecycle(s: int) -> float:  # Smith & Topin 2018, the shape of torch's OneCycleLR
        if s < warmup_steps:
            return 1 / 25 + (1 - 1 / 25) * s / warmup_steps
        return cosine(s, 1 / 25e4)

    def warmup_cosine(s: int) -> float:
        if s < warmup_steps:
            return (s + 1) / (warmup_steps + 1)
        return cosine(s, 0.0)

    return onecycle if schedule == "onecycle" else warmup_cosine


def _amp_dtype(amp: str | bool, dev: torch.device) -> torch.dtype | None:
    mode = ("auto" if amp else "off") if isinstance(amp, bool) else amp
    if mode == "off":
        return None
    if mode == "auto":
        if dev.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if mode == "bf16" else torch.float16


def _derive_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _bar(show: bool, **kwargs):
    """A tqdm progress bar, or None: when not shown, and in the book build, whose pages keep each bar's
    widget state (about 2 kB a bar); there the epoch lines are printed as plain text instead."""
    if not show or os.environ.get("NETS_BOOK_BUILD") == "1":
        return None
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


# ----------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------


CHECKPOINT_FORMAT = 2  # 2: with the SHA-256 of the contents (format 1, without, is still read)


def _digest(value: Any, h: Any = None) -> str:
    """SHA-256 of a checkpoint's contents: every tensor's bytes, dtype and shape, and every plain value."""
    h = hashlib.sha256() if h is None else h
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(b"{")
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _digest(value[key], h)
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _digest(item, h)
        h.update(b"]")
    else:
        h.update(repr(value).encode())
    return h.hexdigest()


def _save_checkpoint(path, model, opt, sched, scaler, epoch: int, history: History) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": _rng_states(),
        "history": history.to_dict(),
    }
    state["sha256"] = _digest(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)  # in memory first: a full disk then fails in a plain write, with errno
    keep = f"the previous {path.name} is kept: free some space, then continue with resume=True (--resume)"
    atomic_write(path, buffer.getvalue(), if_full=keep)


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by ``fit`` (``weights_only=True``: it holds tensors and plain types only).

    Its contents are checked against the SHA-256 stored in it: a damaged file is refused, not resumed.
    With ``model``, also load the trained weights into it. Returns the whole checkpoint dict
    (keys: epoch, model, optimizer, scheduler, scaler, rng, history).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, and what to do
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{path} is not a readable nets checkpoint ({reason}); delete it to start afresh"
        ) from e
    if not isinstance(state, dict) or state.get("format") not in (1, CHECKPOINT_FORMAT):
        raise ValueError(f"{path} is not a nets.train checkpoint (format 1 or {CHECKPOINT_FORMAT})")
    if state["format"] == CHECKPOINT_FORMAT:
        stored = state.pop("sha256", None)
        if stored != _digest(state):
            raise ValueError(
                f"{path} is damaged: its contents do not match the SHA-256 stored in it (a disk or copy "
                "error). Delete it to start afresh, or restore it from a copy."
            )
    if model is not None:
        model.load_state_dict(state["model"])
    return state


def _rng_states() -> dict[str, Any]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"cpu": torch.get_rng_state(), "cuda": list(cuda)}


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["cpu"].cpu())
    if torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])


def _check_resume(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    saved = {**_RESUME_KEYS_ADDED, **saved}
    diffs = [f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in _RESUME_KEYS if saved.get(k) != now.get(k)]
    if diffs:
        raise ValueError(
            f"cannot resume {path}: it was made with different settings ({'; '.join(diffs)}). "
            "Pass the same settings, or use another out folder / resume=False for a new run."
        )


# ----------------------------------------------------------------------------------------------------------
# Argument checks and the process group
# ----------------------------------------------------------------------------------------------------------


MAX_IMAGE_SIZE = 1024  # px: Imagenette's largest images are about this size; beyond it memory runs out first


def _check_args(epochs, batch_size, image_size, lr, optimizer, weight_decay, schedule, warmup_epochs,
                label_smoothing, amp, seed, resume, overwrite, channels_last, compile) -> None:  # fmt: skip
    if epochs is not None:
        check_int("epochs", epochs)
    if batch_size is not None and check_int("batch_size", batch_size) < 2:
        raise ValueError(
            "batch_size must be at least 2: BatchNorm computes its statistics over the images of a batch "
            "and cannot with one"
        )
    if image_size is not None:
        check_int("image_size", image_size, maximum=MAX_IMAGE_SIZE)
    if lr is not None:
        check_float("lr", lr, low=0.0, low_open=True)
    if weight_decay is not None:
        check_float("weight_decay", weight_decay, low=0.0)
    if warmup_epochs is not None:
        check_float("warmup_epochs", warmup_epochs, low=0.0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("schedule", schedule, SCHEDULES)
    if label_smoothing is not None:
        check_float("label_smoothing", label_smoothing, low=0.0, high=1.0, high_open=True)
    if not isinstance(amp, bool):
        check_choice("amp", amp, AMP_MODES)
    check_int("seed", seed, minimum=0)
    for name, value in (("resume", resume), ("overwrite", overwrite), ("channels_last", channels_last),
                        ("compile", compile)):  # fmt: skip
        check_bool(name, value)
    if resume and overwrite:
        raise ValueError("resume=True continues the run in out, overwrite=True replaces it: pass one of them")


def _check_out(out: str | os.PathLike | None, *, resume: bool, overwrite: bool) -> Path | None:
    """The run folder, checked before any work: a folder (``~`` expanded), never someone's run by accident."""
    if out is None:
        if resume:
            raise ValueError("resume=True needs out=<folder> holding the checkpoint to continue")
        return None
    if not isinstance(out, (str, os.PathLike)):
        raise ValueError(f"out must be a folder path, got {out!r}")
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out={str(path)!r} is a file, not a folder; choose a folder for the run")
    held = [name for name in (CHECKPOINT, METRICS) if (path / name).exists()]
    if held and not (resume or overwrite):
        raise ValueError(
            f"{path} already holds a run ({', '.join(held)}); continue it with resume=True (--resume), "
            "replace it with overwrite=True (--overwrite), or choose another out folder"
        )
    if held and overwrite:
        for name in held:
            (path / name).unlink()
    if path.is_dir():  # what runs killed mid-write left behind (and the fixed name older versions used)
        remove_stale(path.glob(".*.tmp"))
        for name in (CHECKPOINT, METRICS):
            (path / f"{name}.tmp").unlink(missing_ok=True)
    return path


def _check_data(data, batch_size: int, world_size: int) -> None:
    for attr in ("train", "val", "classes", "source", "is_standin"):
        if not hasattr(data, attr):
            raise TypeError(f"data must be a nets.data.Data (from nets.data.load()), it has no .{attr}")
    if len(data.val) == 0:
        raise ValueError("the validation split is empty")
    if batch_size % world_size:
        raise ValueError(
            f"batch_size {batch_size} must be divisible by the number of processes ({world_size}): "
            "it is the global batch, split evenly over the ranks"
        )
    if batch_size > len(data.train):
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(data.train)} training images: "
            "use a smaller batch_size or more data"
        )


def init_distributed(device: str | torch.device = "auto") -> tuple[int, int, bool]:
    """Join ``torchrun``'s process group if there is one: returns (rank, world_size, started_here).

    NCCL for CUDA devices, gloo otherwise. An already initialised group is used as it is; a single
    process (no ``WORLD_SIZE`` > 1) gets (0, 1, False). The caller that started the group ends it.
    """
    dev = resolve_device(device)
    import torch.distributed as dist

    if not dist.is_available():
        return 0, 1, False
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False
