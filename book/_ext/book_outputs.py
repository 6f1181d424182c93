"""A Sphinx extension: what the book makes of a cell's outputs, beyond MyST-NB's defaults.

- An image output's alt text comes from the output's metadata. MyST-NB 1.x names each image output's
  file after its hash and gives the <img> that name as its alt text unless the cell's own metadata sets
  one; it reads only "width" and "height" from the output's metadata. ``nets.viz.BookFigure`` shows
  itself with ``metadata={mime: {"alt": ...}}`` (a description read from the figure's titles, labels
  and data): this makes the page use it.
- A missing value in an HTML table (a pandas table a chapter builds itself) reads as an en dash, as in
  the tables of ``nets.lab`` (``nets.lab.tables.dashed``), never NaN, None or <NA>.

Loaded by _config.yml's ``sphinx.local_extensions``.
"""

from __future__ import annotations

import re

from docutils import nodes
from myst_nb.core.render import MimeData, NbElementRenderer

MISSING = "–"  # nets.summary.MISSING: the book does not import nets here
_MISSING_CELL = re.compile(r"(<td[^>]*>)\s*(?:NaN|nan|None|&lt;NA&gt;|<NA>|NaT)\s*(</td>)")
_render_image = NbElementRenderer.render_image
_render_text_html = NbElementRenderer.render_text_html


def render_image(self: NbElementRenderer, data: MimeData) -> list:
    """MyST-NB's image node, with the output metadata's "alt" when the cell does not set one."""
    found = _render_image(self, data)
    alt = data.output_metadata.get(data.mime_type, {}).get("alt")
    for node in found:
        if isinstance(alt, str) and alt.strip() and not node.get("alt"):
            node["alt"] = alt.strip()
    return found


def render_text_html(self: NbElementRenderer, data: MimeData) -> list:
    """MyST-NB's raw HTML node, with every table cell that reads NaN/None/<NA> reading an en dash."""
    found = _render_text_html(self, data)
    return [
        nodes.raw(
            text=_MISSING_CELL.sub(rf"\1{MISSING}\2", node.astext()), format="html", classes=node["classes"]
        )
        if isinstance(node, nodes.raw) and "<td" in node.astext()
        else node
        for node in found
    ]


def setup(app) -> dict:
    NbElementRenderer.render_image = render_image
    NbElementRenderer.render_text_html = render_text_html
    return {"parallel_read_safe": True, "parallel_write_safe": True}
