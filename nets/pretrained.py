"""Reference ImageNet weights in ``nets`` models, proven by equal logits.

``from_torchvision(tv_model)`` and ``from_timm(timm_model)`` take a reference model instance (random or
pretrained) and return the equivalent ``nets`` model with the weights copied; each family's conversion
lives at the bottom of its module. ``build(name, pretrained=True)`` downloads the reference weights
(torchvision's weights API; timm for Inception v4 and Inception-ResNet-v2) and converts them.
"""

from __future__ import annotations

import urllib.error

from torch import nn

from . import alexnet, efficientnet, inception, resnet, vgg

__all__ = ["from_timm", "from_torchvision", "load_pretrained", "TIMM_WEIGHTS"]

# nets name -> timm model name with its ImageNet weights (the reference for these two).
TIMM_WEIGHTS = {
    "inception_v4": "inception_v4.tf_in1k",
    "inception_resnet_v2": "inception_resnet_v2.tf_in1k",
}


def from_torchvision(tv_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to a torchvision model instance, weights copied.

    Accepts torchvision's AlexNet, VGG (with or without BatchNorm), ResNet, GoogLeNet and Inception3
    (whatever their ``aux_logits`` / ``transform_input`` flags) and EfficientNet (B0-B7). In eval mode
    and float32 the two give the same logits (max abs difference <= 1e-5; the tests check every one).
    """
    from torchvision import models as tv

    converters = {
        tv.AlexNet: alexnet.from_torchvision,
        tv.VGG: vgg.from_torchvision,
        tv.ResNet: resnet.from_torchvision,
        tv.GoogLeNet: inception.from_torchvision,
        tv.Inception3: inception.from_torchvision,
        tv.EfficientNet: efficientnet.from_torchvision,
    }
    for cls, convert in converters.items():
        if isinstance(tv_model, cls):
            return convert(tv_model)
    known = ", ".join(cls.__name__ for cls in converters)
    raise TypeError(
        f"from_torchvision cannot convert a {type(tv_model).__name__}; it converts torchvision's {known}. "
        "For timm's Inception v4 / Inception-ResNet-v2 use nets.pretrained.from_timm."
    )


def from_timm(timm_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to timm's ``inception_v4`` or ``inception_resnet_v2``, weights copied."""
    return inception.from_timm(timm_model)


def _offline_error(name: str, source: str, err: BaseException) -> RuntimeError:
    return RuntimeError(
        f"could not download the ImageNet weights for {name} from {source} ({type(err).__name__}: {err}). "
        "pretrained=True needs a network connection the first time; afterwards the weights are cached "
        "(torch hub: ~/.cache/torch/hub/checkpoints, timm: the Hugging Face cache). Connect and retry, or "
        f"build without weights: nets.build({name!r})."
    )


def load_pretrained(name: str, num_classes: int = 1000, **options) -> nn.Module:
    """``name`` with the reference ImageNet weights (downloaded once, then cached) converted to ``nets``."""
    if num_classes != 1000:
        raise ValueError(
            f"the ImageNet weights have 1000 classes, not {num_classes}. Build with pretrained=True and "
            "num_classes=1000, then replace the classifier to fine-tune on your classes."
        )
    if name == "alexnet2012":
        raise ValueError(
            "no reference weights exist for alexnet2012 (the paper's two-tower original); use "
            "nets.build('alexnet', pretrained=True) for torchvision's one-GPU AlexNet."
        )
    flags = {k: options.pop(k) for k in ("aux_logits", "transform_input") if k in options}
    if options or (flags and name in TIMM_WEIGHTS):
        raise ValueError(
            f"pretrained=True builds the reference architecture; options {sorted(options | flags)} "
            "would change it. Build without pretrained=True to use them."
        )
    if name in TIMM_WEIGHTS:
        try:
            import timm
        except ImportError as err:
            raise RuntimeError(
                f"the {name} weights come from timm, which is not installed: pip install timm"
            ) from err
        try:
            reference = timm.create_model(TIMM_WEIGHTS[name], pretrained=True)
        except (OSError, urllib.error.URLError) as err:  # requests/huggingface_hub errors are OSErrors
            raise _offline_error(name, "the Hugging Face hub (timm)", err) from err
        model = from_timm(reference)
    else:
        from torchvision import models as tv

        weights = tv.get_model_weights(name).DEFAULT
        try:
            reference = tv.get_model(name, weights=weights, **flags)
        except (OSError, urllib.error.URLError) as err:
            raise _offline_error(name, f"torchvision ({weights})", err) from err
        model = from_torchvision(reference)
    return model.eval()
