"""scripts/build_book.py as a module for the book tests (scripts/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_build_script():
    if "build_book" not in sys.modules:
        spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_book"] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules["build_book"]


build_book = load_build_script()
