"""Widgets that work in two places: live in Jupyter or Colab, and frozen into the rendered book.

A chapter writes::

    def draw(kernel_size):
        fig, ax = plt.subplots(figsize=(5, 3))
        ...                                   # draw; the open figure is captured and closed

    nets.widgets.explore(draw, kernel_size=[3, 5, 7, 11])

The static book has no kernel, so in the book build (``NETS_BOOK_BUILD=1``, set by
``scripts/build_book.py``) ``explore`` draws every option ahead of time into a ``widgets.Output``,
stacks the outputs in a ``widgets.Stack`` and ties the control to ``stack.selected_index`` with
``widgets.jsdlink``: a JavaScript link, so the saved page switches in the browser. A Python-side
``observe`` would need the kernel. Two parameters become nested stacks (one per value of the first,
each over the second), because two controls cannot be linked into one index without code.

In a live kernel the control is a free slider (or a text box for strings) and each value is drawn
on demand, so any value in the range works, not only the listed ones.

Figures are encoded as the rest of the book's are (``nets.viz.encode_figure``): at ``nets.viz.DPI`` and
no wider than the text column, as a 256-colour PNG when that loses nothing visible (charts), a JPEG when
the content is photo-like, else a lossless PNG, and shown as an ``<img>`` whose alt text
``nets.viz.describe`` reads from the figure. The precomputed outputs of one widget may weigh at most
``MAX_WIDGET_BYTES`` in the page, and they share one ``Layout`` model so the saved state stays small.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .viz import DPI, MIN_DPI, describe, encode_figure
from .viz.page import check_dpi

__all__ = ["BOOK_BUILD_ENV", "MAX_OUTPUTS", "MAX_WIDGET_BYTES", "Explorer", "explore"]

BOOK_BUILD_ENV = "NETS_BOOK_BUILD"  # scripts/build_book.py sets it to "1" for the executing kernels
MAX_OUTPUTS = 48  # precomputed outputs per widget: a chart adds ~5-15 KB to the page
MAX_WIDGET_BYTES = 400_000  # what one widget's precomputed outputs may add to the page (the page: 600 kB)
_FIGURE_WARN_BYTES = 60_000  # one figure this large is worth a warning: it is embedded once per option


class Explorer(widgets.VBox):
    """What ``explore`` returns: the controls above the view they switch.

    ``controls`` maps each parameter to its control, ``view`` is the ``Stack`` (static) or the
    ``Output`` (live), ``links`` holds the JavaScript links (empty when live).
    """

    def __init__(self, controls: dict[str, widgets.Widget], view: widgets.Widget, links: list, live: bool):
        super().__init__([*controls.values(), view])
        self.add_class("nets-explore")  # the browser test finds the widget by this class
        self.controls, self.view, self.links, self.live = controls, view, links, live

    def _repr_mimebundle_(self, **kwargs: object) -> dict | tuple[dict, dict] | None:
        """The widget, and beside it what it shows first, for a renderer without widgets.

        Pages, Jupyter and Colab pick the widget; the book's PDF (LaTeX takes no widget) and viewers
        without a kernel show the image of the initial state (or its text) instead of the widget's repr.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = _first_shown(self.view)
        if bundle is None:
            return bundle
        bundle.update(data)
        return (bundle, metadata) if metadata else bundle


def explore(
    render: Callable[..., object], *, live: bool | None = None, dpi: float = DPI, **params: Sequence[object]
) -> Explorer:
    """Show ``render(**values)`` for one or two parameters, each with its list of options.

    ``render`` draws a matplotlib figure (left open, shown or returned; it is captured at ``dpi`` as a
    PNG or a JPEG, whichever suits it, and closed) or returns something to display: an
    ``IPython.display.HTML``, a DataFrame, a str. ``dpi`` is at least ``nets.viz.MIN_DPI`` (90), so the
    text stays legible (a lower one is raised to it), and a figure is never drawn wider than the page:
    a figure of many panels should be wide rather than drawn at a low dpi. The first option of each
    parameter is shown first; its name, with spaces for underscores, labels its control.
    ``live=None`` picks by itself: live in a Jupyter/Colab kernel, static in the book build and
    outside a kernel. Fix other arguments with ``functools.partial`` or a lambda.
    """
    if not callable(render):
        raise TypeError(f"explore needs a function to draw with, got {type(render).__name__}")
    if not 1 <= len(params) <= 2:
        raise ValueError(
            f"explore varies one or two parameters, given as name=[options...]; got {len(params)}"
            f" ({', '.join(params) or 'none'}). Fix the others with functools.partial or a lambda."
        )
    for name, options in params.items():
        if isinstance(options, str | bytes) or not isinstance(options, Sequence) or len(options) == 0:
            raise ValueError(
                f"{name}= must be a non-empty list of options, e.g. {name}=[3, 5, 7]; got {options!r}"
            )
        labels = [str(o) for o in options]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{name}= has options that print the same ({labels}); make each one distinct")
    count = 1
    for options in params.values():
        count *= len(options)
    dpi = max(check_dpi(dpi), MIN_DPI)
    if live is None:
        live = _kernel_is_live()
    if live:
        return _live(render, params, dpi)
    if count > MAX_OUTPUTS:
        raise ValueError(
            f"explore would precompute {count} outputs into the page (at most {MAX_OUTPUTS}, ~10 KB each);"
            " give fewer options"
        )
    explorer = _static(render, params, dpi)
    weight = _page_bytes(explorer.view)
    if weight > MAX_WIDGET_BYTES:
        raise ValueError(
            f"explore's {count} precomputed outputs would add {weight / 1e3:.0f} kB to the page (at most "
            f"{MAX_WIDGET_BYTES / 1e3:.0f} kB per widget): give fewer options, or draw less in each figure "
            "(fewer panels, fewer points, no photographs repeated in every option)"
        )
    return explorer


