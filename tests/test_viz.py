"""nets.viz and nets.ilsvrc: every figure shows the numbers it is given, in forward order, small and offline.

The models here are tiny ones defined in this file (registered in a scrambled order, so "forward order"
is something a test can get wrong); a few checks use real nets models. Sockets are disabled for every
test: a figure that tried to fetch anything would fail.
"""

from __future__ import annotations

import io
import json
import math
import socket
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

import nets
import nets.data
from nets import ilsvrc, viz


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a figure tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def no_figures_left_open():
    """Every viz function closes its figure in pyplot (Jupyter then renders it exactly once)."""
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "a viz function left a figure open in pyplot"


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    """One real nets model, built once (its fresh weights are as good as any for shapes and sizes)."""
    torch.manual_seed(0)
    return nets.build("resnet18")


def encoded(fig: Figure) -> tuple[str, bytes]:
    """What the book embeds for ``fig`` (in a notebook, the figure shows itself this way)."""
    return viz.encode_figure(fig)


def kb(fig: Figure) -> float:
    return len(encoded(fig)[1]) / 1024


def lossless_png_kb(fig: Figure, dpi: float | None = None) -> float:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or fig.dpi, bbox_inches="tight", pil_kwargs={"optimize": True})
    return len(buffer.getvalue()) / 1024


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Scrambled(nn.Module):
    """Registered head-first, run stem-first: module order is not forward order."""

    def __init__(self, list_stages: bool = False) -> None:
        super().__init__()
        self.head = nn.Linear(32, 5)
        self.mask = nn.Conv2d(1, 1, 3)  # a 1-channel conv registered before the RGB one; never run
        blocks = [Block(8, 16, 2), Block(16, 32, 2), Block(32, 32, 1)]
        self.stages = nn.ModuleList(blocks) if list_stages else nn.Sequential(*blocks)
        self.stem = nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(self.pool(x).flatten(1))


def tile_images(fig: Figure) -> list[np.ndarray]:
    return [ax.images[0].get_array() for ax in fig.axes if ax.images]


# --------------------------------------------------------------------------------------------------
# filter_grid
# --------------------------------------------------------------------------------------------------


def test_filter_grid_has_one_tile_per_filter_up_to_the_maximum():
    model = Scrambled()
    assert len(tile_images(viz.filter_grid(model))) == 8
    assert len(tile_images(viz.filter_grid(model, max_filters=3))) == 3


def test_filter_grid_picks_the_rgb_conv_and_scales_each_filter_to_0_1():
    model = Scrambled()
    tiles = tile_images(viz.filter_grid(model))  # `mask` (1 input channel) comes first in module order
    assert tiles[0].shape == (5, 5, 3)
    w = model.stem.weight[2].detach()
    expected = ((w - w.min()) / (w.max() - w.min())).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(tiles[2], expected, atol=1e-6)
    for tile in tiles:
        assert tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0)


def test_filter_grid_shows_a_constant_filter_as_grey_and_accepts_a_conv():
    conv = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        conv.weight[1].fill_(0.7)
    tiles = tile_images(viz.filter_grid(conv))
    assert len(tiles) == 4
    assert np.all(tiles[1] == 0.5)


def test_filter_grid_explains_a_model_without_rgb_filters():
    with pytest.raises(ValueError, match="3 input channels"):
        viz.filter_grid(nn.Sequential(nn.Conv2d(1, 4, 3)))
    with pytest.raises(ValueError, match="takes 16"):
        viz.filter_grid(nn.Conv2d(16, 4, 3))
    with pytest.raises(ValueError, match="max_filters"):
        viz.filter_grid(Scrambled(), max_filters=0)


def test_filter_grid_works_on_a_nets_model(resnet18):
    assert len(tile_images(viz.filter_grid(resnet18))) == 64
    assert "stem" in viz.filter_grid(resnet18).get_suptitle()


# One model per distinct stem: the other variants of a family share its first layer's design.
STEMS = ["alexnet", "alexnet2012", "vgg11", "resnet18", "googlenet", "inception_v3", "inception_v4",
         "inception_resnet_v2", "efficientnet_b0"]  # fmt: skip


@pytest.mark.slow
def test_filter_grid_works_on_every_nets_stem():
    assert {nets.registry.entry(n).family for n in STEMS} == {
        nets.registry.entry(n).family for n in nets.list_models()
    }
    for name in STEMS:
        model = nets.build(name)
        rgb = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.shape[1] == 3)
        assert len(tile_images(viz.filter_grid(model))) == min(64, rgb.out_channels), name


