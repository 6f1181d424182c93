"""What the Inception chapter computes: module costs with and without reductions, factorised filters, footprints."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import nets
from nets.lab import inception as lab
from nets.models import inception as I
from nets.probes import receptive_field
from nets.summary import count_macs, count_params


def test_module_inputs_follow_table_1():
    inputs = lab.googlenet_module_inputs()
    assert list(inputs) == list(I.GOOGLENET_TABLE)
    # Table 1: 28x28 for 3a/3b, 14x14 for 4a-4e, 7x7 for 5a/5b; each module reads the previous one's output
    assert inputs["inception3a"] == (192, 28)
    assert [g for _, g in inputs.values()] == [28, 28, 14, 14, 14, 14, 14, 7, 7]
    names = list(I.GOOGLENET_TABLE)
    for before, after in zip(names, names[1:], strict=False):
        assert inputs[after][0] == sum(I.GOOGLENET_TABLE[before][i] for i in (0, 2, 4, 5))
    assert lab.googlenet_module_inputs(15)["inception5b"] == (832, 1)


def test_module_inputs_reject_a_too_small_image():
    with pytest.raises(ValueError, match="15"):
        lab.googlenet_module_inputs(14)


def test_module_cost_equals_counting_a_real_module():
    for reduce in (True, False):
        block = I.InceptionModule(192, I.GOOGLENET_TABLE["inception3a"], reduce=reduce)
        cost = lab.module_cost("inception3a", reduce=reduce)
        assert sum(c.params for c in cost.values()) == count_params(block)
        assert sum(c.macs for c in cost.values()) == count_macs(block, (1, 192, 28, 28))
        assert list(cost) == ["branch1x1", "branch3x3", "branch5x5", "branch_pool"]


def test_reductions_make_inception_3a_cheaper_by_hand_arithmetic():
    reduced, naive = lab.module_cost("inception3a"), lab.module_cost("inception3a", reduce=False)
    # naive 5x5 branch: 192 -> 32 channels, 5x5, on 28x28 (conv without bias + BatchNorm's 2 x 32)
    assert naive["branch5x5"] == lab.BranchCost(192 * 32 * 25 + 64, 28 * 28 * 192 * 32 * 25)
    # reduced: 1x1 192 -> 16, then 5x5 16 -> 32
    assert reduced["branch5x5"].macs == 28 * 28 * (192 * 16 + 16 * 32 * 25)
    assert naive["branch_pool"] == lab.BranchCost(0, 0)  # max pooling has no weights and no multiplies
    assert sum(c.macs for c in naive.values()) > 2 * sum(c.macs for c in reduced.values())


def test_module_cost_scales_the_3x3_and_5x5_widths_and_knows_the_torchvision_kernel():
    wide = lab.module_cost("inception4a", factor=2.0)
    base = lab.module_cost("inception4a")
    assert wide["branch1x1"] == base["branch1x1"] and wide["branch_pool"] == base["branch_pool"]
    assert wide["branch3x3"].macs > base["branch3x3"].macs
    assert lab.scale_widths(I.GOOGLENET_TABLE["inception4a"], 2.0) == (192, 96, 416, 16, 96, 64)
    assert lab.scale_widths((1, 1, 1, 1, 1, 1), 0.01).ch3x3 == 1
    small = lab.module_cost("inception3a", kernel_5x5=3)
    assert small["branch5x5"].params < lab.module_cost("inception3a")["branch5x5"].params


def test_module_cost_rejects_unknown_modules_and_bad_factors():
    with pytest.raises(ValueError, match="inception3a"):
        lab.module_cost("inception6a")
    with pytest.raises(ValueError, match="factor"):
        lab.scale_widths(I.GOOGLENET_TABLE["inception3a"], 0)


@pytest.mark.parametrize("n", [3, 5, 7, 9])
def test_factorisation_params_follow_the_formulas(n):
    c = 64
    p = lab.factorisation_params(n, c)
    assert p == {
        f"{n} x {n}": n * n * c * c,
        f"1 x {n} + {n} x 1": 2 * n * c * c,
        "3 x 3 stack": 9 * c * c * (n - 1) // 2,
    }


def test_factorisation_params_savings_of_the_paper():
    # v3 paper: two 3x3 instead of a 5x5 is "a 28% relative gain"; 1x3 + 3x1 instead of 3x3 is 33% cheaper
    p5, p3 = lab.factorisation_params(5), lab.factorisation_params(3)
    assert 1 - p5["3 x 3 stack"] / p5["5 x 5"] == pytest.approx(0.28)
    assert 1 - p3["1 x 3 + 3 x 1"] / p3["3 x 3"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("bad", [2, 4, 1, 3.0, True])
def test_factorisation_params_rejects_even_or_odd_types(bad):
    with pytest.raises(ValueError, match="odd"):
        lab.factorisation_params(bad)


def _mask_side(mask: torch.Tensor) -> tuple[int, int]:
    rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_footprint_draws_the_receptive_field():
    two_3x3 = nn.Sequential(I.conv_bn(4, 4, 3), I.conv_bn(4, 4, 3))
    asym = nn.Sequential(I.conv_bn(4, 4, (1, 7)), I.conv_bn(4, 4, (7, 1)))
    one_1x7 = I.conv_bn(4, 4, (1, 7))
    assert _mask_side(lab.footprint(two_3x3)) == (5, 5)
    assert lab.footprint(two_3x3).sum() == 25  # the full square, not a cross
    assert _mask_side(lab.footprint(asym)) == (7, 7)
    assert _mask_side(lab.footprint(one_1x7)) == (1, 7)
    mask = lab.footprint(nn.Conv2d(3, 2, 5, padding=2), size=9)
    assert mask.shape == (9, 9) and mask.sum() == 25
    assert mask[2:7, 2:7].all()  # centred on the centre pixel


def _measured(layers: nn.Module, in_channels: int, size: int) -> torch.Tensor:
    """The pixels that reach the centre output, by experiment: all weights 1, gradient of the centre."""
    probe = copy.deepcopy(layers).eval()
    with torch.no_grad():
        for p in probe.parameters():
            p.fill_(1.0)
    x = torch.ones(1, in_channels, size, size, requires_grad=True)
    probe(x)[..., size // 2, size // 2].sum().backward()
    return x.grad[0].abs().sum(0) > 0


@pytest.mark.parametrize("n", [3, 5, 7])
def test_footprint_is_what_gradients_measure_for_the_chapters_layers(n):
    same = lambda k: nn.Conv2d(2, 2, k, padding="same", bias=False)  # noqa: E731
    for layers in (
        same(n),
        nn.Sequential(same((1, n)), same((n, 1))),
        nn.Sequential(*[same(3) for _ in range((n - 1) // 2)]),
    ):
        assert torch.equal(lab.footprint(layers, size=9), _measured(layers, 2, 9))
        assert _mask_side(lab.footprint(layers, size=9)) == receptive_field(layers, per_axis=True)


def test_footprint_leaves_the_layers_alone_and_rejects_a_grid_too_small():
    conv = nn.Conv2d(2, 2, 3, padding=1)
    before = conv.weight.detach().clone()
    lab.footprint(conv)
    assert torch.equal(conv.weight, before)
    with pytest.raises(ValueError, match="larger than the 5x5 grid"):
        lab.footprint(nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(3)]), size=5)  # 7x7
    with pytest.raises(ValueError, match="odd"):
        lab.footprint(conv, size=10)


# The chapter's text


def _chapter(kind: str) -> list[str]:
    """The sources of the chapter's cells of ``kind``, after the setup cell (synced from book/_setup_cell.py)."""
    cells = json.loads((Path(__file__).parent.parent / "book" / "inception.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells[1:] if c["cell_type"] == kind]


def test_the_chapters_paper_numbers_are_the_cards_and_name_their_tables():
    googlenet, v3 = nets.card("googlenet"), nets.card("inception_v3")
    # GoogLeNet: one model, one 224-pixel crop, Table 3 (Table 5 is detection)
    assert f"{100 - googlenet.paper_top5:.2f}%" == "10.07%"
    assert googlenet.paper_source.startswith("Table 3")
    # Inception-v3: single crop at 299 px is Table 3 (Table 4 is multi-crop); "less than 25 million"
    assert v3.paper_source.startswith("Table 3") and v3.paper_params_text == "< 25 M"


def test_the_chapters_code_lines_fit_the_cell():
    long = [line for cell in _chapter("code") for line in cell.splitlines() if len(line) > 90]
    assert long == []
