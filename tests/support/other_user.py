"""Another local user on the buses: `nobody`, and a private system bus with Debian's own policy.

`Stranger` runs a small jeepney client as `nobody` with Debian's own /usr/bin/python3 (ours may
live under /root, which he cannot enter; jeepney, pure Python, is copied beside the bus socket
for him). It finds the connections of one process (GetConnectionUnixProcessID, which anyone may
ask the bus) and sends them signals by their unique names: a bus delivers a signal addressed to
a connection whatever its match rules say.

`system_bus` is a dbus-daemon that enforces what Debian's system bus enforces on him: the
`<policy>` rules of /usr/share/dbus-1/system.conf, read from the installed file when the bus
starts, and the holes that systemd's own files in /usr/share/dbus-1/system.d punch for
org.freedesktop.login1 and org.freedesktop.timedate1 (only root may own those names). It
listens on a socket of its own, runs as the test's user (no `<user>` switch) and activates
nothing (no service directories).

Where a test cannot play another user it is skipped with the reason: not root (CI's pass as a
regular user cannot switch users; its root pass runs them). Under SUNDOWN_REQUIRE_E2E=1 (CI) a
missing `nobody`, Debian python3, python-dbusmock or policy file fails the test instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from support.desktop import require, wait_until

SYSTEM_CONF = Path("/usr/share/dbus-1/system.conf")
SYSTEM_D = Path("/usr/share/dbus-1/system.d")
# The real owners' policy files (package systemd): root may own the name, everyone may ask it.
OWNER_POLICIES = ("org.freedesktop.login1.conf", "org.freedesktop.timedate1.conf")

SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <!-- A private system bus for tests (tests/support/other_user.py). Of {system_conf} it keeps
       <type>, <auth> and every <policy> below, copied from the installed file as it is; it leaves
       out <user> (no switch to messagebus), <fork/>, <pidfile>, <syslog/>, its <listen> address,
       the service directories and launch helper (nothing is activated), and its <includedir>s
       (only the two files named at the end are included). -->
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- From {system_conf}: -->
{policies}
  <!-- From systemd's files in {system_d}, included as they are: root may own
       org.freedesktop.login1 and org.freedesktop.timedate1 (the mocks run as root); anyone may
       ask timedate1 anything and login1 what its own list allows. -->
{includes}
</busconfig>
"""


def unavailable(message: str) -> NoReturn:
    """Skip the test; fail it under SUNDOWN_REQUIRE_E2E=1 (CI), where everything is installed."""
    if os.environ.get("SUNDOWN_REQUIRE_E2E") == "1":
        pytest.fail(message)
    pytest.skip(message)


def other_user() -> pwd.struct_passwd:
    """`nobody`, whom only root can run a process as; skipped for anyone else, even in CI."""
    if os.geteuid() != 0:
        pytest.skip(
            "needs root to run a process as another user (nobody): CI's pass as a regular user cannot "
            "switch users; its pass as root runs this"
        )
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        unavailable("no user `nobody` on this machine (useradd --system nobody)")


def system_python() -> str:
    """A Python that another user may run (ours may live under /root, which they cannot enter)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        unavailable("no /usr/bin/python3 for the other user (apt-get install python3)")
    return python


def need_dbusmock() -> None:
    if importlib.util.find_spec("dbusmock") is None:
        unavailable("python-dbusmock is not installed (pip install python-dbusmock)")


@contextmanager
def shared_dir(prefix: str = "sdu-") -> Iterator[Path]:
    """A directory of ours that another user may enter (a bus socket in it), with a short path:
    a socket's path is limited to 107 bytes."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def system_bus_config(socket: Path) -> str:
    """The private system bus's config: Debian's policy, read from the installed files now."""
    if not SYSTEM_CONF.is_file():
        unavailable(f"no {SYSTEM_CONF} (apt-get install dbus)")
    missing = [name for name in OWNER_POLICIES if not (SYSTEM_D / name).is_file()]
    if missing:
        unavailable(f"no {', '.join(missing)} in {SYSTEM_D} (apt-get install systemd)")
    tree = ET.parse(SYSTEM_CONF)  # its DOCTYPE names a DTD, which is never fetched
    policies = tree.getroot().findall("policy")
    assert policies, f"{SYSTEM_CONF} has no <policy>"
    text = "\n".join("  " + ET.tostring(p, encoding="unicode").strip() for p in policies)
    text = "\n".join(line for line in text.splitlines() if line.strip())  # where its comments were
    includes = "\n".join(f"  <include>{SYSTEM_D / name}</include>" for name in OWNER_POLICIES)
    return SYSTEM_BUS_CONFIG.format(
        system_conf=SYSTEM_CONF, system_d=SYSTEM_D, socket=socket, policies=text, includes=includes
    )


