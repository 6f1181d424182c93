"""VGG: the paper's table, exact sizes, input limits, and equal logits with torchvision's eight models.

VGG is big (133M-144M parameters, mostly in fc6), so sizes and shapes are checked on the meta device
(no memory, no arithmetic), real forwards use 32x32 inputs, and one real vgg11 is shared by the module.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import nets
from nets.models import vgg as V
from nets.registry import entry

# name: (parameters, torchvision "GFLOPS" = GMACs at 224), from torchvision 0.29 (numbers.md)
REFERENCE = {
    "vgg11": (132_863_336, 7.609),
    "vgg11_bn": (132_868_840, 7.609),
    "vgg13": (133_047_848, 11.308),
    "vgg13_bn": (133_053_736, 11.308),
    "vgg16": (138_357_544, 15.470),
    "vgg16_bn": (138_365_992, 15.470),
    "vgg19": (143_667_240, 19.632),
    "vgg19_bn": (143_678_248, 19.632),
}


def on_meta(name: str, **options) -> V.VGG:
    """The model's structure without its 0.5 GB of weights."""
    with torch.device("meta"):
        return nets.build(name, **options)


@pytest.fixture(scope="module")
def model() -> V.VGG:
    torch.manual_seed(0)
    return nets.build("vgg11").eval()


def test_the_registered_models_are_the_eight_torchvision_ones():
    assert nets.list_models("vgg") == list(REFERENCE)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_parameter_count_is_exact(name):
    assert nets.count_params(on_meta(name)) == REFERENCE[name][0]


@pytest.mark.parametrize("name", list(REFERENCE))
def test_macs_agree_with_torchvision(name):
    macs = nets.count_macs(on_meta(name), (1, 3, 224, 224))
    assert macs / 1e9 == pytest.approx(REFERENCE[name][1], rel=0.01)


def test_sixteen_layers_hold_about_138m_parameters_124m_of_them_in_the_fc_layers():
    net = on_meta("vgg16")
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 13
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 3
    assert round(nets.count_params(net.classifier) / 1e6) == 124


def test_the_paper_table():
    assert list(V.CONFIGS) == ["A", "A-LRN", "B", "C", "D", "E"]
    assert {c: V.weight_layers(c) for c in V.CONFIGS} == {
        "A": 11,
        "A-LRN": 11,
        "B": 13,
        "C": 16,
        "D": 16,
        "E": 19,
    }
    assert V.CONFIGS["C"][2] == ("conv3-256", "conv3-256", "conv1-256")
    assert V.HEAD == ("FC-4096", "FC-4096", "FC-1000", "soft-max")


@pytest.mark.parametrize(
    ("config", "name", "params"),
    [
        ("A", "vgg11", 132_863_336),
        ("A-LRN", "vgg11_lrn", 132_863_336),  # LRN has no weights
        ("C", "vgg16_c", 138_357_544 - 8 * (256 * 256 + 2 * 512 * 512)),  # three 3x3 -> 1x1: "134M"
        ("e", "vgg19", 143_667_240),
    ],
)
def test_any_column_of_the_table_can_be_built(config, name, params):
    with torch.device("meta"):
        net = V.vgg(config=config, num_classes=1000)
        assert net(torch.empty(1, 3, 224, 224)).shape == (1, 1000)
    assert net.name == name
    assert nets.count_params(net) == params


def test_a_lrn_normalises_after_the_first_convolution():
    with torch.device("meta"):
        net = V.vgg(config="A-LRN")
    names = [name for name, _ in net.features.named_children()]
    assert names[:4] == ["conv1_1", "relu1_1", "norm1", "pool1"]
    assert isinstance(net.features.norm1, nn.LocalResponseNorm)


def test_layers_have_the_caffe_names():
    net = on_meta("vgg16_bn")
    assert isinstance(net.features.conv4_3, nn.Conv2d) and net.features.conv4_3.out_channels == 512
    assert isinstance(net.features.bn5_3, nn.BatchNorm2d)
    assert [name for name, _ in net.classifier.named_children()][::3] == ["fc6", "fc7", "fc8"]
    assert net.features.conv1_1.bias is not None  # torchvision's _bn models keep the conv biases


