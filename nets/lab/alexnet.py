"""What the AlexNet chapter measures: the layer arithmetic, Figure 1's experiment, LRN, the augmentation.

- :func:`layer_arithmetic`: ``alexnet2012``'s output sizes, receptive fields, parameters and MACs from
  its table (``nets.models.alexnet.ALEXNET_2012``), with "what if conv1 were ..." as an option;
  :func:`map_sides` measures the same map sizes on a built model.
- :class:`Figure1Net`, :func:`steps_to_error` and :func:`figure1_verdict`: the paper's Figure 1 (ReLU
  against tanh: optimiser steps to a training-error target, the verdict from
  ``nets.lab.verdicts.compare``); :func:`flat_fraction`: where each activation stops passing gradient.
- :func:`figure1_study`, :class:`Figure1Study`: the same with the paper's protocol (each unit's learning
  rate chosen on its own, several seeds, steps to a range of targets); :func:`resized_split` makes its
  runs cheap.
- :func:`neighbour_correlation`: how much structure a first layer's filters have (noise scores about 0).
- :func:`lrn_divisor`: what local response normalisation divides each activation by.
- :func:`random_crop_flip`, :func:`rgb_pca`, :func:`pca_colour_jitter`: the paper's Section 4.1.
- :func:`he_init_`: He et al.'s initialisation, with which the chapter trains ``alexnet2012``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_choice, check_float, check_int
from ..data import MEAN, STD, Split, balanced_subset, crop_resize, raw_batches
from ..layers import check_images, local_response_norm
from ..models.alexnet import ACTIVATIONS, ALEXNET_2012, FC_WIDTH, POOL_OUTPUT, check_groups
from ..probes import grow_field, record
from .tables import dashed
from .verdicts import Comparison, compare

__all__ = [
    "PAPER_SPEEDUP",
    "ErrorRun",
    "Figure1Net",
    "Figure1Study",
    "figure1_study",
    "figure1_verdict",
    "flat_fraction",
    "he_init_",
    "layer_arithmetic",
    "lrn_divisor",
    "map_sides",
    "neighbour_correlation",
    "pca_colour_jitter",
    "random_crop_flip",
    "resized_split",
    "rgb_pca",
    "steps_to_error",
]


def layer_arithmetic(
    input_size: int = 227,
    *,
    conv1: tuple[int, int, int] | None = None,
    overlapping_pool: bool = True,
    groups: int = 2,
    num_classes: int = 1000,
):
    """``alexnet2012``'s layers by arithmetic: output size, receptive field, parameters and MACs of each.

    A pandas DataFrame with one row per convolution, max-pool and fully-connected layer (LRN and the
    activations change no shape and have no weights): ``layer``, ``kernel``, ``stride``, ``channels``,
    ``size`` (the side of the square output map), ``receptive_field`` (input pixels one output unit
    sees; the FC layers see the whole image), ``params`` and ``macs`` (multiply-accumulates for one
    image). Every column but ``layer`` holds integers: ``int64``, or pandas' nullable ``Int64`` where
    a row has no value (``kernel``, ``stride`` and ``receptive_field`` of the FC layers), so a table
    shows 55, never 55.0. ``conv1=(kernel, stride, padding)`` replaces conv1's 11, 4, 0 to ask "what if". When conv5's
    maps are not 6x6, a row for the model's adaptive average pool (not in the paper) resizes them for fc6.
    The numbers equal those of the built model (its hooks, ``count_params`` and ``count_macs``).
    """
    import pandas as pd

    check_int("input_size", input_size)
    check_int("num_classes", num_classes)
    table = list(ALEXNET_2012)
    if conv1 is not None:
        if not isinstance(conv1, (tuple, list)) or len(conv1) != 3:
            raise ValueError(f"conv1 must be (kernel, stride, padding) as three integers, got {conv1!r}")
        kernel, stride, padding = conv1
        check_int("conv1's kernel", kernel)
        check_int("conv1's stride", stride)
        check_int("conv1's padding", padding, minimum=0)
        table[0] = table[0]._replace(kernel_size=kernel, stride=stride, padding=padding)
    check_groups(groups, table)
    pool_kernel = 3 if overlapping_pool else 2
    rows = []
    channels, size, field, jump = 3, input_size, 1, 1  # jump: input pixels between neighbouring units

    def add(layer, kernel, stride, params, macs, rf=None):
        rows.append({"layer": layer, "kernel": kernel, "stride": stride, "channels": channels, "size": size,
                     "receptive_field": rf, "params": params, "macs": macs})  # fmt: skip

    for i, row in enumerate(table, start=1):
        size = (size + 2 * row.padding - row.kernel_size) // row.stride + 1
        if size < 1:
            raise ValueError(
                f"an input of {input_size} px is too small: {row.name} ({row.kernel_size}x{row.kernel_size}, "
                f"stride {row.stride}) has no output left"
            )
        fan_in = channels // (groups if row.two_towers else 1) * row.kernel_size**2
        channels = row.out_channels
        field, jump = grow_field(field, jump, row.kernel_size, row.stride)
        add(
            row.name,
            row.kernel_size,
            row.stride,
            channels * fan_in + channels,
            channels * size**2 * fan_in,
            field,
        )
        if row.pool:
            if size < pool_kernel:
                raise ValueError(
                    f"an input of {input_size} px is too small: {row.name}'s {size}x{size} maps are smaller "
                    f"than pool{i}'s {pool_kernel}x{pool_kernel} window"
                )
            size = (size - pool_kernel) // 2 + 1
            field, jump = grow_field(field, jump, pool_kernel, 2)
            add(f"pool{i}", pool_kernel, 2, 0, 0, field)
    if size != POOL_OUTPUT:
        size = POOL_OUTPUT
        add("avgpool", None, None, 0, 0)
    features = channels * POOL_OUTPUT**2
    for name, width in (("fc6", FC_WIDTH), ("fc7", FC_WIDTH), ("fc8", num_classes)):
        channels, size = width, 1
        add(name, None, None, features * width + width, features * width)
        features = width
    frame = pd.DataFrame(rows)
    return dashed(frame.astype({**dict.fromkeys(_WHOLE, "int64"), **dict.fromkeys(_GAPPED, "Int64")}))


_WHOLE = ("channels", "size", "params", "macs")  # a value in every row
_GAPPED = ("kernel", "stride", "receptive_field")  # none for the FC layers (and the adaptive pool)


def map_sides(model: nn.Module, input_size: int = 227):
    """The side of every convolution's and max-pool's output map in ``model.features``, measured.

    Runs one ``input_size`` x ``input_size`` image through ``model`` (on its device, the meta device
    included, where only shapes are computed) with forward hooks (``nets.probes.record``). Returns
    a pandas Series of ``int64`` named by layer (``conv1``, ``pool1``...), in forward order: the ``size``
    column of ``layer_arithmetic`` for the same model, measured instead of computed.
    """
    import pandas as pd

    check_int("input_size", input_size)
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Module):
        raise TypeError(f"map_sides expects an AlexNet with a .features part, got {type(model).__name__}")
    watched = {name: m for name, m in features.named_children() if isinstance(m, (nn.Conv2d, nn.MaxPool2d))}
    side = lambda _module, _inputs, output: output.shape[-1]  # noqa: E731
    shapes = record(model, torch.zeros(1, 3, input_size, input_size), watched, capture=side)
    return pd.Series(shapes, dtype="int64", name="map side")


class Figure1Net(nn.Module):
    """A small four-layer CNN for the experiment of the paper's Figure 1: ReLU against tanh.

    The paper trains "a four-layer convolutional neural network" on CIFAR-10 (32x32 images) with each
    activation and reports that the ReLU network reached 25% training error six times faster; it does
    not list the layers. This one has the usual shape of the CIFAR-10 networks of the time: three 5x5
    convolutions (32, 32 and 64 channels, padding 2), each followed by the activation and a 3x3 max-pool
    with stride 2, then one fully-connected layer. It has 85,098 parameters for 10 classes (CIFAR-10's
    count, hence the default). Any input of at least 15 px works: the last maps are average-pooled to 3x3.
    ``widths`` changes the three convolutions' channels (the depth stays the paper's four layers).
    """

    def __init__(
        self, num_classes: int = 10, *, activation: str = "relu", widths: tuple[int, int, int] = (32, 32, 64)
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        if not isinstance(widths, (tuple, list)) or len(widths) != 3:
            raise ValueError(f"widths must be three channel counts, one per convolution, got {widths!r}")
        for i, width in enumerate(widths, start=1):
            check_int(f"conv{i}'s width", width)
        self.name = f"figure1_net ({activation})"
        self.min_size = 15
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (c_in, c_out) in enumerate(zip((3, *widths[:2]), widths, strict=True), start=1):
            layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, 5, padding=2)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            layers[f"pool{i}"] = nn.MaxPool2d(3, stride=2)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Linear(widths[-1] * 3 * 3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.min_size, "Figure1Net", model=self)
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@dataclass(frozen=True)
class ErrorRun:
    """One run of :func:`steps_to_error`: the training error of every step and when it met the target.

    ``errors[i]`` is the error on step i+1's batch, measured by its forward pass before the update (the
    training error cuda-convnet reported as it went); ``running`` averages it over the last ``window``
    steps. ``steps`` is the first step whose running error is at most ``target``, None if no step within
    the run's ``max_steps`` got there. ``lr`` and ``seed`` are the run's; ``diverged``: its loss became
    NaN or infinite and it stopped there.
    """

    activation: str
    target: float
    window: int
    max_steps: int
    errors: tuple[float, ...]
    steps: int | None
    seconds: float
    lr: float | None = None
    seed: int | None = None
    diverged: bool = False

    @property
    def running(self) -> list[float]:
        """The training error over the last ``window`` steps, for every step from ``window`` on."""
        w = self.window
        return [sum(self.errors[i - w : i]) / w for i in range(w, len(self.errors) + 1)]

    @property
    def final_error(self) -> float:
        """The running training error at the last step taken (NaN before ``window`` steps)."""
        running = self.running
        return running[-1] if running else math.nan

    def steps_to(self, target: float) -> int | None:
        """The first step whose running error is at most ``target``; None if none in this run got there.

        ``steps_to(run.target) == run.steps``; a ``target`` below the run's own can only be met where the
        run went on, so a run that stopped at its target answers None for lower ones.
        """
        check_float("target", target, low=0.0, high=1.0)
        return next((i + self.window for i, e in enumerate(self.running) if e <= target), None)


def steps_to_error(
    net: nn.Module,
    split,
    *,
    target: float = 0.25,
    max_steps: int = 300,
    window: int = 20,
    batch_size: int = 32,
    lr: float = 0.01,
    momentum: float = 0.9,
    image_size: int = 32,
    seed: int = 0,
    activation: str = "",
    on_divergence: str = "raise",
) -> ErrorRun:
    """Train ``net`` on ``split`` (a ``nets.data.Split``) until its training error falls to ``target``.

    From the paper's Figure 1 it keeps the default ``target``, 25%, and "no regularization of any kind" (no
    weight decay, no dropout, no augmentation: every image is resized whole to ``image_size``). The paper
    chose each unit's learning rate separately (:func:`figure1_study` does); here ``lr`` is whatever the
    caller passes for the run. The optimiser (classical SGD with ``momentum`` at a constant rate) and
    ``batch_size`` are our choices: the paper does not give them for this experiment. Batches come in a
    fresh random order every epoch from ``seed``, on the device ``net`` is on. After every step the error
    of the last ``window`` batches is compared with ``target``; the run stops at the first step where it is
    at most ``target``, or after ``max_steps``. A loss that is not finite raises RuntimeError, or with
    ``on_divergence="stop"`` ends the run there (``diverged``: a rate too high for the unit, in a sweep).
    Returns an :class:`ErrorRun` (``activation`` is only its label).
    """
    check_float("target", target, low=0.0, high=1.0, high_open=True)
    check_int("max_steps", max_steps)
    check_int("window", window)
    check_int("image_size", image_size, minimum=8)
    check_float("lr", lr, low=0.0, low_open=True)
    check_float("momentum", momentum, low=0.0, high=1.0, high_open=True)
    check_int("batch_size", batch_size)
    check_choice("on_divergence", on_divergence, ("raise", "stop"))
    if len(split) < batch_size:
        raise ValueError(f"the split has {len(split)} images, fewer than one batch of {batch_size}")
    device = next(net.parameters()).device  # the batches go where the network is
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    net.train()
    errors: list[float] = []
    steps, diverged = None, False
    start = time.perf_counter()
    epoch = 0
    while steps is None and not diverged and len(errors) < max_steps:
        for x, y in raw_batches(split, batch_size, train=True, device=device, seed=seed, epoch=epoch):
            b = x.shape[0]
            whole, centre = torch.ones(b, device=device), torch.zeros(b, device=device)
            x = (crop_resize(x.float(), whole, whole, centre, centre, image_size) - mean) / std
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            errors.append((logits.detach().argmax(1) != y).float().mean().item())
            if not math.isfinite(loss.item()):
                if on_divergence == "stop":
                    diverged = True
                    break
                raise RuntimeError(
                    f"the {activation or 'network'}'s loss is {loss.item()} at step {len(errors)}: lower lr"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if len(errors) >= window and sum(errors[-window:]) / window <= target:
                steps = len(errors)
            if steps is not None or len(errors) >= max_steps:
                break
        epoch += 1
    seconds = time.perf_counter() - start
    return ErrorRun(activation, target, window, max_steps, tuple(errors), steps, seconds, lr, seed, diverged)


def resized_split(split, image_size: int, *, per_class: int | None = None, seed: int = 0):
    """``split`` with every image resized whole to ``image_size`` once, optionally ``per_class`` images a class.

    The same resize :func:`steps_to_error` applies to every batch (so a run on the result equals a run on
    ``split``'s same images, up to rounding to uint8), done once instead of at every step: on a CPU that
    is a third of a small network's step. ``per_class`` keeps a balanced random subset
    (``nets.data.balanced_subset``, from ``seed``) first.
    """
    check_int("image_size", image_size, minimum=8)
    if per_class is not None:
        split = balanced_subset(split, per_class, seed=seed)
    chunks = []
    for i in range(0, len(split), 512):
        x = split.images[i : i + 512].float()
        whole, centre = torch.ones(x.shape[0]), torch.zeros(x.shape[0])
        x = crop_resize(x, whole, whole, centre, centre, image_size)
        chunks.append(x.round().clamp(0, 255).to(torch.uint8))
    return Split(torch.cat(chunks), split.labels.clone())


PAPER_SPEEDUP = 6.0  # Figure 1: ReLU reached 25% training error on CIFAR-10 six times faster than tanh
PAPER_TARGET = 0.25


@dataclass(frozen=True)
class Figure1Study:
    """The paper's Figure 1 protocol, run by :func:`figure1_study`: each unit at its own fastest rate, several seeds.

    ``sweep[unit][lr]``: the first seed's run at each rate tried (a rate is stopped where it falls behind
    the fastest so far: it can no longer be the fastest). ``runs[unit]``: one run per seed at the unit's
    chosen rate (the first is the sweep's). ``trained[unit]``: the first seed's network after its run.
    ``data`` names the images the runs trained on.
    """

    sweep: dict[str, dict[float, ErrorRun]]
    runs: dict[str, tuple[ErrorRun, ...]]
    trained: dict[str, nn.Module]
    data: str = ""

    @property
    def rates(self) -> dict[str, float]:
        """Each unit's chosen learning rate."""
        return {unit: runs[0].lr for unit, runs in self.runs.items()}

    @property
    def per_unit_rates(self) -> bool:
        """Whether every unit's rate was chosen as the fastest of two or more: the paper's protocol."""
        return all(len(self.sweep.get(unit, {})) >= 2 for unit in self.runs)

    def steps(self, unit: str, target: float) -> list[float]:
        """Each seed's steps to ``target`` for ``unit``: ``math.inf`` where a seed did not get there."""
        return [math.inf if (n := run.steps_to(target)) is None else float(n) for run in self.runs[unit]]

    def curves(self, targets) -> dict[str, list[list[float]]]:
        """``{unit: [[steps to each target] for each seed]}``, as ``nets.viz.seed_bands`` draws them."""
        return {unit: [list(col) for col in zip(*(self.steps(unit, t) for t in targets), strict=True)]
                for unit in self.runs}  # fmt: skip

    def compare(self, target: float = PAPER_TARGET) -> Comparison:
        """``nets.lab.verdicts.compare`` on the two units' steps to ``target`` (fewer is better)."""
        (a, b) = self.runs  # the two units, in the order they were run
        what = f"steps to {target:.0%} training error"
        return compare(a, self.steps(a, target), b, self.steps(b, target), higher_is_better=False,
                       scale="ratio", what=what)  # fmt: skip

    def sweep_table(self):
        """A DataFrame: steps to the runs' target for every unit (rows) and rate tried (columns), as text."""
        import pandas as pd

        def cell(run: ErrorRun) -> str:
            if run.diverged:
                text = f"diverged at step {len(run.errors)}"
            elif run.steps is not None:
                text = str(run.steps)
            else:
                text = f"not by step {len(run.errors)} ({run.final_error:.0%})"
            return text + (" (chosen)" if run.lr == self.rates[run.activation] else "")

        rows = {unit: {f"lr {lr:g}": cell(run) for lr, run in sorted(rates.items())}
                for unit, rates in self.sweep.items()}  # fmt: skip
        return pd.DataFrame(rows).T.fillna("")


def figure1_study(
    split,
    num_classes: int,
    *,
    units: tuple[str, str] = ("ReLU", "tanh"),
    rates: tuple[float, ...] = (0.003, 0.01, 0.03),
    seeds: tuple[int, ...] = (0, 1, 2),
    target: float = PAPER_TARGET,
    max_steps: int = 300,
    widths: tuple[int, int, int] = (32, 32, 64),
    data: str = "",
    **options,
) -> Figure1Study:
    """The paper's Figure 1 protocol: each unit's learning rate chosen on its own, then several seeds.

    For each unit (``"ReLU"``, ``"tanh"``), a :class:`Figure1Net` trains on ``split`` with
    :func:`steps_to_error` (no regularisation) on the first seed at every rate of ``rates`` in turn;
    its rate is the one that reached ``target`` in the fewest steps (the lowest final error where none
    did; a rate that diverges is out). A rate is stopped once it has taken as many steps as the fastest
    so far, since it can no longer beat it: list the likeliest rate first. Then every other seed of
    ``seeds`` trains at that rate (the seed sets the initial weights and the order of the batches). All
    runs go on to ``target``, the lowest training error of interest, so one run answers every higher
    target too (:meth:`ErrorRun.steps_to`). ``options`` go to :func:`steps_to_error` (``batch_size``,
    ``image_size``, ``window``, ``momentum``).
    """
    check_int("num_classes", num_classes)
    if len(units) != 2 or any(u.lower() not in ACTIVATIONS for u in units):
        raise ValueError(
            f"units must name two of {tuple(ACTIVATIONS)} (e.g. ('ReLU', 'tanh')), got {units!r}"
        )
    if not rates or not seeds or len(seeds) < 2:
        raise ValueError(
            f"figure1_study needs at least one rate and two seeds, got rates={rates!r}, seeds={seeds!r}"
        )
    for lr in rates:
        check_float("every rate", lr, low=0.0, low_open=True)

    def run(unit: str, lr: float, seed: int, cap: int) -> tuple[ErrorRun, nn.Module]:
        torch.manual_seed(seed)  # the initial weights: the same for both units
        net = Figure1Net(num_classes, activation=unit.lower(), widths=widths)
        return steps_to_error(net, split, target=target, max_steps=cap, lr=lr, seed=seed, activation=unit,
                              on_divergence="stop", **options), net  # fmt: skip

    sweep, runs, trained = {}, {}, {}
    for unit in units:
        sweep[unit], best, best_net = {}, None, None
        for lr in rates:
            cap = max_steps if best is None or best.steps is None else best.steps
            sweep[unit][lr], net = run(unit, lr, seeds[0], cap)
            if _faster(sweep[unit][lr], best):
                best, best_net = sweep[unit][lr], net
        runs[unit] = (best, *(run(unit, best.lr, seed, max_steps)[0] for seed in seeds[1:]))
        trained[unit] = best_net
    return Figure1Study(sweep, runs, trained, data)


def _faster(run: ErrorRun, best: ErrorRun | None) -> bool:
    """Whether ``run`` beats ``best``: it reached the target in fewer steps, or, neither reaching it, ended lower."""
    if best is None:
        return True
    if run.diverged or best.diverged:
        return best.diverged and not run.diverged
    if run.steps is not None or best.steps is not None:
        return run.steps is not None and (best.steps is None or run.steps < best.steps)
    return run.final_error < best.final_error


def figure1_verdict(study: Figure1Study, target: float = PAPER_TARGET) -> str:
    """One sentence on the two units' steps to ``target``, decided by ``nets.lab.verdicts.compare``.

    It names the paper's Figure 1 only where the protocol matches (each unit's rate the fastest of a
    grid, no regularisation, which :func:`steps_to_error` never adds): then it sets the result beside the
    paper's 6x. Otherwise it says what was measured, at which rates.
    """
    result = study.compare(target)
    rates = ", ".join(f"{unit} {lr:g}" for unit, lr in study.rates.items())
    on = f" on {study.data}" if study.data else ""
    if not study.per_unit_rates:
        return f"At learning rates not chosen per unit ({rates}){on}: {result.text}."
    head = (
        f"With the protocol of the paper's Figure 1 (each unit at its own fastest rate: {rates}; "
        f"no regularisation){on}"
    )
    paper = f"the paper's Figure 1, which measured ReLU {PAPER_SPEEDUP:g}x faster to {PAPER_TARGET:.0%} on CIFAR-10"
    if result.winner is None:
        return f"{head}: {result.text}. Not the speed-up of {paper}."
    direction = "The direction of" if result.winner == "ReLU" else "The opposite of"
    return f"{head}: {result.text}. {direction} {paper}."


def neighbour_correlation(weight: torch.Tensor) -> torch.Tensor:
    """For each filter of a conv ``weight`` (out, in, kh, kw): how alike neighbouring weights are, from -1 to 1.

    The correlation between every weight and its right-hand and lower neighbour in the same input
    channel, after removing each channel's mean: about 0 for independent noise (a fresh He or PyTorch
    initialisation: slightly below 0), near 1 for a smooth blob or a broad edge, negative
    for a checkerboard. A first layer that has learned edges and blobs scores well above its
    initialisation; so does the change training made to it. A filter of constant weights scores 0.
    """
    if weight.ndim != 4 or min(weight.shape[-2:]) < 2:
        raise ValueError(
            f"weight must be a conv weight (out, in, kh, kw) with kh, kw >= 2, got shape {tuple(weight.shape)}"
        )
    w = weight.detach().float()
    w = w - w.mean(dim=(-2, -1), keepdim=True)
    across = (w[..., :, 1:] * w[..., :, :-1]).mean(dim=(-3, -2, -1))
    down = (w[..., 1:, :] * w[..., :-1, :]).mean(dim=(-3, -2, -1))
    variance = w.pow(2).mean(dim=(-3, -2, -1))
    return torch.where(
        variance > 0, (across + down) / 2 / variance.clamp_min(1e-30), torch.zeros_like(variance)
    )


def flat_fraction(model: nn.Module, x: torch.Tensor, slope: float = 0.1) -> dict[str, float]:
    """For each ReLU or tanh layer of ``model``, the fraction of its units whose gradient is below ``slope``.

    That is where learning stalls: a ReLU passes no gradient where its input is negative, a tanh passes
    ``1 - tanh(z)**2``, below 0.1 once ``|z| > 1.82`` (its saturated tails). Runs ``model`` once on ``x``
    with ``nets.probes.record`` (eval mode, its mode restored); keys are the activation modules'
    names, in forward order.
    """
    check_float("slope", slope, low=0.0, high=1.0, low_open=True)
    if not any(isinstance(m, (nn.ReLU, nn.Tanh)) for m in model.modules()):
        raise ValueError(f"{type(model).__name__} has no nn.ReLU or nn.Tanh layers to measure")

    def flat(module: nn.Module, _inputs, output: torch.Tensor) -> float:
        grad = (output > 0).float() if isinstance(module, nn.ReLU) else 1 - output.pow(2)
        return (grad < slope).float().mean().item()

    return record(model, x, lambda _name, m: isinstance(m, (nn.ReLU, nn.Tanh)), capture=flat)


def he_init_(model: nn.Module, nonlinearity: str = "relu", *, output_std: float | None = None) -> nn.Module:
    """He et al.'s initialisation (2015), in place: every conv and linear weight ~ N(0, 2 / fan_in), biases 0.

    It keeps the size of the signal roughly constant from layer to layer in a ReLU network without
    BatchNorm (``alexnet2012``'s LRN divides by a near-constant at this scale), where PyTorch's default (uniform, std 1 / sqrt(3 fan_in)) divides its variance
    by about six at every ReLU layer, so a freshly built AlexNet's logits start near zero. ``nonlinearity``
    sets the gain (``"relu"``: sqrt(2), ``"tanh"``: 5/3, ``"linear"``: 1); any model works, not only AlexNet.
    ``output_std``: draw the last linear layer (the one that outputs the logits) from N(0, output_std**2)
    instead, e.g. the paper's 0.01: with He's gain there the logits start large and the first loss well
    above ln(classes), so a brief run spends its first steps only shrinking them.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"he_init_ expects an nn.Module, got {type(model).__name__}")
    if output_std is not None:
        check_float("output_std", output_std, low=0.0)
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for module in layers:
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity=nonlinearity)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    linear = [m for m in layers if isinstance(m, nn.Linear)]
    if output_std is not None and linear:
        nn.init.normal_(linear[-1].weight, std=output_std)
    return model


def lrn_divisor(x: torch.Tensor, lrn: nn.LocalResponseNorm | None = None) -> torch.Tensor:
    """What local response normalisation divides each activation by: ``lrn(x) == x / lrn_divisor(x)``.

    ``(k + alpha / n * sum of x**2 over the n channels around c) ** beta`` at every position, with the
    channels beyond the first and last counted as zeros (PyTorch's and Caffe's convention; the paper's
    formula has ``alpha`` without the ``/ n``). ``lrn`` defaults to the paper's (Section 3.3: n=5, k=2,
    alpha=1e-4, beta=0.75), the one ``alexnet2012`` uses, so the divisor is never below ``k ** beta`` =
    1.68. Caffe's ``bvlc_alexnet`` leaves k at Caffe's default of 1: pass
    ``nn.LocalResponseNorm(5, 1e-4, 0.75, k=1.0)`` to see its divisor.
    """
    lrn = local_response_norm() if lrn is None else lrn
    if x.ndim < 3:
        raise ValueError(f"x must be shaped (N, C, ...) with channels second, got shape {tuple(x.shape)}")
    n = lrn.size
    squares = x.pow(2).unsqueeze(1).flatten(3)  # (N, 1, C, positions)
    squares = F.pad(squares, (0, 0, n // 2, (n - 1) // 2))
    sums = F.avg_pool2d(squares, (n, 1), stride=1).squeeze(1) * n
    return (lrn.k + lrn.alpha / n * sums).pow(lrn.beta).view_as(x)


def random_crop_flip(
    image: torch.Tensor, crop: int = 224, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, tuple[int, int, bool]]:
    """The paper's Section 4.1 augmentation: a random ``crop`` x ``crop`` patch, mirrored half the time.

    ``image`` is (C, H, W); returns the patch and where it came from, ``(top, left, flipped)``. A 256 x 256
    image has (256 - 224 + 1) ** 2 positions for a 224 patch, and each comes mirrored or not.
    """
    if image.ndim != 3:
        raise ValueError(f"image must be shaped (C, H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if not 1 <= crop <= min(height, width):
        raise ValueError(
            f"crop must be between 1 and the image's shorter side ({min(height, width)}), got {crop}"
        )
    top = int(torch.randint(height - crop + 1, (), generator=generator))
    left = int(torch.randint(width - crop + 1, (), generator=generator))
    flipped = bool(torch.rand((), generator=generator) < 0.5)
    patch = image[:, top : top + crop, left : left + crop]
    return (patch.flip(-1) if flipped else patch), (top, left, flipped)


def rgb_pca(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal components of the RGB values of every pixel in ``images`` ((3, H, W) or (N, 3, H, W)).

    Returns ``(stds, vectors)``: the pixels' standard deviation along each component, largest first
    (the square roots of the covariance's eigenvalues), and the components as the columns of ``vectors``.
    The paper computed them over all of ImageNet's training pixels; any set of images works here.
    """
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"images must be shaped (3, H, W) or (N, 3, H, W), got {tuple(images.shape)}")
    pixels = images.movedim(-3, -1).reshape(-1, 3).double()
    values, vectors = torch.linalg.eigh(torch.cov(pixels.T))
    order = values.argsort(descending=True)
    return values[order].clamp_min(0).sqrt().to(images.dtype), vectors[:, order].to(images.dtype)


def pca_colour_jitter(
    image: torch.Tensor,
    stds: torch.Tensor,
    vectors: torch.Tensor,
    sigma: float = 0.1,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's "fancy PCA" colour augmentation: one random colour shift for the whole (3, H, W) image.

    Adds ``vectors @ (alpha * stds)`` to every pixel, ``alpha ~ N(0, sigma)`` drawn once per image and
    component (the paper: sigma = 0.1). ``stds, vectors`` come from ``rgb_pca``. The paper's text scales
    by the eigenvalues; it does not say on what pixel scale, and on pixels in [0, 1] eigenvalues would
    give invisible shifts, so we scale by their square roots, the spread along each component.
    Returns the shifted image and the RGB shift that was added.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be shaped (3, H, W), got {tuple(image.shape)}")
    alpha = torch.randn(3, generator=generator, dtype=stds.dtype) * sigma
    shift = vectors @ (alpha * stds)
    return image + shift.view(3, 1, 1).to(image.dtype), shift
