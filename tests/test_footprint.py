"""What the daemon loads: its footprint is part of the product (an idle daemon stays small)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # every test here starts real processes


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_apscheduler_loads_without_openssl_and_ssl_still_imports_later() -> None:
    out = _run(
        "import sys\n"
        "import sundown.runtime.scheduler\n"
        "print('ssl' in sys.modules, '_ssl' in sys.modules)\n"
        "import ssl\n"
        "print(bool(ssl.OPENSSL_VERSION))\n"
    )
    assert out.splitlines() == ["False False", "True"]


def test_an_ssl_already_loaded_is_left_alone() -> None:
    out = _run(
        "import ssl, sys\n"
        "import sundown.runtime.scheduler\n"
        "print(sys.modules['ssl'] is ssl)\n"
    )
    assert out == "True"
