"""Benchmark: the decode-once tensor cache vs torchvision's ImageFolder + PIL pipeline (not a test).

    .venv/bin/python bench/data.py [--per-class 100] [--epochs 3] [--batch-size 128]
    .venv/bin/python bench/data.py --fashion 64 144      # Fashion-MNIST cache build times only

On one generated 160 px Imagenette-like tree (realistic ~160 x 213 JPEGs, made by
tests/imagenette_fixture.py in a temp folder) it measures images per second of

1. tensor cache -> device: the uint8 batches ``nets.data`` hands to the training device
   (``raw_batches``: rows of the memory-mapped cache in a shuffled order, moved to the device;
   augmentation then runs there);
2. tensor cache, end to end on the CPU: ``nets.data.batches(train=True)`` with the CPU as the training
   device, so random-resized-crop + flip + normalisation run on the CPU too;
3. (with a GPU) the same end to end with augmentation on the GPU;
4. baseline: ``ImageFolder`` + PIL + ``RandomResizedCrop(128)`` + flip + ``ToTensor`` + ``Normalize`` in a
   ``DataLoader`` with 2 workers (persistent, timed after a warm-up epoch).

It prints a table and the ratios (targets: (1) >= 10x the baseline, (2) > 1x). The one-off decode that
builds the cache is timed and printed separately: it is paid once, on the first run.

``--fashion R ...`` instead times building the Fashion-MNIST tensor cache (70,000 images, both splits)
at each resolution R from Debian's ``dataset-fashion-mnist`` files, in a temp folder: the first
resolution includes decompressing the raw files, and each is timed again when it only memory-maps.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from imagenette_fixture import fake_counts, make_fake_imagenette  # noqa: E402

from nets import data as nd  # noqa: E402
from nets.data.imagenette import tree_name  # noqa: E402

IMAGE_SIZE = 128


def images_per_second(batch_iter, epochs: int) -> float:
    """Consume ``epochs`` epochs from ``batch_iter(epoch)`` and return images/s (the batches are touched)."""
    count, start = 0, time.perf_counter()
    for epoch in range(epochs):
        for x, _ in batch_iter(epoch):
            count += x.shape[0]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def cache_to_device(split: nd.Split, batch_size: int, device: torch.device):
    """What the tensor-cache pipeline hands to the device: ``nets.data.raw_batches`` (uint8, before augmentation)."""
    return lambda epoch: nd.raw_batches(split, batch_size, train=True, device=device, epoch=epoch)


def torchvision_loader(train_dir: Path, batch_size: int, workers: int):
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(IMAGE_SIZE, scale=nd.CROP_SCALE),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(nd.MEAN, nd.STD),
        ]
    )
    dataset = datasets.ImageFolder(str(train_dir), transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=True,
    )
    return lambda epoch: iter(loader)


def fashion_build_times(resolutions: list[int]) -> None:
    """Time ``load("fashion-mnist")`` from Debian's files: first build of each resolution, then a reopen."""
    from nets.data import fashion

    if not fashion.DEBIAN_DIR.is_dir():
        sys.exit(f"{fashion.DEBIAN_DIR} is missing: apt-get install {fashion.DEBIAN_PACKAGE}")
    with tempfile.TemporaryDirectory(prefix="nets-bench-fashion-") as tmp:
        for resolution in resolutions:
            start = time.perf_counter()
            data = nd.load("fashion-mnist", root=tmp, resolution=resolution, progress=False)
            build = time.perf_counter() - start
            start = time.perf_counter()
            nd.load("fashion-mnist", root=tmp, resolution=resolution, progress=False)
            reopen = time.perf_counter() - start
            n = len(data.train) + len(data.val)
            size = sum(f.stat().st_size for f in Path(tmp, "tensor-cache").glob(f"*-r{resolution}.npy"))
            print(
                f"Fashion-MNIST at {resolution} px: build {build:.1f} s ({n / build:,.0f} images/s), "
                f"reopen {reopen:.2f} s, cache {size / 2**20:,.0f} MiB"
            )
    print(f"CPU threads: torch {torch.get_num_threads()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=100, help="training images per class")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the baseline")
    parser.add_argument(
        "--fashion", type=int, nargs="+", metavar="R", help="only time Fashion-MNIST cache builds"
    )
    args = parser.parse_args()
    if args.fashion:
        fashion_build_times(args.fashion)
        return

    with tempfile.TemporaryDirectory(prefix="nets-bench-data-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_fake_imagenette(root, per_class=(args.per_class, 1), corrupt=0, marker=False)
        nd.verify_imagenette_tree(root, expected_counts=fake_counts((args.per_class, 1)))
        n_images = 10 * args.per_class
        jpeg_bytes = sum(f.stat().st_size for f in (root / tree_name("160px") / "train").rglob("*.JPEG"))
        print(
            f"generated {n_images} training JPEGs ({jpeg_bytes / n_images / 1024:.1f} kB each) "
            f"in {time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = nd.load("imagenette", root=root, download=False, progress=False)
        build = time.perf_counter() - start
        print(
            f"one-off decode into the tensor cache (both splits, R={data.resolution}): {build:.1f} s, "
            f"{(len(data.train) + len(data.val)) / build:.0f} images/s"
        )

        cpu = torch.device("cpu")
        rows = [
            (
                "tensor cache -> device (uint8 rows, CPU)",
                images_per_second(cache_to_device(data.train, args.batch_size, cpu), args.epochs),
            ),
            (
                "tensor cache end to end, augmentation on the CPU",
                images_per_second(
                    lambda e: nd.batches(
                        data.train, args.batch_size, train=True, image_size=IMAGE_SIZE, epoch=e
                    ),
                    args.epochs,
                ),
            ),
        ]
        if torch.cuda.is_available():
            gpu = torch.device("cuda")
            rows.append(
                (
                    "tensor cache -> device (uint8 rows, GPU)",
                    images_per_second(cache_to_device(data.train, args.batch_size, gpu), args.epochs),
                )
            )
            rows.append(
                (
                    "tensor cache end to end, augmentation on the GPU",
                    images_per_second(
                        lambda e: nd.batches(
                            data.train,
                            args.batch_size,
                            train=True,
                            image_size=IMAGE_SIZE,
                            epoch=e,
                            device=gpu,
                        ),
                        args.epochs,
                    ),
                )
            )

        baseline_iter = torchvision_loader(root / tree_name("160px") / "train", args.batch_size, args.workers)
        images_per_second(baseline_iter, 1)  # warm-up: start the workers, fill the page cache
        baseline = images_per_second(baseline_iter, args.epochs)
        rows.append((f"torchvision ImageFolder + PIL, DataLoader({args.workers} workers)", baseline))

    width = max(len(name) for name, _ in rows)
    print(
        f"\n{'pipeline (train split, ' + str(IMAGE_SIZE) + ' px, batch ' + str(args.batch_size) + ')':<{width}}"
        f"  {'images/s':>10}  {'vs baseline':>11}"
    )
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>10.0f}  {rate / baseline:>10.1f}x")
    print(
        f"\nCPU threads: torch {torch.get_num_threads()}; device: "
        f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}"
    )
    print(f"ratio tensor cache -> device / baseline: {rows[0][1] / baseline:.1f}x (target >= 10x)")
    print(f"ratio end to end on the CPU / baseline: {rows[1][1] / baseline:.1f}x (target > 1x)")


if __name__ == "__main__":
    main()
