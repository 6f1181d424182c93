"""How a figure reaches the page: drawn small enough for the text column, sent as a light image.

``encode_figure`` (which ``nets.widgets`` uses for its precomputed outputs too) draws a figure at ``DPI``
(100) but never wider than the book's text column (``PAGE_WIDTH_PX``), so that no text is smaller than
``MIN_TEXT_PX`` (9 px) on the page; then sends it as a 256-colour PNG when that loses nothing visible
(charts and diagrams: 10-30 KB), else as a JPEG when that is much smaller than a lossless PNG
(photographs, e.g. ``sample_grid``'s thumbnails), else as an optimised lossless PNG. A ``BookFigure``
shows itself in a notebook that way.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..checks import check_float
from .describe import describe

DPI = 100  # every figure's resolution (nets.widgets draws at it too)
PAGE_WIDTH_PX = 800  # the book's text column: the browser shrinks a wider image to fit
MIN_TEXT_PX = 9.0  # the smallest text a figure may show on the page, in CSS pixels (font size)
MIN_DPI = 90  # nets.widgets draws no figure coarser than this (10 pt text: 12.5 px)
JPEG_QUALITY = 85
_JPEG_GAIN = 0.6  # a JPEG is sent only when it is at most 60% of the lossless PNG: photographs
_PALETTE_MEAN_ERROR = 1.0  # a 256-colour PNG is sent when the pixels' mean error (of 255) is at most this
_PALETTE_RARE_ERROR = 10  # ... and 99.9% of pixels are off by at most this much in any channel
_PALETTE_MAX_COLOURS = 1 << 14  # an image with more distinct colours is a photograph: no palette tried
_PALETTE_SIZES = (16, 32, 64, 128)  # smaller palettes tried before 256 colours, smallest first


class BookFigure(Figure):
    """A matplotlib ``Figure`` that a notebook shows as a light image, encoded by ``encode_figure``.

    ``image_format`` says what it holds: ``"png"`` for charts and diagrams (lines, bars and text stay
    crisp: a 256-colour or lossless PNG), ``"auto"`` for pictures (a JPEG when the content is
    photo-like, else a PNG). ``alt_text`` says in words what it shows; left at None, ``describe`` reads
    it from the figure (titles, axis labels, series, bars, images). The notebook output carries it as
    the image's ``alt`` metadata and as its text/plain. Everything else is a plain ``Figure``:
    ``savefig``, ``axes``, ``texts``...
    """

    image_format: str = "auto"
    alt_text: str | None = None  # what the figure shows, in words; None: ``describe`` reads it from the parts

    def _ipython_display_(self) -> None:
        # Shows the figure instead of the inline backend's full-colour PNG at the figure's dpi: an
        # object's _ipython_display_ comes before every formatter, including the one matplotlib
        # registers for all Figures (a _repr_jpeg_ would be shown beside that PNG, not instead of it).
        # The alt text rides in the output's metadata, where the book's Sphinx extension (and any front
        # end that looks) finds it, and as the text/plain a text-only front end shows.
        from IPython.display import display

        mime, data = encode_figure(self)
        alt = describe(self)
        bundle = {mime: base64.b64encode(data).decode("ascii"), "text/plain": alt}
        display(bundle, metadata={mime: {"alt": alt}}, raw=True)


MAX_DPI = 600  # a page figure drawn finer than this only weighs more (and 1e5 would not fit in memory)


def check_dpi(dpi: object) -> float:
    """``dpi`` as a float in [1, MAX_DPI]: one line naming it otherwise."""
    return check_float("dpi", dpi, low=1.0, high=float(MAX_DPI))


def _page_dpi(fig: Figure, dpi: float) -> float:
    """``dpi``, lowered so the figure (its tight bounding box, padded as savefig pads it) fits the page."""
    fig.draw_without_rendering()
    width = fig.get_tightbbox().width + 2 * plt.rcParams["savefig.pad_inches"]
    return min(float(dpi), PAGE_WIDTH_PX / width)


def smallest_text_px(fig: Figure, dpi: float | None = None) -> float:
    """The font size, in CSS pixels on the page, of the smallest visible text in ``fig``.

    The figure is drawn at ``dpi`` (default: its own) and shrunk to the page's width if wider, as
    ``encode_figure`` does. Tick labels, legends, titles and free text all count; ``MIN_TEXT_PX`` is the
    floor the book keeps to.
    """
    dpi = _page_dpi(fig, dpi or fig.dpi)
    texts = fig.findobj(lambda a: isinstance(a, Text) and a.get_visible() and a.get_text().strip() != "")
    if not texts:
        return math.inf
    return min(t.get_fontsize() for t in texts) * dpi / 72


def _draw(fig: Figure, dpi: float) -> Any:
    """The figure's pixels at ``dpi`` (tight bounding box) on white, as a Pillow RGB image."""
    from PIL import Image

    buffer = io.BytesIO()  # an uncompressed PNG: the fastest way to get the pixels of a tight bbox
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pil_kwargs={"compress_level": 0})
    with Image.open(buffer) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, "white")
    return Image.alpha_composite(white, rgba).convert("RGB")


