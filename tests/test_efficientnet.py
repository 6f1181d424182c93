"""EfficientNet B0-B7 and compound scaling: counts, sizes, equivalence with torchvision, the scaling rule."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torchvision
from torch import nn

import nets
from nets.models import efficientnet as E
from nets.registry import entry
from nets.summary import count_macs, count_params
from nets.weights import NotThisReference

NAMES = [f"efficientnet_b{i}" for i in range(8)]
SLOW_FROM = 5  # B5-B7 are 30M-66M parameters: their real (not meta-device) tests are in the slow tier

# /work/shared/reference/numbers.md (torchvision 0.29 metadata): exact params, GMACs at the eval crop.
REFERENCE = {
    "efficientnet_b0": (5_288_548, 0.386, 224),
    "efficientnet_b1": (7_794_184, 0.687, 240),
    "efficientnet_b2": (9_109_994, 1.088, 288),
    "efficientnet_b3": (12_233_232, 1.827, 300),
    "efficientnet_b4": (19_341_616, 4.394, 380),
    "efficientnet_b5": (30_389_784, 10.266, 456),
    "efficientnet_b6": (43_040_704, 19.068, 528),
    "efficientnet_b7": (66_347_960, 37.746, 600),
}

# numbers.md's scaling table: stem, head, stage "channels x layers".
TABLE = {
    "efficientnet_b0": (32, 1280, "16x1, 24x2, 40x2, 80x3, 112x3, 192x4, 320x1"),
    "efficientnet_b1": (32, 1280, "16x2, 24x3, 40x3, 80x4, 112x4, 192x5, 320x2"),
    "efficientnet_b2": (32, 1408, "16x2, 24x3, 48x3, 88x4, 120x4, 208x5, 352x2"),
    "efficientnet_b3": (40, 1536, "24x2, 32x3, 48x3, 96x5, 136x5, 232x6, 384x2"),
    "efficientnet_b4": (48, 1792, "24x2, 32x4, 56x4, 112x6, 160x6, 272x8, 448x2"),
    "efficientnet_b5": (48, 2048, "24x3, 40x5, 64x5, 128x7, 176x7, 304x9, 512x3"),
    "efficientnet_b6": (56, 2304, "32x3, 40x6, 72x6, 144x8, 200x8, 344x11, 576x3"),
    "efficientnet_b7": (64, 2560, "32x4, 48x7, 80x7, 160x10, 224x10, 384x13, 640x4"),
}


def _by_size(names: list[str], slow_from: int = SLOW_FROM) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if int(n[-1]) >= slow_from else n for n in names]


@functools.cache  # read-only: one build per name for the counting and table tests
def _meta(name: str, **options) -> nn.Module:
    """The architecture without memory or initialisation cost: enough for counting parameters and MACs."""
    with torch.device("meta"):
        return nets.build(name, **options)


# ---------------------------------------------------------------- counts and the scaling table


@pytest.mark.parametrize("name", NAMES)
def test_exact_parameter_count(name: str) -> None:
    assert count_params(_meta(name)) == REFERENCE[name][0]


@pytest.mark.parametrize("name", NAMES)
def test_macs_agree_with_torchvision_gflops_column(name: str) -> None:
    _, gmacs, crop = REFERENCE[name]
    macs = count_macs(_meta(name), (1, 3, crop, crop))
    assert macs / 1e9 == pytest.approx(gmacs, rel=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_scaled_stages_match_the_published_table(name: str) -> None:
    stem, head, stages = TABLE[name]
    model = _meta(name)
    found = ", ".join(
        f"{s.channels}x{s.layers}" for s in E.scaled_stages(E.VARIANTS[name].width, E.VARIANTS[name].depth)
    )
    assert found == stages
    assert [len(stage) for stage in model.stages] == [int(s.split("x")[1]) for s in stages.split(", ")]
    assert model.stem.conv.out_channels == stem
    assert model.head.conv.out_channels == head


@pytest.mark.parametrize("name", NAMES)
def test_settings_match_torchvision(name: str) -> None:
    """BatchNorm eps/momentum (B5-B7 differ), dropout and per-block stochastic depth as torchvision's."""
    ours = _meta(name)
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)()
    our_bns = [m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)]
    their_bns = [m for m in theirs.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(our_bns) == len(their_bns)
    assert {(m.eps, m.momentum) for m in our_bns} == {(m.eps, m.momentum) for m in their_bns}
    expected_bn = (1e-3, 0.01) if int(name[-1]) >= 5 else (1e-5, 0.1)
    assert (our_bns[0].eps, our_bns[0].momentum) == expected_bn
    assert ours.classifier.dropout.p == theirs.classifier[0].p
    our_blocks = [b for stage in ours.stages for b in stage]
    their_blocks = [b for stage in list(theirs.features)[1:-1] for b in stage]
    for ob, tb in zip(our_blocks, their_blocks, strict=True):
        assert ob.use_residual == tb.use_res_connect
        if ob.use_residual:
            assert ob.stochastic_depth.p == pytest.approx(tb.stochastic_depth.p, abs=1e-12)


def test_stochastic_depth_grows_linearly_to_0_2() -> None:
    model = _meta("efficientnet_b0")
    blocks = [b for stage in model.stages for b in stage]
    n = len(blocks)
    assert n == 16
    for i, block in enumerate(blocks):
        if block.use_residual:
            assert block.stochastic_depth.p == pytest.approx(0.2 * i / n)
    assert blocks[-2].stochastic_depth.p == pytest.approx(0.2 * 14 / 16)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize("name", _by_size(NAMES, slow_from=3))
def test_forward_at_default_size(name: str) -> None:
    model = nets.build(name).eval()
    size = entry(name).default_size
    assert size == E.VARIANTS[name].resolution == model.default_size
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", _by_size(NAMES))
def test_min_size_works_and_one_less_raises(name: str) -> None:
    model = nets.build(name).eval()
    min_size = entry(name).min_size
    assert min_size == model.min_size == 1
    with torch.no_grad():
        assert model(torch.randn(2, 3, min_size, min_size)).shape == (2, 1000)
        # Non-square works too: only each side's minimum matters.
        assert model(torch.randn(1, 3, min_size, 37)).shape == (1, 1000)
    with pytest.raises(ValueError, match=f"at least {min_size}x{min_size}"):
        model(torch.randn(1, 3, min_size - 1, min_size - 1))
    with pytest.raises(ValueError, match="batch"):
        model(torch.randn(3, 32, 32))


def test_num_classes() -> None:
    model = nets.build("efficientnet_b0", num_classes=10).eval()
    assert model.classifier.fc.out_features == 10
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="num_classes"):
        E.efficientnet(num_classes=0)


