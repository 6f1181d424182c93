"""nets.widgets.explore: precomputed outputs switched by JavaScript links (the book), free controls (live)."""

from __future__ import annotations

import base64
import io
import re

import ipywidgets as widgets
import matplotlib
import pytest
from ipywidgets.embed import embed_data
from ipywidgets.widgets.widget_link import DirectionalLink

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import HTML  # noqa: E402
from PIL import Image  # noqa: E402

from nets import viz  # noqa: E402
from nets import widgets as nw  # noqa: E402


def draw_line(kernel_size: int, stride: int = 1) -> None:
    """A small figure that differs with every argument, like a chapter's."""
    x = np.linspace(0, 4, 200)
    y = np.convolve(np.sin(3 * x), np.ones(kernel_size) / kernel_size, mode="same")[::stride]
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot(x[::stride], y)
    ax.set(title=f"k={kernel_size}, s={stride}", xlabel="x", ylabel="y")


def pngs(output: widgets.Output) -> list[bytes]:
    return images(output, "image/png")


def images(output: widgets.Output, mime: str | None = None) -> list[bytes]:
    """The images ``output`` holds (of one type, or of any), decoded from base64: image bundles and the
    ``<img src="data:...">`` a figure is shown as."""
    found = [
        (key, value)
        for o in output.outputs
        for key, value in o.get("data", {}).items()
        if key.startswith("image/")
    ]
    for o in output.outputs:
        found += re.findall(
            r'<img src="data:([\w/+.-]+);base64,([^"]+)"', o.get("data", {}).get("text/html", "")
        )
    return [base64.b64decode(value) for key, value in found if mime in (None, key)]


def draw_photo(size: int) -> None:
    """A photograph, as a chapter might show one next to its numbers."""
    photo = viz._displayable(viz.sample_photo(size))
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(photo)
    ax.set_title(f"{size} px")


def links_of(explorer: nw.Explorer) -> set[tuple[str, str, str, str]]:
    return {
        (link.source[0].model_id, link.source[1], link.target[0].model_id, link.target[1])
        for link in explorer.links
    }


def test_static_precomputes_each_option_and_links_the_slider_in_javascript():
    calls = []
    explorer = nw.explore(
        lambda kernel_size: calls.append(kernel_size) or draw_line(kernel_size),
        live=False,
        kernel_size=[3, 5, 9],
    )
    assert calls == [3, 5, 9]
    slider = explorer.controls["kernel_size"]
    assert isinstance(slider, widgets.SelectionSlider) and slider.description == "kernel size"
    assert isinstance(explorer.view, widgets.Stack) and len(explorer.view.children) == 3
    shown = [pngs(out) for out in explorer.view.children]
    assert all(len(found) == 1 for found in shown)
    assert len({found[0] for found in shown}) == 3, "every option must show a different figure"
    assert all(found[0].startswith(b"\x89PNG") and len(found[0]) < 15_000 for found in shown)
    assert all(isinstance(link, DirectionalLink) for link in explorer.links)  # JS-side, not observe
    assert links_of(explorer) == {(slider.model_id, "index", explorer.view.model_id, "selected_index")}
    assert plt.get_fignums() == [], "figures must be closed once captured"
    assert "nets-explore" in explorer._dom_classes


def test_charts_are_light_pngs_and_photographs_jpegs():
    charts = nw.explore(draw_line, live=False, kernel_size=[3, 9])
    for out in charts.view.children:
        (png,) = pngs(out)
        with Image.open(io.BytesIO(png)) as image:
            assert image.mode == "P"  # 256 colours: a chart loses nothing visible
            # drawn at the book's resolution: a 4-inch figure is ~400 px, its 10 pt text ~14 px tall
            assert 0.85 * 4 * viz.DPI <= image.width <= viz.PAGE_WIDTH_PX
    photos = nw.explore(draw_photo, live=False, size=[224, 160])
    for out in photos.view.children:
        assert pngs(out) == []
        (jpeg,) = images(out, "image/jpeg")
        with Image.open(io.BytesIO(jpeg)) as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "PNG", optimize=True)
        assert len(jpeg) < 0.6 * len(buffer.getvalue()), "a JPEG, because it is much smaller than the PNG"
    assert plt.get_fignums() == []


def test_a_low_dpi_is_raised_so_text_stays_legible_and_a_wide_figure_fits_the_page():
    def wide(k):
        fig, axes = plt.subplots(1, 3, figsize=(12, 2.5))  # many panels: wide, never a low dpi
        for ax in axes:
            ax.plot(range(k))

    small = nw.explore(lambda k: draw_line(k), live=False, dpi=50, k=[3])  # a 4-inch figure
    (png,) = pngs(small.view.children[0])
    with Image.open(io.BytesIO(png)) as image:
        assert 0.85 * 4 * viz.MIN_DPI <= image.width <= 4 * viz.MIN_DPI + 30
    (png,) = pngs(nw.explore(wide, live=False, k=[3]).view.children[0])
    with Image.open(io.BytesIO(png)) as image:
        assert viz.PAGE_WIDTH_PX - 10 <= image.width <= viz.PAGE_WIDTH_PX + 2


