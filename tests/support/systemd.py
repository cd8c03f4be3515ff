"""systemd stand-ins: the manager's end of NOTIFY_SOCKET and a recording `systemctl --user`."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

ONE_REMINDER = """
timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.magnesium]
before = "45m"
title = "Magnesium"
"""


class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET: a bound AF_UNIX datagram socket."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[tuple[float, dict[str, str]]] = []

    def receive(self, timeout: float = 5.0) -> dict[str, str]:
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in data.split("\n") if line)
        self.received.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, value: str | None = None, timeout: float = 10.0) -> dict[str, str]:
        """Messages until one has `key` (= `value`); earlier ones stay in `received`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key}={value or '*'} within {timeout} s: {self.received}")
            try:
                fields = self.receive(left)
            except TimeoutError:
                continue
            if key in fields and (value is None or fields[key] == value):
                return fields

    def close(self) -> None:
        self.sock.close()


# --- systemctl --user stand-in -------------------------------------------------------------------

FAKE_SYSTEMCTL = r'''#!/usr/bin/env python3
"""Stand-in for `systemctl --user`: records argv, keeps unit state in $FAKE_SYSTEMCTL_STATE."""
import json, os, sys
state_path = os.environ["FAKE_SYSTEMCTL_STATE"]
with open(state_path) as f:
    state = json.load(f)
args = sys.argv[1:]
state["calls"].append(args)
def done(rc=0, out="", err=""):
    with open(state_path, "w") as f:
        json.dump(state, f)
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(rc)
if not args or args[0] != "--user":
    done(1, err="only --user is faked\n")
args = args[1:]
if not state["reachable"]:
    done(1, err="Failed to connect to bus: No medium found\n")
unit = "sundown.service"
search = state.get("unit_path") or os.path.join(os.environ.get("XDG_CONFIG_HOME", ""), "systemd", "user")
unit_file = os.path.join(search.split()[0], unit)
for directory in search.split():
    if os.path.exists(os.path.join(directory, unit)):
        unit_file = os.path.join(directory, unit)
        break
verb = args[0]
if verb == "show" and args[1:] == ["--property=Version"]:
    done(0, "Version=252\n")
if verb == "show" and args[1:] == ["--property=UnitPath"]:
    done(0, f"UnitPath={search}\n")
if verb == "show" and args[1] == unit:
    loaded = os.path.exists(unit_file) or state.get("loaded", False)
    active = unit in state["active"]
    props = {
        "LoadState": "loaded" if loaded else "not-found",
        "ActiveState": state.get("active_state") or ("active" if active else "inactive"),
        "SubState": "running" if active else "dead",
        "UnitFileState": "enabled" if unit in state["enabled"] else "disabled",
        "MainPID": str(state.get("main_pid", 4242) if active else 0),
        "StatusText": state.get("status_text", ""),
        "Result": state.get("result", "success"),
        "NRestarts": "0",
        "ExecMainStatus": "0",
        "ActiveEnterTimestamp": "Wed 2026-11-25 17:00:00 UTC" if active else "",
        "FragmentPath": unit_file if loaded else "",
        "WantedBy": " ".join(state.get("wanted_by", [])),
    }
    wanted = args[2].split("=", 1)[1].split(",")
    done(0, "".join(f"{k}={props.get(k, '')}\n" for k in wanted))
if verb == "show-environment":
    done(0, "".join(f"{k}={v}\n" for k, v in state["env"].items()))
if verb == "is-active":
    done(0 if args[-1] in state["active"] else 3)
if verb == "daemon-reload":
    done(0)
if verb == "import-environment":
    for name in args[1:]:
        if name in os.environ:
            state["env"][name] = os.environ[name]
    done(0)
if verb in ("enable", "reenable"):
    state["enabled"].append(unit)
    if "--now" in args:
        verb = "start"
    else:
        done(0)
if verb in ("start", "restart"):
    if state.get("fail_start"):
        done(1, err=f"Job for {unit} failed because the control process exited with error code.\n"
                    f"See \"journalctl --user -xeu {unit}\" for details.\n")
    state["active"].append(unit)
    done(0)
if verb == "disable":
    state["enabled"] = [u for u in state["enabled"] if u != unit]
    state["active"] = [u for u in state["active"] if u != unit]
    done(0)
done(1, err=f"fake systemctl: unknown verb {verb}\n")
'''


# `journalctl --user ...`: the daemon's lines that the state's "journal" holds (what a failed start
# wrote), whatever the filter; its argv is recorded in "journal_calls".
FAKE_JOURNALCTL = r"""#!/usr/bin/env python3
import json, os, sys
state_path = os.environ["FAKE_SYSTEMCTL_STATE"]
with open(state_path) as f:
    state = json.load(f)
state.setdefault("journal_calls", []).append(sys.argv[1:])
with open(state_path, "w") as f:
    json.dump(state, f)
sys.stdout.write("".join(line + "\n" for line in state.get("journal", [])))
"""


class FakeSystemctl:
    """A `systemctl` (and `journalctl`) first in PATH; `state` is what it will answer, `calls` what it
    was asked."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "fakebin"
        self.bin.mkdir()
        for name, text in (("systemctl", FAKE_SYSTEMCTL), ("journalctl", FAKE_JOURNALCTL)):
            exe = self.bin / name
            exe.write_text(text.replace("/usr/bin/env python3", sys.executable, 1))
            exe.chmod(0o755)
        self.state_path = root / "systemctl-state.json"
        self.set(reachable=True, active=[], enabled=[], env={}, calls=[])

    def set(self, **changes: Any) -> None:
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        state.update(changes)
        self.state_path.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())

    @property
    def calls(self) -> list[list[str]]:
        return [c[1:] for c in self.state["calls"]]  # without the leading --user

    def env(self, base_path: str | None = None) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{base_path or os.environ.get('PATH', '')}",
            "FAKE_SYSTEMCTL_STATE": str(self.state_path),
        }