def test_channels_last_gives_the_same_output(randomise) -> None:
    model = randomise(nets.build("efficientnet_b0"), seed=1).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        got = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_trains_one_step() -> None:
    """Train mode (dropout, stochastic depth, batch statistics) runs and gives gradients to every parameter."""
    model = nets.build("efficientnet_b0", num_classes=5).train()
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 3]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (5, 1), (3, 2), (5, 2)])
def test_depthwise_shortcut_on_a_1x1_map_gives_the_convolutions_numbers(kernel: int, stride: int) -> None:
    """Training on a 1x1 map, the depthwise convolution multiplies by its centre tap: same output and gradients."""
    from nets.layers import DepthwiseConv2d

    torch.manual_seed(0)
    fast = DepthwiseConv2d(12, 12, kernel, stride, kernel // 2, groups=12, bias=False).train()
    conv = nn.Conv2d(12, 12, kernel, stride, kernel // 2, groups=12, bias=False)
    conv.load_state_dict(fast.state_dict())
    x = torch.randn(4, 12, 1, 1)
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    outs = [fast(xs[0]), conv(xs[1])]
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)  # the other taps add exact zeros
    g = torch.randn_like(outs[0])
    for out in outs:
        out.backward(g)
    torch.testing.assert_close(xs[0].grad, xs[1].grad)
    torch.testing.assert_close(fast.weight.grad, conv.weight.grad)
    assert repr(fast) == repr(conv)  # it prints as the nn.Conv2d it is


def test_depthwise_convolutions_are_depthwise_conv2d_and_evaluation_convolves(monkeypatch) -> None:
    from nets.layers import DepthwiseConv2d

    model = nets.build("efficientnet_b0", num_classes=10)
    depthwise = [m for m in model.modules() if isinstance(m, DepthwiseConv2d)]
    assert len(depthwise) == 16 and all(isinstance(m, nn.Conv2d) for m in depthwise)  # one per MBConv
    assert all(m.groups == m.in_channels for m in depthwise)
    assert not any(isinstance(m, DepthwiseConv2d) for m in nets.build("resnet18").modules())
    # at 32 px the last stages run on 1x1 maps: training takes the shortcut, evaluation the convolution
    calls = []
    real = nn.Conv2d._conv_forward
    monkeypatch.setattr(nn.Conv2d, "_conv_forward", lambda self, *a: calls.append(self) or real(self, *a))
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        model(x)
    evaluated = len([m for m in calls if isinstance(m, DepthwiseConv2d)])
    calls.clear()
    model.train()(x)
    trained = len([m for m in calls if isinstance(m, DepthwiseConv2d)])
    assert evaluated == 16 and 0 < trained < 16
    # counting runs in evaluation mode: every tap of the 1x1 maps counted, as the arithmetic does
    from nets.lab.efficientnet import cost

    assert count_macs(model, (1, 3, 32, 32)) == cost(1.0, 1.0, 32, num_classes=10).total_macs


def test_residual_is_added_where_shapes_match() -> None:
    """With its projection zeroed, a residual block passes its input through; a downsampling block does not."""
    model = nets.build("efficientnet_b0").eval()
    keep, down = model.stages.stage2.block2, model.stages.stage2.block1
    assert keep.use_residual and not down.use_residual
    for block in (keep, down):
        nn.init.zeros_(block.project.bn.weight)
        nn.init.zeros_(block.project.bn.bias)
    x = torch.randn(1, 24, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(keep(x), x)
        assert down(torch.randn(1, 16, 8, 8)).abs().max() == 0


# ---------------------------------------------------------------- equivalence with torchvision


def test_from_torchvision_keeps_flags_and_num_classes(randomise) -> None:
    torch.manual_seed(0)
    theirs = randomise(
        torchvision.models.efficientnet_b1(num_classes=7, dropout=0.35, stochastic_depth_prob=0.1), seed=1
    )
    ours = E.from_torchvision(theirs)
    assert ours.training  # follows the torchvision model's mode
    assert ours.classifier.fc.out_features == 7
    assert ours.classifier.dropout.p == 0.35
    last = [b for stage in ours.stages for b in stage][-1]
    assert last.stochastic_depth.p == pytest.approx(0.1 * 22 / 23)
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=0, atol=1e-5)


def test_zoo_dispatches_a_torchvision_efficientnet_here(randomise) -> None:
    torch.manual_seed(0)
    theirs = randomise(torchvision.models.efficientnet_b0(num_classes=5), seed=1).eval()
    ours = nets.zoo.from_torchvision(theirs)
    assert isinstance(ours, E.EfficientNet) and ours.name == "efficientnet_b0"
    assert not ours.training
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-5)


