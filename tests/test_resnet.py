"""ResNet family: counts against torchvision, equal logits after conversion, the paper's options."""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from torch import nn

import nets
import nets.zoo
from nets import count_macs, count_params
from nets.models.resnet import (
    LAYERS,
    BasicBlock,
    Bottleneck,
    ResNet,
    ZeroPadShortcut,
    from_torchvision,
    resnet,
    resnet18,
    resnet50,
)
from nets.registry import entry, list_models
from nets.weights import NotThisReference

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
BIG = {"resnet50", "resnet101", "resnet152"}  # a 224x224 forward of these is slow on a shared CPU

# /work/shared/reference/numbers.md (torchvision 0.29 metadata): exact params, GMACs at 224.
PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
GMACS = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801, "resnet152": 11.514}


@functools.cache
def _shape_only(name: str, **options) -> nn.Module:
    """A model on the meta device: real shapes, no data, so counting parameters and MACs costs no compute."""
    with torch.device("meta"):
        return nets.build(name, **options)


@functools.cache
def _model(name: str) -> nn.Module:
    """One eval-mode instance per name, shared by the read-only tests (building ResNet-152 takes a while)."""
    torch.manual_seed(0)
    return nets.build(name).eval()


# --- the registered models -------------------------------------------------------------------------


def test_registered_family():
    assert list_models("resnet") == NAMES
    for name in NAMES:
        e = entry(name)
        assert (e.default_size, e.min_size) == (224, _shape_only(name).min_size)
        assert _shape_only(name).name == name


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_torchvision(name):
    assert count_params(_shape_only(name)) == PARAMS[name]


@pytest.mark.parametrize("name", NAMES)
def test_macs_match_torchvision(name):
    macs = count_macs(_shape_only(name), (1, 3, 224, 224)) / 1e9
    assert macs == pytest.approx(GMACS[name], rel=0.01)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in NAMES])
def test_forward_at_default_size(name):
    with torch.no_grad():
        out = _model(name)(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_min_size_is_the_real_minimum(name):
    model = _model(name)
    assert model.min_size == 1  # every conv and pool pads enough that a 1x1 input stays 1x1
    with torch.no_grad():
        assert model(torch.randn(2, 3, 1, 1)).shape == (2, 1000)
        assert model(torch.randn(1, 3, 5, 3)).shape == (1, 1000)  # odd, non-square sizes round up
    with pytest.raises(ValueError, match="at least 1x1"):
        model(torch.randn(1, 3, 0, 0))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.randn(3, 32, 32))


def test_named_parts_read_like_the_paper():
    model = _shape_only("resnet50")
    assert [n for n, _ in model.named_children()] == ["stem", "stages", "head"]
    assert [n for n, _ in model.stages.named_children()] == ["conv2_x", "conv3_x", "conv4_x", "conv5_x"]
    assert [len(stage) for stage in model.stages] == LAYERS[50][1]
    block = model.stages.conv3_x[0]
    assert [n for n, _ in block.named_children()] == ["reduce", "conv3x3", "expand", "shortcut", "relu"]
    assert block.conv3x3.conv.stride == (2, 2) and block.reduce.conv.stride == (1, 1)  # V1.5
    assert isinstance(model.head.fc, nn.Linear) and model.head.fc.in_features == 2048


