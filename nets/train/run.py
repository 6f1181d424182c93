"""``fit``: check the settings, plan the run, start it or resume it, train its epochs, return its history."""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

from ..checks import check_bool
from ..data import balanced_subset
from ..zoo import build
from . import checkpoints
from .checkpoints import CHECKPOINT, METRICS, check_out, check_resume, hold_run, load_checkpoint, restore
from .config import RunFacts, TrainConfig, recorded_fields
from .env import Env, amp_dtype, process_group, resolve_device
from .history import History
from .loop import Run, progress_bar
from .plan import Plan, family_of, model_name_and_min_size, plan_budget, settle

__all__ = ["fit"]


def fit(
    model: nn.Module | str,
    data,
    epochs: int | None = None,
    *,
    config: TrainConfig | None = None,
    budget: str | Plan | None = None,
    device: str | torch.device = "auto",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    **overrides,
) -> History:
    """Train ``model`` on ``data`` (a ``nets.data.Data``) and return its ``History``.

    ``model`` is a module whose classifier has ``len(data.classes)`` outputs, or a registry name
    (built here, its initialisation seeded by ``seed``). The settings are a ``TrainConfig``: pass one
    as ``config``, or any of its fields by name (``epochs`` also as the third argument); names given
    here win over ``config``'s. Defaults: 5 epochs, batch 64, 128 px; ``budget="brief"`` chooses
    epochs, size, batch and a data subset for the device instead (see ``plan_budget``; settings given
    explicitly still win). ``lr`` defaults to 0.05 x batch/128 for Nesterov SGD (momentum 0.9; 0.025
    x batch/128 for ResNet, VGG and EfficientNet, see ``default_lr``) and 2e-3 x batch/128 for AdamW;
    ``weight_decay`` to 5e-4 (SGD) or 0.05 (AdamW), applied to weights only, not to biases and norm
    parameters. ``schedule`` is ``"onecycle"`` (warm up from lr/25 to lr, then cosine down to ~0) or
    ``"cosine"`` (linear warmup from 0, cosine to 0), stepped per batch; ``warmup_epochs`` defaults to
    a quarter of the run, at most one epoch (a budget's plan says one epoch). ``amp="auto"``: bf16
    autocast on CUDA GPUs that have it, else fp16 with a GradScaler; off on CPU and MPS ("bf16",
    "fp16", "off" force a choice). ``label_smoothing``, ``crop_scale`` (training crops' area),
    ``shift`` (how far crops move, a fraction of the side) and ``eval_crop`` (evaluation's centre
    crop) default to :func:`brief_recipe`'s for ``epochs``. An EfficientNet trained with SGD warms up
    for 30 % of the run and has no label smoothing (see ``settle``).

    ``out``: folder for ``checkpoint.pt`` and ``metrics.json`` (written after every epoch, atomically;
    the checkpoint carries a SHA-256 of its contents, checked when it is read); ``resume=True``
    continues from ``out/checkpoint.pt`` if it exists (else starts afresh), and refuses a checkpoint
    made with different settings or damaged on disk. A folder that already holds a run is never
    overwritten unless ``resume=True`` continues it or ``overwrite=True`` replaces it. Under
    ``torchrun`` (or an initialised process group) it trains with DistributedDataParallel:
    ``batch_size`` is the global batch.
    """
    config = _configure(config, epochs, overrides)
    out = _check_out(out, resume, overwrite)
    dev = resolve_device(device)
    with process_group(dev) as (rank, world_size), hold_run(out if rank == 0 else None, overwrite=overwrite):
        env = Env(dev, rank, world_size, amp_dtype(config.amp, dev))
        show = progress and rank == 0
        plan = _plan(budget, model, data, env, show)
        config = settle(config, plan, family_of(model))
        data = _data_for(data, plan, config, world_size)
        model, name = _model_for(model, data, config)
        run = Run.start(model, data, config, env, out / CHECKPOINT if out is not None else None, show)
        history = History(config=_record(name, data, config, env, plan))
        start = 0
        if resume:
            history, start = _resume(run, history)
        run.wrap()
        _epochs(run, history, start, name, out)
        return history


def _configure(config: TrainConfig | None, epochs: int | None, overrides: dict) -> TrainConfig:
    """The run's settings: ``config`` (or the defaults) with ``epochs`` and ``overrides``, all checked."""
    if config is None:
        config = TrainConfig()
    elif not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a nets.train.TrainConfig, got {type(config).__name__}")
    if epochs is not None:
        overrides = {**overrides, "epochs": epochs}
    return config.replace(**overrides)


def _check_out(out, resume: bool, overwrite: bool):
    check_bool("resume", resume)
    check_bool("overwrite", overwrite)
    if resume and overwrite:
        raise ValueError("resume=True continues the run in out, overwrite=True replaces it: pass one of them")
    return check_out(out, resume=resume, overwrite=overwrite)


