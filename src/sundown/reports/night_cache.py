"""Past nights as `stats` and `report` reckoned them, kept between runs (docs/stats.md, "Performance").

Ten years are 3,652 nights and 20,000 summary rows; reading and reckoning them is most of a
`stats`, although a past night almost never changes. This adapter keeps each settled night's
`stats.NightResult` in one file of the cache directory and reads and reckons again only the
nights whose rows changed; `stats.assemble` then sums up the range as always. The pure reckoning
(`stats.night_result`) does not know the cache exists.

When a kept night is used (every rule below is a reason to reckon the night again, never an error):
- The file is ours and whole: a regular file of this user's (not a symlink), at most MAX_BYTES,
  our first line (format, CRC-32 of the rest), then JSON; anything else is ignored and rewritten.
  Never pickle or marshal: the file is input, and may be corrupt or hostile.
- It was made with the same routine, zone (and the zone file's rules), code and log: `fingerprint`
  and the log's `origin` (when it was created).
- The log only grows (sundown appends rows and never changes or deletes one): the file keeps the
  last row it saw; that row is still there unchanged, and the nights of the rows after it are
  reckoned again. A log that is not what was seen (another file, a row gone or changed at that id)
  makes every night be reckoned again.
- The night was settled when reckoned (`now` past every instant it was judged against; a clock
  set back before the file was written makes nothing kept be used), and what the rest of the log
  says about it (`stats.NightContext`) is unchanged.
- Each kept value has the type and range it must have; a night that would not read back exactly
  (each instant to the microsecond, in the zone, with its offset) is not kept.
An unwritable cache directory only costs the time.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sundown.core.routine import Routine
from sundown.reports import stats
from sundown.reports.stats import (
    MISSED_CELL,
    OPEN_CELL,
    PENDING_CELL,
    SKIPPED_AHEAD_CELL,
    SKIPPED_CELL,
    Cell,
    NightBedtime,
    NightContext,
    NightResult,
    Stats,
)
from sundown.reports.stats import (
    acknowledged as acknowledged_cell,
)
from sundown.store.log import SCHEMA_VERSION, EventLog

MAGIC = b"sundown-stats-nights"
FORMAT = 1  # this file's layout: another number is another layout, ignored
MAX_BYTES = 64 << 20  # ten years are about 0.9 MB
MAX_READS = 16  # nights to read again in more runs than this: read the whole range at once
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
LIMIT = 1 << 53  # any count or instant (microseconds since 1970) beyond this is not ours
_CELLS = {c.status: c for c in (SKIPPED_CELL, MISSED_CELL, OPEN_CELL, PENDING_CELL, SKIPPED_AHEAD_CELL)}
_CELLS[stats.NONE] = Cell(stats.NONE)
_MEASURED = (None, "idle", "lock")
_STATUSES = (None, "on_time", "late", "never")


class Corrupt(ValueError):
    """A kept night that is not what this module writes."""


# What reading a kept night back may raise: any of them means it is reckoned again.
UNREADABLE = (Corrupt, TypeError, ValueError, OverflowError, OSError, KeyError, IndexError)


def from_log(
    log: EventLog,
    routine: Routine,
    zone: tzinfo,
    until: date,
    days: int,
    now: datetime,
    path: Path | None,
) -> Stats:
    """`stats.from_log`, the same numbers, with past nights kept in the file `path` (None: none)."""
    return cached_stats(log, routine, zone, until, days, now, path)[0]


def cached_stats(
    log: EventLog,
    routine: Routine,
    zone: tzinfo,
    until: date,
    days: int,
    now: datetime,
    path: Path | None,
) -> tuple[Stats, frozenset[date]]:
    """The stats, and the nights reckoned afresh (not taken from the file)."""
    first, last = stats.window(until, days)
    key = fingerprint(routine, zone)
    top = log.row_key()
    if path is None or key is None or top is None:
        whole = stats.from_log(log, routine, zone, until, days, now)
        return whole, frozenset(whole.nights)
    origin = log.origin()
    kept = _load(path)
    entries: dict[str, Any] = {}
    dirty = True  # the file is to be written again
    now_us = (now - EPOCH) // ONE_US
    seen_at = kept.get("now") if kept is not None else None
    # A night settled at the time the file was written may not be at an earlier `now` (the clock
    # was set back): then nothing kept is used.
    if (
        kept is not None
        and kept.get("key") == key
        and kept.get("origin") == origin
        and type(seen_at) is int
        and seen_at <= now_us
    ):
        entries, dirty = _still_true(log, kept, top)

    nights = stats.nights_between(first, last)
    isos = [night.isoformat() for night in nights]
    decoded: dict[date, tuple[NightContext, NightResult]] = {}
    for night, iso in zip(nights, isos, strict=True):
        entry = entries.get(iso)
        if entry is not None:
            try:
                decoded[night] = _decode(entry, night, zone)
            except UNREADABLE:
                del entries[iso]
                dirty = True
    data = stats.NightRows()
    _read(data, log, [n for n in nights if n not in decoded], first, last)

    # When each reminder entered the routine: before the range from the log, inside it from
    # each night's reminders (read, or kept: they are the night's own rows).
    first_nights = log.first_nights(before=first)
    for night in nights:
        found = decoded.get(night)
        for rid in found[1].mentioned if found is not None else data.by_night.get(night, ()):
            first_nights.setdefault(rid, night)
    live_start = log.first_live_night() or date.max
    evenings, contexts = stats.contexts_of(routine, nights, first_nights, log.first_night(), live_start)
    stale = [n for n, c in zip(nights, contexts, strict=True) if n in decoded and decoded[n][0] != c]
    for night in stale:
        del decoded[night]
        dirty = True
    _read(data, log, stale, first, last)

    results = []
    reckoned = []
    for night, iso, context in zip(nights, isos, contexts, strict=True):
        found = decoded.get(night)
        if found is not None:
            results.append(found[1])
            continue
        result = data.result(routine, zone, now, evenings, night, context)
        results.append(result)
        reckoned.append(night)
        entry = _encode(context, result, zone) if result.settled else None
        if entry is not None:
            entries[iso] = entry
            dirty = True
        elif entries.pop(iso, None) is not None:
            dirty = True
    if dirty:
        _save(path, {"key": key, "origin": origin, "top": top, "now": now_us, "nights": entries})
    return stats.assemble(routine, first, last, nights, results), frozenset(reckoned)


def _still_true(log: EventLog, kept: dict[str, Any], top: list[Any]) -> tuple[dict[str, Any], bool]:
    """The kept nights the log has not changed since (all or none when it is not the log they came
    from), and whether any was dropped."""
    seen, entries = kept.get("top"), kept.get("nights")
    if not isinstance(entries, dict) or not isinstance(seen, list) or not seen:
        return {}, True
    if seen == top:
        return entries, False
    if type(seen[0]) is not int or not 0 < seen[0] < top[0] or log.row_key(seen[0]) != seen:
        return {}, True  # not the rows it saw: another log, or rows changed by hand
    changed = {night.isoformat() for night in log.nights_after(seen[0])}
    if not changed.intersection(entries):
        return entries, False  # tonight's rows, say: a night not kept yet
    return {iso: e for iso, e in entries.items() if iso not in changed}, True


def _read(rows: stats.NightRows, log: EventLog, nights: Sequence[date], first: date, last: date) -> None:
    """Read `nights` (in order): each run of consecutive nights at once, or the whole range
    first..last when they are scattered over many runs (a cold cache: all of it)."""
    if not nights:
        return
    runs: list[list[date]] = []
    for night in nights:
        if runs and (night - runs[-1][1]).days == 1:
            runs[-1][1] = night
        else:
            runs.append([night, night])
    for a, b in runs if len(runs) <= MAX_READS else [[first, last]]:
        rows.read(log, a, b)


# --- what makes a kept night valid -----------------------------------------------------------


def fingerprint(routine: Routine, zone: tzinfo) -> str | None:
    """Everything a night's reckoning depends on besides its rows: the routine, the zone and its
    rules (the zone file's size and time), the log's schema, this code (its files' sizes and
    times: an upgrade or an edit). None: a zone that cannot be told apart (read from a file by
    its contents): nothing is kept."""
    if isinstance(zone, ZoneInfo):
        if zone.key is None:
            return None
        found: list[Any] = [zone.key]
        import zoneinfo

        for root in zoneinfo.TZPATH:
            try:
                st = os.stat(os.path.join(root, zone.key))
            except OSError:
                continue
            found += [root, st.st_size, st.st_mtime_ns]
            break
    elif isinstance(zone, timezone):
        found = [repr(zone)]
    else:
        return None
    import sundown

    code = []
    for name in ("sundown.reports.stats", "sundown.store.log", __name__):
        code.append(_stamp(sys.modules[name].__file__))
    core = os.path.dirname(sys.modules["sundown.core.plan"].__file__ or "")
    try:
        with os.scandir(core) as found_files:
            files = sorted(e.path for e in found_files if e.name.endswith(".py"))
    except OSError:
        files = []
    code += [_stamp(file) for file in files]
    return json.dumps(
        [FORMAT, sundown.__version__, SCHEMA_VERSION, code, found, _canonical(routine)],
        separators=(",", ":"),
    )


def _stamp(file: str | None) -> list[Any]:
    try:
        st = os.stat(file or "")
    except OSError:
        return [file]
    return [file, st.st_size, st.st_mtime_ns]


def _canonical(value: Any) -> Any:
    """`value` as JSON that is the same in every run (a frozenset's order is not)."""
    if is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, *(_canonical(getattr(value, f.name)) for f in fields(value))]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)  # date, time, timedelta, Path, enums: their reprs are their values


