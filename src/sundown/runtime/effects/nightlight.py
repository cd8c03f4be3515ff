"""Night light outside GNOME: KWin's, a `gammastep`/`wlsunset` child kept running on
wlroots compositors (their gamma goes back when the program exits), and RandR gamma on X11.

KWin has no D-Bus call that turns its night light on for good (`preview` lasts 15 s): its
configuration in kwinrc is written with `kwriteconfig6 --notify`, or with `kwriteconfig5`
followed by the change notice `--notify` sends (the `org.kde.kconfig.notify` ConfigChanged
signal for kwinrc), which KWin's config watcher acts on: Plasma 6 (`org.kde.KWin.NightLight`)
and Plasma 5.2x (`org.kde.kwin.ColorCorrect` with its `available` property; seen on a real
KWin 5.27, which has no other way: `reconfigure` leaves its night light as it was). The first
Plasma 5 releases took the configuration over D-Bus (`nightColorInfo`/`setNightColorConfig`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sundown.runtime.commands import spawn
from sundown.runtime.effects import USABLE, EffectError, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal
from sundown.runtime.waiting import FdThread

KWIN = "org.kde.KWin"
NIGHT_LIGHT = (KWIN, "/org/kde/KWin/NightLight", "org.kde.KWin.NightLight")
COLOR_CORRECT = (KWIN, "/ColorCorrect", "org.kde.kwin.ColorCorrect")
GROUP = "NightColor"  # kwinrc's group, also in Plasma 6
# What KConfig's Notify flag sends (kwriteconfig6 --notify): KWin's config watcher re-reads kwinrc.
CONFIG_CHANGED = ("/kwinrc", "org.kde.kconfig.notify", "ConfigChanged")  # KF5: path = "/" + file
STOP_WAIT_S = 1.0


class KWinNightLight(Interface):
    effect = "night_light"
    name = "kwin"
    label = "KWin night light"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.via: str | None = None  # "kwinrc" (Plasma 6, 5.2x) or "dbus" (the first Plasma 5s)
        self.write_tool = self.read_tool = ""

    def _find(self) -> Offer:
        if not self.session.has_owner(KWIN):
            return absent("KWin is not on the session bus")
        try:
            self.session.get(*NIGHT_LIGHT, "available")
            self.via = "kwinrc"
        except EffectError:
            try:
                self.session.call(*COLOR_CORRECT, "nightColorInfo")
                self.via = "dbus"
            except EffectError as exc:
                try:
                    self.session.get(*COLOR_CORRECT, "available")
                    self.via = "kwinrc"
                except EffectError:
                    return absent(f"KWin has no night light interface ({exc})")
        if self.via == "kwinrc":
            tools = [(f"kwriteconfig{v}", f"kreadconfig{v}") for v in (6, 5)]
            found = next(((w, r) for w, r in tools if self.session.which(w) and self.session.which(r)), None)
            if found is None:
                return Offer(False, "kwriteconfig6 is not installed (kde-cli-tools)", broken=True)
            self.write_tool, self.read_tool = found
        return USABLE

    def probe(self) -> Offer:
        return self._find()

    def wanted(self) -> list[tuple[str, Any]]:
        assert self.wd is not None
        keys: list[tuple[str, Any]] = [("Active", True)]
        if self.wd.night_light is not True:
            keys += [
                ("Mode", 3 if self.via == "dbus" else "Constant"),
                ("NightTemperature", int(self.wd.night_light)),
            ]
        return keys

    # Plasma 6 and 5.2x: kwinrc through kreadconfig/kwriteconfig ------------------------------

    def read(self, key: str) -> str | None:
        out = self.session.run(self.read_tool, "--file", "kwinrc", "--group", GROUP, "--key", key).out
        return out.strip() or None

    def write(self, key: str, value: str | None) -> None:
        # kwriteconfig6 --notify tells KWin at once; kwriteconfig5 cannot, so the same notice is
        # sent here (KWin 5.27's `reconfigure` does not reach its night light).
        notify = self.write_tool == "kwriteconfig6"
        args = ["--file", "kwinrc", "--group", GROUP, "--key", key, *(["--notify"] if notify else [])]
        if value is None:
            self.session.run(self.write_tool, *args, "--delete")
        else:
            self.session.run(self.write_tool, *args, value)
        if not notify:
            self.session.signal(*CONFIG_CHANGED, "a{saay}", {GROUP: [key.encode()]})

    # The first Plasma 5s: nightColorInfo / setNightColorConfig -------------------------------

    def info(self) -> dict[str, Any]:
        from sundown.notify.bus import unvariant

        raw = self.session.call(*COLOR_CORRECT, "nightColorInfo")[0]
        return {k: unvariant(v) for k, v in dict(raw).items()}

    def configure(self, values: dict[str, Any]) -> None:
        typed = {k: ("b", v) if isinstance(v, bool) else ("i", int(v)) for k, v in values.items()}
        ok = self.session.call(*COLOR_CORRECT, "setNightColorConfig", "a{sv}", typed)
        if ok and ok[0] is False:
            raise EffectError(f"KWin refused the night light configuration {values}")

    def apply(self, journal: Journal) -> bool:
        if self.via is None:
            offer = self._find()
            if not offer.usable:
                raise EffectError(offer.why)
        changed = False
        info = self.info() if self.via == "dbus" else {}
        for key, value in self.wanted():
            setting = f"kwin {GROUP} {key}"
            if self.via == "dbus":
                current: Any = info.get(key)
                text: Any = value
            else:
                current = self.read(key)
                text = str(value).lower() if isinstance(value, bool) else str(value)
            if current == text and journal.find(setting) is None:
                continue
            journal.record(Entry(self.effect, self.name, setting, previous=current, value=text))
            if self.via == "dbus":
                self.configure({key: value})
            else:
                self.write(key, text)
            changed = True
        return changed

    def restore(self, entry: Entry) -> bool:
        if self.via is None:
            offer = self._find()
            if not offer.usable:
                raise EffectError(offer.why)
        key = entry.setting.rsplit(" ", 1)[1]
        current = self.info().get(key) if self.via == "dbus" else self.read(key)
        if current == entry.value:
            if self.via == "dbus":
                if entry.previous is not None:
                    self.configure({key: entry.previous})
            else:
                self.write(key, entry.previous)
            return True
        return bool(current == entry.previous)


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): a pid reused later has another."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class ChildWatch(FdThread):
    """Waits on a child's pidfd (no wakeups while it runs) and says once when it ended."""

    def __init__(self, pidfd: int, on_exit: Callable[[], None]) -> None:
        self.pidfd = pidfd
        self.on_exit = on_exit
        self.start_thread(pidfd, "sundown-child")

    def readable(self) -> bool:
        self.on_exit()
        return False

    def release(self) -> None:
        os.close(self.pidfd)


