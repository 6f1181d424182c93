"""Forward+backward throughput of every ``nets`` model against the reference implementation.

Both models of a pair are built in this process and timed interleaved (ours, theirs, ours, theirs...),
so drift in the machine's speed hits both alike; the ratio ours/theirs is printed per model.
Target: every ratio >= 0.97.

    python bench/models.py                       # every model with a reference, 128 px, batch 8
    python bench/models.py --models resnet50 vgg16 --size 224 --batch 16 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nets  # noqa: E402
from nets.registry import entry  # noqa: E402


def reference(name: str) -> torch.nn.Module | None:
    """The reference implementation of ``name`` (torchvision, or timm for v4/IRv2), randomly initialised."""
    if entry(name).source == "timm":
        try:
            import timm
        except ImportError:
            return None
        return timm.create_model(name, pretrained=False)
    from torchvision import models as tv

    if name not in tv.list_models():
        return None
    flags = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    return tv.get_model(name, weights=None, **flags)


def step_time(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds for one forward + backward pass."""
    if x.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    out.float().sum().backward()
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(name: str, size: int, batch: int, rounds: int, device: str) -> tuple[float, float] | None:
    theirs = reference(name)
    if theirs is None:
        return None
    ours = nets.build(name)
    size = max(size, nets.registry.entry(name).min_size)
    x = torch.randn(batch, 3, size, size, device=device)
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    models = {"ours": ours.to(device).train(), "theirs": theirs.to(device).train()}
    for _ in range(2):  # warm-up
        for m in models.values():
            step_time(m, x)
    for _ in range(rounds):
        for key, m in models.items():
            m.zero_grad(set_to_none=True)
            times[key].append(step_time(m, x))
    return batch / statistics.median(times["ours"]), batch / statistics.median(times["theirs"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="*", default=None, help="default: every model with a reference")
    parser.add_argument("--size", type=int, default=128, help="input resolution (default 128)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per model (median is reported)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    names = args.models or nets.list_models()
    print(
        f"forward+backward, batch {args.batch}, {args.size}px, {args.device}, median of {args.rounds} rounds"
    )
    print(f"{'model':<22}{'nets img/s':>12}{'reference img/s':>17}{'ratio':>8}")
    ratios = []
    for name in names:
        result = compare(name, args.size, args.batch, args.rounds, args.device)
        if result is None:
            print(f"{name:<22}{'(no reference implementation)':>37}")
            continue
        ours, theirs = result
        ratios.append(ours / theirs)
        flag = "" if ours / theirs >= 0.97 else "  < 0.97"
        print(f"{name:<22}{ours:>12.1f}{theirs:>17.1f}{ours / theirs:>8.3f}{flag}", flush=True)
    if ratios:
        print(
            f"min ratio {min(ratios):.3f}, geometric mean {statistics.geometric_mean(ratios):.3f} (target >= 0.97)"
        )


if __name__ == "__main__":
    main()