# --------------------------------------------------------------------------------------------------
# sample_photo and feature_maps
# --------------------------------------------------------------------------------------------------


def test_sample_photo_is_a_normalised_real_photo_from_the_installed_package():
    x = viz.sample_photo()
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    mean = torch.tensor(nets.data.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(nets.data.STD).view(1, 3, 1, 1)
    pixels = x * std + mean
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    assert pixels.std() > 0.1  # a photograph, not a flat fill
    assert viz.sample_photo(64).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="size"):
        viz.sample_photo(0)


def test_feature_maps_picks_layers_with_weights_in_forward_order():
    fig = viz.feature_maps(Scrambled(), viz.sample_photo(64))
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["stem  (8×32×32)", "stages.0  (16×16×16)", "stages.1  (32×8×8)", "stages.2  (32×8×8)"]
    fig = viz.feature_maps(Scrambled(), viz.sample_photo(64), max_layers=2)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert [t.split()[0] for t in titles] == ["stem", "stages.2"]  # first and last


def test_feature_maps_shows_the_layer_outputs():
    model, x = Scrambled(), viz.sample_photo(64)
    fig = viz.feature_maps(model, x, layers=["stages.1", "stem"], channels=3)
    images = tile_images(fig)
    assert len(images) == 1 + 2 * 3  # the photo, then 3 maps per layer
    with torch.no_grad():
        stem = model.stem(x)
        stage1 = model.stages[1](model.stages[0](stem))
    # rows come in forward order whatever order they were asked in; 32×32 maps are pooled to 24×24
    pooled = torch.nn.functional.adaptive_avg_pool2d(stem[:, :3], 24)[0]
    np.testing.assert_allclose(images[1], pooled[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(images[4 + 2], stage1[0, 2].numpy(), atol=1e-5)


def test_feature_maps_leaves_the_model_as_it_found_it():
    model = Scrambled().train()
    viz.feature_maps(model, viz.sample_photo(64), channels=2)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_feature_maps_explains_bad_layers_and_images():
    model, x = Scrambled(), viz.sample_photo(64)
    with pytest.raises(ValueError, match="no layer 'stages.9'.*stem"):
        viz.feature_maps(model, x, layers=["stages.9"])
    with pytest.raises(ValueError, match="not a feature map"):
        viz.feature_maps(model, x, layers=["head"])
    with pytest.raises(ValueError, match="did not run"):
        viz.feature_maps(model, x, layers=["mask"])
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        viz.feature_maps(model, torch.zeros(1, 1, 64, 64))


def test_feature_maps_uses_the_sample_photo_by_default_on_a_nets_model(resnet18):
    fig = viz.feature_maps(resnet18)
    assert tile_images(fig)[0].shape == (224, 224, 3)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert len(titles) == 4 and titles[0].startswith("stem")


# --------------------------------------------------------------------------------------------------
# training_curves
# --------------------------------------------------------------------------------------------------


def make_history(n: int = 4, shift: float = 0.0) -> list[dict]:
    return [
        {
            "epoch": e,
            "train_loss": 2.0 / e + shift,
            "train_acc": 0.9 - 0.8 * 0.6**e - shift,
            "val_loss": 2.2 / e + shift,
            "val_top1": 0.7 - 0.6 * 0.7**e - shift,
            "val_top5": 0.95 - 0.6 * 0.7**e - shift,
            "images_per_s": 1000.0,
            "seconds": 3.0,
        }
        for e in range(1, n + 1)
    ]


def lines_by_label(ax) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


def test_training_curves_plots_the_losses_and_the_accuracies_in_percent():
    history = make_history()
    fig = viz.training_curves(history)
    loss_ax, acc_ax = fig.axes
    loss, acc = lines_by_label(loss_ax), lines_by_label(acc_ax)
    assert set(loss) == {"train", "val"} and set(acc) == {"train", "val top-1", "val top-5"}
    assert loss["val"][0] == [1, 2, 3, 4]
    assert loss["val"][1] == pytest.approx([r["val_loss"] for r in history])
    assert acc["val top-1"][1] == pytest.approx([100 * r["val_top1"] for r in history])
    assert acc["val top-5"][1] == pytest.approx([100 * r["val_top5"] for r in history])
    assert acc_ax.get_ylabel() == "accuracy (%)" and acc_ax.get_xlabel() == "epoch"


def test_training_curves_overlays_several_runs():
    relu, tanh = make_history(), make_history(shift=0.05)
    fig = viz.training_curves({"relu": relu, "tanh": tanh})
    acc = lines_by_label(fig.axes[1])
    assert len(fig.axes[0].lines) == 4 and len(acc) == 6
    assert acc["tanh: val top-1"][1] == pytest.approx([100 * r["val_top1"] for r in tanh])
    assert acc["relu: val top-1"][1] == pytest.approx([100 * r["val_top1"] for r in relu])
    assert "relu vs tanh" in fig.get_suptitle()


def test_training_curves_reads_objects_and_metrics_files_and_marks_stand_in_runs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"epochs": make_history(2), "config": {"model": "alexnet"}}))
    for source in (run, run / "metrics.json", str(run / "metrics.json")):
        fig = viz.training_curves(source)
        assert fig.get_suptitle() == "alexnet: training curves"
    standin = SimpleNamespace(epochs=make_history(3), config={"model": "vgg11", "is_standin": True})
    title = viz.training_curves(standin).get_suptitle()
    assert "STAND-IN" in title and "vgg11" in title
    fig = viz.training_curves({"real": make_history(), "standin": standin})
    assert "STAND-IN" in fig.get_suptitle()
    assert "standin (stand-in): val top-1" in lines_by_label(fig.axes[1])
    # Fashion-MNIST is real photographs: named as itself, never called stand-in data
    fashion = SimpleNamespace(epochs=make_history(3), config={"model": "vgg11", "is_standin": True,
                                                              "data": "fashion-mnist"})  # fmt: skip
    fig = viz.training_curves({"fm": fashion, "fm2": fashion})
    assert fig.get_suptitle().startswith("FASHION-MNIST (not Imagenette)")
    assert "STAND-IN" not in fig.get_suptitle()
    assert "fm (fashion-mnist): val top-1" in lines_by_label(fig.axes[1])