def test_from_torchvision_refuses_what_it_cannot_convert() -> None:
    with pytest.raises(NotThisReference, match="torchvision EfficientNet"):
        E.from_torchvision(nn.Linear(2, 2))
    with torch.device("meta"):
        resnet = torchvision.models.resnet18()
    with pytest.raises(NotThisReference, match="torchvision EfficientNet"):
        E.from_torchvision(resnet)
    with torch.device("meta"):
        v2 = torchvision.models.efficientnet_v2_s()
        custom = torchvision.models.efficientnet.EfficientNet(
            torchvision.models.efficientnet._efficientnet_conf(
                "efficientnet_b0", width_mult=0.5, depth_mult=1.0
            )[0],
            dropout=0.2,
        )
    with pytest.raises(ValueError, match="EfficientNetV2"):
        E.from_torchvision(v2)
    with pytest.raises(ValueError, match="match none of"):
        E.from_torchvision(custom)


# ---------------------------------------------------------------- compound scaling


def test_compound_scaling_at_phi_1_is_alpha_beta_gamma() -> None:
    s = E.compound_scaling(1)
    assert (s.depth, s.width) == (E.ALPHA, E.BETA) == (1.2, 1.1)
    assert s.resolution == round(224 * E.GAMMA) == 258
    assert E.compound_scaling(0) == E.Scaling(depth=1.0, width=1.0, resolution=224)
    assert E.compound_scaling(2).depth == pytest.approx(1.44)