@contextmanager
def system_bus(directory: Path) -> Iterator[str]:
    """A dbus-daemon with Debian's system-bus policy, its socket `directory/system_bus_socket`
    (mode 666, as the real one); its address."""
    socket = directory / "system_bus_socket"
    config = directory / "system-bus.conf"
    config.write_text(system_bus_config(socket))
    config.chmod(0o644)
    proc = subprocess.Popen(
        [require("dbus-daemon"), f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        if not address:
            raise AssertionError(f"the system bus did not start: {proc.communicate(timeout=5)[1]}")
        wait_until(socket.exists, 5, "the system bus socket")
        socket.chmod(0o666)
        yield address
    finally:
        proc.kill()
        proc.communicate(timeout=5)


STRANGER = r"""
import ast, json, os, select, sys
from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_call, new_signal
from jeepney import new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

address, pid, steps = sys.argv[1], int(sys.argv[2]), ast.literal_eval(sys.argv[3])
out = {"uid": os.getuid(), "targets": [], "results": []}
try:
    conn = open_dbus_connection(address)
except Exception as exc:  # the bus does not let this user in
    out["refused"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    sys.exit(0)


def outcome(reply):
    if reply.header.message_type is MessageType.error:
        return reply.header.fields.get(HeaderFields.error_name)
    return list(reply.body)


with conn:
    out["me"] = conn.unique_name
    names = conn.send_and_get_reply(message_bus.ListNames(), timeout=5).body[0]
    for name in names:
        if name.startswith(":") and name != conn.unique_name:
            reply = conn.send_and_get_reply(message_bus.GetConnectionUnixProcessID(name), timeout=5)
            if reply.header.message_type is MessageType.method_return and reply.body[0] == pid:
                out["targets"].append(name)
    for step in steps:
        kind = step[0]
        if kind == "own":
            request = message_bus.RequestName(step[1], 4)  # DO_NOT_QUEUE
            out["results"].append(outcome(conn.send_and_get_reply(request, timeout=5)))
        elif kind == "call":
            dest, path, iface, member, sig, body = step[1:]
            call = new_method_call(DBusAddress(path, dest, iface), member, sig or None, body or None)
            out["results"].append(outcome(conn.send_and_get_reply(call, timeout=5)))
        elif kind == "signal":
            path, iface, member, sig, body, count = step[1:]
            emitter = DBusAddress(path, interface=iface)
            for _ in range(count):
                for target in out["targets"]:
                    msg = new_signal(emitter, member, sig, body)
                    msg.header.fields[HeaderFields.destination] = target
                    conn.send(msg)
            out["results"].append(count * len(out["targets"]))
        elif kind == "serve":  # answer calls as the name's owner until stdin closes
            path, iface, answers = step[1:]
            answered = []
            while not select.select([sys.stdin], [], [], 0)[0]:
                try:
                    msg = conn.receive(timeout=0.05)
                except TimeoutError:
                    continue
                fields = msg.header.fields
                if msg.header.message_type is not MessageType.method_call:
                    continue
                member = fields.get(HeaderFields.member)
                if fields.get(HeaderFields.path) == path and member in answers:
                    conn.send(new_method_return(msg, *answers[member]))
                    answered.append(member)
                    print(json.dumps({"answered": member}), flush=True)
                else:
                    conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
            out["results"].append(answered)
    # A round trip: the bus has read (and passed on) everything sent before it.
    conn.send_and_get_reply(message_bus.GetId(), timeout=60)
print(json.dumps(out))
"""


class Stranger:
    """`nobody`, sending from Debian's python3 with a copy of jeepney in `directory`."""

    def __init__(self, directory: Path) -> None:
        import jeepney

        self.user = other_user()
        self.python = system_python()
        self.lib = directory / "lib"
        shutil.copytree(
            Path(jeepney.__file__).parent,
            self.lib / "jeepney",
            ignore=shutil.ignore_patterns("__pycache__", "tests"),
        )
        for path in (self.lib, *self.lib.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)

    def start(self, address: str, pid: int, *steps: tuple[Any, ...]) -> subprocess.Popen[str]:
        """`run`'s steps in a process of his that the test lets go on (a "serve" step lasts until
        its stdin is closed); `finish` it."""
        return subprocess.Popen(
            [self.python, "-c", STRANGER, address, str(pid), repr(list(steps))],
            user=self.user.pw_uid,
            group=self.user.pw_gid,
            extra_groups=[],
            cwd="/",
            env={"PYTHONPATH": str(self.lib), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, proc: subprocess.Popen[str]) -> dict[str, Any]:
        """Close a started stranger's stdin (a "serve" step ends) and read what he did."""
        try:
            out, err = proc.communicate(input="", timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, f"the stranger failed: {err}"
        result: dict[str, Any] = json.loads(out.splitlines()[-1])
        assert result["uid"] == self.user.pw_uid
        return result

    def run(self, address: str, pid: int, *steps: tuple[Any, ...]) -> dict[str, Any]:
        """Connect to `address` as `nobody`, find the connections of process `pid` and take
        `steps`, each one of:
        - ("own", name): RequestName; its result is the reply (a list) or the error's name;
        - ("call", dest, path, iface, member, signature, body): a method call, the same;
        - ("signal", path, iface, member, signature, body, count): the signal `count` times to
          each of `pid`'s connections; its result is how many were sent;
        - ("serve", path, iface, {member: (signature, body)}): answer calls of those members on
          `path` (anything else with UnknownMethod) until stdin closes, printing a line as each is
          answered; its result is the members answered (see `start`).
        Returns {"uid", "me", "targets", "results"}, or {"uid", "refused"} when the bus would not
        let him in."""
        return self.finish(self.start(address, pid, *steps))
