"""A real `systemd --user` for tests, with its own journald, in private namespaces.

How (root only; found by trying on a container whose PID 1 is not systemd, with systemd 252
and the hybrid cgroup layout: v1 controllers, `name=systemd` at /sys/fs/cgroup/systemd and
cgroup2 at /sys/fs/cgroup/unified):

- `unshare --mount --pid --fork --mount-proc --propagation private` runs a holder (this file
  run as a script). It is PID 1 of the new PID namespace: when it exits, for whatever reason,
  the kernel kills everything started inside (manager, journald, the sundown daemon), so
  nothing outlives a test.
- Inside it mounts tmpfs over /run/systemd (with `system/`, so the manager believes it runs
  under systemd), /run/log and /var/log/journal (a private journald and journal files),
  /run/user (a fresh XDG_RUNTIME_DIR) and /sys/fs/cgroup/unified (so systemd sees no cgroup2
  and uses the `name=systemd` v1 hierarchy, which root can delegate with a chown).
- The manager's cgroup is a directory in the v1 `name=systemd` hierarchy owned by the test
  user. That hierarchy is shared with the whole machine, so each instance gets its own
  directory (`sundown-test-<pid>-<token>.slice/user@UID.service`) instead of the usual
  `user.slice/user-UID.slice/user@UID.service`: two test runs at once would otherwise share
  one cgroup. The user manager takes whatever cgroup it starts in as its root. The directory
  is removed afterwards, and left-overs of killed runs are swept at the next start.
- `systemd-journald` runs privately, then `journalctl --flush`: journald writes per-user
  journal files (what `journalctl --user` reads, as the user) only on /var, never on /run.
  For the same reason the test user needs a uid >= 1000: a system user's lines go to the
  system journal, which the user cannot read.
- `/lib/systemd/systemd --user` starts as the test user through `setpriv`, after moving itself
  into the cgroup directory.
- The Python running the tests (and the source tree) may sit below a directory the test
  user cannot enter (pyenv in /root, mode 0700). Inside the namespace such a directory is
  covered by a tmpfs and the needed paths are bind-mounted back at the same place, so
  `sys.executable` and the unit's ExecStart work unchanged for the test user.

Commands run as the test user inside the namespaces via `nsenter` + `setpriv`, with the
environment of a login session (HOME, XDG_RUNTIME_DIR; no other XDG variable), so
`sundown service install` behaves as for a person. `UserManager.unavailable()` says why
none can be started here (not root, no systemd, no test user, ...).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
TEST_USER = os.environ.get("SUNDOWN_TEST_USER", "sundown-test")
SYSTEMD = "/lib/systemd/systemd"
JOURNALD = "/lib/systemd/systemd-journald"
CGROUP_V1 = Path("/sys/fs/cgroup/systemd")
CGROUP_PREFIX = "sundown-test-"
TOOLS = ("unshare", "nsenter", "setpriv", "systemctl", "journalctl", "mount")
START_TIMEOUT = 30.0


def unavailable(user: str = TEST_USER) -> str | None:
    """Why no user manager can be started here, or None when one can."""
    if os.geteuid() != 0:
        return "needs root (mounts, cgroups, setpriv)"
    for path in (SYSTEMD, JOURNALD):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install systemd)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install systemd util-linux mount)"
    if not (CGROUP_V1 / "cgroup.procs").exists():
        return f"no cgroup v1 name=systemd hierarchy at {CGROUP_V1}"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return f"no test user {user!r} (useradd --no-create-home --home-dir /nonexistent {user})"
    if entry.pw_uid < 1000:
        return f"test user {user!r} has uid {entry.pw_uid}: journald keeps no user journal below 1000"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=10
    )
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.strip()}"
    return None


def _unreachable_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The top-most directory on `path` that `uid` cannot search (others' x bit), if any."""
    current = "/"
    for part in Path(path).parts[1:]:
        current = os.path.join(current, part)
        try:
            st = os.stat(current)
        except OSError:
            return None
        if not os.path.isdir(current):
            return None
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return current
    return None


