"""The one way reference weights get into a ``nets`` model: a mapped, checked copy.

Every family converts torchvision's (or timm's) weights the same way. Its ``from_torchvision`` (or
``from_timm``) reads the reference model's configuration, builds the matching ``nets`` model and hands
:func:`copy_weights` a *key map*: pairs of (our module name, the reference's module name). For each pair
the copy checks that the two modules are the same kind of layer with the same hyper-parameters (kernel,
stride, padding, dilation, groups; BatchNorm's eps) and that every tensor has the same shape; then it
checks that every reference tensor found a place and every one of ours was filled. A reference that
differs anywhere (a ResNeXt handed to the ResNet converter, a modified classifier) is refused with the
layer named, instead of being copied into a network that computes something else.

This module imports nothing of ``nets``: the family files use it, and ``nets.zoo`` dispatches to them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["NotThisReference", "copy_weights", "expect_reference", "weighted_modules"]

# Hyper-parameters that change what a layer computes even where every tensor shape agrees.
_SAME = {
    nn.Conv2d: ("kernel_size", "stride", "padding", "dilation", "groups"),
    nn.BatchNorm2d: ("eps",),
    nn.Linear: (),
}


class NotThisReference(TypeError):
    """A converter was handed a reference model of another kind (``nets.zoo`` then tries the next one)."""


def expect_reference(reference: nn.Module, cls: type | tuple[type, ...], what: str) -> None:
    """Raise :class:`NotThisReference` unless ``reference`` is an instance of ``cls`` (named ``what``)."""
    if not isinstance(reference, cls):
        raise NotThisReference(f"expected {what}, got {type(reference).__name__}")


def weighted_modules(root: nn.Module) -> list[str]:
    """Names of the modules under ``root`` that hold tensors of their own, in registration order."""
    return [
        name
        for name, module in root.named_modules()
        if any(True for _ in module.parameters(recurse=False))
        or any(True for _ in module.buffers(recurse=False))
    ]


def _kind(module: nn.Module) -> type | None:
    return next((cls for cls in _SAME if isinstance(module, cls)), None)


def _check_pair(ours_name: str, ours: nn.Module, theirs_name: str, theirs: nn.Module, source: str) -> None:
    kind = _kind(ours)
    if kind is None or not isinstance(theirs, kind):
        raise ValueError(
            f"{source} {theirs_name} is a {type(theirs).__name__} where our {ours_name} is a "
            f"{type(ours).__name__}; cannot convert"
        )
    for attr in _SAME[kind]:
        a, b = getattr(ours, attr), getattr(theirs, attr)
        if a != b:
            raise ValueError(
                f"{source} {theirs_name} has {attr}={b} where our {ours_name} has {attr}={a}: a different "
                "architecture; cannot convert"
            )


def copy_weights(
    model: nn.Module,
    reference: nn.Module,
    key_map: Iterable[tuple[str, str]],
    *,
    source: str = "torchvision",
) -> nn.Module:
    """Copy ``reference``'s tensors into ``model`` through ``key_map`` and return ``model``.

    ``key_map`` pairs our module names with the reference's (``("stem.conv7x7.conv", "conv1")``).
    Raises ``ValueError`` naming the layer when a type, hyper-parameter or shape differs, when a
    reference tensor is left over or when one of ours is left empty. The result is on the reference's
    device and dtype and in its train/eval mode.
    """
    ours, theirs = dict(model.named_modules()), dict(reference.named_modules())
    their_state = reference.state_dict()
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for our_name, their_name in key_map:
        if our_name not in ours:
            raise ValueError(f"key map names {our_name!r}, which our {type(model).__name__} does not have")
        their_module = theirs.get(their_name)
        if their_module is None:
            raise ValueError(f"the {source} model has no layer {their_name!r}; cannot convert")
        _check_pair(our_name, ours[our_name], their_name, their_module, source)
        for key, tensor in ours[our_name].state_dict().items():
            their_key = f"{their_name}.{key}" if their_name else key
            if their_key not in their_state:
                raise ValueError(f"the {source} model has no tensor {their_key!r}; cannot convert")
            value = their_state[their_key]
            if value.shape != tensor.shape:
                raise ValueError(
                    f"shape mismatch: {source} {their_key} is {tuple(value.shape)}, our "
                    f"{our_name}.{key} is {tuple(tensor.shape)}; cannot convert"
                )
            state[f"{our_name}.{key}" if our_name else key] = value
            used.add(their_key)
    unused = sorted(set(their_state) - used)
    if unused:
        raise ValueError(
            f"{source} tensors with no counterpart here: {unused[:5]}{' ...' if len(unused) > 5 else ''}; "
            "cannot convert (a modified or different architecture?)"
        )
    missing = sorted(set(model.state_dict()) - set(state))
    if missing:
        raise ValueError(f"key map leaves our tensors {missing[:5]} without a {source} counterpart")
    first = next(iter(their_state.values()), None)
    if first is not None:
        model.to(device=first.device, dtype=first.dtype if first.is_floating_point() else None)
    model.load_state_dict(state, strict=True)
    return model.train(reference.training)