class GammaChild(Interface):
    """gammastep (or wlsunset) kept running on a wlroots compositor, whose gamma goes back when
    the program exits. A child that dies is started again by the controller, with a growing pause."""

    effect = "night_light"
    name = "gamma-child"
    label = "gammastep/wlsunset (wlroots)"
    bound = True

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pid: int | None = None
        self.log: Any = None
        self.watch_thread: ChildWatch | None = None
        self.ended: str | None = None
        self.on_exit: Callable[[str], None] | None = None

    def probe(self) -> Offer:
        if not self.session.env.get("WAYLAND_DISPLAY"):
            return absent("not a Wayland session (WAYLAND_DISPLAY is not set)")
        if not (self.session.which("gammastep") or self.session.which("wlsunset")):
            return absent("neither gammastep nor wlsunset is installed")
        return USABLE

    def argv(self) -> list[str]:
        assert self.wd is not None
        temperature = self.wd.night_light
        if self.session.which("gammastep"):
            # -r: no fading, so an exit puts the gamma back at once.
            return [
                "gammastep",
                "-m",
                "wayland",
                "-r",
                *(["-O", str(temperature)] if temperature is not True else []),
            ]
        low = 4500 if temperature is True else int(temperature)
        return ["wlsunset", "-t", str(low), "-T", str(low + 1)]

    def apply(self, journal: Journal) -> bool:
        argv = self.argv()
        path = self.session.which(argv[0])
        if path is None:
            raise EffectError(f"{argv[0]} is not installed")
        entry = journal.record(
            Entry(self.effect, self.name, "gamma child", previous=None, value={"argv": argv})
        )
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - kept until the child ends, to say why
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            self.pid = spawn([path, *argv[1:]], self.session.env, devnull, self.log.fileno())
        except OSError as exc:
            raise EffectError(f"{argv[0]}: {exc.strerror or exc}") from None
        finally:
            os.close(devnull)
        self.ended = None
        value = {"argv": argv, "pid": self.pid, "start": start_time(self.pid)}
        journal.update(Entry(self.effect, self.name, entry.setting, previous=None, value=value))
        try:
            self.watch_thread = ChildWatch(os.pidfd_open(self.pid), self._exited)
        except (AttributeError, OSError):
            self.watch_thread = None  # no pidfd: a death is noticed at the next tick (holds)
        return True

    def watch(self, on_exit: Callable[[str], None]) -> None:
        self.on_exit = on_exit

    def _exited(self) -> None:
        why = self._reap()
        if why is not None and self.on_exit is not None:
            self.on_exit(why)

    def _reap(self) -> str | None:
        """Why the child ended, once it has (None while it runs)."""
        if self.pid is None:
            return self.ended
        try:
            done, raw = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done, raw = self.pid, 0
        if not done:
            return None
        status = os.waitstatus_to_exitcode(raw)
        last = ""
        if self.log is not None:
            self.log.seek(0)
            lines = self.log.read().decode(errors="replace").strip().splitlines()
            last = lines[-1][:200] if lines else ""
        self.pid = None
        how = f"killed by signal {-status}" if status < 0 else f"exited with {status}"
        self.ended = f"{self.argv()[0] if self.wd else 'the child'} {how}{f': {last}' if last else ''}"
        return self.ended

    def holds(self, entry: Entry) -> bool:
        return self.pid is not None and self._reap() is None

    def restore(self, entry: Entry) -> bool:
        if self.pid is not None:
            self._stop_child()
            return True
        value = entry.value if isinstance(entry.value, dict) else {}
        pid, started = value.get("pid"), value.get("start")
        if isinstance(pid, int) and started is not None and start_time(pid) == started:
            # A child of a daemon that was killed: it still holds the gamma.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_WAIT_S
            while start_time(pid) == started and time.monotonic() < deadline:
                time.sleep(0.02)
            if start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        return True

    def _stop_child(self) -> None:
        pid = self.pid
        if pid is None:
            return
        if self.watch_thread is not None:
            self.watch_thread.close()
            self.watch_thread = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and self._reap() is None:
            time.sleep(0.02)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.pid = None

    def release(self) -> None:
        if self.watch_thread is not None:
            self.watch_thread.close()
            self.watch_thread = None
        if self.log is not None:
            self.log.close()
            self.log = None


