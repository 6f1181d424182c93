"""The showdown: every contender side by side, measured the same way.

    >>> from nets.lab import showdown
    >>> frame = showdown.compare()                   # params, MACs, CPU (and GPU) images/s, top-1/top-5
    >>> showdown.bubble_chart(frame)                 # top-1 against GMACs, bubble area = parameters
    >>> plan, entrants, skipped = showdown.race_plan(showdown.CONTENDERS, data=data)
    >>> histories = showdown.race(entrants, data, plan)   # one recipe, one budget, three seeds each
    >>> print(showdown.race_verdict(histories).text)       # who led, beyond the seeds' spread? did all learn?

Where each number comes from:

- **Parameters and MACs** are counted on PyTorch's ``meta`` device (shapes only: no memory, no weights),
  at each model's reference crop and at one common resolution.
- **Throughput** is measured here and now: inference images per second at a small common resolution
  on the CPU (and on the GPU where there is one), best of a few timed repetitions after a warm-up.
- **Accuracy on ImageNet** is reported, not measured: the paper's number (with how the paper measured
  it) and the reference implementation's single-crop number, both from ``nets.card``.
- **Brief training** (``race``) trains every entrant with ``nets.train.fit`` under one plan
  (``race_plan``): same data, epochs, resolution, batch size, optimiser and schedule, several seeds
  each, and on a CPU a floor of optimiser steps for every entrant; ``race_verdict`` sets the leader
  against the runner-up seed by seed (``nets.lab.verdicts.compare``) and says whether every entrant learned.

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
from ..checks import check_float, check_int
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
    seed_runs,
)
from ..zoo import build
from . import verdicts
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
    return dashed(pd.DataFrame(rows).set_index("model"))


# ----------------------------------------------------------------------------------------------------------
# The race: brief training under one recipe
# ----------------------------------------------------------------------------------------------------------


def race(
    names: Sequence[str],
    data,
    plan: Plan,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    optimizer: str = "adamw",
    lr: float | None = 3e-3,
    channels_last: bool | None = None,
    val_per_class: int | None = 50,
    progress: bool = False,
    trained: dict | None = None,
) -> dict[str, list[History]]:
    """Train every contender in ``names`` on ``data`` with ``nets.train.fit`` under the one ``plan``, once
    per seed in ``seeds``: ``{name: [History of each seed]}``.

    Same epochs, resolution, batch, optimiser (AdamW at ``lr`` by default: it gets every contender
    moving within a short run, where SGD leaves some at chance), learning-rate schedule and seeds for
    everyone. A seed chooses the initial weights, the order of the batches and, when the plan trains on a
    subset, which images: seed by seed, every entrant gets the same ones. Validation uses the same
    images for every run: at most ``val_per_class`` per class (None: as many as the plan's subset),
    enough to tell a trained network from a guesser, cheap next to training. Every classifier starts
    with zero weights, so every entrant starts at a loss of ln(classes) (some reference initialisations
    start far above it). ``channels_last`` changes only how tensors lie in memory, not a single number
    the network computes; None picks it for the EfficientNets, whose depthwise convolutions run about
    twice as fast so on a CPU (ResNet's run slower). Prints one line per contender as it finishes. A
    contender that runs out of GPU memory is reported and left out; the race goes on. ``trained``: a
    dict that receives each entrant's network after its first seed's run (to show or run it later).
    """
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"race needs at least one seed and no seed twice, got {seeds}")
    if plan.subset is not None and val_per_class is not None:
        val_per_class = check_int("val_per_class", val_per_class)
        data = dataclasses.replace(data, val=balanced_subset(data.val, min(val_per_class, plan.subset)))
    histories: dict[str, list[History]] = {}
    for name in names:
        runs = _race_one(name, data, plan, seeds, trained, optimizer=optimizer, lr=lr, progress=progress,
                         channels_last=entry(name).family == "efficientnet" if channels_last is None else channels_last)  # fmt: skip
        if runs is None:
            continue
        histories[name] = runs
        top1 = ", ".join(f"{h.final['val_top1']:.1%}" for h in runs)
        seconds = sum(e["seconds"] for h in runs for e in h.epochs) / len(runs)
        print(f"{label(name):>20}: val top-1 {top1}  ({len(seeds)} seeds, {len(runs[0])} epochs, "
              f"{seconds:.1f} s a run)")  # fmt: skip
    return histories


def _race_one(
    name: str, data, plan: Plan, seeds: Sequence[int], trained: dict | None, **fit_kwargs
) -> list[History] | None:
    """One contender trained once per seed (its classifier zeroed), or None if the GPU ran out of memory."""
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = build(name, num_classes=len(data.classes))
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        nn.init.zeros_(head.weight)
        try:
            runs.append(fit(model, data, budget=dataclasses.replace(plan, model=name, estimate_s=None),
                            seed=seed, **fit_kwargs))  # fmt: skip
            if trained is not None and seed == seeds[0]:
                trained[name] = model.cpu()  # off the GPU: ten kept networks would crowd the later runs
        except torch.cuda.OutOfMemoryError:
            print(f"{label(name)}: out of GPU memory at batch {plan.batch_size}; left out of the race")
            del model
            torch.cuda.empty_cache()
            return None
    return runs


@dataclass(frozen=True)
class RaceVerdict:
    """What ``race_verdict`` read off the race (accuracies in % top-1)."""

    leader: str  # the entrant with the highest mean over its seeds
    runner_up: str | None
    comparison: (
        verdicts.Comparison | None
    )  # the leader against the runner-up, seed by seed (``verdicts.compare``)
    chance: float  # % top-1 of guessing
    threshold: float  # % top-1 that every seed of an entrant reached if it learned (a multiple of chance)
    learned: list[str]
    stuck: list[str]  # entrants with a seed at or below the threshold
    steps: int
    text: str


def _top1(histories: Mapping[str, Sequence[History]]) -> dict[str, list[float]]:
    return {n: [100 * h.final["val_top1"] for h in runs] for n, runs in histories.items()}


def race_verdict(
    histories: Mapping[str, History | Sequence[History]], learned_at: float = 3.0
) -> RaceVerdict:
    """Who led the race, whether the lead is beyond the spread between seeds, and whether every entrant learned.

    The leader (highest mean val top-1) is set against the runner-up by ``nets.lab.verdicts.compare``:
    clearly ahead only when every seed of one beats every seed of the other and the gap of the means
    exceeds the seed-to-seed spread, else "no clear difference". An entrant learned when every one of
    its seeds reached ``learned_at`` times chance (3x: 30 % on ten classes).
    """
    runs = seed_runs(histories)
    if not runs:
        raise ValueError("race_verdict needs at least one trained contender")
    top1 = _top1(runs)
    means = {n: sum(v) / len(v) for n, v in top1.items()}
    config = next(iter(runs.values()))[0].config
    classes = len(config.get("classes", [])) or _CLASSES
    steps = int(config.get("epochs", 1)) * (
        int(config.get("train_size", 0)) // int(config.get("batch_size", 1))
    )
    chance = 100 / classes
    threshold = check_float("learned_at", learned_at, low=1.0) * chance
    ranked = sorted(means, key=means.get, reverse=True)
    leader, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    learned = [n for n in ranked if min(top1[n]) >= threshold]
    stuck = [n for n in ranked if n not in learned]
    c = None
    text = f"Verdict: {label(leader)} had the highest mean val top-1, {means[leader]:.1f}%"
    if runner_up:
        c = verdicts.compare(label(leader), top1[leader], label(runner_up), top1[runner_up], unit="points",
                    what="val top-1")  # fmt: skip
        text += f"; against the runner-up, {c.text}"
    size = f"{steps} optimiser steps of {config.get('batch_size')} images at {config.get('image_size')} px"
    if not stuck:
        every = "every entrant" if len(top1) > 2 else ("both entrants" if len(top1) == 2 else "the entrant")
        text += f". {every.capitalize()} learned: every seed reached {learned_at:g}x chance ({threshold:.0f}%) after {size}."
    else:
        names = ", ".join(f"{label(n)} (lowest seed {min(top1[n]):.1f}%)" for n in stuck)
        text += (f". {len(learned)} of {len(top1)} learned (every seed at {learned_at:g}x chance, {threshold:.0f}%), "
                 f"not {names}: {size} were too few for {'it' if len(stuck) == 1 else 'them'}.")  # fmt: skip
    return RaceVerdict(leader, runner_up, c, chance, threshold, learned, stuck, steps, text)


def race_table(histories: Mapping[str, History | Sequence[History]]) -> pd.DataFrame:
    """One row per trained contender: the recipe it got and where its seeds ended, best mean top-1 first."""
    import pandas as pd

    rows = []
    for name, runs in seed_runs(histories).items():
        c, top1 = runs[0].config, [100 * h.final["val_top1"] for h in runs]
        tag = ""
        if c.get("is_standin"):
            tag = " (stand-in, not Imagenette)" if c.get("data") == "standin" else " (not Imagenette)"
        rows.append({
            "model": label(name),
            "data": f"{c.get('data')}{tag}",
            "train / val images": f"{c.get('train_size')} / {c.get('val_size')}",
            "epochs": len(runs[0]),
            "px": c.get("image_size"),
            "batch": c.get("batch_size"),
            "seeds": len(runs),
            "val top-1 %": sum(top1) / len(top1),
            "val top-1 % by seed": ", ".join(f"{t:.1f}" for t in top1),
            "seed spread (points)": max(top1) - min(top1),
            "val top-5 %": sum(100 * h.final["val_top5"] for h in runs) / len(runs),
            "train images/s": sum(h.final["images_per_s"] for h in runs) / len(runs),
            "seconds per run": sum(e["seconds"] for h in runs for e in h.epochs) / len(runs),
        })  # fmt: skip
    frame = pd.DataFrame(rows).set_index("model").sort_values("val top-1 %", ascending=False)
    return dashed(frame.round({"val top-1 %": 1, "seed spread (points)": 1, "val top-5 %": 1,
                               "train images/s": 1, "seconds per run": 1}))  # fmt: skip
