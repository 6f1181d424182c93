"""``python -m nets``: one-line errors with exit status 2, training and resuming on a generated Imagenette."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nets
import nets.train as train
from nets.__main__ import main
from nets.train import History, load_checkpoint

try:
    from imagenette_fixture import make_fake_imagenette
except ImportError:  # run from the repository root as a package
    from tests.imagenette_fixture import make_fake_imagenette

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("offline_cache")  # tests/conftest.py


@pytest.fixture(scope="module")
def imagenette(tmp_path_factory) -> Path:
    """10 classes x (4 train, 2 val) JPEGs in torchvision's layout, one of them corrupt."""
    return make_fake_imagenette(tmp_path_factory.mktemp("imagenette"), per_class=(4, 2), corrupt=1)


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--model", "resnet18", "--data", "imagenette", "--data-root", str(root), "--no-download",
        "--epochs", "2", "--image-size", "32", "--batch-size", "8", "--device", "cpu", "--quiet",
        "--out", str(out), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--model", "resnet1800", "--out", "x"],
            "unknown model 'resnet1800'. Did you mean 'resnet18'?",
        ),
        (
            ["train", "--model", "resnet18", "--epochs", "0", "--out", "x"],
            "nets train: epochs must be a positive integer, got 0",
        ),
        (
            ["train", "--model", "resnet18", "--lr", "fast", "--out", "x"],
            "lr must be a positive number, got 'fast'",
        ),
        (
            ["train", "--model", "resnet18", "--seed", "-1", "--out", "x"],
            "seed must be an integer from 0 to 4294967295 (2**32 - 1), got -1",
        ),
        (["train", "--model", "resnet18", "--optimizer", "lbfgs", "--out", "x"], "optimizer must be one of"),
        (["train", "--model", "resnet18", "--data", "imagenet", "--out", "x"], "invalid choice: 'imagenet'"),
        (["train", "--model", "resnet18"], "the following arguments are required: --out"),
        (
            ["train", "--model", "alexnet", "--image-size", "32", "--out", "x"],
            "below alexnet's smallest input",
        ),
        (["train", "--model", "resnet18", "--budget", "week", "--out", "x"], "budget must be one of 'brief'"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, message, run_main):
    status, out, err = run_main(args)
    assert status == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_imagenette_without_download_is_one_line_and_exit_2(tmp_path, run_main):
    args = ["train", "--model", "resnet18", "--data", "imagenette", "--no-download"]
    status, out, err = run_main([*args, "--data-root", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert status == 2
    assert err.count("\n") == 1 and "cannot load the data" in err and "Imagenette" in err
    assert not (tmp_path / "r").exists()


def test_list_prints_every_model(run_main):
    status, out, err = run_main(["list"])
    assert status == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == nets.list_models()


@pytest.mark.slow  # a subprocess
def test_the_module_runs_as_a_program(tmp_path):
    env = dict(os.environ, NETS_DATA_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    bad = subprocess.run(
        [sys.executable, "-m", "nets", "train", "--model", "resnet1800", "--out", str(tmp_path / "r")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown model 'resnet1800'" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


class Stop(Exception):
    """Stands for the process being killed after the first checkpoint."""


@pytest.mark.filterwarnings("ignore::nets.data.UnreadableImageWarning")  # the fake tree's corrupt JPEG
def test_trains_and_resumes_on_a_generated_imagenette(imagenette, tmp_path, run_main, monkeypatch):
    real_save = train.checkpoints.save_checkpoint

    def save_then_stop(*args):
        real_save(*args)
        raise Stop

    monkeypatch.setattr(train.checkpoints, "save_checkpoint", save_then_stop)
    with pytest.raises(Stop):
        main(train_args(imagenette, tmp_path / "run"))
    monkeypatch.undo()
    stopped = load_checkpoint(tmp_path / "run")
    first = History.from_dict(stopped["history"])
    assert stopped["epoch"] == 1 and [e["epoch"] for e in first.epochs] == [1]
    assert first.config["train_size"] == 39 and first.config["val_size"] == 20  # one corrupt JPEG skipped
    assert first.config["is_standin"] is False and first.config["image_size"] == 32

    status, out, err = run_main(train_args(imagenette, tmp_path / "run", "--resume"))
    assert status == 0, err
    assert "resnet18 on imagenette2-160: val top-1" in out and "after 2 epochs" in out
    history = History.load(tmp_path / "run" / "metrics.json")
    assert [e["epoch"] for e in history.epochs] == [1, 2] and history.epochs[0] == first.epochs[0]
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2

    # Resuming with other settings is refused in one line, the run left as it was.
    status, out, err = run_main(train_args(imagenette, tmp_path / "run", "--resume", "--lr", "0.5"))
    assert status == 2 and err.count("\n") == 1 and "different settings" in err
    assert History.load(tmp_path / "run" / "metrics.json").epochs == history.epochs


@pytest.mark.slow
def test_torchrun_two_cpu_processes(imagenette, tmp_path):
    """The same command under torchrun: two gloo ranks, one set of files, written by rank 0."""
    env = dict(os.environ, NETS_DATA_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "nets"]
    result = subprocess.run(
        [*cmd, *train_args(imagenette, tmp_path / "ddp")], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("resnet18 on imagenette2-160: val top-1") == 1  # rank 0 reports, once
    history = History.load(tmp_path / "ddp" / "metrics.json")
    assert history.config["world_size"] == 2 and len(history) == 2