# --- the file -----------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any] | None:
    """The file's object, or None when it is missing or not wholly what `_save` writes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > MAX_BYTES:
            return None
        chunks = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
    head, _, body = data.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 3 or parts[0] != MAGIC or parts[1] != str(FORMAT).encode():
        return None
    import zlib

    if parts[2] != str(zlib.crc32(body)).encode():
        return None  # truncated, or changed
    try:
        found = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def _save(path: Path, content: dict[str, Any]) -> None:
    """Write the file whole (0600, in a 0700 directory); a directory we cannot write costs only time."""
    import zlib

    from sundown.errors import SundownError
    from sundown.paths import private_dir, write_atomic

    body = json.dumps(content, separators=(",", ":"))
    try:
        private_dir(path.parent)
        write_atomic(path, f"{MAGIC.decode()} {FORMAT} {zlib.crc32(body.encode())}\n{body}")
    except (OSError, SundownError):
        pass


# --- one night, kept --------------------------------------------------------------------------
# [context, mentioned, bedtime, cells, repeats], as few values as JSON allows (ten years are
# 3,652 of them, read on every run):
#   context   [log begun, backfilled, reminder not in the routine yet, ...]
#   mentioned [reminder, ...], or null: the cells' reminders, in their order
#   bedtime   null, or [planned, acknowledged, measured, lights out, active after bedtime (s),
#             in bed, awake, lights-out status], instants in microseconds since 1970 (UTC)
#   cells     {reminder: delay (s), acknowledged; or its status}, the reminders not "not scheduled"
#   repeats   {reminder: count}


def _encode(context: NightContext, result: NightResult, zone: tzinfo) -> list[Any] | None:
    """The night to keep, or None when it would not read back as it is (never kept otherwise)."""
    cells: dict[str, Any] = {}
    for rid, c in result.cells.items():
        if c.delay_s is None:
            if c.status not in _CELLS:
                return None
            cells[rid] = c.status
        elif type(c.delay_s) is float and c == acknowledged_cell(c.delay_s):
            cells[rid] = c.delay_s
        else:
            return None
    b = result.bedtime
    bedtime = None
    if b is not None:
        # The planned bedtime may be any instant the plan made; the others are made in `zone` from
        # an instant (astimezone, fromtimestamp), as `_instant` makes them again.
        if b.planned is None or not _reads_back(b.planned, zone):
            return None
        others = (b.acknowledged, b.lights_out, b.in_bed, b.awake)
        for t in others:
            if t is not None and t.tzinfo is not zone:
                return None
        acknowledged, lights_out, in_bed, awake = map(_us, others)
        for us in (acknowledged, lights_out, in_bed, awake):
            if us is not None and not -LIMIT < us < LIMIT:
                return None
        planned = (b.planned - EPOCH) // ONE_US
        bedtime = [planned, acknowledged, b.measured, lights_out, b.active_after_bedtime_s, in_bed, awake,
                   b.lights_out_status]  # fmt: skip
    mentioned = None if result.mentioned == tuple(result.cells) else list(result.mentioned)
    return [[context[0], context[1], *context[2]], mentioned, bedtime, cells, result.repeats]


def _us(t: datetime | None) -> int | None:
    return None if t is None else (t - EPOCH) // ONE_US


def _reads_back(t: datetime | None, zone: tzinfo) -> bool:
    """`t` is what its microseconds read back as: in `zone`, the same wall time and offset."""
    if t is None:
        return True
    if t.tzinfo is not zone:
        return False
    if t.utcoffset() == t.replace(fold=1 - t.fold).utcoffset():
        return True  # a wall time that names one instant (not in a gap, not one of a fold's two)
    us = (t - EPOCH) // ONE_US
    if not -LIMIT < us < LIMIT:
        return False
    back = _instant(us, zone)
    return back.replace(tzinfo=None) == t.replace(tzinfo=None) and back.utcoffset() == t.utcoffset()


def _decode(entry: Any, night: date, zone: tzinfo) -> tuple[NightContext, NightResult]:
    """A kept night, every value checked; raises one of UNREADABLE otherwise."""
    if type(entry) is not list or len(entry) != 5:
        raise Corrupt("not a night")
    context, mentioned, bedtime, cells, repeats = entry
    if type(context) is not list or type(cells) is not dict or type(repeats) is not dict:
        raise Corrupt("not a night")
    begun, backfilled, *not_yet = context
    if type(begun) is not bool or type(backfilled) is not bool:
        raise Corrupt("context")
    if not_yet:
        for rid in not_yet:
            if type(rid) is not str:
                raise Corrupt("context")
    got: dict[str, Cell] = {}
    for rid, value in cells.items():
        if type(value) is float:
            if not 0.0 <= value < LIMIT:  # NaN and infinities too
                raise Corrupt("delay")
            got[rid] = acknowledged_cell(value)
        else:
            got[rid] = _CELLS[value]
    if mentioned is None:
        rids = tuple(got)
    elif type(mentioned) is list:
        rids = tuple(mentioned)
        for rid in rids:
            if type(rid) is not str:
                raise Corrupt("mentioned")
    else:
        raise Corrupt("mentioned")
    for rid, n in repeats.items():
        if type(n) is not int or not 0 < n < LIMIT or rid not in rids:
            raise Corrupt("repeats")
    return (begun, backfilled, tuple(not_yet)), NightResult(
        _bedtime(bedtime, night, zone) if bedtime is not None else None, got, repeats, rids, True
    )


def _bedtime(value: Any, night: date, zone: tzinfo) -> NightBedtime:
    if type(value) is not list or len(value) != 8:
        raise Corrupt("bedtime")
    planned, acknowledged, measured, lights_out, active, in_bed, awake, status = value
    if measured not in _MEASURED or status not in _STATUSES:
        raise Corrupt("bedtime")
    if active is not None and (type(active) is not int or not -LIMIT < active < LIMIT):
        raise Corrupt("active")
    return NightBedtime(
        night,
        _instant(planned, zone),
        None if acknowledged is None else _instant(acknowledged, zone),
        measured,
        None if lights_out is None else _instant(lights_out, zone),
        active,
        None if in_bed is None else _instant(in_bed, zone),
        None if awake is None else _instant(awake, zone),
        status,
    )


def _instant(us: Any, zone: tzinfo) -> datetime:
    """An instant kept as microseconds since 1970, in `zone`."""
    if type(us) is not int or not -LIMIT < us < LIMIT:
        raise Corrupt("instant")
    seconds, micro = divmod(us, 1_000_000)
    t = datetime.fromtimestamp(seconds, zone)
    return t.replace(microsecond=micro) if micro else t
