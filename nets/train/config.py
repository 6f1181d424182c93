"""The settings of a training run: one frozen ``TrainConfig`` whose fields check themselves.

Each field says, in its metadata, how it is checked (a ``nets.checks`` helper), whether a resumed run
must match the checkpoint on it (``resume``), and what a checkpoint written before the field existed
was trained with (``before``). Adding an option is one field here and its one use in the loop.
``RunFacts`` records what a run was made of besides its settings (model, data, device), with the same
metadata; together they are a run's ``History.config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

from ..checks import check_bool, check_choice, check_float, check_int, check_probability, check_seed

__all__ = ["AMP_MODES", "MAX_IMAGE_SIZE", "OPTIMIZERS", "SCHEDULES", "RunFacts", "TrainConfig"]

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine")
AMP_MODES = ("auto", "bf16", "fp16", "off")
MAX_IMAGE_SIZE = 1024  # px: Imagenette's largest images are about this size; beyond it memory runs out first


def _setting(default: Any = None, check=None, *, resume: bool = False, before: Any = None,
             refresh: bool = False) -> Any:  # fmt: skip
    """A field with its check ``check(name, value) -> value``; ``resume``: a resumed run must match it;
    ``before``: its value in checkpoints written before it existed; ``refresh``: it describes the
    machine a run is on now, so a resumed run records the new value. A default of None means "decided
    when the run is planned" (by the budget, the optimizer or the recipe)."""
    meta = {"check": check, "resume": resume, "before": before, "refresh": refresh}
    return field(default=default, metadata=meta)


def _check_batch_size(name: str, value: object) -> int:
    size = check_int(name, value)
    if size < 2:
        raise ValueError(
            f"{name} must be at least 2: BatchNorm computes its statistics over the images of a batch "
            "and cannot with one"
        )
    return size


def _check_crop_scale(name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(
            f"{name} must be a pair of area fractions (smallest, largest), e.g. (0.35, 1.0); got {value!r}"
        )
    return tuple(check_float(name, v, low=0.0, high=1.0, low_open=True) for v in value)


def _check_amp(name: str, value: object) -> str | bool:
    return value if isinstance(value, bool) else check_choice(name, value, AMP_MODES)


_fraction = partial(check_float, low=0.0, high=1.0, low_open=True)
_non_negative = partial(check_float, low=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """How ``fit`` trains: every setting, checked when the object is made (see ``fit`` for what each
    does). ``None`` means "decide when the run is planned": from the budget's plan, else 5 epochs,
    batch 64, 128 px; ``lr`` from ``default_lr``; ``weight_decay`` 5e-4 (SGD) or 0.05 (AdamW); warmup a
    quarter of the run, at most one epoch; the augmentation and label smoothing from ``brief_recipe``
    (an EfficientNet's SGD run: 30 % warm-up, no smoothing; see ``settle``).
    """

    epochs: int | None = _setting(check=check_int, resume=True)
    batch_size: int | None = _setting(check=_check_batch_size, resume=True)
    image_size: int | None = _setting(check=partial(check_int, maximum=MAX_IMAGE_SIZE), resume=True)
    lr: float | None = _setting(check=partial(check_float, low=0.0, low_open=True), resume=True)
    optimizer: str = _setting("sgd", partial(check_choice, choices=OPTIMIZERS), resume=True)
    weight_decay: float | None = _setting(check=_non_negative, resume=True)
    schedule: str = _setting("onecycle", partial(check_choice, choices=SCHEDULES), resume=True)
    warmup_epochs: float | None = _setting(check=_non_negative, resume=True)
    label_smoothing: float | None = _setting(check=check_probability, resume=True)
    crop_scale: tuple[float, float] | None = _setting(check=_check_crop_scale, resume=True)
    eval_crop: float | None = _setting(check=_fraction, resume=True)
    # `shift` came with the brief recipe's pad-and-crop: runs checkpointed before it trained unshifted.
    shift: float | None = _setting(check=partial(check_float, low=0.0, high=0.5), resume=True, before=0.0)
    amp: str | bool = _setting("auto", _check_amp, refresh=True)  # recorded as the dtype it chose
    channels_last: bool = _setting(False, check_bool)
    compile: bool = _setting(False, check_bool)
    seed: int = _setting(0, check_seed, resume=True)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None or f.default is not None:
                object.__setattr__(self, f.name, f.metadata["check"](f.name, value))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (checked); an unknown name is refused with the list of settings."""
        names = [f.name for f in fields(self)]
        unknown = [k for k in changes if k not in names]
        if unknown:
            raise TypeError(
                f"unknown training setting{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
                f"the settings are {', '.join(names)}"
            )
        return dataclasses.replace(self, **changes)

    def record(self) -> dict[str, Any]:
        """The settings as ``History.config`` and ``metrics.json`` hold them (plain JSON values)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if values["crop_scale"] is not None:
            values["crop_scale"] = list(values["crop_scale"])
        return values


def _fact(*, resume: bool = False, refresh: bool = False) -> Any:
    return field(metadata={"resume": resume, "before": None, "refresh": refresh})


@dataclass(frozen=True)
class RunFacts:
    """What a run was made of besides its settings; recorded in ``History.config`` next to them."""

    model: str = _fact(resume=True)
    data: str = _fact(resume=True)
    is_standin: bool = _fact()
    classes: list[str] = _fact()
    train_size: int = _fact(resume=True)
    val_size: int = _fact(resume=True)
    device: str = _fact(refresh=True)
    world_size: int = _fact(refresh=True)
    budget: str | None = _fact()
    subset: int | None = _fact()
    torch: str = _fact(refresh=True)


def recorded_fields() -> list[dataclasses.Field]:
    """Every key of ``History.config``, with its metadata (``resume``, ``before``, ``refresh``)."""
    return [*fields(RunFacts), *fields(TrainConfig)]
