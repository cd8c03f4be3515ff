"""`sundown stats` in a terminal: the table, one chart cell per reminder per night, and the
bedtime chart. Pure text: the CLI decides the width and whether to colour."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from sundown.reports.stats import ReminderStats, Stats, duration_text

# One character per reminder per night: readable without colour.
CELL_CHARS = {"ack": "#", "late": "+", "missed": "x", "open": "?", "skipped": "-", "none": "."}
CELL_COLORS = {"ack": "32", "late": "33", "missed": "31", "open": "36", "skipped": "2", "none": "2"}
LEGEND = "# on time (within 15m)   + late   x missed   - skipped   ? not yet   . not scheduled"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_stats(result: Stats, zone: tzinfo, width: int, color: bool) -> list[str]:
    """The terminal view of `sundown stats`: a table, a chart per reminder, a bedtime chart."""
    n = len(result.nights)
    lines = [f"{n} night{'s' if n != 1 else ''}, {result.first} .. {result.until} ({zone})", ""]
    if not result.reminders:
        return [*lines, "No reminders configured and none in the log."]
    label = min(max(len(r) for r in result.reminders), 24)
    head = (
        "DONE",
        "ADHERENCE",
        "STREAK",
        "BEST",
        "MEDIAN DELAY",
        "P90 DELAY",
        "MISSED",
        "SKIPPED",
        "REPEATS",
    )
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
    names = ["REMINDER", *(_label(r, label) for r in result.reminders.values())]
    for name, row in zip(names, table, strict=True):
        lines.append(
            name.ljust(label) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
        )
    lines += ["", *render_chart(result, label, width, color), ""]
    lines += render_bedtimes(result, zone, width)
    return lines


def _label(r: ReminderStats, width: int) -> str:
    text = r.id if r.configured else f"{r.id}*"
    return text if len(text) <= width else text[: width - 1] + "~"


def render_chart(result: Stats, label: int, width: int, color: bool) -> list[str]:
    n = len(result.nights)
    cells = max(min(n, width - label - 2), 7)
    first = n - cells if n > cells else 0
    shown = result.nights[first:]
    title = "Each night, oldest left"
    if first:
        title += f" (the last {len(shown)} of {n} nights; `sundown report` shows them all)"
    axis = shown[0].strftime("%m-%d")
    end = shown[-1].strftime("%m-%d")
    axis_line = " " * (label + 2) + axis + end.rjust(len(shown) - len(axis)) if len(shown) > 11 else ""
    lines = [title + ":"]
    if axis_line:
        lines.append(axis_line)
    for r in result.reminders.values():
        row = "".join(_paint(CELL_CHARS[c.status], CELL_COLORS[c.status], color) for c in r.cells[first:])
        lines.append(_label(r, label).ljust(label) + "  " + row)
    lines.append(LEGEND)
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
        _clock_minutes(t, b.night, zone) for b in rows for t in (b.planned, b.acknowledged) if t is not None
    ]
    lo = int(min(points) // 60 * 60)
    hi = int(-(-max(points) // 60) * 60)
    if hi - lo < 120:
        hi = lo + 120
    label = 10
    values = 20
    span = max(min(width - label - values - 4, 60), 12)

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
    lines = [
        "Bedtime: | planned, * lights out (the `bedtime` reminder acknowledged)"
        if lights_out
        else "Bedtime: | planned (acknowledge a reminder named `bedtime` to chart lights out)",
        " " * label + "  " + "".join(axis),
    ]
    for b in rows:
        line = ["."] * span
        assert b.planned is not None
        p = col(_clock_minutes(b.planned, b.night, zone))
        line[p] = "|"
        text = b.planned.astimezone(zone).strftime("%H:%M")
        if b.acknowledged is not None:
            a = col(_clock_minutes(b.acknowledged, b.night, zone))
            line[a] = "X" if a == p else "*"
            diff = (b.acknowledged - b.planned) // timedelta(minutes=1)
            text += f" -> {b.acknowledged.astimezone(zone).strftime('%H:%M')} ({diff:+d}m)"
        lines.append(b.night.strftime("%a %m-%d").ljust(label) + "  " + "".join(line) + "  " + text)
    return lines
