"""Tables as the book prints them: a missing value reads as an en dash, never ``NaN`` or ``None``.

``dashed(frame)`` returns the same frame (same numbers, index, columns and ``attrs``) as a
``DataFrame`` subclass whose HTML and text show ``nets.summary.MISSING`` for a missing value. Selecting,
filtering, sorting or rounding it keeps the subclass, so a chapter may slice a table and still print
dashes. pandas is imported on the first call only, as everywhere in ``nets.lab``.
"""

from __future__ import annotations

import functools
from typing import Any

from ..summary import MISSING, nones_as_nan

__all__ = ["MISSING", "dashed"]


def dashed(frame: Any) -> Any:
    """``frame`` (a pandas DataFrame) printed with ``MISSING`` where a value is missing."""
    cls = _dashed_class()
    if not hasattr(frame, "to_html") or not hasattr(frame, "columns"):
        raise TypeError(f"dashed needs a pandas DataFrame, got {type(frame).__name__}")
    out = cls(nones_as_nan(frame))
    out.attrs = dict(frame.attrs)
    return out


@functools.cache
def _dashed_class() -> type:
    import pandas as pd
    from pandas.io.formats import format as fmt

    class DashedFrame(pd.DataFrame):
        """A DataFrame that prints a missing value as an en dash (see ``nets.lab.tables``)."""

        @property
        def _constructor(self) -> type:
            return DashedFrame

        def _repr_html_(self) -> str | None:
            if self._info_repr() or not pd.get_option("display.notebook_repr_html"):
                return super()._repr_html_()
            formatter = fmt.DataFrameFormatter(
                self,
                na_rep=MISSING,
                float_format=pd.get_option("display.float_format"),
                bold_rows=True,
                escape=True,
                max_rows=pd.get_option("display.max_rows"),
                min_rows=pd.get_option("display.min_rows"),
                max_cols=pd.get_option("display.max_columns"),
                show_dimensions=pd.get_option("display.show_dimensions"),
            )
            return fmt.DataFrameRenderer(formatter).to_html(notebook=True)

        def __repr__(self) -> str:
            if self._info_repr():
                return super().__repr__()
            return self.to_string(na_rep=MISSING, **fmt.get_dataframe_repr_params())

    return DashedFrame
