"""A Sphinx extension: an image output's alt text comes from the output's metadata.

MyST-NB 1.x names each image output's file after its hash and gives the <img> that name as its alt text
unless the cell's own metadata sets one; it reads only "width" and "height" from the output's metadata.
``nets.viz.BookFigure`` shows itself with ``metadata={mime: {"alt": ...}}`` (a description read from
the figure's titles, labels and data): this makes the page use it. Loaded by _config.yml's
``sphinx.local_extensions``.
"""

from __future__ import annotations

from myst_nb.core.render import MimeData, NbElementRenderer

_render_image = NbElementRenderer.render_image


def render_image(self: NbElementRenderer, data: MimeData) -> list:
    """MyST-NB's image node, with the output metadata's "alt" when the cell does not set one."""
    nodes = _render_image(self, data)
    alt = data.output_metadata.get(data.mime_type, {}).get("alt")
    for node in nodes:
        if isinstance(alt, str) and alt.strip() and not node.get("alt"):
            node["alt"] = alt.strip()
    return nodes


def setup(app) -> dict:
    NbElementRenderer.render_image = render_image
    return {"parallel_read_safe": True, "parallel_write_safe": True}
