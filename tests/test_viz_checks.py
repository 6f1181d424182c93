"""nets.viz and nets.widgets check their arguments like the models do: one line naming the argument
(issue "Nothing lost, second pass", item 8)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from nets import viz, widgets

TINY = nn.Sequential(
    nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 30 * 30, 10)
)  # for 32 px only


def _figure():
    with viz.style.new_figure(2, 2) as fig:
        fig.add_subplot().plot([0, 1], [0, 1])
    return fig


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: viz.feature_maps(TINY, torch.zeros(1, 3, 64, 64)), ValueError,
         r"Sequential cannot take this 64x64 image \(mat1 and mat2.*sample_photo\(224\)"),
        (lambda: viz.feature_maps(TINY, torch.zeros(1, 3, 32, 32), layers=[]), ValueError,
         "layers must name at least one layer"),
        (lambda: viz.feature_maps(TINY, torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), ValueError,
         r"image must be a float tensor .* got torch.uint8; convert with x.float\(\) / 255"),
        (lambda: viz.architecture_diagram(TINY, input_size=224), ValueError,
         r"input_size is the whole input shape \(batch, channels, height, width\)"),
        (lambda: viz.encode_figure(None), TypeError, "fig must be a matplotlib Figure"),
        (lambda: viz.encode_figure(_figure(), dpi=1e5), ValueError, r"dpi must be in \[1, 600\], got 100000.0"),
        (lambda: viz.encode_figure(_figure(), dpi=float("nan")), ValueError, "dpi must be a finite number"),
        (lambda: widgets.explore(lambda k: str(k), live=False, dpi=float("nan"), k=[1]), ValueError,
         "dpi must be a finite number"),
    ],
    ids=["linear-too-small", "no-layers", "uint8", "bare-side", "no-figure", "huge-dpi", "nan-dpi", "widget-dpi"],
)  # fmt: skip
def test_bad_arguments_are_named_in_one_line(call, error, message):
    with pytest.raises(error, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_a_broken_metrics_file_is_named(tmp_path):
    (tmp_path / "metrics.json").write_text('{"epochs": [')
    with pytest.raises(ValueError, match=r"metrics.json is not a metrics file: it is not valid JSON"):
        viz.training_curves(tmp_path)
