"""Build the book into _build/html: `make book` runs this.

    .venv/bin/python scripts/build_book.py              # strict build (-W -n --keep-going), all pages
    .venv/bin/python scripts/build_book.py --fresh      # re-execute every chapter
    .venv/bin/python scripts/build_book.py --refresh-js # fetch the pinned JavaScript again with npm
    .venv/bin/python scripts/build_book.py --sync-setup-cells   # copy book/_setup_cell.py into chapters
    .venv/bin/python scripts/build_book.py --pdf        # the whole book in one PDF (`make pdf`, see build_pdf)

Around `jupyter-book build` it does three things Jupyter Book does not:

1. Serves the pinned JavaScript from the site: require.js and @jupyter-widgets/html-manager for the
   widgets, MathJax 3 for the formulas, axe-core for the browser test's accessibility check (no page
   loads it), onnxruntime-web for the live models (a page loads it only when the reader starts one),
   each with its licence. They are fetched once with the npm
   client (`npm pack`; Node.js's npm must be installed), checked against their sha512, cached in
   ~/.cache/imagenet-contenders/npm, and copied to _build/site-extra/ (widgets/, mathjax-<version>/),
   which _config.yml publishes with `html_extra_path` and points myst-nb's `nb_ipywidgets_js` and
   Sphinx's `mathjax_path` at. No CDN, and nothing under _static/, whose every .js file Jupyter Book
   loads on every page. `--refresh-js` fetches them again (after a version bump).
2. Keeps the execution cache honest. jupyter-cache re-executes a chapter when its code changes but
   cannot see `nets/`: the cache is wiped when nets/**/*.py, pyproject.toml, requirements.txt, the
   versions of the main libraries, the NETS_* environment variables or the verified Imagenette copies
   on disk change. ("execute_notebooks: force" would be simpler, but would re-run every chapter,
   training included, for a typo in prose.)
3. Marks the kernels as the book build (NETS_BOOK_BUILD=1), so `nets.widgets` precomputes widget
   outputs for the static page, and tells them where the live models go (NETS_LIVE_DIR, the site's
   live/ folder, beside nets/live/element.mjs, which the build copies there), then checks the result:
   no page may load widget code from a CDN, run a live model the site lacks, or weigh more than
   MAX_PAGE_BYTES (600 kB) with the images embedded in it. Live models no page runs are removed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from nets.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SITE_EXTRA = BUILD / "site-extra"  # html_extra_path in _config.yml: copied into the site's root
EXECUTION_CACHE = BUILD / ".jupyter_cache"
FINGERPRINT = BUILD / ".execution-fingerprint"
BUILD_STAMP = HTML / ".build-stamp"
LATEX = BUILD / "latex"  # the LaTeX builder's output: the .tex, its images and the PDF
PDF_NAME = "imagenet-contenders.pdf"  # latex.latex_documents.targetname in _config.yml, as .pdf
PDF_STAMP = LATEX / ".build-stamp"
SETUP_CELL = ROOT / "book" / "_setup_cell.py"
SETUP_CELL_TAG = "hide-input"
NPM_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "imagenet-contenders" / "npm"
BOOK_BUILD_ENV = "NETS_BOOK_BUILD"  # the same name as nets.widgets.BOOK_BUILD_ENV (a test checks)
WIDGET_WORDS = ("jupyter-widgets", "require", "embed-amd", "html-manager")
VERSIONED = ("torch", "torchvision", "timm", "numpy", "matplotlib", "ipywidgets", "ipykernel")
# The heaviest page a reader may download: the HTML with what is embedded in it (the widgets' precomputed
# outputs, one base64 image per option; a cell's own figures are separate files under _images/).
MAX_PAGE_BYTES = 600_000
# An image embedded in a page: a data: URI, or a "mime": "base64" pair in the widget state's JSON.
EMBEDDED_IMAGE = re.compile(
    r'data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=]+)|"(image/[\w.+-]+)"\s*:\s*"([A-Za-z0-9+/=\\n]+)"'
)


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package and the files the site takes from it."""

    name: str
    version: str
    integrity: str  # the registry's "dist.integrity": sha512 of the tarball, base64
    members: tuple[str, ...]  # regular expressions for paths inside the tarball
    folder: str  # where the matching files go in the site
    licence: str = "package/LICENSE"  # the member that carries the licence (served beside the code)
    keep_paths: bool = False  # keep the paths below package/ (MathJax finds its fonts relative to itself)

    @property
    def tarball_name(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def target(self, member: str) -> str:
        """Where ``member`` of the tarball goes, relative to the site's root."""
        inside = member.removeprefix("package/") if self.keep_paths else Path(member).name
        return f"{self.folder}/{inside}"


# html-manager 1.0.x is the embedder of ipywidgets 8 (@jupyter-widgets/base 6, controls 5: the versions
# jupyterlab_widgets 3.0 ships). embed-amd.js needs an AMD loader on the page: require.js. The fonts
# are Font Awesome's, which the widget CSS asks for beside the html-manager module.
REQUIREJS = NpmPackage(
    "requirejs",
    "2.3.8",
    "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
    (r"package/require\.js",),
    "widgets/requirejs-2.3.8",
    licence="package/require.js",  # MIT: the licence notice heads the file itself
)
HTML_MANAGER = NpmPackage(
    "@jupyter-widgets/html-manager",
    "1.0.15",
    "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    (
        r"package/dist/embed-amd\.js",
        r"package/dist/[0-9a-f]+\.(woff2|woff|ttf)",
        r"package/dist/embed\.js\.LICENSE\.txt",
        r"package/package\.json",
    ),  # BSD-3-Clause (package.json)
    "widgets/html-manager-1.0.15",
    licence="package/dist/embed.js.LICENSE.txt",
)
# MathJax 3 as Sphinx loads it by default (tex-mml-chtml), with its CommonHTML web fonts and licence.
MATHJAX = NpmPackage(
    "mathjax",
    "3.2.2",
    "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    (
        r"package/es5/tex-mml-chtml\.js",
        r"package/es5/output/chtml/fonts/woff-v2/[\w-]+\.woff",
        r"package/LICENSE",
    ),
    "mathjax-3.2.2",
    keep_paths=True,
)
# axe-core, the accessibility engine tests/test_browser.py injects into every page (no page loads it): one
# pure-JS file, MPL-2.0, with its licence and the third-party notices it bundles.
AXE = NpmPackage(
    "axe-core",
    "4.14.1",
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
    (r"package/axe\.min\.js", r"package/LICENSE", r"package/LICENSE-3RD-PARTY\.txt"),
    "axe-core-4.14.1",
)
AXE_SCRIPT = f"{AXE.folder}/axe.min.js"  # relative to the site's root
# onnxruntime-web, which runs the chapters' live models (nets.live) in the reader's browser: the
# WebAssembly build only (ort.wasm.min.mjs, its loader and the SIMD .wasm, 14.5 MB), single-threaded
# since GitHub Pages cannot send the cross-origin-isolation headers threads need. A page loads it only
# when the reader starts a live element. MIT: the notice heads ort.wasm.min.mjs (the package has no
# LICENSE file); package.json says so too.
ONNXRUNTIME_WEB = NpmPackage(
    "onnxruntime-web",
    "1.30.0",
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ==",
    (
        r"package/dist/ort\.wasm\.min\.mjs",
        r"package/dist/ort-wasm-simd-threaded\.mjs",
        r"package/dist/ort-wasm-simd-threaded\.wasm",
        r"package/package\.json",
    ),
    "live/onnxruntime-web",
    licence="package/dist/ort.wasm.min.mjs",
)
PACKAGES = (REQUIREJS, HTML_MANAGER, MATHJAX, AXE, ONNXRUNTIME_WEB)
# The live models: the kernels export them into LIVE (nets.live writes where NETS_LIVE_DIR says), the
# build serves nets/live/element.mjs beside them, and the pages (the chapters, under book/) find both at
# LIVE_URL. The names are nets.live.DIR_ENV and nets.live.URL_ENV (a test checks).
LIVE = SITE_EXTRA / "live"
LIVE_DIR_ENV, LIVE_URL_ENV, LIVE_URL = "NETS_LIVE_DIR", "NETS_LIVE_URL", "../live"
LIVE_SCRIPT = ROOT / "nets" / "live" / "element.mjs"
LIVE_MODEL = re.compile(r"/live/([\w.-]+\.onnx)")
# The bundled widget modules (@jupyter-widgets/base, controls, html-manager/dist/libembed-amd, ...) each
# locate their fonts from their AMD module id, which require.js would resolve against the page's folder
# (book/@jupyter-widgets/...): map the ids to the folder we serve, where the fonts are.
REQUIRE_CONFIG = f"""// Written by scripts/build_book.py: where the widget manager's AMD modules live on this site.
(function () {{
  var folder = document.currentScript.src.replace(/[^/]*$/, "") + "{HTML_MANAGER.folder.split("/")[-1]}";
  window.require.config({{
    paths: {{ "@jupyter-widgets": folder, "@jupyter-widgets/html-manager/dist": folder }},
  }});
  // The widget manager typesets labels through MathJax 2's MathJax.Hub.Queue; the book loads MathJax 3,
  // which has no Hub and, once loaded, replaces window.MathJax with its own object. Keep a Hub on
  // whatever window.MathJax is, before and after, handing each job to MathJax 3's typesetPromise.
  var hub = {{
    Queue: function (job) {{
      var element = job && job[2];
      var mathjax = window.MathJax;
      if (element && mathjax && mathjax.typesetPromise) {{
        mathjax.typesetPromise([element]).catch(function () {{}});
      }}
    }},
  }};
  var current = window.MathJax || {{}};
  Object.defineProperty(window, "MathJax", {{
    configurable: true,
    get: function () {{
      if (current && typeof current === "object" && !current.Hub) {{
        current.Hub = hub;
      }}
      return current;
    }},
    set: function (value) {{
      current = value;
    }},
  }});
}})();
"""
# The scripts a page with widgets loads, in order; _config.yml's nb_ipywidgets_js lists them (a test checks).
WIDGET_SCRIPTS = (
    f"{REQUIREJS.folder}/require.js",
    "widgets/config.js",
    f"{HTML_MANAGER.folder}/embed-amd.js",
)


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_tarball(package: NpmPackage, cache: Path = NPM_CACHE, *, refresh: bool = False) -> Path:
    """The package tarball, from the cache or through the npm client; raises if its sha512 is not the pinned one."""
    path = cache / package.tarball_name
    spec = f"{package.name}@{package.version}"
    if refresh or not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"the first build fetches {spec} with the npm client, which is not installed: install Node.js "
                "and npm (Debian/Ubuntu: apt-get install npm), then run the build again. Later builds use "
                f"the copy in {cache}."
            )
        print(f"fetching {spec} with npm into {cache}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                pack = [npm, "pack", spec, "--pack-destination", tmp, "--silent"]
                subprocess.run(pack, check=True, stdout=subprocess.DEVNULL)
                data = (Path(tmp) / package.tarball_name).read_bytes()
            except (OSError, subprocess.CalledProcessError) as error:
                raise RuntimeError(
                    f"could not fetch {spec} with npm ({error}). The first build needs the npm registry; "
                    "later builds use the cache."
                ) from error
        atomic_write(path, data)
    actual = _sri(path.read_bytes())
    if actual != package.integrity:
        raise RuntimeError(
            f"{path} has checksum {actual}, not the pinned {package.integrity}. Delete the file to fetch "
            "it again; if the registry serves the same mismatch, do not use it."
        )
    return path


def stage_site_js(
    cache: Path = NPM_CACHE,
    site_extra: Path = SITE_EXTRA,
    packages: tuple[NpmPackage, ...] = PACKAGES,
    *,
    refresh: bool = False,
) -> list[Path]:
    """Put the pinned JavaScript (and licences) where html_extra_path publishes it; return the files written."""
    staged = []
    for package in packages:
        shutil.rmtree(site_extra / package.folder, ignore_errors=True)
        with tarfile.open(fetch_tarball(package, cache, refresh=refresh)) as tar:
            for pattern in package.members:
                members = [m for m in tar.getmembers() if m.isfile() and re.fullmatch(pattern, m.name)]
                if not members:
                    raise RuntimeError(f"{package.name}@{package.version} has no file matching {pattern}")
                for member in members:
                    target = site_extra / package.target(member.name)
                    atomic_write(target, tar.extractfile(member).read())
                    staged.append(target)
    config = site_extra / "widgets" / "config.js"
    atomic_write(config, REQUIRE_CONFIG.encode())
    element = site_extra / "live" / LIVE_SCRIPT.name
    atomic_write(element, LIVE_SCRIPT.read_bytes())
    return [*staged, config, element]


def execution_fingerprint(root: Path = ROOT) -> str:
    """A hash of what chapter outputs depend on that jupyter-cache does not see."""
    digest = hashlib.sha256()
    files = sorted((root / "nets").rglob("*.py")) + [root / "pyproject.toml", root / "requirements.txt"]
    for path in files:
        if path.exists():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name in VERSIONED:
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing\0".encode())
    digest.update(sys.version.encode())
    for key in sorted(k for k in os.environ if k.startswith("NETS_") and k != BOOK_BUILD_ENV):
        digest.update(f"{key}={os.environ[key]}\0".encode())
    # nets.data trains on Imagenette when a verified copy is on disk, else on a stand-in: outputs
    # cached without the data must not be shown once it has arrived.
    data = Path(os.environ.get("NETS_DATA_DIR", "").strip() or Path.home() / ".cache" / "nets").expanduser()
    for marker in sorted(data.glob("*/.nets-verified.json")):
        digest.update(f"data: {marker.parent.name}\0".encode())
    return digest.hexdigest()


def invalidate_stale_cache(
    cache: Path = EXECUTION_CACHE, stamp: Path = FINGERPRINT, fingerprint: str | None = None
) -> bool:
    """Wipe the execution cache if what it was computed with has changed; True if it was wiped."""
    fingerprint = fingerprint or execution_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    wiped = cache.exists()
    shutil.rmtree(cache, ignore_errors=True)
    atomic_write(stamp, fingerprint.encode())
    return wiped


def setup_cell_source() -> str:
    """The canonical first code cell of every chapter."""
    return SETUP_CELL.read_text().rstrip("\n")


def toc_files(root: Path = ROOT) -> list[str]:
    """Every page in _toc.yml, in order, as paths without suffix (e.g. "book/alexnet")."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return [str(Path(page).with_suffix("")) for page in pages]


def chapters(root: Path = ROOT) -> list[Path]:
    """The notebooks listed in _toc.yml, in reading order."""
    return [root / f"{page}.ipynb" for page in toc_files(root) if (root / f"{page}.ipynb").exists()]


def sync_setup_cells(root: Path = ROOT) -> list[Path]:
    """Make every chapter's first code cell the canonical setup cell; return the notebooks changed.

    The cell is tagged "hide-input": the rendered page folds it away behind a toggle.
    """
    import nbformat

    source, changed = setup_cell_source(), []
    for path in chapters(root):
        nb = nbformat.read(path, as_version=4)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        if code and code[0].source == source and SETUP_CELL_TAG in code[0].metadata.get("tags", []):
            continue
        if code and code[0].source.startswith("# Setup"):
            cell = code[0]  # an older version of the setup cell: refresh it
            cell.source = source
        else:
            cell = nbformat.v4.new_code_cell(source)
            nb.cells.insert(nb.cells.index(code[0]) if code else len(nb.cells), cell)
        tags = cell.metadata.setdefault("tags", [])
        if SETUP_CELL_TAG not in tags:
            tags.append(SETUP_CELL_TAG)
        atomic_write(path, (nbformat.writes(nb) + "\n").encode())
        changed.append(path)
    return changed


def sources_hash(root: Path = ROOT) -> str:
    """A hash of everything the built site is made from, for `ensure_built`."""
    digest = hashlib.sha256(execution_fingerprint(root).encode())
    files = [root / "_config.yml", root / "_toc.yml", Path(__file__), LIVE_SCRIPT]
    files += sorted(
        p for p in (root / "book").rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_built() -> Path:
    """Build the book unless _build/html was built from exactly the current sources; return _build/html."""
    if not (BUILD_STAMP.exists() and BUILD_STAMP.read_text().strip() == sources_hash()):
        build()
    return HTML


def page_weight(page: Path, html: Path = HTML, limit: int = MAX_PAGE_BYTES) -> str | None:
    """What is wrong with ``page`` if it weighs more than ``limit`` bytes, naming its biggest images."""
    size = page.stat().st_size
    if size <= limit:
        return None
    text = page.read_text(errors="replace")
    images = sorted(
        ((len(m[2] or m[4]), m[1] or m[3]) for m in EMBEDDED_IMAGE.finditer(text)), reverse=True
    )  # (base64 characters, mime type), the biggest first
    embedded = (
        f"{len(images)} embedded images make {sum(n for n, _ in images) / 1e3:.0f} kB of it (the biggest: "
        + ", ".join(f"{mime} {n / 1e3:.1f} kB" for n, mime in images[:3])
        + "). A widget (nets.widgets.explore) embeds one image per option: give it fewer options or "
        "lighter figures"
        if images
        else "it embeds no images: look for long tables or printed output"
    )
    return (
        f"{page.relative_to(html)} weighs {size / 1e3:.0f} kB, more than the {limit / 1e3:.0f} kB a page "
        f"may: {embedded}"
    )


def check_site(html: Path = HTML) -> list[str]:
    """Problems a reader would meet: widget code from a CDN or from a file the site lacks, a heavy page."""
    problems = []
    for page in sorted(html.rglob("*.html")):
        text, name = page.read_text(errors="replace"), page.relative_to(html)
        heavy = page_weight(page, html)
        if heavy:
            problems.append(heavy)
        sources = re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", text)
        for src in sources:
            if not any(word in src for word in WIDGET_WORDS):
                continue
            if "://" in src or src.startswith("//"):
                problems.append(f"{name} loads widget code from outside the site: {src}")
            elif not (page.parent / src.split("?")[0]).resolve().is_file():
                problems.append(f"{name} loads {src}, which the site lacks")
        for model in sorted(set(LIVE_MODEL.findall(text))):
            if not (html / "live" / model).is_file():
                problems.append(
                    f"{name} runs the live model live/{model}, which the site lacks: its chapter's cached "
                    "outputs outlived the model files; rebuild with --fresh"
                )
        if "data-jupyter-widgets-cdn" in text:
            problems.append(f"{name} points the widget manager at a CDN (data-jupyter-widgets-cdn)")
        if "application/vnd.jupyter.widget-state+json" in text:
            for script in WIDGET_SCRIPTS:
                if not any(src.split("?")[0].endswith(script) for src in sources):
                    problems.append(f"{name} has widgets but does not load {script}")
    return problems


def prune_live_models(html: Path = HTML, live: Path = LIVE) -> list[Path]:
    """Remove the live models no page runs (earlier builds' versions) from the site and its source."""
    used = {m for page in html.rglob("*.html") for m in LIVE_MODEL.findall(page.read_text(errors="replace"))}
    stale = [p for folder in (live, html / "live") for p in folder.glob("*.onnx") if p.name not in used]
    for path in stale:
        path.unlink()
    return stale


def _jupyter_book() -> str:
    beside = Path(sys.executable).with_name("jupyter-book")
    found = str(beside) if beside.exists() else shutil.which("jupyter-book")
    if not found:
        raise SystemExit("jupyter-book is not installed: run `make book`, which installs requirements.txt")
    return found


def _execution_times(cache: Path = EXECUTION_CACHE) -> dict[str, float]:
    """Seconds each chapter's cached outputs took to compute, from its latest jupyter-cache record."""
    from jupyter_cache import get_cache

    if not cache.exists():
        return {}
    latest = {}
    for record in get_cache(cache).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None and (record.uri not in latest or record.created > latest[record.uri][0]):
            latest[record.uri] = (record.created, seconds)
    return {Path(uri).name: seconds for uri, (_, seconds) in latest.items()}


# ipykernel >= 7 logs this once per kernel. The build's kernels are started by jupyter_client on
# 127.0.0.1 and stopped with the build; the notice is about kernels that others can reach, so the log
# drops it rather than print it once per chapter as a WARNING nobody should act on.
_KERNEL_TCP_NOTICE = "Kernel is running over TCP without encryption"


def _book_env() -> dict[str, str]:
    """The environment of the build and its kernels: the HTML and the PDF build execute alike."""
    env = dict(os.environ)
    env[BOOK_BUILD_ENV] = "1"
    # One OpenMP thread per kernel: on a shared or busy 2-core machine a second thread mostly waits for a
    # core, and CPU training ran up to 10x slower with two than with one (measured while building).
    env.setdefault("OMP_NUM_THREADS", "1")
    # The kernel's "python" is looked up on PATH (ipykernel's kernel.json): make it this interpreter's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["NO_COLOR"] = "1"  # a plain log
    env[LIVE_DIR_ENV], env[LIVE_URL_ENV] = str(LIVE), LIVE_URL
    return env


def _run_logged(command: list[str], log: Path, cwd: Path = ROOT, echo: bool = True) -> tuple[int, list[str]]:
    """Run ``command``, printing its output as it comes (unless ``echo`` is off) and saving it to ``log``."""
    print("$", " ".join(command), flush=True)
    log_lines = []
    with subprocess.Popen(
        command, cwd=cwd, env=_book_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as run:
        assert run.stdout is not None
        for line in run.stdout:
            if _KERNEL_TCP_NOTICE in line:  # see _KERNEL_TCP_NOTICE
                continue
            if echo:
                print(line, end="", flush=True)
            log_lines.append(line)
    atomic_write(log, "".join(log_lines).encode())
    return run.returncode, log_lines


def _jupyter_book_strict(builder: str, log: Path) -> list[str]:
    """`jupyter-book build` with ``builder``, strictly; raise SystemExit on a failure or a warning."""
    command = [_jupyter_book(), "build", "--all", "-W", "-n", "--keep-going", "--builder", builder, str(ROOT)]
    returncode, log_lines = _run_logged(command, log)
    warnings = [line.rstrip() for line in log_lines if "WARNING:" in line or "ERROR:" in line]
    if returncode != 0 or warnings:
        raise SystemExit(
            f"the book's {builder} build failed (exit code {returncode}, {len(warnings)} warnings/errors; "
            f"the full log is {log}):\n" + "\n".join(warnings[:30])
        )
    return log_lines


def build(fresh: bool = False, refresh_js: bool = False) -> Path:
    """Run the strict build; raise SystemExit with the reason if it fails. Returns _build/html."""
    start = time.perf_counter()
    if fresh:
        shutil.rmtree(EXECUTION_CACHE, ignore_errors=True)
    if invalidate_stale_cache():
        print("nets/ or the environment changed since the last build: execution cache wiped", flush=True)
    stage_site_js(refresh=refresh_js)
    shutil.rmtree(HTML, ignore_errors=True)  # no page of a removed chapter may survive
    source_hash = sources_hash()
    log_lines = _jupyter_book_strict("html", BUILD / "build.log")
    problems = check_site()
    if problems:
        raise SystemExit("the built site has problems:\n" + "\n".join(problems))
    prune_live_models()
    pages = [p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts]
    largest = max(pages, key=lambda p: p.stat().st_size)
    summary = [
        f"execution time of {name}: {seconds:.1f} s" for name, seconds in sorted(_execution_times().items())
    ]
    summary.append(f"largest page: {largest.relative_to(ROOT)} ({largest.stat().st_size / 1e3:.0f} kB)")
    summary.append(
        f"built {len(pages)} pages in {time.perf_counter() - start:.0f} s: open {HTML / 'index.html'}"
    )
    print("\n".join(summary))
    atomic_write(BUILD / "build.log", "".join(log_lines + [line + "\n" for line in summary]).encode())
    atomic_write(BUILD_STAMP, source_hash.encode())
    return HTML


# What a LaTeX log says when the PDF has a "??" or a missing glyph: the build fails on either.
LATEX_PROBLEMS = re.compile(
    r"^(LaTeX Warning: (Reference|Citation|Hyper reference) .* undefined.*"
    r"|LaTeX Warning: There were undefined references.*|Missing character: .*)$",
    re.MULTILINE,
)


def latex_problems(log_text: str) -> list[str]:
    """The undefined references and missing characters a LaTeX log reports, each once."""
    return list(dict.fromkeys(m.group(0) for m in LATEX_PROBLEMS.finditer(log_text)))


# LaTeX packages the Jupyter Book class (sphinx-jupyterbook-latex's jupyterBook.cls) loads but the book
# never uses, with a stand-in where Debian has them only in a large package: bbm (blackboard-bold
# \mathbbm, for the class's \RR, \NN, ...) is in texlive-fonts-extra, hundreds of MB.
STAND_INS = {
    "bbm.sty": "\\ProvidesPackage{bbm}[2025/01/01 stand-in]\n\\providecommand{\\mathbbm}[1]{\\mathbb{#1}}\n"
}


def _stand_in_packages(folder: Path) -> None:
    """Write a stand-in beside the .tex for each package of STAND_INS that TeX cannot find."""
    for name, text in STAND_INS.items():
        found = subprocess.run(["kpsewhich", name], capture_output=True, text=True).stdout.strip()
        if not found:
            atomic_write(folder / name, text.encode())


def build_pdf(fresh: bool = False) -> Path:
    """Build the whole book into one PDF, strictly; raise SystemExit if it fails. Returns the PDF.

    The LaTeX builder reads the same execution cache as the HTML build: a chapter the HTML build has
    executed is not executed again. xelatex (Unicode output: ×, ≥, arrows) runs through latexmk; the
    build fails on a Sphinx warning, a LaTeX error, an undefined reference or citation, or a glyph the
    fonts lack. The PDF is also copied where the site publishes it (the book links to it).
    """
    start = time.perf_counter()
    missing = [tool for tool in ("xelatex", "latexmk") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(
            f"the PDF needs {' and '.join(missing)}: apt-get install texlive-latex-extra texlive-xetex "
            "texlive-fonts-recommended latexmk fonts-freefont-otf (.ci/run installs them)"
        )
    if fresh:
        shutil.rmtree(EXECUTION_CACHE, ignore_errors=True)
    if invalidate_stale_cache():
        print("nets/ or the environment changed since the last build: execution cache wiped", flush=True)
    shutil.rmtree(LATEX, ignore_errors=True)
    SITE_EXTRA.mkdir(parents=True, exist_ok=True)  # html_extra_path: Sphinx warns if it is missing
    source_hash = sources_hash()
    _jupyter_book_strict("latex", BUILD / "latex-build.log")
    tex = LATEX / PDF_NAME.replace(".pdf", ".tex")
    if not tex.is_file():
        raise SystemExit(f"the LaTeX builder wrote no {tex.name}: check latex_documents in _config.yml")
    _stand_in_packages(LATEX)
    print(f"typesetting {tex.relative_to(ROOT)} with xelatex (latexmk; the log is {LATEX / 'latexmk.log'})")
    latexmk = ["latexmk", "-pdf", "-dvi-", "-ps-", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    returncode, lines = _run_logged(latexmk, LATEX / "latexmk.log", cwd=LATEX, echo=False)
    pdf = LATEX / PDF_NAME
    tex_log = tex.with_suffix(".log")
    log_text = tex_log.read_text(errors="replace") if tex_log.exists() else ""
    if returncode != 0 or not pdf.is_file():
        errors = [line.rstrip() for line in log_text.splitlines() if line.startswith("!")] or lines[-20:]
        raise SystemExit(f"xelatex failed (the log is {tex_log}):\n" + "\n".join(errors[:20]))
    problems = latex_problems(log_text)
    if problems:
        raise SystemExit(
            f"the PDF has unresolved references or missing glyphs ({tex_log}):\n" + "\n".join(problems[:30])
        )
    for folder in (SITE_EXTRA, HTML):  # published beside the pages, now and by later HTML builds
        if folder.is_dir():
            shutil.copyfile(pdf, folder / PDF_NAME)
    print(
        f"built {pdf.relative_to(ROOT)} ({pdf.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s"
    )
    atomic_write(PDF_STAMP, source_hash.encode())
    return pdf


def ensure_pdf() -> Path:
    """Build the PDF unless it was built from exactly the current sources; return it."""
    if not (PDF_STAMP.exists() and PDF_STAMP.read_text().strip() == sources_hash()):
        build_pdf()
    return LATEX / PDF_NAME


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fresh", action="store_true", help="wipe the execution cache: re-execute every chapter"
    )
    parser.add_argument(
        "--refresh-js", action="store_true", help="fetch the pinned JavaScript again with npm (after a bump)"
    )
    parser.add_argument(
        "--pdf", action="store_true", help=f"build the whole book into one PDF, _build/latex/{PDF_NAME}"
    )
    parser.add_argument(
        "--sync-setup-cells",
        action="store_true",
        help="copy book/_setup_cell.py into every chapter, then stop",
    )
    args = parser.parse_args(argv)
    if args.sync_setup_cells:
        changed = sync_setup_cells()
        print("\n".join(f"updated {p.relative_to(ROOT)}" for p in changed) or "every chapter is up to date")
        return
    if args.pdf:
        build_pdf(fresh=args.fresh)
    else:
        build(fresh=args.fresh, refresh_js=args.refresh_js)


if __name__ == "__main__":
    main()