def test_a_render_functions_figure_may_declare_its_format():
    def render(k):
        fig = plt.figure(figsize=(1.5, 1.5), FigureClass=viz.BookFigure)
        fig.image_format = "png"  # e.g. a chart drawn over a photograph: keep it lossless
        fig.add_subplot().imshow(viz._displayable(viz.sample_photo(96 + k)))

    explorer = nw.explore(render, live=False, k=[0, 8])
    assert [len(pngs(out)) for out in explorer.view.children] == [1, 1]


def test_precomputed_outputs_share_one_layout_and_have_a_weight_limit(monkeypatch):
    explorer = nw.explore(draw_line, live=False, kernel_size=[3, 5], stride=[1, 2])
    stacks = explorer.view.children
    outputs = [out for stack in stacks for out in stack.children]
    layouts = {w.layout.model_id for w in [explorer.view, *stacks, *outputs]}
    assert len(layouts) == 1, "one Layout model for the whole view keeps the saved page small"
    monkeypatch.setattr(nw, "MAX_WIDGET_BYTES", 10_000)
    with pytest.raises(ValueError, match=r"kB to the page \(at most 10 kB per widget\)"):
        nw.explore(draw_line, live=False, kernel_size=[3, 5, 7, 9])


def test_the_saved_widget_state_holds_the_outputs_and_the_link():
    explorer = nw.explore(draw_line, live=False, kernel_size=[3, 9])
    state = embed_data(views=[explorer])["manager_state"]["state"]
    link = [s for s in state.values() if s["model_name"] == "DirectionalLinkModel"]
    assert any(
        s["state"]["source"] == [f"IPY_MODEL_{explorer.controls['kernel_size'].model_id}", "index"]
        for s in link
    )
    saved = [
        s["state"]["outputs"] for k, s in state.items() if k in {o.model_id for o in explorer.view.children}
    ]
    assert len(saved) == 2 and all(o[0]["output_type"] == "display_data" for o in saved)


def test_two_parameters_nest_stacks_and_link_the_second_control_to_each_inner_stack():
    explorer = nw.explore(lambda k, mode: f"{k}/{mode}", live=False, k=[1, 2], mode=["a", "b", "c"])
    first, second = explorer.controls["k"], explorer.controls["mode"]
    assert isinstance(second, widgets.ToggleButtons)  # strings get buttons, numbers a slider
    inner = explorer.view.children
    assert len(inner) == 2 and all(len(stack.children) == 3 for stack in inner)
    shown = [[out.outputs[0]["text"] for out in stack.children] for stack in inner]
    assert shown == [["1/a\n", "1/b\n", "1/c\n"], ["2/a\n", "2/b\n", "2/c\n"]]
    expected = {(first.model_id, "index", explorer.view.model_id, "selected_index")}
    expected |= {(second.model_id, "index", stack.model_id, "selected_index") for stack in inner}
    assert links_of(explorer) == expected


def test_live_mode_draws_any_value_in_the_range_on_demand():
    calls = []
    explorer = nw.explore(
        lambda kernel_size: calls.append(kernel_size) or draw_line(kernel_size),
        live=True,
        kernel_size=[3, 11],
    )
    slider = explorer.controls["kernel_size"]
    assert isinstance(slider, widgets.IntSlider) and (slider.min, slider.max, slider.value) == (3, 11, 3)
    assert calls == [3] and explorer.links == []
    before = pngs(explorer.view)
    slider.value = 6  # not one of the listed options
    assert calls == [3, 6]
    after = pngs(explorer.view)
    assert len(after) == 1 and after != before
    assert plt.get_fignums() == []


def test_live_controls_follow_the_kind_of_options():
    floats = nw.explore(lambda lr: f"{lr}", live=True, lr=[0.1, 0.5])
    assert isinstance(floats.controls["lr"], widgets.FloatSlider)
    names = nw.explore(lambda model: model, live=True, model=["alexnet", "vgg11"])
    box = names.controls["model"]
    assert isinstance(box, widgets.Combobox) and not box.ensure_option  # any name can be typed
    box.value = "resnet18"
    assert names.view.outputs[-1]["text"] == "resnet18\n"
    objects = nw.explore(lambda flag: str(flag), live=True, flag=[True, False])
    assert isinstance(objects.controls["flag"], widgets.Dropdown)  # bools are not a numeric range


