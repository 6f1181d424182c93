"""The Inception family: exact counts, input sizes, aux heads, equal logits with torchvision and timm, MACs."""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from torch import nn

import nets
from nets.models.inception import (
    GOOGLENET_TABLE,
    INCEPTION_RESNET_V2_BLOCKS,
    GoogLeNet,
    GoogLeNetOutputs,
    InceptionModule,
    InceptionResNetBlockA,
    InceptionResNetV2,
    InceptionV3,
    InceptionV3Outputs,
    InceptionV4,
    from_timm,
    from_torchvision,
    googlenet,
    inception_resnet_v2,
    inception_v3,
    inception_v4,
)
from nets.registry import entry
from nets.weights import NotThisReference

NAMES = ["googlenet", "inception_v3", "inception_v4", "inception_resnet_v2"]

# numbers.md: torchvision 0.29 / timm 1.0 exact counts, and the paper-faithful GoogLeNet by layer arithmetic
COUNTS = [
    ("googlenet", {}, 6_624_904),
    ("googlenet", {"aux_logits": True}, 13_004_888),
    ("googlenet", {"paper_5x5": True}, 7_005_832),
    ("inception_v3", {}, 23_834_568),
    ("inception_v3", {"aux_logits": True}, 27_161_264),
    ("inception_v4", {}, 42_679_816),
    ("inception_resnet_v2", {}, 55_843_464),
]


@functools.cache
def built(name: str) -> nn.Module:
    """One default instance per model for the read-only tests (each test sets train/eval itself)."""
    return nets.build(name)


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


# --- the zoo contract -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options", "expected"), COUNTS)
def test_exact_parameter_count(name, options, expected):
    assert nets.count_params(nets.build(name, **options)) == expected


def test_the_family_is_registered_with_its_sizes():
    assert nets.list_models(family="inception") == NAMES
    assert [entry(n).default_size for n in NAMES] == [224, 299, 299, 299]
    for name in NAMES:
        assert entry(name).min_size == built(name).min_size
        assert built(name).name == name


@pytest.mark.parametrize("name", NAMES)
def test_min_size_works_and_one_pixel_less_is_a_clear_error(name):
    model = built(name).eval()
    size = model.min_size
    with torch.no_grad():
        assert model(torch.randn(1, 3, size, size)).shape == (1, 1000)
        with pytest.raises(ValueError, match=f"at least {size}x{size}"):
            model(torch.randn(1, 3, size - 1, size))


def test_googlenet_output_shape_at_its_default_size():
    with torch.no_grad():
        assert built("googlenet").eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_v3", "inception_v4", "inception_resnet_v2"])
def test_output_shape_at_the_default_size(name):
    with torch.no_grad():
        assert built(name).eval()(torch.randn(1, 3, 299, 299)).shape == (1, 1000)


CHEAP_AND_BIG = [
    "googlenet",
    "inception_v3",
    pytest.param("inception_v4", marks=pytest.mark.slow),
    pytest.param("inception_resnet_v2", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name", CHEAP_AND_BIG)
def test_num_classes_and_channels_last(name, randomise):
    """num_classes sets the classifier; a channels_last model and input give the same output."""
    torch.manual_seed(0)
    model = randomise(nets.build(name, num_classes=10)).eval()
    x = torch.randn(2, 3, 80, 80)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    assert expected.shape == (2, 10)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_bad_input_and_options_are_clear_errors():
    model = built("googlenet").eval()
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.randn(3, 224, 224))
    with pytest.raises(ValueError, match="3 colour channels"):
        googlenet(transform_input=True)(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="num_classes"):
        googlenet(num_classes=0)
    with pytest.raises(ValueError, match="dropout_aux"):
        googlenet(aux_logits=True, dropout_aux=1.0)
    with pytest.raises(ValueError, match="dropout"):
        nets.build("inception_v4", dropout=-0.1)


@pytest.mark.parametrize(
    "build",
    [
        GoogLeNet,
        googlenet,
        InceptionV3,
        inception_v3,
        InceptionV4,
        inception_v4,
        InceptionResNetV2,
        inception_resnet_v2,
    ],
)
def test_num_classes_first_and_every_other_option_by_keyword(build):
    with torch.device("meta"):
        assert build(10).head.fc.out_features == 10
        with pytest.raises(TypeError, match="positional"):
            build(10, 0.3)


def test_flags_must_be_booleans():
    with pytest.raises(ValueError, match="aux_logits must be True or False"):
        googlenet(aux_logits="yes")
    with pytest.raises(ValueError, match="transform_input must be True or False"):
        inception_v3(transform_input=1)


# --- auxiliary classifiers ----------------------------------------------------------------------------


def test_googlenet_aux_heads_appear_only_in_training_output():
    model = googlenet(num_classes=10, aux_logits=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model.train()(x)
        assert isinstance(out, GoogLeNetOutputs)
        assert [t.shape for t in out] == [(2, 10)] * 3
        assert not torch.equal(out.aux_logits1, out.aux_logits2)  # two different heads
        assert isinstance(model.eval()(x), torch.Tensor)
        out = googlenet(num_classes=10).train()(x)
        assert isinstance(out, torch.Tensor) and not isinstance(out, tuple)


def test_inception_v3_aux_head_needs_299_in_training_but_not_in_eval():
    model = inception_v3(num_classes=10, aux_logits=True)
    with pytest.raises(ValueError, match="aux_logits=True.*at least 299x299"):
        model.train()(torch.randn(2, 3, 298, 298))
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 75, 75)).shape == (1, 10)


