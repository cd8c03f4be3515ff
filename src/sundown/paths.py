"""The one place that asks the environment (and platformdirs) where files live, that names the
files of the state directory, and that writes a file whole (`write_atomic`).

Nothing here runs at import time: callers build a `Paths` from an environment
mapping, which keeps tests isolated by pointing XDG_* variables at a temp dir.
On Linux the XDG base directory rules are a few environment lookups, done here:
platformdirs would load tempfile, shutil, bz2 and lzma into every command (6 ms
of a 60 ms `sundown next`). Elsewhere platformdirs answers.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sundown.errors import SundownError

APP = "sundown"


@dataclass(frozen=True)
class Paths:
    """Where this run's config, log and daemon files are: the one place their names are made."""

    config: Path
    config_explicit: bool  # given by --config or SUNDOWN_CONFIG: a missing file is an error
    state_dir: Path
    runtime_dir: Path
    # What can be made again from the log (XDG_CACHE_HOME); None: nothing is cached (tests that
    # build their own Paths).
    cache_dir: Path | None = None

    @property
    def database(self) -> Path:
        return self.state_dir / "sundown.db"

    @property
    def lock(self) -> Path:
        return self.runtime_dir / "daemon.lock"

    @property
    def state_lock(self) -> Path:
        """One daemon per log too: two runtime dirs (a shell without XDG_RUNTIME_DIR) share it."""
        return self.state_dir / "daemon.lock"

    @property
    def winddown_journal(self) -> Path:
        """What the wind-down changed, each setting's value before and after, written before
        each change (runtime/effects/journal.py): the undo that survives a crash."""
        return self.state_dir / "winddown.journal"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    @property
    def spool(self) -> Path:
        """Rows that wait for another writer's lock on the log, in order (runtime/logwriter)."""
        return self.database.with_name(self.database.name + ".pending")

    @property
    def last_good(self) -> Path:
        """A copy of the routine the daemon runs (config/last_good)."""
        return self.state_dir / "last-good-config.toml"

    @property
    def push_since(self) -> Path:
        """The reply stream's position, saved once an answer was handled (push/ntfy)."""
        return self.state_dir / "push-since"

    @property
    def push_relayed(self) -> Path:
        """The time of the last local answer the push server took (runtime/push)."""
        return self.state_dir / "push-relayed"

    @property
    def push_device(self) -> Path:
        """This machine's push id, bound to its machine id (push/keys)."""
        return self.state_dir / "push-device"

    @property
    def push_spans(self) -> Path:
        """The last night whose activity spans the push server took (runtime/push_spans)."""
        return self.state_dir / "push-spans"

    @property
    def calendar_copy(self) -> Path:
        """The last good copy of an https calendar ([calendar] ics = URL)."""
        return self.state_dir / "calendar.ics"

    @property
    def stats_cache(self) -> Path | None:
        """Each past night as `stats` reckoned it (reports/night_cache): lost, it is made again."""
        return self.cache_dir / "stats-nights.json" if self.cache_dir is not None else None

    @property
    def calendar_meta(self) -> Path:
        """Its URL, ETag, Last-Modified and when the server last answered."""
        return self.state_dir / "calendar.json"


def resolve_paths(
    env: Mapping[str, str] | None = None, config: str | os.PathLike[str] | None = None
) -> Paths:
    """Where config, log and runtime files are for this user (docs/commands.md, "Files")."""
    # XDG_* come from os.environ, as platformdirs reads them; `env` carries our own variables.
    env = os.environ if env is None else env
    config_dir, state_dir, runtime_dir = _platform_dirs()
    explicit = config is not None or bool(env.get("SUNDOWN_CONFIG"))
    config_path = Path(config or env.get("SUNDOWN_CONFIG") or config_dir / "config.toml").expanduser()
    if env.get("SUNDOWN_STATE_DIR"):
        state_dir = Path(env["SUNDOWN_STATE_DIR"]).expanduser()
    xdg_runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not os.path.isabs(xdg_runtime) or not owned_private_dir(Path(xdg_runtime)):
        # None (platformdirs would pick a name in the shared /tmp), or one we cannot trust.
        runtime_dir = fallback_runtime_dir(state_dir)
    return Paths(config_path, explicit, state_dir, runtime_dir, _cache_dir())


def config_dir() -> Path:
    """sundown's directory in this user's config directory (the default config's)."""
    return _platform_dirs()[0]


def _platform_dirs() -> tuple[Path, Path, Path]:
    """This user's config, state and runtime directories for sundown, by the platform's rules."""
    if sys.platform == "linux":  # as the dependency's marker: platformdirs is installed elsewhere
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        return (
            _xdg_home("XDG_CONFIG_HOME", ".config") / APP,
            _xdg_home("XDG_STATE_HOME", ".local/state") / APP,
            Path(runtime) / APP,  # used only when it is private: see resolve_paths
        )
    import platformdirs

    with warnings.catch_warnings():
        # Newer platformdirs warn when XDG_RUNTIME_DIR is unset; resolve_paths has its own fallback.
        warnings.simplefilter("ignore")
        runtime_dir = platformdirs.user_runtime_path(APP)
    return platformdirs.user_config_path(APP), platformdirs.user_state_path(APP), runtime_dir


def _cache_dir() -> Path:
    """sundown's directory in this user's cache directory (XDG_CACHE_HOME, by default ~/.cache)."""
    if sys.platform == "linux":
        return _xdg_home("XDG_CACHE_HOME", ".cache") / APP
    import platformdirs

    return platformdirs.user_cache_path(APP)


def _xdg_home(variable: str, default: str) -> Path:
    """$XDG_*_HOME when it is an absolute path (the XDG rule: a relative one is ignored), else ~/`default`."""
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return Path(value)
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):  # unset or relative: the account's home, as expanduser would find it
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return Path(home) / default


def fallback_runtime_dir(state_dir: Path) -> Path:
    """Where lock and socket go without $XDG_RUNTIME_DIR (root in CI, a bare ssh session, cron).

    A private directory in the shared temp dir (short, so the socket path fits), unless
    another user got there first (or made it a symlink): anyone may create that name, and
    it must neither lock us out nor hand our requests to them. Then, and from then on
    while it exists, `run` under the state dir, which only we can write. The CLI and the
    daemon decide alike from what is on disk, so they meet in the same place.
    """
    import tempfile

    shared = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    own = state_dir / "run"
    if owned_private_dir(shared, fixable=True):
        return shared
    if owned_private_dir(own, fixable=True) or not os.path.lexists(shared):
        return own if own.is_dir() else shared
    return own


def owned_private_dir(path: Path, fixable: bool = False) -> bool:
    """`path` is a real directory (not a symlink) of this user's that nobody else may enter.

    With `fixable`, a mode this user could tighten counts too (private_dir tightens it).
    """
    try:
        st = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    return fixable or not stat.S_IMODE(st.st_mode) & 0o077


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing; return it.

    Refuses a directory someone else owns or a symlink: in a shared /tmp
    fallback that would hand our lock and socket to another user.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        raise SundownError(f"{path} is not a directory of this user's; remove it or set XDG_RUNTIME_DIR")
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace `path` with `text` whole or not at all: a crash or a full disk mid-way leaves the
    old file (write a temporary file beside it, fsync, rename). Private (0600) unless `mode` says
    otherwise. Raises OSError; the temporary file never stays behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)  # whatever the umask took away or a leftover had
            view = memoryview(text.encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
