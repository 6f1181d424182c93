"""What the VGG chapter measures: narrow VGGs (nets.models.vgg), receptive fields (nets.probes), layer
costs, scale jitter and the paper's table (nets.lab.vgg).

Sizes are checked on the meta device (no memory, no arithmetic); real forwards use narrow nets and
small inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import nets
from nets import probes
from nets.lab import vgg as lab
from nets.models import vgg as V


def on_meta(config: str = "D", **options) -> V.VGG:
    with torch.device("meta"):
        return V.vgg(config=config, **options)


# The paper's Table 1


def test_the_config_table_prints_the_papers_table_1():
    table = lab.config_table()
    assert table[0][4] == "D (16 weight layers)"
    assert len({len(row) for row in table}) == 1  # rectangular
    assert sum(row[4].startswith("conv3-") for row in table) == 13
    assert sum(row[0] == "maxpool" for row in table) == 5
    assert [row[1] for row in table if row[1] == "LRN"] == ["LRN"]
    assert table[-4:] == [[layer] * 6 for layer in ("FC-4096", "FC-4096", "FC-1000", "soft-max")]


# A narrow VGG for CPU previews


def test_a_narrow_vgg_scales_every_convolution_and_the_fc_layers():
    net = on_meta("A", batch_norm=True, num_classes=10, width=0.25, fc_width=512)
    convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]  # 64-128-256-256-512... x 1/4
    assert [net.classifier.fc6.in_features, net.classifier.fc6.out_features] == [128 * 7 * 7, 512]
    assert net.classifier.fc8.out_features == 10
    assert V.weight_layers("A") == 11 == len(convs) + 3  # same depth as the paper's column
    assert net.name == "vgg11_bn_w0.25_fc512"  # never mistaken for the real vgg11_bn


def test_the_default_width_is_the_papers_and_keeps_the_name():
    net = on_meta("D", width=1.0, fc_width=4096)
    assert net.name == "vgg16"
    assert nets.count_params(net) == 138_357_544


def test_a_narrow_vgg_trains_forward_and_backward_on_a_small_input():
    torch.manual_seed(0)
    net = V.vgg(10, config="D", batch_norm=True, width=0.125, fc_width=64)
    loss = nn.functional.cross_entropy(net(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss) and net.features.conv1_1.weight.grad.abs().sum() > 0


def test_bad_widths_are_explained():
    with pytest.raises(ValueError, match=r"width must be in \(0, 16\]"):
        on_meta("A", width=0)
    with pytest.raises(ValueError, match="fc_width must be a positive integer, got 0.5"):
        on_meta("A", fc_width=0.5)
    with pytest.raises(ValueError, match="fc_width must be a positive integer"):
        on_meta("A", fc_width=0)


@pytest.mark.slow  # a subprocess
def test_building_on_the_meta_device_skips_the_initialisation_and_is_fast():
    # Initialising meta tensors (normal_) imports torch._dynamo: seconds of a chapter's time budget.
    code = (
        "import sys, torch; from nets.models import vgg as V\n"
        "with torch.device('meta'):\n    V.vgg(config='E', batch_norm=True)\n"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_real_builds_are_still_initialised_like_torchvision():
    torch.manual_seed(0)
    net = V.vgg(10, config="A", width=0.25, fc_width=256)
    assert net.classifier.fc7.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert net.features.conv1_1.bias.abs().sum() == 0


# Receptive fields


def stack(n: int, channels: int = 2, activation: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n):
        layers.append(nn.Conv2d(channels, channels, 3, padding=1))
        if activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@pytest.mark.parametrize(("n", "field"), [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_convolutions_see_a_5x5_and_a_7x7_window(n, field):
    assert probes.receptive_field(stack(n)) == field
    assert probes.receptive_field(nn.Conv2d(2, 2, field, padding=field // 2)) == field


@pytest.mark.parametrize("n", [1, 2, 3])
def test_the_receptive_field_is_the_set_of_pixels_that_move_the_output(n):
    torch.manual_seed(0)
    layers = stack(n, activation=False)  # linear, so no ReLU can hide a pixel's influence
    x = torch.randn(1, 2, 15, 15, requires_grad=True)
    layers(x)[0, :, 7, 7].sum().backward()
    rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).sum().item()
    cols = (x.grad[0].abs().sum(dim=(0, 1)) > 0).sum().item()
    assert rows == cols == probes.receptive_field(layers)


def test_vgg16_pool5_sees_212_pixels_and_conv5_3_196():
    features = on_meta("D").features
    assert probes.receptive_field(features) == 212
    upto = list(features._modules).index("conv5_3") + 1
    assert probes.receptive_field(features[:upto]) == 196
    with pytest.raises(TypeError, match="expects an nn.Module"):
        probes.receptive_field([nn.Conv2d(1, 1, 3)])


# Where the parameters, the compute and the memory go


def test_layer_costs_add_up_to_the_models_params_and_macs():
    net = on_meta("D")
    costs = lab.layer_costs(net)
    assert list(costs.columns) == ["layer", "block", "kind", "output", "params", "macs", "activations"]
    assert costs["params"].sum() == nets.count_params(net) == 138_357_544
    assert costs["macs"].sum() == nets.count_macs(net, (1, 3, 224, 224))
    assert costs["layer"].iloc[0] == "features.conv1_1" and costs["output"].iloc[0] == (64, 224, 224)
    blocks = list(dict.fromkeys(costs["block"]))
    assert blocks == ["stage 1", "stage 2", "stage 3", "stage 4", "stage 5", "avgpool", "fc6", "fc7", "fc8"]
    fc = costs[costs["kind"] == "Linear"]["params"].sum()
    assert round(fc / 1e6) == 124  # the three FC layers hold ~124M of the 138M


def test_layer_costs_count_the_batch_and_restore_the_training_mode():
    net = on_meta("A", batch_norm=True).train()
    one, two = lab.layer_costs(net, (1, 3, 64, 64)), lab.layer_costs(net, (2, 3, 64, 64))
    assert net.training
    assert (two["macs"] == 2 * one["macs"]).all() and (two["activations"] == 2 * one["activations"]).all()
    assert "BatchNorm2d" in set(one["kind"])
    with pytest.raises(ValueError, match="four positive integers"):
        lab.layer_costs(net, (3, 64, 64))


def test_activation_memory_is_every_layer_output_in_float32():
    net = on_meta("D")
    conv1_1 = 64 * 224 * 224  # conv1_1 and relu1_1 each write this many values
    costs = lab.layer_costs(net)
    assert costs["activations"].iloc[:2].tolist() == [conv1_1, conv1_1]
    assert lab.activation_memory(net) == 4 * costs["activations"].sum()
    assert lab.activation_memory(net, bytes_per_value=2) == 2 * costs["activations"].sum()
    # BatchNorm writes one more tensor per convolution: more memory, almost no parameters
    assert lab.activation_memory(on_meta("D", batch_norm=True)) > 1.3 * lab.activation_memory(net)


# Scale jitter


def test_scale_jitter_rescales_the_shorter_side_to_s_and_crops_224():
    image = torch.rand(1, 3, 300, 450)
    crops = lab.scale_jitter(image, n=6, seed=1)
    assert len(crops) == 6
    for c in crops:
        assert 256 <= c.scale <= 512
        assert min(c.rescaled.shape[-2:]) == c.scale
        assert c.rescaled.shape[-1] / c.rescaled.shape[-2] == pytest.approx(1.5, rel=0.01)  # isotropic
        assert c.crop.shape == (1, 3, 224, 224)
        torch.testing.assert_close(c.crop, c.rescaled[..., c.top : c.top + 224, c.left : c.left + 224])
    assert len({c.scale for c in crops}) > 1
    again = lab.scale_jitter(image, n=6, seed=1)
    assert [(c.scale, c.top, c.left) for c in again] == [(c.scale, c.top, c.left) for c in crops]


def test_scale_jitter_checks_its_range():
    with pytest.raises(ValueError, match="crop <= S_min <= S_max"):
        lab.scale_jitter(torch.rand(1, 3, 64, 64), scale_range=(128, 512))
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        lab.scale_jitter(torch.rand(3, 64, 64))


# The paper's numbers come from the model cards


def test_paper_params_reads_the_papers_table_2_from_the_cards():
    for config, name in {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}.items():
        assert lab.paper_params(config) == nets.card(name).paper_params_text
    assert lab.paper_params("D") == "138 M"
    assert lab.paper_params("A-LRN") == lab.paper_params("A")  # Table 2 prints "A, A-LRN": LRN has no weights
    assert lab.paper_params("C") == "134 M"  # no registered model, so no card
    assert set(lab.TABLE2_WITHOUT_CARD) == {"C"}
    with pytest.raises(ValueError, match="config"):
        lab.paper_params("F")


def _chapter() -> tuple[str, str]:
    """The VGG chapter's code cells and markdown cells, each joined into one text."""
    cells = json.loads((Path(__file__).parent.parent / "book" / "vgg.ipynb").read_text())["cells"]
    text = {
        kind: "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
        for kind in ("code", "markdown")
    }
    return text["code"], text["markdown"]


