"""What the ResNet chapter computes: the degradation verdict, the per-layer gradient norms at initialisation,
and the chapter's claims."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nets
from nets.lab.resnet import conv_gradient_norms, degradation_verdict
from nets.models.resnet import resnet

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "book" / "resnet.ipynb"


def _small(residual: bool = True, blocks: int = 2) -> nn.Module:
    """A CIFAR-style ResNet (or plain twin) small enough for a unit test: 6 * blocks + 2 layers."""
    torch.manual_seed(0)
    return resnet(10, block="basic", layers=[blocks] * 3, widths=(8, 16, 32), stem="cifar", residual=residual)


# --- degradation_verdict ---------------------------------------------------------------------------------


def test_the_papers_pattern_gives_all_three_orderings():
    v = degradation_verdict(plain={8: 1.83, 32: 1.98}, residual={8: 1.85, 32: 1.69})
    assert (v.shallow, v.deep) == (8, 32)
    assert (v.degraded, v.skips_helped, v.deeper_resnet_better) == (True, True, True)
    assert v.as_in_paper == 3
    assert v.text.startswith("Verdict: ")
    assert "plain 32-layer net ended at 1.980" in v.text and "plain 8-layer one ended at 1.830" in v.text
    assert "the deeper plain net trained worse by 0.150, the degradation of the paper's Fig. 4" in v.text
    assert "the skips helped by 0.290" in v.text
    assert "the deeper ResNet trained better by 0.160, as in the paper" in v.text
    assert "3 of the paper's 3 orderings appeared." in v.text


def test_the_verdict_flips_when_the_numbers_flip():
    v = degradation_verdict(plain={8: 1.98, 32: 1.70}, residual={8: 1.60, 32: 1.90})
    assert (v.degraded, v.skips_helped, v.deeper_resnet_better) == (False, False, False)
    assert v.as_in_paper == 0
    assert "the deeper plain net trained better by 0.280: no degradation at this budget" in v.text
    assert "the skips did not help at this budget (the residual net ended higher by 0.200)" in v.text
    assert "the deeper ResNet trained worse by 0.300, unlike the paper" in v.text
    assert "degradation of the paper" not in v.text and "skips helped" not in v.text


def test_gaps_within_the_tolerance_are_ties_and_the_depth_order_does_not_matter():
    v = degradation_verdict(plain={32: 1.84, 8: 1.80}, residual={32: 1.82, 8: 1.81})
    assert (v.shallow, v.deep) == (8, 32)
    assert (v.degraded, v.skips_helped, v.deeper_resnet_better) == (None, None, None)
    assert v.text.count("too close to call with one seed") == 3
    assert "no clear degradation at this budget" in v.text
    assert "0 of the paper's 3 orderings appeared (a tie counts as not appearing)." in v.text
    strict = degradation_verdict(plain={32: 1.84, 8: 1.80}, residual={32: 1.82, 8: 1.81}, tolerance=0.0)
    assert (strict.degraded, strict.skips_helped, strict.deeper_resnet_better) == (True, True, False)


def test_a_diverged_run_counts_as_the_highest_loss():
    v = degradation_verdict(plain={8: 1.8, 32: float("nan")}, residual={8: 1.9, 32: 1.7})
    assert v.degraded is True and v.skips_helped is True
    assert "the plain 32-layer net diverged" in v.text and "nan" not in v.text
    both = degradation_verdict(plain={8: 1.8, 32: float("inf")}, residual={8: 1.9, 32: float("nan")})
    assert both.skips_helped is None and "both diverged" in both.text


@pytest.mark.parametrize(
    ("plain", "residual", "tolerance", "error", "words"),
    [
        ({8: 1.0, 32: 1.0}, {8: 1.0, 20: 1.0}, 0.05, ValueError, "same two depths"),
        ({8: 1.0}, {8: 1.0}, 0.05, ValueError, "same two depths"),
        ({8: 1.0, 20: 1.0, 32: 1.0}, {8: 1.0, 20: 1.0, 32: 1.0}, 0.05, ValueError, "same two depths"),
        ({8: 1.0, 32: "1.2"}, {8: 1.0, 32: 1.0}, 0.05, TypeError, "training loss"),
        ({8: 1.0, 32: 1.0}, {8: 1.0, 32: 1.0}, -0.1, ValueError, "tolerance"),
    ],
)
def test_degradation_verdict_rejects_bad_input(plain, residual, tolerance, error, words):
    with pytest.raises(error, match=words):
        degradation_verdict(plain, residual, tolerance=tolerance)


# --- conv_gradient_norms --------------------------------------------------------------------------------


def test_one_norm_per_main_path_conv_in_forward_order():
    torch.manual_seed(0)
    norms = conv_gradient_norms(nets.build("resnet18"))
    names = list(norms)
    assert len(names) == 17  # the stem conv + 2 convs in each of 8 blocks (ResNet-18 minus its fc layer)
    assert names[0] == "stem.conv7x7.conv"
    assert names[1:3] == ["stages.conv2_x.0.conv1.conv", "stages.conv2_x.0.conv2.conv"]
    assert names[-1] == "stages.conv5_x.1.conv2.conv"
    assert not any("shortcut" in n for n in names)
    assert all(v > 0 for v in norms.values())


def test_projection_shortcuts_are_listed_only_when_asked_for_after_their_block_convs():
    torch.manual_seed(0)
    model = nets.build("resnet18")
    names = list(conv_gradient_norms(model, shortcuts=True))
    shortcuts = [n for n in names if "shortcut" in n]
    # option B: a projection only where the shape changes, in the first block of conv3_x .. conv5_x
    assert shortcuts == [f"stages.conv{i}_x.0.shortcut.conv" for i in (3, 4, 5)]
    # forward order: the block's two convs run before its shortcut is added
    index = names.index("stages.conv3_x.0.shortcut.conv")
    assert names[index - 2 : index] == ["stages.conv3_x.0.conv1.conv", "stages.conv3_x.0.conv2.conv"]


def test_plain_and_residual_twins_list_the_same_layers():
    assert list(conv_gradient_norms(_small(True))) == list(conv_gradient_norms(_small(False)))


def test_the_norms_are_those_of_one_backward_pass_of_the_mean_cross_entropy():
    model = _small()
    norms = conv_gradient_norms(model, (4, 3, 16, 16), seed=3)
    generator = torch.Generator().manual_seed(3)  # the documented recipe: pixels, then labels
    x = torch.randn((4, 3, 16, 16), generator=generator)
    y = torch.randint(0, 10, (4,), generator=generator)
    model.train()
    F.cross_entropy(model(x), y).backward()
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and "shortcut" not in name:
            assert norms[name] == pytest.approx(module.weight.grad.norm().item(), rel=1e-5)


def test_the_same_seed_gives_the_same_norms_and_another_seed_others():
    model = _small()
    first = conv_gradient_norms(model, (4, 3, 16, 16), seed=0)
    assert conv_gradient_norms(model, (4, 3, 16, 16), seed=0) == first
    assert conv_gradient_norms(model, (4, 3, 16, 16), seed=1) != first


def test_the_model_is_left_as_it_was():
    model = _small().eval()
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)  # gradients accumulated by the user before the call
    before = {k: v.clone() for k, v in model.state_dict().items()}  # weights and BatchNorm statistics
    conv_gradient_norms(model, (4, 3, 16, 16))
    assert not model.training
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed"
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters())


def test_without_skips_the_gradient_at_the_stem_grows_far_more_with_depth():
    """What the chapter's widget shows: in BatchNorm plain nets the gradient grows toward the input."""
    ratios = {}
    for residual in (True, False):
        torch.manual_seed(0)
        norms = list(conv_gradient_norms(nets.build("resnet34", residual=residual)).values())
        ratios[residual] = norms[0] / norms[-1]
    assert ratios[False] > 5 * ratios[True] > 5  # nothing vanishes, and the plain net's growth is the larger


