"""Planning a run: what a budget buys on this device (``plan_budget``), what a race of several models
can afford (``race_plan``), and every setting a ``TrainConfig`` left open (``settle``): the learning
rate (``default_lr``) and the recipe for that many epochs (``brief_recipe``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..checks import check_choice, check_int
from ..data import CROP_SCALE, EVAL_CROP
from ..registry import entry
from ..summary import count_macs
from ..zoo import build
from .config import OPTIMIZERS, TrainConfig
from .env import resolve_device

__all__ = [
    "BRIEF_EPOCHS",
    "BUDGETS",
    "BUDGET_ENV",
    "Plan",
    "Recipe",
    "brief_recipe",
    "default_lr",
    "plan_budget",
    "race_plan",
    "settle",
]

BUDGETS = ("brief",)


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
    name, min_size = model_name_and_min_size(model)
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
        per_thread = _CPU_GMACS_PER_THREAD.get(family_of(model), _CPU_GMACS_DEFAULT) * 1e9
        rate = per_thread * (1 + 0.5 * (threads - 1))
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


def model_name_and_min_size(model: str | nn.Module | None) -> tuple[str, int]:

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


def family_of(model: str | nn.Module | None) -> str | None:
    """The registry family of a model or model name ("resnet"), or None for anything unregistered."""
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


@dataclass(frozen=True)
class _SGDRecipe:
    """Where a family's Nesterov SGD recipe departs from the rule (None: the rule's setting)."""

    lr: float = 0.05  # the peak rate, times batch/128
    warmup: float | None = None  # the warm-up as a fraction of the run's epochs
    label_smoothing: float | None = None


# Families whose SGD recipe differs from the rule, each chosen on held-out training images by
# bench/recipe.py (its docstring has the runs).
_SGD_BY_FAMILY = {
    "resnet": _SGDRecipe(lr=0.025),
    "vgg": _SGDRecipe(lr=0.025),
    "efficientnet": _SGDRecipe(lr=0.025, warmup=0.3, label_smoothing=0.0),
}


def default_lr(optimizer: str, batch_size: int, family: str | None = None) -> float:
    """``fit``'s peak learning rate: 0.05 x batch/128 for Nesterov SGD (0.025 x batch/128 for the
    ResNet, VGG and EfficientNet ``family``), 2e-3 x batch/128 for AdamW.

    SGD's is Goyal et al.'s linear scaling rule (2017: 0.1 x batch/256). It was 0.2 x batch/128 until
    bench/recipe.py measured brief runs on Fashion-MNIST at 32 px (seed 0): ResNet-18 at batch 128 over
    5 epochs ended at 54.4 % with 0.2 and 76.9 % with 0.1; at batch 64 over 3 epochs 73.8 % (0.2),
    77.7 % (0.1) and 78.0 % (0.05). A brief run has no epochs in which to recover from a too-large step,
    and GoogLeNet at 0.1 x batch/128 went from 75.9 % to 57.9 % when a few pixels at the image border
    were sampled differently: the edge of stability. The smaller rate keeps runs away from it.

    ResNet, VGG and EfficientNet sit closer to that edge, and get half the rate. Chosen on held-out
    training images (bench/recipe.py: 1,000 of its 5,000, never the validation images it reports):
    - VGG-11-BN, 5 epochs at batch 128: the plain loop scored 75.3 % at 0.025 x batch/128 and 38.5 %
      at 0.05; at 0.1 and 0.2 it stayed at chance.
    - EfficientNet-B0, 3 epochs at batch 64: fit scored 42.5 / 49.8 / 56.0 % (seeds 0, 1, 2) at
      0.025 against 40.6 / 45.3 / 47.5 % at 0.05, every seed ahead; the plain loop chose 0.025 too.
    - ResNet-18: fit scored 78.2 % on the held-out images at 0.025 against 77.2 % at 0.05 (5 epochs,
      batch 128; seeds 0-5, every seed ahead), and 76.2 % against 76.6 % at 3 epochs, batch 64 (3 of 6
      seeds ahead: level); the plain loop's grids chose 0.025 and 0.05 there.
    GoogLeNet keeps 0.05: fit's held-out runs at 5 epochs, batch 128 gave 76.3 % at 0.025 against
    75.6 % at 0.05 (seeds 0-5, 4 of 6 ahead), no clear difference, and the plain loop chose 0.05 there.
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if optimizer == "adamw":
        return 2e-3 * batch_size / 128
    return _SGD_BY_FAMILY.get(family, _SGDRecipe()).lr * batch_size / 128


# Without a budget a run is this long, this large and at this resolution.
_DEFAULT_EPOCHS, _DEFAULT_BATCH, _DEFAULT_SIZE = 5, 64, 128