def test_flops_constraint_alpha_beta2_gamma2_is_about_2() -> None:
    assert abs(E.ALPHA * E.BETA**2 * E.GAMMA**2 - 2.0) <= 0.1


def test_flops_roughly_double_per_unit_of_phi() -> None:
    macs = []
    for phi in range(5):
        s = E.compound_scaling(phi)
        with torch.device("meta"):
            model = E.efficientnet_phi(phi=phi)
        assert model.default_size == s.resolution
        macs.append(count_macs(model, (1, 3, s.resolution, s.resolution)))
    ratios = [b / a for a, b in zip(macs, macs[1:], strict=False)]
    # phi 0 -> 1 is 2.57x: ceil(1 * 1.2) = 2 doubles B0's one-block stages. From there on each step is ~1.8-1.9x.
    assert all(1.6 <= r <= 2.5 for r in ratios[1:]), ratios
    assert 1.6 <= (macs[-1] / macs[0]) ** (1 / 4) <= 2.5


def test_builder_with_b0_coefficients_is_b0() -> None:
    built = E.efficientnet(width_mult=1.0, depth_mult=1.0)
    b0 = E.efficientnet_b0()
    assert count_params(built) == count_params(b0) == REFERENCE["efficientnet_b0"][0]
    assert list(built.state_dict()) == list(b0.state_dict())
    assert count_params(E.efficientnet_phi(phi=0)) == count_params(b0)
    with torch.device("meta"):
        b2 = E.efficientnet(width_mult=1.1, depth_mult=1.2, dropout=0.3)
    assert count_params(b2) == REFERENCE["efficientnet_b2"][0]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1.2", True, None])
@pytest.mark.parametrize("which", ["width_mult", "depth_mult"])
def test_bad_multipliers_raise_a_clear_error(which: str, bad: object) -> None:
    with pytest.raises(ValueError, match=which):
        E.efficientnet(**{which: bad})


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), "1", None])
def test_bad_phi_raises(bad: object) -> None:
    with pytest.raises(ValueError, match="phi"):
        E.compound_scaling(bad)


@pytest.mark.parametrize(
    ("which", "bad"), [("dropout", 1.0), ("dropout", -0.1), ("stochastic_depth", math.nan)]
)
def test_bad_probabilities_raise(which: str, bad: float) -> None:
    with pytest.raises(ValueError, match=which):
        nets.build("efficientnet_b0", **{which: bad})


def test_registry_lists_the_family_in_order() -> None:
    assert nets.list_models(family="efficientnet") == NAMES
    assert nets.build("efficientnet_b2", dropout=0.1).classifier.dropout.p == 0.1


# ---------------------------------------------------------------- one calling convention


@pytest.mark.parametrize(
    "build",
    [E.EfficientNet, E.efficientnet, E.efficientnet_b0, E.efficientnet_b7, E.efficientnet_phi],
    ids=lambda f: f.__name__,
)
def test_num_classes_first_and_every_other_option_keyword_only(build) -> None:
    """``f(10, 1.2)`` must not silently read 1.2 as a width, a dropout or a phi: it is a TypeError."""
    with pytest.raises(TypeError):
        build(10, 1.2)
    with torch.device("meta"):
        model = build(10, phi=1) if build is E.efficientnet_phi else build(10)
    assert model.classifier.fc.out_features == 10


def test_efficientnet_phi_needs_phi() -> None:
    with pytest.raises(TypeError, match="phi"):
        E.efficientnet_phi(10)


def test_one_min_size_for_the_registry_and_the_model() -> None:
    for name in NAMES:
        assert entry(name).min_size == E.MIN_SIZE
        assert entry(name).display == f"EfficientNet-B{name[-1]}"
    assert E.EfficientNet().min_size == E.MIN_SIZE