def test_live_errors_after_the_first_drawing_are_shown_under_the_widget():
    def render(k):
        if k > 3:
            raise ValueError("k too large for this demo")
        return f"k={k}"

    explorer = nw.explore(render, live=True, k=[1, 3])
    explorer.controls["k"].max = 5
    explorer.controls["k"].value = 5
    assert "k too large for this demo" in explorer.view.outputs[-1]["text"]
    with pytest.raises(ValueError, match="too large"):  # a broken first drawing fails the cell
        nw.explore(render, live=True, k=[4, 5])


def test_returned_html_dataframes_and_printed_text_are_shown():
    class Table:  # what a DataFrame offers a notebook
        def __init__(self, n: int):
            self.n = n

        def _repr_html_(self) -> str:
            return f"<table><tr><td>{self.n}</td></tr></table>"

    table = nw.explore(Table, live=False, n=[1, 2])
    assert table.view.children[1].outputs[0]["data"]["text/html"] == "<table><tr><td>2</td></tr></table>"
    html = nw.explore(lambda n: HTML(f"<b>{n}</b>"), live=False, n=[1, 2])
    assert html.view.children[0].outputs[0]["data"]["text/html"] == "<b>1</b>"
    printed = nw.explore(lambda n: print("value", n), live=False, n=[7])
    assert printed.view.children[0].outputs[0]["text"] == "value 7\n"


def test_plt_show_inside_render_still_lands_in_the_widget(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))

    def render(k):
        draw_line(k)
        plt.show()

    explorer = nw.explore(render, live=False, k=[3, 5])
    assert [len(pngs(out)) for out in explorer.view.children] == [1, 1]
    assert shown == [] and plt.get_fignums() == []
    plt.show()
    assert shown == [1], "plt.show is restored afterwards"


def test_figures_are_closed_even_when_render_fails():
    def broken(k):
        plt.subplots()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        nw.explore(broken, live=False, k=[1])
    assert plt.get_fignums() == []


def test_a_returned_figure_not_made_with_pyplot_is_captured():
    from matplotlib.figure import Figure

    def render(k):
        fig = Figure(figsize=(2, 2))
        fig.add_subplot().plot(range(k))
        return fig

    explorer = nw.explore(render, live=False, k=[2, 3])
    assert [len(pngs(out)) for out in explorer.view.children] == [1, 1]


def test_mode_follows_the_environment(monkeypatch):
    class Shell:
        kernel = object()

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.delenv(nw.BOOK_BUILD_ENV, raising=False)
    assert nw.explore(lambda k: str(k), k=[1, 2]).live  # a reader's kernel
    monkeypatch.setenv(nw.BOOK_BUILD_ENV, "1")
    assert not nw.explore(lambda k: str(k), k=[1, 2]).live  # the book build
    monkeypatch.delenv(nw.BOOK_BUILD_ENV)
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert not nw.explore(lambda k: str(k), k=[1, 2]).live  # plain Python


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "one or two parameters"),
        ({"a": [1], "b": [2], "c": [3]}, "one or two parameters"),
        ({"k": []}, "non-empty list"),
        ({"k": 3}, "non-empty list"),
        ({"k": "abc"}, "non-empty list"),
        ({"k": [1, "1"]}, "print the same"),
        ({"a": list(range(7)), "b": list(range(7))}, "at most"),
    ],
)
def test_bad_input_says_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nw.explore(lambda **kw: None, live=False, **kwargs)


def test_render_must_be_callable():
    with pytest.raises(TypeError, match="function to draw"):
        nw.explore("not a function", k=[1])


def test_the_display_bundle_carries_the_first_image_for_renderers_without_widgets():
    """The PDF (LaTeX takes no widget) shows the image of the initial state; pages keep the widget."""
    from IPython.core.formatters import DisplayFormatter

    two = nw.explore(draw_line, live=False, kernel_size=[3, 5], stride=[1, 2])
    data, _ = DisplayFormatter().format(two)
    assert "application/vnd.jupyter.widget-view+json" in data
    first = two.view.children[0].children[0]
    assert base64.b64decode(data["image/png"]) == pngs(first)[0], "the first option's figure"
    live = nw.explore(draw_line, live=True, kernel_size=[3, 5])
    assert base64.b64decode(DisplayFormatter().format(live)[0]["image/png"]) == pngs(live.view)[0]
    text = DisplayFormatter().format(nw.explore(lambda k: f"k={k}", live=False, k=[1, 2]))[0]
    assert text["text/plain"] == "k=1" and not any(mime.startswith("image/") for mime in text)
    table = nw.explore(lambda k: HTML(f"<table><td>{k}</td></table>"), live=False, k=[1, 2])
    assert DisplayFormatter().format(table)[0]["text/plain"] == nw._NO_STATIC_VIEW  # not the widget's repr
