"""What every chapter shows as a picture: filters, feature maps, training curves, architectures, data.

Every function returns a matplotlib ``Figure`` (a ``BookFigure``) that is already closed in pyplot. In
Jupyter, make the call the cell's last expression (or pass the figure to ``display``): the notebook
renders it exactly once, as a light image (``page``). Because the figure is not left open, pyplot's
end-of-cell flush (and ``plt.show()``) do not draw it a second time -- and ``plt.show()`` alone does not
draw it at all. In a script, call ``fig.savefig(path)``. (tests/test_viz.py runs a notebook to check
these rules.)

- ``page``: how a figure reaches the page (``encode_figure``, ``BookFigure``, ``DPI``...);
- ``describe``: a figure's alt text, read from its titles, labels and data;
- ``style``: the one figure factory, with the one set of sizes and colours every figure uses;
- ``filters``: first-layer filters and feature maps; ``architecture``: a model's parts in forward order;
- ``curves``: training curves; ``samples``: a photograph, training images, the ILSVRC results;
- ``seeds``: experiments over several seeds, every seed shown;
- ``showdown``: the showdown's charts (every contender on one picture).
"""

from .architecture import Part, architecture_diagram, architecture_parts
from .curves import training_curves
from .describe import describe
from .filters import feature_maps, filter_change, filter_grid
from .page import (
    DPI,
    JPEG_QUALITY,
    MIN_DPI,
    MIN_TEXT_PX,
    PAGE_WIDTH_PX,
    BookFigure,
    encode_figure,
    smallest_text_px,
)
from .page import _draw as _draw  # private, but the tests reach it (and _displayable) here
from .samples import _displayable as _displayable
from .samples import ilsvrc_chart, sample_grid, sample_photo
from .seeds import seed_bands, seed_points
from .showdown import FAMILY_COLORS, METRICS, bubble_chart, budget_chart, metric_chart, race_chart

__all__ = [
    "DPI",
    "FAMILY_COLORS",
    "JPEG_QUALITY",
    "METRICS",
    "MIN_DPI",
    "MIN_TEXT_PX",
    "PAGE_WIDTH_PX",
    "BookFigure",
    "Part",
    "architecture_diagram",
    "architecture_parts",
    "bubble_chart",
    "budget_chart",
    "describe",
    "encode_figure",
    "feature_maps",
    "filter_change",
    "filter_grid",
    "ilsvrc_chart",
    "metric_chart",
    "race_chart",
    "sample_grid",
    "sample_photo",
    "seed_bands",
    "seed_points",
    "smallest_text_px",
    "training_curves",
]
