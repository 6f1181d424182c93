"""nets.train: brief training runs, their checkpoints, resuming, the NaN guard, budgets and DDP.

Everything runs on the CPU on tiny generated data (4 colour-coded classes, 16 px), so the whole
file takes seconds; a run's behaviour is what is checked, not just that it returns.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

import pytest
import torch
from torch import nn

import nets
import nets.train as train
from nets.data import Data, Split
from nets.train import EPOCH_KEYS, History, Plan, TrainingDiverged, fit, load_checkpoint, plan_budget

CLASSES = ["red", "green", "blue", "grey"]


FAST = dict(batch_size=16, image_size=16, lr=0.2, progress=False, device="cpu")


def make_split(n: int, seed: int) -> Split:
    """Class c is a noisy image with a bright channel c (class 3: all channels), learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(CLASSES)
    images = torch.randint(0, 90, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    for c in range(3):
        images[labels == c, c] += 150
    images[labels == 3] += 60
    return Split(images, labels)


def make_data(n_train: int = 64, n_val: int = 32) -> Data:
    return Data(make_split(n_train, 1), make_split(n_val, 2), list(CLASSES), "colours", True, 16)


class Tripwire(nn.Module):
    """Identity, until training forward call number ``after`` + 1: then it crashes or emits NaN.

    Its counter is a plain attribute (not in the state dict), so a resumed model is clean.
    """

    def __init__(self) -> None:
        super().__init__()
        self.after: int | None = None
        self.mode = "crash"
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        self.calls += 1
        if self.after is not None and self.calls > self.after:
            if self.mode == "crash":
                raise Crash(f"simulated crash at training forward {self.calls}")
            return x * float("nan")
        return x


class Crash(Exception):
    pass


def small_net(seed: int = 0, *, norm: bool = True, dropout: float = 0.2) -> nn.Sequential:
    """Conv + BatchNorm + ReLU + pool + dropout + linear: BatchNorm buffers and dropout draws both
    have to survive a checkpoint for a resumed run to be exact."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8) if norm else nn.Identity(),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(32, len(CLASSES)),
        Tripwire(),
    )


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs"


# --------------------------------------------------------------------------------------------------
# A run learns and says what it did
# --------------------------------------------------------------------------------------------------


def test_fit_learns_and_records_history(tmp_path):
    data = make_data()
    net = small_net()
    history = fit(net, data, 4, out=tmp_path, **FAST)

    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]
    assert all(tuple(e) == EPOCH_KEYS for e in history.epochs)
    first, last = history.epochs[0], history.final
    assert last["train_loss"] < first["train_loss"]
    assert history.best_top1 >= 0.9  # 4 separable colours; chance is 0.25
    assert all(0 <= e["val_top1"] <= e["val_top5"] <= 1 for e in history.epochs)
    assert all(e["images_per_s"] > 0 and e["seconds"] > 0 for e in history.epochs)
    cfg = history.config
    expected = {
        "model": "Sequential",
        "data": "colours",
        "is_standin": True,
        "device": "cpu",
        "image_size": 16,
    }
    assert {k: cfg[k] for k in expected} == expected
    assert (cfg["batch_size"], cfg["epochs"], cfg["train_size"], cfg["val_size"]) == (16, 4, 64, 32)

    # metrics.json and the checkpoint describe the same run
    saved = History.load(tmp_path / "metrics.json")
    assert saved.epochs == history.epochs and saved.config == history.config
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["epoch"] == 4 and ckpt["history"]["epochs"] == history.epochs
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt", "metrics.json"]  # no leftover .tmp


def test_same_seed_same_weights_and_the_seed_matters():
    data = make_data()
    a, b, c = small_net(), small_net(), small_net()
    fit(a, data, 2, seed=1, **FAST)
    fit(b, data, 2, seed=1, **FAST)
    fit(c, data, 2, seed=2, **FAST)
    assert_same_weights(a, b)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_model_by_name_is_built_for_the_data_and_seeded():
    data = make_data(32, 8)
    kw = dict(FAST, image_size=32, batch_size=8)
    h1 = fit("resnet18", data, 1, seed=3, **kw)
    h2 = fit("resnet18", data, 1, seed=3, **kw)
    assert h1.config["model"] == "resnet18"
    assert h1.epochs[0]["train_loss"] == h2.epochs[0]["train_loss"]


# --------------------------------------------------------------------------------------------------
# Checkpoints and resume
# --------------------------------------------------------------------------------------------------


def test_resume_ends_with_exactly_the_weights_of_an_uninterrupted_run(tmp_path):
    data = make_data()
    straight = small_net()
    full = fit(straight, data, 2, out=tmp_path / "straight", **FAST)

    stopped = small_net()
    stopped[-1].after = 6  # 4 steps per epoch: crash at epoch 2, step 2, after epoch 1's checkpoint
    with pytest.raises(Crash):
        fit(stopped, data, 2, out=tmp_path / "stopped", **FAST)
    assert load_checkpoint(tmp_path / "stopped")["epoch"] == 1

    resumed = small_net(seed=123)  # a different initialisation: the weights must come from the checkpoint
    history = fit(resumed, data, 2, out=tmp_path / "stopped", resume=True, **FAST)

    assert_same_weights(straight, resumed)
    assert history.epochs == [
        {**e, "images_per_s": r["images_per_s"], "seconds": r["seconds"]}
        for e, r in zip(full.epochs, history.epochs, strict=True)
    ]
    after_one = load_checkpoint(tmp_path / "straight")  # sanity: epoch 2 did change the weights
    assert after_one["epoch"] == 2
    assert not torch.equal(small_net()[0].weight, resumed[0].weight)


def test_resume_checks_the_settings_and_a_finished_run_is_returned_as_is(tmp_path):
    data = make_data()
    net = small_net()
    done = fit(net, data, 1, out=tmp_path, **FAST)
    with pytest.raises(ValueError, match=r"different settings \(lr: 0.2 -> 0.1\)"):
        fit(small_net(), data, 1, out=tmp_path, resume=True, **dict(FAST, lr=0.1))

    # a checkpoint from before `shift` existed was trained without one: it resumes unshifted, not shifted
    older = {k: v for k, v in done.config.items() if k != "shift"}
    train.checkpoints.check_resume(older, dict(done.config, shift=0.0), tmp_path)
    with pytest.raises(ValueError, match=r"different settings \(shift: 0.0 -> 0.125\)"):
        train.checkpoints.check_resume(older, dict(done.config, shift=0.125), tmp_path)

    again = small_net(seed=5)
    history = fit(again, data, 1, out=tmp_path, resume=True, **FAST)
    assert history.epochs == done.epochs
    assert_same_weights(net, again)  # the finished weights are loaded, nothing retrained


# What nets/train.py wrote into History.config (and metrics.json) before the package and its TrainConfig.
OLD_CONFIG_KEYS = (
    "model", "data", "is_standin", "classes", "train_size", "val_size", "device", "world_size", "epochs",
    "batch_size", "image_size", "lr", "optimizer", "weight_decay", "schedule", "warmup_epochs",
    "label_smoothing", "crop_scale", "eval_crop", "shift", "amp", "channels_last", "compile", "seed",
    "budget", "subset", "torch",
)  # fmt: skip


def test_a_checkpoint_in_the_old_layout_from_before_shift_resumes_exactly(tmp_path):
    """The layout the single-file trainer wrote, format 1 (no SHA-256) and from before ``shift``: its
    run resumes unshifted and ends with the weights of the uninterrupted (unshifted) run."""
    data = make_data()
    straight = small_net()
    full = fit(straight, data, 2, out=tmp_path / "straight", shift=0.0, **FAST)
    assert set(full.config) == set(OLD_CONFIG_KEYS)  # metrics.json keeps its keys

    stopped = small_net()
    stopped[-1].after = 6  # crash in epoch 2, after epoch 1's checkpoint
    with pytest.raises(Crash):
        fit(stopped, data, 2, out=tmp_path / "old", shift=0.0, **FAST)
    state = torch.load(tmp_path / "old" / "checkpoint.pt", weights_only=True)
    config = {k: state["history"]["config"][k] for k in OLD_CONFIG_KEYS if k != "shift"}
    old = {k: state[k] for k in ("epoch", "model", "optimizer", "scheduler", "scaler", "rng")}
    old.update(format=1, history={"epochs": state["history"]["epochs"], "config": config})
    torch.save(old, tmp_path / "old" / "checkpoint.pt")

    with pytest.raises(ValueError, match=r"different settings \(shift: 0.0 -> 0.125\)"):
        fit(small_net(), data, 2, out=tmp_path / "old", resume=True, **FAST)  # the recipe would shift
    resumed = small_net(seed=123)
    history = fit(resumed, data, 2, out=tmp_path / "old", resume=True, shift=0.0, **FAST)
    assert_same_weights(straight, resumed)
    assert [e["val_top1"] for e in history.epochs] == [e["val_top1"] for e in full.epochs]


def test_settings_come_as_a_train_config_or_by_name_and_a_typo_is_named():
    config = train.TrainConfig(epochs=1, batch_size=16, image_size=16, lr=0.2, seed=2)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train.TrainConfig(lr=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1
    by_config = fit(small_net(), make_data(), config=config, progress=False, device="cpu")
    by_name = fit(small_net(), make_data(), 1, seed=2, **FAST)
    overridden = fit(small_net(), make_data(), config=config, seed=3, progress=False, device="cpu")
    assert by_config.config["seed"] == by_name.config["seed"] == 2 and overridden.config["seed"] == 3
    assert by_config.epochs[0]["train_loss"] == by_name.epochs[0]["train_loss"]
    with pytest.raises(
        TypeError, match=r"unknown training setting 'learning_rate'; the settings are epochs, "
    ):
        fit(small_net(), make_data(), 1, learning_rate=0.1, **FAST)


def test_resume_without_a_checkpoint_starts_afresh_and_needs_an_out_folder(tmp_path):
    data = make_data()
    history = fit(small_net(), data, 1, out=tmp_path / "new", resume=True, **FAST)
    assert len(history) == 1 and (tmp_path / "new" / "checkpoint.pt").exists()
    with pytest.raises(ValueError, match="resume=True needs out="):
        fit(small_net(), data, 1, resume=True, **FAST)


def test_a_stray_tmp_file_is_ignored_and_a_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    data = make_data()
    (tmp_path / "checkpoint.pt.tmp").write_bytes(b"half a checkpoint from a crash (older nets)")
    dead = tmp_path / ".checkpoint.pt.999999999.tmp"  # no process has this id: a killed run's leftover
    dead.write_bytes(b"half a checkpoint from a kill -9")
    real_save = torch.save
    calls = []

    def save_then_fail(obj, f, *args, **kwargs):  # the second checkpoint write dies half-way (disk full)
        calls.append(1)
        if len(calls) == 2:
            f.write(b"\x80\x02partial")
            raise OSError("No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="No space"):
        fit(small_net(), data, 3, out=tmp_path, **FAST)
    monkeypatch.undo()

    assert load_checkpoint(tmp_path)["epoch"] == 1
    assert History.load(tmp_path / "metrics.json").final["epoch"] == 1
    assert not (tmp_path / "checkpoint.pt.tmp").exists() and not dead.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    (tmp_path / "checkpoint.pt.tmp").write_bytes(b"garbage again")
    history = fit(small_net(), data, 3, out=tmp_path, resume=True, **FAST)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]


def test_checkpoint_loads_with_weights_only_and_bad_files_say_so(tmp_path):
    data = make_data()
    net = small_net()
    fit(net, data, 1, out=tmp_path, **FAST)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "history"}
    fresh = small_net(seed=9)
    load_checkpoint(tmp_path / "checkpoint.pt", fresh)
    assert_same_weights(net, fresh)

    (tmp_path / "notes.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(
        ValueError, match="notes.pt is not a checkpoint .not a file torch.save wrote.; check the path"
    ):
        load_checkpoint(tmp_path / "notes.pt")
    whole = (tmp_path / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        ValueError, match="cut.pt is a damaged checkpoint .*cut short.*delete it to start afresh"
    ):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"format": 2, "code": collections.OrderedDict(a=make_data)}, tmp_path / "unsafe.pt")
    with pytest.raises(
        ValueError, match="unsafe.pt holds Python objects besides tensors.*weights_only=False"
    ):
        load_checkpoint(tmp_path / "unsafe.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing")


# --------------------------------------------------------------------------------------------------
# Divergence
# --------------------------------------------------------------------------------------------------


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    data = make_data()
    digests = []
    real_save = train.checkpoints.save_checkpoint

    def save_and_fingerprint(path, *args):
        real_save(path, *args)
        digests.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())

    monkeypatch.setattr(train.checkpoints, "save_checkpoint", save_and_fingerprint)
    net = small_net()
    net[-1].after, net[-1].mode = 6, "nan"  # epoch 2, step 3 returns NaN
    with pytest.raises(TrainingDiverged, match=r"at epoch 2, step 3") as info:
        fit(net, data, 3, out=tmp_path, **FAST)
    assert (info.value.epoch, info.value.step) == (2, 3) and math.isnan(info.value.loss)
    assert "checkpoint" in str(info.value) and "untouched" in str(info.value)

    assert len(digests) == 1
    assert hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest() == digests[0]
    good = load_checkpoint(tmp_path)
    assert good["epoch"] == 1 and all(torch.isfinite(t).all() for t in good["model"].values())

    monkeypatch.undo()
    history = fit(small_net(), data, 3, out=tmp_path, resume=True, **FAST)  # and it can carry on
    assert len(history) == 3 and all(math.isfinite(e["train_loss"]) for e in history.epochs)


def test_an_exploding_learning_rate_is_caught_before_any_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match="epoch 1") as info:
        fit(small_net(norm=False), make_data(), 2, out=tmp_path, **dict(FAST, lr=1e30))
    assert "no checkpoint was written" in str(info.value)
    assert not (tmp_path / "checkpoint.pt").exists()


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of 'sgd', 'adamw'; got 'lbfgs'"),
        ({"schedule": "step"}, "schedule must be one of 'onecycle', 'cosine'; got 'step'"),
        ({"lr": -1.0}, "lr must be a positive number"),
        ({"amp": "fp8"}, "amp must be one of"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
        ({"batch_size": 65}, "larger than the 64 training images"),
        ({"budget": "overnight"}, "budget must be one of 'brief'; got 'overnight'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    args = dict(FAST, epochs=1)
    args.update(kwargs)
    epochs = args.pop("epochs")
    with pytest.raises(ValueError, match=message):
        fit(small_net(), make_data(), epochs, **args)


def test_a_model_with_the_wrong_number_of_classes_is_told_what_to_build():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 1000))
    with pytest.raises(ValueError, match="build it with num_classes=4"):
        fit(net, make_data(), 1, **FAST)


def test_adamw_cosine_bf16_autocast_and_auxiliary_heads():
    class WithAux(nn.Module):  # returns (logits, aux_logits) in training, like GoogLeNet
        def __init__(self) -> None:
            super().__init__()
            self.body = small_net(dropout=0.0)
            self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, len(CLASSES)))

        def forward(self, x):
            return (self.body(x), self.aux(x)) if self.training else self.body(x)

    history = fit(
        WithAux(), make_data(), 3, optimizer="adamw", schedule="cosine", amp="bf16", **dict(FAST, lr=1e-2)
    )
    assert history.config["amp"] == "bfloat16" and history.config["optimizer"] == "adamw"
    assert history.final["train_loss"] < history.epochs[0]["train_loss"]


def test_learning_rate_schedules_warm_up_then_anneal():
    one = train.loop.lr_factor("onecycle", warmup_steps=10, total_steps=100)
    cos = train.loop.lr_factor("cosine", warmup_steps=10, total_steps=100)
    assert one(0) == pytest.approx(1 / 25) and one(10) == pytest.approx(1.0) and one(100) < 1e-4
    assert cos(0) < 0.1 and cos(10) == pytest.approx(1.0) and cos(55) == pytest.approx(0.5) and cos(100) == 0
    assert all(one(s) <= one(s - 1) for s in range(11, 101))
    assert all(cos(s) > cos(s - 1) for s in range(1, 10))


# --------------------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------------------


def test_brief_budget_on_cpu_is_a_short_preview_scaled_by_model_cost():
    r18 = plan_budget("brief", "cpu", "resnet18")
    vgg = plan_budget("brief", "cpu", "vgg16")
    assert (r18.device, r18.image_size, r18.kind) == ("cpu", 64, "preview")
    assert 8 <= vgg.subset < r18.subset <= 150
    assert r18.estimate_s is not None and r18.estimate_s <= 60
    assert "resnet18" in str(r18) and "64 px" in str(r18) and "images per class" in str(r18)
    assert plan_budget("brief", "cpu", "inception_v3").image_size >= 75  # its smallest input


def test_cpu_plans_leave_chance_behind_and_publishing_buys_more(monkeypatch):
    fashion = Data(make_split(16, 1), make_split(16, 2), list(CLASSES), "fashion-mnist", True, 64)
    for name in ("alexnet", "vgg16_bn", "resnet18", "googlenet", "inception_v3", "efficientnet_b0"):
        plan = plan_budget("brief", "cpu", name, fashion)
        steps = plan.epochs * plan.subset * 10 // plan.batch_size
        assert steps >= 60, f"{name}: {plan} gives only {steps} optimiser steps"
        assert plan.image_size == max(32, -(-nets.registry.entry(name).min_size // 16) * 16), plan
    monkeypatch.setenv("NETS_BUDGET", "publish")
    published = plan_budget("brief", "cpu", "resnet18", fashion)
    monkeypatch.delenv("NETS_BUDGET")
    brief = plan_budget("brief", "cpu", "resnet18", fashion)
    assert published.kind == "publishing run" and published.epochs > brief.epochs
    assert published.subset * published.epochs > 4 * brief.subset * brief.epochs
    assert plan_budget("brief", "cuda" if torch.cuda.is_available() else "cpu", "resnet18").epochs in (3, 5)
    monkeypatch.setenv("NETS_BUDGET", "overnight")
    with pytest.raises(ValueError, match="NETS_BUDGET must be 'brief' or 'publish'"):
        plan_budget("brief", "cpu", "resnet18")


def test_fit_with_a_budget_says_what_it_chose_and_explicit_settings_win(capsys):
    data = make_data()
    planned = dict(FAST, image_size=None, batch_size=None)
    history = fit(small_net(), data, 1, budget="brief", **dict(planned, progress=True))
    printed = capsys.readouterr().out
    assert "budget 'brief' on cpu: a preview of Sequential" in printed
    # the test data are 16 px images: low-resolution data train at 32 px (Imagenette at 64)
    assert history.config["budget"] == "brief" and history.config["image_size"] == 32
    assert len(history) == 1  # epochs=1 given explicitly overrides the plan's 3

    plan = Plan("brief", "cpu", "tiny", 2, 16, 8, 4, 0.5, None, "preview")
    history = fit(small_net(), data, budget=plan, **planned)
    assert len(history) == 2 and history.config["train_size"] == 16 and history.config["val_size"] == 16


# --------------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------------


def test_history_round_trips_and_plots(tmp_path):
    values = [(i + 1, 2.0 - i, 0.3 + 0.1 * i, 1.5 - i, 0.4 + 0.2 * i, 0.9, 100.0, 2.0) for i in range(3)]
    rows = [dict(zip(EPOCH_KEYS, v, strict=True)) for v in values]
    history = History(rows, {"model": "resnet18", "data": "standin", "is_standin": True})
    assert history.best_top1 == pytest.approx(0.8) and history.final["epoch"] == 3
    path = history.save(tmp_path / "run" / "metrics.json")
    assert json.loads(path.read_text())["epochs"][2]["val_top1"] == pytest.approx(0.8)
    assert History.load(path) == history
    assert "resnet18" in repr(history) and "80.0%" in repr(history)
    table = history._repr_html_()  # what a notebook shows
    assert table.count("<tr>") == 4 and "80.0%" in table and "on standin (not Imagenette numbers)" in table

    with pytest.raises(ValueError, match="no epochs"):
        _ = History().final
    with pytest.raises(FileNotFoundError):
        History.load(tmp_path / "nothing.json")


# --------------------------------------------------------------------------------------------------
# DistributedDataParallel
# --------------------------------------------------------------------------------------------------

DDP_KW = dict(batch_size=16, image_size=16, lr=0.2, progress=False, device="cpu", seed=4)


def _ddp_worker(rank: int, world_size: int, tmp: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world_size
    )
    try:
        net = small_net(norm=False, dropout=0.0)
        history = fit(net, make_data(), 2, out=f"{tmp}/out{rank}", **DDP_KW)
        torch.save({"weights": net.state_dict(), "epochs": history.epochs}, f"{tmp}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process_on_the_same_global_batch(tmp_path):
    """Two gloo ranks each take half of every global batch of 16; DDP averages their gradients, which is
    the gradient of the whole batch. The model has no BatchNorm (each rank would normalise with its own
    8 images' statistics: a different computation; SyncBatchNorm, used on GPUs, is CUDA-only) and no
    dropout (each rank draws its own masks, as it should, so masks cannot match a single process)."""
    torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    single = small_net(norm=False, dropout=0.0)
    history = fit(single, make_data(), 2, **DDP_KW)

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name, weight in single.state_dict().items():
        assert torch.equal(ranks[0]["weights"][name], ranks[1]["weights"][name])  # ranks stay in step
        torch.testing.assert_close(ranks[0]["weights"][name], weight, rtol=1e-4, atol=1e-5)
    assert not torch.equal(single[0].weight, small_net(norm=False, dropout=0.0)[0].weight)  # it trained
    for got, want in zip(ranks[0]["epochs"], history.epochs, strict=True):
        assert got["val_top1"] == pytest.approx(want["val_top1"])  # val counts summed over both ranks
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-4)
    assert (tmp_path / "out0" / "checkpoint.pt").exists() and not (tmp_path / "out1").exists()


def test_fit_defaults_are_the_brief_recipe_for_brief_runs():
    from nets.data import CROP_SCALE, EVAL_CROP
    from nets.train import brief_recipe

    brief, long = brief_recipe(3), brief_recipe(30)
    assert brief.crop_scale == (1.0, 1.0) and brief.shift == 0.125 and brief.eval_crop == 1.0
    assert long.crop_scale == CROP_SCALE and long.eval_crop == EVAL_CROP
    history = fit(small_net(), make_data(), 2, **FAST)  # no budget: the brief recipe all the same
    assert history.config["crop_scale"] == [1.0, 1.0] and history.config["eval_crop"] == 1.0
    assert (
        history.config["shift"] == 0.125
        and fit(small_net(), make_data(), 1, shift=0.0, **FAST).config["shift"] == 0
    )
    explicit = fit(small_net(), make_data(), 1, crop_scale=(0.35, 1.0), eval_crop=0.875, **FAST)
    assert explicit.config["crop_scale"] == [0.35, 1.0] and explicit.config["eval_crop"] == 0.875
    with pytest.raises(ValueError, match="eval_crop must be in"):
        fit(small_net(), make_data(), 1, eval_crop=1.5, **FAST)
    # the peak lr: 0.05 x batch/128 for SGD (bench/recipe.py), 2e-3 x batch/128 for AdamW
    from nets.train import default_lr

    assert default_lr("sgd", 64) == pytest.approx(0.025) and default_lr("adamw", 256) == pytest.approx(4e-3)
    unset = {k: v for k, v in FAST.items() if k != "lr"}
    assert fit(small_net(), make_data(), 1, **unset).config["lr"] == pytest.approx(default_lr("sgd", 16))
    with pytest.raises(ValueError, match="optimizer"):
        default_lr("adam", 64)
    # ResNet's, VGG's and EfficientNet's SGD rates are half the rule's (held-out images, bench/recipe.py)
    for family in ("resnet", "vgg", "efficientnet"):
        assert default_lr("sgd", 64, family) == pytest.approx(0.0125)
    assert default_lr("sgd", 64, "inception") == default_lr("sgd", 64, None) == pytest.approx(0.025)
    assert default_lr("adamw", 64, "efficientnet") == default_lr("adamw", 64)
    named = small_net()
    named.name = "efficientnet_b0"  # fit finds the family by the registry name nets.build gives a model
    assert fit(named, make_data(), 1, **unset).config["lr"] == pytest.approx(default_lr("sgd", 16) / 2)
    assert fit(named, make_data(), 1, **FAST).config["lr"] == FAST["lr"]  # a given lr still wins
    # EfficientNet's SGD runs also warm up for 30 % of the run and drop label smoothing (bench/recipe.py)
    from nets.train import TrainConfig, settle

    sgd, adamw = TrainConfig(epochs=5), TrainConfig(epochs=5, optimizer="adamw")
    effnet, resnet = settle(sgd, family="efficientnet"), settle(sgd, family="resnet")
    assert (effnet.warmup_epochs, effnet.label_smoothing) == (pytest.approx(1.5), 0.0)
    assert (resnet.warmup_epochs, resnet.label_smoothing) == (1.0, 0.1)
    assert settle(adamw, family="efficientnet").label_smoothing == 0.1  # measured with SGD only
    budget = plan_budget("brief", "cpu", "efficientnet_b0")
    assert settle(TrainConfig(), budget, "efficientnet").warmup_epochs == pytest.approx(0.3 * budget.epochs)
    given = settle(TrainConfig(epochs=5, warmup_epochs=0.5, label_smoothing=0.2), family="efficientnet")
    assert (given.warmup_epochs, given.label_smoothing) == (0.5, 0.2)  # what is given still wins
    assert fit(named, make_data(), 1, **unset).config["label_smoothing"] == 0.0


def test_the_recipe_benchmarks_plain_loop_learns():
    """bench/recipe.py's reference arm trains: a ratio against a loop that cannot learn would mean nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("recipe", Path(__file__).parents[1] / "bench" / "recipe.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    accuracy = recipe.plain_loop(small_net(norm=True, dropout=0.0), make_data(), epochs=8, image_size=16,
                                 batch_size=16, lr=0.05, seed=0)  # fmt: skip
    assert accuracy >= 0.75, f"the plain loop should learn four colours, got {accuracy:.0%}"
