"""A trained network as an ONNX file that onnxruntime-web runs in a reader's browser.

:func:`to_onnx` wraps the network so that the file takes what a page has, an RGB picture as floats in
[0, 1] (``[1, 3, size, size]``, named ``image``), and does the rest itself: the ImageNet normalisation
the training used, the network, and extra outputs for the feature maps of the layers named in
``taps`` (``tap0``, ``tap1``, ...), after ``logits``. With ``classify=False`` the file stops after
the last tap: the first layers of a network too large to send whole.

The file is checked before it is returned: onnxruntime (Python) runs it on a picture and its logits
(or feature maps) must equal PyTorch's within :data:`TOLERANCE` (fp32 weights) or :data:`FP16_TOLERANCE`
(weights stored as fp16, computed in fp32). Weights are stored as fp16 only when fp32 would be over
``max_bytes``; a file still over it is refused, with what to do.
"""

from __future__ import annotations

import copy
import inspect
import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..checks import check_int
from ..data import MEAN, STD

__all__ = ["FP16_TOLERANCE", "MAX_BYTES", "OPSET", "TOLERANCE", "Exported", "to_onnx", "torch_outputs"]

OPSET = 17  # onnxruntime-web 1.30 runs opsets up to 23; 17 is what torch >= 2.4 exports everywhere
IR_VERSION = 10  # onnxruntime-web 1.30.0 reads IR versions up to 13; onnx 1.23 would write 14
MAX_BYTES = 25_000_000  # the largest file a reader is asked to download for one network
TOLERANCE = 1e-4  # largest |logit difference| between onnxruntime and PyTorch, fp32 weights
# fp16 weights (computed in fp32): each weight moves by up to 2**-11 of itself. Measured on the chapters'
# networks: ResNet-18 (Fashion-MNIST, 32 px) 1.3e-3 at logits of size ~5. The bound is relative to the
# largest |logit|.
FP16_TOLERANCE = 5e-3
_FP16_MIN_ELEMENTS = 1024  # smaller tensors (biases, BatchNorm) stay fp32: they cost nothing


@dataclass(frozen=True)
class Exported:
    """An exported network: the file's bytes and what a page needs to run it."""

    onnx: bytes
    image_size: int
    outputs: tuple[str, ...]  # "logits" (when it classifies) then "tap0", "tap1", ...
    tap_shapes: tuple[tuple[int, ...], ...]  # each tap's [C, H, W]
    storage: str  # "fp32" or "fp16" (weights; the arithmetic is fp32 either way)
    max_diff: float  # measured |onnxruntime - PyTorch| on the check picture
    params: int  # parameters of the layers the file computes with
    # The first output for the check picture: onnxruntime's, then PyTorch's.
    reference: tuple[np.ndarray, np.ndarray]


