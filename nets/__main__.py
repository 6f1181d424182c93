"""The command line: ``python -m nets train ...`` and ``python -m nets list``.

    python -m nets train --model resnet18 --data imagenette --epochs 5 --image-size 128 --out runs/r18
    python -m nets train --model resnet18 --budget brief --out runs/r18-preview
    python -m nets train --model resnet18 --out runs/r18 --resume          # continue a stopped run
    torchrun --nproc_per_node=2 -m nets train --model resnet18 --out runs/r18   # DistributedDataParallel

A mistake in the arguments or missing data ends with one line on stderr and exit status 2 (no
traceback); a diverged run or a full disk with one line and status 1; Ctrl-C with one line saying how
to continue (``--resume``) and status 130. A run folder that already holds a run is never overwritten
unless ``--resume`` continues it or ``--overwrite`` replaces it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import ExitStack

from .files import FolderInUseError, folder_lock

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a scheduler's or `kill`'s stop reports
RUN_FILES = ("checkpoint.pt", "metrics.json")  # what a run folder holds (nets.train.CHECKPOINT, METRICS)
# The flags that are nets.train.TrainConfig fields (argparse names them as the fields are named): the
# command checks them by making a TrainConfig, before any work.
SETTINGS = ("epochs", "batch_size", "image_size", "lr", "optimizer", "schedule", "amp", "channels_last", "compile",
            "seed")  # fmt: skip


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt: the run stops between two
    statements and the last checkpoint (written atomically after each epoch) is what it left."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is a single line (argparse prints the whole usage first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _fail(f"{self.prog}: error: {message} (see --help)")


def _fail(message: str, status: int = EXIT_USAGE) -> None:
    print(" ".join(message.split()), file=sys.stderr)
    raise SystemExit(status)


def _number(text: str) -> int | float | str:
    """A flag's text as the number it spells, else as it is: what the number must be is checked once,
    by ``nets.train.TrainConfig`` (with ``nets.checks``), for this command and for ``fit`` alike."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nets", description="The ImageNet contenders: list them, train them briefly.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,list}")

    commands.add_parser("list", help="print the models nets can build")

    t = commands.add_parser(
        "train",
        help="train a model on Imagenette (or, offline, Fashion-MNIST or the stand-in)",
        description="Train a model briefly; writes checkpoint.pt and metrics.json under --out.",
    )
    t.add_argument("--model", required=True, help="a model name, e.g. resnet18 (see: python -m nets list)")
    t.add_argument("--data", default=None, choices=("imagenette", "fashion-mnist", "standin", "auto"),
                   help="auto: Imagenette if it is on disk or downloadable, else Fashion-MNIST, else the drawn "
                        "stand-in (default: $NETS_DATA, else auto)")  # fmt: skip
    t.add_argument(
        "--data-root", default=None, help="data cache folder (default $NETS_DATA_DIR or ~/.cache/nets)"
    )
    t.add_argument("--size", default="160px", choices=("160px", "320px", "full"), help="Imagenette archive")
    t.add_argument("--no-download", action="store_true", help="never download; use only what is on disk")
    t.add_argument("--out", required=True, help="run folder for checkpoint.pt and metrics.json")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    t.add_argument("--budget", default=None,
                   help="brief: choose epochs, size, batch and data subset for this device (explicit flags win)")  # fmt: skip
    t.add_argument("--epochs", type=_number, default=None, help="default 5 (or the budget's)")
    t.add_argument("--image-size", type=_number, default=None, help="training resolution, default 128")
    t.add_argument("--batch-size", type=_number, default=None, help="global batch size, default 64")
    t.add_argument("--lr", type=_number, default=None, help="peak learning rate (default scales with batch)")
    t.add_argument("--optimizer", default="sgd", help="sgd (Nesterov, the default) or adamw")
    t.add_argument("--schedule", default="onecycle", help="onecycle (the default) or cosine")
    t.add_argument(
        "--amp", default="auto", help="auto (bf16 or fp16 on CUDA, off elsewhere), bf16, fp16 or off"
    )
    t.add_argument("--channels-last", action="store_true")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    t.add_argument("--seed", type=_number, default=0)
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _list_models() -> int:
    from .registry import entry, list_models

    names = list_models()
    width = max(map(len, names))
    for name in names:
        e = entry(name)
        smallest = f", accepts {e.min_size} px and up" if e.min_size > 1 else ""
        print(f"{name:<{width}}  {e.family:<12}  trained at {e.default_size} px{smallest}")
    return 0


def _epochs_done(out: str) -> int:
    import json

    try:
        with open(os.path.join(out, RUN_FILES[1])) as f:
            return len(json.load(f).get("epochs", []))
    except (OSError, ValueError, AttributeError):
        return 0