def test_training_curves_skips_metrics_a_run_did_not_record():
    fig = viz.training_curves([{"epoch": 1, "train_loss": 1.5}, {"epoch": 2, "train_loss": 1.0}])
    assert lines_by_label(fig.axes[0]) == {"train": ([1, 2], [1.5, 1.0])}
    assert len(fig.axes[1].lines) == 0


def test_training_curves_explains_bad_histories(tmp_path):
    with pytest.raises(ValueError, match="fraction"):
        viz.training_curves([{"epoch": 1, "val_top1": 75.0}])
    with pytest.raises(ValueError, match="no epochs"):
        viz.training_curves([])
    with pytest.raises(FileNotFoundError, match="metrics"):
        viz.training_curves(tmp_path / "missing.json")
    with pytest.raises(TypeError, match=r"\.epochs"):
        viz.training_curves(42)


# --------------------------------------------------------------------------------------------------
# architecture_parts and architecture_diagram
# --------------------------------------------------------------------------------------------------


def test_architecture_parts_come_in_forward_order_with_shapes_and_params():
    model = Scrambled()
    parts = viz.architecture_parts(model, (1, 3, 32, 32))
    assert [p.name for p in parts] == ["stem", "stages.0", "stages.1", "stages.2", "pool", "head", "mask"]
    shapes = {p.name: p.output_shape for p in parts}
    assert shapes["stem"] == (1, 8, 16, 16)
    assert shapes["stages.1"] == (1, 32, 4, 4)
    assert shapes["head"] == (1, 5)
    assert shapes["mask"] is None  # registered, never run
    params = {p.name: p.params for p in parts}
    assert params["stem"] == 3 * 8 * 25 + 8
    assert params["stages.0"] == sum(p.numel() for p in model.stages[0].parameters())
    assert [p.name for p in viz.architecture_parts(model, (1, 3, 32, 32), depth=1)][:2] == ["stem", "stages"]


def test_architecture_parts_gives_a_module_list_the_output_of_its_last_block():
    parts = viz.architecture_parts(Scrambled(list_stages=True), (2, 3, 32, 32), depth=1)
    assert {p.name: p.output_shape for p in parts}["stages"] == (2, 32, 4, 4)


