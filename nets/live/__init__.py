"""Live models in the reader's browser: a chapter's trained network runs on the static page.

A chapter writes, after training ``model`` on ``data``::

    nets.live.element(model, data, image_size=32, taps=["features.conv1"],
                      weights="trained in this chapter: 3 epochs on 1,000 Fashion-MNIST images")

In the book build (``scripts/build_book.py`` sets :data:`DIR_ENV` and :data:`URL_ENV`) the network is
exported to ONNX (:func:`nets.live.export.to_onnx`, checked against PyTorch), written into that
folder under a name that is its content's hash, and the page gets an element that ``element.mjs``
(beside this file; the build serves it with onnxruntime-web from the same folder) brings to life: the
reader picks a sample picture, uploads one, or draws one (grey data), and sees the tapped layers'
feature maps and the top three classes with their probabilities, computed in the browser, and how
long it took. Nothing is downloaded until the reader presses the element's button. Several networks
(a dict of label: model) run side by side on the same picture. The page carries the reference
numbers for its first sample (onnxruntime in Python, and PyTorch) so a test can compare.

In a kernel (Jupyter, Colab) there is no site to serve a runtime: the element says so in one line, and
:func:`export` writes the same ONNX file wherever you ask.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checks import check_float, check_int
from ..data import EVAL_CROP, MEAN, STD, balanced_subset, batches
from ..files import atomic_write, human_bytes
from .export import Exported, to_onnx

__all__ = ["DIR_ENV", "RUNTIME", "URL_ENV", "LiveElement", "element", "export"]

DIR_ENV = "NETS_LIVE_DIR"  # the folder the site serves the models from (set by the book build)
URL_ENV = "NETS_LIVE_URL"  # that folder's URL, relative to the pages (e.g. "../live")
RUNTIME = "onnxruntime-web 1.30.0"  # what the build serves beside element.mjs (scripts/build_book.py pins it)
RUNTIME_BYTES = 14_400_000  # its ort.wasm.min.mjs, loader and ort-wasm-simd-threaded.wasm: what Start fetches
SCRIPT = Path(__file__).with_name("element.mjs")
SAMPLES = 6  # sample pictures on the page: one validation image of each of the first classes


def export(model: nn.Module, path: str | os.PathLike, image_size: int, **kwargs) -> Exported:
    """Write ``model`` as the ONNX file a page would run (see :func:`nets.live.export.to_onnx`)."""
    exported = to_onnx(model, image_size, **kwargs)
    atomic_write(Path(path), exported.onnx)
    return exported


class LiveElement:
    """What :func:`element` returns: shown as the live element in the book, as one line elsewhere."""

    def __init__(self, html_text: str, text: str):
        self.html, self.text = html_text, text

    def _repr_mimebundle_(self, **kwargs: object) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text}


def element(
    models: nn.Module | Mapping[str, nn.Module],
    data=None,
    *,
    image_size: int,
    weights: str,
    taps: Sequence[str] | Mapping[str, Sequence[str]] = (),
    classify: bool = True,
    eval_crop: float = EVAL_CROP,
    title: str = "Run it in your browser",
    classes: Sequence[str] | None = None,
    samples: Mapping[str, torch.Tensor] | None = None,
) -> LiveElement:
    """A live element for ``models`` (one, or a dict of label: model shown side by side) trained on
    ``data`` at ``image_size``; ``weights`` says which weights they are; ``taps``: the layers whose
    feature maps are shown (a dict gives each label its own); ``classify=False``: first layers only;
    ``eval_crop``: the central part of a picture the networks see, as in their evaluation (1.0 for
    networks trained on whole images). Without ``data`` (ImageNet weights, say), give ``classes`` and
    ``samples``: caption -> a normalised (1, 3, image_size, image_size) picture, as
    ``nets.viz.sample_photo`` returns; with ``data`` they default to its classes and validation images."""
    if isinstance(models, nn.Module):
        models = {getattr(models, "name", type(models).__name__): models}
    if not models or not all(isinstance(m, nn.Module) for m in models.values()):
        raise ValueError("element needs a model, or a dict of label: model, to run in the page")
    image_size = check_int("image_size", image_size, minimum=8)
    eval_crop = check_float("eval_crop", eval_crop, low=0.0, high=1.0, low_open=True)
    if not isinstance(weights, str) or not weights.strip():
        raise ValueError("say which weights the page runs (weights='trained in this chapter: ...')")
    folder, url = os.environ.get(DIR_ENV), os.environ.get(URL_ENV)
    if not folder or not url:
        line = (f"{title}: in the rendered book this runs {', '.join(models)} in the reader's browser "
                f"({RUNTIME}); in a kernel, call the model itself, or write its ONNX file with "
                "nets.live.export(model, 'model.onnx', image_size).")  # fmt: skip
        return LiveElement(f"<p>{html.escape(line)}</p>", line)
    if data is None and (classes is None or not samples):
        raise ValueError("element needs data, or classes and samples (caption: picture) to show")
    classes = list(data.classes if classes is None else classes)
    if samples:
        pictures, captions = _given(samples, image_size), list(samples)
    else:
        pictures, captions = _samples(data, image_size, eval_crop)
    entries, reference = [], {"sample": 0, "onnxruntime": [], "torch": []}
    for label, model in models.items():
        layers = taps.get(label, ()) if isinstance(taps, Mapping) else taps
        exported = to_onnx(model, image_size, taps=tuple(layers), classify=classify, picture=pictures[0])
        name = f"{_slug(label)}-{hashlib.sha256(exported.onnx).hexdigest()[:12]}.onnx"
        path = Path(folder) / name
        if not path.exists():
            atomic_write(path, exported.onnx)
        reference["onnxruntime"].append(_rounded(exported.reference[0]))
        reference["torch"].append(_rounded(exported.reference[1]))
        entries.append({"label": label, "url": f"{url}/{name}", "bytes": len(exported.onnx),
                        "params": exported.params, "storage": exported.storage, "outputs": exported.outputs,
                        "taps": [{"name": t, "shape": s} for t, s in zip(layers, exported.tap_shapes, strict=True)],
                        "max_diff": exported.max_diff})  # fmt: skip
    config = {
        "title": title, "weights": weights, "runtime": RUNTIME, "models": entries,
        "classes": classes, "size": image_size, "eval_crop": eval_crop,
        "gray": _is_gray(pictures), "classify": classify, "reference": reference,
        "samples": [{"caption": c, "src": _png(p)} for p, c in zip(pictures, captions, strict=True)],
    }  # fmt: skip
    return LiveElement(_html(config, url), _text(config))


def _given(samples: Mapping[str, torch.Tensor], size: int) -> list[torch.Tensor]:
    """The given normalised pictures as 8-bit pixels, each checked for its size."""
    for caption, image in samples.items():
        if not isinstance(image, torch.Tensor) or tuple(image.shape) != (1, 3, size, size):
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"sample {caption!r} must be a (1, 3, {size}, {size}) tensor, got {shape}")
    return [_pixels(image.detach().cpu().float()) for image in samples.values()]


def _samples(data, size: int, eval_crop: float) -> tuple[list[torch.Tensor], list[str]]:
    """The first validation image of each of the first classes, as the model sees them at evaluation,
    quantised to 8 bits (what a PNG holds: the page and the reference compute on the same pixels)."""
    split = balanced_subset(data.val, 1)
    images, labels = next(batches(split, SAMPLES, train=False, image_size=size, eval_crop=eval_crop))
    captions = [f"{data.classes[int(y)]} (validation image)" for y in labels]
    return list(_pixels(images).split(1)), captions


def _pixels(normalised: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalised images back to [0, 1], rounded to 8 bits: the PNG's pixels, which the page and
    the reference both compute on."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return ((normalised * std + mean).clamp(0, 1) * 255).round() / 255


def _rounded(a: np.ndarray) -> list[float]:
    return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).ravel()[:1000]]


def _is_gray(pictures: list[torch.Tensor]) -> bool:
    """Grey data (Fashion-MNIST: one channel served three times) gets grey pictures and a drawing pad."""
    return all(bool((p[:, 0] == p[:, 1]).all() and (p[:, 1] == p[:, 2]).all()) for p in pictures)


def _png(picture: torch.Tensor) -> str:
    from PIL import Image

    array = (picture[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    image = (
        Image.fromarray(array[:, :, 0], "L")
        if (array == array[:, :, :1]).all()
        else Image.fromarray(array, "RGB")
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")[:40] or "model"


def _text(config: dict) -> str:
    sizes = ", ".join(f"{m['label']} {human_bytes(m['bytes'])}" for m in config["models"])
    return f"{config['title']}: a live element of the web edition ({sizes}; weights {config['weights']})."


def _html(config: dict, url: str) -> str:
    total = sum(m["bytes"] for m in config["models"])
    rows = "".join(
        f"<li>{html.escape(m['label'])}: {m['params']:,} parameters, {human_bytes(m['bytes'])} "
        f"({m['storage']} weights)</li>" for m in config["models"]
    )  # fmt: skip
    payload = html.escape(json.dumps(config, separators=(",", ":")), quote=True)
    return (
        f'<div class="nets-live" data-config="{payload}">'
        f"<p><strong>{html.escape(config['title'])}</strong>: the network runs in your browser with "
        f"{RUNTIME} (WebAssembly), on a picture you choose. Weights: {html.escape(config['weights'])}.</p>"
        f"<ul>{rows}</ul>"
        f'<p class="nets-live-status">Pressing start downloads {human_bytes(total)} of model and about '
        f"{human_bytes(RUNTIME_BYTES)} of runtime; nothing is fetched before.</p>"
        "<noscript><p>This live element needs JavaScript.</p></noscript></div>"
        f'<script type="module" src="{html.escape(url)}/element.mjs"></script>'
    )
