"""Fixtures the test files share: one intra-op thread, a private data cache, the CLI in-process, random
BatchNorm statistics for conversion tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from nets.__main__ import main


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """One intra-op thread for every test. The tensors here are small, and on a busy 2-core machine a
    second OpenMP thread mostly spins waiting for a core (test_alexnet.py + test_resnet.py: 69 s with
    two threads, 27 s with one, while other work ran); it says nothing about nets."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """Nothing outside tmp_path: the data cache and the data source come from the test."""
    monkeypatch.setenv("NETS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NETS_DATA", raising=False)


@pytest.fixture
def run_main(capsys) -> Callable[[list[str]], tuple[int, str, str]]:
    """``python -m nets ARGS`` in this process: the exit status, then what it printed to stdout and stderr."""

    def run(args: list[str]) -> tuple[int, str, str]:
        try:
            status = main(args)
        except SystemExit as e:
            status = e.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) * 1.5 + 0.5)
            elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
    return model


@pytest.fixture
def randomise() -> Callable[..., nn.Module]:
    """``randomise(model, seed=0)``: random BatchNorm affine terms and running statistics, and random
    conv/linear biases, so a conversion that drops or swaps one of them changes the logits. Returns the model."""
    return _randomise