def _saved(image: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _palette_png(image: Any) -> bytes | None:
    """The image as a PNG of as few colours as lose nothing visible (16 to 256), or None if even 256 would
    change it visibly (or it is a photograph). 16 colours make a 4-bit PNG, which is a third smaller."""
    from PIL import Image

    if image.getcolors(_PALETTE_MAX_COLOURS) is None:
        return None
    original = np.asarray(image, dtype=np.int16)

    def quantised(colours: int) -> Any:
        palette = image.quantize(colours, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
        error = np.abs(np.asarray(palette.convert("RGB"), dtype=np.int16) - original).max(axis=-1)
        visible = error.mean() > _PALETTE_MEAN_ERROR or np.percentile(error, 99.9) > _PALETTE_RARE_ERROR
        return None if visible else palette

    full = quantised(256)
    if full is None:
        return None
    best = next((q for q in map(quantised, _PALETTE_SIZES) if q is not None), full)
    return _saved(best, "PNG", optimize=True)


def encode_figure(
    fig: Figure, dpi: float | None = None, image_format: str | None = None
) -> tuple[str, bytes]:
    """``fig`` as the book shows it: ``(mime type, bytes)`` of a PNG or a JPEG.

    Drawn at ``dpi`` (default: the figure's own) with a tight bounding box, but never wider than
    ``PAGE_WIDTH_PX``: a wider image would be shrunk by the browser anyway, text and all. Then:

    - a 256-colour PNG if that loses nothing visible (charts, diagrams, most line art);
    - else, for ``image_format="auto"`` (default: the figure's ``image_format``, "auto" for a plain
      Figure), a JPEG (quality ``JPEG_QUALITY``) when it is at most 60% of the lossless PNG, as it is for
      photographs; ``"jpeg"`` always gives a JPEG;
    - else an optimised lossless PNG.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure (what nets.viz's functions return), got {fig!r}")
    if dpi is not None:
        dpi = check_dpi(dpi)
    image_format = image_format or getattr(fig, "image_format", "auto")
    if image_format not in ("auto", "png", "jpeg"):
        raise ValueError(f"image_format must be 'auto', 'png' or 'jpeg', got {image_format!r}")
    image = _draw(fig, float(dpi or fig.dpi))
    if image.width > PAGE_WIDTH_PX:  # drawn again at the resolution the page will show it at
        image = _draw(fig, float(dpi or fig.dpi) * PAGE_WIDTH_PX / image.width)
    if image_format == "jpeg":
        return "image/jpeg", _saved(image, "JPEG", quality=JPEG_QUALITY, optimize=True)
    palette = _palette_png(image)
    if palette is not None:
        return "image/png", palette
    lossless = _saved(image, "PNG", optimize=True)
    if image_format == "auto":
        jpeg = _saved(image, "JPEG", quality=JPEG_QUALITY, optimize=True)
        if len(jpeg) <= _JPEG_GAIN * len(lossless):
            return "image/jpeg", jpeg
    return "image/png", lossless
