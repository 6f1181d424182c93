"""nets.live: the chapters' networks as ONNX files that compute what PyTorch computes, and the element
that runs them in the page. (The page itself, in Chromium, is tests/test_browser.py's.)"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import sys
from html import unescape
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image
from torch import nn

import nets
import nets.data
import nets.live
import nets.viz
from nets.lab.alexnet import Figure1Net
from nets.live.export import FP16_TOLERANCE, IR_VERSION, TOLERANCE, to_onnx, torch_outputs
from nets.models.vgg import vgg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_book  # noqa: E402


def picture(size: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def run_onnx(data: bytes, image: torch.Tensor, names: list[str] | None = None) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(names, {"image": image.numpy()})


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return Figure1Net(10, activation="relu", widths=(8, 8, 16))


@pytest.mark.parametrize(
    "name, options, size",
    [
        ("resnet18", {}, 32),
        ("googlenet", {"aux_logits": True}, 32),
        ("vgg", {"config": "A", "batch_norm": True, "width": 0.25, "fc_width": 512}, 32),
    ],
)
def test_the_file_computes_what_pytorch_computes(name, options, size):
    """fp32 weights: the logits of a fresh picture (not the one the export checked) within 1e-4."""
    torch.manual_seed(0)
    model = vgg(10, **options) if name == "vgg" else nets.build(name, num_classes=10, **options)
    with torch.no_grad():  # trained-looking BatchNorm statistics, so folding them is tested too
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    exported = to_onnx(model, size, max_bytes=10**9)
    assert exported.storage == "fp32" and exported.outputs == ("logits",)
    image = picture(size)
    (got,) = run_onnx(exported.onnx, image)
    mean, std = torch.tensor(nets.data.MEAN).view(1, 3, 1, 1), torch.tensor(nets.data.STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.eval()((image - mean) / std).numpy()
    assert np.abs(got - expected).max() <= TOLERANCE
    assert (
        onnx.load_from_string(exported.onnx).ir_version <= IR_VERSION <= 13
    )  # what onnxruntime-web 1.30 reads


def test_the_model_is_left_as_it_was():
    model = small_net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    to_onnx(model, 16, taps=("features.act1",))
    assert model.training and not model.features.act1._forward_hooks
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_taps_come_after_the_logits_and_equal_pytorch():
    model = small_net()
    exported = to_onnx(model, 24, taps=("features.act1", "features.act2"))
    assert exported.outputs == ("logits", "tap0", "tap1")
    assert exported.tap_shapes == ((8, 24, 24), (8, 11, 11))
    image = picture(24)
    got = run_onnx(exported.onnx, image)
    for g, e in zip(got, torch_outputs(model, image, taps=("features.act1", "features.act2")), strict=True):
        assert g.shape == e.shape and np.abs(g - e).max() <= TOLERANCE


def test_a_truncated_network_holds_only_its_first_layers():
    torch.manual_seed(0)
    alexnet = nets.build("alexnet2012", num_classes=10)
    exported = to_onnx(alexnet, 67, taps=("features.act1", "features.act2"), classify=False)
    assert exported.outputs == ("tap0", "tap1")
    conv1, conv2 = alexnet.features.conv1, alexnet.features.conv2
    assert exported.params == sum(p.numel() for m in (conv1, conv2) for p in m.parameters())
    assert len(exported.onnx) < 2_000_000  # the whole network is ~230 MB
    image = picture(67)
    got = run_onnx(exported.onnx, image)
    expected = torch_outputs(alexnet, image, taps=("features.act1", "features.act2"), classify=False)
    assert max(np.abs(g - e).max() for g, e in zip(got, expected, strict=True)) <= TOLERANCE


def test_weights_are_stored_as_fp16_only_when_fp32_is_too_large():
    model = small_net()
    fp32 = to_onnx(model, 16)
    fp16 = to_onnx(model, 16, max_bytes=len(fp32.onnx) - 1)
    assert fp32.storage == "fp32" and fp16.storage == "fp16"
    assert len(fp16.onnx) < 0.7 * len(fp32.onnx)  # its biases and BatchNorm stay fp32
    proto = onnx.load_from_string(fp16.onnx)
    halves = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert halves and all(t.name.endswith(".fp16") for t in halves)
    image = picture(16)
    (got,) = run_onnx(fp16.onnx, image)
    (expected,) = torch_outputs(model, image)
    diff = np.abs(got - expected).max()
    assert 0 < diff <= FP16_TOLERANCE * max(1.0, np.abs(expected).max())  # rounded, and only by that
    with pytest.raises(ValueError, match=r"even with fp16 weights.*classify=False, taps="):
        to_onnx(model, 16, max_bytes=1000)


def test_the_auxiliary_heads_are_neither_exported_nor_counted():
    torch.manual_seed(0)
    googlenet = nets.build("googlenet", num_classes=10, aux_logits=True)
    exported = to_onnx(googlenet, 32, max_bytes=10**9)
    with torch.device("meta"):
        plain = nets.build("googlenet", num_classes=10)
    assert exported.params == nets.count_params(plain) < nets.count_params(googlenet)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"taps": ("features.nope",)},
            r"taps \['features.nope'\] are not modules of Figure1Net.*features.conv1",
        ),
        ({"classify": False}, "name at least one layer in taps"),
        ({"image_size": 4}, "image_size"),
    ],
)
def test_bad_exports_are_refused_in_one_line(kwargs, message):
    kwargs = {"image_size": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        to_onnx(small_net(), kwargs.pop("image_size"), **kwargs)


@pytest.fixture
def data(offline_cache):
    return nets.data.load(source="standin", resolution=32)


def test_outside_the_book_build_the_element_is_one_line(data, monkeypatch):
    monkeypatch.delenv(nets.live.DIR_ENV, raising=False)
    shown = nets.live.element(small_net(), data, image_size=16, weights="random")._repr_mimebundle_()
    assert "nets.live.export" in shown["text/plain"] and "\n" not in shown["text/plain"]
    assert "<script" not in shown["text/html"]


def test_export_writes_the_file_a_page_would_run(tmp_path):
    path = tmp_path / "net.onnx"
    exported = nets.live.export(small_net(), path, 16)
    assert path.read_bytes() == exported.onnx


def page_config(html_text: str) -> dict:
    return json.loads(unescape(re.search(r'data-config="([^"]+)"', html_text)[1]))


def test_in_the_book_build_the_element_carries_models_samples_and_references(data, tmp_path, monkeypatch):
    monkeypatch.setenv(nets.live.DIR_ENV, str(tmp_path / "live"))
    monkeypatch.setenv(nets.live.URL_ENV, "../live")
    models = {"ReLU": small_net(0), "tanh": Figure1Net(10, activation="tanh", widths=(8, 8, 16))}
    shown = nets.live.element(
        models, data, image_size=16, taps=["features.act1"], weights="random, for a test"
    )
    html_text = shown._repr_mimebundle_()["text/html"]
    assert '<script type="module" src="../live/element.mjs"></script>' in html_text
    config = page_config(html_text)
    assert [m["label"] for m in config["models"]] == ["ReLU", "tanh"]
    assert config["classes"] == list(data.classes) and config["size"] == 16 and not config["gray"]
    files = sorted((tmp_path / "live").iterdir())
    assert [f"../live/{f.name}" for f in files] == sorted(m["url"] for m in config["models"])
    assert all(re.fullmatch(r"(relu|tanh)-[0-9a-f]{12}\.onnx", f.name) for f in files)
    # The samples are the pixels the reference was computed on: decode the first, run it, compare.
    first = config["samples"][0]["src"].removeprefix("data:image/png;base64,")
    pixels = (
        np.asarray(Image.open(io.BytesIO(base64.b64decode(first))).convert("RGB"), dtype=np.float32) / 255
    )
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    assert len(config["samples"]) == nets.live.SAMPLES
    for model, entry, ort_ref, torch_ref in zip(models.values(), config["models"],
                                                config["reference"]["onnxruntime"],
                                                config["reference"]["torch"], strict=True):  # fmt: skip
        (logits,) = torch_outputs(model, image)
        assert np.abs(logits.ravel() - np.array(torch_ref)).max() <= 1e-5
        assert np.abs(np.array(ort_ref) - np.array(torch_ref)).max() <= TOLERANCE
        assert entry["taps"] == [{"name": "features.act1", "shape": [8, 16, 16]}]
        assert entry["outputs"] == ["logits", "tap0"] and entry["storage"] == "fp32"
    # The same network again writes nothing new.
    nets.live.element({"ReLU": models["ReLU"]}, data, image_size=16, taps=["features.act1"], weights="again")
    assert len(list((tmp_path / "live").iterdir())) == 2


def test_grey_data_gets_grey_samples(data, tmp_path, monkeypatch):
    """Fashion-MNIST is one grey channel served three times: the page gets grey PNGs (and a drawing pad)."""
    grey = dataclasses.replace(
        data, val=dataclasses.replace(data.val, images=data.val.images[:, :1].expand(-1, 3, -1, -1))
    )
    monkeypatch.setenv(nets.live.DIR_ENV, str(tmp_path / "live"))
    monkeypatch.setenv(nets.live.URL_ENV, "../live")
    config = page_config(nets.live.element(small_net(), grey, image_size=16, weights="random").html)
    assert config["gray"]
    first = base64.b64decode(config["samples"][0]["src"].split(",")[1])
    assert Image.open(io.BytesIO(first)).mode == "L"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": ""}, "say which weights"),
        ({"image_size": 0}, "image_size"),
        ({"eval_crop": 1.5}, "eval_crop"),
    ],
)
def test_bad_elements_are_refused_in_one_line(data, kwargs, message):
    kwargs = {"image_size": 16, "weights": "random", **kwargs}
    with pytest.raises(ValueError, match=message):
        nets.live.element(small_net(), data, **kwargs)
    with pytest.raises(ValueError, match="a model, or a dict of label: model"):
        nets.live.element({}, data, image_size=16, weights="random")


def test_the_build_and_the_package_agree_on_names():
    assert (build_book.LIVE_DIR_ENV, build_book.LIVE_URL_ENV) == (nets.live.DIR_ENV, nets.live.URL_ENV)
    assert build_book.LIVE_SCRIPT == nets.live.SCRIPT and nets.live.SCRIPT.is_file()
    assert f"{build_book.ONNXRUNTIME_WEB.name} {build_book.ONNXRUNTIME_WEB.version}" == nets.live.RUNTIME
    env = build_book._book_env()
    assert env[nets.live.DIR_ENV] == str(build_book.LIVE) and env[nets.live.URL_ENV] == "../live"


def test_the_site_must_have_every_model_a_page_runs(tmp_path):
    html, live = tmp_path / "html", tmp_path / "site-extra" / "live"
    (html / "book").mkdir(parents=True)
    (html / "live").mkdir()
    live.mkdir(parents=True)
    (html / "book" / "a.html").write_text(
        '<div data-config="{&quot;url&quot;:&quot;../live/net-0123456789ab.onnx&quot;}">'
    )
    problems = build_book.check_site(html)
    assert any("live/net-0123456789ab.onnx, which the site lacks" in p and "--fresh" in p for p in problems)
    for folder in (html / "live", live):
        (folder / "net-0123456789ab.onnx").write_bytes(b"x")
        (folder / "old-0123456789ab.onnx").write_bytes(b"x")
    assert not [p for p in build_book.check_site(html) if "live/" in p]
    removed = build_book.prune_live_models(html, live)
    assert sorted(p.name for p in removed) == ["old-0123456789ab.onnx"] * 2
    assert [p.name for p in live.iterdir()] == ["net-0123456789ab.onnx"]


def test_imagenet_weights_run_on_given_samples_with_their_own_classes(tmp_path, monkeypatch):
    """No data (torchvision's ImageNet weights, say): the classes and the pictures are given."""
    monkeypatch.setenv(nets.live.DIR_ENV, str(tmp_path / "live"))
    monkeypatch.setenv(nets.live.URL_ENV, "../live")
    photo = nets.viz.sample_photo(16)
    classes = [f"class {i}" for i in range(10)]
    config = page_config(
        nets.live.element(
            small_net(), image_size=16, classes=classes, samples={"a cat": photo}, weights="w"
        ).html
    )
    assert config["classes"] == classes and [s["caption"] for s in config["samples"]] == ["a cat"]
    assert not config["gray"]
    with pytest.raises(ValueError, match="needs data, or classes and samples"):
        nets.live.element(small_net(), image_size=16, weights="w")
    with pytest.raises(ValueError, match=r"sample 'a cat' must be a \(1, 3, 16, 16\) tensor"):
        nets.live.element(
            small_net(), image_size=16, classes=classes, samples={"a cat": photo[0]}, weights="w"
        )