def settle(config: TrainConfig, plan: Plan | None = None, family: str | None = None) -> TrainConfig:
    """``config`` with every setting it left as None decided: what is given wins, then the budget's
    ``plan``, then fit's defaults; the learning rate from ``default_lr`` (for the model's ``family``),
    weight decay by optimizer, and augmentation and label smoothing from ``brief_recipe`` for that many
    epochs.

    With SGD an EfficientNet also warms up for 30 % of the run (OneCycleLR's share; otherwise a
    quarter, at most one epoch, or the budget's one epoch) and trains without label smoothing. Chosen
    on held-out training images (bench/recipe.py, seeds 0-8): at 5 epochs, batch 128 fit's mean rose
    from 52.3 % to 58.8 % (ahead on 8 of 9 seeds; its worst run from 36.8 % to 47.1 %), where a longer
    warm-up alone gave 54.8 % and no smoothing alone 55.4 %; at 3 epochs, batch 64 it stayed level
    (52.1 % and 52.2 %). AdamW runs keep the common recipe: the change was measured with SGD only.
    """

    def given(value, otherwise):
        return otherwise if value is None else value

    epochs = given(config.epochs, plan.epochs if plan else _DEFAULT_EPOCHS)
    batch_size = given(config.batch_size, plan.batch_size if plan else _DEFAULT_BATCH)
    recipe = brief_recipe(epochs)
    sgd = _SGD_BY_FAMILY.get(family, _SGDRecipe()) if config.optimizer == "sgd" else _SGDRecipe()
    generic = plan.warmup_epochs if plan else min(1.0, epochs / 4)
    # A family's own warm-up was measured for it, so it wins over the budget's generic one.
    warmup = given(config.warmup_epochs, generic if sgd.warmup is None else sgd.warmup * epochs)
    smoothing = recipe.label_smoothing if sgd.label_smoothing is None else sgd.label_smoothing
    return config.replace(
        epochs=epochs,
        batch_size=batch_size,
        image_size=given(config.image_size, plan.image_size if plan else _DEFAULT_SIZE),
        lr=given(config.lr, default_lr(config.optimizer, batch_size, family)),
        weight_decay=given(config.weight_decay, 5e-4 if config.optimizer == "sgd" else 0.05),
        warmup_epochs=min(float(warmup), float(epochs)),
        label_smoothing=given(config.label_smoothing, smoothing),
        crop_scale=given(config.crop_scale, recipe.crop_scale),
        eval_crop=given(config.eval_crop, recipe.eval_crop),
        shift=given(config.shift, recipe.shift),
    )


# ----------------------------------------------------------------------------------------------------------
# The race: one plan for several models trained side by side (nets.lab.showdown.race)
# ----------------------------------------------------------------------------------------------------------


