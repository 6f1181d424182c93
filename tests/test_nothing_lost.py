"""Nothing lost, nothing half-written, one clear line (issue "Nothing lost").

Each case a demanding user hit: a second run into the same folder, a file as --out, a damaged
checkpoint, a full disk while saving, Ctrl-C, NETS_DATA for the CLI, and the argument gaps. The data
cache's full-disk and stale-temp cases are in tests/test_data.py.
"""

from __future__ import annotations

import errno
import json
import math
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

import nets
import nets.files
from nets.train import fit, load_checkpoint

try:
    from test_train import FAST, make_data, small_net
except ImportError:  # run from the repository root as a package
    from tests.test_train import FAST, make_data, small_net


pytestmark = pytest.mark.usefixtures("offline_cache")  # tests/conftest.py


def cli(out: Path, *extra: str) -> list[str]:
    return ["train", "--model", "resnet18", "--data", "standin", "--epochs", "1", "--image-size", "16",
            "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(out), *extra]  # fmt: skip


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# 1. A second run into the same folder never overwrites the first


def test_a_second_run_into_a_run_folder_is_refused_and_overwrite_is_explicit(tmp_path, run_main):
    fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
    before = (tmp_path / "checkpoint.pt").read_bytes(), (tmp_path / "metrics.json").read_bytes()
    with pytest.raises(ValueError, match="already holds a run .* resume=True .* overwrite=True"):
        fit(small_net(seed=3), make_data(), 1, out=tmp_path, **FAST)
    assert ((tmp_path / "checkpoint.pt").read_bytes(), (tmp_path / "metrics.json").read_bytes()) == before

    status, _, err = run_main(cli(tmp_path))
    assert status == 2 and "already holds a run (checkpoint.pt, metrics.json)" in one_line(err)
    assert "--resume" in err and "--overwrite" in err
    assert (tmp_path / "checkpoint.pt").read_bytes() == before[0]

    fit(small_net(seed=3), make_data(), 1, out=tmp_path, overwrite=True, **FAST)
    assert (tmp_path / "checkpoint.pt").read_bytes() != before[0]


# 3. --out is checked before any work


def test_a_file_as_out_is_one_line_exit_2_before_any_work(tmp_path, run_main, monkeypatch):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    monkeypatch.setattr(
        nets.data, "load", lambda *a, **k: pytest.fail("data loaded before --out was checked")
    )
    status, _, err = run_main(cli(target))
    assert status == 2 and f"--out {target} is a file, not a folder" in one_line(err)
    assert target.read_text() == "mine"
    with pytest.raises(ValueError, match="is a file, not a folder"):
        fit(small_net(), make_data(), 1, out=target, **FAST)


def test_out_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    fit(small_net(), make_data(), 1, out="~/runs/a", **FAST)
    assert (tmp_path / "runs" / "a" / "checkpoint.pt").exists()
    assert not Path("~").exists()


# 4. A damaged checkpoint is refused, not resumed


def _flip_bytes_inside_a_weight(path: Path, count: int = 256) -> None:
    """Flip bytes in the stored data of the largest tensor, leaving the zip readable (no CRC is checked)."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        raw = bytearray(path.read_bytes())
        # local header: 30 bytes + file name + extra field, then the (stored, uncompressed) data
        name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
        extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
        start = info.header_offset + 30 + name_len + extra_len
    for i in range(start, start + min(count, info.file_size)):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_a_damaged_checkpoint_is_refused_on_resume(tmp_path):
    data = make_data()
    fit(small_net(), data, 1, out=tmp_path, **FAST)
    _flip_bytes_inside_a_weight(tmp_path / "checkpoint.pt")
    torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # still loads: only the hash can tell
    with pytest.raises(ValueError, match="is damaged: its contents do not match the SHA-256"):
        fit(small_net(), data, 2, out=tmp_path, resume=True, **FAST)
    with pytest.raises(ValueError, match="damaged"):
        load_checkpoint(tmp_path)


# 5. A full disk while saving says so, and keeps the previous checkpoint


def test_disk_full_while_saving_says_so_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    real_open = open
    saves = []

    class FullDisk:  # the second checkpoint write fills the disk half-way
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if "checkpoint.pt" in str(path):
            saves.append(path)
            if len(saves) == 2:
                return FullDisk(f)
        return f

    monkeypatch.setattr(nets.files, "open", fake_open, raising=False)
    first = {}
    real_atomic = nets.files.os.replace

    def keep_first(src, dst):
        real_atomic(src, dst)
        if str(dst).endswith("checkpoint.pt") and not first:
            first["bytes"] = Path(dst).read_bytes()

    monkeypatch.setattr(nets.files.os, "replace", keep_first)
    with pytest.raises(OSError, match=r"disk full while writing .*checkpoint.pt \(.* needed.*previous checkpoint.pt"
                       r" is kept.*resume") as err:  # fmt: skip
        fit(small_net(), make_data(), 2, out=tmp_path, **FAST)
    assert err.value.errno == errno.ENOSPC
    assert (tmp_path / "checkpoint.pt").read_bytes() == first["bytes"]
    assert load_checkpoint(tmp_path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# 6. Ctrl-C: one line, exit 130, how to continue


def test_ctrl_c_says_how_to_continue(tmp_path, run_main, monkeypatch):
    def interrupted_fit(*args, out, **kwargs):
        (Path(out) / "metrics.json").parent.mkdir(parents=True, exist_ok=True)
        (Path(out) / "metrics.json").write_text(json.dumps({"epochs": [{"epoch": 1}, {"epoch": 2}]}))
        raise KeyboardInterrupt

    monkeypatch.setattr("nets.__main__.fit", interrupted_fit, raising=False)
    monkeypatch.setattr("nets.train.fit", interrupted_fit)
    monkeypatch.setattr(nets.data, "load", lambda *a, **k: make_data())  # not seconds of stand-in images
    status, _, err = run_main(cli(tmp_path / "run"))
    assert status == 130
    assert "interrupted after epoch 2; continue with --resume" in one_line(err)


# 7. NETS_DATA is honoured by the CLI


def test_nets_data_is_honoured_by_the_cli(tmp_path, run_main, monkeypatch):
    monkeypatch.setenv("NETS_DATA", "imagenette")
    args = ["train", "--model", "resnet18", "--no-download", "--data-root", str(tmp_path / "empty"),
            "--epochs", "1", "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")]  # fmt: skip
    status, _, err = run_main(args)
    assert status == 2 and "cannot load the data" in one_line(err)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


# 8. Argument gaps: each refused with the argument named


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weight_decay": math.nan}, "weight_decay must be a number >= 0, got nan"),
        ({"warmup_epochs": math.nan}, "warmup_epochs must be a number >= 0, got nan"),
        ({"batch_size": 1}, "batch_size must be at least 2: BatchNorm"),
        ({"image_size": 4000}, "image_size must be at most 1024"),
        ({"resume": "yes"}, "resume must be True or False"),
    ],
)
def test_fit_names_the_bad_argument(kwargs, message):
    settings = {**FAST, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit(small_net(), make_data(), 1, **settings)


def test_build_refuses_truthy_strings_for_flags():
    with pytest.raises(ValueError, match="pretrained must be True or False, got 'no'"):
        nets.build("resnet18", pretrained="no")
    with pytest.raises(ValueError, match="aux_logits must be True or False, got 'yes'"):
        nets.build("googlenet", aux_logits="yes")


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), r"expects float images .* x.float\(\) / 255"),
        (
            torch.zeros(1, 3, 64, 64, dtype=torch.float64),
            r"weights are torch.float32, the input is torch.float64",
        ),
        (torch.zeros(1, 1, 64, 64), r"expects 3 colour channels .* x.expand\(-1, 3, -1, -1\)"),
        (torch.zeros(3, 64, 64), r"x.unsqueeze\(0\)"),
    ],
)
def test_inputs_a_model_cannot_take_are_named(x, message):
    model = nets.build("resnet18", 10)
    with pytest.raises(ValueError, match=message):
        model(x)


def test_count_macs_with_a_bare_side_says_what_input_size_is():
    with pytest.raises(ValueError, match=r"input_size is the whole input shape .* \(1, 3, 224, 224\)"):
        nets.count_macs(nets.build("resnet18"), 224)


def test_a_double_model_takes_double_input():
    model = nn.Sequential()  # a model converted with .double() still runs: the check follows its weights
    net = nets.build("resnet18", 10).double().eval()
    assert net(torch.zeros(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64
    del model


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 KB tmpfs (root only; skipped where it cannot be mounted)."""
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.slow  # mounts a tmpfs
def test_a_real_full_disk_while_saving_says_disk_full(small_disk):
    with pytest.raises(OSError, match=r"disk full while writing .*(checkpoint.pt|metrics.json) \(") as err:
        fit(small_net(), make_data(), 3, out=small_disk / "run", **FAST)
    assert err.value.errno == errno.ENOSPC
    run = small_disk / "run"  # a run folder made for a run that saved nothing is removed with its lock
    left = sorted(p.name for p in run.iterdir()) if run.exists() else []
    assert not [name for name in left if name.endswith(".tmp") or name == ".lock"], (
        left
    )  # nothing left behind
