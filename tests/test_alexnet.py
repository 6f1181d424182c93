"""AlexNet: exact sizes, the paper's options, input limits, and equal logits with torchvision's model."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import nets
from nets.models import alexnet as A
from nets.registry import entry
from nets.weights import weighted_modules

# Layer arithmetic for the paper's two-tower net at 227 (weights + biases; MACs = output pixels * fan-in).
CONV_PARAMS_2012 = [96 * 3 * 11 * 11 + 96, 256 * 48 * 5 * 5 + 256, 384 * 256 * 9 + 384]
CONV_PARAMS_2012 += [384 * 192 * 9 + 384, 256 * 192 * 9 + 256]
FC_PARAMS_2012 = [9216 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]
MACS_2012 = (
    55 * 55 * 96 * 3 * 11 * 11
    + 27 * 27 * 256 * 48 * 25
    + 13 * 13 * (384 * 256 * 9 + 384 * 192 * 9 + 256 * 192 * 9)
    + 9216 * 4096
    + 4096 * 4096
    + 4096 * 1000
)


@pytest.fixture(scope="module")
def model() -> A.AlexNet:
    torch.manual_seed(0)
    return nets.build("alexnet").eval()


@pytest.fixture(scope="module")
def model2012() -> A.AlexNet2012:
    torch.manual_seed(0)
    return nets.build("alexnet2012").eval()


def test_parameter_counts_are_exact(model, model2012):
    assert nets.count_params(model) == 61_100_840
    assert nets.count_params(model2012) == 60_965_224 == sum(CONV_PARAMS_2012) + sum(FC_PARAMS_2012)


def test_one_tower_has_full_connections_in_conv2_conv4_conv5():
    with torch.device("meta"):
        one_tower = A.alexnet2012(groups=1)
    # Ungrouping doubles the fan-in of conv2 (96 not 48), conv4 and conv5 (384 not 192).
    extra = 256 * 48 * 25 + 384 * 192 * 9 + 256 * 192 * 9
    assert nets.count_params(one_tower) == 60_965_224 + extra == 62_378_344
    assert one_tower.features.conv2.groups == 1


@pytest.mark.parametrize("options", [{"activation": "tanh"}, {"lrn": False}, {"overlapping_pool": False}])
def test_options_that_do_not_change_the_parameter_count(options):
    with torch.device("meta"):
        variant = A.alexnet2012(**options)
    assert nets.count_params(variant) == 60_965_224


def test_mac_counts(model, model2012):
    assert nets.count_macs(model, (1, 3, 224, 224)) == pytest.approx(0.714e9, rel=0.01)  # torchvision
    macs = nets.count_macs(model2012, (1, 3, 227, 227))
    assert macs == MACS_2012 == 724_406_816


def test_output_shape_at_default_size(model, model2012):
    with torch.no_grad():
        assert model(torch.randn(2, 3, 224, 224)).shape == (2, 1000)
        assert model2012(torch.randn(2, 3, 227, 227)).shape == (2, 1000)


def test_the_paper_needs_227_for_6x6_conv5_maps(model2012):
    with torch.no_grad():
        assert model2012.features(torch.zeros(1, 3, 227, 227)).shape == (1, 256, 6, 6)
        assert model2012.features(torch.zeros(1, 3, 224, 224)).shape == (1, 256, 5, 5)


@pytest.mark.parametrize("name", ["alexnet", "alexnet2012"])
def test_registry_sizes_match_the_model(name, model, model2012):
    built = model if name == "alexnet" else model2012
    assert entry(name).min_size == built.min_size
    assert entry(name).min_size is {"alexnet": A.MIN_SIZE, "alexnet2012": A.MIN_SIZE_2012}[name]
    assert entry(name).default_size == {"alexnet": 224, "alexnet2012": 227}[name]
    assert built.name == name


@pytest.mark.parametrize(
    ("options", "min_size"), [({}, 67), ({"overlapping_pool": False}, 39), ({"groups": 1}, 67)]
)
def test_min_size_is_the_smallest_input_that_works(options, min_size):
    torch.manual_seed(0)
    net = A.alexnet2012(num_classes=10, **options).eval()
    assert net.min_size == min_size
    with torch.no_grad():
        assert net(torch.randn(1, 3, min_size, min_size)).shape == (1, 10)
        with pytest.raises(ValueError, match=f"at least {min_size}x{min_size}"):
            net(torch.randn(1, 3, min_size - 1, min_size))
        with pytest.raises(RuntimeError):  # the guard is not stricter than the network itself
            net.features(torch.randn(1, 3, min_size - 1, min_size - 1))


def test_torchvision_variant_min_size(model):
    assert model.min_size == 63  # torchvision's weights metadata says (63, 63)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 63, 63)).shape == (1, 1000)
        with pytest.raises(ValueError, match="at least 63x63"):
            model(torch.randn(1, 3, 62, 62))
        with pytest.raises(RuntimeError):
            model.features(torch.randn(1, 3, 62, 62))


def test_a_single_image_without_batch_dimension_is_rejected_clearly(model):
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.randn(3, 224, 224))


def test_conversion_keeps_num_classes_dropout_dtype_and_mode():
    tv_model = torchvision.models.alexnet(weights=None, num_classes=10, dropout=0.3).double()
    converted = A.from_torchvision(tv_model)
    assert converted.training
    assert converted.classifier.fc8.out_features == 10
    assert converted.classifier.dropout6.p == 0.3
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(converted.eval()(x), tv_model.eval()(x), rtol=0, atol=1e-12)


def test_conversion_refuses_other_models():
    with torch.device("meta"):  # refused by type
        resnet, ours = torchvision.models.resnet18(weights=None), A.alexnet()
    with pytest.raises(TypeError, match="torchvision.models.AlexNet"):
        A.from_torchvision(resnet)
    with pytest.raises(TypeError, match="AlexNet"):
        A.from_torchvision(ours)


def test_conversion_refuses_a_modified_torchvision_alexnet():
    with torch.device("meta"):  # refused by its layout, before any weight is read
        tv_model = torchvision.models.alexnet(weights=None)
        tv_model.features[0] = nn.Conv2d(3, 64, kernel_size=7, stride=4, padding=2)
    with pytest.raises(ValueError, match=r"features\.0 has kernel_size=\(7, 7\) where our features\.conv1"):
        A.from_torchvision(tv_model)
    with torch.device("meta"):
        tv_model = torchvision.models.alexnet(weights=None)
        tv_model.classifier[4] = nn.Linear(4096, 2048)
    with pytest.raises(ValueError, match=r"classifier\.4\.weight is \(2048, 4096\), our classifier\.fc7"):
        A.from_torchvision(tv_model)


def test_the_key_map_names_every_tensor_of_both_models():
    with torch.device("meta"):
        ours, theirs = A.alexnet(), torchvision.models.alexnet(weights=None)
    assert list(A.TORCHVISION_KEYS) == weighted_modules(ours)
    assert list(A.TORCHVISION_KEYS.values()) == weighted_modules(theirs)


@pytest.mark.parametrize("name", ["alexnet", "alexnet2012"])
def test_num_classes(name):
    with torch.device("meta"):  # shapes only; real forwards with 10 classes run in the tests above
        net = nets.build(name, num_classes=10)
        assert net(torch.randn(2, 3, 96, 96)).shape == (2, 10)


@pytest.mark.parametrize("which", ["alexnet", "alexnet2012"])
def test_channels_last_gives_the_same_output(which, model, model2012):
    net = model if which == "alexnet" else model2012
    x = torch.randn(2, 3, 227, 227)
    with torch.no_grad():
        expected = net(x)
        got = net(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_paper_layout_lrn_after_relu_then_pool(model2012):
    names = [name for name, _ in model2012.features.named_children()]
    assert names[:8] == ["conv1", "act1", "norm1", "pool1", "conv2", "act2", "norm2", "pool2"]
    lrn = model2012.features.norm1
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 2.0)
    assert [m.groups for m in model2012.features if isinstance(m, nn.Conv2d)] == [1, 2, 1, 2, 2]
    pools = [m for m in model2012.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3


def test_options_change_the_layers():
    with torch.device("meta"):
        plain = A.alexnet2012(activation="tanh", lrn=False, overlapping_pool=False)
    kinds = {type(m) for m in plain.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds and nn.LocalResponseNorm not in kinds
    assert {m.kernel_size for m in plain.modules() if isinstance(m, nn.MaxPool2d)} == {2}


def test_lrn_changes_the_output(model2012):
    with torch.device("meta"):
        without = A.alexnet2012(lrn=False).eval()
    without.load_state_dict(model2012.state_dict(), assign=True)  # LRN has no weights: only it differs
    x = torch.randn(1, 3, 227, 227)
    with torch.no_grad():
        assert not torch.allclose(without(x), model2012(x))


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    net = A.alexnet2012(num_classes=10)
    x = torch.randn(2, 3, 67, 67)
    with torch.no_grad():
        assert not torch.equal(net.train()(x), net(x))
        assert torch.equal(net.eval()(x), net(x))
        with torch.device("meta"):
            net_no_dropout = A.alexnet2012(num_classes=10, dropout=0.0)
        net_no_dropout.load_state_dict(net.state_dict(), assign=True)  # same weights, no dropout
        assert torch.equal(net_no_dropout(x), net_no_dropout(x))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"activation": "sigmoid"}, "'relu', 'tanh'"),
        ({"groups": 3}, r"groups must divide the channels of every split layer \(96, 256, 384\)"),
        ({"groups": 0}, "groups must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"lrn": "no"}, "lrn must be True or False"),
        ({"overlapping_pool": 1}, "overlapping_pool must be True or False"),
    ],
)
def test_bad_options_are_explained(options, message):
    with pytest.raises(ValueError, match=message), torch.device("meta"):
        A.alexnet2012(**options)


@pytest.mark.parametrize("cls", [A.AlexNet, A.AlexNet2012, A.alexnet, A.alexnet2012])
def test_options_after_num_classes_are_keyword_only(cls):
    with pytest.raises(TypeError), torch.device("meta"):
        cls(10, 0.3)  # dropout (or activation) by position: refused


def test_build_passes_options_and_rejects_unknown_ones():
    with torch.device("meta"):
        net = nets.build("alexnet2012", num_classes=5, groups=1, lrn=False)
    assert net.classifier.fc8.out_features == 5
    assert net.features.conv4.groups == 1
    with pytest.raises(ValueError, match="no option 'lrn'"):
        nets.build("alexnet", lrn=True)


def test_paper_init():
    torch.manual_seed(0)
    net = A.paper_init_(A.alexnet2012())
    for name in ["conv2", "conv4", "conv5"]:
        assert torch.all(getattr(net.features, name).bias == 1.0)
    assert torch.all(net.features.conv1.bias == 0.0) and torch.all(net.classifier.fc8.bias == 0.0)
    assert torch.all(net.classifier.fc6.bias == 1.0)
    assert net.classifier.fc6.weight.std().item() == pytest.approx(0.01, rel=0.01)
    with pytest.raises(TypeError, match="AlexNet"):
        A.paper_init_(nn.Linear(2, 2))