def _train(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _train_run(args)
    except KeyboardInterrupt as stop:
        done = _epochs_done(os.path.expanduser(args.out))
        how, status = ("stopped by SIGTERM", EXIT_TERMINATED) if isinstance(stop, Terminated) else (
            "interrupted", EXIT_INTERRUPTED)  # fmt: skip
        _fail(
            f"nets train: {how} after epoch {done}; continue with --resume (the same command with --resume added)"
            if done
            else f"nets train: {how} before the first epoch ended; nothing was saved, start again",
            status,
        )
        return status
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_run(args: argparse.Namespace) -> int:
    from . import data as data_lib
    from .registry import entry
    from .train import (
        TrainConfig,
        check_out,
        init_distributed,
        plan_budget,
        resolve_device,
        settle,
    )

    try:
        name = entry(args.model).name
        config = TrainConfig(**{k: getattr(args, k) for k in SETTINGS})
        device = resolve_device(args.device)
        plan = plan_budget(args.budget, device, name) if args.budget is not None else None
        if args.resume and args.overwrite:
            raise ValueError("--resume continues the run in --out, --overwrite replaces it; pass one of them")
        out = check_out(args.out, resume=args.resume, overwrite=args.overwrite, flag="--out")
        data_lib.check_data_root(args.data_root)
    except ValueError as e:
        _fail(f"nets train: {e}")
    args.out = str(out)
    image_size = settle(config, plan).image_size
    if image_size < entry(name).min_size:
        _fail(
            f"nets train: --image-size {image_size} is below {name}'s smallest input ({entry(name).min_size} px)"
        )
    rank, world_size, started_group = init_distributed(device)
    try:
        with ExitStack() as held:
            if rank == 0:  # one writer per run folder, from before the data loads (fit takes it again)
                try:
                    notice = held.enter_context(folder_lock(out, what="run", advice="wait for it to end"))
                except FolderInUseError as e:
                    _fail(f"nets train: {e}")
                if notice and not args.quiet:
                    print(notice)
            return _train_locked(args, data_lib, name, config, device, plan, image_size, rank, world_size)
    finally:
        if started_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def _train_locked(
    args, data_lib, name: str, config, device, plan, image_size: int, rank: int, world_size: int
) -> int:
    from .train import TrainingDiverged, fit

    progress = not args.quiet and rank == 0
    data = _load_data(data_lib, args, image_size, plan, rank, world_size, progress)
    try:
        history = fit(name, data, config=config, device=device, out=args.out, resume=args.resume,
                      overwrite=args.overwrite, budget=plan, progress=progress)  # fmt: skip
    except TrainingDiverged as e:
        _fail(f"nets train: {e}", EXIT_FAILED)
    except (ValueError, FileNotFoundError) as e:  # settings fit refuses, e.g. resuming a different run
        _fail(f"nets train: {e}")
    except OSError as e:  # a full disk while saving, say (the message says what was kept)
        _fail(f"nets train: {e}", EXIT_FAILED)
    if rank == 0:
        final = history.final
        print(
            f"{name} on {data.source}: val top-1 {final['val_top1']:.1%}, top-5 {final['val_top5']:.1%} "
            f"after {final['epoch']} epochs (best top-1 {history.best_top1:.1%}); "
            f"wrote {os.path.join(args.out, 'metrics.json')} and checkpoint.pt"
        )
        if data.is_standin:
            print(data.banner)
    return 0


def _load_data(data_lib, args, image_size: int, plan, rank: int, world_size: int, progress: bool):
    """nets.data.load with the command's flags; under torchrun rank 0 goes first (it may download and
    decode), the other ranks then read its tensor cache."""

    def load(show: bool):
        try:
            return data_lib.load(
                args.data,  # None: $NETS_DATA, else auto
                size=args.size,
                root=args.data_root,
                download=not args.no_download,
                fallback=(args.data or os.environ.get("NETS_DATA", "").strip().lower() or "auto") == "auto",
                resolution=max(144, image_size),
                subset=plan.subset if plan else None,
                seed=args.seed,
                progress=show,
            )
        except (OSError, RuntimeError, ValueError) as e:  # missing or unreadable data: say what, then stop
            _fail(f"nets train: cannot load the data: {e}")

    if world_size == 1:
        return load(progress)
    import torch.distributed as dist

    data = load(progress) if rank == 0 else None
    dist.barrier()
    return data if rank == 0 else load(False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m nets`` and the ``nets`` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list_models()
    return _train(args)


if __name__ == "__main__":
    sys.exit(main())