@pytest.mark.parametrize(
    ("model", "size", "error", "words"),
    [
        ("not a model", (4, 3, 16, 16), TypeError, "nn.Module"),
        (None, (4, 3, 16), ValueError, "four positive integers"),
        (None, (4, 3, 16.0, 16), ValueError, "four positive integers"),
        (None, (1, 3, 16, 16), ValueError, "batch of at least 2"),
        (nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10)), (4, 3, 16, 16), ValueError, "no nn.Conv2d"),
    ],
)
def test_bad_arguments_get_a_useful_message(model, size, error, words):
    with pytest.raises(error, match=words):
        conv_gradient_norms(_small() if model is None else model, size)


# --- the chapter ----------------------------------------------------------------------------------------


def _chapter_text() -> str:
    nb = nbformat.read(CHAPTER, as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def test_the_chapter_cites_only_papers_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{(\w+),", (ROOT / "book" / "references.bib").read_text()))
    groups = re.findall(r"\{(?:foot)?cite(?::[a-z]+)?\}`([^`]+)`", _chapter_text())
    cited = {key.strip() for group in groups for key in group.split(",")}
    assert cited and cited <= keys, f"not in references.bib: {sorted(cited - keys)}"


def test_the_chapter_opens_with_its_title_and_ends_with_its_references():
    nb = nbformat.read(CHAPTER, as_version=4)
    assert nb.cells[1].source.startswith("# ResNet (2015)")
    assert "## References" in nb.cells[-1].source and "{footbibliography}" in nb.cells[-1].source


def test_plain_nets_have_the_parameters_of_option_a_not_of_the_projection_resnet():
    """The chapter's wording: plain == option A (identity shortcuts), < the default projection ResNet."""
    with torch.device("meta"):
        plain = nets.count_params(nets.build("resnet34", residual=False))
        option_a = nets.count_params(nets.build("resnet34", shortcut="identity"))
        option_b = nets.count_params(nets.build("resnet34"))
    assert plain == option_a < option_b


def test_the_chapters_paper_numbers_are_the_cards():
    """nets' resnet34 is option B: its paper numbers are Table 3's B row, printed from the card, while
    the prose's 25.03% is Table 2's option-A ResNet-34 and 27.88% Table 2's ResNet-18."""
    r34, r18 = nets.card("resnet34"), nets.card("resnet18")
    assert (round(100 - r34.paper_top1, 2), round(100 - r34.paper_top5, 2)) == (24.52, 7.46)
    assert "A 25.03/7.76" in r34.paper_eval
    assert f"{100 - r18.paper_top1:.2f}" == "27.88" and "Table 2" in r18.paper_source


def test_the_chapters_code_lines_fit_the_cell():
    nb = nbformat.read(CHAPTER, as_version=4)
    code = "\n".join(c.source for c in nb.cells[1:] if c.cell_type == "code")
    assert [line for line in code.splitlines() if len(line) > 90] == []
