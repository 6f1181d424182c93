"""The zoo as a whole: every contender is there, with its card, exact count and a clear error for bad input."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch import nn

import nets
from nets.cards import card
from nets.layers import StochasticDepth, check_images, make_divisible

EXPECTED = {
    "alexnet": 61_100_840,
    "alexnet2012": 60_965_224,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "googlenet": 6_624_904,
    "inception_v3": 23_834_568,
    "inception_v4": 42_679_816,
    "inception_resnet_v2": 55_843_464,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
}


def test_every_contender_is_listed():
    assert set(EXPECTED) <= set(nets.list_models())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_parameter_count(name):
    with torch.device("meta"):  # shapes only: counts in milliseconds, no memory for VGG's 138M weights
        model = nets.build(name)
    assert nets.count_params(model) == EXPECTED[name]


def test_unknown_name_lists_valid_names_and_suggests_the_closest():
    with pytest.raises(ValueError) as err:
        nets.build("resnet5O")
    message = str(err.value)
    assert "Did you mean 'resnet50'?" in message
    assert "efficientnet_b7" in message and "alexnet" in message


def test_names_are_forgiving_about_case_and_dashes():
    assert nets.count_params(nets.build("ResNet-18")) == EXPECTED["resnet18"]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match="num_classes"):
        nets.build("resnet18", num_classes=bad)


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(ValueError, match="has no option 'widht'"):
        nets.build("resnet18", widht=2)


def test_num_classes_changes_the_head():
    model = nets.build("resnet18", num_classes=10).eval()
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_model_has_a_card_with_the_papers_numbers(name):
    c = card(name)
    assert c.paper.title and c.year >= 2012 and c.paper_eval
    assert c.min_size <= c.default_size
    if c.ref_params is not None and name != "inception_v3":  # torchvision's v3 count includes the aux head
        assert c.ref_params == EXPECTED[name]


def test_card_facts_that_popular_write_ups_get_wrong():
    assert card("inception_v4").year == 2016
    assert card("vgg16").paper_params_m == 138.0
    assert card("efficientnet_b7").paper_top1 == 84.3
    assert card("resnet50").paper_top1 == pytest.approx(100 - 22.85)


def test_paper_table_puts_our_count_beside_the_reference():
    table = nets.paper_table("resnet18")
    assert table.frame.loc["parameters", "nets (computed now)"] == "11,689,512"
    assert table.frame.loc["parameters", "nets vs reference"] == "exact"
    assert "1512.03385" in table._repr_html_()


def test_count_macs_rejects_a_bad_input_size():
    with pytest.raises(ValueError, match="four positive integers"):
        nets.count_macs(nets.build("resnet18"), (3, 224, 224))


def test_count_macs_counts_a_linear_layer():
    assert nets.count_macs(nn.Linear(10, 4), (1, 1, 1, 10)) == 40


def test_layer_summary_reports_the_total():
    stats = nets.layer_summary(nets.build("resnet18"), (1, 3, 64, 64), depth=1)
    assert stats.total_params == EXPECTED["resnet18"]


def test_pretrained_offline_gives_a_clear_message(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="needs a network connection") as err:
        nets.build("resnet18", pretrained=True)
    assert "nets.build('resnet18')" in str(err.value)


def test_pretrained_refuses_what_the_weights_cannot_be():
    with pytest.raises(ValueError, match="1000 classes"):
        nets.build("resnet18", num_classes=10, pretrained=True)
    with pytest.raises(ValueError, match="no reference weights"):
        nets.build("alexnet2012", pretrained=True)


def test_from_torchvision_rejects_what_it_cannot_convert():
    with pytest.raises(TypeError, match="cannot convert a Linear"):
        nets.zoo.from_torchvision(nn.Linear(2, 2))


def test_make_divisible_matches_torchvision():
    from torchvision.models._utils import _make_divisible

    for value in [3.2, 16, 24 * 1.1, 40 * 1.8, 112 * 1.4, 320 * 2.0, 1280 * 1.1]:
        assert make_divisible(value, 8) == _make_divisible(value, 8)


def test_stochastic_depth_is_identity_in_eval_and_unbiased_in_training():
    layer = StochasticDepth(0.5)
    x = torch.ones(20000, 1)
    assert torch.equal(layer.eval()(x), x)
    out = layer.train()(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="drop probability"):
        StochasticDepth(1.0)


def test_check_images_messages():
    with pytest.raises(ValueError, match="at least 63x63 pixels; got 40x40"):
        check_images(torch.zeros(1, 3, 40, 40), 63, "alexnet")
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        check_images(torch.zeros(3, 64, 64), 63, "alexnet")


TORCHVISION_WEIGHTS = [n for n in nets.list_models() if nets.registry.entry(n).source == "torchvision"]


@pytest.mark.parametrize("name", TORCHVISION_WEIGHTS)
def test_each_card_quotes_the_weights_build_would_load(name):
    from torchvision.models import get_weight

    c = card(name)
    assert c.ref_weights == nets.registry.entry(name).weights
    weights = get_weight(c.ref_weights.partition(":")[2])
    meta = weights.meta
    assert c.ref_top1 == meta["_metrics"]["ImageNet-1K"]["acc@1"], name
    assert c.ref_top5 == meta["_metrics"]["ImageNet-1K"]["acc@5"], name
    assert c.ref_params == meta["num_params"], name
    assert c.ref_gmacs == pytest.approx(meta["_ops"], abs=5e-4), name
    assert c.ref_crop == weights.transforms().crop_size[0], name
    assert weights.name in c.ref_source


def test_pretrained_loads_the_carded_weights_and_other_tags_on_request(monkeypatch):
    from torchvision import models as tv

    asked = []

    def get_model(name, weights=None, **kwargs):
        asked.append(str(weights))
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(tv, "get_model", get_model)
    for kwargs in ({"pretrained": True}, {"weights": "IMAGENET1K_V2"}):
        with pytest.raises(RuntimeError, match="needs a network connection"):
            nets.build("resnet50", **kwargs)
    assert asked == ["ResNet50_Weights.IMAGENET1K_V1", "ResNet50_Weights.IMAGENET1K_V2"]
    with pytest.raises(ValueError, match="has no 'IMAGENET1K_V9'; it has: IMAGENET1K_V1, IMAGENET1K_V2"):
        nets.build("resnet50", weights="IMAGENET1K_V9")
    with pytest.raises(ValueError, match="pretrained must be True or False"):
        nets.build("resnet50", pretrained="no")


def test_paper_table_names_each_papers_source():
    table = nets.paper_table("resnet34")
    text = repr(table)
    assert "Table 3, 10-crop" in text and "IMAGENET1K_V1" in text
    assert table.frame.loc["top-1 accuracy %", "paper"] == "75.48"
    assert table.frame.loc["top-5 accuracy %", "paper"] == "92.54"
    assert nets.card("inception_v3").paper_params_text == "< 25 M"
    assert "Table 3" in nets.card("inception_v3").paper_source
    assert nets.card("alexnet").paper.venue == "NIPS"


def test_cards_name_the_table_and_version_their_numbers_come_from():
    assert nets.card("googlenet").paper_source.startswith("Table 3")  # Table 5 is detection
    assert "Table 7" not in nets.card("vgg16").paper_source  # He et al. quote VGG's FLOPs in their text
    assert nets.card("inception_v4").paper_source.startswith("Table 1 (Table 2 on arXiv)")  # the AAAI version
    b0 = nets.card("efficientnet_b0")  # 77.1% is the revised arXiv v5's; the ICML 2019 text has 76.3%
    assert b0.paper.arxiv == "1905.11946v5" and b0.paper_top1 == 77.1 and "76.3/93.2" in b0.paper_eval


def test_timm_weights_offline_fail_at_once_not_after_a_minute_of_retries(monkeypatch):
    pytest.importorskip("timm")
    import socket
    import time

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="needs a network connection") as err:
        nets.build("inception_v4", pretrained=True)
    assert time.perf_counter() - start < 5
    assert "Hugging Face" in str(err.value) and "nets.build('inception_v4')" in str(err.value)
