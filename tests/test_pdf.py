"""The PDF edition (`make pdf`): the whole book in one file, built offline with xelatex.

The fast tests read the configuration and the LaTeX-log check. The slow one builds the site and the PDF
unless both are current, then reads the PDF back with poppler (pdftotext, pdfimages): every page's
title, the bibliography, no unresolved reference ("??"), at least as many images as the site shows,
and each widget's static image.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from book_script import build_book
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg")


def test_the_pdf_is_built_with_xelatex_under_the_name_the_site_links_to():
    latex = CONFIG["latex"]
    assert latex["latex_engine"] == "xelatex", "Unicode in the outputs (×, ≥, →) needs xelatex"
    assert Path(latex["latex_documents"]["targetname"]).with_suffix(".pdf").name == build_book.PDF_NAME
    intro = (ROOT / "book" / "intro.md").read_text()
    assert f'href="../{build_book.PDF_NAME}"' in intro, "the book links to its PDF from the intro"
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "make pdf" in workflow, "the Pages workflow publishes the PDF beside the pages"


def test_latex_log_check_finds_unresolved_references_and_missing_glyphs():
    log = (
        "LaTeX Warning: Reference `book/vgg:depth' on page 12 undefined on input line 3040.\n"
        "LaTeX Warning: Citation `simonyan2015' on page 13 undefined on input line 3100.\n"
        "Missing character: There is no \U0001f680 (U+1F680) in font [FreeMono.otf]/OT:script=latn;\n"
        "Missing character: There is no \U0001f680 (U+1F680) in font [FreeMono.otf]/OT:script=latn;\n"
        "LaTeX Warning: There were undefined references.\n"
    )
    problems = build_book.latex_problems(log)
    assert len(problems) == 4  # the repeated glyph once
    assert problems[0].startswith("LaTeX Warning: Reference `book/vgg:depth'")
    assert build_book.latex_problems("Output written on imagenet-contenders.pdf (120 pages).\n") == []


def _poppler(tool: str, *args: str) -> str:
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout


def _title(page: str) -> str:
    """The first "# " heading of a page in _toc.yml, without Markdown marks."""
    path = ROOT / f"{page}.md"
    if path.exists():
        lines = path.read_text().splitlines()
    else:
        nb = json.loads((ROOT / f"{page}.ipynb").read_text())
        lines = [line for cell in nb["cells"] if cell["cell_type"] == "markdown" for line in cell["source"]]
    heading = next(line for line in lines if line.startswith("# "))
    return re.sub(r"[*_`]", "", heading[2:]).strip()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def _widget_images(page: str) -> list[tuple[int, int]]:
    """(width, height) of each widget's static image in a page's cached outputs (what the PDF shows)."""
    from jupyter_cache import get_cache

    path = ROOT / f"{page}.ipynb"
    if not path.exists():
        return []
    _, nb = get_cache(build_book.EXECUTION_CACHE).merge_match_into_file(path)
    sizes = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            mime = next((m for m in IMAGE_MIMES if m in data), None)
            if WIDGET_VIEW in data and mime:
                sizes.append(Image.open(io.BytesIO(base64.b64decode(data[mime]))).size)
    return sizes


@pytest.mark.slow
def test_pdf_holds_every_chapter_figure_widget_and_reference():
    missing = [tool for tool in ("xelatex", "latexmk", "pdftotext", "pdfimages") if not shutil.which(tool)]
    if missing:
        message = f"the PDF needs {', '.join(missing)}: .ci/run installs TeX Live and poppler-utils"
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the PDF, but {message}")
        pytest.skip(message)
    html = build_book.ensure_built()
    pdf = build_book.ensure_pdf()
    assert (html / build_book.PDF_NAME).read_bytes() == pdf.read_bytes(), "the site serves this PDF"

    text = _poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-")
    squeezed = _squeeze(text)
    pages = build_book.toc_files()
    for page in pages:
        assert _squeeze(_title(page)) in squeezed, f"the PDF lacks {page}'s title {_title(page)!r}"
    assert "bibliography" in squeezed, "the PDF has no bibliography"
    assert "??" not in text, "the PDF has an unresolved reference (??)"

    listed = _poppler("pdfimages", "-list", str(pdf)).splitlines()[2:]
    images = [tuple(int(v) for v in row.split()[3:5]) for row in listed if row.split()[2] == "image"]
    figures = sum(
        len(re.findall(r'<img[^>]*\ssrc="[^"]*_images/', (html / f"{page}.html").read_text()))
        for page in pages
    )
    widgets = [size for page in pages for size in _widget_images(page)]
    assert widgets, "no widget with a static image: nets.widgets.Explorer's display bundle lost its image"
    assert len(images) >= figures + len(widgets), (
        f"the PDF has {len(images)} images; the site shows {figures} figures and {len(widgets)} widgets"
    )
    for size in widgets:
        assert size in images, f"a widget's static image ({size[0]}x{size[1]} px) is not in the PDF"