def _kernel_is_live() -> bool:
    """True in a Jupyter/Colab kernel a reader drives; False in the book build or plain Python."""
    if os.environ.get(BOOK_BUILD_ENV) == "1":
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return getattr(shell, "kernel", None) is not None


def _static(render: Callable[..., object], params: dict[str, Sequence[object]], dpi: float) -> Explorer:
    (first, options), *rest = params.items()
    controls = {name: _selector(name, opts) for name, opts in params.items()}
    # One Layout model for every stack and output: the page saves each widget's layout in full (~1 kB).
    layout = widgets.Layout()
    if not rest:
        outputs = [_draw(render, {first: v}, dpi, layout) for v in options]
        view = widgets.Stack(outputs, selected_index=0, layout=layout)
        links = [widgets.jsdlink((controls[first], "index"), (view, "selected_index"))]
        return Explorer(controls, view, links, live=False)
    second, options2 = rest[0]
    inner = [
        widgets.Stack(
            [_draw(render, {first: a, second: b}, dpi, layout) for b in options2],
            selected_index=0,
            layout=layout,
        )
        for a in options
    ]
    view = widgets.Stack(inner, selected_index=0, layout=layout)
    links = [widgets.jsdlink((controls[first], "index"), (view, "selected_index"))]
    links += [widgets.jsdlink((controls[second], "index"), (stack, "selected_index")) for stack in inner]
    return Explorer(controls, view, links, live=False)


def _live(render: Callable[..., object], params: dict[str, Sequence[object]], dpi: int) -> Explorer:
    controls = {name: _free_control(name, options) for name, options in params.items()}
    out = widgets.Output()

    def values() -> dict[str, object]:
        return {name: control.value for name, control in controls.items()}

    def update(_change: object = None) -> None:
        out.outputs = ()
        try:
            _show(out, render, values(), dpi)
        except Exception:  # an observer's exception is lost in the kernel log: show it to the reader
            out.append_stderr(traceback.format_exc())

    _show(out, render, values(), dpi)  # the first drawing raises, so a broken chapter cell fails
    for control in controls.values():
        control.observe(update, names="value")
    return Explorer(controls, out, [], live=True)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _selector(name: str, options: Sequence[object]) -> widgets.Widget:
    """A control whose ``index`` picks an option: a slider for numbers, buttons otherwise."""
    labelled = [(str(o), o) for o in options]
    style = {"description_width": "initial"}
    if all(_is_number(o) for o in options):
        return widgets.SelectionSlider(options=labelled, description=name.replace("_", " "), style=style)
    return widgets.ToggleButtons(options=labelled, description=name.replace("_", " "), style=style)


def _free_control(name: str, options: Sequence[object]) -> widgets.Widget:
    """A control that takes any value: a slider over the options' range, a text box for strings."""
    label, first = name.replace("_", " "), options[0]
    common = {"description": label, "style": {"description_width": "initial"}, "continuous_update": False}
    if all(_is_number(o) and isinstance(o, Integral) for o in options):
        return widgets.IntSlider(value=int(first), min=int(min(options)), max=int(max(options)), **common)
    if all(_is_number(o) for o in options):
        low, high = float(min(options)), float(max(options))
        step = (high - low) / 100 or 0.1
        return widgets.FloatSlider(value=float(first), min=low, max=high, step=step, **common)
    if all(isinstance(o, str) for o in options):
        return widgets.Combobox(value=first, options=list(options), ensure_option=False, **common)
    return widgets.Dropdown(options=[(str(o), o) for o in options], description=label, style=common["style"])


