"""The model zoo's index: ``build(name)``, ``list_models()``.

Each family module registers its factory functions with ``@register(...)``; the registry knows
nothing about architectures, only names, sizes and where to find the factory.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["ModelEntry", "build", "entry", "list_models", "register"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    factory: Callable[..., nn.Module]
    default_size: int  # the input resolution the reference weights were trained/evaluated at
    min_size: int  # the smallest input (height = width) the network accepts

    @property
    def options(self) -> list[str]:
        """Keyword options the factory takes besides ``num_classes``."""
        params = inspect.signature(self.factory).parameters
        return [p for p in params if p != "num_classes"]


_MODELS: dict[str, ModelEntry] = {}
# The book's order: the story runs from AlexNet (2012) to EfficientNet (2019).
FAMILIES = ("alexnet", "vgg", "resnet", "inception", "efficientnet")


def register(
    name: str, *, family: str, default_size: int, min_size: int
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: add a factory ``f(num_classes=1000, **options) -> nn.Module`` to the zoo."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if family not in FAMILIES:
            raise RuntimeError(f"{name}: unknown family {family!r}; add it to registry.FAMILIES")
        if name in _MODELS:
            raise RuntimeError(f"model {name!r} is registered twice")
        _MODELS[name] = ModelEntry(name, family, factory, default_size, min_size)
        return factory

    return decorator


def list_models(family: str | None = None) -> list[str]:
    """Names of every model ``build`` knows, in the book's order (optionally of one family)."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; the families are: {', '.join(FAMILIES)}")
    ordered = sorted(_MODELS.values(), key=lambda e: FAMILIES.index(e.family))  # stable: keeps file order
    return [e.name for e in ordered if family is None or e.family == family]


def entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; an unknown name raises ``ValueError`` with the closest match."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    for candidate in (key, key.replace("_", "")):  # "ResNet-18" -> "resnet18", "EfficientNet-B0" -> ..._b0
        if candidate in _MODELS:
            return _MODELS[candidate]
    close = difflib.get_close_matches(key, list_models(), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}.")


def build(name: str, num_classes: int = 1000, *, pretrained: bool = False, **options) -> nn.Module:
    """Build a contender by name, e.g. ``build("resnet50")`` or ``build("googlenet", aux_logits=True)``.

    ``pretrained=True`` fetches the reference ImageNet weights (torchvision, or timm for Inception v4
    and Inception-ResNet-v2) and converts them; it needs ``num_classes=1000`` and a network connection.
    """
    e = entry(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    unknown = sorted(set(options) - set(e.options))
    if unknown:
        raise ValueError(
            f"{e.name} has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(e.options) or 'none'}."
        )
    if pretrained:
        from .pretrained import load_pretrained

        return load_pretrained(e.name, num_classes=num_classes, **options)
    return e.factory(num_classes=num_classes, **options)
