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


def test_the_papers_pattern_is_degradation_and_skips_that_fix_it():
    # Training errors (%), three seeds each: the deeper plain net worse, its residual twin better.
    v = degradation_verdict(
        plain={8: [20.0, 21.0, 22.0], 32: [30.0, 31.0, 29.0]},
        residual={8: [19.0, 20.0, 21.0], 32: [15.0, 16.0, 17.0]},
    )
    assert (v.shallow, v.deep) == (8, 32)
    assert (v.degraded, v.skips_helped) == (True, True)
    assert v.depth.winner == "plain8" and v.skips.winner == "resnet32"
    assert v.text.startswith("Verdict: in these brief runs (3 seeds per network)")
    assert "plain8 lower by 9.0 points in final training error (%), every seed beyond the other's" in v.text
    assert "So the deeper plain net trained worse: degradation, beyond the seed-to-seed spread." in v.text
    assert "resnet32 lower by 14.0 points" in v.text
    assert "the skips helped: the residual 32-layer net trained clearly better than its plain twin" in v.text
    assert "Fig." not in v.text  # brief runs on other data: the verdict names no figure of the paper


def test_the_verdict_flips_when_the_numbers_flip():
    v = degradation_verdict(plain={8: [30.0, 31.0], 32: [20.0, 21.0]}, residual={32: [25.0, 26.0]})
    assert (v.degraded, v.skips_helped) == (False, False)
    assert "the deeper plain net trained better: no degradation in these runs" in v.text
    assert (
        "the skips did not help here: the residual 32-layer net trained worse than its plain twin" in v.text
    )


def test_an_effect_inside_the_seed_spread_is_no_clear_difference_and_the_depth_order_does_not_matter():
    # Means 2 points apart, but each arm's seeds spread over 6: no verdict either way.
    v = degradation_verdict(
        plain={32: [20.0, 26.0, 23.0], 8: [18.0, 24.0, 21.0]}, residual={32: [17.0, 27.0, 22.0]}
    )
    assert (v.shallow, v.deep) == (8, 32)
    assert (v.degraded, v.skips_helped) == (None, None)
    assert not v.depth.clear and v.depth.spread == pytest.approx(6.0)
    assert "no clear degradation in these runs" in v.text
    assert "no clear effect of the skips in these runs" in v.text
    assert v.text.count("no clear difference in final training error (%)") == 2


def test_a_diverged_seed_never_got_there():
    v = degradation_verdict(
        plain={8: [20.0, 21.0], 32: [float("nan"), float("inf")]}, residual={32: [15.0, 16.0]}
    )
    assert v.degraded is True and v.skips_helped is True
    assert "did not get there in 2 of 2 seeds" in v.text and "nan" not in v.text
    losses = degradation_verdict(
        plain={8: [1.2, 1.3], 32: [1.9, 2.0]}, residual={32: [1.0, 1.1]}, what="loss", unit="nats"
    )
    assert "plain8 lower by 0.7 nats in loss" in losses.text


@pytest.mark.parametrize(
    ("plain", "residual", "error", "words"),
    [
        ({8: [1.0, 2.0], 32: [1.0, 2.0]}, {8: [1.0, 2.0], 20: [1.0, 2.0]}, ValueError, "the deeper one too"),
        ({8: [1.0, 2.0]}, {8: [1.0, 2.0]}, ValueError, "two depths"),
        ({8: [1.0], 20: [1.0], 32: [1.0]}, {32: [1.0]}, ValueError, "two depths"),
        ({8: [1.0, 2.0], 32: [1.0, "2"]}, {32: [1.0, 2.0]}, TypeError, "per seed"),
        ({8: [1.0, 2.0], 32: 1.5}, {32: [1.0, 2.0]}, TypeError, "one per seed"),
        ({8: [1.0], 32: [1.0]}, {32: [1.0]}, ValueError, "at least 2 seeds"),
    ],
)
def test_degradation_verdict_rejects_bad_input(plain, residual, error, words):
    with pytest.raises(error, match=words):
        degradation_verdict(plain, residual)


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
