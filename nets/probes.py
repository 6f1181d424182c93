"""The probes every chapter uses: one way to look inside a model, one receptive-field arithmetic, one timer.

- :func:`eval_mode` switches a model to eval mode for a ``with`` block and restores its mode after.
- :func:`record` runs a model once under :func:`eval_mode` without gradients and returns what forward
  hooks captured from the modules you name (their outputs by default, or whatever ``capture`` computes).
- :func:`receptive_field` derives from kernels, strides and dilations the input window one output unit
  of a chain of layers sees; :func:`grow_field` is the single step it repeats, for tables of layers that
  are not built (AlexNet's "what if conv1 were ..." arithmetic).
- :func:`best_time` times a call (a forward pass) on a fixed number of threads, synchronising CUDA,
  and keeps the fastest of several runs: other work on a shared machine only ever adds time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .checks import check_int

__all__ = ["best_time", "device_of", "eval_mode", "first_tensor", "grow_field", "receptive_field", "record"]


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without any)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module, *, training: bool = False) -> Iterator[nn.Module]:
    """``with eval_mode(model):`` runs the block with ``model.eval()`` and restores train/eval after.

    ``training=True`` runs it in training mode instead (BatchNorm on the batch's statistics, as in a
    first training step), restoring the caller's mode all the same.
    """
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((item for item in output if isinstance(item, torch.Tensor)), None)
    return None


def record(
    model: nn.Module,
    x: torch.Tensor,
    modules: Mapping[str, nn.Module] | Callable[[str, nn.Module], bool] | None = None,
    *,
    capture: Callable[[nn.Module, tuple, Any], Any] | None = None,
    every_call: bool = False,
) -> dict[str, Any]:
    """Run ``model(x)`` once in eval mode without gradients; return what each watched module produced.

    ``modules`` is a ``{name: module}`` mapping, a predicate ``f(name, module)`` over
    ``model.named_modules()``, or ``None`` for every leaf module. ``capture(module, inputs, output)``
    says what to keep (default: a copy of the output tensor, detached). Results come in the order the forward
    pass ran the modules; a module that runs twice keeps its first result unless ``every_call``
    (then its name maps to a list). ``x`` is moved to the model's device.
    """
    if modules is None:
        modules = {n: m for n, m in model.named_modules() if n and next(m.children(), None) is None}
    elif callable(modules):
        modules = {n: m for n, m in model.named_modules() if modules(n, m)}
    results: dict[str, Any] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
            if capture is None:
                tensor = first_tensor(output)
                if tensor is None:
                    return
                value: Any = tensor.detach().clone()  # a later in-place op (ReLU, +=) must not change it
            else:
                value = capture(module, inputs, output)
            if every_call:
                results.setdefault(name, []).append(value)
            elif name not in results:
                results[name] = value

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        with eval_mode(model), torch.no_grad():
            model(x.to(device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    return results


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[-1])
    return int(value), int(value)


def grow_field(field: int, jump: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """One layer's step of the receptive-field arithmetic: ``(field, jump)`` after a k x k layer.

    ``field`` is the side of the input window one unit sees, ``jump`` the input pixels between two
    neighbouring units. A k x k layer widens the window by ``(k - 1) * dilation * jump``; its stride
    multiplies the jump.
    """
    return field + (kernel - 1) * dilation * jump, jump * stride


def receptive_field(layers: nn.Module, *, per_axis: bool = False) -> int | tuple[int, int]:
    """The side of the input window one output unit of ``layers`` sees, from kernels, strides and dilations.

    Walks the convolutions and pools inside ``layers`` in module order (the order they run in a chain
    such as ``VGG.features``). Two stacked 3x3 convolutions see 5x5, three see 7x7; a 1x7 followed by a
    7x1 sees 7x7 (``per_axis=True`` returns (height, width): (1, 7) after the 1x7 alone).
    """
    if not isinstance(layers, nn.Module):
        raise TypeError(
            f"receptive_field expects an nn.Module (a chain of layers), got {type(layers).__name__}"
        )
    fields, jumps = [1, 1], [1, 1]
    for module in layers.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernels, strides = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
            dilations = _pair(getattr(module, "dilation", 1))
            for axis in (0, 1):
                fields[axis], jumps[axis] = grow_field(
                    fields[axis], jumps[axis], kernels[axis], strides[axis], dilations[axis]
                )
    if per_axis:
        return fields[0], fields[1]
    if fields[0] != fields[1]:
        raise ValueError(f"the window is {fields[0]}x{fields[1]}, not square; pass per_axis=True")
    return fields[0]


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def best_time(
    fn: Callable[[], object],
    *,
    repeats: int = 3,
    warmup: int = 1,
    threads: int | None = 1,
) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn()`` after ``warmup`` untimed ones.

    The minimum, because other work on a shared machine only ever adds time (as ``timeit`` advises).
    CUDA is synchronised around each timed call, so a GPU kernel counts when it finishes, not when it
    is queued. On the CPU ``threads`` intra-op threads are used (one by default: a number that repeats
    on a shared machine, like the single-core phone timings of the mobile-network papers); ``None``
    keeps torch's setting. The caller's thread count is restored. (``torch.utils.benchmark.Timer``
    would run two extra warm-up calls per measurement, too many for a forward pass of EfficientNet-B7.)
    """
    check_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads))
    try:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            _synchronize()
            start = time.perf_counter()
            fn()
            _synchronize()
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(saved)
    return min(times)
