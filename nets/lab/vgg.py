"""What the VGG chapter measures: the paper's table, where parameters, compute and memory go, scale jitter.

- :func:`config_table`: the paper's Table 1 (``nets.models.vgg.CONFIGS``) laid out as the paper prints it;
  :func:`paper_params`: its Table 2, the parameter count of each column, from the model cards.
- :func:`layer_costs` and :func:`activation_memory`: one forward pass recorded with
  ``nets.probes.record``, layer by layer. Receptive fields come from ``nets.probes.receptive_field``.
- :func:`scale_jitter`: the paper's multi-scale training crops (Sec. 3.1).
- :func:`batchnorm_verdict`: what the chapter's brief runs with and without BatchNorm, several seeds
  each, showed, decided by ``nets.lab.verdicts.compare`` (the effect against the seeds' spread).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..cards import card
from ..checks import check_choice, check_input_size
from ..models.vgg import CONFIGS, HEAD, weight_layers
from ..probes import record
from .tables import dashed
from .verdicts import compare

__all__ = [
    "TABLE2_WITHOUT_CARD",
    "JitteredCrop",
    "activation_memory",
    "batchnorm_verdict",
    "config_table",
    "layer_costs",
    "paper_params",
    "scale_jitter",
]

COLUMNS = ["layer", "block", "kind", "output", "params", "macs", "activations"]


def config_table() -> list[list[str]]:
    """The paper's Table 1 as rows of strings, one column per configuration, ready to print.

    The first row is the header (``"A (11 weight layers)"``...); layers of a stage line up by position,
    empty strings fill the shorter columns, and "maxpool" rows separate the stages.
    """
    columns = list(CONFIGS)
    rows = [[f"{c} ({weight_layers(c)} weight layers)" for c in columns]]
    rows.append(["input (224 x 224 RGB image)"] * len(columns))
    for stage in range(len(CONFIGS["A"])):
        depth = max(len(CONFIGS[c][stage]) for c in columns)
        for i in range(depth):
            rows.append([CONFIGS[c][stage][i] if i < len(CONFIGS[c][stage]) else "" for c in columns])
        rows.append(["maxpool"] * len(columns))
    rows.extend([layer] * len(columns) for layer in HEAD)
    return rows


# The paper's Table 2 prints one parameter count (in millions) per column. The registered configurations
# read theirs from their model cards (``nets.card``), the book's one copy of the paper's numbers; A-LRN
# reads A's, because the table prints one entry for "A, A-LRN" (LRN has no weights). C is no registered
# model and has no card, so its entry is kept here.
TABLE2_WITHOUT_CARD = {"C": 134.0}
_CARDS = {"A": "vgg11", "A-LRN": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}


def paper_params(config: str) -> str:
    """The paper's parameter count of configuration ``config`` (its Table 2), as printed: ``"138 M"``.

    For A, A-LRN, B, D and E it is the model card's ``paper_params_text`` (``nets.card("vgg16")``...).
    """
    check_choice("config", config, tuple(CONFIGS))
    if config in TABLE2_WITHOUT_CARD:
        return f"{TABLE2_WITHOUT_CARD[config]:g} M"
    return card(_CARDS[config]).paper_params_text


def _block(name: str) -> str:
    """``features.conv3_2`` -> "stage 3", ``classifier.relu6`` -> "fc6", ``avgpool`` -> "avgpool"."""
    head, _, leaf = name.rpartition(".")
    number = re.search(r"\d+", leaf)
    if head.endswith("features") and number:
        return f"stage {number[0]}"
    if head.endswith("classifier") and number:
        return f"fc{number[0]}"
    return leaf


def _costs(module: nn.Module, _inputs, output) -> dict | None:
    """What one layer's call costs: its output shape, parameters, MACs and the values it writes."""
    if not isinstance(output, torch.Tensor):
        return None
    if isinstance(module, nn.Conv2d):
        macs = output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    elif isinstance(module, nn.Linear):
        macs = output.numel() * module.in_features
    else:
        macs = 0
    return {
        "kind": type(module).__name__,
        "output": tuple(output.shape[1:]),
        "params": sum(p.numel() for p in module.parameters()),
        "macs": macs,
        "activations": output.numel(),
    }


def layer_costs(model: nn.Module, input_size=(1, 3, 224, 224)):
    """One row per layer call, in the order the forward pass first runs each layer: what each one costs.

    Columns: ``layer`` (dotted name), ``block`` ("stage 1" ... "stage 5", "avgpool", "fc6" ... "fc8" for a
    ``VGG``), ``kind`` (class name), ``output`` (shape without the batch), ``params``, ``macs``
    (multiply-accumulates of the batch: convolutions and linear layers, as ``nets.count_macs`` counts
    them) and ``activations`` (values the layer writes for the batch). Runs one forward pass with
    ``nets.probes.record`` (eval mode, no gradients); build the model on the meta device
    (``with torch.device("meta"):``) and it costs nothing. Returns a pandas DataFrame.
    """
    import pandas as pd

    if not isinstance(model, nn.Module):
        raise TypeError(f"layer_costs expects an nn.Module, got {type(model).__name__}")
    size = check_input_size(input_size)
    calls = record(model, torch.zeros(size), capture=_costs, every_call=True)  # every leaf module
    rows = [
        {"layer": name, "block": _block(name), **cost}
        for name, costs in calls.items()
        for cost in costs
        if cost is not None
    ]
    return dashed(pd.DataFrame(rows, columns=COLUMNS))


