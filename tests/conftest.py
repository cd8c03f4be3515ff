"""Fixtures only; the helpers behind them live in tests/support/.

Every test runs with XDG dirs in a temp path: never the real ~/.config.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.dbusmocks import Mocks
from support.desktop import Desktop, FakeServer, running_desktop
from support.sandbox import Sandbox
from support.sessions import GnomeShell, ModuleSessions, Plasma
from support.user_manager import UserManager, unavailable

# Fixtures that start real processes: a test using one must carry the `e2e` marker.
E2E_FIXTURES = frozenset(
    {"desktop", "real_server", "bare_bus", "fake_server", "user_manager", "gnome_shell", "plasma", "mocks"}
)


_made_pycache: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode compiled once, not once per process, when the tester turned it off.

    The suite starts about a thousand Python processes of sundown (the CLI, the daemon); with
    PYTHONDONTWRITEBYTECODE each compiles every module it imports again (a sixth of the suite's
    CPU time), and each test process rewrites and compiles every test module. Then the bytecode
    goes to a directory of the tester's own outside the checkout (PYTHONPYCACHEPREFIX; the
    checkout stays free of __pycache__, as the tester wanted), which the test processes (xdist's
    workers are started after this) and their subprocesses inherit. A tester's own
    PYTHONPYCACHEPREFIX, or bytecode left on, is left as it is.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = _own_directory(Path(tempfile.gettempdir()) / f"sundown-test-pycache-{os.getuid()}")
    if prefix is None:  # someone else's, or not a private directory: one of this run's, removed after
        global _made_pycache
        prefix = _made_pycache = Path(tempfile.mkdtemp(prefix="sundown-test-pycache-"))
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.pycache_prefix = str(prefix)
    sys.dont_write_bytecode = False


def _own_directory(path: Path) -> Path | None:
    """`path`, made if missing, when it is a directory (not a link) of ours that nobody else may
    write or read: bytecode there is run by every test process."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
    return path if private else None


def pytest_unconfigure(config: pytest.Config) -> None:
    if _made_pycache is not None:
        shutil.rmtree(_made_pycache, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError("tests starting a desktop need @pytest.mark.e2e: " + ", ".join(unmarked))
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _uses_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    # Slow tests first (stable: otherwise in the order collected). On xdist's workers (groups
    # go first, the largest first) a slow test started last would end the run alone.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """A module-scoped fixture (a tray, a desktop of dconf, PulseAudio and mpv, a generated log) is
    set up once per module in each worker that runs one of its tests: under `--dist loadgroup`
    (scripts/test) the tests using one share a group, hence one worker and one set-up."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@pytest.fixture(autouse=True)
def _processes_only_in_e2e(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test without the `e2e` marker may not start a process: `--fast` must stay fast and self-contained."""
    if request.node.get_closest_marker("e2e") is not None:
        return

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
        raise AssertionError(f"{request.node.nodeid} starts a process ({args!r}): mark it @pytest.mark.e2e")

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)


# A worker's open files after each test: a regular user gets 1,024 (root 20,000 here), and a test
# that leaves files open (a sqlite connection left to the collector) once exhausted a worker in CI as
# a regular user only. The ceiling is well over what the module-scoped desktops hold (about 100).
FD_CEILING = 300


@pytest.fixture(autouse=True)
def _no_file_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test after which the worker holds more than FD_CEILING open files, saying which."""
    yield
    fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []
    if len(fds) <= FD_CEILING:
        return
    kinds: dict[str, int] = {}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":[", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    most = sorted(kinds.items(), key=lambda kv: -kv[1])[:5]
    pytest.fail(f"{len(fds)} files open in this worker after {request.node.nodeid}: {most}", pytrace=False)


@pytest.fixture(autouse=True)
def _xdg_dirs_of_its_own(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the tester's XDG directories, whatever they export: each test gets
    private ones (0700, as a real runtime dir), which a `sandbox` then points into its own tmp_path."""
    root = tmp_path_factory.mktemp("xdg")
    for name in ("CONFIG_HOME", "STATE_HOME", "DATA_HOME", "CACHE_HOME", "RUNTIME_DIR"):
        directory = root / name.lower()
        directory.mkdir(mode=0o700)
        monkeypatch.setenv(f"XDG_{name}", str(directory))
    for name in ("SUNDOWN_CONFIG", "SUNDOWN_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The sandbox's environment for subprocesses and for this process alike (TZ included)."""
    box = Sandbox(tmp_path)
    for key in list(os.environ):
        if key.startswith(("XDG_", "SUNDOWN_")):
            monkeypatch.delenv(key)
    for key in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "HOME", "TZ"):
        monkeypatch.setenv(key, box.env[key])
    time.tzset()
    yield box
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    """A private session bus, Xvfb and dunst."""
    with running_desktop(tmp_path, with_x=True, with_server=True) as desk:
        yield desk


@pytest.fixture
def real_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Desktop]:
    """A private session bus, Xvfb and the real server named by the indirect parameter."""
    with running_desktop(tmp_path, with_x=True, with_server=True, server=request.param) as desk:
        yield desk


@pytest.fixture
def bare_bus(tmp_path: Path) -> Iterator[Desktop]:
    """A private session bus with no notification server on it."""
    with running_desktop(tmp_path, with_x=False, with_server=False) as desk:
        yield desk


@pytest.fixture
def fake_server(bare_bus: Desktop) -> Iterator[Callable[..., FakeServer]]:
    """`fake_server(capabilities=..., delay=..., error=...)` starts a FakeServer on `bare_bus`."""
    servers: list[FakeServer] = []

    def start(**kw: Any) -> FakeServer:
        server = FakeServer(bare_bus.address, **kw)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def desktop_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleSessions]:
    """Real desktops (support/sessions.py), each started once per test module: they are slow to start."""
    sessions = ModuleSessions(tmp_path_factory.mktemp)
    try:
        yield sessions
    finally:
        sessions.close()


@pytest.fixture
def gnome_shell(desktop_sessions: ModuleSessions) -> GnomeShell:
    """The module's GNOME Shell 43 with no notification on screen, banners on, the monitor emptied."""
    return desktop_sessions.fresh(GnomeShell)


@pytest.fixture
def plasma(desktop_sessions: ModuleSessions) -> Plasma:
    """The module's KDE Plasma 5.27 with no popup on screen and the monitor emptied."""
    return desktop_sessions.fresh(Plasma)


@pytest.fixture
def mocks(bare_bus: Desktop) -> Iterator[Mocks]:
    """python-dbusmock services on `bare_bus` (support/dbusmocks.py), all killed at the end."""
    pytest.importorskip("dbusmock")
    m = Mocks(bare_bus)
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def user_manager() -> Iterator[UserManager]:
    """A real `systemd --user` and journald for the test user (tests/support/user_manager.py).

    Skipped with the reason where none can run (not root, no test user, ...); failed under
    SUNDOWN_REQUIRE_E2E=1 (CI) when root, who can run one. CI's pass as a regular user skips them.
    """
    reason = unavailable()
    if reason is not None:
        message = f"no systemd --user for the tests: {reason}"
        if os.environ.get("SUNDOWN_REQUIRE_E2E") == "1" and os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    with UserManager() as manager:
        yield manager
