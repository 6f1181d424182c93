"""The showdown: every contender side by side, measured the same way.

    >>> from nets.lab import showdown
    >>> frame = showdown.compare()                   # params, MACs, CPU (and GPU) images/s, top-1/top-5
    >>> showdown.bubble_chart(frame)                 # top-1 against GMACs, bubble area = parameters
    >>> plan, entrants, skipped = showdown.race_plan(showdown.CONTENDERS, data=data)
    >>> histories = showdown.race(entrants, data, plan)   # one recipe, one budget, every entrant
    >>> print(showdown.race_verdict(histories).text)       # who led, and did everyone leave chance?

Where each number comes from:

- **Parameters and MACs** are counted on PyTorch's ``meta`` device (shapes only: no memory, no weights),
  at each model's reference crop and at one common resolution.
- **Throughput** is measured here and now: inference images per second at a small common resolution
  on the CPU (and on the GPU where there is one), best of a few timed repetitions after a warm-up.
- **Accuracy on ImageNet** is reported, not measured: the paper's number (with how the paper measured
  it) and the reference implementation's single-crop number, both from ``nets.card``.
- **Brief training** (``race``) trains every entrant with ``nets.train.fit`` under one plan
  (``race_plan``): same data, epochs, resolution, batch size, optimiser and schedule, and on a CPU a
  floor of optimiser steps for every entrant; ``race_verdict`` says who led and whether all left chance.

The charts, the names they share (``label``, ``FAMILY_COLORS``, ``METRICS``) and the reading of the table
(``pareto_front``, ``best_under``) live in ``nets.viz.showdown``; they are importable from here too.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .. import probes
from ..cards import card
from ..checks import check_int
from ..data import balanced_subset
from ..registry import entry
from ..summary import count_macs, count_params
from ..train import History, Plan, fit, race_plan
from ..viz.showdown import (
    _CLASSES,
    FAMILY_COLORS,
    METRICS,
    best_under,
    bubble_chart,
    budget_chart,
    label,
    metric_chart,
    pareto_front,
    race_chart,
)
from ..zoo import build
from .tables import dashed

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONTENDERS",
    "FAMILY_COLORS",
    "METRICS",
    "RaceVerdict",
    "accuracy_table",
    "best_under",
    "bubble_chart",
    "budget_chart",
    "compare",
    "label",
    "machine",
    "metric_chart",
    "pareto_front",
    "pretty",
    "race",
    "race_chart",
    "race_plan",
    "race_table",
    "race_verdict",
    "throughput",
]

# The representative set, in order of publication: the ends of the chart are AlexNet and EfficientNet-B7.
CONTENDERS = (
    "alexnet",
    "vgg16",
    "googlenet",
    "resnet18",
    "resnet50",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v2",
    "efficientnet_b0",
    "efficientnet_b7",
)


# ----------------------------------------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------------------------------------


def machine() -> str:
    """One line naming what the throughput was measured on: CPU model, cores, load; the GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    text = f"CPU: {cpu}, {os.cpu_count()} cores"
    if hasattr(os, "getloadavg"):
        text += f" (load average {os.getloadavg()[0]:.1f} while measuring)"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name()}"
    return text


def throughput(
    model: nn.Module, size: int, batch: int = 8, reps: int = 2, device: str = "cpu", threads: int | None = 1
) -> float:
    """Inference images per second of ``model`` at ``size`` px, batch ``batch``: the best of ``reps`` timed
    forward passes after one warm-up pass (the best, because other work on the machine only slows runs down).

    On the CPU it uses ``threads`` intra-op threads (None: torch's current setting). One thread is the
    default because it gives a number that repeats: on a shared machine a second thread often waits for
    a busy core, and the measurement then says more about the neighbours than about the network.
    On a CUDA device it runs under float16 autocast with channels-last memory, as one would deploy it.
    """
    check_int("reps", reps)
    check_int("batch", batch)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    model.to(dev)
    x = torch.randn(batch, 3, size, size, device=dev)
    if cuda:
        model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def forward() -> None:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            model(x)

    with probes.eval_mode(model):  # warm-up: first-call allocations, cuDNN's algorithm search
        best = probes.best_time(forward, repeats=reps, warmup=1, threads=None if cuda else threads)
    return batch / best


