"""The model zoo's index: names, sizes and factories. It imports nothing of ``nets``.

Each family file in ``nets/models/`` registers its factories with ``@register(...)``, naming the
model's display name, its input sizes and where its reference weights come from (``weights``, and
the name of the family's ``convert`` function that copies them in). ``nets.zoo.build`` looks names up here; the registry knows
nothing about architectures, so it sits at the bottom of the house with no import cycle. The families'
order (the book's: AlexNet 2012 to EfficientNet 2019) is the order their files register in.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["ModelEntry", "builds", "entry", "families", "list_models", "register"]


@dataclass(frozen=True)
class ModelEntry:
    name: str  # what build() takes: "resnet50"
    display: str  # what a reader knows: "ResNet-50"
    family: str  # "resnet"
    factory: Callable[..., nn.Module]  # factory(num_classes=1000, *, **options)
    default_size: int  # the input resolution the reference weights were trained/evaluated at
    min_size: int  # the smallest input (height = width) the network accepts
    # The reference weights: "torchvision:<weights enum>" or "timm:<model.tag>"; None where none exist.
    weights: str | None = None
    # The name of the function in the family file that converts a reference model instance into ours
    # (``"from_torchvision"``); it copies the weights with nets.weights.copy_weights.
    convert: str | None = None

    @property
    def options(self) -> list[str]:
        """Keyword options the factory takes besides ``num_classes``."""
        params = inspect.signature(self.factory).parameters
        return [p for p in params if p != "num_classes"]

    @property
    def converter(self) -> Callable[[nn.Module], nn.Module] | None:
        """The converter ``convert`` names, looked up in the family file that registered the model."""
        if self.convert is None:
            return None
        return getattr(importlib.import_module(self.factory.__module__), self.convert)

    @property
    def source(self) -> str | None:
        """Where the reference weights come from: ``"torchvision"``, ``"timm"`` or ``None``."""
        return None if self.weights is None else self.weights.partition(":")[0]


_MODELS: dict[str, ModelEntry] = {}
_FAMILIES: list[str] = []  # in registration order: the order of the imports in nets/models/__init__.py


def register(
    name: str,
    *,
    display: str,
    family: str,
    default_size: int,
    min_size: int,
    weights: str | None = None,
    convert: str | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: add a factory ``f(num_classes=1000, *, **options) -> nn.Module`` to the zoo."""
    if name in _MODELS:
        raise RuntimeError(f"model {name!r} is registered twice")
    if (weights is None) != (convert is None):
        raise RuntimeError(f"{name}: weights= and convert= go together (both or neither)")
    if weights is not None and weights.partition(":")[0] not in ("torchvision", "timm"):
        raise RuntimeError(f"{name}: weights must be 'torchvision:...' or 'timm:...', got {weights!r}")

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        first = next(iter(inspect.signature(factory).parameters), None)
        if first != "num_classes":
            raise RuntimeError(f"{name}: a factory takes num_classes first, then keyword-only options")
        if family not in _FAMILIES:
            _FAMILIES.append(family)
        _MODELS[name] = ModelEntry(name, display, family, factory, default_size, min_size, weights, convert)
        return factory

    return decorator


def builds(
    cls: type[nn.Module], *options: str, **arguments: object
) -> Callable[[Callable[[], None]], Callable]:
    """Decorator: turn a stub ``def name(): "docstring"`` into a factory ``name(num_classes=1000, *, ...)`` of ``cls``.

    The factory calls ``cls(num_classes, **arguments, **options)``; it takes the keyword ``options`` named
    (all of ``cls``'s that ``arguments`` leaves open, if none are named) with ``cls``'s types and defaults,
    so ``help()`` and ``inspect.signature`` show them as if written out. A value in ``arguments`` for a
    named option is its default; any other value is fixed. The stub gives the name, docstring and module.
    """
    params = list(inspect.signature(cls, eval_str=True).parameters.values())
    first, rest = params[0], {p.name: p for p in params[1:]}
    unknown = sorted((set(options) | set(arguments)) - set(rest))
    if first.name != "num_classes" or unknown:
        raise RuntimeError(f"{cls.__name__} takes num_classes first and no option {unknown}")
    names = options or [name for name in rest if name not in arguments]
    shown = [p.replace(default=arguments.get(n, p.default)) for n, p in rest.items() if n in names]
    fixed = {name: value for name, value in arguments.items() if name not in names}
    signature = inspect.Signature([first.replace(default=1000), *shown], return_annotation=cls)

    def decorator(stub: Callable[[], None]) -> Callable[..., nn.Module]:
        def factory(*args: object, **kwargs: object) -> nn.Module:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:  # Python's own words, with the factory's name
                raise TypeError(f"{stub.__name__}() {error}") from None
            bound.apply_defaults()
            return cls(**bound.arguments, **fixed)

        factory.__name__, factory.__qualname__ = stub.__name__, stub.__qualname__
        factory.__doc__, factory.__module__ = stub.__doc__, stub.__module__
        factory.__signature__ = signature
        return factory

    return decorator


def families() -> list[str]:
    """The families, in the book's order."""
    return list(_FAMILIES)


def list_models(family: str | None = None) -> list[str]:
    """Names of every model ``build`` knows, in the book's order (optionally of one family)."""
    if family is not None and family not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; the families are: {', '.join(_FAMILIES)}")
    ordered = sorted(_MODELS.values(), key=lambda e: _FAMILIES.index(e.family))  # stable: keeps file order
    return [e.name for e in ordered if family is None or e.family == family]


def entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; an unknown name raises ``ValueError`` with the closest match.

    Forgiving about spelling: ``"ResNet-18"`` finds ``resnet18``, ``"EfficientNet-B0"`` ``efficientnet_b0``.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    for candidate in (key, key.replace("_", "")):
        if candidate in _MODELS:
            return _MODELS[candidate]
    for e in _MODELS.values():  # the display name, as printed in the book
        if e.display.lower().replace("-", "_") == key:
            return e
    close = difflib.get_close_matches(key, list_models(), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}.")
