"""The evening's spans between the machines of one person, over the push reply topic.

Out: once a night's recording window has closed (its `until` passed), this machine's
own spans of that night (source `daemon`) are published, oldest night first. The log is
the outbox: the last night the server took is kept in the state directory
(`push-spans`), so a daemon stopped or killed before that publishes the night on its
next start (at most `NIGHTS_BACK` nights back), and one published twice counts once.

In: another machine's spans, once `PushLink` found them signed with the shared secret,
are written as `activity` rows with source `device:<name>`, each once: spans this log
already has are skipped (the span table would keep one row anyway). Without the secret
nothing is published (nothing here could be believed elsewhere).

Runs on the daemon's worker thread, except `_save_mark` (the publisher thread).
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sundown.core import activity, push_spans
from sundown.core.activity import Span
from sundown.core.plan import ONE_DAY, night_of
from sundown.runtime.push_mark import PushMark

if TYPE_CHECKING:
    from collections.abc import Callable

    from sundown.core.push import Signer
    from sundown.core.routine import Push
    from sundown.runtime.ledger import Ledger

log = logging.getLogger("sundown.push")

NIGHTS_BACK = 7  # a machine off for longer does not publish the nights before


class Outbox(Protocol):
    """What the relay needs of the ntfy adapter: a message on the reply topic."""

    def answer(self, body: str, on_sent: Callable[[], None] | None = None) -> None: ...


class SpanRelay:
    def __init__(
        self, push: Push, ledger: Ledger, outbox: Outbox, mark_path: Path, signer: Signer | None
    ) -> None:
        self.push = push
        self.ledger = ledger
        self.outbox = outbox
        self.signer = signer
        self.received = 0  # spans of other machines written here
        self._mark = PushMark(mark_path, push, "night", date, date.min, "nights' spans")
        self.queued = self._mark.load(self._first_night)  # the last night handed to the publisher

    # -- out -------------------------------------------------------------------------------

    def publish_closed(self, now: datetime) -> None:
        """Publish this machine's spans of every night closed since the last one the server took."""
        if self.signer is None:
            return
        routine, zone = self.ledger.loaded.routine, self.ledger.loaded.zone
        tonight = night_of(now, zone)
        for back in range(NIGHTS_BACK, -1, -1):
            night = tonight - back * ONE_DAY
            if night <= self.queued or activity.until_of(routine, night, zone) > now:
                continue
            spans = self._own_spans(night)
            self.queued = night
            if not spans:
                self._mark.save(night)
                continue
            messages = push_spans.encode(night, spans, self.signer)
            for i, body in enumerate(messages):
                last = i == len(messages) - 1
                self.outbox.answer(body, on_sent=functools.partial(self._mark.save, night) if last else None)
            log.info("published %d activity span(s) of the night of %s", len(spans), night)

    def _own_spans(self, night: date) -> list[Span]:
        found = (
            Span.from_details(e.details, night)
            for e in self.ledger.night_events(night)
            if e.event == "activity" and e.source == "daemon"
        )
        return sorted((s for s in found if s is not None), key=lambda s: s.start)

    def _first_night(self) -> date:
        """Push just configured (or for another topic): from the night that closed last on."""
        return night_of(self.ledger.clock(), self.ledger.loaded.zone) - 2 * ONE_DAY

    # -- in --------------------------------------------------------------------------------

    def take(self, report: push_spans.SpanReport) -> str:
        """Another machine's spans (believed: signed): each written once, as that machine's."""
        have = {
            (e.source, e.details.get("from"))
            for e in self.ledger.night_events(report.night)
            if e.event == "activity"
        }
        new = 0
        for span in report.spans:
            details = span.details()
            if (report.source, details["from"]) in have:
                continue
            self.ledger.apply(
                "activity", report.night, None, report.source, ts=activity.instant(span.end), **details
            )
            new += 1
        self.received += new
        if new:
            log.info("%d activity span(s) of the night of %s from %s", new, report.night, report.origin)
        return "spans" if new else "duplicate"
