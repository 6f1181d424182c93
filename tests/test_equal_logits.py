"""Every model with reference weights gives the reference implementation's logits once converted.

One test over the registry: for each model whose entry names torchvision or timm weights, build the
reference with random weights (random BatchNorm statistics and biases too, so every copied tensor
matters), convert it with nets.zoo.from_torchvision / from_timm, and compare the logits in float32, eval
mode, on two images at a small size. What a family's converter does besides (refusals, num_classes,
dropout, aux heads, flags) is tested in that family's file.
"""

from __future__ import annotations

import pytest
import torch

import nets
from nets.registry import entry, list_models

# Over 60 M parameters, or over a second to build, convert and run on one busy core: the slow tier.
SLOW = {"alexnet", "resnet101", "resnet152", "inception_v4", "inception_resnet_v2"}
SLOW |= set(list_models("vgg")) | {f"efficientnet_b{i}" for i in (5, 6, 7)}
# torchvision's default init for these gives logits near 1e8, where float32 rounding alone exceeds 1e-5
REFERENCE_OPTIONS = {"googlenet": {"init_weights": False}, "inception_v3": {"init_weights": False}}
REFERENCED = [name for name in list_models() if entry(name).weights is not None]


def reference(name: str) -> torch.nn.Module:
    """The reference implementation of ``name`` with random weights."""
    source, _, weights = entry(name).weights.partition(":")
    if source == "timm":
        timm = pytest.importorskip("timm", reason="timm is optional; it holds this model's reference")
        return timm.create_model(weights, pretrained=False)
    import torchvision

    return torchvision.models.get_model(name, weights=None, **REFERENCE_OPTIONS.get(name, {}))


def test_every_model_with_weights_is_compared_and_the_slow_ones_exist():
    assert {entry(n).source for n in REFERENCED} == {"torchvision", "timm"}
    assert set(REFERENCED) >= SLOW


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in REFERENCED]
)
def test_converted_model_gives_the_references_logits(name, randomise):
    torch.manual_seed(0)
    theirs = randomise(reference(name)).eval()
    convert = getattr(nets.zoo, f"from_{entry(name).source}")
    ours = convert(theirs)
    assert ours.name == name and not ours.training  # the converter of its own family, in the same mode
    side = max(entry(name).min_size, 33)  # odd, and not square: padding and rounding show up
    x = torch.randn(2, 3, side, side + 6)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    assert expected.shape == (2, 1000) and expected.std() > 0.1  # varied logits, not near-zero ones
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
