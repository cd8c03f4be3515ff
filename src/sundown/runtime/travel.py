"""Travel: with no `timezone` configured, the nights are re-planned in the system's new zone.

Told by timedated's Timezone signal (a context source) or by /etc/localtime being replaced
(an inotify watch; SUNDOWN_LOCALTIME points it at a test link). Whatever tells, the worker
looks at the zone again (`follow`) and, when it moved, the ledger plans in it from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from sundown.config import ZoneSource, localtime_path, read_system_zone
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
        log_start: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.ledger = ledger
        self.env = env
        self.on_moved = on_moved
        self._submit = submit  # onto the worker
        self._log_start = log_start
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
        before = self.ledger.loaded
        if before.routine.timezone is not None:
            return
        named = load_zone(name) if name and not self.env.get("TZ") else None
        found = ZoneSource(named, "timedated Timezone") if named else read_system_zone(self.env)
        if found.problem and (before.zone_source is None or found.problem != before.zone_source.problem):
            log.warning("the system's time zone: %s", found.problem)
        if found.zone.key is not None and found.zone.key == before.zone.key:
            self.ledger.loaded = replace(before, zone_source=found)  # the same zone, told again
            return
        log.info("time zone changed from %s to %s; re-planning tonight", before.zone.key, found.zone.key)
        # Reminders the new zone puts in the past keep their time from before (core/travel.py).
        self.ledger.use(replace(before, zone=found.zone, zone_source=found), self._log_start())
        self.on_moved()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