@pytest.mark.slow
def test_inception_v3_training_output_with_aux_matches_torchvision(randomise):
    torch.manual_seed(0)
    tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, dropout=0.0)
    ours = from_torchvision(randomise(tv).train())
    x = torch.randn(2, 3, 299, 299)
    with torch.no_grad():
        expected, got = tv(x), ours(x)
    assert isinstance(got, InceptionV3Outputs) and got.aux_logits.shape == (2, 1000)
    assert max_abs_diff(got.logits, expected.logits) <= 1e-5
    assert max_abs_diff(got.aux_logits, expected.aux_logits) <= 1e-5


# --- equal logits with the reference implementations -----------------------------------------------------


@pytest.mark.parametrize("aux_logits", [False, True])
@pytest.mark.parametrize("transform_input", [False, True])
def test_googlenet_matches_torchvision(aux_logits, transform_input, randomise):
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(
        weights=None,
        aux_logits=aux_logits,
        transform_input=transform_input,
        init_weights=True,
        num_classes=10,
    )
    ours = from_torchvision(randomise(tv).eval())
    assert ours.aux_logits == aux_logits and ours.transform_input == transform_input
    assert nets.count_params(ours) == nets.count_params(tv)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert max_abs_diff(ours(x), tv(x)) <= 1e-5


# torchvision before 0.21 returns GoogLeNet's aux1 and aux2 swapped in training (pytorch/vision#8736, fixed by #8743).
TORCHVISION_SWAPS_AUX = tuple(int(part) for part in torchvision.__version__.split(".")[:2]) < (0, 21)


@pytest.mark.skipif(TORCHVISION_SWAPS_AUX, reason="torchvision < 0.21 swaps the aux outputs")
def test_googlenet_aux_heads_match_torchvision_in_training():
    """Eval mode never runs the aux heads, so compare training outputs (dropout off, batch statistics)."""
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(
        weights=None, aux_logits=True, init_weights=False, dropout=0.0, dropout_aux=0.0
    )
    ours = from_torchvision(tv.train())
    assert ours.training
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        expected, got = tv(x), ours(x)
    for field in GoogLeNetOutputs._fields:
        assert max_abs_diff(getattr(got, field), getattr(expected, field)) <= 1e-5, field


@pytest.mark.parametrize(("aux_logits", "transform_input"), [(False, False), (True, True)])
def test_inception_v3_matches_torchvision(aux_logits, transform_input, randomise):
    torch.manual_seed(0)
    # init_weights=False: PyTorch's default init keeps random logits O(1) (torchvision's std-0.1 init
    # gives ~1e8, where float32 rounding alone exceeds 1e-5)
    tv = torchvision.models.inception_v3(
        weights=None,
        aux_logits=aux_logits,
        transform_input=transform_input,
        init_weights=False,
        num_classes=10,
    )
    ours = from_torchvision(randomise(tv).eval())
    assert nets.count_params(ours) == nets.count_params(tv)
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        assert max_abs_diff(ours(x), tv(x)) <= 1e-5


def test_conversion_refuses_what_it_cannot_convert():
    with pytest.raises(NotThisReference, match="GoogLeNet or Inception3, got ResNet"):
        from_torchvision(torchvision.models.resnet18(weights=None))
    with pytest.raises(NotThisReference, match="InceptionV4 or InceptionResnetV2, got GoogLeNet"):
        from_timm(built("googlenet"))
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    tv.inception5b.branch1.bn.eps = 1e-5
    with pytest.raises(ValueError, match="eps"):
        from_torchvision(tv)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    tv.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(1024, 10))
    with pytest.raises(ValueError, match="classifier is a Sequential"):
        from_torchvision(tv)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    tv.conv2.conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)
    with pytest.raises(
        ValueError,
        match=r"conv2.conv has kernel_size=\(3, 3\) where our stem.conv2_reduce.conv has kernel_size=\(1, 1\)",
    ):
        from_torchvision(tv)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    tv.extra = nn.Linear(2, 2)
    with pytest.raises(
        ValueError, match=r"tensors with no counterpart here: \['extra.bias', 'extra.weight'\]"
    ):
        from_torchvision(tv)
    tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    tv.aux2 = None
    with pytest.raises(ValueError, match="cannot convert"):  # one aux head: not a layout nets builds
        from_torchvision(tv)


