"""What a chapter shows about a model: parameter and MAC counts, the layer summary, the paper table."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .cards import card
from .checks import check_input_size
from .probes import device_of, eval_mode
from .registry import entry
from .zoo import build

MISSING = (
    "–"  # what a table shows for a number nobody gave (an en dash; nets.lab.tables.dashed prints it too)
)

__all__ = ["PaperTable", "count_macs", "count_params", "layer_summary", "paper_table"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params expects an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> int:
    """Multiply-accumulates of one forward pass, as torchinfo's ``input_size`` (e.g. ``(1, 3, 224, 224)``).

    Counted with ``torch.utils.flop_counter`` (MACs = FLOPs / 2) in eval mode on a zero input, so it
    covers every convolution and matrix product. This is the quantity torchvision's "GFLOPS" column and
    most papers' "multiply-adds" report.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_macs expects an nn.Module, got {type(model).__name__}")
    size = check_input_size(input_size)
    counter = FlopCounterMode(display=False)
    with eval_mode(model), torch.no_grad(), counter:
        model(torch.zeros(size, device=device_of(model)))
    return counter.get_total_flops() // 2


def _default_input_size(model: nn.Module) -> tuple[int, int, int, int]:
    name = getattr(model, "name", None)
    size = entry(name).default_size if isinstance(name, str) else 224
    return (1, 3, size, size)


def layer_summary(model: nn.Module, input_size: Sequence[int] | None = None, depth: int = 3):
    """torchinfo's layer-by-layer table: output shape, parameters and mult-adds of every layer.

    ``input_size`` defaults to the model's reference resolution. The result prints as the table.
    """
    import torchinfo

    size = check_input_size(input_size) if input_size is not None else _default_input_size(model)
    with eval_mode(model):
        return torchinfo.summary(
            model,
            input_size=size,
            depth=depth,
            col_names=("output_size", "num_params", "mult_adds"),
            row_settings=("var_names",),
            device=device_of(model),
            mode="eval",
            verbose=0,
        )


class PaperTable:
    """Ours vs the paper vs the reference implementation, with how each number was measured.

    ``frame`` is a pandas DataFrame (rows: parameters, GMACs, top-1, top-5); ``notes`` says where the
    paper's and the reference's numbers come from. Renders as an HTML table in notebooks.
    """

    def __init__(self, name: str, frame, notes: list[str]) -> None:
        self.name, self.frame, self.notes = name, nones_as_nan(frame), notes

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return f"{self.frame.to_html(na_rep=MISSING, escape=True)}<ul style='font-size:90%'>{notes}</ul>"

    def __repr__(self) -> str:
        return f"{self.frame.to_string(na_rep=MISSING)}\n" + "\n".join(f"- {n}" for n in self.notes)


def nones_as_nan(frame):
    """``frame`` with ``None`` cells as NaN: pandas before 2.3 prints a None of an object column as
    "None" whatever ``na_rep`` says, and NaN as ``na_rep``."""
    columns = [c for c in frame.columns if frame[c].dtype == object]
    if not columns:
        return frame
    frame = frame.copy()
    for c in columns:
        frame[c] = frame[c].where(frame[c].notna(), float("nan"))
    return frame


def _agreement(ours: float, ref: float | None, exact: bool) -> str:
    if ref is None:
        return MISSING
    if exact and ours == ref:
        return "exact"
    return f"{100 * (ours - ref) / ref:+.2f}%"


def paper_table(name: str, model: nn.Module | None = None) -> PaperTable:
    """Params and MACs of ``nets``' model (computed now) beside the paper's and the reference's numbers.

    MACs are counted at the reference implementation's evaluation crop (the model's default size where
    there is no reference). Accuracies are the reported ones: ours would equal the reference's with its
    weights loaded, because the logits are equal (see ``nets.zoo``).
    """
    import pandas as pd

    c = card(name)
    model = build(c.name) if model is None else model
    crop = c.ref_crop or c.default_size
    params = count_params(model)
    gmacs = count_macs(model, (1, 3, crop, crop)) / 1e9
    ref = c.ref_source or "reference"
    frame = pd.DataFrame(
        {
            "nets (computed now)": [f"{params:,}", f"{gmacs:.3f}", None, None],
            "paper": [
                c.paper_params_text,
                None if c.paper_gmacs is None else f"{c.paper_gmacs:g}",
                None if c.paper_top1 is None else f"{c.paper_top1:.2f}",
                None if c.paper_top5 is None else f"{c.paper_top5:.2f}",
            ],
            "reference implementation": [
                None if c.ref_params is None else f"{c.ref_params:,}",
                None if c.ref_gmacs is None else f"{c.ref_gmacs:.3f}",
                None if c.ref_top1 is None else f"{c.ref_top1:.3f}",
                None if c.ref_top5 is None else f"{c.ref_top5:.3f}",
            ],
            "nets vs reference": [
                _agreement(params, c.ref_params, exact=True),
                _agreement(gmacs, c.ref_gmacs, exact=False),
                None,
                None,
            ],
        },
        index=["parameters", f"GMACs @ {crop}px", "top-1 accuracy %", "top-5 accuracy %"],
    )
    notes = [f"Paper: {c.paper}. Source: {c.paper_source}; {c.paper_eval}."]
    if c.ref_source:
        notes.append(
            f"Reference: {ref} (the weights nets.build({c.name!r}, pretrained=True) loads), evaluated at a "
            f"{crop}px crop (single crop, ImageNet val)."
        )
    if c.note:
        notes.append(f"Note: {c.note}.")
    return PaperTable(c.name, frame, notes)