def test_num_classes():
    torch.manual_seed(0)
    model = nets.build("resnet18", num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert count_params(model) == PARAMS["resnet18"] - 990 * 513  # fc: 512 weights + 1 bias per class


@pytest.mark.parametrize(
    "name, options", [("resnet18", {}), ("resnet50", {}), ("resnet34", {"shortcut": "identity"})]
)
def test_channels_last_gives_the_same_output(name, options):
    torch.manual_seed(0)
    model = nets.build(name, **options).eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        expected = model(x)
        got = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


# --- torchvision weights ---------------------------------------------------------------------------


def test_from_torchvision_keeps_num_classes_and_zero_init(randomise):
    torch.manual_seed(0)
    tv_model = torchvision.models.resnet18(weights=None, num_classes=10, zero_init_residual=True)
    randomise(tv_model, seed=1)
    tv_model.eval()
    model = from_torchvision(tv_model).eval()
    x = torch.randn(3, 3, 17, 17)
    with torch.no_grad():
        assert (model(x) - tv_model(x)).abs().max().item() <= 1e-5
    assert model.head.fc.out_features == 10


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: torchvision.models.resnext50_32x4d(weights=None), "cannot convert"),
        (
            lambda: torchvision.models.resnet50(
                weights=None, replace_stride_with_dilation=[False, True, True]
            ),
            "dilat",
        ),
        (
            lambda: torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1]),
            "not resnet18",
        ),
        (lambda: torchvision.models.wide_resnet50_2(weights=None), "cannot convert"),
    ],
    ids=["resnext50", "dilated", "resnet10", "wide-resnet50"],
)
def test_from_torchvision_refuses_what_it_cannot_convert(make, message):
    with torch.device("meta"):  # refused by its layout, before any weight is read
        reference = make()
    with pytest.raises(ValueError, match=message):
        from_torchvision(reference)


def test_from_torchvision_says_not_this_reference_for_another_model():
    """A TypeError nets.zoo.from_torchvision catches to try the next family's converter."""
    with pytest.raises(NotThisReference, match="expected a torchvision ResNet"):
        from_torchvision(nn.Linear(3, 4))
    with torch.device("meta"):  # refused by its type: no 133 M weights to initialise
        vgg = torchvision.models.vgg11(weights=None)
    with pytest.raises(NotThisReference, match="expected a torchvision ResNet"):
        from_torchvision(vgg)


def test_zoo_dispatches_a_torchvision_resnet_here():
    torch.manual_seed(0)
    tv_model = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    model = nets.zoo.from_torchvision(tv_model)
    assert isinstance(model, ResNet) and model.name == "resnet18" and not model.training
    x = torch.randn(2, 3, 24, 24)
    with torch.no_grad():
        assert (model(x) - tv_model(x)).abs().max().item() <= 1e-5


# --- the paper's options ---------------------------------------------------------------------------


def test_v1_stride_placement_costs_fewer_macs_with_the_same_parameters():
    v15, v1 = _shape_only("resnet50"), _shape_only("resnet50", stride_on="1x1")
    assert v1.stages.conv3_x[0].reduce.conv.stride == (2, 2)
    assert v1.stages.conv3_x[0].conv3x3.conv.stride == (1, 1)
    assert count_params(v1) == count_params(v15)
    macs_v1, macs_v15 = count_macs(v1) / 1e9, count_macs(v15) / 1e9
    assert 3.8 <= macs_v1 < 3.9  # the paper's Table 1: 3.8 x 10^9
    assert macs_v15 == pytest.approx(4.089, rel=0.01)


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_plain_network_has_the_parameters_of_option_a(depth):
    block, layers = LAYERS[depth]
    with torch.device("meta"):
        plain = resnet(block=block, layers=layers, residual=False)
        option_a = resnet(block=block, layers=layers, shortcut="identity")
    assert plain.name == f"plain{depth}" and option_a.name == f"resnet{depth}"
    assert count_params(plain) == count_params(option_a)
    blocks = [m for m in plain.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert len(blocks) == sum(layers) and all(b.shortcut is None for b in blocks)
    # the default projection shortcuts (option B) add only 1x1 convs + BN where the shape changes
    if depth == 34:
        projections = sum(c_in * c_out + 2 * c_out for c_in, c_out in [(64, 128), (128, 256), (256, 512)])
        assert count_params(option_a) == PARAMS["resnet34"] - projections


def test_option_c_projects_in_every_block():
    option_b, option_c = _shape_only("resnet34"), _shape_only("resnet34", shortcut="all_projection")
    extra = sum(
        c * c + 2 * c for c, n in zip([64, 128, 256, 512], [3, 3, 5, 2], strict=True) for _ in range(n)
    )
    assert count_params(option_c) == count_params(option_b) + extra


def test_residual_connection_is_really_added():
    """With zero_init_residual the branch F(x) is 0, so a block passes its (non-negative) input through."""
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 64, 9, 9))
    for shortcut in ["projection", "identity"]:
        block = nets.build("resnet18", shortcut=shortcut, zero_init_residual=True).stages.conv2_x[0].eval()
        with torch.no_grad():
            torch.testing.assert_close(block(x), x)
    plain = nets.build("resnet18", residual=False).stages.conv2_x[0].eval()
    residual = nets.build("resnet18").stages.conv2_x[0].eval()
    residual.load_state_dict(plain.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(x), residual(x))
        torch.testing.assert_close(residual(x), torch.relu(plain.conv2(plain.conv1(x)) + x))


