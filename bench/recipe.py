"""Does ``nets.train.fit``'s default recipe earn its keep? fit against a plain training loop, side by side.

    python bench/recipe.py                        # resnet18, googlenet, efficientnet_b0 at both budgets
    python bench/recipe.py --budget gpu-shape --models resnet18
    python bench/recipe.py --fit-option "crop_scale=(0.35, 1.0)" --fit-option shift=0.0   # try a recipe

Both arms train the same model (same architecture, same initial weights) on the same real images
(Fashion-MNIST through ``nets.data.load``: 500 training images per class, 200 validation images per
class from the test set) for the same epochs, batch size and resolution, with Nesterov SGD. What differs
is the recipe:

- **plain loop** (~40 lines, below): the images resized once to the training resolution; each batch
  padded by 1/8 and randomly cropped back, randomly flipped; OneCycleLR at ``fit``'s default peak lr
  (``nets.train.default_lr``); cross-entropy; evaluation on the whole image. The loop a reader would
  write from the PyTorch tutorials.
- **fit**: ``nets.train.fit(model, data, epochs, batch_size=..., image_size=...)``: its defaults, which
  are meant to be the brief-run recipe.

It prints each arm's validation top-1 (the mean over ``--seeds``, each seed's too: one seed moves a
brief run by a point or two), and the ratio fit / plain. Budgets:

- ``cpu-minute``: 3 epochs at 32 px, batch 64 (234 optimiser steps): what a CPU trains in minutes.
- ``gpu-shape``: the shape of the GPU "brief" budget (5 epochs, batch 128) at 32 px on the same
  5,000 images (195 steps): fewer, larger steps over more epochs.

Measured on 2026-11-29 (torch 2.14.1, 1 thread per run, two runs at a time on a 2-core machine; seeds 0
and 1; mean top-1, then each seed's fit / plain):

| model | budget | fit | plain loop | ratio | per seed |
|---|---|---|---|---|---|
| resnet18 | cpu-minute | 80.0 % | 76.9 % | 1.040 | 79.8 / 77.8, 80.2 / 76.0 |
| googlenet | cpu-minute | 77.9 % | 76.8 % | 1.014 | 78.0 / 76.5, 77.8 / 77.1 |
| efficientnet_b0 | cpu-minute | 55.8 % | 55.8 % | 1.001 | 51.2 / 55.1, 60.5 / 56.4 |
| vgg11_bn | cpu-minute | 77.4 % | 77.0 % | 1.005 | 78.0 / 75.9, 76.8 / 78.0 |
| resnet18 | gpu-shape | 81.6 % | 79.1 % | 1.032 | 81.5 / 79.5, 81.7 / 78.7 |
| googlenet | gpu-shape | 79.5 % | 79.8 % | 0.997 | 78.8 / 79.2, 80.2 / 80.4 |
| efficientnet_b0 | gpu-shape | 63.4 % | 61.0 % | 1.040 | 63.7 / 59.6, 63.0 / 62.4 |
| vgg11_bn | gpu-shape | 64.3 % | 44.2 % | 1.455 | 57.0 / 23.6, 71.5 / 64.8 |

Three ratios are ties within seed noise rather than wins: EfficientNet-B0 and VGG-11-BN at the CPU
minute, and GoogLeNet at the GPU shape (0.3 points behind, where its seeds differ by 1.4). AlexNet needs
63 px and is skipped at these 32 px budgets.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nets  # noqa: E402
from nets.data import MEAN, STD, balanced_subset, load  # noqa: E402
from nets.train import default_lr, fit  # noqa: E402

BUDGETS = {"cpu-minute": (3, 32, 64), "gpu-shape": (5, 32, 128)}  # epochs, image size, batch
TRAIN_PER_CLASS, VAL_PER_CLASS = 500, 200


def plain_loop(model, data, *, epochs: int, image_size: int, batch_size: int, lr: float, seed: int) -> float:
    """A plain PyTorch training loop; returns validation top-1 (fraction)."""
    g = torch.Generator().manual_seed(seed)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)

    def prepare(images):  # uint8 (N, 3, R, R) -> normalised float at the training resolution
        x = F.interpolate(images.float() / 255, size=image_size, mode="bilinear", antialias=True)
        return (x - mean) / std

    x_train, y_train = prepare(data.train.images), data.train.labels
    x_val, y_val = prepare(data.val.images), data.val.labels
    steps = epochs * (len(x_train) // batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    pad = image_size // 8
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=g)
        for i in range(len(x_train) // batch_size):
            idx = order[i * batch_size : (i + 1) * batch_size]
            x, y = x_train[idx], y_train[idx]
            x = F.pad(x, (pad,) * 4, mode="reflect")  # pad-and-crop: shift by up to 1/8 of the image
            dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=g).tolist()
            x = x[:, :, dy : dy + image_size, dx : dx + image_size]
            flip = torch.rand(len(x), generator=g) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(x_val[i : i + 256]).argmax(1) == y_val[i : i + 256]).sum().item()
                      for i in range(0, len(x_val), 256))  # fmt: skip
    return correct / len(x_val)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "googlenet", "efficientnet_b0"])
    parser.add_argument("--budget", choices=sorted(BUDGETS), nargs="+", default=sorted(BUDGETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                        help="initial weights and data order; the table shows the mean over seeds")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--fit-option", action="append", default=[], metavar="KEY=VALUE",
                        help="pass an option to fit (numbers and tuples as Python literals)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import ast

    options = {}
    for item in args.fit_option:
        key, _, value = item.partition("=")
        options[key] = ast.literal_eval(value)
    data = load("fashion-mnist", resolution=64, progress=False)
    data = dataclasses.replace(data, train=balanced_subset(data.train, TRAIN_PER_CLASS, seed=0),
                               val=balanced_subset(data.val, VAL_PER_CLASS, seed=0))  # fmt: skip
    print(f"data: {data.source}, {len(data.train)} train / {len(data.val)} val images; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"fit options: {options or 'defaults'}")
    print(
        "| model | budget | fit top-1 | plain-loop top-1 | ratio | per seed (fit / plain) | fit s | plain s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for budget in args.budget:
        epochs, size, batch = BUDGETS[budget]
        lr = default_lr("sgd", batch)  # fit's default peak lr for SGD, given to the plain loop too
        for name in args.models:
            if nets.registry.entry(name).min_size > size:
                print(f"| {name} | {budget} | skipped: needs at least {nets.registry.entry(name).min_size} px, "
                      f"the budget trains at {size} px | | | | | |", flush=True)  # fmt: skip
                continue
            ours, plain, seconds = [], [], [0.0, 0.0]
            for seed in args.seeds:
                torch.manual_seed(seed)
                start = nets.build(name, len(data.classes))
                state = {k: v.clone() for k, v in start.state_dict().items()}
                t0 = time.perf_counter()
                plain.append(plain_loop(start, data, epochs=epochs, image_size=size, batch_size=batch, lr=lr,
                                        seed=seed))  # fmt: skip
                t1 = time.perf_counter()
                model = nets.build(name, len(data.classes))
                model.load_state_dict(state)
                history = fit(model, data, epochs, batch_size=batch, image_size=size, seed=seed,
                              device="cpu", progress=False, **options)  # fmt: skip
                seconds[0] += time.perf_counter() - t1
                seconds[1] += t1 - t0
                ours.append(history.final["val_top1"])
            mean_ours, mean_plain = sum(ours) / len(ours), sum(plain) / len(plain)
            ratio = mean_ours / mean_plain if mean_plain else math.inf
            each = ", ".join(f"{a:.1%} / {b:.1%}" for a, b in zip(ours, plain, strict=True))
            print(f"| {name} | {budget} | {mean_ours:.1%} | {mean_plain:.1%} | {ratio:.3f} | {each} "
                  f"| {seconds[0]:.0f} | {seconds[1]:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
