"""Training throughput, end to end: how many images per second ``nets.train.fit`` pushes through.

    python bench/train.py                 # resnet18 at 128 px on the CPU (and on CUDA if there is one)
    python bench/train.py --steps 40 --batch-size 128 --device cuda

End to end means what ``fit`` does for every step: read the uint8 batch, augment it on the device
(``nets.data.batches``), forward, backward, optimizer step (the images/s ``fit`` reports itself, for
the second epoch of a two-epoch run). Beside it, the same steps on one batch made in advance
("compute only"); the gap between the two is the share of the time the device waits for data. On
CUDA it also compares fp32 with AMP + channels-last. Not a test: it prints a table and the ratios.
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
from nets.data import Data, Split, batches  # noqa: E402
from nets.train import _amp_dtype, fit  # noqa: E402

CLASSES = 10


def fake_data(n_train: int, n_val: int, resolution: int) -> Data:
    """Random uint8 images at the cache's base resolution: throughput does not depend on their content."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        images = torch.randint(0, 256, (n, 3, resolution, resolution), dtype=torch.uint8, generator=g)
        return Split(images, torch.arange(n) % CLASSES)

    return Data(split(n_train), split(n_val), [f"c{i}" for i in range(CLASSES)], "random", True, resolution)


def end_to_end(model_name: str, data: Data, args, device: str, amp: str, channels_last: bool) -> float:
    """Images/s ``fit`` reports for its second epoch (training steps, data included; the first epoch
    pays one-off costs such as allocations and cuDNN autotuning)."""
    history = fit(
        model_name, data, 2, batch_size=args.batch_size, image_size=args.image_size, amp=amp,
        channels_last=channels_last, device=device, progress=False, warmup_epochs=0.5,
    )  # fmt: skip
    return history.final["images_per_s"]


def compute_only(model_name: str, data: Data, args, device: str, amp: str, channels_last: bool) -> float:
    """Images/s of the same training steps on one batch prepared in advance: no data work at all."""
    dev = torch.device(device)
    torch.manual_seed(0)
    model = build(model_name, num_classes=CLASSES).to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    dtype = _amp_dtype(amp, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
    x, y = next(
        batches(data.train, args.batch_size, train=True, image_size=args.image_size, device=dev,
                channels_last=channels_last)
    )  # fmt: skip

    def step() -> None:
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    step()  # warm-up: allocations, cuDNN autotuning
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    return args.steps * args.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 on the CPU, 256 on CUDA")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps, default 12 (CPU) / 60 (CUDA)"
    )
    parser.add_argument("--device", default=None, help="cpu or cuda; default: the CPU, and CUDA if present")
    args = parser.parse_args()
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores")
    print(f"{args.model} at {args.image_size} px, SGD step, data from a uint8 tensor (base 144 px)\n")
    print(
        f"{'device':8s} {'precision':22s} {'batch':>5s} {'end-to-end':>12s} {'compute only':>13s} {'data share':>11s}"
    )
    results = {}
    for device in devices:
        on_cuda = device.startswith("cuda")
        run = argparse.Namespace(**vars(args))
        run.batch_size = args.batch_size or (256 if on_cuda else 32)
        run.steps = args.steps or (60 if on_cuda else 12)
        data = fake_data(run.steps * run.batch_size, run.batch_size, 144)  # an epoch is `steps` batches
        configs = [("fp32", "off", False)] + ([("AMP + channels-last", "auto", True)] if on_cuda else [])
        for label, amp, cl in configs:
            e2e = end_to_end(args.model, data, run, device, amp, cl)
            pure = compute_only(args.model, data, run, device, amp, cl)
            results[device, label] = e2e
            share = max(0.0, 1 - e2e / pure)
            print(f"{device:8s} {label:22s} {run.batch_size:5d} {e2e:10.1f}/s {pure:11.1f}/s {share:10.1%}")
    if ("cuda", "AMP + channels-last") in results:
        ratio = results["cuda", "AMP + channels-last"] / results["cuda", "fp32"]
        print(f"\nCUDA: AMP + channels-last is {ratio:.2f}x fp32, end to end")
        print(f"CUDA fp32 end to end is {results['cuda', 'fp32'] / results['cpu', 'fp32']:.0f}x the CPU")
    print(
        "\ndata share = 1 - end-to-end / compute-only: the part of each step spent reading and augmenting "
        "the batch (on CUDA: the time the GPU waits for data)."
    )


if __name__ == "__main__":
    main()