@pytest.mark.slow
def test_from_timm_refuses_a_different_batchnorm_eps_and_a_missing_classifier():
    timm = pytest.importorskip("timm")
    with pytest.raises(ValueError, match="eps"):
        from_timm(timm.create_model("inception_v4", norm_eps=1e-5))
    with pytest.raises(ValueError, match="num_classes=0"):
        from_timm(timm.create_model("inception_v4", num_classes=0))


# --- compute ----------------------------------------------------------------------------------------


def test_googlenet_macs_match_torchvision():
    macs = nets.count_macs(built("googlenet"), (1, 3, 224, 224))
    assert macs / 1e9 == pytest.approx(1.498, rel=0.01)


@pytest.mark.slow
def test_inception_v3_macs_match_torchvision():
    macs = nets.count_macs(built("inception_v3"), (1, 3, 299, 299))
    assert macs / 1e9 == pytest.approx(5.713, rel=0.01)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "gmacs"), [("inception_v4", 12.28), ("inception_resnet_v2", 13.18)])
def test_macs_match_timm(name, gmacs):
    timm = pytest.importorskip("timm")
    macs = nets.count_macs(built(name), (1, 3, 299, 299))
    assert macs / 1e9 == pytest.approx(gmacs, rel=0.01)
    assert macs == pytest.approx(nets.count_macs(timm.create_model(name), (1, 3, 299, 299)), rel=0.01)


# --- the building blocks the chapter shows ---------------------------------------------------------------


def test_inception_module_matches_torchvisions_and_the_naive_one_costs_more():
    widths = GOOGLENET_TABLE["inception3a"]
    tv_module = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).inception3a
    assert nets.count_params(InceptionModule(192, widths, kernel_5x5=3)) == nets.count_params(tv_module)

    reduced = InceptionModule(192, widths)
    naive = InceptionModule(192, widths, reduce=False)
    x = torch.randn(1, 192, 28, 28)
    with torch.no_grad():
        assert reduced.eval()(x).shape == (1, 256, 28, 28)
        assert naive.eval()(x).shape == (1, 64 + 128 + 32 + 192, 28, 28)  # the pool branch passes 192 through
    # naive (Figure 2a): every filter sees all 192 channels; BatchNorm adds 2 parameters per channel
    conv_weights = 192 * (64 * 1 + 128 * 9 + 32 * 25)
    assert nets.count_params(naive) == conv_weights + 2 * (64 + 128 + 32)
    assert nets.count_macs(naive, (1, 192, 28, 28)) == 28 * 28 * conv_weights
    assert nets.count_macs(naive, (1, 192, 28, 28)) > 2 * nets.count_macs(reduced, (1, 192, 28, 28))


def test_inception_module_rejects_bad_widths():
    with pytest.raises(ValueError, match="widths must be a non-empty list of positive integers"):
        InceptionModule(192, (64, 96, 0, 16, 32, 32))
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        InceptionModule(0, GOOGLENET_TABLE["inception3a"])
    with pytest.raises(ValueError, match="kernel_5x5"):
        InceptionModule(192, GOOGLENET_TABLE["inception3a"], kernel_5x5=7)


def test_residual_block_adds_its_scaled_branches_to_the_input():
    block = InceptionResNetBlockA(scale=0.17).eval()
    x = torch.randn(1, 320, 9, 9)
    with torch.no_grad():
        branch_out = block.project(block.branches(x))
        torch.testing.assert_close(block(x), torch.relu(x + 0.17 * branch_out))
        nn.init.zeros_(block.project.weight)
        nn.init.zeros_(block.project.bias)
        torch.testing.assert_close(block(x), torch.relu(x))  # a silent branch leaves the identity path


def test_inception_resnet_v2_uses_the_released_block_counts_and_scales():
    body = built("inception_resnet_v2").body
    for stage, (count, scale) in INCEPTION_RESNET_V2_BLOCKS.items():
        blocks = list(getattr(body, stage))
        assert len(blocks) == count
        assert [b.scale for b in blocks[:-1]] == [scale] * (count - 1)
    last = body.block_c[-1]
    assert last.scale == 1.0 and isinstance(last.act, nn.Identity)


def test_converts_the_layout_torchvisions_pretrained_builders_leave(randomise):
    """With weights, torchvision builds the aux heads, loads, then drops them and sets transform_input=True."""
    torch.manual_seed(0)
    tv = torchvision.models.GoogLeNet(aux_logits=True, transform_input=True, init_weights=False)
    tv.aux_logits, tv.aux1, tv.aux2 = False, None, None
    ours = from_torchvision(randomise(tv).eval())
    assert not ours.aux_logits and ours.transform_input
    assert nets.count_params(ours) == 6_624_904
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert max_abs_diff(ours(x), tv(x)) <= 1e-5
