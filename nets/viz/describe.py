"""Alt text for a figure, read from the figure itself: what a reader who cannot see it is told.

``describe(fig)`` says what the figure shows: its title, then each panel's title, what is plotted
against what (the axis labels), the series by their legend names with where each starts and ends, the
bars with their values, the images with their size. A grid of many untitled images (filters, feature
maps, thumbnails) reads as one sentence. A figure that knows better sets ``fig.alt_text`` (a
``BookFigure`` attribute), which is used as it is.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

MAX_CHARS = 700  # alt text longer than this is cut at a sentence: a screen reader reads it all at once
MAX_PANELS = 6  # panels described one by one; the rest are counted
MAX_SERIES = 4  # lines or bars named one by one in a panel
MAX_BARS = 8


def _clean(text: str) -> str:
    """One line of plain text: no TeX dollars, no line breaks, no repeated spaces."""
    return re.sub(r"\s+", " ", text.replace("$", "")).strip()


def _number(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else "none"


def _title(ax: Axes) -> str:
    return "; ".join(t for loc in ("left", "center", "right") if (t := _clean(ax.get_title(loc))))


def _named(items: list, what: str) -> str:
    shown = ", ".join(items[:MAX_SERIES])
    return shown + (f" and {len(items) - MAX_SERIES} more {what}" if len(items) > MAX_SERIES else "")


def _lines(ax: Axes) -> str:
    lines = [line for line in ax.get_lines() if line.get_visible() and len(line.get_xdata()) > 1]
    named = []
    for line in lines:
        y = np.asarray(line.get_ydata(), dtype=float)
        if not np.isfinite(y).any() or len(np.unique(y[np.isfinite(y)])) == 1:
            continue  # a reference line (a constant) or an empty series: not data
        name = _clean(line.get_label()) if not line.get_label().startswith("_") else ""
        finite = y[np.isfinite(y)]
        named.append(f"{name or 'a line'} from {_number(finite[0])} to {_number(finite[-1])}")
    return f"{len(named)} lines: " + _named(named, "lines") if len(named) > 1 else "".join(named)


def _bars(ax: Axes) -> str:
    heights = []
    for container in ax.containers:
        if isinstance(container, BarContainer):
            horizontal = container.orientation == "horizontal"
            heights += [p.get_width() if horizontal else p.get_height() for p in container.patches]
    if not heights:
        return ""
    if len(heights) > MAX_BARS:
        return f"{len(heights)} bars from {_number(min(heights))} to {_number(max(heights))}"
    return f"{len(heights)} bars: " + ", ".join(_number(h) for h in heights)


def _points(ax: Axes) -> str:
    count = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    return f"{count} points" if count else ""


def _images(ax: Axes) -> str:
    shapes = [np.shape(image.get_array())[:2] for image in ax.get_images()]
    return " and ".join(f"an image of {w}×{h} pixels" for h, w in shapes)


def _panel(ax: Axes) -> str:
    """One sentence for one axes: its title, y against x, and what is drawn in it."""
    xlabel, ylabel = _clean(ax.get_xlabel()), _clean(ax.get_ylabel())
    plotted = f"{ylabel} against {xlabel}" if xlabel and ylabel else ylabel or xlabel
    drawn = [part for part in (_lines(ax), _bars(ax), _points(ax), _images(ax)) if part]
    words = [part for part in (_title(ax), plotted) if part]
    head = ": ".join(words) if words else ""
    body = "; ".join(drawn)
    return f"{head}, {body}" if head and body else head or body


def _is_colorbar(ax: Axes) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def describe(fig: Figure) -> str:
    """Alt text for ``fig``: ``fig.alt_text`` if it set one, else a description read from its parts."""
    given = getattr(fig, "alt_text", None)
    if given:
        return _clean(given)
    sentences = []
    title = _clean(fig._suptitle.get_text()) if fig._suptitle is not None else ""
    axes = [ax for ax in fig.axes if ax.get_visible() and not _is_colorbar(ax)]
    panels = [_panel(ax) for ax in axes]
    images = sum(bool(ax.get_images()) for ax in axes)
    counts = Counter(p for p in panels if p)
    kind = "chart" if images < len(axes) / 2 else "picture"
    lead = f"A {kind} of {len(axes)} panels" if len(axes) > 1 else f"A {kind}"
    sentences.append(f"{lead}: {title}" if title else lead)
    if images > MAX_PANELS and images >= len(axes) / 2:
        titled = [_title(ax) for ax in axes if ax.get_images() and _title(ax)]
        grid = f"a grid of {images} images"
        sentences.append(grid + (f", titled {_named(titled, 'titles')}" if titled else ""))
    else:
        described = list(dict.fromkeys(p for p in panels if p))
        for panel in described[:MAX_PANELS]:
            sentences.append(panel + (f" (×{counts[panel]})" if counts[panel] > 1 else ""))
        if len(described) > MAX_PANELS:
            sentences.append(f"and {len(described) - MAX_PANELS} more panels")
    notes = [_clean(t.get_text()) for t in fig.texts if t.get_visible() and t is not fig._suptitle]
    sentences += [n for n in notes if n and len(n) <= 160]
    return _shorten(". ".join(s[0].upper() + s[1:] for s in sentences if s) + ".")


def _shorten(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    cut = text[: MAX_CHARS - 1]
    return (cut[: cut.rfind(". ") + 1] if ". " in cut else cut) + "…"