def test_a_model_without_children_is_one_part():
    conv = nn.Conv2d(3, 4, 3)
    assert viz.architecture_parts(conv, (1, 3, 8, 8)) == [viz.Part("Conv2d", "Conv2d", (1, 4, 6, 6), 112)]
    titles = [ax.get_title(loc="left") for ax in viz.feature_maps(conv, viz.sample_photo(16)).axes]
    assert "Conv2d  (4×14×14)" in titles


def test_architecture_diagram_labels_each_box_and_folds_activations():
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(3, 16, 3, stride=2, padding=1))
    model.add_module("act", nn.ReLU())
    model.add_module("pool", nn.MaxPool2d(2))
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc", nn.Linear(16 * 4 * 4, 10))
    fig = viz.architecture_diagram(model, (1, 3, 16, 16), title="tiny")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["input", "conv + act", "pool + flatten", "fc"]
    texts = [t.get_text() for t in ax.texts]
    assert (
        texts[1].startswith("16×8×8 · 448")
        and texts[2].startswith("256 · 0")
        and texts[3].startswith("10 · 2.6 k")
    )
    widths = [p.get_width() for p in ax.patches]
    assert widths[0] == pytest.approx(math.log10(448 + 1)) and widths[1] == pytest.approx(0.3)
    assert ax.get_title() == "tiny" and "parameters" in ax.get_xlabel()


def test_architecture_diagram_explains_bad_input():
    with pytest.raises(ValueError, match="input_size"):
        viz.architecture_diagram(Scrambled(), (3, 32, 32))
    with pytest.raises(ValueError, match="depth"):
        viz.architecture_diagram(Scrambled(), (1, 3, 32, 32), depth=0)


def test_architecture_diagram_of_a_nets_model_counts_every_parameter(resnet18):
    model = resnet18
    parts = viz.architecture_parts(model)
    assert sum(p.params for p in parts) == nets.count_params(model) == 11_689_512
    assert parts[0].name.startswith("stem") and parts[-1].output_shape == (1, 1000)
    fig = viz.architecture_diagram(model)
    assert "11,689,512" in fig.axes[0].get_title()


# --------------------------------------------------------------------------------------------------
# ILSVRC data and chart
# --------------------------------------------------------------------------------------------------


def test_ilsvrc_data_matches_the_reference_numbers():
    winners = {e.year: (e.team, e.top5_error_pct) for e in ilsvrc.winners()}
    assert winners == {
        2010: ("NEC-UIUC", 28.2),
        2011: ("XRCE", 25.8),
        2012: ("SuperVision", 15.3),
        2013: ("Clarifai", 11.7),
        2014: ("GoogLeNet", 6.7),
        2015: ("MSRA", 3.57),
        2016: ("Trimps-Soushen", 2.99),
        2017: ("WMW", 2.25),
    }
    assert [(e.team, e.top5_error_pct, e.rank) for e in ilsvrc.runners_up()] == [("VGG", 7.3, 2)]
    assert ilsvrc.HUMAN.top5_error_pct == 5.1
    for entry in ilsvrc.ENTRIES:
        expected = (
            "Russakovsky" if entry.year <= 2014 else f"image-net.org/challenges/LSVRC/{entry.year}/results"
        )
        assert expected in entry.source
        assert entry.deep == (entry.year >= 2012)
    assert "Russakovsky" in ilsvrc.HUMAN.source


def test_ilsvrc_chart_draws_each_entry_and_the_human_line():
    fig = viz.ilsvrc_chart()
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert heights == sorted(e.top5_error_pct for e in ilsvrc.ENTRIES)
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [5.1, 5.1]
    labels = {t.get_text() for t in ax.texts}
    assert {"28.2%", "15.3%", "6.7%", "7.3%", "3.57%", "2.25%"} <= labels
    caption = " ".join(t.get_text() for t in fig.texts)
    assert "Russakovsky" in caption and "image-net.org/challenges/LSVRC" in caption
    assert "(%)" in ax.get_ylabel()


# --------------------------------------------------------------------------------------------------
# sample_grid
# --------------------------------------------------------------------------------------------------