def test_bad_configurations_and_options_are_explained():
    with pytest.raises(ValueError, match="config must be one of 'A', 'A-LRN', 'B', 'C', 'D', 'E'"):
        V.vgg(config="F")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"), torch.device("meta"):
        V.vgg(config="A", dropout=-0.1)
    with pytest.raises(ValueError, match="batch_norm must be True or False"):
        V.vgg(batch_norm="yes")
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        V.vgg(0)
    with pytest.raises(ValueError, match="no option 'batch_norm'"):
        nets.build("vgg16", batch_norm=True)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_output_shape_at_default_size(name):
    net = on_meta(name)  # the shapes of a real forward, without its 8-20 GMACs
    assert entry(name).default_size == 224
    assert net(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 1000)


@pytest.mark.slow
def test_real_forward_at_default_size(model):
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_min_size_is_the_smallest_input_that_works(model):
    assert model.min_size == entry("vgg11").min_size == 32  # torchvision's metadata says (32, 32)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 1000)
        with pytest.raises(ValueError, match="at least 32x32"):
            model(torch.randn(1, 3, 31, 64))
        with pytest.raises(RuntimeError):  # the guard is not stricter than the network itself
            model.features(torch.randn(1, 3, 31, 31))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.randn(3, 32, 32))


def test_num_classes():
    net = on_meta("vgg13_bn", num_classes=10)
    assert net(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
    assert net.classifier.fc8.out_features == 10


def test_channels_last_gives_the_same_output(model):
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        expected = model(x)
        got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_the_configuration_is_a_keyword_not_the_first_argument():
    # vgg("A", 10) used to build VGG-11 with BatchNorm and 1000 classes (config, batch_norm, num_classes).
    with pytest.raises(TypeError):
        V.vgg("A", 10)
    with pytest.raises(TypeError, match="config='A'"):
        V.vgg("A")
    with pytest.raises(TypeError), torch.device("meta"):
        V.VGG(10, "A")
    for factory in (V.vgg11, V.vgg16_bn):
        with pytest.raises(TypeError), torch.device("meta"):
            factory(10, 0.3)  # dropout by position
    with torch.device("meta"):
        net = V.vgg(10, config="A", batch_norm=True)
    assert net.name == "vgg11_bn" and net.classifier.fc8.out_features == 10


def test_the_registry_and_the_model_share_min_size():
    assert all(entry(name).min_size is V.MIN_SIZE for name in REFERENCE)


def test_conversion_keeps_num_classes_dropout_and_mode():
    with torch.device("meta"):
        tv_model = torchvision.models.vgg16(weights=None, num_classes=10, dropout=0.3)
    converted = V.from_torchvision(tv_model)
    assert converted.training and converted.config == "D"
    assert converted.classifier.fc8.out_features == 10
    assert converted.classifier.dropout6.p == 0.3


def test_conversion_refuses_other_and_modified_models():
    with pytest.raises(TypeError, match="torchvision.models.VGG"):
        V.from_torchvision(torchvision.models.resnet18(weights=None))
    with torch.device("meta"):
        tv_model = torchvision.models.vgg11(weights=None)
        tv_model.features[0] = nn.Conv2d(3, 64, kernel_size=5, padding=2)
    with pytest.raises(ValueError, match="match none of the configurations"):
        V.from_torchvision(tv_model)
    with torch.device("meta"):
        tv_model = torchvision.models.vgg11(weights=None)
        tv_model.classifier[3] = nn.Linear(4096, 2048)
    with pytest.raises(ValueError, match=r"classifier\.3\.weight is \(2048, 4096\), our classifier\.fc7"):
        V.from_torchvision(tv_model)
    with torch.device("meta"):
        tv_model = torchvision.models.vgg11_bn(weights=None)
        tv_model.features[1] = nn.BatchNorm2d(64, eps=1e-3)
    with pytest.raises(ValueError, match=r"features\.1 has eps=0\.001 where our features\.bn1_1"):
        V.from_torchvision(tv_model)
