"""Training throughput, end to end: images per second through the steps ``nets.train.fit`` takes.

    python bench/train.py                 # resnet18 at 128 px on the CPU (and on CUDA if there is one)
    python bench/train.py --steps 40 --batch-size 128 --device cuda

End to end means every step does what ``fit`` does: read the uint8 batch from the split and augment
it on the device (``nets.data.batches``), then forward, backward and a Nesterov SGD step (with AMP
and a GradScaler where asked). Beside it, the same steps on one batch made in advance ("compute
only"); the gap between the two is the share of the time the device waits for data. The two are
measured in alternating blocks and the best block of each is kept, so that a busy, shared machine
disturbs the ratio less. On CUDA it also compares fp32 with AMP + channels-last. Not a test: it
prints a table and the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nets import build  # noqa: E402
from nets.data import Split, batches  # noqa: E402
from nets.train.env import amp_dtype  # noqa: E402

CLASSES = 10


def fake_split(n: int, resolution: int) -> Split:
    """Random uint8 images at the cache's base resolution: throughput does not depend on their content."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, resolution, resolution), dtype=torch.uint8, generator=g)
    return Split(images, torch.arange(n) % CLASSES)


def measure(args, split: Split, device: str, amp: str, channels_last: bool) -> tuple[float, float]:
    """(end-to-end, compute-only) images/s: the best of ``args.rounds`` alternating blocks of each."""
    dev = torch.device(device)
    torch.manual_seed(0)
    model = build(args.model, num_classes=CLASSES).to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    dtype = amp_dtype(amp, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    def data(epoch: int):
        return batches(split, args.batch_size, train=True, image_size=args.image_size, device=dev,
                       epoch=epoch, channels_last=channels_last)  # fmt: skip

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    fixed = next(data(0))
    for _ in range(2):  # warm-up: allocations, cuDNN autotuning
        step(*fixed)
    sync()
    e2e, pure = [], []
    for r in range(args.rounds):
        start = time.perf_counter()
        for x, y in data(r + 1):
            step(x, y)
        sync()
        e2e.append(args.steps * args.batch_size / (time.perf_counter() - start))
        start = time.perf_counter()
        for _ in range(args.steps):
            step(*fixed)
        sync()
        pure.append(args.steps * args.batch_size / (time.perf_counter() - start))
    return max(e2e), max(pure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 on the CPU, 256 on CUDA")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per block, default 4 (CPU) / 20 (CUDA)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating blocks of each kind")
    parser.add_argument("--device", default=None, help="cpu or cuda; default: the CPU, and CUDA if present")
    args = parser.parse_args()
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        f"{args.model} at {args.image_size} px, Nesterov SGD, uint8 data at 144 px augmented on the device\n"
    )
    header = f"{'device':8s} {'precision':20s} {'batch':>5s} {'end-to-end':>12s} {'compute only':>13s} {'data share':>11s}"
    print(header)
    results = {}
    for device in devices:
        on_cuda = device.startswith("cuda")
        run = argparse.Namespace(**vars(args))
        run.batch_size = args.batch_size or (256 if on_cuda else 32)
        run.steps = args.steps or (20 if on_cuda else 4)
        split = fake_split(run.steps * run.batch_size, 144)  # one block = one pass over the split
        configs = [("fp32", "off", False)] + ([("AMP + channels-last", "auto", True)] if on_cuda else [])
        for label, amp, cl in configs:
            e2e, pure = measure(run, split, device, amp, cl)
            results[device, label] = e2e
            share = max(0.0, 1 - e2e / pure)
            print(f"{device:8s} {label:20s} {run.batch_size:5d} {e2e:10.1f}/s {pure:11.1f}/s {share:10.1%}")
    if ("cuda", "AMP + channels-last") in results:
        ratio = results["cuda", "AMP + channels-last"] / results["cuda", "fp32"]
        print(f"\nCUDA: AMP + channels-last is {ratio:.2f}x fp32, end to end")
    if ("cuda", "fp32") in results and ("cpu", "fp32") in results:
        print(f"CUDA fp32 end to end is {results['cuda', 'fp32'] / results['cpu', 'fp32']:.0f}x the CPU")
    print(
        "\ndata share = 1 - end-to-end / compute-only: the part of a step spent reading and augmenting the "
        "batch (on CUDA: the time the GPU waits for data)."
    )


if __name__ == "__main__":
    main()
