"""The house rules of nets: who may import whom, a light zoo, one calling convention.

Checked from the source (imports are read with ``ast``) and in fresh interpreters (what ``import nets``
actually loads), so a change that breaks a rule fails here with the file and line named.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nets
from nets.registry import entry, families, list_models

NETS = Path(nets.__file__).resolve().parent
# What a model file may import from nets: nothing above the models.
MODEL_MAY_IMPORT = {"nets.layers", "nets.checks", "nets.registry", "nets.weights"}
# The book's libraries: `import nets; nets.build(...)` must load none of them.
BOOK_LIBRARIES = ("matplotlib", "pandas", "ipywidgets", "skimage", "IPython")
# Function-level imports of nets modules, each for a reason other than dodging an import cycle.
LAZY_IMPORTS_ALLOWED = {
    ("__main__.py", "nets.data"),  # the CLI starts fast: `python -m nets list` loads no data code
    ("__main__.py", "nets.registry"),
    ("__main__.py", "nets.train"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(NETS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _nets_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported nets module, line, at function level) for every import of a nets module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    function_level = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function_level.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != "nets":
                continue
            names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            found += [(n, node.lineno, id(node) in function_level) for n in names]
        elif isinstance(node, ast.Import):
            found += [
                (a.name, node.lineno, id(node) in function_level)
                for a in node.names
                if a.name.startswith("nets")
            ]
    return found


def _python_files() -> list[Path]:
    return sorted(NETS.rglob("*.py"))


def _floors_in_the_readme() -> list[list[str]]:
    """The floors of nets, bottom up, as the README's "Repository layout" draws them."""
    text = (NETS.parent / "README.md").read_text()
    block = text.split("its floors, from the bottom up:\n", 1)[1].split("```", 1)[0]
    return [m.group(1).split(" ") for m in re.finditer(r"^  (\S+(?: \S+)*)  ", block, re.M)]


def _part(module: str) -> str:
    """The README's name for a module: ``nets.train.loop`` -> ``train``, ``nets.__main__`` -> ``__main__``."""
    return module.split(".")[1] if module.count(".") else ""


def test_the_readme_lists_every_part_of_nets_once():
    listed = [name for floor in _floors_in_the_readme() for name in floor]
    present = {_part(_module_name(p)) for p in _python_files()} - {""}
    assert len(listed) == len(set(listed)), listed
    assert set(listed) == present, f"README lists {sorted(set(listed) - present)} that do not exist, " + (
        f"and not {sorted(present - set(listed))}"
    )


def test_every_import_goes_down_the_floors():
    """A module imports only from the floors below its own, or from names before it on its floor."""
    order = {name: i for i, name in enumerate(n for floor in _floors_in_the_readme() for n in floor)}
    for path in _python_files():
        me = _part(_module_name(path))
        if not me:
            continue  # nets/__init__.py: the front door re-exports from any floor
        for module, line, _ in _nets_imports(path):
            them = _part(module) or module
            assert them == me or order.get(them, len(order)) < order[me], (
                f"{path.relative_to(NETS.parent)}:{line} imports {module}, which is not below {me} "
                "in the README's floors"
            )


def test_the_registry_imports_nothing_of_nets():
    assert _nets_imports(NETS / "registry.py") == []
    assert _nets_imports(NETS / "checks.py") == []
    assert _nets_imports(NETS / "weights.py") == []


@pytest.mark.parametrize(
    "path", sorted((NETS / "models").rglob("*.py")), ids=lambda p: str(p.relative_to(NETS / "models"))
)
def test_model_files_import_nothing_above_them(path: Path):
    # models/__init__.py imports the families; a family package's files (models/inception/) its own modules
    parts = path.relative_to(NETS / "models").parts
    own = (
        "nets.models."
        if parts == ("__init__.py",)
        else f"nets.models.{parts[0]}."
        if len(parts) > 1
        else None
    )
    for module, line, _ in _nets_imports(path):
        if own is not None and module.startswith(own):
            continue
        assert module in MODEL_MAY_IMPORT, (
            f"{path.relative_to(NETS)}:{line} imports {module}; models import only {MODEL_MAY_IMPORT}"
        )


def test_no_function_level_import_of_nets_dodges_a_cycle():
    for path in _python_files():
        for module, line, lazy in _nets_imports(path):
            if lazy:
                assert (path.name, module) in LAZY_IMPORTS_ALLOWED, (
                    f"{path.relative_to(NETS.parent)}:{line} imports {module} inside a function; "
                    "import it at the top (there is no cycle to dodge) or say why in LAZY_IMPORTS_ALLOWED"
                )


def test_nothing_in_nets_knows_about_the_book():
    for path in _python_files():
        text = path.read_text()
        assert "book/" not in text.replace("book/*", ""), f"{path} names a book path"


@pytest.mark.slow  # a subprocess
def test_import_nets_and_build_load_no_book_library():
    code = (
        "import sys, json, nets\n"
        "nets.build('resnet18'); nets.count_params(nets.build('googlenet'))\n"
        f"print(json.dumps([m for m in {list(BOOK_LIBRARIES)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_light_install_needs_none_of_the_book_libraries():
    import tomllib

    project = tomllib.loads((NETS.parent / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    for library in ("matplotlib", "pandas", "ipywidgets", "scikit-image", "jupyter"):
        assert library not in core, f"{library} is a hard dependency; move it to the [book] extra"
    book = " ".join(project["optional-dependencies"]["book"]).lower()
    for library in ("matplotlib", "pandas", "ipywidgets", "scikit-image"):
        assert library in book


def test_families_come_in_the_order_the_models_package_imports_them():
    assert families() == ["alexnet", "vgg", "resnet", "inception", "efficientnet"]
    assert list_models()[0] == "alexnet" and list_models()[-1] == "efficientnet_b7"


@pytest.mark.parametrize("name", list_models())
def test_every_factory_takes_num_classes_first_and_options_by_keyword(name: str):
    e = entry(name)
    params = list(inspect.signature(e.factory).parameters.values())
    assert params[0].name == "num_classes" and params[0].default == 1000
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), name
    assert e.display and e.min_size >= 1


@pytest.mark.parametrize("name", list_models())
def test_every_model_class_takes_num_classes_first(name: str):
    import torch

    with torch.device("meta"):
        model = nets.build(name, 7)
    params = list(inspect.signature(type(model).__init__).parameters.values())[1:]
    assert params[0].name == "num_classes", f"{type(model).__name__}: num_classes is not first"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), type(model).__name__


def test_a_registered_converter_exists_for_every_model_with_weights():
    for name in list_models():
        e = entry(name)
        if e.weights is not None:
            assert callable(e.converter), name
