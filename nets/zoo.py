"""Build a contender by name, with or without the reference ImageNet weights.

``build("resnet50")`` calls the factory the family file registered; ``build("resnet50",
pretrained=True)`` downloads the reference weights the registry names for it (torchvision's, or timm's
for Inception-v4 and Inception-ResNet-v2) and converts them with the family's converter, which copies
them through ``nets.weights.copy_weights``. ``from_torchvision`` and ``from_timm`` convert a reference
model instance you already have. This module sits above the registry, the weights code and the model
files; nothing below it imports it.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.parse

from torch import nn

from . import models  # noqa: F401  (importing the family files registers every model)
from .checks import check_bool, check_int
from .registry import ModelEntry, entry, list_models
from .weights import NotThisReference

__all__ = ["build", "from_timm", "from_torchvision", "load_pretrained"]


def build(
    name: str, num_classes: int = 1000, *, pretrained: bool = False, weights: str | None = None, **options
) -> nn.Module:
    """Build a contender by name, e.g. ``build("resnet50")`` or ``build("googlenet", aux_logits=True)``.

    ``pretrained=True`` fetches the reference ImageNet weights, exactly those whose numbers
    ``nets.card(name)`` quotes (torchvision's ``IMAGENET1K_V1`` where torchvision has several), and
    converts them; it needs ``num_classes=1000`` and, the first time, a network connection.
    ``weights="IMAGENET1K_V2"`` asks for another set of the same torchvision model instead (e.g.
    ResNet-50's newer recipe, 80.9 % top-1); the card's reference numbers do not describe those.
    """
    e = entry(name)
    check_int("num_classes", num_classes)
    check_bool("pretrained", pretrained)
    if weights is not None:
        if not isinstance(weights, str) or e.source != "torchvision":
            raise ValueError(
                f"weights= names a set of torchvision weights for {e.name} (e.g. 'IMAGENET1K_V1'); "
                f"got {weights!r}" + ("" if e.source == "torchvision" else f", but {e.name} has none")
            )
        pretrained = True
    unknown = sorted(set(options) - set(e.options))
    if unknown:
        raise ValueError(
            f"{e.name} has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(e.options) or 'none'}."
        )
    if pretrained:
        return load_pretrained(e.name, num_classes=num_classes, weights=weights, **options)
    return e.factory(num_classes, **options)


def _convert(reference: nn.Module, source: str) -> nn.Module:
    converters = []
    for e in map(entry, list_models()):
        if e.source == source and e.converter not in converters:
            converters.append(e.converter)
    for convert in converters:
        try:
            return convert(reference)
        except NotThisReference:
            continue
    raise TypeError(
        f"from_{source} cannot convert a {type(reference).__name__}; the {source} models nets converts are "
        f"those of {', '.join(e for e in list_models() if entry(e).source == source)}."
    )


def from_torchvision(tv_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to a torchvision model instance, weights copied.

    Accepts torchvision's AlexNet, VGG (with or without BatchNorm), ResNet, GoogLeNet and Inception3
    (whatever their ``aux_logits`` / ``transform_input`` flags) and EfficientNet (B0-B7). In eval mode
    and float32 the two give the same logits (the tests check every one).
    """
    return _convert(tv_model, "torchvision")


def from_timm(timm_model: nn.Module) -> nn.Module:
    """The ``nets`` model equivalent to timm's ``inception_v4`` or ``inception_resnet_v2``, weights copied."""
    return _convert(timm_model, "timm")


def _offline_error(name: str, source: str, err: BaseException) -> RuntimeError:
    return RuntimeError(
        f"could not download the ImageNet weights for {name} from {source} ({type(err).__name__}: {err}). "
        "pretrained=True needs a network connection the first time; afterwards the weights are cached "
        "(torch hub: ~/.cache/torch/hub/checkpoints, timm: the Hugging Face cache). Connect and retry, or "
        f"build without weights: nets.build({name!r})."
    )


def _hub_unreachable(timm_name: str, timeout: float = 5.0) -> OSError | None:
    """Why the Hugging Face hub cannot be reached for ``timm_name``'s weights (None: cached, or reachable)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        repo = f"timm/{timm_name}"
        if any(
            isinstance(try_to_load_from_cache(repo, f), str)
            for f in ("model.safetensors", "pytorch_model.bin")
        ):
            return None
    except ImportError:
        pass
    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        return err
    return None


def _reference(e: ModelEntry, flags: dict, tag: str | None) -> nn.Module:
    source, _, weights = e.weights.partition(":")
    if source == "timm":
        try:
            import timm
        except ImportError as err:
            raise RuntimeError(
                f"the {e.name} weights come from timm, which is not installed: pip install timm"
            ) from err
        offline = _hub_unreachable(weights)
        if offline is not None:  # fail now: huggingface_hub would retry for about a minute first
            raise _offline_error(e.name, "the Hugging Face hub (timm)", offline)
        try:
            return timm.create_model(weights, pretrained=True)
        except (OSError, urllib.error.URLError) as err:  # requests/huggingface_hub errors are OSErrors
            raise _offline_error(e.name, "the Hugging Face hub (timm)", err) from err
    from torchvision import models as tv

    if tag is not None:
        family_enum = weights.partition(".")[0]
        available = [w.name for w in tv.get_model_weights(e.name)]
        if tag not in available:
            raise ValueError(f"{family_enum} has no {tag!r}; it has: {', '.join(available)}")
        weights = f"{family_enum}.{tag}"
    enum = tv.get_weight(weights)
    try:
        return tv.get_model(e.name, weights=enum, **flags)
    except (OSError, urllib.error.URLError) as err:
        raise _offline_error(e.name, f"torchvision ({weights})", err) from err


def load_pretrained(
    name: str, num_classes: int = 1000, *, weights: str | None = None, **options
) -> nn.Module:
    """``name`` with the reference ImageNet weights (downloaded once, then cached) converted to ``nets``.

    ``weights`` picks another tag of the same torchvision weights enum (``"IMAGENET1K_V2"``).
    """
    e = entry(name)
    if num_classes != 1000:
        raise ValueError(
            f"the ImageNet weights have 1000 classes, not {num_classes}. Build with pretrained=True and "
            "num_classes=1000, then replace the classifier to fine-tune on your classes."
        )
    if e.weights is None:
        others = [n for n in list_models(e.family) if entry(n).weights is not None]
        raise ValueError(
            f"no reference weights exist for {e.name}; models of its family that have them: "
            f"{', '.join(others) or 'none'}."
        )
    flags = {k: options.pop(k) for k in ("aux_logits", "transform_input") if k in options}
    if options or (flags and e.source == "timm"):
        raise ValueError(
            f"pretrained=True builds the reference architecture; options {sorted(options | flags)} "
            "would change it. Build without pretrained=True to use them."
        )
    return e.converter(_reference(e, flags, weights)).eval()