def activation_memory(model: nn.Module, input_size=(1, 3, 224, 224), bytes_per_value: int = 4) -> int:
    """Bytes of all the layer outputs of one forward pass: the values ``layer_costs`` counts, x 4 for float32.

    Training keeps roughly these tensors alive until the backward pass needs them, so this is the
    activation memory a training step needs per ``input_size`` batch; inference can free each output once
    the next layer has read it.
    """
    return int(layer_costs(model, input_size)["activations"].sum()) * bytes_per_value


@dataclass(frozen=True)
class JitteredCrop:
    """One training crop of the paper's scale jittering: the image rescaled so its shorter side is
    ``scale`` (S), and the ``crop`` x ``crop`` window at (``top``, ``left``) taken from it."""

    scale: int
    top: int
    left: int
    rescaled: torch.Tensor  # (1, 3, H, W) with min(H, W) == scale
    crop: torch.Tensor  # (1, 3, crop, crop)


def scale_jitter(
    image: torch.Tensor, n: int = 4, scale_range: tuple[int, int] = (256, 512), crop: int = 224, seed: int = 0
) -> list[JitteredCrop]:
    """``n`` training crops as the paper's multi-scale training makes them (Sec. 3.1).

    For each crop, S is drawn uniformly from ``scale_range`` (the paper's [S_min, S_max] = [256, 512]),
    the (1, 3, H, W) ``image`` is rescaled isotropically (antialiased bilinear) so its shorter side is S,
    and a ``crop`` x ``crop`` window is cut at a random position. At S = 256 a crop holds most of the
    image; at S = 512 it holds about a quarter of it, so the same object appears at different sizes.
    Seeded: the same ``seed`` gives the same crops.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(
            f"image must be a tensor shaped (1, 3, H, W), got {getattr(image, 'shape', image)!r}"
        )
    low, high = scale_range
    if not crop <= low <= high:
        raise ValueError(
            f"scale_range must satisfy crop <= S_min <= S_max, got {scale_range} with crop {crop}"
        )
    generator = torch.Generator().manual_seed(seed)
    height, width = image.shape[-2:]
    crops = []
    for _ in range(n):
        scale = int(torch.randint(low, high + 1, (1,), generator=generator))
        ratio = scale / min(height, width)
        size = (max(scale, round(height * ratio)), max(scale, round(width * ratio)))
        rescaled = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
        top = int(torch.randint(0, size[0] - crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, size[1] - crop + 1, (1,), generator=generator))
        window = rescaled[..., top : top + crop, left : left + crop]
        crops.append(JitteredCrop(scale, top, left, rescaled, window))
    return crops


def batchnorm_verdict(runs: Mapping[str, Sequence], *, chance: float, near_chance: float = 1.5) -> str:
    """One sentence on ``{"with BatchNorm": [run, ...], "without BatchNorm": [run, ...]}``, a run per seed.

    A run is a ``nets.train.History`` (its last epoch counts), or None for a run that diverged (counted
    at ``chance``: it ended predicting nothing). The two arms' validation top-1, in points, is compared
    by :func:`nets.lab.verdicts.compare`: one arm wins only if every seed of it beats every seed of the
    other and the gap of the means is beyond the seed-to-seed spread, else "no clear difference". An
    arm whose every seed ended at most ``near_chance`` x ``chance`` is said to stay near chance. All
    runs must have taken the same number of optimiser steps (epochs x training batches per epoch, read
    from the histories' configs).
    """
    labels = ("with BatchNorm", "without BatchNorm")
    if not isinstance(runs, Mapping) or set(runs) != set(labels):
        raise ValueError(
            f"runs must have the keys {labels}, each a list of runs (one per seed); got {sorted(runs) if isinstance(runs, Mapping) else type(runs).__name__}"
        )
    if isinstance(chance, bool) or not isinstance(chance, (int, float)) or not 0 < chance < 1:
        raise ValueError(
            f"chance must be the top-1 of guessing, a fraction in (0, 1) such as 0.1; got {chance!r}"
        )
    steps = {
        len(run) * (run.config["train_size"] // run.config["batch_size"])
        for label in labels
        for run in runs[label]
        if run is not None
    }
    if len(steps) > 1:
        raise ValueError(
            f"the runs took different numbers of optimiser steps ({sorted(steps)}): not a fair comparison"
        )
    top1 = {
        label: [100 * (chance if r is None else r.final["val_top1"]) for r in runs[label]] for label in labels
    }
    result = compare(
        labels[0], top1[labels[0]], labels[1], top1[labels[1]], unit="points", what="val top-1 (%)"
    )
    diverged = [
        f"{sum(r is None for r in runs[label])} {label} diverged" for label in labels if None in runs[label]
    ]
    note = f"; {', '.join(diverged)}, counted at chance" if diverged else ""
    near = [label for label in labels if max(top1[label]) <= 100 * near_chance * chance]
    still = f" The network {' and the one '.join(near)} stayed near chance in every seed." if near else ""
    same = f"the same {steps.pop()} optimiser steps" if steps else "training"
    return f"After {same} per run (chance: {chance:.0%} top-1{note}): {result.text}.{still}"
