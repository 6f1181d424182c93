"""What the EfficientNet chapter computes: costs by arithmetic, the scaling study, B0's table, drop rates, SE gates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import nets
from nets.lab import efficientnet as lab
from nets.models import efficientnet as E
from nets.summary import count_macs, count_params

NAMES = [f"efficientnet_b{i}" for i in range(8)]


def _meta(build, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build(*args, **kwargs)


# B5-B7 (counting their MACs at 456-600 px takes seconds) in the slow tier: B0-B4 check the same formula
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n >= "efficientnet_b5" else n for n in NAMES]
)
def test_cost_equals_counting_the_built_model(name: str) -> None:
    v = E.VARIANTS[name]
    model = _meta(nets.build, name)
    c = lab.cost(v.width, v.depth, v.resolution)
    assert c.total_params == count_params(model)
    assert c.total_macs == count_macs(model, (1, 3, v.resolution, v.resolution))


@pytest.mark.parametrize(
    ("width", "depth", "resolution", "classes"),
    [(1.3857, 1.92, 199, 10), (0.5, 0.5, 64, 10), (1.0, 3.7, 33, 1000), (9.81, 1.0, 97, 7)],
)
def test_cost_equals_counting_for_odd_sizes_and_multipliers(width, depth, resolution, classes) -> None:
    model = _meta(E.efficientnet, classes, width_mult=width, depth_mult=depth)
    c = lab.cost(width, depth, resolution, num_classes=classes)
    assert (c.total_params, c.total_macs) == (
        count_params(model),
        count_macs(model, (1, 3, resolution, resolution)),
    )


def test_cost_parts_of_b0_say_where_the_work_is() -> None:
    c = lab.cost()
    assert set(c.params) == set(c.macs) == set(lab.COST_PARTS)
    # The 1x1 convolutions do most of B0's multiply-adds; the depthwise ones under a tenth.
    pointwise = c.macs["expand 1x1"] + c.macs["project 1x1"] + c.macs["head 1x1"]
    assert pointwise / c.total_macs > 0.8
    assert c.macs["depthwise"] / c.total_macs < 0.1
    # Squeeze-excite runs on a 1x1 map: cheap in MACs, yet about an eighth of the parameters.
    assert c.macs["squeeze-excite"] / c.total_macs < 0.01
    assert 0.1 < c.params["squeeze-excite"] / c.total_params < 0.15


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "224"])
def test_cost_rejects_a_bad_resolution(bad) -> None:
    with pytest.raises(ValueError, match="resolution"):
        lab.cost(resolution=bad)


def test_scale_one_compound_is_the_papers_rule() -> None:
    for phi in (0, 1, 2.5, 7):
        assert lab.scale_one(phi) == E.compound_scaling(phi)


@pytest.mark.parametrize("phi", [1, 2, 3, 7])
def test_each_single_dimension_gets_the_same_formula_flops_budget(phi: int) -> None:
    budget = lab.FLOPS_PER_PHI**phi
    for how in lab.SCALINGS[1:]:
        s = lab.scale_one(phi, how)
        flops = s.depth * s.width**2 * (s.resolution / 224) ** 2
        assert flops == pytest.approx(budget, rel=0.01), how
        grown = [x for x in (s.depth, s.width, s.resolution / 224) if not math.isclose(x, 1.0)]
        assert len(grown) == 1, f"{how} must grow one dimension only: {s}"


def test_single_dimensions_at_phi_1_roughly_double_b0s_measured_macs() -> None:
    b0 = lab.cost().total_macs
    for how in lab.SCALINGS:
        s = lab.scale_one(1, how)
        ratio = lab.cost(s.width, s.depth, s.resolution).total_macs / b0
        assert 1.75 < ratio < 2.7, (how, ratio)


def test_scale_one_rejects_an_unknown_dimension() -> None:
    with pytest.raises(ValueError, match="width only"):
        lab.scale_one(1, "width")


def test_latency_times_a_forward_pass_and_restores_the_mode_and_threads() -> None:
    model = E.efficientnet(3, width_mult=0.25, depth_mult=0.25).train()
    threads = torch.get_num_threads()
    seconds = lab.latency(model, (1, 3, 32, 32), repeats=2, threads=1)
    assert 0 < seconds < 10
    assert model.training
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="repeats"):
        lab.latency(model, (1, 3, 32, 32), repeats=0)
    with pytest.raises(ValueError, match="threads"):
        lab.latency(model, (1, 3, 32, 32), threads=0)


def test_scaling_study_counts_everything_and_times_only_under_the_cap() -> None:
    table = lab.scaling_study([0, 1], latency_max_gmacs=0.4, repeats=1)
    assert list(table.index) == [(how, phi) for how in lab.SCALINGS for phi in (0, 1)]
    b0 = table.loc[("compound", 0)]
    assert b0["params"] == 5_288_548 and b0["blocks"] == 16 and b0["resolution"] == 224
    assert b0["GMACs"] == pytest.approx(0.3858, abs=1e-4)
    assert table.xs(0, level="phi")["latency_ms"].nunique() == 1  # B0 is timed once, shown four times
    assert table.xs(1, level="phi")["latency_ms"].isna().all()  # every phi = 1 option is over 0.4 GMACs
    assert table.loc[("resolution only", 1), "params"] == b0["params"]  # resolution adds no parameters
    assert table.loc[("depth only", 1), "blocks"] > 2 * 16 - 2


def test_variant_table_matches_torchvision_and_the_paper() -> None:
    t = lab.variant_table()
    assert list(t.index) == [f"B{i}" for i in range(8)]
    assert (t["params (nets)"] == t["params (torchvision)"]).all()
    rel = (t["GMACs @ crop (nets)"] - t["GMACs @ crop (torchvision)"]).abs() / t["GMACs @ crop (torchvision)"]
    assert (rel < 2e-3).all()
    assert ((t["params (nets)"] / 1e6 - t["params (paper, M)"]).abs() / t["params (paper, M)"] < 0.05).all()
    assert t.loc["B2", "torchvision crop"] == 288 and t.loc["B2", "resolution"] == 260
    # The released coefficients are not one phi: B7's depth says ~6.2, its width ~7.3.
    b7 = t.loc["B7"]
    assert b7["phi from width"] - b7["phi from depth"] > 1


def test_stage_table_of_b0_is_the_papers_table_1() -> None:
    model = nets.build("efficientnet_b0")
    t = lab.stage_table(model)
    assert list(t.index) == list(range(1, 10))
    assert list(t["input resolution"]) == [
        "224x224", "112x112", "112x112", "56x56", "28x28", "14x14", "14x14", "7x7", "7x7",
    ]  # fmt: skip
    assert list(t["channels"]) == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    assert list(t["layers"]) == [1, 1, 2, 2, 3, 3, 4, 1, 1]
    assert t.loc[2, "operator"].startswith("MBConv1, k3x3") and t.loc[4, "operator"].startswith(
        "MBConv6, k5x5"
    )
    assert t["params"].sum() == count_params(model)


def test_stage_table_follows_the_scaled_model_and_the_input() -> None:
    model = E.efficientnet(10, width_mult=1.1, depth_mult=1.2)
    t = lab.stage_table(model, image_size=64)
    assert list(t["layers"])[1:-1] == [s.layers for s in E.scaled_stages(1.1, 1.2)]
    assert t.loc[9, "input resolution"] == "2x2"
    with pytest.raises(TypeError, match="EfficientNet"):
        lab.stage_table(nets.build("resnet18"))


def test_stochastic_depth_schedule_is_linear_and_skips_blocks_without_a_shortcut() -> None:
    model = nets.build("efficientnet_b0")
    schedule = lab.stochastic_depth_schedule(model)
    assert len(schedule) == 16 and schedule[0][0] == "stage1.block1"
    for i, (name, p) in enumerate(schedule):
        if name.endswith("block1"):
            assert p is None, name  # each stage's first block changes shape: no residual to drop
        else:
            assert p == pytest.approx(0.2 * i / 16)
    with pytest.raises(ValueError, match="MBConv"):
        lab.stochastic_depth_schedule(nets.build("resnet18"))


def test_se_gates_one_per_channel_per_block_and_they_depend_on_the_input() -> None:
    torch.manual_seed(0)
    model = E.efficientnet(10, width_mult=0.5, depth_mult=0.5).train()
    a = lab.se_gates(model, torch.randn(2, 3, 64, 64))
    b = lab.se_gates(model, torch.randn(1, 3, 64, 64) * 3)
    assert model.training
    blocks = [name for name, _ in lab.stochastic_depth_schedule(model)]
    assert list(a) == blocks
    for name, m in model.stages.named_modules():
        if isinstance(m, E.MBConv):
            assert a[name].shape == (m.depthwise.conv.out_channels,)
    gates = torch.cat(list(a.values()))
    assert ((gates > 0) & (gates < 1)).all()
    assert any(not torch.equal(a[n], b[n]) for n in blocks)


# The chapter's text


# Compound scaling against one dimension, trained


def test_equal_macs_arms_grow_one_dimension_each_to_the_compound_networks_macs() -> None:
    arms = lab.equal_macs_arms(width=0.5, depth=0.25, resolution=24, phi=2)
    assert list(arms.index) == ["base", "compound", "depth only", "width only", "resolution only"]
    base, compound = arms.loc["base"], arms.loc["compound"]
    assert (compound["width"], compound["depth"], compound["resolution"]) == pytest.approx(
        (0.5 * E.BETA**2, 0.25 * E.ALPHA**2, round(24 * E.GAMMA**2))
    )
    for how, grown in (("depth only", "depth"), ("width only", "width"), ("resolution only", "resolution")):
        arm = arms.loc[how]
        assert arm[grown] > base[grown], how
        assert all(arm[k] == base[k] for k in ("width", "depth", "resolution") if k != grown), how
        # as close to the compound network's MACs as whole blocks and channels in 8s allow
        assert 0.8 < arm["MACs vs compound"] < 1.2, (how, arm["MACs vs compound"])
        assert arm["MMACs"] * 1e6 == pytest.approx(
            lab.cost(arm["width"], arm["depth"], int(arm["resolution"]), 10).total_macs
        )
    assert arms.loc["width only", "MACs vs compound"] == pytest.approx(1, abs=0.02)
    assert arms.loc["resolution only", "params"] == base["params"]  # pixels cost no parameters
    assert arms.loc["depth only", "blocks"] > compound["blocks"] > base["blocks"]
    assert compound["MMACs"] > 2 * base["MMACs"]
    with pytest.raises(ValueError, match="phi"):
        lab.equal_macs_arms(phi=0)


def _fake_fit(top1_of):
    """A stand-in for nets.train.fit that records what it was asked and returns a chosen accuracy."""
    from nets.train import History

    calls = []

    def fit(model, data, **kwargs):
        calls.append({"model": model, "train": len(data.train), "val": len(data.val), **kwargs})
        top1 = top1_of(kwargs["image_size"], kwargs["seed"])
        row = {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_top1": top1,
               "val_top5": 0.9, "images_per_s": 1.0, "seconds": 0.1}  # fmt: skip
        return History([row], {})

    return fit, calls


def _toy_data():
    from nets.data import Data, Split

    def split(n):
        return Split(torch.zeros(n, 3, 8, 8, dtype=torch.uint8), torch.arange(n) % 10)

    return Data(split(1000), split(500), list("abcdefghij"), "toy", True, 8)


def test_train_arms_gives_every_arm_the_same_steps_and_images_once_per_seed(monkeypatch) -> None:
    arms = lab.equal_macs_arms()
    resolution = dict(zip(arms["resolution"], arms.index, strict=False))
    fit, calls = _fake_fit(lambda size, seed: {"compound": 0.6}.get(resolution.get(size), 0.5) + seed / 100)
    monkeypatch.setattr(lab, "fit", fit)
    results = lab.train_arms(arms, _toy_data(), steps=10, batch_size=8, val_per_class=5, seeds=(0, 1, 3))
    assert list(results.index) == ["compound", "depth only", "width only", "resolution only"]  # no base
    assert len(calls) == 12  # four arms, seed by seed
    assert [c["seed"] for c in calls] == [0] * 4 + [1] * 4 + [3] * 4
    assert {(c["train"], c["val"], c["epochs"], c["batch_size"], c["optimizer"]) for c in calls} == {
        (80, 50, 1, 8, "adamw")  # 10 steps of 8 images: 8 per class; 5 per class to validate
    }
    assert [c["image_size"] for c in calls[:4]] == list(results["resolution"])
    assert all(c["model"].classifier.fc.weight.abs().max() == 0 for c in calls)  # every head starts at 0
    assert results.loc["compound", "val top-1 %"] == pytest.approx((60 + 61 + 63) / 3)
    assert results.loc["width only", "seed 3"] == pytest.approx(53.0)
    assert results["spread"].tolist() == pytest.approx([3.0] * 4)
    assert lab.per_seed(results) == {
        "compound": pytest.approx([60, 61, 63]),
        "depth only": pytest.approx([50, 51, 53]),
        "width only": pytest.approx([50, 51, 53]),
        "resolution only": pytest.approx([50, 51, 53]),
    }
    assert results.attrs["steps"] == 10 and results.attrs["val_images"] == 50
    assert results.attrs["seeds"] == [0, 1, 3] and "3 seeds per arm" in results.attrs["measured"]
    with pytest.raises(ValueError, match="no seed twice"):
        lab.train_arms(arms, _toy_data(), steps=10, batch_size=8, seeds=(1, 1))
    with pytest.raises(ValueError, match="seed N"):
        lab.per_seed(arms)


def test_scaling_verdict_sets_compound_against_the_best_single_dimension_by_the_seed_spread() -> None:
    arms = {
        "compound": [70.0, 71.0, 69.5],
        "depth only": [60.0, 61.0, 62.0],
        "width only": [64.0, 65.0, 63.0],
        "resolution only": [62.0, 62.5, 61.0],
    }
    v = lab.scaling_verdict(arms, measured="val top-1 after 10 steps")
    assert (v.best, v.rival, v.agrees, v.clear) == ("compound", "width only", True, True)
    assert v.comparison.effect == pytest.approx(70.1667 - 64.0, abs=1e-3)
    assert v.text.startswith("Verdict: compound scaling learned best at equal MACs.")
    assert "Against width alone, the best single dimension: compound scaling ahead by 6.2 points" in v.text
    assert v.text.endswith("Measured: val top-1 after 10 steps.")
    assert "Table" not in v.text and "Figure" not in v.text  # a brief run is not the paper's protocol
    # the numbers flip, the verdict flips
    flipped = arms | {"compound": [58.0, 57.0, 59.0]}
    v = lab.scaling_verdict(flipped)
    assert (v.best, v.rival, v.agrees) == ("width only", "width only", False)
    assert v.text.startswith("Verdict: width alone learned better than compound scaling at equal MACs.")
    # the same mean gap, but seeds that overlap: no clear difference
    spread = arms | {"compound": [74.0, 60.0, 76.5]}
    v = lab.scaling_verdict(spread)
    assert v.agrees is None and not v.clear
    assert v.text.startswith("Verdict: no clear difference at equal MACs.")
    assert "no clear difference in val top-1 between compound scaling and width alone" in v.text
    with pytest.raises(ValueError, match="compound"):
        lab.scaling_verdict({"width only": [50.0, 51.0], "depth only": [40.0, 41.0]})
    with pytest.raises(ValueError, match="at least 2 seeds"):
        lab.scaling_verdict({"compound": [50.0], "width only": [40.0]})


def _chapter(kind: str) -> list[str]:
    """The sources of the chapter's cells of ``kind``, after the setup cell (synced from book/_setup_cell.py)."""
    cells = json.loads((Path(__file__).parent.parent / "book" / "efficientnet.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells[1:] if c["cell_type"] == kind]


def test_the_chapters_code_lines_fit_the_cell():
    long = [line for cell in _chapter("code") for line in cell.splitlines() if len(line) > 90]
    assert long == []


def test_the_chapter_numbers_stages_as_the_papers_table_1():
    # stage 1 the stem, 2-8 MBConv (our modules stage1-stage7), 9 the head
    assert list(lab.stage_table(_meta(E.efficientnet)).index) == list(range(1, 10))
    assert len(E.B0_STAGES) == 7  # the chapter prints them as the paper's stages 2-8
    assert nets.card("efficientnet_b7").paper_source.startswith("Table 2")
