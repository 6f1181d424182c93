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

The package, floor by floor: ``config`` (``TrainConfig``: every setting, with its check and whether a
resume must match it), ``plan`` (budgets, the race plan, the recipe and the settings a config leaves
open), ``env`` (device, AMP, process group), ``history``, ``checkpoints``, ``loop`` (one epoch, one
evaluation) and ``run`` (``fit``).
"""

from __future__ import annotations

from .checkpoints import CHECKPOINT, CHECKPOINT_FORMAT, METRICS, check_out, load_checkpoint
from .config import AMP_MODES, MAX_IMAGE_SIZE, OPTIMIZERS, SCHEDULES, TrainConfig
from .env import init_distributed, resolve_device
from .history import EPOCH_KEYS, History, TrainingDiverged
from .plan import (
    BRIEF_EPOCHS,
    BUDGET_ENV,
    BUDGETS,
    Plan,
    Recipe,
    brief_recipe,
    default_lr,
    plan_budget,
    race_plan,
    settle,
)
from .run import fit

__all__ = [
    "check_out",
    "AMP_MODES",
    "BRIEF_EPOCHS",
    "BUDGETS",
    "BUDGET_ENV",
    "CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "EPOCH_KEYS",
    "MAX_IMAGE_SIZE",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULES",
    "History",
    "Plan",
    "Recipe",
    "TrainConfig",
    "TrainingDiverged",
    "brief_recipe",
    "default_lr",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "plan_budget",
    "race_plan",
    "resolve_device",
    "settle",
]