def test_zero_pad_shortcut_subsamples_and_pads():
    x = torch.randn(2, 4, 5, 5)
    out = ZeroPadShortcut(4, 10, stride=2)(x)
    assert out.shape == (2, 10, 3, 3)
    torch.testing.assert_close(out[:, :4], x[:, :, ::2, ::2])
    assert (out[:, 4:] == 0).all()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"shortcut": "identity"},
        {"residual": False},
        {"stride_on": "1x1", "shortcut": "all_projection"},
    ],
)
def test_every_parameter_is_trained(options):
    """A small bottleneck net trains end to end: each parameter gets a gradient (no dead modules)."""
    torch.manual_seed(0)
    model = resnet(5, block="bottleneck", layers=[1, 2], widths=(8, 16), **options)
    model(torch.randn(2, 3, 19, 19)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize(
    "depth, paper_millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)]
)
def test_cifar_networks_match_the_papers_table_6(depth, paper_millions):
    n = (depth - 2) // 6
    model = resnet(
        10, block="basic", layers=[n, n, n], widths=(16, 32, 64), stem="cifar", shortcut="identity"
    )
    assert model.name == f"resnet{depth}"
    assert round(count_params(model) / 1e6, 2 if depth < 100 else 1) == paper_millions
    if depth == 20:
        with torch.no_grad():
            assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stride_on": "2x2"}, "stride_on must be one of"),
        ({"shortcut": "B"}, "shortcut must be one of"),
        ({"residual": "yes"}, "residual must be True or False"),
        ({"zero_init_residual": 1}, "zero_init_residual must be True or False"),
        ({"residual": False, "zero_init_residual": True}, "needs residual=True"),
        ({"num_classes": 0}, "num_classes must be a positive integer"),
    ],
)
def test_factory_options_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nets.build("resnet50", **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"block": "wide", "layers": [2, 2, 2, 2]}, "block must be one of"),
        ({"block": "basic", "layers": []}, "layers must be a non-empty list"),
        ({"block": "basic", "layers": [2, 0, 2, 2]}, "layers must be a non-empty list of positive integers"),
        ({"block": "basic", "layers": [2, 2, 2]}, "pass widths="),
        ({"block": "basic", "layers": [2, 2, 2], "widths": (16, 32)}, "one entry per stage"),
        ({"block": "basic", "layers": [2, 2, 2, 2], "stride_on": "1x1"}, "only exists for bottleneck blocks"),
        ({"block": "basic", "layers": [2, 2, 2, 2], "stem": "tiny"}, "stem must be one of"),
        (
            {"block": "basic", "layers": [2, 2, 2, 2], "num_classes": True},
            "num_classes must be a positive integer",
        ),
    ],
)
def test_builder_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet(**kwargs)


@pytest.mark.parametrize("make", [resnet, ResNet, resnet18, resnet50])
def test_options_are_keyword_only(make):
    """num_classes is the one positional argument; a second one (the old block/layers order) is refused."""
    with pytest.raises(TypeError, match="positional"):
        make(10, "basic", [2, 2, 2, 2])
    with pytest.raises(TypeError):
        make("basic", [2, 2, 2, 2])


def test_basic_block_models_have_no_stride_on_option():
    with pytest.raises(ValueError, match="no option 'stride_on'"):
        nets.build("resnet18", stride_on="1x1")
