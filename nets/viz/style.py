"""The one way every figure in nets is made, and the one set of sizes and colours they share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt

from .page import DPI, BookFigure

SMALL_PT = 7.0  # the smallest font size used in a figure: 7 pt at 100 dpi is 9.7 px on the page
STANDIN_COLOR = "tab:red"  # what marks a result that is not on Imagenette (titles, banners)


@contextmanager
def new_figure(width: float, height: float, image_format: str = "png") -> Iterator[BookFigure]:
    """A new pyplot figure that is closed when the block ends, even if drawing fails.

    Closing keeps Jupyter from drawing it twice (once as the cell's result, once in pyplot's flush)
    and keeps a half-drawn figure from appearing when a function raises. ``image_format``: "png" for
    charts, "auto" for figures with pictures in them (see ``encode_figure``).
    """
    fig = plt.figure(figsize=(width, height), dpi=DPI, FigureClass=BookFigure)
    fig.image_format = image_format
    try:
        yield fig
    finally:
        plt.close(fig)
