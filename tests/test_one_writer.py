"""Nothing lost, second pass: one writer per run folder, checks before any work, SIGTERM like Ctrl-C,
files that follow the umask, and messages that say what a file is (issue "Nothing lost, second pass")."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nets.data
import nets.files
from nets.files import LOCK_NAME, FolderInUseError, folder_lock
from nets.train import fit

try:
    from test_nothing_lost import cli, one_line
    from test_train import FAST, make_data, small_net
except ImportError:  # run from the repository root as a package
    from tests.test_nothing_lost import cli, one_line
    from tests.test_train import FAST, make_data, small_net

pytestmark = pytest.mark.usefixtures("offline_cache")  # tests/conftest.py
ROOT = Path(__file__).resolve().parent.parent


def _no_data_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the bad argument was refused")

    monkeypatch.setattr(nets.data, "load", refuse)


# 1. One writer per run folder


def test_a_folder_held_by_a_live_process_is_refused_naming_it(tmp_path, run_main, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(f"{holder.pid} {socket.gethostname()}\n")
        with pytest.raises(
            FolderInUseError, match=rf"in use by process {holder.pid} on .*wait for it to end"
        ):
            fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
        _no_data_load(monkeypatch)
        for extra in ((), ("--resume",), ("--overwrite",)):
            status, _, err = run_main(cli(tmp_path, *extra))
            assert status == 2 and f"in use by process {holder.pid}" in one_line(err), extra
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # refused runs leave the holder's lock alone


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_notice(tmp_path, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / LOCK_NAME).write_text(f"{gone.pid} {socket.gethostname()}\n")
    fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
    assert f"process {gone.pid}, which held it, is gone" in capsys.readouterr().err
    assert not (tmp_path / LOCK_NAME).exists() and (tmp_path / "checkpoint.pt").exists()


def test_the_lock_is_released_after_a_failure_and_a_folder_made_for_nothing_is_removed(tmp_path):
    with pytest.raises(RuntimeError), folder_lock(tmp_path / "new"):
        raise RuntimeError("the run failed")
    assert not (tmp_path / "new").exists()
    with folder_lock(tmp_path) as notice, folder_lock(tmp_path):  # the same process may take it again
        assert notice is None and (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()


FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (.ci/run installs it)")
def test_two_real_processes_into_one_folder_one_trains_one_is_refused(tmp_path):
    run = ["train", "--model", "resnet18", "--data", "fashion-mnist", "--budget", "brief", "--epochs", "1",
           "--device", "cpu", "--quiet", "--out", str(tmp_path / "cc")]  # fmt: skip
    env = {**os.environ, "NETS_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "nets", *run], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    while not (tmp_path / "cc" / LOCK_NAME).exists() and first.poll() is None:
        time.sleep(0.05)
    for extra in ((), ("--overwrite",), ("--resume",)):
        second = subprocess.run([sys.executable, "-m", "nets", *run, *extra], cwd=ROOT, env=env,
                                capture_output=True, text=True)  # fmt: skip
        assert second.returncode == 2 and f"in use by process {first.pid}" in second.stderr, second.stderr
    _, err = first.communicate(timeout=900)
    assert first.returncode == 0, err
    assert json.loads((tmp_path / "cc" / "metrics.json").read_text())["config"]["epochs"] == 1
    assert not (tmp_path / "cc" / LOCK_NAME).exists()


# 2. Never overwrite a run silently


@pytest.mark.parametrize("quiet", [(), ("--quiet",)])
def test_resume_without_a_checkpoint_but_with_metrics_is_refused(tmp_path, run_main, monkeypatch, quiet):
    fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
    (tmp_path / "checkpoint.pt").unlink()
    metrics = (tmp_path / "metrics.json").read_bytes()
    with pytest.raises(ValueError, match="holds the metrics of a run .* no checkpoint.pt .* overwrite=True"):
        fit(small_net(), make_data(), 1, out=tmp_path, resume=True, **FAST)
    _no_data_load(monkeypatch)
    status, _, err = run_main([*cli(tmp_path, "--resume"), *quiet])
    assert status == 2 and "--overwrite" in one_line(err)
    assert (tmp_path / "metrics.json").read_bytes() == metrics


# 6. Checks before work


def _bad_out_cases(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "notes.txt").write_text("notes")
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    (tmp / "held" / "checkpoint.pt").mkdir(parents=True)
    return [
        (["--out", ""], "out must name a folder for the run, got ''"),
        (["--out", str(tmp / "notes.txt" / "sub")], "which is a file, not a folder"),
        (["--out", str(tmp / "dangling")], "is a link to"),
        (["--out", str(tmp / "held"), "--resume"], "checkpoint.pt is a folder, not a checkpoint"),
        (["--out", str(tmp / "r"), "--image-size", "1500"], "image_size must be at most 1024, got 1500"),
        (["--out", str(tmp / "r"), "--seed", "1180591620717411303424"], "seed must be an integer from 0 to"),
        (["--out", str(tmp / "r"), "--data-root", ""], "root (--data-root) must name a folder"),
        (["--out", str(tmp / "r"), "--data-root", str(tmp / "notes.txt")], "is a file, not a folder"),
    ]


def test_bad_paths_and_settings_are_one_line_exit_2_before_the_data_loads(tmp_path, run_main, monkeypatch):
    _no_data_load(monkeypatch)
    base = ["train", "--model", "resnet18", "--data", "standin", "--epochs", "1", "--quiet"]
    for extra, message in _bad_out_cases(tmp_path):
        status, _, err = run_main([*base, *extra])
        assert status == 2 and message in one_line(err), (extra, err)
    assert not (tmp_path / "r").exists()


def test_nets_data_dir_that_is_a_file_or_read_only_names_the_setting(tmp_path, run_main, monkeypatch):
    _no_data_load(monkeypatch)
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("NETS_DATA_DIR", str(tmp_path / "file"))
    status, _, err = run_main(cli(tmp_path / "r"))
    assert status == 2 and "NETS_DATA_DIR=" in one_line(err) and "is a file, not a folder" in err
    (tmp_path / "ro").mkdir()
    monkeypatch.setenv("NETS_DATA_DIR", str(tmp_path / "ro"))
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p) == str(tmp_path / "ro") else real_access(p, mode)
    )
    status, _, err = run_main(cli(tmp_path / "r"))
    assert status == 2 and "cannot write to NETS_DATA_DIR=" in one_line(err) and "read-only" in err


# 7. SIGTERM like Ctrl-C


def test_sigterm_says_how_to_continue_and_exits_143(tmp_path, run_main, monkeypatch):
    def terminated_fit(*args, out, **kwargs):
        (Path(out) / "metrics.json").write_text(json.dumps({"epochs": [{"epoch": 1}]}))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here, as it would mid-epoch
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr("nets.train.fit", terminated_fit)
    monkeypatch.setattr(nets.data, "load", lambda *a, **k: make_data())
    previous = signal.getsignal(signal.SIGTERM)
    status, _, err = run_main(cli(tmp_path / "run"))
    assert status == 143
    assert "stopped by SIGTERM after epoch 1; continue with --resume" in one_line(err)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert not (tmp_path / "run" / LOCK_NAME).exists()


# 4. Files follow the umask


def test_checkpoints_and_metrics_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
    finally:
        os.umask(old)
    for name in ("checkpoint.pt", "metrics.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


# 9. Accurate messages


def test_a_disk_full_on_the_first_checkpoint_does_not_claim_a_previous_one(tmp_path, monkeypatch):
    def full(path, data, *, if_full):
        raise nets.files.DiskSpaceError(f"disk full while writing {path}; {if_full}")

    monkeypatch.setattr("nets.train.checkpoints.atomic_write", full)
    with pytest.raises(OSError, match="nothing of this run is saved yet") as err:
        fit(small_net(), make_data(), 1, out=tmp_path, **FAST)
    assert "previous" not in str(err.value)