def _plan(budget: str | Plan | None, model, data, env: Env, show: bool) -> Plan | None:
    if budget is None:
        return None
    plan = budget if isinstance(budget, Plan) else plan_budget(budget, env.dev, model, data)
    if show:
        print(plan)
    return plan


def _data_for(data, plan: Plan | None, config: TrainConfig, world_size: int):
    """``data``, or the plan's balanced subset of it, checked against the batch size."""
    if plan is not None and plan.subset is not None:
        data = balanced_subset(data, plan.subset, seed=config.seed)
    for attr in ("train", "val", "classes", "source", "is_standin"):
        if not hasattr(data, attr):
            raise TypeError(f"data must be a nets.data.Data (from nets.data.load()), it has no .{attr}")
    if len(data.val) == 0:
        raise ValueError("the validation split is empty")
    if config.batch_size % world_size:
        raise ValueError(
            f"batch_size {config.batch_size} must be divisible by the number of processes ({world_size}): "
            "it is the global batch, split evenly over the ranks"
        )
    if config.batch_size > len(data.train):
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the {len(data.train)} training images: "
            "use a smaller batch_size or more data"
        )
    return data


def _model_for(model: nn.Module | str, data, config: TrainConfig) -> tuple[nn.Module, str]:
    """The module to train (a registry name built for the data's classes, seeded) and its name."""
    name, min_size = model_name_and_min_size(model)
    if config.image_size < min_size:
        raise ValueError(f"image_size {config.image_size} is below {name}'s smallest input ({min_size} px)")
    if isinstance(model, str):
        torch.manual_seed(config.seed)
        model = build(model, num_classes=len(data.classes))
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module or a model name, got {type(model).__name__}")
    return model, name


def _record(name: str, data, config: TrainConfig, env: Env, plan: Plan | None) -> dict:
    """``History.config``: what the run was made of, then its settings (amp as the dtype it chose)."""
    facts = RunFacts(
        model=name,
        data=data.source,
        is_standin=bool(data.is_standin),
        classes=list(data.classes),
        train_size=len(data.train),
        val_size=len(data.val),
        device=str(env.dev),
        world_size=env.world_size,
        budget=plan.budget if plan else None,
        subset=plan.subset if plan else None,
        torch=str(torch.__version__),
    )
    return {**dataclasses.asdict(facts), **config.record(), "amp": env.amp_name}


def _resume(run: Run, history: History) -> tuple[History, int]:
    """Continue from the run's checkpoint, if there is one: its history, and the epochs it has done."""
    path = run.ckpt_path
    if not path.exists():
        if run.show:
            print(f"resume=True but there is no checkpoint in {path.parent}: starting a fresh run")
        return history, 0
    state = load_checkpoint(path, map_location=run.env.dev)
    check_resume(state["history"]["config"], history.config, path)
    restore(state, run.model, run.opt, run.sched, run.scaler)
    resumed = History.from_dict(state["history"])
    resumed.config.update(
        {f.name: history.config[f.name] for f in recorded_fields() if f.metadata["refresh"]}
    )
    if run.show:
        print(f"resuming {path} after epoch {state['epoch']} of {run.config.epochs}")
    return resumed, state["epoch"]


def _epochs(run: Run, history: History, start: int, name: str, out) -> None:
    """Train from epoch ``start`` to the end, saving the checkpoint and metrics after each (rank 0)."""
    epochs, saves = run.config.epochs, run.env.rank == 0 and out is not None
    bar = progress_bar(run.show, total=epochs, initial=start, desc=name, unit="epoch")
    try:
        for epoch in range(start, epochs):
            row = run.epoch(epoch)
            history.epochs.append(row)
            if saves:
                checkpoints.save_checkpoint(run.ckpt_path, run.model, run.opt, run.sched, run.scaler,
                                            epoch + 1, history)  # fmt: skip
                history.save(out / METRICS)
            _report(bar, row, epochs, run.show)
    finally:
        if bar is not None:
            bar.close()
    if saves and start == epochs:
        history.save(out / METRICS)  # a finished run resumed again: rewrite nothing else


def _report(bar, row: dict[str, float], epochs: int, show: bool) -> None:
    line = (
        f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.3f} acc {row['train_acc']:.1%} | "
        f"val loss {row['val_loss']:.3f} top-1 {row['val_top1']:.1%} top-5 {row['val_top5']:.1%} | "
        f"{row['images_per_s']:.0f} img/s, {row['seconds']:.1f} s"
    )
    if bar is not None:
        bar.set_postfix(
            {"val loss": f"{row['val_loss']:.3f}", "top-1": f"{row['val_top1']:.1%}"}, refresh=False
        )
        bar.update(1)
        bar.write(line)
    elif show:
        print(line, flush=True)
