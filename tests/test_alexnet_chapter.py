"""What the AlexNet chapter computes (nets.lab.alexnet): layer arithmetic equal to the built model, LRN's
divisor, augmentation, Figure 1's network."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

import nets
import nets.data
from nets.lab import alexnet as lab
from nets.layers import local_response_norm
from nets.models import alexnet as A
from nets.summary import count_macs, count_params


def _built(size: int, conv1=None, **options) -> tuple[nn.Module, dict[str, tuple[int, ...]]]:
    """alexnet2012 (conv1 replaced when asked) and the output shape of each named layer at ``size``,
    on the meta device: shapes, counts and MACs without initialising 60 M weights."""
    with torch.device("meta"):
        model = A.alexnet2012(num_classes=options.pop("num_classes", 1000), **options).eval()
        if conv1 is not None:
            kernel, stride, padding = conv1
            model.features.conv1 = nn.Conv2d(3, 96, kernel, stride, padding)
            model.min_size = 1  # the table's minimum no longer applies; the arithmetic says what fits
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
        for name, module in [*model.features.named_children(), *model.classifier.named_children()]
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.Linear))
    ]
    hooks.append(
        model.avgpool.register_forward_hook(lambda m, i, o: shapes.__setitem__("avgpool", tuple(o.shape)))
    )
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    for hook in hooks:
        hook.remove()
    return model, shapes


@pytest.mark.parametrize(
    ("size", "options"),
    [
        (227, {}),
        (227, {"overlapping_pool": False}),
        (227, {"groups": 1}),
        (224, {"num_classes": 10}),
        (67, {}),
        (39, {"overlapping_pool": False}),
        (300, {"groups": 4}),
        (99, {"conv1": (7, 2, 0)}),
        (227, {"conv1": (5, 4, 2)}),
        (160, {"conv1": (11, 8, 3), "overlapping_pool": False}),
    ],
)
def test_layer_arithmetic_equals_the_built_model(size, options):
    model, shapes = _built(size, **dict(options))
    frame = lab.layer_arithmetic(size, **options)
    assert frame["params"].sum() == count_params(model)
    assert frame["macs"].sum() == count_macs(model, (1, 3, size, size))
    for row in frame.itertuples():
        shape = shapes[row.layer]
        if row.layer.startswith("fc"):
            assert shape == (1, row.channels)
        else:
            assert shape == (1, row.channels, row.size, row.size), row.layer
    weighted = {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    for row in frame.itertuples():
        module = weighted.get(f"features.{row.layer}", weighted.get(f"classifier.{row.layer}"))
        assert row.params == (0 if module is None else count_params(module))
    # The adaptive pool only appears when conv5's maps are not already 6x6.
    assert ("avgpool" in set(frame["layer"])) == (shapes["pool5"][-1] != 6)


def test_layer_arithmetic_of_the_paper_at_227():
    frame = lab.layer_arithmetic().set_index("layer")
    assert frame.loc["conv1", "size"] == 55 and frame.loc["pool5", "size"] == 6
    assert frame["params"].sum() == 60_965_224
    assert frame.loc["conv2", "params"] == 256 * 48 * 25 + 256  # one tower sees half of conv1's maps
    # Receptive fields: conv1 sees 11 px; every layer adds (kernel - 1) x the stride accumulated so far.
    assert list(frame["receptive_field"].iloc[:8]) == [11, 19, 51, 67, 99, 131, 163, 195]
    assert frame.loc["fc6", "receptive_field"] is pd.NA


@pytest.mark.parametrize("options", [{}, {"conv1": (3, 1, 0)}, {"input_size": 300, "groups": 1}])
def test_layer_arithmetic_keeps_integer_columns_integer(options):
    # A table must show 55, never 55.0: int64 where every row has a value, nullable Int64 with gaps.
    frame = lab.layer_arithmetic(**options)
    assert {c: str(t) for c, t in frame.dtypes.items() if c != "layer"} == {
        "kernel": "Int64",
        "stride": "Int64",
        "channels": "int64",
        "size": "int64",
        "receptive_field": "Int64",
        "params": "int64",
        "macs": "int64",
    }
    assert "55.0" not in frame.to_string() and "55" in lab.layer_arithmetic().to_string()


@pytest.mark.parametrize("overlapping_pool", [True, False])
def test_map_sides_measures_what_layer_arithmetic_computes(overlapping_pool):
    with torch.device("meta"):  # shapes only
        model = A.alexnet2012(overlapping_pool=overlapping_pool)
    sides = lab.map_sides(model)
    assert str(sides.dtype) == "int64"
    assert list(sides.index) == ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    frame = lab.layer_arithmetic(overlapping_pool=overlapping_pool).set_index("layer")
    assert sides.to_dict() == frame.loc[sides.index, "size"].to_dict()
    with torch.device("meta"):
        assert lab.map_sides(A.alexnet(), 224).tolist() == [55, 27, 27, 13, 13, 13, 13, 6]
    with pytest.raises(TypeError, match="map_sides expects an AlexNet"):
        lab.map_sides(nn.Linear(2, 2))


def test_overlapping_pools_keep_the_sizes_and_widen_the_view():
    overlap, plain = lab.layer_arithmetic(), lab.layer_arithmetic(overlapping_pool=False)
    assert list(overlap["size"]) == list(plain["size"])  # 55 -> 27 -> 13 -> 6 either way
    assert overlap["params"].sum() == plain["params"].sum() and overlap["macs"].sum() == plain["macs"].sum()
    pools = overlap["layer"].str.startswith("pool")
    assert (overlap.loc[pools, "receptive_field"] > plain.loc[pools, "receptive_field"]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": 40}, "too small"),
        ({"input_size": 227, "conv1": (11, 32, 0)}, "too small"),
        ({"conv1": (11, 4)}, "three integers"),
        ({"conv1": (0, 4, 0)}, "conv1's kernel must be a positive integer"),
        ({"conv1": (11, 4, -1)}, "conv1's padding must be an integer >= 0"),
        ({"groups": 3}, "groups must divide the channels of every split layer"),
        ({"groups": 0}, "groups must be a positive integer"),
    ],
)
def test_layer_arithmetic_explains_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lab.layer_arithmetic(**kwargs)


@pytest.mark.parametrize("size", [5, 4, 3])
def test_lrn_divides_by_lrn_divisor(size):
    torch.manual_seed(0)
    x = torch.randn(2, 11, 6, 5) * 60  # large activations, so the neighbours' sum matters
    lrn = nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=2.0)
    torch.testing.assert_close(x / lab.lrn_divisor(x, lrn), lrn(x))
    paper = local_response_norm()
    torch.testing.assert_close(x / lab.lrn_divisor(x), paper(x))


def test_alexnet2012_uses_the_papers_lrn_constant_not_caffes():
    # Section 3.3: k = 2 (Caffe's bvlc_alexnet runs with Caffe's default k = 1); PyTorch divides alpha by n.
    norms = [m for m in A.alexnet2012().modules() if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.k, m.alpha, m.beta) for m in norms] == [(5, 2.0, 1e-4, 0.75)] * 2
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in A.alexnet().modules())


def test_lrn_divisor_is_k_to_the_beta_for_small_activations_and_grows_with_them():
    small = torch.full((1, 8, 2, 2), 1e-3)
    torch.testing.assert_close(lab.lrn_divisor(small), torch.full_like(small, 2.0**0.75))
    big = torch.zeros(1, 8, 1, 1)
    big[0, 3] = 500.0  # one strong channel: it and its two neighbours each side are divided more
    divisor = lab.lrn_divisor(big).flatten()
    expected = (2 + 1e-4 / 5 * 500.0**2) ** 0.75
    torch.testing.assert_close(divisor[1:6], torch.full((5,), expected))
    torch.testing.assert_close(divisor[[0, 6, 7]], torch.full((3,), 2.0**0.75))
    with pytest.raises(ValueError, match="channels second"):
        lab.lrn_divisor(torch.zeros(4, 4))


def test_random_crop_flip_takes_a_patch_of_the_image():
    image = torch.arange(3 * 8 * 10, dtype=torch.float32).view(3, 8, 10)
    g = torch.Generator().manual_seed(0)
    seen_flips, corners = set(), set()
    for _ in range(200):
        patch, (top, left, flipped) = lab.random_crop_flip(image, 5, generator=g)
        assert patch.shape == (3, 5, 5)
        source = image[:, top : top + 5, left : left + 5]
        assert torch.equal(patch, source.flip(-1) if flipped else source)
        seen_flips.add(flipped)
        corners.add((top, left))
    assert seen_flips == {True, False}
    assert corners == {(t, left) for t in range(4) for left in range(6)}  # every position is reachable
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert lab.random_crop_flip(image, 5, generator=g1)[1] == lab.random_crop_flip(image, 5, generator=g2)[1]
    with pytest.raises(ValueError, match="shorter side"):
        lab.random_crop_flip(image, 9)


def test_rgb_pca_finds_the_spread_of_the_pixels():
    torch.manual_seed(0)
    direction = torch.tensor([1.0, 1.0, 1.0]) / 3**0.5  # brightness: the big component of real photos
    pixels = torch.randn(10_000)[:, None] * 0.3 * direction + torch.randn(10_000, 3) * 0.01
    image = pixels.T.reshape(3, 100, 100)
    stds, vectors = lab.rgb_pca(image)
    assert stds[0] == pytest.approx(0.3, rel=0.05) and stds[1] < 0.02 and stds[0] >= stds[1] >= stds[2]
    assert abs(float(vectors[:, 0] @ direction)) == pytest.approx(1.0, abs=1e-3)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(3), atol=1e-5, rtol=0)
    batch_stds, _ = lab.rgb_pca(image.unsqueeze(0).repeat(2, 1, 1, 1))
    torch.testing.assert_close(batch_stds, stds, atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="shaped"):
        lab.rgb_pca(torch.zeros(4, 5, 5))


def test_pca_colour_jitter_adds_one_shift_to_every_pixel():
    torch.manual_seed(0)
    image = torch.rand(3, 16, 16)
    stds, vectors = lab.rgb_pca(image)
    jittered, shift = lab.pca_colour_jitter(image, stds, vectors, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(jittered - image, shift.view(3, 1, 1).expand_as(image))
    alpha = torch.linalg.solve(vectors, shift) / stds  # the random weights, one per component
    assert alpha.abs().max() < 0.5  # drawn from N(0, 0.1)
    same, zero = lab.pca_colour_jitter(image, stds, vectors, sigma=0.0)
    assert torch.equal(same, image) and torch.equal(zero, torch.zeros(3))
    # The shifts' spread along each component is sigma x that component's spread.
    g = torch.Generator().manual_seed(1)
    shifts = torch.stack([lab.pca_colour_jitter(image, stds, vectors, generator=g)[1] for _ in range(4000)])
    torch.testing.assert_close((shifts @ vectors).std(0), 0.1 * stds, rtol=0.06, atol=1e-6)


def test_the_chapter_models_agree_with_the_registry():
    with torch.device("meta"):
        assert count_params(nets.build("alexnet2012")) == lab.layer_arithmetic()["params"].sum()
        assert (
            count_params(nets.build("alexnet2012", groups=1))
            == lab.layer_arithmetic(groups=1)["params"].sum()
        )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_figure1_net_is_a_small_four_layer_cnn(activation):
    torch.manual_seed(0)
    net = lab.Figure1Net(activation=activation)
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 4
    assert (
        count_params(net) == 85_098 == (3 * 25 + 1) * 32 + (32 * 25 + 1) * 32 + (32 * 25 + 1) * 64 + 577 * 10
    )
    kinds = {type(m) for m in net.modules()}
    assert (nn.ReLU in kinds) == (activation == "relu") and (nn.Tanh in kinds) == (activation == "tanh")
    for size in (15, 32, 64):
        assert net(torch.randn(2, 3, size, size)).shape == (2, 10)
    with pytest.raises(ValueError, match="at least 15x15"):
        net(torch.randn(1, 3, 14, 14))
    with pytest.raises(ValueError, match="'relu', 'tanh'"):
        lab.Figure1Net(activation="sigmoid")
    with pytest.raises(TypeError):
        lab.Figure1Net(10, "tanh")  # the activation is keyword-only
    assert lab.Figure1Net(5).classifier.out_features == 5
    narrow = lab.Figure1Net(activation=activation, widths=(16, 16, 32))
    assert [m.out_channels for m in narrow.modules() if isinstance(m, nn.Conv2d)] == [16, 16, 32]
    assert narrow(torch.randn(2, 3, 20, 20)).shape == (2, 10)
    with pytest.raises(ValueError, match="widths must be three"):
        lab.Figure1Net(widths=(16, 32))


def test_same_seed_gives_the_same_weights_whatever_the_activation():
    torch.manual_seed(0)
    relu = lab.Figure1Net(activation="relu")
    torch.manual_seed(0)
    tanh = lab.Figure1Net(activation="tanh")
    for a, b in zip(relu.state_dict().values(), tanh.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_he_init_keeps_the_signal_alive_through_alexnet():
    x = torch.randn(8, 3, 67, 67)
    torch.manual_seed(0)
    default = A.alexnet2012(num_classes=10, dropout=0.0).eval()
    torch.manual_seed(0)
    he = lab.he_init_(A.alexnet2012(num_classes=10, dropout=0.0)).eval()
    with torch.no_grad():
        assert default(x).std() < 0.05 < 0.3 < he(x).std()  # default init: the logits start near zero
    fc6 = he.classifier.fc6
    assert fc6.weight.std().item() == pytest.approx((2 / 9216) ** 0.5, rel=0.02)
    assert all(torch.all(m.bias == 0) for m in he.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    gain = lab.he_init_(nn.Linear(4000, 500), nonlinearity="linear").weight.std().item()
    assert gain == pytest.approx((1 / 4000) ** 0.5, rel=0.02)
    with pytest.raises(TypeError, match="nn.Module"):
        lab.he_init_("alexnet")


def test_flat_fraction_counts_units_that_pass_little_gradient():
    net = nn.Sequential(nn.Identity(), nn.ReLU(), nn.Tanh())
    x = torch.tensor([[-3.0, -1.0, 0.5, 1.0, 2.5, 4.0]])
    # ReLU: 2 of 6 inputs are negative. tanh sees relu's output [0, 0, .5, 1, 2.5, 4]: 2.5 and 4 are flat.
    fractions = lab.flat_fraction(net, x)
    assert list(fractions) == ["1", "2"]
    assert fractions["1"] == pytest.approx(2 / 6) and fractions["2"] == pytest.approx(2 / 6)
    assert lab.flat_fraction(net, x, slope=1.0)["2"] == pytest.approx(4 / 6)  # all but the two tanh(0)
    net.train()
    lab.flat_fraction(net, x)
    assert net.training  # the mode is restored
    with pytest.raises(ValueError, match="no nn.ReLU or nn.Tanh"):
        lab.flat_fraction(nn.Linear(2, 2), torch.zeros(1, 2))


# The chapter's text


def _chapter(kind: str) -> list[str]:
    """The sources of the chapter's cells of ``kind``, after the setup cell (synced from book/_setup_cell.py)."""
    cells = json.loads((Path(__file__).parent.parent / "book" / "alexnet.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells[1:] if c["cell_type"] == kind]


def test_the_chapters_code_lines_fit_the_cell():
    long = [line for cell in _chapter("code") for line in cell.splitlines() if len(line) > 90]
    assert long == []


def test_what_the_chapter_reads_from_nets_about_the_paper_and_torchvisions_model():
    card = nets.card("alexnet2012")
    assert card.paper.venue == "NIPS" and card.year == 2012  # NIPS 2012; renamed NeurIPS in 2018
    assert card.paper_params_m == 60  # the abstract's "60 million parameters"
    with torch.device("meta"):
        paper, torchvision_like = nets.build("alexnet2012"), nets.build("alexnet")
    assert paper.features.norm1.k == 2  # the divisor's floor the chapter reads: the paper's k, not Caffe's 1
    # torchvision's single-GPU channels, not "One weird trick"'s 64-192-384-384-256
    convs = [m.out_channels for m in torchvision_like.features.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [64, 192, 384, 256, 256]


# Figure 1: steps to a training-error target, and the verdict the numbers decide


def _run(name: str, steps: int | None, *, final: float = 0.3, max_steps: int = 300) -> lab.ErrorRun:
    """An ErrorRun as steps_to_error would return it: reached ``target`` at ``steps`` or never."""
    n = max_steps if steps is None else steps
    errors = (0.9,) * (n - 1) + ((final if steps is None else 0.2),)
    return lab.ErrorRun(name, 0.25, 1, max_steps, errors, steps, 1.0)


def _study(relu: list[int | None], tanh: list[int | None], *, rates=(0.01, 0.003)) -> lab.Figure1Study:
    """A Figure1Study as figure1_study would return it: each seed reached 25% at the steps given (or never),
    each unit's rate chosen from ``rates`` (one rate: not chosen per unit)."""

    def seeds(name, steps):
        return tuple(dataclasses.replace(_run(name, n), lr=0.01, seed=i) for i, n in enumerate(steps))

    runs = {"ReLU": seeds("ReLU", relu), "tanh": seeds("tanh", tanh)}
    sweep = {u: {lr: dataclasses.replace(r[0], lr=lr) for lr in rates} for u, r in runs.items()}
    return lab.Figure1Study(sweep, runs, {}, "fashion-mnist")


def test_figure1_verdict_comes_from_the_seeds_spread():
    faster = lab.figure1_verdict(_study([50, 60, 55], [150, 130, 160]))
    assert faster.startswith(
        "With the protocol of the paper's Figure 1 (each unit at its own fastest rate: ReLU 0.01, tanh 0.01; "
        "no regularisation) on fashion-mnist: ReLU 2.7x faster in steps to 25% training error than tanh "
        "(3 seeds, per seed 2.2-3x;"
    )
    assert faster.endswith(
        "The direction of the paper's Figure 1, which measured ReLU 6x faster to 25% on CIFAR-10."
    )
    # One seed of tanh as fast as ReLU's slowest: inside the spread, whatever the means say.
    overlap = lab.figure1_verdict(_study([50, 60, 55], [150, 58, 160]))
    assert "no clear difference in steps to 25% training error between ReLU and tanh" in overlap
    assert overlap.endswith(
        "Not the speed-up of the paper's Figure 1, which measured ReLU 6x faster to 25% on CIFAR-10."
    )
    slower = lab.figure1_verdict(_study([150, 160, 155], [50, 60, 55]))
    assert "tanh 2.8x faster" in slower and "The opposite of the paper's Figure 1" in slower
    missed = lab.figure1_verdict(_study([50, 60, 55], [None, 200, None]))
    assert "ReLU clearly better" in missed and "tanh did not get there in 2 of 3 seeds" in missed


def test_figure1_verdict_names_the_paper_only_under_its_protocol():
    shared = lab.figure1_verdict(_study([50, 60, 55], [150, 130, 160], rates=(0.01,)))
    assert shared.startswith(
        "At learning rates not chosen per unit (ReLU 0.01, tanh 0.01) on fashion-mnist: ReLU"
    )
    assert "Figure 1" not in shared and "paper" not in shared


def test_figure1_study_steps_and_curves_per_seed():
    study = _study([50, None, 70], [100, 120, 110])
    assert study.steps("ReLU", 0.25) == [50.0, math.inf, 70.0]
    assert study.per_unit_rates and study.rates == {"ReLU": 0.01, "tanh": 0.01}
    # _run's errors are 0.9 until the last step (0.2, or 0.3 for a seed that missed 25%).
    assert study.curves([0.5, 0.25]) == {"ReLU": [[50, 50], [300, math.inf], [70, 70]],
                                         "tanh": [[100, 100], [120, 120], [110, 110]]}  # fmt: skip
    assert study.compare(0.25).winner is None  # a ReLU seed that never got there, the others faster


def test_error_run_steps_to_reads_every_target_from_one_run():
    run = lab.ErrorRun("ReLU", 0.2, 2, 10, (1.0, 0.6, 0.4, 0.3, 0.1), 5, 0.1)
    assert run.running == pytest.approx([0.8, 0.5, 0.35, 0.2])
    assert [run.steps_to(t) for t in (0.8, 0.5, 0.4, 0.2, 0.1)] == [2, 3, 4, 5, None]
    assert run.steps_to(run.target) == run.steps


def test_figure1_study_chooses_each_units_fastest_rate_then_runs_the_seeds():
    split = _two_class_split(128)
    study = lab.figure1_study(split, 2, rates=(0.1, 0.001), seeds=(0, 1), target=0.2, max_steps=40,
                              widths=(4, 4, 4), batch_size=8, image_size=16, window=3)  # fmt: skip
    for unit in ("ReLU", "tanh"):
        fast, slow = study.sweep[unit][0.1], study.sweep[unit][0.001]
        assert fast.steps is not None and study.rates[unit] == 0.1
        assert slow.steps is None and len(slow.errors) == fast.steps  # stopped where it could no longer win
        assert study.runs[unit][0] is fast and [r.seed for r in study.runs[unit]] == [0, 1]
        assert all(r.lr == 0.1 for r in study.runs[unit])
        assert study.trained[unit].classifier.out_features == 2
    assert study.per_unit_rates
    assert "0.1" in study.sweep_table().columns[-1] or "lr 0.1" in study.sweep_table().columns
    assert study.sweep_table().loc["ReLU", "lr 0.1"].endswith("(chosen)")
    with pytest.raises(ValueError, match="two seeds"):
        lab.figure1_study(split, 2, seeds=(0,))
    with pytest.raises(ValueError, match="units must name two"):
        lab.figure1_study(split, 2, units=("ReLU", "sigmoid"))


def test_steps_to_error_can_stop_a_diverging_rate():
    run = lab.steps_to_error(_tiny_net(), _two_class_split(), lr=1e6, batch_size=8, image_size=8, max_steps=50,
                             on_divergence="stop")  # fmt: skip
    assert run.diverged and run.steps is None and len(run.errors) < 50 and run.lr == 1e6
    with pytest.raises(RuntimeError, match="lower lr"):
        lab.steps_to_error(_tiny_net(), _two_class_split(), lr=1e6, batch_size=8, image_size=8, max_steps=50)


def test_resized_split_is_the_resize_steps_to_error_does():
    split = _two_class_split(64)
    small = lab.resized_split(split, 8, per_class=10)
    assert small.images.shape == (20, 3, 8, 8) and small.images.dtype == torch.uint8
    assert sorted(small.labels.tolist()) == [0] * 10 + [1] * 10
    same = lab.resized_split(split, 12)  # the images are 12 px: resizing to 12 changes nothing
    assert torch.equal(same.images, split.images) and torch.equal(same.labels, split.labels)


def test_error_run_averages_the_last_window_of_steps():
    run = lab.ErrorRun("ReLU", 0.25, 2, 10, (1.0, 0.5, 0.3, 0.1), 4, 0.1)
    assert run.running == pytest.approx([0.75, 0.4, 0.2])
    assert run.final_error == pytest.approx(0.2)
    assert math.isnan(lab.ErrorRun("x", 0.25, 5, 10, (1.0,), None, 0.1).final_error)


def _two_class_split(n: int = 128, noisy: bool = False) -> nets.data.Split:
    """Dark images are class 0, bright ones class 1 (or random labels when ``noisy``)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (labels * 200 + torch.randint(0, 40, (n,), generator=g)).to(torch.uint8)
    images = images.view(n, 1, 1, 1).expand(n, 3, 12, 12).contiguous()
    if noisy:
        labels = torch.randint(0, 2, (n,), generator=g)
    return nets.data.Split(images, labels)


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    )


def test_steps_to_error_stops_at_the_first_step_whose_window_meets_the_target():
    run = lab.steps_to_error(
        _tiny_net(),
        _two_class_split(),
        target=0.1,
        window=3,
        batch_size=8,
        lr=0.1,
        image_size=8,
        max_steps=200,
    )
    assert run.steps is not None and run.steps == len(run.errors) <= 200
    running = run.running
    assert running[-1] <= 0.1 and all(e > 0.1 for e in running[:-1])  # the first, and it stopped there
    assert run.window == 3 and run.target == 0.1 and run.seconds > 0


def test_steps_to_error_gives_up_after_max_steps():
    # Random labels: no network gets below 10% training error on them within a few steps.
    run = lab.steps_to_error(_tiny_net(), _two_class_split(noisy=True), target=0.1, window=4, batch_size=8,
                             lr=0.01, image_size=8, max_steps=25, activation="tanh")  # fmt: skip
    assert run.steps is None and len(run.errors) == 25 and run.activation == "tanh"
    assert run.final_error > 0.1
    with pytest.raises(ValueError, match="fewer than one batch"):
        lab.steps_to_error(_tiny_net(), _two_class_split(4), batch_size=8)
    with pytest.raises(ValueError, match="target"):
        lab.steps_to_error(_tiny_net(), _two_class_split(), target=1.5)


def test_he_init_can_start_the_output_layer_small():
    torch.manual_seed(0)
    net = lab.he_init_(A.alexnet2012(num_classes=10, dropout=0.0), output_std=0.01).eval()
    assert net.classifier.fc8.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert net.classifier.fc7.weight.std().item() == pytest.approx(
        (2 / 4096) ** 0.5, rel=0.02
    )  # He's, as before
    with torch.no_grad():
        logits = net(torch.randn(8, 3, 67, 67))
    # Small logits: the first loss is the uniform guess's, ln 10, not far above it.
    first_loss = nn.functional.cross_entropy(logits, torch.arange(8) % 10).item()
    assert first_loss == pytest.approx(math.log(10), abs=0.1)
    with pytest.raises(ValueError, match="output_std"):
        lab.he_init_(nn.Linear(2, 2), output_std=-1.0)


# What training does to a first layer: structure where there was noise


def test_neighbour_correlation_scores_noise_near_zero_and_smooth_filters_near_one():
    torch.manual_seed(0)
    noise = nn.init.kaiming_normal_(torch.empty(96, 3, 11, 11))  # AlexNet's conv1, He-initialised
    assert abs(lab.neighbour_correlation(noise).mean().item()) < 0.03
    x = torch.linspace(-1, 1, 11)
    blob = torch.exp(-3 * (x[:, None] ** 2 + x[None] ** 2)).expand(2, 3, 11, 11)
    assert lab.neighbour_correlation(blob).tolist() == pytest.approx([0.93, 0.93], abs=0.01)
    checkerboard = ((torch.arange(5)[:, None] + torch.arange(5)[None]) % 2).float().expand(1, 3, 5, 5)
    assert lab.neighbour_correlation(checkerboard).item() == pytest.approx(-1.0)
    assert lab.neighbour_correlation(torch.ones(1, 3, 4, 4)).item() == 0.0  # constant: nothing to correlate
    with pytest.raises(ValueError, match="conv weight"):
        lab.neighbour_correlation(torch.zeros(3, 11, 11))


def test_a_brief_run_puts_structure_into_the_first_layer():
    # AlexNet's first layer (11x11 filters, stride 4, He init), trained briefly as the chapter's run is:
    # 20 steps on 120 stand-in images (drawn shapes, 64 px). The raw filters stay near their noise
    # (measured: -0.008 to -0.003 after, -0.007 to -0.002 before, seeds 0-2), while the change scores
    # 0.77-0.80 (10 to 40 steps); the thresholds leave room on either side.
    from nets.data.standin import standin_images

    images, labels = standin_images(12, 64, seed=0)
    x, y = (torch.from_numpy(images).float() / 255 - 0.45) / 0.25, torch.from_numpy(labels).long()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 11, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                        nn.Linear(64, 10))  # fmt: skip
    lab.he_init_(net)
    before = net[0].weight.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for _ in range(20):
        batch = torch.randint(len(y), (32,), generator=g)
        loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = net[0].weight.detach()
    score = {k: lab.neighbour_correlation(w).mean().item() for k, w in
             {"before": before, "after": after, "change": after - before}.items()}  # fmt: skip
    assert abs(score["before"]) < 0.05 and abs(score["after"]) < 0.05
    assert score["change"] > 0.6 > 0.05 > score["before"]


def test_filter_change_shows_before_after_and_their_difference():
    import nets.viz

    torch.manual_seed(0)
    before = torch.randn(20, 3, 11, 11)
    after = before + 0.05 * torch.randn(20, 3, 11, 11)
    fig = nets.viz.filter_change(before, after, max_filters=6, scores=[0.0, 0.01, 0.8])
    tiles = [ax for ax in fig.axes if ax.images]
    assert len(tiles) == 18  # three rows of six
    assert [ax.get_ylabel() for ax in fig.axes[::6]] == ["before\n+0.00", "after\n+0.01", "change\n+0.80"]
    conv = nn.Conv2d(3, 4, 5)
    assert len([ax for ax in nets.viz.filter_change(conv, conv).axes if ax.images]) == 12
    with pytest.raises(ValueError, match="same shape"):
        nets.viz.filter_change(before, after[:10])
    with pytest.raises(ValueError, match="RGB filters"):
        nets.viz.filter_change(torch.zeros(4, 1, 5, 5), torch.zeros(4, 1, 5, 5))