class _Live(nn.Module):
    """What the file computes: normalise, run the network, return its logits and the tapped outputs."""

    def __init__(self, model: nn.Module, taps: list[nn.Module], classify: bool):
        super().__init__()
        self.model, self.classify = model, classify
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self._seen: list[torch.Tensor] = []
        self._last = taps[-1] if taps else None
        for module in taps:
            module.register_forward_hook(self._tap)

    def _tap(self, module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        self._seen.append(output)
        if not self.classify and module is self._last:
            raise _Stop

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self._seen = []
        try:
            logits = self.model((image - self.mean) / self.std)
        except _Stop:
            return tuple(self._seen)
        return (logits, *self._seen)


class _Stop(Exception):
    """Raised by the last tap of a truncated network: nothing after it runs, or is exported."""


def to_onnx(
    model: nn.Module,
    image_size: int,
    *,
    taps: tuple[str, ...] = (),
    classify: bool = True,
    max_bytes: int = MAX_BYTES,
    picture: torch.Tensor | None = None,
) -> Exported:
    """``model`` (a copy of it, in eval mode) as a checked ONNX file for pictures of ``image_size``,
    checked on ``picture`` (floats in [0, 1], (1, 3, image_size, image_size); default: random pixels)."""
    image_size = check_int("image_size", image_size, minimum=8)
    modules = dict(model.named_modules())
    missing = [name for name in taps if name not in modules]
    if missing:
        convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)][:3]
        raise ValueError(f"taps {missing} are not modules of {type(model).__name__}: use names from "
                         f"model.named_modules(), such as its first convolutions {convs}")  # fmt: skip
    if not classify and not taps:
        raise ValueError("classify=False exports only the taps: name at least one layer in taps")
    if picture is None:
        picture = torch.rand(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    wrapped = _wrap(model, taps, classify)
    expected, params = _run_counting(wrapped, picture)
    names = (["logits"] if classify else []) + [f"tap{i}" for i in range(len(taps))]
    proto = _export(wrapped, picture, names)
    storage = "fp32"
    if proto.ByteSize() > max_bytes:
        _weights_to_fp16(proto)
        storage = "fp16"
    data = proto.SerializeToString()
    if len(data) > max_bytes:
        raise ValueError(f"{type(model).__name__} is {len(data) / 1e6:.0f} MB as ONNX even with fp16 weights, over "
                         f"the {max_bytes / 1e6:.0f} MB a reader should download: export its first layers "
                         "(classify=False, taps=...)")  # fmt: skip
    got, diff = _check(data, picture, expected, names, storage)
    shapes = tuple(tuple(a.shape[1:]) for a in expected[1 if classify else 0 :])
    return Exported(data, image_size, tuple(names), shapes, storage, diff, params, (got[0], expected[0]))


class _AdaptiveAvgPool(nn.Module):
    """``nn.AdaptiveAvgPool2d`` in a form ONNX has for any sizes: where the output does not divide the input
    (VGG's 7x7 pool after a 1x1 map at 32 px) it is two constant averaging matrices, the same arithmetic."""

    def __init__(self, pool: nn.AdaptiveAvgPool2d):
        super().__init__()
        size = pool.output_size
        self.output_size = (size, size) if isinstance(size, int) else tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        oh, ow = (s or d for s, d in zip(self.output_size, (h, w), strict=True))
        if h % oh == 0 and w % ow == 0:
            return nn.functional.adaptive_avg_pool2d(x, (oh, ow))
        return _bins(oh, h, x) @ x @ _bins(ow, w, x).T


def _bins(out: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """The [out, size] matrix that averages adaptive pooling's bins (bin i: floor(i*size/out) to
    ceil((i+1)*size/out)), built in numpy so that a trace records it as one constant."""
    matrix = np.zeros((out, size), dtype=np.float32)
    for i in range(out):
        start, end = (i * size) // out, -(-(i + 1) * size // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return torch.from_numpy(matrix).to(like.dtype)


def _wrap(model: nn.Module, taps: tuple[str, ...], classify: bool) -> _Live:
    """What the file computes, in PyTorch, on a CPU fp32 copy in eval mode (``model`` stays as it is)."""
    model = copy.deepcopy(model).float().cpu().eval()
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.AdaptiveAvgPool2d):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, _AdaptiveAvgPool(module))
    return _Live(model, [dict(model.named_modules())[name] for name in taps], classify).eval()


def torch_outputs(
    model: nn.Module, image: torch.Tensor, *, taps: tuple[str, ...] = (), classify: bool = True
):
    """What the exported file computes for ``image`` (floats in [0, 1]), computed by PyTorch."""
    with torch.no_grad():
        return [t.numpy() for t in _wrap(model, tuple(taps), classify)(image)]


def _export(wrapped: nn.Module, picture: torch.Tensor, names: list[str]):
    import onnx

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter: it runs on every torch this package supports (>= 2.4) and needs no
        # onnxscript; torch >= 2.9 announces its successor, and tracing notes the shape checks it freezes.
        warnings.simplefilter("ignore")
        legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(wrapped, (picture,), buffer, opset_version=OPSET, input_names=["image"],
                          output_names=names, do_constant_folding=True, **legacy)  # fmt: skip
    proto = onnx.load_from_string(buffer.getvalue())
    proto.ir_version = min(proto.ir_version, IR_VERSION)
    return proto


def _run_counting(wrapped: nn.Module, picture: torch.Tensor) -> tuple[list[np.ndarray], int]:
    """PyTorch's outputs for ``picture``, and the parameters of the modules that computed them (an
    auxiliary head or a cut-off tail has none)."""
    ran: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, *_: ran.append(m)) for m in wrapped.modules()]
    try:
        with torch.no_grad():
            outputs = [t.numpy() for t in wrapped(picture)]
    finally:
        for hook in hooks:
            hook.remove()
    return outputs, sum(p.numel() for m in set(ran) for p in m.parameters(recurse=False))


def _weights_to_fp16(proto) -> None:
    """Store the large fp32 weights as fp16, each cast back to fp32 where the graph reads it."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for tensor in proto.graph.initializer:
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < _FP16_MIN_ELEMENTS:
            continue
        name = tensor.name
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), f"{name}.fp16")
        tensor.CopyFrom(half)
        casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT))
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(casts + nodes)


def _check(
    data: bytes, picture: torch.Tensor, expected: list[np.ndarray], names: list[str], storage: str
) -> tuple[list[np.ndarray], float]:
    """Run the file in onnxruntime; its outputs must equal PyTorch's. Returns them and the largest difference."""
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(names, {"image": picture.numpy()})
    diff = max(float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True))
    scale = max(1.0, max(float(np.abs(e).max()) for e in expected))
    bound = TOLERANCE if storage == "fp32" else FP16_TOLERANCE * scale
    if not diff <= bound:
        raise RuntimeError(f"the ONNX file computes something else: onnxruntime and PyTorch differ by {diff:.2e}, "
                           f"over {bound:.1e} ({storage} weights)")  # fmt: skip
    return got, diff
