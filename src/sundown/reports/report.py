"""`sundown report`: the stats as one self-contained HTML page.

Inline SVG and CSS only: no scripts, no fonts, no URLs, so the file opens
offline, can be mailed, and loads nothing from the network. Every text that
comes from the config or the log is escaped. Hover titles (<title> in SVG)
carry the exact numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from html import escape

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
    ReminderStats,
    Stats,
    duration_text,
)

ON_TIME_MINUTES = ON_TIME // timedelta(minutes=1)
MINUTE = timedelta(minutes=1)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Right of a chart's plot: half a date label ("2026-11-25", about 60 px at 11 px) centred on the last dot.
AXIS_ROOM = 34

CSP = "default-src 'none'; style-src 'unsafe-inline'"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
STATUS_COLORS = {
    ACK: "#2e9d57",
    LATE: "#e5a93b",
    MISSED: "#d6463a",
    OPEN: "#7fb2d9",
    SKIPPED: "#b8c2cc",
    SKIPPED_AHEAD: "#b8c2cc",
    PENDING: "#d3e4f2",
    NONE: "#eeeeee",
}
STATUS_WORDS = {
    ACK: "on time",
    LATE: "late",
    MISSED: "missed",
    OPEN: "due, not done yet",
    SKIPPED: "skipped",
    SKIPPED_AHEAD: "skipped",
    PENDING: "later tonight",
    NONE: "not scheduled",
}
# The bedtime chart: planned strokes, lights-out dots by how far from the plan.
PLANNED = "#5b6bbf"
BED_ON_TIME = "#2e9d57"
BED_LATER = "#d6463a"
BED_EARLIER = "#9a6fc4"
# Measured, never clicked (core/activity.py): the screens went off / in bed, said the phone.
SCREENS_OFF = "#1f2d4d"
IN_BED = "#2a8f8f"
# Nightly adherence: each colour of the calendar with the words of its legend entry, from none done
# to all done; "all done" only when all were.
HEAT = (
    ("#d6463a", "none done"),
    ("#ef8a4c", "under half"),
    ("#f3c65f", "half or more"),
    ("#a6d36b", "most (3 in 4 or more)"),
    ("#2e9d57", "all done"),
)
NO_DATA = "#eeeeee"
ALL_SKIPPED = "#b8c2cc"
# Tonight while some of it is still ahead: not judged yet.
TONIGHT = "#d3e4f2"
# Every colour the calendar paints, with its words.
CALENDAR_LEGEND = (
    *HEAT,
    (TONIGHT, "tonight, still going"),
    (ALL_SKIPPED, "skipped"),
    (NO_DATA, "nothing due"),
)

CSS = f"""
body {{ font-family: {FONT}; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222;
       background: #fff; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }}
h3 {{ font-size: 1rem; margin: 1.2rem 0 .3rem; }}
p.sub {{ color: #666; margin-top: 0; }}
table {{ border-collapse: collapse; font-size: .9rem; }}
th, td {{ padding: .3rem .7rem; text-align: right; border-bottom: 1px solid #eee; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ color: #555; font-weight: 600; }}
svg {{ display: block; margin: .4rem 0; max-width: 100%; height: auto; }}
svg text {{ font-family: {FONT}; font-size: 11px; fill: #555; }}
.legend span {{ display: inline-block; margin-right: 1rem; font-size: .85rem; color: #444; }}
.legend i {{ display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem;
            vertical-align: -1px; }}
.note {{ color: #777; font-size: .85rem; }}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(x: float) -> str:
    """A coordinate to a tenth, without a trailing ".0" ("12", "12.5"): a ten-year page has 100k."""
    text = f"{x:.1f}"
    return text[:-2] if text[-1] == "0" else text


def _clock(local: datetime) -> str:
    """HH:MM of a local time, as `%H:%M` says it in a fifth of the time (a page has 15k)."""
    return f"{local.hour:02d}:{local.minute:02d}"


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else _whole_duration(int(round(seconds)))


@cache
def _whole_duration(seconds: int) -> str:
    """`duration_text` of whole seconds, once per value: a ten-year page writes 20,000 delays."""
    return duration_text(seconds, "–", " ")


def _legend(items: Iterable[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{c}"></i>{_e(w)}</span>' for c, w in items)
    return f'<p class="legend">{spans}</p>'


def _head(title: str) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Belt and braces: even a URL that slipped into the page could not be fetched.
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>sundown: evening routine</h1>",
    ]


def render_empty(zone: tzinfo, generated: datetime) -> str:
    """The page for a log with nothing in it yet: one sentence, no empty charts."""
    parts = [
        *_head("sundown report"),
        "<p>Nothing in the log yet. Once sundown has sent its first reminders (<code>sundown run</code>,"
        " or <code>sundown service install</code>), this page shows how your evenings went.</p>",
        f'<p class="sub">Generated {_e(generated.astimezone(zone).strftime("%Y-%m-%d %H:%M"))}'
        f" ({_e(zone)}).</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def render(result: Stats, zone: tzinfo, generated: datetime) -> str:
    """The whole HTML page."""
    n = len(result.nights)
    parts = [
        *_head(f"sundown report {result.first} – {result.until}"),
        f'<p class="sub">{n} night{"s" if n != 1 else ""}, {result.first} – {result.until}'
        f" ({_e(zone)}); generated {_e(generated.astimezone(zone).strftime('%Y-%m-%d %H:%M'))}</p>",
        _summary_table(result),
        "<h2>Adherence calendar</h2>",
        '<p class="note">Each square is one night (the evening it starts on): the share of that'
        " night's reminders that were acknowledged, skipped ones left out.</p>",
        _calendar(result),
        _legend(CALENDAR_LEGEND),
        "<h2>Each reminder, night by night</h2>",
        _legend(
            (STATUS_COLORS[s], STATUS_WORDS[s]) for s in (ACK, LATE, MISSED, SKIPPED, OPEN, PENDING, NONE)
        ),
        _strips(result),
        "<h2>Acknowledgement delay</h2>",
        '<p class="note">Minutes from the first notification (or the scheduled time) to the'
        " acknowledgement; missed nights are marked along the top.</p>",
        *(_delay_chart(result, r) for r in result.reminders.values()),
        "<h2>Bedtime: planned and lights out</h2>",
        '<p class="note">Blue strokes are the planned bedtime of each night (later is lower); dots are'
        " when the <code>bedtime</code> reminder was acknowledged; hollow dots were measured, not"
        " clicked: the screen went idle or locked (<code>done_when</code>).</p>",
        _bedtime_chart(result, zone),
        _lights_out_note(result),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary_table(result: Stats) -> str:
    if not result.reminders:
        return "<p>No reminders configured and none in the log.</p>"
    rows = [
        "<table><thead><tr><th>Reminder</th><th>Adherence</th><th>Done</th><th>Missed</th>"
        "<th>Skipped</th><th>Streak</th><th>Best</th><th>Median delay</th><th>p90 delay</th>"
        "<th>Repeats</th></tr></thead><tbody>"
    ]
    for r in result.reminders.values():
        adherence = "–" if r.adherence is None else f"{r.adherence:.0%}"
        name = _e(r.title) + ("" if r.configured else ' <span class="note">(removed)</span>')
        rows.append(
            f'<tr><td title="{_e(r.id)}">{name}</td><td>{adherence}</td>'
            f"<td>{r.acknowledged}/{r.scheduled - r.skipped}</td><td>{r.missed}</td><td>{r.skipped}</td>"
            f"<td>{r.current_streak}</td><td>{r.longest_streak}</td><td>{_duration(r.median_delay_s)}</td>"
            f"<td>{_duration(r.p90_delay_s)}</td><td>{r.repeats}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _night_score(result: Stats, i: int) -> tuple[str, str]:
    """Colour and hover text of night i in the calendar."""
    done = due = skipped = ahead = 0
    for r in result.reminders.values():
        status = r.cells[i].status
        if status in (ACK, LATE):
            done += 1
            due += 1
        elif status in (MISSED, OPEN):
            due += 1
        elif status in (SKIPPED, SKIPPED_AHEAD):
            skipped += 1
        elif status == PENDING:
            ahead += 1
    night = result.nights[i]
    label = f"{DAY_NAMES[night.weekday()]} {night}"  # as `%a %Y-%m-%d` in the C locale, faster
    text = f"{label}: {done} of {due} done" + (f", {skipped} skipped" if skipped else "")
    if ahead:  # tonight, not over: judged when it is
        return TONIGHT, f"{text}, {ahead} later tonight"
    if due == 0:
        if skipped:
            return ALL_SKIPPED, f"{label}: skipped"
        return NO_DATA, f"{label}: nothing due"
    return _heat(done / due), text.replace(" done", f" done ({done / due:.0%})", 1)


def _heat(share: float) -> str:
    """The calendar's colour for a night with `share` of its reminders done, as its legend says."""
    if share >= 1:
        return HEAT[4][0]
    if share >= 0.75:
        return HEAT[3][0]
    if share >= 0.5:
        return HEAT[2][0]
    return HEAT[1][0] if share > 0 else HEAT[0][0]


def _calendar(result: Stats) -> str:
    """GitHub-style grids over the report's nights, one per calendar year it touches:
    columns are weeks, rows weekdays (Monday on top)."""
    cell, gap = 12, 2
    step = cell + gap
    left, top = 34, 16
    index = {night: i for i, night in enumerate(result.nights)}
    out = []
    for year in range(result.until.year, result.first.year - 1, -1):
        first = max(result.first, date(year, 1, 1))
        last = min(result.until, date(year, 12, 31))
        start = first - timedelta(days=first.weekday())
        weeks = (last - start).days // 7 + 1
        width = max(left + weeks * step + 4, 120)
        height = top + 7 * step + 4
        svg = [
            f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"'
            f' aria-label="adherence calendar {first} to {last}">',
        ]
        for row, name in ((0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun")):
            svg.append(f'<text x="0" y="{top + row * step + cell - 2}">{name}</text>')
        # A label at each month's first week in range; the year with the first label.
        labels: list[tuple[int, str]] = []
        month = date(first.year, first.month, 1)
        while month <= last:
            column = max((month - start).days // 7, 0)
            if not labels or column - labels[-1][0] >= 3:
                labels.append((column, month.strftime("%b")))
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        labels[0] = (labels[0][0], f"{labels[0][1]} {year}")
        for column, text in labels:
            svg.append(f'<text x="{left + column * step}" y="{top - 4}">{text}</text>')
        day = first
        while day <= last:
            x = left + ((day - start).days // 7) * step
            y = top + day.weekday() * step
            color, text = _night_score(result, index[day])
            svg.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" rx="2" fill="{color}">'
                f"<title>{_e(text)}</title></rect>"
            )
            day += timedelta(days=1)
        svg.append("</svg>")
        out.append("".join(svg))
    return "\n".join(out)


def _strips(result: Stats) -> str:
    """One row of coloured cells per reminder (like the terminal chart)."""
    n = len(result.nights)
    label_w = 150
    plot_w = 900
    cw = plot_w / n
    row_h = 18
    height = 20 + row_h * len(result.reminders) + 4
    svg = [
        f'<svg width="{label_w + plot_w}" height="{height}" viewBox="0 0 {label_w + plot_w} {height}"'
        ' role="img" aria-label="reminders by night">',
        f'<text x="{label_w}" y="12">{result.first}</text>',
        f'<text x="{label_w + plot_w}" y="12" text-anchor="end">{result.until}</text>',
    ]
    for k, r in enumerate(result.reminders.values()):
        y = 20 + k * row_h
        svg.append(f'<text x="0" y="{y + 12}">{_e(_short(r.title, 22))}</text>')
        # Runs of one status become one rect: a 10-year log stays small.
        start = 0
        statuses = [c.status for c in r.cells]
        title = _e(r.title)
        for i in range(1, n + 1):
            if i == n or statuses[i] != statuses[start]:
                # Every night, "not scheduled" too: the strip starts under its first date.
                status = statuses[start]
                x = label_w + start * cw
                nights = f"{result.nights[start]}" + (f" – {result.nights[i - 1]}" if i - 1 > start else "")
                svg.append(
                    f'<rect x="{_num(x)}" y="{y}" width="{_num(max(cw * (i - start), 0.6))}"'
                    f' height="{row_h - 4}" fill="{STATUS_COLORS[status]}"><title>{title}:'
                    f" {nights}: {STATUS_WORDS[status]}</title></rect>"
                )
                start = i
    svg.append("</svg>")
    return "".join(svg)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _x_axis(result: Stats, left: float, width: float, y: float) -> list[str]:
    """Date ticks along a time axis, about six: each centred under its night's dot (the charts
    leave room beside the plot for the half of a label that reaches past it)."""
    n = len(result.nights)
    ticks = []
    step = max(n // 6, 1)
    for i in range(0, n, step):
        x = left + (i + 0.5) * width / n
        ticks.append(f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="middle">{result.nights[i]}</text>')
    return ticks


@cache
def _dates(first: date, n: int) -> tuple[str, ...]:
    """The dates of `n` nights from `first`, as written: the delay charts share them."""
    return tuple((first + timedelta(days=k)).isoformat() for k in range(n))


@cache
def _centres(n: int, left: float, width: float) -> tuple[str, ...]:
    """The x of each of `n` nights' centres on a time axis, as written: the delay charts share them."""
    return tuple(_num(left + (i + 0.5) * width / n) for i in range(n))


def _delay_chart(result: Stats, r: ReminderStats) -> str:
    n = len(result.nights)
    left, right, top, bottom = 50, AXIS_ROOM, 18, 22
    plot_w, plot_h = 1000 - left - right, 120
    acked = [(i, c) for i, c in enumerate(r.cells) if c.delay_s is not None]
    missed = [i for i, c in enumerate(r.cells) if c.status == MISSED]
    head = f"<h3>{_e(r.title)}" + ("" if r.configured else " (removed)") + "</h3>"
    if not acked and not missed:
        return head + '<p class="note">Nothing scheduled in this range.</p>'
    delays = sorted(c.delay_s for _i, c in acked if c.delay_s is not None)
    # Scale to the 95th percentile so one forgotten night does not flatten the rest.
    cap = max(
        delays[int(len(delays) * 0.95) - 1] if len(delays) >= 20 else (delays[-1] if delays else 0), 300
    )
    cap_min = -(-cap // 600) * 10  # round up to 10 minutes
    height = top + plot_h + bottom
    svg = [
        f'<svg width="1000" height="{height}" viewBox="0 0 1000 {height}" role="img"'
        f' aria-label="acknowledgement delay of {_e(r.id)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#e4e4e4"/>',
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h - frac * plot_h
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" stroke="#e4e4e4"/>')
        svg.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{_num(cap_min * frac)}m</text>')
    radius = 3 if n <= 120 else 2 if n <= 800 else 1.2
    xs = _centres(n, left, plot_w)
    dates = _dates(result.first, n)
    for i, c in acked:
        assert c.delay_s is not None
        y = top + plot_h - min(c.delay_s / 60 / cap_min, 1) * plot_h
        fill = STATUS_COLORS[c.status]
        svg.append(
            f'<circle cx="{xs[i]}" cy="{_num(y)}" r="{radius}" fill="{fill}">'
            f"<title>{dates[i]}: {_duration(c.delay_s)}</title></circle>"
        )
    for i in missed:
        x = left + (i + 0.5) * plot_w / n
        svg.append(
            f'<rect x="{_num(x - 1)}" y="{top - 8}" width="2" height="6" fill="{STATUS_COLORS[MISSED]}">'
            f"<title>{dates[i]}: missed</title></rect>"
        )
    svg += _x_axis(result, left, plot_w, top + plot_h + 15)
    svg.append("</svg>")
    return head + "".join(svg)


def _minutes(t: datetime, night: date, zone: tzinfo) -> float:
    return _local_minutes(t.astimezone(zone), night)


def _local_minutes(local: datetime, night: date) -> float:
    """Minutes of a local time from noon of its night (the bedtime chart's scale)."""
    return (local.date() - night).days * 1440 + local.hour * 60 + local.minute + local.second / 60 - 720


def _bedtime_chart(result: Stats, zone: tzinfo) -> str:
    rows = [(i, b) for i, b in enumerate(result.bedtimes) if b.planned is not None]
    if not rows:
        return '<p class="note">No nights in this range.</p>'
    index = {night: i for i, night in enumerate(result.nights)}
    points = []
    for _i, b in rows:
        assert b.planned is not None
        points.append(_minutes(b.planned, b.night, zone))
        if b.acknowledged is not None:
            points.append(_minutes(b.acknowledged, b.night, zone))
        if b.went_to_bed is not None:
            points.append(_minutes(b.went_to_bed, b.night, zone))
    lo = min(points) // 60 * 60
    hi = -(-max(points) // 60) * 60
    hi = max(hi, lo + 120)
    n = len(result.nights)
    left, right, top, bottom = 50, AXIS_ROOM, 10, 22
    plot_w, plot_h = 1000 - left - right, 200
    height = top + plot_h + bottom

    def y_of(m: float) -> float:
        return top + (m - lo) / (hi - lo) * plot_h

    def x_of(night: date) -> float:
        return left + (index[night] + 0.5) * plot_w / n

    svg = [
        f'<svg width="1000" height="{height}" viewBox="0 0 1000 {height}" role="img"'
        ' aria-label="planned and actual bedtime">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#e4e4e4"/>',
    ]
    hours = int((hi - lo) // 60)
    every = max(hours // 6, 1) * 60
    m = lo
    while m <= hi:
        y = y_of(m)
        label = f"{int(m // 60 + 12) % 24:02d}:00"
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" stroke="#e4e4e4"/>')
        svg.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{label}</text>')
        m += every
    # Planned bedtime: one short level stroke per night (a step line without risers), one path.
    half = max(plot_w / n / 2, 0.75)
    path: list[str] = []
    for _i, b in rows:
        assert b.planned is not None
        x, y = x_of(b.night), y_of(_minutes(b.planned, b.night, zone))
        path.append(f"M{_num(x - half)} {_num(y)}H{_num(x + half)}")
    svg.append(f'<path d="{"".join(path)}" fill="none" stroke="{PLANNED}" stroke-width="2"/>')
    radius = 3 if n <= 120 else 2 if n <= 800 else 1.2
    for _i, b in rows:
        if b.acknowledged is None or b.planned is None:
            continue
        late = (b.acknowledged - b.planned) // MINUTE
        acknowledged = b.acknowledged.astimezone(zone)
        svg.append(
            f'<circle cx="{_num(x_of(b.night))}" cy="{_num(y_of(_local_minutes(acknowledged, b.night)))}"'
            f' r="{radius}" {_dot_paint(b.measured, _lights_out_color(late))}>'
            f"<title>{b.night}: planned"
            f" {_clock(b.planned.astimezone(zone))}, lights out {_clock(acknowledged)}"
            f" ({late:+d} min){_measured_note(b.measured)}</title></circle>"
        )
    svg += _measured_marks(result, zone, x_of, y_of, radius)
    svg += _x_axis(result, left, plot_w, top + plot_h + 15)
    svg.append("</svg>")
    # Beside measured lights out, the dots say what they are: clicked.
    clicked = "acknowledged" if any(b.went_to_bed for b in result.bedtimes) else "lights out"
    legend = _legend(
        [
            (PLANNED, "planned"),
            (BED_ON_TIME, f"{clicked} within {ON_TIME_MINUTES} min of it"),
            (BED_LATER, f"more than {ON_TIME_MINUTES} min later"),
            (BED_EARLIER, f"more than {ON_TIME_MINUTES} min earlier"),
        ]
    )
    return "".join(svg) + legend + _measured_legend(result)


def _measured_marks(
    result: Stats, zone: tzinfo, x_of: Callable[[date], float], y_of: Callable[[float], float], radius: float
) -> list[str]:
    """Lights out as measured, one diamond a night beside the clicked dot: the screens went off
    (dark), or in bed, as the phone said (teal); a thin line joins it to the planned bedtime."""
    marks = []
    size = radius + 1.5
    side = _num(size)
    for b in result.bedtimes:
        went = b.went_to_bed
        if went is None or b.planned is None:
            continue
        planned, went_at = b.planned.astimezone(zone), went.astimezone(zone)
        x = _num(x_of(b.night))
        y0, y = y_of(_local_minutes(planned, b.night)), y_of(_local_minutes(went_at, b.night))
        color = IN_BED if b.in_bed is not None else SCREENS_OFF
        late = (went - b.planned) // MINUTE
        what = "in bed (the phone)" if b.in_bed is not None else "screens off (measured)"
        active = (
            f", at the screen {_duration(b.active_after_bedtime_s)} after bedtime"
            if b.active_after_bedtime_s
            else ""
        )
        marks.append(
            f'<line x1="{x}" x2="{x}" y1="{_num(y0)}" y2="{_num(y)}" stroke="{color}"'
            ' stroke-opacity=".25" stroke-width="1"/>'
            f'<path d="M{x} {_num(y - size)}l{side} {side}l-{side} {side}'
            f'l-{side} -{side}z" fill="{color}"><title>{b.night}: planned'
            f" {_clock(planned)}, {what} {_clock(went_at)}"
            f" ({late:+d} min){_e(active)}</title></path>"
        )
    return marks


def _measured_legend(result: Stats) -> str:
    """What the diamonds are: measured, never clicked."""
    kinds = {("bed" if b.in_bed is not None else "off") for b in result.bedtimes if b.went_to_bed}
    if not kinds:
        return ""
    items = []
    diamond = 'style="background:{};transform:rotate(45deg) scale(.8);border-radius:0"'
    if "off" in kinds:
        items.append(
            f"<span><i {diamond.format(SCREENS_OFF)}></i>lights out, measured: the screens went off"
            " (idle, locked or asleep) until the morning or for 2 hours</span>"
        )
    if "bed" in kinds:
        items.append(f"<span><i {diamond.format(IN_BED)}></i>in bed, as the phone's sleep app said</span>")
    return (
        f'<p class="legend">{"".join(items)}</p>'
        '<p class="note">Dots are clicked (or typed: <code>sundown ack</code>); diamonds are measured'
        " (the desktops' activity, or the phone's sleep app), never clicked.</p>"
    )


def _lights_out_note(result: Stats) -> str:
    """The range's measured lights out in one sentence (nothing when nothing was measured)."""
    s = result.lights_out
    told = sum(1 for b in result.bedtimes if b.lights_out_status)
    if not told:
        return ""
    text = f"Lights out was measured on {s.nights} of {told} nights"
    if s.median_after_bedtime_s is not None:
        median = s.median_after_bedtime_s
        text += (
            f": median {_duration(abs(median) // 60 * 60)} {'after' if median >= 0 else 'before'}"
            " the planned bedtime"
        )
    text += (
        f"; {s.within} within {ON_TIME_MINUTES} minutes of it or earlier;"
        f" streak {s.current_streak} (best {s.longest_streak})."
    )
    return f'<p class="note">{_e(text)}</p>'


def _dot_paint(measured: str | None, color: str) -> str:
    """A clicked lights-out is a filled dot; a measured one (idle, lock) a hollow ring."""
    if measured:
        return f'fill="white" stroke="{color}" stroke-width="1.5"'
    return f'fill="{color}"'


def _measured_note(measured: str | None) -> str:
    return {"idle": ", measured: the screen went idle", "lock": ", measured: the screen locked"}.get(
        measured or "", ""
    )


def _lights_out_color(minutes_late: int) -> str:
    """The dot's colour, as the legend says: within ON_TIME either way, later, or earlier."""
    if minutes_late > ON_TIME_MINUTES:
        return BED_LATER
    if minutes_late < -ON_TIME_MINUTES:
        return BED_EARLIER
    return BED_ON_TIME
