"""The GPU code paths of ``fit`` (AMP in bf16 and fp16 with a GradScaler, channels_last, torch.compile),
executed on the CPU with a tiny model: the loss stays finite, and a checkpoint resumes exactly.

The CPU runs the same code as CUDA for each of them (torch.autocast("cpu"), GradScaler("cpu"),
channels-last tensors, inductor's CPU backend); bench/gpu.py measures them on a GPU.
"""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from nets.train import fit, load_checkpoint

try:
    from test_train import FAST, make_data, small_net
except ImportError:  # run from the repository root as a package
    from tests.test_train import FAST, make_data, small_net


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "options",
    [{"amp": "bf16"}, {"amp": "fp16"}, {"channels_last": True}, {"amp": "bf16", "channels_last": True}],
    ids=["bf16", "fp16-gradscaler", "channels_last", "bf16+channels_last"],
)
def test_gpu_paths_train_finitely_and_resume_exactly(tmp_path, options):
    data = make_data()
    whole = fit(small_net(), data, 2, out=tmp_path / "whole", **FAST, **options)
    assert all(math.isfinite(e["train_loss"]) and math.isfinite(e["val_loss"]) for e in whole.epochs)
    amp = {"bf16": "bfloat16", "fp16": "float16"}.get(options.get("amp"), "off")
    assert whole.config["amp"] == amp and whole.config["channels_last"] == options.get("channels_last", False)
    state = load_checkpoint(tmp_path / "whole")
    if options.get("amp") == "fp16":
        assert state["scaler"], "fp16 runs with a GradScaler, whose state is checkpointed"

    fit(small_net(), data, 1, out=tmp_path / "split", **{**FAST, "warmup_epochs": 0.5}, **options)
    halves = tmp_path / "halves"
    shutil.copytree(tmp_path / "split", halves)
    # A run stopped after epoch 1 and resumed equals the uninterrupted one (same settings: 2 epochs).
    fit(small_net(), data, 2, out=tmp_path / "again", **FAST, **options)
    first = fit(small_net(), data, 2, out=tmp_path / "stopped", **FAST, **options)
    resumed = fit(small_net(), data, 2, out=tmp_path / "stopped", resume=True, **FAST, **options)
    assert resumed.epochs == first.epochs
    assert _same(load_checkpoint(tmp_path / "again")["model"], load_checkpoint(tmp_path / "whole")["model"])


@pytest.mark.slow
def test_compile_trains_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("torch._inductor")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("torch.compile's CPU backend needs a C compiler")
    import nets.train as train

    data = make_data()
    real_evaluate, calls = train.loop.Run.evaluate, []

    def stop_in_epoch_2(run):  # Ctrl-C during epoch 2: the checkpoint of epoch 1 is on disk
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(run)

    monkeypatch.setattr(train.loop.Run, "evaluate", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(small_net(), data, 2, out=tmp_path, compile=True, **FAST)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["epoch"] == 1
    assert all(not k.startswith("_orig_mod") for k in load_checkpoint(tmp_path)["model"])
    resumed = fit(small_net(), data, 2, out=tmp_path, compile=True, resume=True, **FAST)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
    assert all(math.isfinite(e["train_loss"]) for e in resumed.epochs)
