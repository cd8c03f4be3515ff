"""Checked values -> the Routine: what one key cannot say alone (bedtimes, before/at, [push],
[winddown]; [bedtime] with [wake], and [calendar], in `config.bedtime`)."""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from sundown.config.check import Problems, walk_table
from sundown.config.push import default_secret_file, secret_file_problem, token_file_problem
from sundown.config.spec import FILE, PUSH, REMINDER, WINDDOWN, KeyPath
from sundown.config.values import ID_RE, closest, duration_text, nearest, show
from sundown.core.plan import ONE_DAY, into_night
from sundown.core.routine import (
    DEFAULT_REPEAT_LIMIT,
    DEFAULT_SNOOZE,
    WEEKDAYS,
    Bedtimes,
    Calendar,
    ContextRules,
    Push,
    Reminder,
    Routine,
    WindDown,
)


def readable(reminder_id: str) -> str:
    """The default title: "screens-off" -> "Screens off"."""
    words = re.sub(r"[-_]+", " ", reminder_id).strip()
    return words[:1].upper() + words[1:] if words else reminder_id


def _bedtimes(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Bedtimes | None:
    from sundown.config.bedtime import bedtimes

    return bedtimes(raw, values, problems)


def _reminder(rid: str, raw: object, values: dict[str, Any], problems: Problems) -> Reminder | None:
    if not isinstance(raw, dict):
        return None
    path: KeyPath = ("reminders", rid)
    ok = all(k in values for k in raw if k in REMINDER.keys) and ID_RE.fullmatch(rid) is not None
    if "before" in raw and "at" in raw:
        problems.add(path + ("at",), 'is given together with "before"; keep exactly one of the two')
        ok = False
    elif "before" not in raw and "at" not in raw:
        # A typo of one of them ("befor") is one problem: its unknown key's "did you mean", not two.
        if not any(k not in REMINDER.keys and nearest(k, ("before", "at")) for k in raw):
            problems.add(path, 'needs "before" (e.g. before = "30m") or "at" (e.g. at = "22:00")')
        ok = False
    if "repeat_limit" in raw and "repeat" not in raw:
        problems.add(
            path + ("repeat_limit",),
            'means nothing without "repeat"; add e.g. repeat = "10m" or remove repeat_limit',
        )
        ok = False
    if not ok:
        return None
    repeat = values.get("repeat")
    return Reminder(
        id=rid,
        title=values.get("title", readable(rid)),
        body=values.get("body", ""),
        before=values.get("before"),
        at=values.get("at"),
        repeat=repeat,
        repeat_limit=values.get("repeat_limit", DEFAULT_REPEAT_LIMIT) if repeat else 0,
        run=values.get("run", ()),
        days=values.get("days"),
        done_when=values.get("done_when"),
        urgent=values.get("urgent", False),
        snooze_limit=values.get("snooze_limit"),
        escalate=values.get("escalate", ()),
    )


def _escalation_fits(r: Reminder, bedtimes: Bedtimes, problems: Problems) -> None:
    """An `after` that would land past the night's end (12:00 the next day) can never happen."""
    from sundown.config.bedtime import wall_bedtime

    for i, step in enumerate(r.escalate):
        for weekday in range(7):
            if not r.runs_on(weekday):
                continue
            if r.at is not None:
                at = into_night(r.at)
            else:
                at = into_night(wall_bedtime(bedtimes, weekday)) - (r.before or timedelta(0))
            if at + step.after > ONE_DAY:
                problems.add(
                    ("reminders", r.id, "escalate"),
                    f"step {i + 1}: after = {show(duration_text(step.after))} lands past the night's end "
                    f"(12:00 the next day) on {WEEKDAYS[weekday]} evenings; write a shorter duration",
                    i,
                )
                break


def build(raw: dict[str, Any], problems: Problems) -> Routine | None:
    values = walk_table(FILE, raw, (), problems)
    bedtimes = _bedtimes(raw, values, problems)
    reminders = []
    raw_reminders = raw.get("reminders")
    if isinstance(raw_reminders, dict):
        checked = values.get("reminders", {})
        for rid, item in raw_reminders.items():
            r = _reminder(rid, item, checked.get(rid, {}), problems)
            if r is not None:
                reminders.append(r)
    if bedtimes is not None:
        for r in reminders:
            _escalation_fits(r, bedtimes, problems)
    push = _push(raw, values.get("push", {}), {r.id for r in reminders}, problems)
    calendar = _calendar(raw, values.get("calendar", {}), problems)
    winddown = _winddown(raw, values.get("winddown", {}), bedtimes, problems)
    if problems or bedtimes is None:
        return None
    notify = values.get("notify", {})
    ctx = values.get("context", {})
    return Routine(
        bedtime=bedtimes,
        reminders=tuple(reminders),
        timezone=values.get("timezone"),
        backend=notify.get("backend", "auto"),
        snooze=notify.get("snooze", DEFAULT_SNOOZE),
        tray=notify.get("tray", True),
        skip_dates=values.get("skip", {}).get("dates", frozenset()),
        context=ContextRules(
            quiet=ctx.get("quiet", "defer"),
            max_defer=ctx.get("max_defer", ContextRules.max_defer),
            idle=ctx.get("idle", ContextRules.idle),
            measure=ctx.get("measure", ContextRules.measure),
        ),
        push=push,
        calendar=calendar,
        winddown=winddown,
    )


def _calendar(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Calendar | None:
    if "calendar" not in raw:
        return None
    from sundown.config.bedtime import calendar

    return calendar(raw, values, problems)


def _winddown(
    raw: dict[str, Any], values: dict[str, Any], bedtimes: Bedtimes | None, problems: Problems
) -> WindDown | None:
    """`[winddown]`: when it starts (exactly one of before/at), `until`, and that the window is
    not empty on any evening (it starts before its `until`)."""
    table = raw.get("winddown")
    if not isinstance(table, dict):
        return None
    path: KeyPath = ("winddown",)
    ok = True
    if "before" in table and "at" in table:
        problems.add(path, 'has both "before" and "at"; keep one of the two')
        ok = False
    elif "before" not in table and "at" not in table:
        problems.add(path, 'needs "before" (e.g. before = "30m") or "at" (e.g. at = "22:00")')
        ok = False
    if "until" not in table:
        problems.add(path, 'needs "until", when everything is put back, e.g. until = "07:00"')
        ok = False
    if not ok or any(k not in values for k in table if k in WINDDOWN.keys):
        return None  # a bad value was reported already
    wd = WindDown(
        until=values["until"],
        before=values.get("before"),
        at=values.get("at"),
        dnd=values.get("dnd", False),
        night_light=values.get("night_light", False),
        grayscale=values.get("grayscale", False),
        dark=values.get("dark", False),
        volume=values.get("volume"),
        pause_media=values.get("pause_media", False),
        run=values.get("run", ()),
        undo=values.get("undo", ()),
    )
    if bedtimes is not None:
        from sundown.core.winddown import starts_after_until

        for weekday in range(7):
            bed = bedtimes.for_weekday(weekday)
            if bed is None:  # from [wake]: the next morning's wake less `sleep`
                wake = bedtimes.wake_after(weekday)
                assert wake is not None
                minutes = wake.hour * 60 + wake.minute - int(bedtimes.sleep.total_seconds() // 60)
                bed = time((minutes // 60) % 24, minutes % 60)
            bed_min = (bed.hour * 60 + bed.minute - 12 * 60) % (24 * 60)
            if starts_after_until(wd, bed_min):
                start = (
                    f'at = "{wd.at:%H:%M}"'
                    if wd.at
                    else f'before = "{duration_text(wd.before or timedelta(0))}"'
                )
                problems.add(
                    path + ("until",),
                    f'"{wd.until:%H:%M}" is not after the wind-down starts on {WEEKDAYS[weekday]} evenings'
                    f" ({start}, bedtime {bed:%H:%M}); write a later `until` or an earlier start",
                )
                return None
    return wd


def _push(raw: dict[str, Any], values: dict[str, Any], ids: set[str], problems: Problems) -> Push | None:
    """`[push]`, its reminder ids checked against the routine and its files against the disk."""
    table = raw.get("push")
    if not isinstance(table, dict):
        return None
    if "ntfy" not in table:
        problems.add(("push",), 'needs ntfy = "https://SERVER/TOPIC", the topic URL to push to')
        return None
    listed = table.get("reminders", []) if "reminders" in values else []
    for i, rid in enumerate(listed):
        if rid not in ids:
            problems.add(
                ("push", "reminders"),
                f"{show(rid)} is not a reminder of this routine{closest(rid, sorted(ids))}",
                i,
            )
    token_file = _push_file(values, "token_file", problems)
    if token_file is not None:
        problem = token_file_problem(token_file)
        if problem:
            problems.add(("push", "token_file"), problem)
    secret_file = _push_file(values, "secret_file", problems) or default_secret_file()
    if "secret_file" in values or "secret_file" not in table:
        problem = secret_file_problem(secret_file)
        if problem:
            problems.add(("push", "secret_file") if "secret_file" in table else ("push",), problem)
    if "ntfy" in values:
        server, topic = values["ntfy"]
        _push_url_rules(server, topic, token_file, values, problems)
    if any(k not in values for k in table if k in PUSH.keys):
        return None  # a bad value was reported already
    server, topic = values["ntfy"]
    return Push(
        server=server,
        topic=topic,
        device=values.get("device") or _hostname(),
        token_file=token_file,
        reminders=values.get("reminders"),
        when=values.get("when", "always"),
        secret_file=secret_file,
        webhook_topic=values.get("webhook_topic"),
    )


def _push_file(values: dict[str, Any], key: str, problems: Problems) -> Path | None:
    """A file named in [push]: `~` expanded; a relative path is relative to the config file."""
    if key not in values:
        return None
    path = Path(os.path.expanduser(values[key]))
    return path if path.is_absolute() else Path(problems.name).resolve().parent / path


def _push_url_rules(
    server: str, topic: str, token_file: Path | None, values: dict[str, Any], problems: Problems
) -> None:
    """What the URL allows: a token never crosses a network in clear; the webhook topic is apart."""
    from urllib.parse import urlsplit

    from sundown.config.values import loopback

    host = urlsplit(server).hostname or ""
    if token_file is not None and server.startswith("http://") and not loopback(host):
        problems.add(
            ("push", "ntfy"),
            f"plain http:// would carry the token in clear to {host}; use https:// "
            "(plain http is fine only to this machine: localhost)",
        )
    webhook = values.get("webhook_topic")
    if webhook is not None and webhook in (topic, f"{topic}-replies"):
        problems.add(
            ("push", "webhook_topic"),
            f"{show(webhook)} is a topic sundown uses already; give the webhook a topic of its own,"
            f' e.g. "{topic}-sleep"',
        )


def _hostname() -> str:
    import socket

    name = re.sub(r"[^-_.A-Za-z0-9]+", "-", socket.gethostname().split(".")[0]).strip("-_.")
    return name[:63] or "this-machine"