def test_the_chapter_takes_the_papers_numbers_from_the_cards():
    d = nets.card("vgg16")
    assert "Table 3" in d.paper_source and d.paper_params_m == 138
    assert lab.paper_params("D") == f"{d.paper_params_m:g} M"  # Table 2 read from the card, not retyped


# BatchNorm or not: the verdict the two brief runs' numbers decide


def _history(train_loss: float, val_top1: float, *, train_size: int = 4320):
    from nets.train import History

    first = {"epoch": 1, "train_loss": 2.3, "train_acc": 0.1, "val_loss": 2.3, "val_top1": 0.1, "val_top5": 0.5,
             "images_per_s": 100.0, "seconds": 1.0}  # fmt: skip
    last = {**first, "epoch": 2, "train_loss": train_loss, "val_top1": val_top1}
    return History(epochs=[first, last], config={"train_size": train_size, "batch_size": 16})


def test_the_batchnorm_verdict_names_the_better_network_beyond_the_seed_spread():
    with_bn = [_history(0.6, 0.81), _history(0.7, 0.78), _history(0.6, 0.80)]
    without = [_history(2.3, 0.10), _history(2.2, 0.12), _history(2.3, 0.11)]
    verdict = lab.batchnorm_verdict({"with BatchNorm": with_bn, "without BatchNorm": without}, chance=0.1)
    assert verdict == (
        "After the same 540 optimiser steps per run (chance: 10% top-1): with BatchNorm ahead by 68.7 points in "
        "val top-1 (%), every seed beyond the other's (3 seeds; with BatchNorm: 81.0, 78.0, 80.0; without "
        "BatchNorm: 10.0, 12.0, 11.0). The network without BatchNorm stayed near chance in every seed."
    )
    # The same numbers the other way round: the verdict flips with them.
    flipped = lab.batchnorm_verdict({"with BatchNorm": without, "without BatchNorm": with_bn}, chance=0.1)
    assert "without BatchNorm ahead by 68.7 points" in flipped
    assert flipped.endswith("The network with BatchNorm stayed near chance in every seed.")


