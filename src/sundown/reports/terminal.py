"""`sundown stats` in a terminal: the table, one chart cell per reminder per night, and the
bedtime chart. Pure text: the CLI decides the width and whether to colour."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from sundown.reports.stats import (
    ACK,
    LATE,
    MISSED,
    NONE,
    ON_TIME,
    OPEN,
    PENDING,
    SKIPPED,
    SKIPPED_AHEAD,
    NightBedtime,
    ReminderStats,
    Stats,
    duration_text,
    median,
)

# One character per reminder per night: readable without colour.
CELL_CHARS = {
    ACK: "#",
    LATE: "+",
    MISSED: "x",
    OPEN: "?",
    SKIPPED: "-",
    SKIPPED_AHEAD: "-",
    PENDING: "_",
    NONE: ".",
}
CELL_COLORS = {ACK: "32", LATE: "33", MISSED: "31", OPEN: "36", SKIPPED: "2", SKIPPED_AHEAD: "2"}
CELL_COLORS |= {PENDING: "36", NONE: "2"}
LEGEND = (
    f"# within {ON_TIME // timedelta(minutes=1)}m  + later  x missed  ? due, not done yet  - skipped",
    "_ later tonight  . not scheduled (not that evening, or not in the routine yet)",
)
HEAD = ("DONE", "RATE", "STREAK", "BEST", "MEDIAN", "P90", "MISSED", "SKIPPED", "REPEATS")
KEY = (
    "DONE: acknowledged/scheduled nights, RATE: adherence, REPEATS: re-notifications;",
    "MEDIAN, P90: the delay from first notification to acknowledgement.",
)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_stats(result: Stats, zone: tzinfo, width: int, color: bool) -> list[str]:
    """The terminal view of `sundown stats`: a table, a chart per reminder, a bedtime chart."""
    n = len(result.nights)
    lines = [f"{n} night{'s' if n != 1 else ''}, {result.first} .. {result.until} ({zone})", ""]
    if not result.reminders:
        return [*lines, "No reminders configured and none in the log."]
    head = HEAD
    table = [head]
    for r in result.reminders.values():
        adherence = "-" if r.adherence is None else f"{r.adherence:.0%}"
        table.append(
            (
                f"{r.acknowledged}/{r.scheduled - r.skipped}",
                adherence,
                str(r.current_streak),
                str(r.longest_streak),
                duration_text(r.median_delay_s),
                duration_text(r.p90_delay_s),
                str(r.missed),
                str(r.skipped),
                str(r.repeats),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    columns = sum(widths) + 2 * len(widths)
    label = max(min(max(len(_label(r, 99)) for r in result.reminders.values()), 24, width - columns), 8)
    names = ["REMINDER", *(_label(r, label) for r in result.reminders.values())]
    for name, row in zip(names, table, strict=True):
        lines.append(
            name.ljust(label) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
        )
    lines += [*KEY, "", *render_chart(result, label, width, color), ""]
    lines += render_bedtimes(result, zone, width)
    return lines


def _label(r: ReminderStats, width: int) -> str:
    text = r.id if r.configured else f"{r.id}*"
    return text if len(text) <= width else text[: width - 1] + "~"


def render_chart(result: Stats, label: int, width: int, color: bool) -> list[str]:
    n = len(result.nights)
    room = max(width - label - 2, 7)
    first = max(n - room, 0)
    shown = result.nights[first:]
    title = "Each night, oldest left"
    if first:
        title += f" (the last {len(shown)} of {n}; `sundown report` shows all)"
    # Few nights: a column per night under its date. Many: one character each, dated at both ends.
    step = next((w for w, fmt in ((6, "%m-%d"), (3, "%d")) if len(shown) * w <= room), 1)
    if step > 1:
        fmt = "%m-%d" if step == 6 else "%d"
        axis = "".join(night.strftime(fmt).ljust(step) for night in shown)
    else:
        start, end = shown[0].strftime("%m-%d"), shown[-1].strftime("%m-%d")
        axis = start + end.rjust(len(shown) - len(start)) if len(shown) > 11 else ""
    lines = [title + ":"]
    if axis:
        lines.append((" " * (label + 2) + axis).rstrip())
    for r in result.reminders.values():
        row = "".join(
            _paint(CELL_CHARS[c.status], CELL_COLORS[c.status], color) + " " * (step - 1)
            for c in r.cells[first:]
        )
        lines.append((_label(r, label).ljust(label) + "  " + row).rstrip())
    lines += LEGEND
    if any(not r.configured for r in result.reminders.values()):
        lines.append("* no longer in the config")
    return lines


def _clock_minutes(t: datetime, night: date, zone: tzinfo) -> float:
    """Minutes after the night's local noon, as the wall clock reads (for the bedtime axis)."""
    local = t.astimezone(zone)
    days = (local.date() - night).days
    return days * 1440 + local.hour * 60 + local.minute - 720