def _images_per_class(steps: int, batch_size: int, epochs: int, classes: int) -> int:
    """The fewest images per class that give ``steps`` optimiser steps (incomplete batches are dropped)."""
    per_epoch = -(-steps // epochs)
    return -(-per_epoch * batch_size // classes)


def race_plan(
    names: Sequence[str],
    budget: str = "brief",
    device: str | torch.device = "auto",
    *,
    data=None,
    seconds: float = 20.0,
    min_steps: int = 80,
    epochs: int | None = None,
    image_size: int | None = None,
    batch_size: int = 16,
    seeds: int = 1,
) -> tuple[Plan, list[str], dict[str, str]]:
    """One training plan for a race, the entrants it can afford and why the others stay out.

    Each contender's own plan comes from ``plan_budget(budget, device, name, data)`` (``data`` tells it
    the images' resolution: low-resolution data such as Fashion-MNIST trains at 32 px on a CPU). On a
    GPU (or Apple MPS) the budget is a real brief run and every contender enters; the common plan takes
    the largest resolution and the smallest batch, epochs and subset among them (on CUDA they agree
    anyway).

    On a CPU each contender's plan is a preview sized to take about a minute on its own, so a race of
    all of them would take many minutes. Instead the race gets ``seconds`` in all (estimated for an idle
    machine from ``plan_budget``'s per-image costs; ten times as many for a publishing run,
    ``NETS_BUDGET=publish``) for ``seeds`` runs of every entrant, and a floor of ``min_steps`` optimiser
    steps for every run: the recipe is ``epochs`` (default 1) at ``image_size`` (default: the previews'
    size), batch ``batch_size``; contenders that cannot take that resolution stay out, and the others
    enter cheapest first while every entrant still gets ``seeds`` runs of ``min_steps`` steps within the
    time. Leftover time buys more images (more steps), the same number for everyone. A network needs some
    dozens of steps to leave chance at all: a floor on seconds alone would give a slow one only a handful.
    ``plan.estimate_s`` covers all the runs.

    Returns ``(plan, entrants, skipped)`` where ``skipped`` maps a name to the reason it is left out.
    """
    if not names:
        raise ValueError("race_plan needs at least one contender")
    min_steps = check_int("min_steps", min_steps)
    batch_size = check_int("batch_size", batch_size)
    seeds = check_int("seeds", seeds)
    names = [entry(n).name for n in names]
    classes = len(data.classes) if data is not None else _CPU_PREVIEW_CLASSES
    plans = {n: plan_budget(budget, device, n, data) for n in names}
    if plans[names[0]].device != "cpu":  # GPU / MPS: a real brief run for every contender
        return _accelerator_race(plans, classes, min_steps, epochs, image_size), names, {}
    plan, entrants, skipped = _cpu_race(plans, classes, seconds / seeds, min_steps, epochs or 1, image_size,
                                        batch_size, seeds)  # fmt: skip
    return dataclasses.replace(plan, estimate_s=plan.estimate_s * seeds), entrants, skipped


def _cpu_race(plans: dict[str, Plan], classes: int, seconds: float, min_steps: int, epochs: int,
              image_size: int | None, batch_size: int, seeds: int = 1) -> tuple[Plan, list[str], dict[str, str]]:  # fmt: skip
    """On a CPU: the entrants that ``seconds`` (for one run of each) afford with ``min_steps`` steps
    each, cheapest first, and one plan that spends the time on as many images as it buys."""
    names, first = list(plans), next(iter(plans.values()))
    if first.kind != "preview":  # NETS_BUDGET=publish: ten times the compute
        seconds = seconds * _PUBLISH_FACTOR
    size = image_size or min(p.image_size for p in plans.values())
    floor = _images_per_class(min_steps, batch_size, epochs, classes)
    cost, skipped = _costs_per_image(plans, size)
    entrants = _cheapest_first(cost, skipped, floor * classes * epochs, seconds, min_steps, seeds)
    if not entrants:
        raise ValueError(
            f"no contender gets {_runs(seeds, min_steps)} in {seconds * seeds:g} s on this CPU; "
            "raise seconds= or lower min_steps= or seeds="
        )
    per_image = sum(cost[n] for n in entrants)
    subset = max(floor, int(seconds / (classes * epochs * per_image)))
    plan = Plan(
        budget=first.budget,
        device=first.device,
        model=f"{len(entrants)} contenders",
        epochs=epochs,
        image_size=size,
        batch_size=batch_size,
        subset=subset,
        warmup_epochs=min(first.warmup_epochs, epochs / 4),
        estimate_s=subset * classes * epochs * per_image,
        kind=first.kind,
    )
    order = {n: i for i, n in enumerate(names)}
    return plan, sorted(entrants, key=order.get), {n: skipped[n] for n in names if n in skipped}


def _accelerator_race(plans: dict[str, Plan], classes: int, min_steps: int, epochs: int | None,
                      image_size: int | None) -> Plan:  # fmt: skip
    """On a GPU or MPS: the largest resolution and the smallest batch, epochs and subset of the plans."""
    subsets = [p.subset for p in plans.values() if p.subset is not None]
    plan = dataclasses.replace(
        next(iter(plans.values())),
        model=f"{len(plans)} contenders",
        epochs=epochs or min(p.epochs for p in plans.values()),
        image_size=image_size or max(p.image_size for p in plans.values()),
        batch_size=min(p.batch_size for p in plans.values()),
        subset=min(subsets) if subsets else None,
        estimate_s=None,
    )
    if plan.subset is not None:  # the floor on steps holds here too
        floor = _images_per_class(min_steps, plan.batch_size, plan.epochs, classes)
        plan = dataclasses.replace(plan, subset=max(plan.subset, floor))
    return plan


def _costs_per_image(plans: dict[str, Plan], size: int) -> tuple[dict[str, float], dict[str, str]]:
    """Estimated seconds per image per epoch (training + validating one) at ``size`` px for each
    contender that can run at that size, and the reason for each that cannot."""
    cost, skipped = {}, {}
    for n, p in plans.items():
        if entry(n).min_size > size:
            skipped[n] = f"needs at least {entry(n).min_size} px, the race runs at {size} px"
        elif p.estimate_s is None:
            skipped[n] = "its cost could not be estimated"
        else:
            cost[n] = p.estimate_s / (p.subset * _CPU_PREVIEW_CLASSES * p.epochs) * (size / p.image_size) ** 2
    return cost, skipped


def _runs(seeds: int, steps: int) -> str:
    return f"{steps} steps" if seeds == 1 else f"{seeds} runs of {steps} steps"


def _cheapest_first(cost: dict[str, float], skipped: dict[str, str], images: int, seconds: float,
                    min_steps: int, seeds: int = 1) -> list[str]:  # fmt: skip
    """Enter contenders cheapest first while all of them still get their ``images`` (``min_steps``
    steps) within ``seconds`` a run (``seeds`` runs each); the reason for each left out goes into
    ``skipped``, in seconds for all its runs."""
    entrants: list[str] = []
    whole = seconds * seeds
    for n in sorted(cost, key=cost.get):
        total = sum(cost[m] for m in [*entrants, n])
        if images * total <= seconds:
            entrants.append(n)
            continue
        if images * cost[n] > seconds:  # seconds for its min_steps steps alone, estimated
            why = f"too slow for {_runs(seeds, min_steps)} in {whole:g} s on this CPU"
        else:
            others = images * (total - cost[n]) * seeds
            why = (f"no time left for its {_runs(seeds, min_steps)} after the cheaper entrants' "
                   f"{others:.0f} s of {whole:g} s")  # fmt: skip
        skipped[n] = f"{why} (about {cost[n] * 1e3:.0f} ms per image)"
    return entrants
