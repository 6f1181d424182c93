"""The two small helpers every family shares: ``registry.builds`` (factories) and ``checks.check_input_size``."""

from __future__ import annotations

import inspect

import pytest
import torch

from nets.checks import check_input_size
from nets.models import efficientnet as E
from nets.models import vgg as V
from nets.registry import builds


def test_a_built_factory_shows_its_options_and_fixes_the_rest():
    params = inspect.signature(V.vgg16_bn).parameters
    assert list(params) == ["num_classes", "dropout"]
    assert params["dropout"].annotation is float and params["dropout"].default == 0.5
    assert V.vgg16_bn.__name__ == "vgg16_bn" and "BatchNorm" in V.vgg16_bn.__doc__
    with torch.device("meta"):
        model = V.vgg16_bn(7, dropout=0.1)
    assert (model.config, model.name, model.classifier.fc8.out_features) == ("D", "vgg16_bn", 7)
    assert model.classifier.dropout6.p == 0.1


def test_a_value_for_a_named_option_is_its_default():
    assert inspect.signature(E.efficientnet_b7).parameters["dropout"].default == 0.5
    with torch.device("meta"):
        assert E.efficientnet_b7().classifier.dropout.p == 0.5
        assert E.efficientnet_b7(dropout=0.1).classifier.dropout.p == 0.1


def test_a_built_factory_refuses_a_fixed_or_unknown_option_by_name():
    with pytest.raises(TypeError, match=r"vgg16\(\) got an unexpected keyword argument 'config'"):
        V.vgg16(config="A")
    with pytest.raises(TypeError, match=r"vgg16\(\) too many positional arguments"):
        V.vgg16(10, 0.3)


def test_builds_refuses_an_option_its_class_does_not_take():
    with pytest.raises(RuntimeError, match=r"VGG takes num_classes first and no option \['depth'\]"):
        builds(V.VGG, depth=3)


def test_check_input_size_returns_the_shape_and_explains_a_bare_side():
    assert check_input_size(torch.Size([1, 3, 32, 32])) == (1, 3, 32, 32)
    with pytest.raises(
        ValueError, match=r"whole input shape .* e\.g\. \(1, 3, 224, 224\) for one 224 px image; got 224"
    ):
        check_input_size(224)
    with pytest.raises(ValueError, match=r"e\.g\. \(4, 3, 64, 64\) for 4 images of 64 px; got 64"):
        check_input_size(64, example=(4, 3, 64, 64))
    with pytest.raises(ValueError, match=r"four positive integers .* got \(1, 3, 0, 32\)"):
        check_input_size((1, 3, 0, 32))