def test_an_effect_inside_the_seed_spread_is_no_clear_difference():
    # BatchNorm 2 points ahead on average, but the seeds of each arm spread over 10 points.
    with_bn = [_history(0.6, 0.60), _history(0.7, 0.70), _history(0.6, 0.65)]
    without = [_history(0.9, 0.58), _history(0.8, 0.68), _history(0.9, 0.63)]
    verdict = lab.batchnorm_verdict({"with BatchNorm": with_bn, "without BatchNorm": without}, chance=0.1)
    assert "no clear difference in val top-1 (%) between with BatchNorm and without BatchNorm" in verdict
    assert "near chance" not in verdict and "ahead" not in verdict


def test_the_batchnorm_verdict_counts_a_diverged_run_at_chance():
    verdict = lab.batchnorm_verdict(
        {
            "with BatchNorm": [_history(0.6, 0.8), _history(0.6, 0.75)],
            "without BatchNorm": [None, _history(2.3, 0.12)],
        },
        chance=0.1,
    )
    assert verdict.startswith(
        "After the same 540 optimiser steps per run (chance: 10% top-1; 1 without BatchNorm diverged, counted at "
        "chance): with BatchNorm ahead by"
    )
    assert "without BatchNorm: 10.0, 12.0" in verdict
    neither = lab.batchnorm_verdict(
        {"with BatchNorm": [None, None], "without BatchNorm": [None, None]}, chance=0.1
    )
    assert neither.startswith("After training per run")
    assert "no clear difference" in neither
    assert neither.endswith(
        "The network with BatchNorm and the one without BatchNorm stayed near chance in every seed."
    )


def test_the_batchnorm_verdict_rejects_unfair_or_malformed_runs():
    unfair = {
        "with BatchNorm": [_history(0.6, 0.8)] * 2,
        "without BatchNorm": [_history(0.6, 0.8, train_size=2000)] * 2,
    }
    with pytest.raises(ValueError, match=r"different numbers of optimiser steps \(\[250, 540\]\)"):
        lab.batchnorm_verdict(unfair, chance=0.1)
    with pytest.raises(ValueError, match="keys"):
        lab.batchnorm_verdict({"BN": [None, None]}, chance=0.1)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        lab.batchnorm_verdict(
            {"with BatchNorm": [_history(0.6, 0.8)], "without BatchNorm": [None]}, chance=0.1
        )
    with pytest.raises(ValueError, match="chance"):
        lab.batchnorm_verdict({"with BatchNorm": [None, None], "without BatchNorm": [None, None]}, chance=10)
