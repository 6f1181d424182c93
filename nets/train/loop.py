"""One epoch of training, one evaluation, and the pieces they use: the loss, the optimizer and the
learning-rate schedule.

``Run`` holds what the loops need (the model, its optimizer, schedule and scaler, the process's
``Env``, the run's ``TrainConfig`` and data), so that ``train_epoch`` and ``evaluate`` read as the
algorithm: forward under autocast, a finite-loss check, backward, step; then top-1 and top-5 summed over
the validation split and over the ranks.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import batches, num_batches
from .config import TrainConfig
from .env import Env, derive_seed
from .history import TrainingDiverged

__all__ = ["Run", "lr_factor", "make_optimizer", "progress_bar"]


@dataclass
class Run:
    """The pieces one epoch needs; ``net`` is ``model`` as trained (wrapped for DDP, compiled)."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    env: Env
    config: TrainConfig  # settled: no None left
    data: Any
    ckpt_path: Path | None
    show: bool
    net: nn.Module | None = None

    @classmethod
    def start(cls, model: nn.Module, data, config: TrainConfig, env: Env, ckpt_path: Path | None,
              show: bool) -> Run:  # fmt: skip
        """Move ``model`` to the device and give it an optimizer, a per-step schedule and a scaler."""
        model.to(env.dev)
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
        if env.world_size > 1 and env.dev.type == "cuda":
            # Per-rank BatchNorm would normalise with statistics of batch/world_size images: not the run
            # the single-GPU code describes. SyncBatchNorm computes them over the global batch.
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        steps = num_batches(data.train, config.batch_size, train=True)
        opt = make_optimizer(model, config.optimizer, config.lr, config.weight_decay)
        warmup = round(config.warmup_epochs * steps)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lr_factor(config.schedule, warmup, config.epochs * steps)
        )
        scaler = torch.amp.GradScaler(env.dev.type, enabled=env.amp_dtype == torch.float16)
        return cls(model, opt, sched, scaler, env, config, data, ckpt_path, show)

    def wrap(self) -> None:
        """What trains is the model in DistributedDataParallel under torchrun, compiled if asked."""
        net = self.model
        if self.env.world_size > 1:
            ids = [self.env.dev.index] if self.env.dev.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
        if self.config.compile:
            net = torch.compile(net)
        if self.env.dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.net = net

    def epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch, then evaluate: the epoch's row of ``History.epochs`` (keys ``EPOCH_KEYS``)."""
        t0 = time.perf_counter()
        # Dropout and stochastic depth draw from the global generator: seed it per (epoch, rank) so ranks
        # draw independent masks and a resumed run draws what the uninterrupted one did.
        torch.manual_seed(derive_seed(self.config.seed, epoch, self.env.rank))
        train_loss, train_acc, images_per_s = self.train_epoch(epoch)
        val_loss, val_top1, val_top5 = self.evaluate()
        return {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_top1": val_top1,
            "val_top5": val_top5,
            "images_per_s": images_per_s,
            "seconds": time.perf_counter() - t0,
        }

    @property
    def steps_per_epoch(self) -> int:
        return num_batches(self.data.train, self.config.batch_size, train=True)

    def train_epoch(self, epoch: int) -> tuple[float, float, float]:
        """One pass over the training split; returns (mean loss, accuracy, images/s)."""
        self.net.train()
        env, c, n = self.env, self.config, self.steps_per_epoch
        # Losses stay on the device and are looked at every `check_every` steps: on a GPU each look is a
        # synchronisation, on the CPU it is free, so the CPU checks every step, before the backward pass.
        check_every = 1 if env.dev.type == "cpu" else 20
        losses = torch.zeros(n, device=env.dev)
        correct = torch.zeros((), device=env.dev, dtype=torch.long)
        seen, step = 0, -1
        bar = progress_bar(
            self.show, total=n, desc=f"epoch {epoch + 1}/{c.epochs}", unit="batch", leave=False
        )
        it = batches(
            self.data.train, c.batch_size, train=True, image_size=c.image_size, device=env.dev, seed=c.seed,
            epoch=epoch, rank=env.rank, world_size=env.world_size, channels_last=c.channels_last,
            crop_scale=c.crop_scale, shift=c.shift,
        )  # fmt: skip
        start = time.perf_counter()
        try:
            for step, (x, y) in enumerate(it):
                with env.autocast():
                    loss, logits = _loss(self.net(x), y, c.label_smoothing, len(self.data.classes))
                losses[step] = loss.detach().float()
                looks = (step + 1) % check_every == 0 or step == n - 1
                if looks:
                    self._check_finite(losses, epoch, step)
                self.opt.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
                self.sched.step()
                correct += (logits.detach().argmax(1) == y).sum()
                seen += y.numel()
                if bar is not None and looks:
                    self._show(bar, losses[: step + 1], correct, seen, time.perf_counter() - start)
        finally:
            if bar is not None:
                bar.close()
        if step != n - 1:
            raise RuntimeError(f"nets.data.batches yielded {step + 1} training batches, num_batches said {n}")
        totals = torch.stack([losses.sum(), correct.float(), torch.tensor(float(seen), device=env.dev)])
        env.all_reduce(totals)
        loss_sum, correct_sum, seen_sum = totals.tolist()
        return (
            loss_sum / (n * env.world_size),
            correct_sum / seen_sum,
            seen_sum / (time.perf_counter() - start),
        )

    def _show(self, bar, losses: torch.Tensor, correct: torch.Tensor, seen: int, elapsed: float) -> None:
        stats = {
            "loss": f"{losses.mean().item():.3f}",
            "acc": f"{correct.item() / seen:.1%}",
            "img/s": f"{seen * self.env.world_size / elapsed:.0f}",
        }
        bar.set_postfix(stats, refresh=False)
        bar.update(len(losses) - bar.n)

    def _check_finite(self, losses: torch.Tensor, epoch: int, step: int) -> None:
        """Raise TrainingDiverged at the first non-finite loss up to ``step`` (agreed over all ranks)."""
        bad = (~torch.isfinite(losses[: step + 1])).nonzero()
        first = torch.tensor(
            [float(bad[0, 0]) if len(bad) else math.inf], device=self.env.dev, dtype=self.env.sum_dtype
        )
        if self.env.world_size > 1:
            self.env.all_reduce(first, torch.distributed.ReduceOp.MIN)
        if math.isfinite(first.item()):
            i = int(first.item())
            raise TrainingDiverged(epoch + 1, i + 1, losses[i].item(), self.ckpt_path)

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float, float]:
        """Validation loss (no label smoothing), top-1 and top-5 accuracy over the whole val split."""
        self.model.eval()
        env, c = self.env, self.config
        k = min(5, len(self.data.classes))
        totals = torch.zeros(4, device=env.dev, dtype=env.sum_dtype)  # loss sum, top-1, top-5, count
        it = batches(
            self.data.val, c.batch_size, train=False, image_size=c.image_size, device=env.dev, seed=c.seed,
            rank=env.rank, world_size=env.world_size, channels_last=c.channels_last, eval_crop=c.eval_crop,
        )  # fmt: skip
        for x, y in it:
            if y.numel() == 0:  # this rank's slice of the last, short batch is empty
                continue
            with env.autocast():
                out = self.model(x)
            logits = (out[0] if isinstance(out, (tuple, list)) else out).float()
            topk = logits.topk(k, dim=1).indices
            totals[0] += F.cross_entropy(logits, y, reduction="sum")
            totals[1] += (topk[:, 0] == y).sum()
            totals[2] += (topk == y[:, None]).any(dim=1).sum()
            totals[3] += y.numel()
        env.all_reduce(totals)
        loss_sum, top1, top5, count = totals.tolist()
        if int(count) != len(self.data.val):
            raise RuntimeError(f"validation saw {int(count)} images, the split has {len(self.data.val)}")
        return loss_sum / count, top1 / count, top5 / count


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


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
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


def lr_factor(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
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


def progress_bar(show: bool, **kwargs):
    """A tqdm progress bar, or None: when not shown, and in the book build, whose pages keep each bar's
    widget state (about 2 kB a bar); there the epoch lines are printed as plain text instead."""
    if not show or os.environ.get("NETS_BOOK_BUILD") == "1":
        return None
    from tqdm.auto import tqdm

    return tqdm(**kwargs)
