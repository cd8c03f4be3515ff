"""The calendar adapter (`[calendar]`, docs/morning.md): read, fetch, parse, expand.

- `ics`: the parser, run as a child process (`python -m sundown.calendar.ics`) with a
  time and memory limit, so a hostile calendar can never hang or bloat the daemon. It
  imports the optional `calendar` extra (icalendar, recurring-ical-events, x-wr-timezone).
- `fetch`: an https calendar, fetched at most hourly with conditional requests and kept
  in the state directory; a failure keeps the last good copy.
- `source`: the daemon's side: one thread that watches the file (inotify) or fetches the
  URL, runs the parser off the daemon's worker, and hands over the coming mornings' events.

The choice of tomorrow's first event is pure and lives in `sundown.core.morning`.
Nothing here is imported unless `[calendar]` is configured.
"""
