"""nets.showdown: the side-by-side table, its charts, and the race under one recipe.

Counting runs on the meta device; throughput and training use tiny inputs (32 px, a few images) on
one CPU thread, so the file runs in seconds and checks what a reader of the chapter would notice.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import nets
from nets.data import Data, Split
from nets.lab import showdown
from nets.train import History, Plan


def toy_frame() -> pd.DataFrame:
    """Four made-up contenders: b is cheaper and better than a (a is off the front), d is the costliest."""
    frame = pd.DataFrame(
        {
            "year": [2012, 2014, 2015, 2019],
            "family": ["alexnet", "vgg", "resnet", "efficientnet"],
            "params": [60e6, 10e6, 25e6, 66e6],
            "gmacs": [2.0, 1.0, 4.0, 37.0],
            "ref_top1": [60.0, 70.0, 76.0, 84.0],
            "cpu_ips": [50.0, 20.0, 10.0, 1.0],
        },
        index=pd.Index(["alexnet", "vgg16", "resnet50", "efficientnet_b7"], name="model"),
    )
    frame.attrs |= {"cpu_size": 96, "batch": 8}
    return frame


def history(name: str, top1: list[float], standin: bool = True) -> History:
    epochs = [
        {"epoch": i + 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_top1": t, "val_top5": 0.9,
         "images_per_s": 100.0, "seconds": 2.0}
        for i, t in enumerate(top1)
    ]  # fmt: skip
    config = {"model": name, "data": "standin", "is_standin": standin, "classes": list("abcdefghij"),
              "train_size": 100, "val_size": 50, "image_size": 64, "batch_size": 16}  # fmt: skip
    return History(epochs, config)


def tiny_data(n_train: int = 40, n_val: int = 20, size: int = 32) -> Data:
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        labels = torch.arange(n) % 4
        return Split(torch.randint(0, 255, (n, 3, size, size), generator=g, dtype=torch.uint8), labels)

    return Data(split(n_train), split(n_val), ["a", "b", "c", "d"], "toy", True, size)


# ----------------------------------------------------------------------------------------------------------
# Names, the table, the cards
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alexnet", "AlexNet"),
        ("vgg16", "VGG-16"),
        ("vgg19_bn", "VGG-19-BN"),
        ("resnet50", "ResNet-50"),
        ("googlenet", "GoogLeNet"),
        ("inception_resnet_v2", "Inception-ResNet-v2"),
        ("efficientnet_b7", "EfficientNet-B7"),
        ("something_else", "something_else"),
    ],
)
def test_labels_are_the_names_people_write(name, expected):
    assert showdown.label(name) == expected


def test_every_contender_is_registered_and_has_a_card_with_reference_accuracy():
    for name in showdown.CONTENDERS:
        c = nets.card(name)
        assert c.ref_top1 is not None and c.ref_top5 is not None, name
    years = [nets.card(n).year for n in showdown.CONTENDERS]
    assert years == sorted(years), "CONTENDERS are listed in order of publication"


def test_compare_counts_match_the_reference_implementations_without_building_weights():
    frame = showdown.compare(["resnet18", "efficientnet_b0", "inception_v3"], cpu_size=None, gpu=False)
    assert list(frame.index) == ["resnet18", "efficientnet_b0", "inception_v3"]
    assert frame.loc["resnet18", "params"] == 11_689_512
    assert frame.loc["efficientnet_b0", "params"] == 5_288_548
    assert frame.loc["inception_v3", "params"] == 23_834_568  # no auxiliary head at inference
    for name in frame.index:
        c = nets.card(name)
        assert frame.loc[name, "crop"] == c.ref_crop
        assert frame.loc[name, "gmacs"] == pytest.approx(c.ref_gmacs, rel=0.01)
        assert frame.loc[name, "ref_top1"] == c.ref_top1
    # at the common 224 px, Inception-v3 costs about (224/299)^2 of its 299 px MACs (a little less: its
    # unpadded convolutions and pools trim the border, which weighs more in a smaller map)
    ratio = frame.loc["inception_v3", "gmacs_common"] / frame.loc["inception_v3", "gmacs"]
    assert 0.8 * (224 / 299) ** 2 < ratio < (224 / 299) ** 2
    assert frame.loc["resnet18", "gmacs_common"] == frame.loc["resnet18", "gmacs"]
    assert "cpu_ips" not in frame.columns and "gpu_ips" not in frame.columns
    assert frame.attrs["common_size"] == 224 and "CPU" in frame.attrs["machine"]
    assert math.isnan(
        showdown.compare(["googlenet"], cpu_size=None, gpu=False).loc["googlenet", "paper_top1"]
    )


def test_compare_measures_cpu_throughput_at_the_size_asked():
    frame = showdown.compare(["resnet18"], common_size=64, cpu_size=32, batch=2, reps=1, gpu=False)
    assert frame.loc["resnet18", "cpu_ips"] > 0 and math.isfinite(frame.loc["resnet18", "cpu_ips"])
    assert frame.attrs["cpu_size"] == 32 and frame.attrs["batch"] == 2
    pretty = showdown.pretty(frame)
    assert list(pretty.index) == ["ResNet-18"]
    assert "CPU img/s @ 32 px, 1 thread(s)" in pretty.columns and "GMACs @ 64 px" in pretty.columns
    assert pretty.loc["ResNet-18", "params (M)"] == pytest.approx(11.7)


def test_throughput_times_forward_passes_and_restores_training_mode():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(x.shape)
            return x.mean(dim=(2, 3))

    model = Counting().train()
    ips = showdown.throughput(model, size=8, batch=3, reps=2, threads=2)
    assert ips > 0
    assert calls == [(3, 3, 8, 8)] * 3  # one warm-up, two timed
    assert model.training
    assert torch.get_num_threads() == 1  # the caller's setting is back
    with pytest.raises(ValueError, match="reps"):
        showdown.throughput(model, size=8, reps=0)


def test_accuracy_table_says_how_each_number_was_measured():
    table = showdown.accuracy_table(["alexnet", "googlenet", "efficientnet_b0"])
    assert list(table.index) == ["AlexNet", "GoogLeNet", "EfficientNet-B0"]
    assert table.loc["AlexNet", "paper top-1 %"] == pytest.approx(59.3)  # 40.7% error
    assert math.isnan(table.loc["GoogLeNet", "paper top-1 %"])  # the paper reports top-5 only
    assert "10 patches" in table.loc["AlexNet", "how the paper measured"]
    assert table.loc["EfficientNet-B0", "reference"].endswith("1 crop of 224 px")


# ----------------------------------------------------------------------------------------------------------
# Reading the table, and the charts
# ----------------------------------------------------------------------------------------------------------


def test_pareto_front_and_best_under_a_budget():
    frame = toy_frame()
    assert showdown.pareto_front(frame) == ["vgg16", "resnet50", "efficientnet_b7"]
    assert showdown.best_under(frame, 0.5) is None
    assert showdown.best_under(frame, 2.0) == "vgg16"  # alexnet fits too, but is less accurate
    assert showdown.best_under(frame, 4.0) == "resnet50"
    assert showdown.best_under(frame, 100) == "efficientnet_b7"


def _label_boxes(fig: Figure):
    ax = fig.axes[0]
    return {t.get_text(): t.get_window_extent() for t in ax.texts}


def test_bubble_chart_labels_every_model_without_overlaps():
    fig = showdown.bubble_chart(toy_frame())
    assert isinstance(fig, Figure)
    boxes = _label_boxes(fig)
    assert set(boxes) == {"AlexNet (2012)", "VGG-16 (2014)", "ResNet-50 (2015)", "EfficientNet-B7 (2019)"}
    items = list(boxes.values())
    assert not any(a.overlaps(b) for i, a in enumerate(items) for b in items[i + 1 :])
    assert fig.axes[0].get_xscale() == "log"


def test_metric_chart_sorts_best_first_and_explains_missing_columns():
    frame = toy_frame()
    fig = showdown.metric_chart(frame, "CPU images/s")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[-1] == "AlexNet" and ticks[0] == "EfficientNet-B7"  # barh draws bottom-up: best on top
    assert "96 px" in fig.axes[0].get_xlabel()
    fig = showdown.metric_chart(frame, "GMACs")  # lower is better: the cheapest on top
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == "VGG-16"
    frame["race_top1"] = [10.0, 30.0, None, None]
    frame.attrs["race_standin"] = True
    title = showdown.metric_chart(frame, "brief-training top-1").axes[0].get_title()
    assert title.startswith("STAND-IN DATA")
    with pytest.raises(ValueError, match="unknown metric"):
        showdown.metric_chart(frame, "beauty")
    with pytest.raises(ValueError, match="was 'GPU images/s' measured"):
        showdown.metric_chart(frame, "GPU images/s")


def test_budget_chart_names_the_winner_or_says_none_fits():
    assert "best is ResNet-50" in showdown.budget_chart(toy_frame(), 4).axes[0].get_title()
    assert "no contender fits" in showdown.budget_chart(toy_frame(), 0.1).axes[0].get_title()


# ----------------------------------------------------------------------------------------------------------
# The race
# ----------------------------------------------------------------------------------------------------------


class LowRes:
    """What ``race_plan`` reads off the data: ten classes cached at 64 px (the chapter's Fashion-MNIST)."""

    classes = list("abcdefghij")
    resolution = 64
    source = "fashion-mnist"


def steps_of(plan: Plan, classes: int = 10) -> int:
    return plan.epochs * (plan.subset * classes // plan.batch_size)


@pytest.mark.slow  # five plans, each counting five models' MACs: seconds
def test_cpu_race_plan_gives_every_entrant_a_floor_of_steps_within_the_time():
    names = ["alexnet", "vgg16", "resnet18", "inception_v3", "efficientnet_b0"]
    plan, entrants, skipped = showdown.race_plan(names, device="cpu", data=LowRes(), seconds=20, min_steps=80)
    assert plan.kind == "preview" and plan.device == "cpu"
    assert (plan.epochs, plan.image_size, plan.batch_size) == (1, 32, 16)  # low-resolution data: 32 px
    assert entrants == ["resnet18", "efficientnet_b0"]  # the book's order, not the cost order
    assert "63 px" in skipped["alexnet"] and "75 px" in skipped["inception_v3"]
    assert "too slow for 80 steps in 20 s" in skipped["vgg16"]
    assert steps_of(plan) >= 80 and plan.estimate_s <= 20
    assert "2 contenders" in str(plan)
    # The floor holds whatever the time: less time admits fewer entrants, never fewer steps ...
    short, short_entrants, _ = showdown.race_plan(
        names, device="cpu", data=LowRes(), seconds=10, min_steps=80
    )
    assert short_entrants == ["efficientnet_b0"] and steps_of(short) >= 80
    # ... and a higher floor in the same time admits fewer entrants, each with more steps.
    high, high_entrants, why = showdown.race_plan(
        names, device="cpu", data=LowRes(), seconds=20, min_steps=120
    )
    assert high_entrants == ["efficientnet_b0"] and steps_of(high) >= 120
    assert "no time left for its 120 steps after the cheaper entrants'" in why["resnet18"]
    # Without data the previews' 64 px; at 80 px the Inception is no longer too small for the race.
    plan80, _, skipped80 = showdown.race_plan(names, device="cpu", seconds=40, image_size=80, min_steps=20)
    assert plan80.image_size == 80 and steps_of(plan80) >= 20
    assert "75 px" in skipped["inception_v3"] and "px" not in skipped80.get("inception_v3", "")
    # A publishing run (NETS_BUDGET=publish, on a CPU runner) gets ten times the seconds, the same floor.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETS_BUDGET", "publish")
        pub, pub_entrants, _ = showdown.race_plan(
            names, device="cpu", data=LowRes(), seconds=20, min_steps=80
        )
    assert pub.kind == "publishing run" and pub.device == "cpu" and pub.image_size == 32
    assert 100 < pub.estimate_s <= 200 and steps_of(pub) >= 80 and set(entrants) <= set(pub_entrants)
    with pytest.raises(ValueError, match="no contender gets 80 steps in 1 s"):
        showdown.race_plan(["vgg16"], device="cpu", seconds=1)
    with pytest.raises(ValueError, match="at least one"):
        showdown.race_plan([], device="cpu")


def test_cpu_race_plan_buys_every_seed_of_every_entrant_its_floor_of_steps(monkeypatch):
    ms = {"resnet18": 5.0, "googlenet": 8.0, "efficientnet_b0": 15.0}  # per image per epoch, at 32 px

    def fake_plan(budget, device, model, data=None):  # a CPU preview of 50 images per class, 3 epochs
        return Plan(budget, "cpu", model, 3, 32, 16, 50, 1.0, ms[model] / 1e3 * 50 * 10 * 3, "preview")

    monkeypatch.setattr("nets.train.plan.plan_budget", fake_plan)
    names = list(ms)
    # 40 steps of 16 images: 64 per class, 640 images; a run costs 3.2, 5.1 and 9.6 s
    plan, entrants, skipped = showdown.race_plan(names, device="cpu", seconds=30, min_steps=40, seeds=1)
    assert entrants == names and steps_of(plan) >= 40 and plan.estimate_s <= 30
    plan, entrants, skipped = showdown.race_plan(names, device="cpu", seconds=30, min_steps=40, seeds=3)
    assert entrants == ["resnet18", "googlenet"] and steps_of(plan) >= 40
    assert 3 * 10 * plan.subset * 13e-3 == pytest.approx(plan.estimate_s) and plan.estimate_s <= 30
    assert skipped["efficientnet_b0"].startswith(
        "no time left for its 3 runs of 40 steps after the cheaper entrants' 25 s of 30 s"
    )
    _, entrants, skipped = showdown.race_plan(names, device="cpu", seconds=20, min_steps=40, seeds=3)
    assert (
        entrants == ["resnet18"] and "too slow for 3 runs of 40 steps in 20 s" in skipped["efficientnet_b0"]
    )
    with pytest.raises(ValueError, match="no contender gets 3 runs of 40 steps in 5 s"):
        showdown.race_plan(names, device="cpu", seconds=5, min_steps=40, seeds=3)
    with pytest.raises(ValueError, match="seeds"):
        showdown.race_plan(names, device="cpu", seeds=0)


def test_gpu_race_plan_lets_everyone_in_with_the_common_brief_run(monkeypatch):
    def fake_plan(budget, device, model, data=None):
        size = 160 if model == "inception_v3" else 128
        return Plan(budget, "cuda:0", model, 5, size, 128, None, 1.0, None, "brief run")

    monkeypatch.setattr("nets.train.plan.plan_budget", fake_plan)  # race_plan lives there
    plan, entrants, skipped = showdown.race_plan(["resnet18", "vgg16", "inception_v3"], device="cpu")
    assert entrants == ["resnet18", "vgg16", "inception_v3"] and skipped == {}
    assert (plan.epochs, plan.image_size, plan.batch_size, plan.subset) == (5, 160, 128, None)
    assert plan.kind == "brief run"

    def small_plan(budget, device, model, data=None):  # Apple MPS: a subset, which the floor can raise
        return Plan(budget, "mps", model, 3, 112, 64, 20, 1.0, None, "brief run")

    monkeypatch.setattr("nets.train.plan.plan_budget", small_plan)
    plan, _, _ = showdown.race_plan(["resnet18"], device="cpu", min_steps=100)
    assert plan.subset == 218 and steps_of(plan) >= 100  # 34 steps an epoch x 64 images / 10 classes


def test_race_trains_every_entrant_on_the_same_images_with_the_same_recipe_once_per_seed(capsys):
    plan = Plan("brief", "cpu", "2 contenders", 1, 32, 8, 6, 0.5, None, "preview")
    trained = {}
    histories = showdown.race(
        ["resnet18", "efficientnet_b0"], tiny_data(), plan, seeds=(0, 1), val_per_class=4, trained=trained
    )
    assert list(histories) == ["resnet18", "efficientnet_b0"]
    assert [m.name for m in trained.values()] == ["resnet18", "efficientnet_b0"]  # the first seed's networks
    assert [len(runs) for runs in histories.values()] == [2, 2]
    keys = ("epochs", "image_size", "batch_size", "train_size", "val_size", "lr", "optimizer", "schedule",
            "seed", "subset")  # fmt: skip
    for i, seed in enumerate((0, 1)):  # seed by seed, every entrant gets the same recipe
        configs = [{k: runs[i].config[k] for k in keys} for runs in histories.values()]
        assert configs[0] == configs[1] and configs[0]["seed"] == seed
    config = histories["resnet18"][0].config
    assert config["train_size"] == 24 and config["image_size"] == 32  # 6 per class, 4 classes
    assert config["val_size"] == 16 and config["optimizer"] == "adamw"  # 4 per class
    # the memory layout follows the family (EfficientNet's depthwise convolutions run faster channels-last)
    assert [runs[0].config["channels_last"] for runs in histories.values()] == [False, True]
    printed = capsys.readouterr().out
    assert (
        "ResNet-18: val top-1" in printed and "EfficientNet-B0: val top-1" in printed and "2 seeds" in printed
    )
    with pytest.raises(ValueError, match="no seed twice"):
        showdown.race(["resnet18"], tiny_data(), plan, seeds=(2, 2))


def test_race_validates_every_seed_on_the_same_images(monkeypatch):
    seen = []

    def fake_fit(model, data, **kwargs):
        seen.append(data.val.labels.tolist())
        return history(model.name, [0.5])

    monkeypatch.setattr(showdown, "fit", fake_fit)
    plan = Plan("brief", "cpu", "1 contender", 1, 32, 8, 6, 0.5, None, "preview")
    data = tiny_data(n_val=40)
    showdown.race(["resnet18"], data, plan, seeds=(0, 5, 9), val_per_class=3)
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2] and len(seen[0]) == 12


def test_race_starts_every_classifier_at_zero(monkeypatch):
    heads = []

    def fake_fit(model, data, **kwargs):
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        heads.append((model.name, head.weight.abs().max().item()))
        return history(model.name, [0.5])

    monkeypatch.setattr(showdown, "fit", fake_fit)
    plan = Plan("brief", "cpu", "2 contenders", 1, 32, 8, 6, 0.5, None, "preview")
    showdown.race(["resnet18", "efficientnet_b0"], tiny_data(), plan, seeds=(0, 1))
    assert heads == [("resnet18", 0.0)] * 2 + [("efficientnet_b0", 0.0)] * 2


def test_race_leaves_out_a_contender_that_runs_out_of_gpu_memory(monkeypatch, capsys):
    def fake_fit(model, data, **kwargs):
        if model.name == "alexnet":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return history(model.name, [0.5])

    monkeypatch.setattr(showdown, "fit", fake_fit)
    plan = Plan("brief", "cuda:0", "2 contenders", 1, 128, 128, None, 1.0, None, "brief run")
    histories = showdown.race(["alexnet", "resnet18"], tiny_data(), plan)
    assert list(histories) == ["resnet18"] and len(histories["resnet18"]) == 3  # three seeds by default
    assert "AlexNet: out of GPU memory at batch 128" in capsys.readouterr().out


def raced(top1: dict[str, list[float]], standin: bool = True) -> dict[str, list[History]]:
    """Histories of a finished race, a list of seeds per entrant: 1 epoch of 1408 images in batches of 16
    (88 steps) at 32 px, 10 classes."""
    out = {}
    for name, seeds in top1.items():
        out[name] = []
        for t in seeds:
            h = history(name, [t], standin=standin)
            h.config |= {"val_size": 500, "train_size": 1408, "batch_size": 16, "epochs": 1, "image_size": 32}
            out[name].append(h)
    return out


def test_race_verdict_sets_the_leader_against_the_runner_up_by_the_seed_spread():
    v = showdown.race_verdict(raced({"resnet18": [0.60, 0.62, 0.61], "efficientnet_b0": [0.40, 0.45, 0.42]}))
    assert (v.leader, v.runner_up, v.steps, v.stuck) == ("resnet18", "efficientnet_b0", 88, [])
    assert v.comparison.winner == "ResNet-18" and v.comparison.effect == pytest.approx(18.6667, abs=1e-3)
    assert v.chance == pytest.approx(10.0) and v.threshold == pytest.approx(30.0)  # 3x chance
    assert v.text.startswith("Verdict: ResNet-18 had the highest mean val top-1, 61.0%; against the runner-up, "
                             "ResNet-18 ahead by 18.7 points in val top-1, every seed beyond the other's")  # fmt: skip
    assert (
        "Both entrants learned: every seed reached 3x chance (30%) after 88 optimiser steps of 16 images at 32 px"
        in v.text
    )
    # the numbers flip, the verdict flips; an entrant with one seed under 3x chance did not learn
    v = showdown.race_verdict(raced({"resnet18": [0.12, 0.35, 0.20], "efficientnet_b0": [0.40, 0.45, 0.42]}))
    assert v.leader == "efficientnet_b0" and v.stuck == ["resnet18"] and v.learned == ["efficientnet_b0"]
    assert "1 of 2 learned (every seed at 3x chance, 30%), not ResNet-18 (lowest seed 12.0%)" in v.text
    assert "too few for it" in v.text
    # a lead inside the seeds' spread is no clear lead, however many validation images
    close = {
        "resnet18": [0.60, 0.52, 0.58],
        "efficientnet_b0": [0.55, 0.57, 0.50],
        "googlenet": [0.5, 0.5, 0.5],
    }
    v = showdown.race_verdict(raced(close))
    assert v.comparison.winner is None and "no clear difference in val top-1 between ResNet-18 and" in v.text
    assert "Every entrant learned" in v.text
    assert "Every entrant" not in showdown.race_verdict(raced(close), learned_at=5.5).text
    with pytest.raises(ValueError, match="at least one"):
        showdown.race_verdict({})
    with pytest.raises(ValueError, match="at least 2 seeds"):  # one seed measures no spread
        showdown.race_verdict(raced({"resnet18": [0.6], "efficientnet_b0": [0.4]}))
    with pytest.raises(ValueError, match="learned_at"):
        showdown.race_verdict(raced(close), learned_at=0.5)


def test_race_table_and_chart_show_every_seed_and_label_stand_in_results():
    histories = {"resnet18": [history("resnet18", [0.2, 0.4]), history("resnet18", [0.3, 0.6])],
                 "alexnet": [history("alexnet", [0.3, 0.5]), history("alexnet", [0.2, 0.55])]}  # fmt: skip
    table = showdown.race_table(histories)
    assert list(table.index) == ["AlexNet", "ResNet-18"]  # best mean first
    assert table.loc["AlexNet", "val top-1 %"] == 52.5 and table.loc["AlexNet", "seeds"] == 2
    assert table.loc["AlexNet", "val top-1 % by seed"] == "50.0, 55.0"
    assert (
        table.loc["ResNet-18", "seed spread (points)"] == 20.0
        and table.loc["AlexNet", "seconds per run"] == 4.0
    )
    assert "stand-in" in table.loc["AlexNet", "data"]
    fig = showdown.race_chart(histories)
    assert len(fig.axes) == 2 and "STAND-IN" in fig._suptitle.get_text()
    curves, ends = fig.axes
    assert len(curves.get_lines()) == 4 + 1  # a line per seed, and chance
    dots = [c for c in ends.collections if c.get_offsets().shape[0]]
    assert sorted(len(c.get_offsets()) for c in dots if len(c.get_offsets()) == 2) == [2, 2]  # a dot per seed
    assert [t.get_text() for t in ends.get_yticklabels()] == ["ResNet-18 (2 seeds)", "AlexNet (2 seeds)"]
    # one History per name is one seed
    one_epoch = showdown.race_chart({"resnet18": history("resnet18", [0.2], standin=False)})
    assert len(one_epoch.axes) == 1 and "STAND-IN" not in one_epoch._suptitle.get_text()
    fashion = history("resnet18", [0.6])
    fashion.config["data"] = "fashion-mnist"
    assert (
        showdown.race_chart({"resnet18": [fashion]})
        ._suptitle.get_text()
        .startswith("FASHION-MNIST (not Imagenette)")
    )
    assert (
        showdown.race_table({"resnet18": [fashion]}).loc["ResNet-18", "data"]
        == "fashion-mnist (not Imagenette)"
    )
    with pytest.raises(ValueError, match="at least one"):
        showdown.race_chart({})
    with pytest.raises(ValueError, match="holds no run"):
        showdown.race_chart({"resnet18": []})


def test_charts_are_light_pngs_legible_at_the_pages_width():
    from nets import viz

    frame = toy_frame()
    histories = {"resnet18": [history("resnet18", [0.2, 0.4]), history("resnet18", [0.3, 0.5])],
                 "alexnet": [history("alexnet", [0.3, 0.5]), history("alexnet", [0.35, 0.45])]}  # fmt: skip
    charts = {
        "bubble_chart": showdown.bubble_chart(frame),
        "metric_chart": showdown.metric_chart(frame, "CPU images/s"),
        "budget_chart": showdown.budget_chart(frame, 4),
        "race_chart": showdown.race_chart(histories),
        "race_chart, one epoch": showdown.race_chart(
            {n: [history(n, [t]) for t in (0.2, 0.3, 0.25)] for n in ("resnet18", "efficientnet_b0")}
        ),
    }
    for name, fig in charts.items():
        assert fig.dpi == viz.DPI, name
        assert viz.smallest_text_px(fig) >= viz.MIN_TEXT_PX, f"{name}: text too small to read on the page"
        mime, data = viz.encode_figure(fig)
        assert mime == "image/png" and len(data) < 40_000, (name, mime, len(data))
