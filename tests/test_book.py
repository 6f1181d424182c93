"""The book's sources and its build: toc, chapters, setup cell, config, references, the build script.

The fast tests read files. The slow one runs the strict build (`scripts/build_book.py --fresh`), which
executes every chapter offline with nbclient through myst-nb and fails on any warning or cell error.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import nbformat
import pytest
import yaml
from book_script import build_book

ROOT = Path(__file__).resolve().parent.parent
# The reading order of the chapters; each joins _toc.yml when its notebook lands in book/.
CHAPTER_ORDER = ["imagenet", "alexnet", "vgg", "resnet", "inception", "efficientnet", "showdown"]


CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = build_book.chapters()


def test_toc_starts_with_the_intro_and_lists_every_chapter_in_reading_order():
    pages = build_book.toc_files()
    assert pages[0] == "book/intro"
    for page in pages:
        assert list(ROOT.glob(f"{page}.*")), f"_toc.yml lists {page}, which does not exist"
    notebooks = {p.stem for p in (ROOT / "book").glob("*.ipynb") if not p.name.startswith("_")}
    listed = {Path(page).name for page in pages}
    assert notebooks <= listed, f"chapters missing from _toc.yml: {sorted(notebooks - listed)}"
    known = [name for name in (Path(p).name for p in pages) if name in CHAPTER_ORDER]
    assert known == sorted(known, key=CHAPTER_ORDER.index), f"chapters out of reading order: {known}"


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} cell {i} has outputs: clear them (Edit > Clear All Outputs) before committing"
            )
    assert "widgets" not in nb.metadata, f"{path.name} carries saved widget state: clear it before committing"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_opens_with_the_setup_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    fix = "run `.venv/bin/python scripts/build_book.py --sync-setup-cells`"
    assert code and code[0].source == build_book.setup_cell_source(), (
        f"{path.name}: the first code cell must be book/_setup_cell.py verbatim; {fix}"
    )
    assert build_book.SETUP_CELL_TAG in code[0].metadata.get("tags", []), f"{path.name}: {fix}"


def _run_setup_cell(
    monkeypatch, *, colab: bool, gpu: bool = True, returncode: int = 0, stderr: str = ""
) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(args, **kw):
        calls.append(list(args))
        return subprocess.CompletedProcess(args, returncode, stdout="", stderr=stderr)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    exec(compile(build_book.setup_cell_source(), "setup cell", "exec"), {})
    return calls


def test_setup_cell_does_nothing_outside_colab(monkeypatch, capsys):
    assert _run_setup_cell(monkeypatch, colab=False, gpu=False) == []
    assert capsys.readouterr().err == ""


def test_setup_cell_on_colab_installs_nets_from_the_books_repository(monkeypatch, capsys):
    calls = _run_setup_cell(monkeypatch, colab=True, gpu=True)
    package = f"imagenet-contenders-nets[book] @ git+{CONFIG['repository']['url']}"
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", package]]
    assert capsys.readouterr().err == ""


def test_setup_cell_says_what_to_do_when_the_install_fails(monkeypatch):
    said = "ERROR: Repository not found (a fork that did not set REPOSITORY)"
    with pytest.raises(SystemExit) as err:
        _run_setup_cell(monkeypatch, colab=True, returncode=1, stderr=f"noise\n{said}\n")
    message = str(err.value)
    assert said in message and "set REPOSITORY" in message and "Traceback" not in message


def test_setup_cell_on_colab_without_a_gpu_warns_how_to_get_one(monkeypatch, capsys):
    _run_setup_cell(monkeypatch, colab=True, gpu=False)
    assert "Runtime > Change runtime type" in capsys.readouterr().err


def test_sync_setup_cells_inserts_or_refreshes_the_first_code_cell(tmp_path: Path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: book/a\n- file: book/b\n"
    )
    source = build_book.setup_cell_source()
    a = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# A"), nbformat.v4.new_code_cell("x = 1")]
    )
    b = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# Setup: an older version\nold = True")])
    nbformat.write(a, tmp_path / "book" / "a.ipynb")
    nbformat.write(b, tmp_path / "book" / "b.ipynb")
    assert len(build_book.sync_setup_cells(tmp_path)) == 2
    a, b = (nbformat.read(tmp_path / "book" / f"{n}.ipynb", as_version=4) for n in "ab")
    assert [c.source for c in a.cells] == ["# A", source, "x = 1"]  # inserted before the first code
    assert [c.source for c in b.cells] == [source]  # an older setup cell is replaced, not duplicated
    assert a.cells[1].metadata["tags"] == b.cells[0].metadata["tags"] == ["hide-input"]
    assert build_book.sync_setup_cells(tmp_path) == []


def test_config_builds_strictly_and_serves_the_widget_code_itself():
    assert CONFIG["title"] == "ImageNet Contenders"
    assert CONFIG["execute"]["raise_on_error"] is True and CONFIG["execute"]["allow_errors"] is False
    assert CONFIG["execute"]["execute_notebooks"] == "cache"  # the build script keeps the cache honest
    sphinx = CONFIG["sphinx"]["config"]
    scripts = list(sphinx["nb_ipywidgets_js"])
    assert scripts == [f"../{s}" for s in build_book.WIDGET_SCRIPTS], (
        "replace myst-nb's CDN scripts, in order"
    )
    assert not any("://" in s for s in scripts)
    assert sphinx["html_extra_path"] == [build_book.SITE_EXTRA.relative_to(ROOT).as_posix()]
    assert {"_build", ".*", "README.md"} <= set(CONFIG["exclude_patterns"])
    assert CONFIG["repository"]["branch"] == "main" and CONFIG["repository"]["path_to_book"] == ""
    assert CONFIG["launch_buttons"]["colab_url"] and CONFIG["launch_buttons"]["binderhub_url"]
    for key in ("logo",):
        assert (ROOT / CONFIG[key]).is_file()
    assert (ROOT / CONFIG["html"]["favicon"]).is_file()


def test_build_script_and_widgets_agree_on_the_build_variable():
    import nets.widgets

    assert build_book.BOOK_BUILD_ENV == nets.widgets.BOOK_BUILD_ENV


def test_references_hold_the_papers_the_book_cites():
    from pybtex.database import parse_file

    entries = {}
    for bib in CONFIG["bibtex_bibfiles"]:
        entries.update(parse_file(ROOT / bib).entries)
    expected = {  # key: (first author's last name, year)
        "deng2009imagenet": ("Deng", "2009"),
        "russakovsky2015imagenet": ("Russakovsky", "2015"),
        "krizhevsky2012imagenet": ("Krizhevsky", "2012"),
        "simonyan2015very": ("Simonyan", "2015"),
        "szegedy2015going": ("Szegedy", "2015"),
        "szegedy2016rethinking": ("Szegedy", "2016"),
        "szegedy2017inception": ("Szegedy", "2017"),
        "he2016deep": ("He", "2016"),
        "hu2018squeeze": ("Hu", "2018"),
        "sandler2018mobilenetv2": ("Sandler", "2018"),
        "tan2019efficientnet": ("Tan", "2019"),
        "tan2020efficientnet": ("Tan", "2020"),
    }
    for key, (author, year) in expected.items():
        assert key in entries, f"references.bib lacks {key}"
        assert (
            entries[key].persons["author"][0].last_names == [author] and entries[key].fields["year"] == year
        )
    cited = set()
    for page in [*(ROOT / "book").glob("*.md"), *(ROOT / "book").glob("*.ipynb")]:
        for keys in re.findall(r"\{(?:foot)?cite(?::[pt])?\}`([^`]+)`", page.read_text()):
            cited.update(k.strip() for k in keys.split(","))
    assert cited - set(entries) == set(), f"cited but not in references.bib: {sorted(cited - set(entries))}"


def _fake_package(tmp_path: Path, files: dict[str, bytes]) -> build_book.NpmPackage:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    package = build_book.NpmPackage(
        "@fake/pkg",
        "1.0.0",
        build_book._sri(buffer.getvalue()),
        (r"package/dist/.*\.js",),
        "widgets/fake-1.0.0",
    )
    (tmp_path / "cache").mkdir(exist_ok=True)
    (tmp_path / "cache" / package.tarball_name).write_bytes(buffer.getvalue())
    return package


def test_widget_js_is_staged_from_the_cache_without_the_network(tmp_path: Path):
    package = _fake_package(tmp_path, {"package/dist/a.js": b"a()", "package/README.md": b"no"})
    staged = build_book.stage_site_js(tmp_path / "cache", tmp_path / "extra", packages=(package,))
    names = sorted(p.relative_to(tmp_path / "extra").as_posix() for p in staged)
    assert names == ["live/element.mjs", "widgets/config.js", "widgets/fake-1.0.0/a.js"]
    assert (tmp_path / "extra" / "widgets" / "fake-1.0.0" / "a.js").read_bytes() == b"a()"


def test_a_tarball_with_the_wrong_checksum_is_refused(tmp_path: Path):
    package = _fake_package(tmp_path, {"package/dist/a.js": b"a()"})
    (tmp_path / "cache" / package.tarball_name).write_bytes(b"tampered")
    with pytest.raises(RuntimeError, match="checksum"):
        build_book.stage_site_js(tmp_path / "cache", tmp_path / "extra", packages=(package,))


def test_pinned_widget_packages_match_ipywidgets_8():
    from importlib.metadata import version

    assert version("ipywidgets").startswith("8.")
    assert build_book.HTML_MANAGER.version.startswith("1.")  # html-manager 1.x embeds ipywidgets 8
    assert all(p.integrity.startswith("sha512-") for p in build_book.PACKAGES)


def test_mathjax_is_served_from_the_site_with_its_fonts_and_licence(tmp_path: Path):
    package = build_book.MATHJAX
    assert package.target("package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff") == (
        f"{package.folder}/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"
    )
    sphinx = CONFIG["sphinx"]["config"]
    assert sphinx["mathjax_path"] == f"../{package.folder}/es5/tex-mml-chtml.js"
    for p in build_book.PACKAGES:
        assert any(re.fullmatch(m, p.licence) for m in p.members), f"{p.name} is served without its licence"


def test_no_package_registry_host_is_written_in_the_repository():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    pattern = re.compile(r"https?://(registry\.|[^\s\"']*/simple/|pypi\.org|files\.pythonhosted)")
    for name in tracked.split():
        path = ROOT / name
        if path.suffix in {".png", ".svg", ".ico"} or not path.is_file():
            continue
        hits = pattern.findall(path.read_text(errors="ignore"))
        assert not hits, f"{name} names a package registry: use the client (npm, pip) by package name"


def test_execution_cache_is_wiped_when_nets_changes(tmp_path: Path):
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "model.py").write_text("WIDTH = 64\n")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    cache, stamp = tmp_path / "_build" / ".jupyter_cache", tmp_path / "_build" / ".fingerprint"
    cache.mkdir(parents=True)
    first = build_book.execution_fingerprint(tmp_path)
    (cache / "unknown.ipynb").write_text("{}")
    assert build_book.invalidate_stale_cache(cache, stamp, first) is True, "a cache of unknown origin goes"
    cache.mkdir()
    (cache / "executed.ipynb").write_text("{}")
    assert (
        build_book.invalidate_stale_cache(cache, stamp, build_book.execution_fingerprint(tmp_path)) is False
    )
    assert (cache / "executed.ipynb").exists(), "an unchanged nets/ keeps the cache"
    (tmp_path / "nets" / "model.py").write_text("WIDTH = 128\n")
    second = build_book.execution_fingerprint(tmp_path)
    assert second != first
    assert build_book.invalidate_stale_cache(cache, stamp, second) is True
    assert not cache.exists(), "outputs computed with the old nets/ must not be shown"


def test_site_check_flags_widget_code_from_a_cdn(tmp_path: Path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.html").write_text(
        '<script type="application/vnd.jupyter.widget-state+json">{}</script>'
        '<script src="https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist/embed-amd.js"></script>'
    )
    problems = build_book.check_site(tmp_path)
    assert any("outside the site" in p for p in problems)
    assert any("does not load widgets/requirejs" in p for p in problems)


def test_site_check_fails_a_page_over_600_kb_and_names_its_biggest_images(tmp_path: Path):
    import base64
    import json

    def image(kb: int, magic: bytes) -> str:
        return base64.b64encode(magic + bytes(kb * 750 - len(magic))).decode()  # kb kB in the page

    outputs = [
        {
            "output_type": "display_data",
            "data": {"image/png": image(30, b"\x89PNG"), "text/plain": "<figure>"},
        }
    ]
    outputs += [
        {"output_type": "display_data", "data": {"image/jpeg": image(kb, b"\xff\xd8\xff")}}
        for kb in (250, 120)
    ]
    state = {
        "state": {
            f"m{i}": {"model_name": "OutputModel", "state": {"outputs": [o]}} for i, o in enumerate(outputs)
        }
    }
    scripts = "".join(f'<script src="../{script}"></script>' for script in build_book.WIDGET_SCRIPTS)
    widget_state = f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(state)}</script>'
    (tmp_path / "book").mkdir()
    heavy = tmp_path / "book" / "efficientnet.html"
    heavy.write_text(f"<html>{scripts}{widget_state}<p>{'text ' * 50_000}</p></html>")
    light = tmp_path / "book" / "alexnet.html"
    light.write_text(f"<html>{scripts}<img src='data:image/png;base64,{image(20, b'x')}'></html>")
    problems = [p for p in build_book.check_site(tmp_path) if "weighs" in p]
    assert len(problems) == 1, problems
    (problem,) = problems
    size = heavy.stat().st_size / 1e3
    assert problem.startswith(f"book/efficientnet.html weighs {size:.0f} kB, more than the 600 kB a page may")
    assert "3 embedded images make 400 kB of it" in problem
    assert "the biggest: image/jpeg 250.0 kB, image/jpeg 120.0 kB, image/png 30.0 kB" in problem
    assert "nets.widgets.explore" in problem
    assert build_book.page_weight(light, tmp_path) is None
    prose = tmp_path / "intro.html"
    prose.write_text("<p>words</p>" * 100)
    assert (
        "intro.html weighs 1 kB, more than the 1 kB a page may: it embeds no images"
        in build_book.page_weight(prose, tmp_path, limit=1000)
    )


# The chapters whose experiment prints lab.*_verdict(...) or showdown.race_verdict(...).
VERDICTS = {"alexnet", "vgg", "resnet", "efficientnet", "showdown"}


@pytest.mark.slow
def test_strict_build_executes_every_chapter_without_warnings():
    """`make book` from a cold execution cache: every chapter runs offline; -W turns any warning into a failure."""
    html = build_book.build(fresh=True)
    log = (ROOT / "_build" / "build.log").read_text()
    for chapter in CHAPTERS:
        page = html / chapter.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"{chapter.name} was not rendered"
        assert f"{chapter.relative_to(ROOT)}: Executed notebook" in log, f"{chapter.name} was not executed"
        text = page.read_text()
        assert 'class="output traceback' not in text and 'class="output error' not in text
        if chapter.stem in VERDICTS:  # the experiment ran and printed the verdict its numbers decide
            assert "Verdict:" in text, f"{chapter.name} shows no verdict"
    assert build_book.check_site(html) == []


def _attribute_chain(node) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def _resolve(module: str, attrs: list[str]) -> str | None:
    """None if ``module.attrs...`` exists (stopping at classes and data), else what is missing."""
    obj, path = importlib.import_module(module), module
    for attr in attrs:
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
        else:
            try:  # a submodule not imported yet
                obj = importlib.import_module(f"{path}.{attr}")
            except ImportError:
                return f"{path} has no {attr}"
        path = f"{path}.{attr}"
        if isinstance(obj, type) or not hasattr(obj, "__dict__"):
            break  # a class or a value: its attributes are the run's business
    return None


@pytest.mark.parametrize("path", build_book.chapters(), ids=lambda p: p.stem)
def test_every_nets_name_a_chapter_uses_exists(path: Path):
    """The chapters are run only by the slow build: a renamed function must fail here, at once."""
    aliases: dict[str, str] = {}
    missing = []
    for cell in nbformat.read(path, 4).cells:
        if cell.cell_type != "code":
            continue
        lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "nets":
                        aliases[a.asname or "nets"] = a.name if a.asname else "nets"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nets":
                for a in node.names:
                    problem = _resolve(node.module, [a.name])
                    missing += [problem] if problem else []
                    try:  # `from nets import viz`: a module, whose attributes are checked below
                        importlib.import_module(f"{node.module}.{a.name}")
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                    except ImportError:
                        pass
        for node in ast.walk(tree):
            chain = _attribute_chain(node) if isinstance(node, ast.Attribute) else None
            if chain and chain[0] in aliases:
                problem = _resolve(aliases[chain[0]], chain[1:])
                missing += [f"{'.'.join(chain)}: {problem}"] if problem else []
    assert not missing, f"{path.name} uses names nets does not have: {sorted(set(missing))}"
