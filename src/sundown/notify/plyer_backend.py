"""The portable notifier (macOS, Windows, anything plyer knows): no buttons, acknowledge from the CLI.

Named plyer_backend so that `import plyer` inside it finds the real package.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping

from sundown.notify import Backend, Message, NotifyError

log = logging.getLogger(__name__)

# plyer has no "never expires": on Windows the balloon lives this long (in a thread of plyer's own).
DISPLAY_SECONDS = 3600


class PlyerBackend(Backend):
    name = "plyer"

    def __init__(self, env: Mapping[str, str], platform: str | None = None, timeout: float = 2.5) -> None:
        self._env = dict(env)
        self._platform = platform or sys.platform
        self._timeout = timeout

    def send(self, message: Message) -> None:
        if self._platform.startswith("linux"):
            self._check_linux_server()
        try:
            from plyer import notification
        except ImportError as e:
            raise NotifyError(
                f"plyer is not installed ({e}); sundown installs it on macOS and Windows only:"
                ' on Linux use backend "dbus" or "auto", or `pip install plyer`'
            ) from e
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                notification.notify(
                    title=message.title,
                    message=message.body,
                    app_name="sundown",
                    timeout=DISPLAY_SECONDS,
                )
            except NotImplementedError as e:
                raise NotifyError("plyer has no notification support on this platform") from e
            except Exception as e:  # plyer fails in platform-specific ways; all of them mean "not delivered"
                raise NotifyError(f"plyer could not show the notification: {type(e).__name__}: {e}") from e
        for warning in caught:
            log.debug("plyer: %s", warning.message)

    def _check_linux_server(self) -> None:
        """plyer on Linux hands the message to the session bus's notification server (via dbus-python
        or notify-send) and ignores failures: without a server it would lose the message silently."""
        from sundown.notify.dbus import server_info

        try:
            server_info(self._env, timeout=self._timeout)
        except NotifyError as e:
            raise NotifyError(f"plyer on Linux needs a notification server: {e}") from e

    def withdraw(self, key: str) -> None:
        """plyer cannot take a notification back."""

    def close(self) -> None:
        """plyer keeps nothing open."""