def _draw(
    render: Callable[..., object], values: dict[str, object], dpi: float, layout: widgets.Layout
) -> widgets.Output:
    out = widgets.Output(layout=layout)
    _show(out, render, values, dpi)
    return out


# What a renderer without widgets shows for a widget whose first output is neither an image nor text.
_NO_STATIC_VIEW = "[an interactive table or figure: the web edition and the notebook show it]"


def _first_shown(view: widgets.Widget) -> tuple[dict[str, str], dict[str, object]]:
    """What ``view`` shows before a control is touched, as ({mime: data}, metadata): its first image, else
    its text as text/plain (a printed line, a DataFrame), else a note that only a widget shows it."""
    while isinstance(view, widgets.Stack) and view.children:
        view = view.children[view.selected_index or 0]
    outputs = getattr(view, "outputs", ())
    for output in outputs:
        data = {m: v for m, v in output.get("data", {}).items() if m in ("image/png", "image/jpeg")}
        if data:
            return data, {m: v for m, v in output.get("metadata", {}).items() if m in data}
        shown = re.search(r'<img src="data:(image/(?:png|jpeg));base64,([^"]+)" alt="([^"]*)"',
                          output.get("data", {}).get("text/html", ""))  # fmt: skip
        if shown:  # a figure, shown as an <img> with its alt text (see _image)
            mime, b64, alt = shown.groups()
            return {mime: b64}, {mime: {"alt": html.unescape(alt)}}
    texts = [o.get("text") or o.get("data", {}).get("text/plain", "") for o in outputs]
    text = "".join(t for t in texts if not re.fullmatch(r"<.* object>", t.strip()))
    return {"text/plain": text.rstrip("\n") if text.strip() else _NO_STATIC_VIEW}, {}


def _page_bytes(view: widgets.Widget) -> int:
    """What the outputs under ``view`` (a Stack of Outputs or of Stacks) weigh in the saved page."""
    if isinstance(view, widgets.Output):
        return sum(
            len(str(value))
            for o in view.outputs
            for value in (o.get("data") or {"text": o.get("text", "")}).values()
        )
    return sum(_page_bytes(child) for child in view.children)


def _show(out: widgets.Output, render: Callable[..., object], values: dict[str, object], dpi: float) -> None:
    """Append what ``render(**values)`` draws or returns to ``out``; close every figure it opened.

    Outputs are appended to the widget directly instead of captured with ``with out:`` from the kernel's
    messages: the image's format and size are ours to choose, the same code works without a kernel, and
    nbclient (the book build's executor) would overwrite appended outputs with captured ones. Printed
    text and warnings are captured here for the same reason.
    """
    before = set(plt.get_fignums())
    figures: list[Figure] = []
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        # plt.show() inside render would send the figure to the cell, not the widget: keep it open instead
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), _no_show():
            result = render(**values)
        figures = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        if isinstance(result, Figure) and result not in figures:
            figures.append(result)
        for fig in figures:
            out.outputs += ({"output_type": "display_data", "data": _image(fig, dpi), "metadata": {}},)
    finally:
        for n in set(plt.get_fignums()) - before:
            plt.close(n)
        for fig in figures:
            plt.close(fig)
    if stdout.getvalue():
        out.append_stdout(stdout.getvalue())
    if stderr.getvalue():
        out.append_stderr(stderr.getvalue())
    if isinstance(result, str):
        out.append_stdout(result if result.endswith("\n") else result + "\n")
    elif result is not None and not isinstance(result, Figure):
        out.append_display_data(result)


@contextlib.contextmanager
def _no_show() -> Iterator[None]:
    show = plt.show
    plt.show = lambda *args, **kwargs: None
    try:
        yield
    finally:
        plt.show = show


def _image(fig: Figure, dpi: float) -> dict[str, str]:
    """The figure as an ``<img>`` that carries its alt text (``nets.viz.describe``), and that text alone.

    HTML rather than an image/png bundle: the widget manager draws an image bundle as an ``<img>``
    without alt text, whatever the output's metadata says; an Output widget's HTML is trusted.
    """
    mime, data = _encode(fig, dpi)
    alt = describe(fig)
    source = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"text/html": f'<img src="{source}" alt="{html.escape(alt)}">', "text/plain": alt}


def _encode(fig: Figure, dpi: float) -> tuple[str, bytes]:
    mime, data = encode_figure(fig, dpi)
    if len(data) > _FIGURE_WARN_BYTES:
        warnings.warn(
            f"a {len(data) // 1000} KB figure is embedded in the page once per option; "
            "draw less in it (fewer panels or points) to keep the page light",
            stacklevel=4,
        )
    return mime, data
