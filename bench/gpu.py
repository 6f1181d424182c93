"""The GPU check, in one command (about 5 minutes on one GPU): is a brief run GPU-bound, and what does AMP buy?

    python bench/gpu.py                      # resnet18 and resnet50, on the first CUDA device
    python bench/gpu.py --models resnet50 --compile

1. A brief run end to end: ``nets.train.fit(model, data, budget="brief")`` on the data ``nets.data.load``
   finds (Imagenette where it is on disk, else Fashion-MNIST, else the stand-in): images/s per epoch and
   wall time, as a reader on a GPU runtime would see it.
2. Per precision (fp32; bf16 and fp16 autocast, fp16 with a GradScaler), with and without channels-last:
   training images/s end to end (read + augment on the device + step) against compute only (the same
   steps on one batch made in advance), measured in alternating blocks (``bench/train.py``'s method). The
   share of a step spent waiting for data is 1 - end-to-end / compute-only.

It prints one table and the ratios; nothing is asserted. Run it wherever a GPU is available.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nets.data import load  # noqa: E402
from nets.train import fit  # noqa: E402


def _bench_train():
    """bench/train.py as a module: its measure() and fake_split() time the steps the same way here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_train", Path(__file__).with_name("train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time fit with torch.compile")
    parser.add_argument("--skip-fit", action="store_true", help="only the per-precision table")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "bench/gpu.py: no CUDA device here; it measures the GPU path (bench/train.py does the CPU)"
        )
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else args.device
    print(f"torch {torch.__version__}, {name}, {os.cpu_count()} CPU cores\n")

    if not args.skip_fit:
        data = load(progress=False)
        print(f"1. brief runs with fit(budget='brief') on {data.source} ({len(data.train)} train images)")
        print(
            f"{'model':10s} {'compile':8s} {'epochs':>6s} {'img/s (last epoch)':>19s} {'wall s':>7s} {'val top-1':>9s}"
        )
        for model in args.models:
            for compiled in (False, True) if args.compile else (False,):
                start = time.perf_counter()
                history = fit(
                    model, data, budget="brief", device=args.device, compile=compiled, progress=False
                )
                wall = time.perf_counter() - start
                last = history.final
                print(f"{model:10s} {str(compiled):8s} {last['epoch']:6d} {last['images_per_s']:19.0f} {wall:7.1f} "
                      f"{last['val_top1']:9.1%}")  # fmt: skip
        print()

    print(f"2. training steps at {args.image_size} px, batch {args.batch_size}: end to end vs compute only")
    print(f"{'model':10s} {'precision':20s} {'end-to-end':>12s} {'compute only':>13s} {'data share':>11s}")
    bench_train = _bench_train()
    split = bench_train.fake_split(args.steps * args.batch_size, 144)
    for model in args.models:
        results = {}
        for label, amp, channels_last in (("fp32", "off", False), ("bf16", "bf16", False),
                                          ("fp16 + GradScaler", "fp16", False), ("bf16 + channels-last", "bf16", True),
                                          ("fp16 + channels-last", "fp16", True)):  # fmt: skip
            run = argparse.Namespace(**{**vars(args), "model": model})
            e2e, pure = bench_train.measure(run, split, args.device, amp, channels_last)
            results[label] = e2e
            print(f"{model:10s} {label:20s} {e2e:10.0f}/s {pure:11.0f}/s {max(0.0, 1 - e2e / pure):10.1%}")
        best = max(results, key=results.get)
        print(f"{model}: best {best}, {results[best] / results['fp32']:.2f}x fp32 end to end\n")


if __name__ == "__main__":
    main()
