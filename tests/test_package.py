"""What an install carries and says about itself (the packages themselves are built, checked with
twine and installed with pipx by scripts/package-check, which CI runs)."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent


def _project() -> dict:
    return dict(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8")))


def test_the_metadata_is_complete() -> None:
    project = _project()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")
    assert any(c.startswith("Operating System :: POSIX :: Linux") for c in project["classifiers"])
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(project["urls"])
    assert project["scripts"] == {"sundown": "sundown.cli:main"}
    assert (REPO / "src" / "sundown" / "__main__.py").exists()  # python -m sundown


def test_the_package_data_covers_every_data_file_of_the_package() -> None:
    """A data file the wheel would leave out: help pages, the unit, completion, the D-Bus XML, the
    wind-down's grayscale shader."""
    from fnmatch import fnmatch

    patterns = _project()["tool"]["setuptools"]["package-data"]["sundown"]
    package = REPO / "src" / "sundown"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data, "no data files found"
    for name in data:
        assert any(fnmatch(name, pattern) for pattern in patterns), f"{name} is not package data"
    for needed in (
        "completion/sundown.bash",
        "runtime/surfaces/io.github.sundown.Sundown1.xml",
        "runtime/effects/grayscale.frag",
        "sundown.service",
    ):
        assert needed in data