def _sweep_stale_cgroups() -> None:
    """Remove cgroup directories of earlier runs whose holder is gone (killed test runs)."""
    for top in CGROUP_V1.glob(CGROUP_PREFIX + "*.slice"):
        pid = top.name[len(CGROUP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        _remove_cgroup(top, timeout=2.0)


def _remove_cgroup(top: Path, timeout: float) -> bool:
    """Kill what is left in the tree and remove it bottom-up; True when it is gone."""
    deadline = time.monotonic() + timeout
    while top.exists():
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for d in [*dirs, top]:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
                d.rmdir()
            except OSError:
                pass
        if not top.exists() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return not top.exists()


class UserManager:
    """One running `systemd --user` (and journald) for the test user; `close()` removes it all."""

    def __init__(self, user: str = TEST_USER) -> None:
        entry = pwd.getpwnam(user)
        self.user, self.uid, self.gid = user, entry.pw_uid, entry.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="sundown-user-manager-"))
        self.home = self.root / "home"
        self.runtime_dir = f"/run/user/{self.uid}"
        self.cgroup_top = CGROUP_V1 / f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.slice"
        self.holder: subprocess.Popen[str] | None = None
        self.ns_pid: int | None = None
        self._holder_log = self.root / "holder.log"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> UserManager:
        _sweep_stale_cgroups()
        self.home.mkdir()
        for d in (self.root, self.home):
            os.chown(d, self.uid, self.gid)
        self.root.chmod(0o755)
        reach = sorted({sys.base_prefix, sys.prefix, os.path.realpath(sys.executable), str(REPO)})
        config = {
            "uid": self.uid,
            "gid": self.gid,
            "user": self.user,
            "cgroup": str(self.cgroup_top / f"user@{self.uid}.service"),
            "root": str(self.root),
            "reach": reach,
            "env": self.manager_env(),
        }
        with open(self._holder_log, "w") as log:
            self.holder = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--pid",
                    "--fork",
                    "--mount-proc",
                    "--propagation",
                    "private",
                    sys.executable,
                    __file__,
                    "--holder",
                    json.dumps(config),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.holder is not None and self.holder.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while not line.endswith("\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.holder.stdout], [], [], left)[0]:
                raise RuntimeError(f"systemd --user not up within {timeout:g} s\n{self.diagnostics()}")
            chunk = self.holder.stdout.readline()
            if not chunk:
                raise RuntimeError(f"the namespace holder exited\n{self.diagnostics()}")
            line += chunk
        if line.strip() != "ready":
            raise RuntimeError(f"unexpected holder output {line!r}\n{self.diagnostics()}")
        # The holder is `unshare`'s child: PID 1 inside, some pid outside. nsenter needs the latter.
        children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read_text().split()
        self.ns_pid = int(children[0])

    def close(self) -> None:
        """Stop the manager (and so the daemon), journald, the namespaces; remove the cgroup."""
        holder, self.holder = self.holder, None
        if holder is not None:
            if holder.stdin is not None:
                try:
                    holder.stdin.close()  # EOF: the holder stops everything and exits
                except OSError:
                    pass
            try:
                holder.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(holder.pid, signal.SIGKILL)  # PID 1 of the namespace gone: all gone
                holder.wait(timeout=10)
            if holder.stdout is not None:
                holder.stdout.close()
        if not _remove_cgroup(self.cgroup_top, timeout=10.0):
            raise RuntimeError(f"could not remove {self.cgroup_top}")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> UserManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running things inside ------------------------------------------------------------------

    def manager_env(self) -> dict[str, str]:
        """What a login session gives the user manager (and so every service it starts): no TZ, as usual."""
        return {
            "HOME": str(self.home),
            "USER": self.user,
            "LOGNAME": self.user,
            "SHELL": "/bin/sh",
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": self.runtime_dir,
            # The sundown under test, not whatever is installed next to the interpreter.
            "PYTHONPATH": str(REPO / "src"),
        }

    def _inside(self, argv: Sequence[str], env: Mapping[str, str] | None, as_root: bool) -> list[str]:
        """The command line that runs `argv` inside the namespaces, as the test user (or root)."""
        if self.ns_pid is None:
            raise RuntimeError("the user manager is not running")
        full_env = {**self.manager_env(), **(env or {})}
        become = [] if as_root else ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups"]
        return [
            "nsenter",
            f"--target={self.ns_pid}",
            "--mount",
            "--pid",
            "--",
            *become,
            "env",
            "-i",
            *(f"{k}={v}" for k, v in full_env.items()),
            *argv,
        ]

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        as_root: bool = False,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """`argv` inside the namespaces, as the test user (or root), with the session env + `env`."""
        cmd = self._inside(argv, env, as_root)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.home)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def in_a_terminal(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        """`argv` started inside, as the test user, in a terminal of its own (`script` gives it a pty),
        as a person types `sundown run`; stop it with `run(["kill", PID])` or `terminate()`."""
        command = " ".join(shlex.quote(a) for a in argv)
        cmd = self._inside(["script", "--quiet", "--return", "--command", command, "/dev/null"], None, False)
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.home
        )

    def sundown(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "sundown", *args], **kw)

    def systemctl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--user", *args], **kw)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", unit, "--property=" + ",".join(properties), check=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args: str) -> str:
        """`journalctl --user ARGS` as the test user: what a person sees."""
        return self.run(["journalctl", "--user", "--no-pager", "-q", *args], check=True).stdout

    def write(self, relative: str, text: str, mode: int = 0o644) -> Path:
        """A file below HOME, owned by the test user (parents too)."""
        path = self.home / relative
        missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        for p in [*missing, path]:
            if p == path:
                path.write_text(text)
                path.chmod(mode)
            os.chown(p, self.uid, self.gid)
        return path

    def diagnostics(self) -> str:
        parts = []
        for name in ("holder.log", "journald.log", "manager.log"):
            p = self.root / name
            if p.exists():
                parts.append(f"--- {name}\n{p.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


# --- the holder: PID 1 of the namespaces ---------------------------------------------------------


def _holder(config: dict[str, Any]) -> int:
    uid, gid = config["uid"], config["gid"]
    root, cgroup = Path(config["root"]), Path(config["cgroup"])
    env = config["env"]

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True, timeout=10)

    mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run/systemd")
    os.mkdir("/run/systemd/system")
    mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run/log")
    if os.path.isdir("/var/log/journal"):
        mount("-t", "tmpfs", "-o", "mode=2755", "tmpfs", "/var/log/journal")
    else:  # journald writes per-user files only to /var/log/journal; make one, privately
        mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", "/var/log")
        os.mkdir("/var/log/journal", 0o2755)
    if os.path.ismount("/sys/fs/cgroup/unified"):
        mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", "/sys/fs/cgroup/unified")
    os.makedirs("/run/user", exist_ok=True)  # a directory on the host at worst, empty
    mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run/user")
    runtime = Path(env["XDG_RUNTIME_DIR"])
    runtime.mkdir(mode=0o700)
    os.chown(runtime, uid, gid)
    _make_reachable(config["reach"], uid, gid)

    cgroup.mkdir(parents=True)
    for p in [cgroup, *cgroup.iterdir()]:
        os.chown(p, uid, gid)

    with open(root / "journald.log", "w") as jlog:
        journald = subprocess.Popen([JOURNALD], stdout=jlog, stderr=jlog, stdin=subprocess.DEVNULL)
    _wait(lambda: os.path.exists("/run/systemd/journal/stdout"), 10, "journald's socket")
    subprocess.run(["journalctl", "--flush"], check=True, timeout=20, capture_output=True)

    def enter_cgroup() -> None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    argv = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={gid}",
        "--init-groups",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
        SYSTEMD,
        "--user",
        "--log-target=journal",
    ]
    with open(root / "manager.log", "w") as mlog:
        manager = subprocess.Popen(
            argv, stdout=mlog, stderr=mlog, stdin=subprocess.DEVNULL, preexec_fn=enter_cgroup
        )

    def running() -> bool:
        state = subprocess.run(
            [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--init-groups",
                "env",
                "-i",
                f"XDG_RUNTIME_DIR={runtime}",
                "systemctl",
                "--user",
                "is-system-running",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if manager.poll() is not None:
            raise RuntimeError(f"systemd --user exited with {manager.returncode}")
        return state in ("running", "degraded")

    _wait(running, 20, "systemd --user to run")
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, _stop)  # like EOF: clean up below
    try:
        while True:
            readable = select.select([sys.stdin], [], [], 1.0)[0]
            if readable and not sys.stdin.readline():
                break  # EOF: the test is done (or died)
            _reap()
    except _Stopped:
        pass
    finally:
        # The manager stops its units on SIGTERM (the daemon gets its own SIGTERM, and exits
        # within 1 s), but the manager itself does not exit while the namespace's journald and
        # holder live on (it waited its whole 8 s in every test, then 2 s in each): once its units'
        # processes are gone (2 s at most), SIGKILL, which ends whatever is left (the test reads
        # nothing after this).
        manager.terminate()
        try:
            _wait(lambda: manager.poll() is not None or _only(cgroup, manager.pid), 2, "the units to stop")
        except RuntimeError:
            pass
        manager.kill()
        manager.wait()
        journald.terminate()
        try:
            journald.wait(timeout=5)
        except subprocess.TimeoutExpired:
            journald.kill()
        _remove_cgroup(cgroup.parent, timeout=5.0)  # also when the test process is gone
    return 0  # exiting PID 1 kills whatever is left in the namespace


class _Stopped(Exception):
    """SIGTERM to the holder."""


def _stop(*_: object) -> None:
    raise _Stopped


def _make_reachable(paths: Sequence[str], uid: int, gid: int) -> None:
    """Paths the test user must reach but cannot: tmpfs over the blocking directory, bind back."""
    blocked: dict[str, list[str]] = {}
    for path in paths:
        top = _unreachable_ancestor(path, uid, gid)
        if top is not None:
            blocked.setdefault(top, []).append(path)
    stage = Path("/run/user/.stage")
    for top, inside in blocked.items():
        stage.mkdir(exist_ok=True)
        keep = [p for p in inside if not any(p != q and p.startswith(q + "/") for q in inside)]
        staged = []
        for i, path in enumerate(keep):
            # A bind mount needs a mount point of its kind: a directory, or a file for a file.
            where = stage / str(i)
            if os.path.isdir(path):
                where.mkdir()
            else:
                where.touch()
            subprocess.run(["mount", "--bind", path, str(where)], check=True, timeout=10)
            staged.append((where, path))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", top], check=True, timeout=10)
        for where, path in staged:
            if where.is_dir():
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Path(path).touch()
            subprocess.run(["mount", "--move", str(where), path], check=True, timeout=10)


def _only(cgroup: Path, pid: int) -> bool:
    """No process but `pid` is left in the cgroup tree `cgroup` (v1: each directory lists its own)."""
    for procs in cgroup.rglob("cgroup.procs"):
        try:
            if any(int(p) != pid for p in procs.read_text().split()):
                return False
        except OSError:
            pass  # removed meanwhile: its processes are gone
    return True


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _reap() -> None:
    """PID 1 adopts orphans: collect their exit status so no zombie stays."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__" and sys.argv[1:2] == ["--holder"]:
    sys.exit(_holder(json.loads(sys.argv[2])))
