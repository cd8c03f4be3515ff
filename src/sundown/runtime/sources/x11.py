"""The X server as a context source: a fullscreen active window, and the idle time (both asked)."""

from __future__ import annotations

from datetime import timedelta

from sundown.runtime.sources.source import Source
from sundown.runtime.sources.xlib import X11


class Fullscreen(Source):
    name = "X11 _NET_WM_STATE_FULLSCREEN"
    tells = "fullscreen"
    polled = True

    def __init__(self, x11: X11) -> None:
        super().__init__()
        self.x11 = x11

    def ask(self) -> bool | None:
        """Is the active window fullscreen? None when the X server is gone."""
        return self.x11.fullscreen()

    def release(self) -> None:
        self.x11.close()


class ScreenSaverInfo(Source):
    name = "X11 MIT-SCREEN-SAVER"
    tells = "idle"
    polled = True

    def __init__(self, x11: X11) -> None:
        super().__init__()
        self.x11 = x11

    def ask(self) -> timedelta | None:
        return self.x11.idle()
