"""One way to check an argument: every constructor, loader and trainer in ``nets`` calls these.

Each check returns the value (converted where that is safe, e.g. an ``int`` for an ``int``-valued
``float`` is *not* accepted) or raises ``ValueError`` naming the argument, what it must be and what it
got, so a bad call fails at the line that made it, not deep inside a layer. This module imports nothing
of ``nets``: models, data and training all use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

__all__ = [
    "check_bool",
    "check_choice",
    "check_float",
    "check_input_size",
    "check_int",
    "check_seed",
    "check_ints",
    "check_probability",
]


def check_int(name: str, value: object, *, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (``bool`` is refused: ``True`` is not a count)."""
    what = (
        "an integer"
        if minimum is None
        else "a positive integer"
        if minimum == 1
        else f"an integer >= {minimum}"
    )
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return value


MAX_SEED = 2**32 - 1  # numpy's and torch's generators all take seeds up to this


def check_seed(name: str, value: object) -> int:
    """A random seed: an integer in [0, 2**32 - 1], the range every generator nets seeds accepts."""
    if isinstance(value, Integral) and not isinstance(value, bool) and not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name} must be an integer from 0 to {MAX_SEED} (2**32 - 1), got {value!r}")
    return check_int(name, value, minimum=0)


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` within the given bounds (NaN and infinities are always refused)."""
    if low == 0 and high is None:
        what = "a positive number" if low_open else "a number >= 0"
    else:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        what = f"in {'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(
            f"{name} must be {'a finite number ' if what.startswith('in') else ''}{what}, got {value!r}"
        )
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_probability(name: str, value: object) -> float:
    """A dropout or drop-path probability: a number in [0, 1)."""
    return check_float(name, value, low=0.0, high=1.0, high_open=True)


def check_bool(name: str, value: object) -> bool:
    """``True`` or ``False`` exactly: ``"no"`` or ``1`` are refused rather than read as truthy."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Sequence[object]) -> object:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_ints(name: str, values: object, *, example: str, minimum: int = 1) -> list[int]:
    """A non-empty sequence of integers >= ``minimum`` (a list of blocks per stage, channel widths...)."""
    ok = isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0
    ok = ok and all(isinstance(v, Integral) and not isinstance(v, bool) and v >= minimum for v in values)
    if not ok:
        what = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{name} must be a non-empty list of {what}, e.g. {example}; got {values!r}")
    return [int(v) for v in values]


def check_input_size(input_size: object, *, example: tuple[int, ...] = (1, 3, 224, 224)) -> tuple[int, ...]:
    """The whole input shape ``(batch, channels, height, width)`` as a tuple of four positive ``int``.

    A bare side such as ``224`` is refused with a word on what the shape holds; ``example`` is the shape
    the messages suggest (the caller's default).
    """
    if isinstance(input_size, Real) or not isinstance(input_size, Sequence):
        batch, side = example[0], example[-1]
        images = f"one {side} px image" if batch == 1 else f"{batch} images of {side} px"
        raise ValueError(
            f"input_size is the whole input shape (batch, channels, height, width), e.g. {example} "
            f"for {images}; got {input_size!r}"
        )
    size = tuple(input_size)
    if len(size) != 4 or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"input_size must be four positive integers (batch, channels, height, width), e.g. {example}; "
            f"got {input_size!r}"
        )
    return tuple(int(s) for s in size)