def render_bedtimes(result: Stats, zone: tzinfo, width: int) -> list[str]:
    rows = [b for b in result.bedtimes if b.planned is not None][-14:]
    if not rows:
        return []
    points = [
        _clock_minutes(t, b.night, zone)
        for b in rows
        for t in (b.planned, b.acknowledged, b.went_to_bed)
        if t is not None
    ]
    lo = int(min(points) // 60 * 60)
    hi = int(-(-max(points) // 60) * 60)
    if hi - lo < 120:
        hi = lo + 120
    label = 10
    texts = [_bedtime_text(b, zone) for b in rows]
    span = max(min(width - label - max(len(t) for t in texts) - 4, 60), 12)

    def col(m: float) -> int:
        return min(int((m - lo) / (hi - lo) * (span - 1) + 0.5), span - 1)

    axis = [" "] * span
    hour = lo
    while hour <= hi:
        text = f"{(hour // 60 + 12) % 24:02d}:00"
        c = col(hour)
        if c + len(text) <= span and all(ch == " " for ch in axis[max(c - 1, 0) : c + len(text)]):
            axis[c : c + len(text)] = list(text)
        hour += 60
    lights_out = any(b.acknowledged for b in rows)
    measured = any(b.measured for b in rows)
    seen = any(b.went_to_bed for b in rows)
    if seen:  # what was clicked and what was measured, told apart
        head = [
            "Bedtime: | planned, * `bedtime` acknowledged (clicked"
            + ("; o by idle or lock), " if measured else "), ")
            + "@ lights out, measured:",
            "  screens off (idle, locked, asleep) till morning or for 2h, or in bed (phone)",
        ]
    elif lights_out:
        head = [
            "Bedtime: | planned, * lights out (the `bedtime` reminder acknowledged"
            + ("; o measured: the screen went idle or locked)" if measured else ")")
        ]
    else:
        head = ["Bedtime: | planned (acknowledge a reminder named `bedtime` to chart lights out)"]
    lines = [*head, (" " * label + "  " + "".join(axis)).rstrip()]
    for b, text in zip(rows, texts, strict=True):
        line = ["."] * span
        assert b.planned is not None
        p = col(_clock_minutes(b.planned, b.night, zone))
        line[p] = "|"
        if b.went_to_bed is not None:
            w = col(_clock_minutes(b.went_to_bed, b.night, zone))
            line[w] = "@" if w != p else "X"
        if b.acknowledged is not None:
            a = col(_clock_minutes(b.acknowledged, b.night, zone))
            if line[a] == ".":
                line[a] = "o" if b.measured else "*"
            elif a == p:
                line[a] = "X"
        lines.append(b.night.strftime("%a %m-%d").ljust(label) + "  " + "".join(line) + "  " + text)
    return lines + _lights_out_summary(result, rows)


def _bedtime_text(b: NightBedtime, zone: tzinfo) -> str:
    """ "22:30 -> 23:09 (+39m) off 00:40": planned, when lights went out (clicked), as measured."""
    assert b.planned is not None
    text = b.planned.astimezone(zone).strftime("%H:%M")
    if b.acknowledged is not None:
        diff = (b.acknowledged - b.planned) // timedelta(minutes=1)
        text += f" -> {b.acknowledged.astimezone(zone).strftime('%H:%M')} ({diff:+d}m)"
        if b.measured:
            text += f" {b.measured}"
    if b.in_bed is not None:
        text += f" bed {b.in_bed.astimezone(zone):%H:%M}"
    elif b.lights_out is not None:
        text += f" off {b.lights_out.astimezone(zone):%H:%M}"
    elif b.lights_out_status == "never":
        text += " never off"
    return text


def _lights_out_summary(result: Stats, rows: list[NightBedtime]) -> list[str]:
    """The range's measured lights out in three short lines (nothing when nothing was measured)."""
    s = result.lights_out
    told = sum(1 for b in result.bedtimes if b.lights_out_status)
    if not told:
        return []
    first = f"Lights out, measured, on {s.nights} of {told} night{'s' if told != 1 else ''}"
    if s.median_after_bedtime_s is not None:
        middle = s.median_after_bedtime_s
        first += f": median {_minutes(abs(middle))} {'after' if middle >= 0 else 'before'} bedtime"
    minutes = ON_TIME // timedelta(minutes=1)
    streak = f"streak {s.current_streak}, best {s.longest_streak}"
    lines = [first + ";", f"  {s.within} within {minutes}m of it or earlier; {streak}."]
    active = [b.active_after_bedtime_s for b in result.bedtimes if b.active_after_bedtime_s is not None]
    if active:
        lines[-1] = lines[-1][:-1] + ";"
        lines.append(f"  at the screen after bedtime: median {_minutes(median(active))} a night.")
    return lines


def _minutes(seconds: float) -> str:
    """A duration to the minute: "0m", "35m", "1h05m"."""
    return duration_text(round(seconds / 60) * 60)
