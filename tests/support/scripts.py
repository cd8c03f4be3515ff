"""The repository's own scripts (bench/, scripts/) loaded as modules, for tests of what they compute."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent.parent


def load_script(relative: str) -> ModuleType:
    """The script at `relative` (from the repository's root), imported under its file name."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