def compare(
    names: Sequence[str] = CONTENDERS,
    *,
    common_size: int = 224,
    cpu_size: int | None = 96,
    batch: int = 8,
    reps: int = 2,
    threads: int | None = 1,
    gpu: bool | None = None,
    gpu_size: int = 224,
    gpu_batch: int = 32,
) -> pd.DataFrame:
    """All contenders side by side, one row each (index: model name).

    Columns: ``year``, ``family``, ``params`` (our model's count), ``crop`` (the reference crop, px),
    ``gmacs`` (billions of multiply-accumulates per image at that crop), ``gmacs_common`` (at
    ``common_size``), ``cpu_ips`` (measured CPU inference images/s at ``cpu_size`` px, batch ``batch``, on
    ``threads`` threads; ``cpu_size=None`` skips it) with ``gmacs_cpu`` (GMACs per image at that size), ``gpu_ips`` (at ``gpu_size`` px, batch ``gpu_batch``, float16; only when a
    GPU is used: ``gpu=None`` means "if CUDA is available"), and from the model cards ``paper_top1``,
    ``paper_top5``, ``ref_top1``, ``ref_top5`` (accuracy %). ``frame.attrs`` records the settings and
    ``machine()``. Counting happens on the meta device; only the throughput builds real weights.
    """
    import pandas as pd

    gpu = torch.cuda.is_available() if gpu is None else gpu
    rows = {}
    for name in names:
        e, c = entry(name), card(name)
        crop = c.ref_crop or e.default_size
        with torch.device("meta"):  # shapes only: instant, and no memory even for VGG-16
            model = build(e.name)
        row = {
            "year": c.year,
            "family": e.family,
            "params": count_params(model),
            "crop": crop,
            "gmacs": count_macs(model, (1, 3, crop, crop)) / 1e9,
            "gmacs_common": count_macs(model, (1, 3, common_size, common_size)) / 1e9
            if common_size >= e.min_size
            else math.nan,
        }
        if cpu_size is not None:
            size = max(cpu_size, e.min_size)
            row["gmacs_cpu"] = count_macs(model, (1, 3, size, size)) / 1e9
        if cpu_size is not None or gpu:
            model = build(e.name)  # real weights for the clock
            if cpu_size is not None:
                row["cpu_ips"] = throughput(model, max(cpu_size, e.min_size), batch, reps, "cpu", threads)
            if gpu:
                row["gpu_ips"] = throughput(model, max(gpu_size, e.min_size), gpu_batch, reps, "cuda")
                model.cpu()
                torch.cuda.empty_cache()
            del model
        row |= {
            "paper_top1": c.paper_top1,
            "paper_top5": c.paper_top5,
            "ref_top1": c.ref_top1,
            "ref_top5": c.ref_top5,
        }
        rows[e.name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").astype({"paper_top1": float, "paper_top5": float})
    frame.index.name = "model"
    threads = torch.get_num_threads() if threads is None else threads
    frame.attrs |= {"common_size": common_size, "cpu_size": cpu_size, "batch": batch, "reps": reps,
                    "cpu_threads": threads if cpu_size is not None else None,
                    "gpu_size": gpu_size if gpu else None, "gpu_batch": gpu_batch if gpu else None,
                    "machine": machine()}  # fmt: skip
    return frame


def pretty(frame) -> pd.DataFrame:
    """``compare``'s frame for reading: model names as people write them, units in the headers, rounded."""
    a = frame.attrs
    out = frame.copy()
    out.index = [label(n) for n in frame.index]
    out["params"] = out["params"] / 1e6
    names = {
        "params": "params (M)",
        "crop": "crop (px)",
        "gmacs": "GMACs @ crop",
        "gmacs_common": f"GMACs @ {a.get('common_size', '?')} px",
        "gmacs_cpu": f"GMACs @ {a.get('cpu_size', '?')} px",
        "cpu_ips": f"CPU img/s @ {a.get('cpu_size', '?')} px, {a.get('cpu_threads', '?')} thread(s)",
        "gpu_ips": f"GPU img/s @ {a.get('gpu_size', '?')} px",
        "paper_top1": "paper top-1 %",
        "paper_top5": "paper top-5 %",
        "ref_top1": "reference top-1 %",
        "ref_top5": "reference top-5 %",
        "race_top1": "brief-training top-1 %",
    }
    out = out.rename(columns=names)
    decimals = {names["params"]: 1, names["gmacs"]: 2, names["gmacs_common"]: 2, names["gmacs_cpu"]: 3,
                names["cpu_ips"]: 1, names["gpu_ips"]: 0, names["race_top1"]: 1}  # fmt: skip
    return dashed(out.round({k: v for k, v in decimals.items() if k in out.columns}).drop(columns="family"))


def accuracy_table(names: Sequence[str] = CONTENDERS) -> pd.DataFrame:
    """The papers' ImageNet accuracy next to the reference implementations', with how each was measured."""
    import pandas as pd

    rows = []
    for name in names:
        c = card(name)
        rows.append(
            {
                "model": label(c.name),
                "paper top-1 %": c.paper_top1,
                "paper top-5 %": c.paper_top5,
                "how the paper measured": f"{c.paper_source}; {c.paper_eval}",
                "reference top-1 %": c.ref_top1,
                "reference top-5 %": c.ref_top5,
                "reference": f"{c.ref_source}, 1 crop of {c.ref_crop} px" if c.ref_source else None,
            }
        )
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------------------------------------
# The race: brief training under one recipe
# ----------------------------------------------------------------------------------------------------------


def race(
    names: Sequence[str],
    data,
    plan: Plan,
    *,
    optimizer: str = "adamw",
    lr: float | None = 3e-3,
    channels_last: bool | None = None,
    val_per_class: int | None = 50,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, History]:
    """Train every contender in ``names`` on ``data`` with ``nets.train.fit`` under the one ``plan``.

    Same subset of images (chosen by ``seed``), epochs, resolution, batch, optimiser (AdamW at ``lr`` by
    default: it gets every contender moving within a short run, where SGD leaves some at chance),
    learning-rate schedule and initialisation seed for everyone. When the plan trains on a subset,
    validation uses at most ``val_per_class`` images per class (None: as many as the plan's subset),
    the same for everyone: enough to tell a trained network from a guesser, cheap next to training.
    Every classifier starts with zero weights, so every entrant starts at a loss of ln(classes) (some
    reference initialisations start far above it).
    ``channels_last`` changes only how tensors lie in memory, not a single number the network computes;
    None picks it for the EfficientNets, whose depthwise convolutions run about twice as fast so on a
    CPU (ResNet's run slower). Prints one line per contender as it finishes. A contender that runs
    out of GPU memory is reported and left out; the race goes on.
    """
    if plan.subset is not None and val_per_class is not None:
        val_per_class = check_int("val_per_class", val_per_class)
        data = dataclasses.replace(
            data, val=balanced_subset(data.val, min(val_per_class, plan.subset), seed=seed)
        )
    histories: dict[str, History] = {}
    for name in names:
        torch.manual_seed(seed)
        model = build(name, num_classes=len(data.classes))
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        nn.init.zeros_(head.weight)
        layout = entry(name).family == "efficientnet" if channels_last is None else channels_last
        try:
            history = fit(model, data, budget=dataclasses.replace(plan, model=name, estimate_s=None),
                          optimizer=optimizer, lr=lr, channels_last=layout, seed=seed,
                          progress=progress)  # fmt: skip
        except torch.cuda.OutOfMemoryError:
            print(f"{label(name)}: out of GPU memory at batch {plan.batch_size}; left out of the race")
            del model
            torch.cuda.empty_cache()
            continue
        histories[name] = history
        seconds = sum(e["seconds"] for e in history.epochs)
        f = history.final
        print(f"{label(name):>20}: val top-1 {f['val_top1']:6.1%}  top-5 {f['val_top5']:6.1%}  "
              f"({len(history)} epochs, {seconds:.1f} s)")  # fmt: skip
    return histories


@dataclass(frozen=True)
class RaceVerdict:
    """What ``race_verdict`` read off the race (accuracies in % top-1)."""

    leader: str
    runner_up: str | None
    margin: float  # points between the leader and the runner-up
    noise: float  # points: two standard errors of a difference between two entrants
    chance: float  # % top-1 of guessing
    threshold: float  # % top-1 above which an entrant has left chance (guessing would reach it 1 time in 700)
    left_chance: list[str]
    stuck: list[str]  # entrants at or below the threshold
    steps: int
    text: str


def race_verdict(histories: Mapping[str, History]) -> RaceVerdict:
    """Who led the race, by how much against the noise, and whether every entrant left chance.

    An entrant has left chance when its validation top-1 is more than three standard errors above
    chance, the standard error of a guesser's accuracy on the validation images (a guesser gets that
    far 1 time in 700). The leader's margin is compared with two standard errors of the difference
    between two accuracies on those images.
    """
    if not histories:
        raise ValueError("race_verdict needs at least one trained contender")
    top1 = {n: 100 * h.final["val_top1"] for n, h in histories.items()}
    some = next(iter(histories.values())).config
    classes = len(some.get("classes", [])) or _CLASSES
    n_val = int(some.get("val_size") or 1)
    steps = int(some.get("epochs", 1)) * (int(some.get("train_size", 0)) // int(some.get("batch_size", 1)))
    chance = 100 / classes
    threshold = chance + 300 * math.sqrt((1 / classes) * (1 - 1 / classes) / n_val)
    ranked = sorted(top1, key=top1.get, reverse=True)
    leader = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    margin = top1[leader] - top1[runner_up] if runner_up else 0.0

    def var(p: float) -> float:
        return (p / 100) * (1 - p / 100) / n_val

    noise = 200 * math.sqrt(var(top1[leader]) + var(top1[runner_up])) if runner_up else 0.0
    left = [n for n in ranked if top1[n] > threshold]
    stuck = [n for n in ranked if top1[n] <= threshold]
    lead = f"{label(leader)} led with {top1[leader]:.1f}% val top-1"
    if runner_up:
        lead += (
            f", {margin:.1f} points ahead of {label(runner_up)} ("
            + ("more than" if margin > noise else "within")
            + f" the noise of {noise:.1f} points on {n_val} validation images)"
        )
    basis = f"(chance is {chance:.0f}%; guessing tops {threshold:.1f}% about 1 time in 700 on {n_val} images)"
    if not stuck:
        every = "every entrant" if len(top1) > 2 else ("both entrants" if len(top1) == 2 else "the entrant")
        text = f"Verdict: {lead}; {every} left chance after {steps} optimiser steps each {basis}."
    else:
        names = ", ".join(f"{label(n)} ({top1[n]:.1f}%)" for n in stuck)
        them = "it" if len(stuck) == 1 else "them"
        text = (
            f"Verdict: {lead}; {len(left)} of {len(top1)} left chance, not {names} {basis}: "
            f"{steps} optimiser steps were too few for {them}."
        )
    return RaceVerdict(leader, runner_up, margin, noise, chance, threshold, left, stuck, steps, text)


def race_table(histories: Mapping[str, History]) -> pd.DataFrame:
    """One row per trained contender: the recipe it got and where it ended, best top-1 first."""
    import pandas as pd

    rows = []
    for name, h in histories.items():
        c = h.config
        tag = ""
        if c.get("is_standin"):
            tag = " (stand-in, not Imagenette)" if c.get("data") == "standin" else " (not Imagenette)"
        rows.append({
            "model": label(name),
            "data": f"{c.get('data')}{tag}",
            "train / val images": f"{c.get('train_size')} / {c.get('val_size')}",
            "epochs": len(h),
            "px": c.get("image_size"),
            "batch": c.get("batch_size"),
            "val top-1 %": 100 * h.final["val_top1"],
            "val top-5 %": 100 * h.final["val_top5"],
            "train images/s": h.final["images_per_s"],
            "seconds": sum(e["seconds"] for e in h.epochs),
        })  # fmt: skip
    frame = pd.DataFrame(rows).set_index("model").sort_values("val top-1 %", ascending=False)
    return frame.round({"val top-1 %": 1, "val top-5 %": 1, "train images/s": 1, "seconds": 1})
