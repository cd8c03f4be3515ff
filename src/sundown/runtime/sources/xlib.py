"""libX11 through ctypes: the idle time (MIT-SCREEN-SAVER) and the active window's fullscreen state.

Xlib must never end the process: an error handler that ignores errors (a window that
went away between two calls), and the I/O error exit handler (libX11 >= 1.8) that only
marks the connection dead when the X server goes away. A connection that was closed is
never used again: the daemon's stop closes its sources while a tick already queued on the
worker may still ask (libX11 given the closed display crashed the daemon: SIGSEGV), so
every call and the close take one lock, and a closed connection answers like a dead one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from datetime import timedelta
from typing import Any


class _XssInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_IO_EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_ERROR_HANDLER_IO = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


@_ERROR_HANDLER
def _ignore_x_error(display: int, event: int) -> int:
    return 0  # a window that went away between two calls: not worth dying for


@_ERROR_HANDLER_IO
def _quiet_io_error(display: int) -> int:
    return 0  # the exit handler (X11._lost) marks the connection dead


class X11:
    """A connection to the X server, asked only from the daemon's worker thread."""

    def __init__(self, display_name: str) -> None:
        name = ctypes.util.find_library("X11")
        if not name:
            raise OSError("libX11 is not installed")
        x = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XGetWindowProperty.argtypes = [
            ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int,
            ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p),
        ]  # fmt: skip
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        x.XSetErrorHandler(_ignore_x_error)
        self.x = x
        self.dead = False
        self._lock = threading.Lock()  # a call and the close never overlap
        self.display = x.XOpenDisplay(display_name.encode())
        if not self.display:
            raise OSError(f"cannot open X display {display_name}")
        # Xlib exits the process when the server goes away, unless told otherwise (libX11 >= 1.8).
        self._exit_handler = _IO_EXIT_HANDLER(self._lost)
        if not hasattr(x, "XSetIOErrorExitHandler"):
            x.XCloseDisplay(self.display)
            raise OSError("libX11 older than 1.8 would end the daemon if the X server went away")
        x.XSetIOErrorExitHandler.argtypes = [ctypes.c_void_p, _IO_EXIT_HANDLER, ctypes.c_void_p]
        x.XSetIOErrorExitHandler(self.display, self._exit_handler, None)
        x.XSetIOErrorHandler(_quiet_io_error)  # the default one prints and exits
        self.root = x.XDefaultRootWindow(self.display)
        self.atoms = {
            n: x.XInternAtom(self.display, n.encode(), 0)
            for n in ("_NET_ACTIVE_WINDOW", "_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN")
        }
        self.xss: Any = None
        self.info: Any = None
        xss_name = ctypes.util.find_library("Xss")
        if xss_name:
            xss = ctypes.CDLL(xss_name)
            xss.XScreenSaverQueryExtension.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_int),
                ctypes.POINTER(ctypes.c_int),
            ]
            xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XssInfo)
            xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XssInfo)]
            ev, err = ctypes.c_int(), ctypes.c_int()
            if xss.XScreenSaverQueryExtension(self.display, ctypes.byref(ev), ctypes.byref(err)):
                self.xss = xss
                self.info = xss.XScreenSaverAllocInfo()

    def _lost(self, display: int, data: int) -> None:
        self.dead = True

    @property
    def has_idle(self) -> bool:
        return self.xss is not None

    def idle(self) -> timedelta | None:
        with self._lock:
            if self.dead or self.xss is None or not self.display:
                raise OSError("the X server went away" if self.display else "the X connection is closed")
            if not self.xss.XScreenSaverQueryInfo(self.display, self.root, self.info):
                return None
            return timedelta(milliseconds=self.info.contents.idle)

    def _property(self, window: int, atom: str) -> list[int]:
        kind, fmt, n, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.c_void_p()
        status = self.x.XGetWindowProperty(
            self.display, window, self.atoms[atom], 0, 64, 0, 0,
            ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after), ctypes.byref(data),
        )  # fmt: skip
        if status != 0 or not data.value:
            return []
        try:
            if fmt.value != 32:
                return []
            return list(ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[: n.value])
        finally:
            self.x.XFree(data)

    def fullscreen(self) -> bool | None:
        """Is the active window fullscreen? None when the X server is gone (or the connection closed)."""
        with self._lock:
            if self.dead or not self.display:
                return None
            active = self._property(self.root, "_NET_ACTIVE_WINDOW")
            if self.dead:
                return None
            if not active or not active[0]:
                return False
            return self.atoms["_NET_WM_STATE_FULLSCREEN"] in self._property(active[0], "_NET_WM_STATE")

    def close(self) -> None:
        with self._lock:
            if not self.dead and self.display:
                self.x.XCloseDisplay(self.display)
            self.display = None
