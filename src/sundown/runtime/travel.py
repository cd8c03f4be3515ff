"""Travel: with no `timezone` configured, the nights are re-planned in the system's new zone.

Told by timedated's Timezone signal (a context source) or by /etc/localtime being replaced
(an inotify watch; SUNDOWN_LOCALTIME points it at a test link). Whatever tells, the worker
looks at the zone again (`follow`) and, when it moved, the ledger plans in it from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from sundown.config import localtime_path, system_zone
from sundown.config.values import load_zone
from sundown.runtime.ledger import Ledger
from sundown.runtime.watch import ConfigWatch

log = logging.getLogger("sundown")


class Travel:
    """Follows the system's zone; `on_moved` is called (on the worker) when the plan moved with it."""

    def __init__(
        self,
        ledger: Ledger,
        env: Mapping[str, str],
        on_moved: Callable[[], None],
        submit: Callable[..., object],
    ) -> None:
        self.ledger = ledger
        self.env = env
        self.on_moved = on_moved
        self._submit = submit  # onto the worker
        self.watch: ConfigWatch | None = None  # /etc/localtime replaced

    def start(self) -> None:
        """Watch /etc/localtime; each change is looked at on the worker."""
        try:
            self.watch = ConfigWatch(localtime_path(self.env), self._replaced)
        except OSError as exc:
            log.info("a change of the system time zone is noticed only on restart: %s", exc)

    def _replaced(self) -> None:
        self._submit(self.follow, None)

    def told(self, name: str | None) -> None:
        """From timedated's thread: the system zone is `name` now."""
        self._submit(self.follow, name)

    def follow(self, name: str | None) -> None:
        """The system zone changed (`name`: as timedated says it; None: read it again)."""
        loaded = self.ledger.loaded
        if loaded.routine.timezone is not None:
            return
        zone = load_zone(name) if name and not self.env.get("TZ") else None
        zone = zone or system_zone(self.env)
        if zone.key == loaded.zone.key:
            return
        log.info("time zone changed from %s to %s; re-planning tonight", loaded.zone.key, zone.key)
        self.ledger.loaded = replace(loaded, zone=zone)
        self.on_moved()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
