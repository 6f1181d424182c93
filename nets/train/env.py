"""Where a run computes: the device, mixed precision, and the ``torchrun`` process group."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Env", "amp_dtype", "derive_seed", "init_distributed", "process_group", "resolve_device"]


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


def amp_dtype(amp: str | bool, dev: torch.device) -> torch.dtype | None:
    mode = ("auto" if amp else "off") if isinstance(amp, bool) else amp
    if mode == "off":
        return None
    if mode == "auto":
        if dev.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if mode == "bf16" else torch.float16


def derive_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


@contextmanager
def process_group(dev: torch.device) -> Iterator[tuple[int, int]]:
    """``(rank, world_size)`` inside ``torchrun``'s group (joined here and left at the end if this call
    started it), ``(0, 1)`` in a single process."""
    rank, world_size, started = init_distributed(dev)
    try:
        yield rank, world_size
    finally:
        if started:
            torch.distributed.destroy_process_group()


@dataclass(frozen=True)
class Env:
    """One process of a run: its device, rank among ``world_size`` and autocast dtype (None: fp32)."""

    dev: torch.device
    rank: int = 0
    world_size: int = 1
    amp_dtype: torch.dtype | None = None

    @property
    def amp_name(self) -> str:
        """What ``History.config["amp"]`` records: "off", "bfloat16" or "float16"."""
        return "off" if self.amp_dtype is None else str(self.amp_dtype).removeprefix("torch.")

    @property
    def sum_dtype(self) -> torch.dtype:
        return torch.float32 if self.dev.type == "mps" else torch.float64  # MPS has no float64

    def autocast(self):
        return torch.autocast(self.dev.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def all_reduce(self, t: torch.Tensor, op=None) -> None:
        """Sum (or ``op``) ``t`` over the ranks, in place; nothing in a single process."""
        if self.world_size > 1:
            torch.distributed.all_reduce(t, op=op or torch.distributed.ReduceOp.SUM)