def fake_data(is_standin: bool, classes: int = 3, per_class: int = 5, size: int = 16) -> SimpleNamespace:
    """A nets.data.Data look-alike: uint8 images whose first pixel encodes (class, index)."""
    g = torch.Generator().manual_seed(0)

    def split(offset: int) -> SimpleNamespace:
        labels = torch.arange(classes).repeat(per_class)  # interleaved, as a shuffled split would be
        images = torch.randint(0, 256, (len(labels), 3, size, size), dtype=torch.uint8, generator=g)
        images[:, 0, 0, 0] = torch.arange(len(labels), dtype=torch.uint8) + offset
        return SimpleNamespace(images=images, labels=labels)

    banner = "STAND-IN DATA: shapes, not Imagenette" if is_standin else ""
    return SimpleNamespace(
        train=split(0), val=split(100), classes=[f"class {i}" for i in range(classes)], is_standin=is_standin,
        banner=banner,
    )  # fmt: skip


def test_sample_grid_shows_the_first_images_of_each_class_in_its_column():
    data = fake_data(is_standin=False)
    fig = viz.sample_grid(data, per_class=2)
    assert len(tile_images(fig)) == 6
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["class 0", "class 1", "class 2"]
    for col in range(3):
        for row in range(2):
            index = (data.train.labels == col).nonzero().flatten()[row]
            np.testing.assert_array_equal(
                axes[row, col].images[0].get_array(), data.train.images[index].permute(1, 2, 0).numpy()
            )
    val = viz.sample_grid(data, per_class=1, split="val")
    assert tile_images(val)[0][0, 0, 0] == 100


def test_sample_grid_puts_the_stand_in_banner_on_the_figure():
    standin = viz.sample_grid(fake_data(is_standin=True))
    assert any("STAND-IN DATA: shapes" in t.get_text() for t in standin.texts)
    real = viz.sample_grid(fake_data(is_standin=False))
    assert not any("STAND-IN" in t.get_text() for t in real.texts)


def test_sample_grid_shrinks_large_images_and_explains_bad_data():
    big = fake_data(is_standin=False, size=160)
    # a thumbnail is at most 0.9 in wide: as many pixels as the page shows, no more
    assert max(tile_images(viz.sample_grid(big, per_class=1))[0].shape[:2]) <= round(0.9 * viz.DPI)
    with pytest.raises(ValueError, match="split"):
        viz.sample_grid(big, split="test")
    floats = fake_data(is_standin=False)
    floats.train.images = floats.train.images.float()
    with pytest.raises(ValueError, match="uint8"):
        viz.sample_grid(floats)
    with pytest.raises(TypeError, match="Data"):
        viz.sample_grid(SimpleNamespace())


# --------------------------------------------------------------------------------------------------
# Size and legibility: what the book embeds for each figure
# --------------------------------------------------------------------------------------------------


def every_figure(model: nn.Module) -> dict[str, Figure]:
    noisy = fake_data(is_standin=True, classes=10, per_class=4, size=144)
    return {
        "filter_grid": viz.filter_grid(model),
        "feature_maps": viz.feature_maps(model),
        "architecture_diagram": viz.architecture_diagram(model),
        "training_curves": viz.training_curves({"relu": make_history(10), "tanh": make_history(10, 0.05)}),
        "ilsvrc_chart": viz.ilsvrc_chart(),
        "sample_grid": viz.sample_grid(noisy),
        "sample_grid, 1 per class": viz.sample_grid(noisy, per_class=1),
    }


def test_charts_are_palette_pngs_that_lose_nothing_visible(resnet18):
    figures = {
        "architecture_diagram": viz.architecture_diagram(resnet18),
        "training_curves": viz.training_curves({"relu": make_history(10), "tanh": make_history(10, 0.05)}),
        "ilsvrc_chart": viz.ilsvrc_chart(),
    }
    for name, fig in figures.items():
        mime, data = encoded(fig)
        assert mime == "image/png", name
        with Image.open(io.BytesIO(data)) as image:
            assert image.mode == "P", f"{name}: a 256-colour PNG"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")  # the full-colour drawing, same size
        error = np.abs(pixels(data) - pixels(buffer.getvalue())).max(axis=-1)
        assert error.mean() < 1.0 and np.percentile(error, 99.9) <= 10, name
        assert len(data) < 0.5 * len(buffer.getvalue()), f"{name}: the palette should halve the PNG"
        assert len(data) / 1024 < 40, name