class RandrGamma(Interface):
    """X11 without a desktop night light: `gammastep -m randr` sets the RandR gamma once (it
    stays when gammastep exits) and `gammastep -x` resets it; xrandr reads it before and after,
    so a gamma the person changed meanwhile is left as they set it.

    An X server that keeps no gamma ramps (Xvfb: xrandr reads every ramp as 0, `Brightness:
    0.0`, a screen that shows anything cannot have) takes gammastep's ramps without a word and
    changes nothing: it does not offer a night light, rather than one said `on` that is not."""

    effect = "night_light"
    name = "randr"
    label = "RandR gamma (X11, gammastep)"

    def probe(self) -> Offer:
        if not self.session.env.get("DISPLAY"):
            return absent("no X display (DISPLAY is not set)")
        if self.session.which("gammastep") is None:
            return absent("gammastep is not installed")
        brightness = self._read("Brightness:")
        if brightness and all(_number(b) == 0 for b in brightness.values()):
            return absent(
                "this X server keeps no gamma ramps (xrandr reads a brightness of 0.0 on"
                f" {', '.join(sorted(brightness))}): gammastep would change nothing"
            )
        return USABLE

    def gammas(self) -> dict[str, str] | None:
        """Each connected output's gamma as xrandr shows it; None without xrandr."""
        return self._read("Gamma:")

    def _read(self, field: str) -> dict[str, str] | None:
        """Each connected output's `field` as `xrandr --verbose` shows it; None without xrandr."""
        if self.session.which("xrandr") is None:
            return None
        found: dict[str, str] = {}
        output = None
        for line in self.session.run("xrandr", "--verbose").out.splitlines():
            if not line.startswith((" ", "\t")) and " connected" in line:
                output = line.split()[0]
            elif output and line.strip().startswith(field):
                found[output] = line.split(":", 1)[1].strip()
        return found

    def apply(self, journal: Journal) -> bool:
        assert self.wd is not None
        setting = "randr gamma"
        before = self.gammas()
        old = journal.find(setting)
        entry = journal.record(Entry(self.effect, self.name, setting, previous=before, value=None))
        args = ["-o"] if self.wd.night_light is True else ["-O", str(int(self.wd.night_light))]
        self.session.run("gammastep", "-m", "randr", "-r", *args)
        journal.update(Entry(self.effect, self.name, setting, previous=entry.previous, value=self.gammas()))
        return old is None or old.value != before

    def restore(self, entry: Entry) -> bool:
        now = self.gammas()
        if now is None or entry.value is None or now == entry.value:
            self.session.run("gammastep", "-m", "randr", "-x")
            previous = entry.previous if isinstance(entry.previous, dict) else {}
            for output, gamma in previous.items():
                if gamma.replace(" ", "") not in ("1.0:1.0:1.0", "1:1:1"):
                    # xrandr shows the inverse of the gamma it is given.
                    inverse = ":".join(f"{1 / float(g):.3f}" for g in gamma.split(":"))
                    self.session.run("xrandr", "--output", output, "--gamma", inverse)
            return True
        return bool(now == entry.previous)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
