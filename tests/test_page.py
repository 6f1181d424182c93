"""The reader's page, the parts that need no browser: alt text read from a figure, missing values printed
as an en dash in every nets table, the pinned accessibility checker. (tests/test_browser.py checks the
rendered pages.)"""

from __future__ import annotations

import math
import re

import matplotlib
import pytest
import yaml

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from book_script import build_book  # noqa: E402
from IPython.core.displaypub import CapturingDisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from nets import summary, viz  # noqa: E402
from nets.lab import efficientnet, showdown  # noqa: E402
from nets.lab.tables import MISSING, dashed  # noqa: E402
from nets.viz.style import new_figure  # noqa: E402

NOT_A_NUMBER = re.compile(r">\s*(NaN|None|nan|<NA>|&lt;NA&gt;|NaT)\s*<")


def _chart() -> viz.BookFigure:
    with new_figure(6, 3) as fig:
        ax = fig.add_subplot()
        ax.plot([1, 2, 3], [2.5, 1.25, 0.5], label="train loss")
        ax.plot([1, 2, 3], [2.0, 1.5, 1.0], label="val loss")
        ax.set(title="loss", xlabel="epoch", ylabel="cross-entropy")
        fig.suptitle("AlexNet, brief training")
    return fig


def test_alt_text_says_title_axes_series_and_their_numbers():
    alt = viz.describe(_chart())
    assert alt.startswith("A chart: AlexNet, brief training.")
    assert "Loss: cross-entropy against epoch" in alt
    assert "train loss from 2.5 to 0.5" in alt and "val loss from 2 to 1" in alt


def test_alt_text_counts_bars_and_summarises_a_grid_of_images():
    with new_figure(4, 3) as bars:
        bars.add_subplot().bar(["a", "b", "c"], [3, 1, 2])
    assert "3 bars: 3, 1, 2" in viz.describe(bars)
    with new_figure(8, 8) as grid:
        for i in range(16):
            grid.add_subplot(4, 4, i + 1).imshow(np.zeros((11, 11)))
        grid.suptitle("first-layer filters")
    alt = viz.describe(grid)
    assert "first-layer filters" in alt and "a grid of 16 images" in alt.lower()


def test_a_figure_may_set_its_own_alt_text_and_a_long_one_is_cut_at_a_sentence():
    fig = _chart()
    fig.alt_text = "Two loss curves that fall   together."
    assert viz.describe(fig) == "Two loss curves that fall together."
    with new_figure(12, 12) as busy:
        for i in range(9):
            busy.add_subplot(3, 3, i + 1).plot(range(5), [i, i + 1, i, i + 2, i], label=f"series {i}")
            busy.axes[-1].set(title=f"a long panel title number {i} " * 3, xlabel="x", ylabel="y")
    alt = viz.describe(busy)
    assert len(alt) <= 700 and alt.endswith("…")


def test_a_book_figure_shows_itself_with_its_alt_text_in_the_output_metadata():
    shell = InteractiveShell.instance()
    publisher, shell.display_pub = shell.display_pub, CapturingDisplayPublisher()
    try:
        _chart()._ipython_display_()
        (output,) = shell.display_pub.outputs
    finally:
        shell.display_pub = publisher
    (mime,) = [m for m in output["data"] if m.startswith("image/")]
    assert output["metadata"][mime]["alt"] == output["data"]["text/plain"]
    assert "train loss" in output["metadata"][mime]["alt"]


def test_a_widget_figure_is_an_img_with_its_alt_text():
    from nets import widgets

    def draw(k):
        plt.figure(figsize=(3, 2)).add_subplot().plot([0, 1], [0, k], label="ramp")

    explorer = widgets.explore(draw, k=[1, 2], live=False)
    html = explorer.view.children[1].outputs[0]["data"]["text/html"]
    assert re.fullmatch(r'<img src="data:image/\w+;base64,[^"]+" alt="[^"]*Ramp from 0 to 2[^"]*">', html)


def test_dashed_tables_print_missing_values_as_an_en_dash_and_keep_their_numbers():
    frame = dashed(pd.DataFrame({"top-1": [69.8, math.nan], "note": ["x", None]}, index=["a", "b"]))
    frame.attrs["source"] = "paper"
    for shown in (
        frame._repr_html_(),
        repr(frame),
        frame[["top-1"]]._repr_html_(),
        frame.round(0).__repr__(),
    ):
        assert MISSING in shown and not NOT_A_NUMBER.search(shown) and "NaN" not in shown
    assert frame["top-1"].sum() == pytest.approx(69.8)  # the numbers stay numbers
    assert frame.sort_values("top-1").attrs == {"source": "paper"}
    with pytest.raises(TypeError, match="DataFrame"):
        dashed([1, 2])


def test_the_showdown_table_prints_googlenets_missing_paper_top1_as_a_dash():
    frame = showdown.compare(["googlenet", "resnet18"], cpu_size=None, gpu=False)
    assert frame["paper_top1"].isna().any(), "the test needs a missing value: GoogLeNet's paper top-1"
    html = showdown.pretty(frame)._repr_html_()
    assert MISSING in html and not NOT_A_NUMBER.search(html)


@pytest.mark.parametrize(
    "table",
    [
        lambda: efficientnet.variant_table(),
        lambda: summary.paper_table("googlenet"),
        lambda: summary.paper_table("inception_v3"),
    ],
    ids=["efficientnet.variant_table", "paper_table googlenet", "paper_table inception_v3"],
)
def test_nets_tables_never_print_nan_or_none(table):
    shown = table()
    assert not NOT_A_NUMBER.search(shown._repr_html_()), shown._repr_html_()
    assert not re.search(r"\b(NaN|None)\b", repr(shown))


def test_axe_core_is_pinned_served_with_its_licence_and_loaded_by_no_page():
    axe = build_book.AXE
    assert axe in build_book.PACKAGES and axe.integrity.startswith("sha512-")
    assert axe.target("package/axe.min.js") == build_book.AXE_SCRIPT
    assert any(re.fullmatch(m, axe.licence) for m in axe.members)
    sphinx = yaml.safe_load((build_book.ROOT / "_config.yml").read_text())["sphinx"]["config"]
    scripts = [*sphinx.get("html_js_files", []), *sphinx.get("nb_ipywidgets_js", {})]
    assert not any("axe" in s for s in scripts), "axe-core is for the test: no page loads it"