def test_photo_like_figures_are_jpegs_smaller_than_their_png():
    noisy = fake_data(is_standin=True, classes=10, per_class=4, size=144)
    fig = viz.sample_grid(noisy)
    mime, data = encoded(fig)
    assert mime == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
    assert len(data) / 1024 < 0.6 * lossless_png_kb(fig)
    assert len(data) / 1024 < 100  # 40 thumbnails of pure noise (the worst case)
    assert kb(viz.sample_grid(noisy, per_class=1)) < 40
    # a plain matplotlib figure of a photograph is recognised by its content
    photo = Figure(figsize=(4, 4), dpi=viz.DPI)
    photo.add_subplot().imshow(viz._displayable(viz.sample_photo(224)))
    assert encoded(photo)[0] == "image/jpeg"
    assert viz.encode_figure(photo, image_format="png")[0] == "image/png"


def test_pictures_that_jpeg_would_blur_stay_png(resnet18):
    # 7x7 filters drawn as blocks and 16-level feature maps: sharp edges, where JPEG rings and grows
    filters = viz.filter_grid(resnet18)
    assert encoded(filters)[0] == "image/png" and kb(filters) < 40
    maps = viz.feature_maps(resnet18)
    assert encoded(maps)[0] == "image/png" and kb(maps) < 60  # a 224 px photo and 32 feature maps


@pytest.mark.slow  # renders and encodes every kind of figure: seconds
def test_every_figure_is_legible_at_the_pages_width(resnet18):
    for name, fig in every_figure(resnet18).items():
        assert fig.dpi == viz.DPI >= 90, name
        assert viz.smallest_text_px(fig) >= viz.MIN_TEXT_PX, f"{name}: text too small to read on the page"
        with Image.open(io.BytesIO(encoded(fig)[1])) as image:
            assert image.width <= viz.PAGE_WIDTH_PX + 2, f"{name}: wider than the page, {image.width} px"
            # drawn at (nearly) full resolution: not shrunk to fit
            assert image.width >= 0.9 * min(viz.PAGE_WIDTH_PX, fig.get_figwidth() * viz.DPI), name


def test_a_figure_wider_than_the_page_is_drawn_at_the_pages_width():
    fig = Figure(figsize=(12, 3), dpi=viz.DPI)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("wide")
    mime, data = viz.encode_figure(fig)
    with Image.open(io.BytesIO(data)) as image:
        assert mime == "image/png" and viz.PAGE_WIDTH_PX - 10 <= image.width <= viz.PAGE_WIDTH_PX + 2
    # its text is as small on the page as the browser would make it of the full-resolution drawing
    full = viz._draw(fig, viz.DPI).width
    expected = 10 * viz.DPI / 72 * viz.PAGE_WIDTH_PX / full  # 10 pt tick labels
    assert viz.smallest_text_px(fig) == pytest.approx(expected, rel=0.02)
    with pytest.raises(ValueError, match="image_format"):
        viz.encode_figure(fig, image_format="gif")


def test_a_book_figure_shows_itself_as_one_light_image_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats
    from IPython.display import display
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})  # what the inline backend registers for every Figure
    noisy = fake_data(is_standin=True, classes=10, per_class=2, size=144)
    for fig, mime in ((viz.ilsvrc_chart(), "image/png"), (viz.sample_grid(noisy), "image/jpeg")):
        with capture_output() as captured:
            display(fig)
        (output,) = captured.outputs
        images = [key for key in output.data if key.startswith("image/")]
        assert images == [mime], "one image, in the format encode_figure chose, not the backend's PNG too"
        assert len(output.data[mime]) < 1.4 * len(encoded(fig)[1])  # base64 of the light image


# --------------------------------------------------------------------------------------------------
# Jupyter: what renders, and how often
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_notebook_renders_each_figure_exactly_once():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "from nets import viz\nimport matplotlib.pyplot as plt",
        "viz.ilsvrc_chart()",  # the cell's result: rendered once, from the figure's repr
        "fig = viz.ilsvrc_chart()",  # assigned: not rendered
        "fig = viz.ilsvrc_chart()\nplt.show()",  # the figure is closed in pyplot, so show() has nothing
        "fig",  # rendered once
        "from IPython.display import display\ndisplay(viz.ilsvrc_chart())",  # rendered once
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nfig",  # an open pyplot figure as the result: twice
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3").execute()
    images = [
        sum(k.startswith("image/") for out in cell.outputs for k in out.get("data", {}))
        for cell in notebook.cells
    ]
    assert images == [0, 1, 0, 0, 1, 1, 2]
    assert "image/png" in notebook.cells[1].outputs[0]["data"]  # a chart stays a PNG
