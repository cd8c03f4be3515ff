"""What goes to the push server and what comes back from it: pure encoding and rules.

A pushed reminder is one ntfy message whose sequence id is derived from its key, so
every machine sharing the topic (and every retry) updates the same notification on
the phone instead of adding one. Its two `http` actions publish an *answer* to the
reply topic; every daemon subscribed to that topic applies it. An answer is a small
JSON object; anything else on the reply topic is ignored and counted.

No I/O here: the adapter (`sundown.push.ntfy`) does the HTTP, the daemon the log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sundown.core.answers import Answer
from sundown.core.plan import ONE_DAY, UTC, NightChanges, Occurrence, night_of, night_plan
from sundown.core.routine import Push, Routine
from sundown.core.state import NOTHING, ReminderNight
from sundown.core.vocabulary import DEVICE_PREFIX

ANSWER_VERSION = 1
ACTIONS = ("done", "snooze")  # what an answer from elsewhere may do
PHONE = "phone"
PRIORITY_DEFAULT = 3
PRIORITY_HIGH = 4
SID_RE = re.compile(r"[-_A-Za-z0-9]{1,64}")
# Suspend hand-off: reminders due within this long after going to sleep go to the server.
ASLEEP_HORIZON = timedelta(hours=12)


@dataclass(frozen=True)
class Publication:
    """One reminder as the phone will show it."""

    sid: str  # ntfy sequence id: the same for every machine and every repeat
    title: str
    body: str
    priority: int
    tags: tuple[str, ...]
    night: date
    reminders: tuple[str, ...]
    at: datetime | None = None  # a scheduled message (ntfy `At`): delivered by the server then


def sequence_id(key: str) -> str:
    """ "2026-11-25/magnesium" -> "sd-2026-11-25-magnesium" (ntfy allows [-_A-Za-z0-9]{1,64})."""
    sid = "sd-" + re.sub(r"[^-_A-Za-z0-9]", "-", key)
    if len(sid) > 64:
        import hashlib  # only for ids this long: it maps OpenSSL's libcrypto

        sid = sid[:47] + "-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return sid


def publication(
    key: str,
    title: str,
    body: str,
    occurrences: tuple[Occurrence, ...],
    *,
    urgent: bool = False,
    repeat: int = 0,
    late: bool = False,
    at: datetime | None = None,
) -> Publication:
    tags = ["crescent_moon"]
    if late:
        tags.append("hourglass")
    if repeat:
        tags.append("repeat")
    return Publication(
        sid=sequence_id(key),
        title=title,
        body=body,
        priority=PRIORITY_HIGH if urgent or repeat else PRIORITY_DEFAULT,
        tags=tuple(tags),
        night=occurrences[0].night,
        reminders=tuple(o.reminder.id for o in occurrences),
        at=at,
    )


def encode_answer(
    night: date,
    reminders: tuple[str, ...],
    action: str,
    origin: str,
    nonce: str | None = None,
    until: datetime | None = None,
) -> str:
    """The body an action publishes to the reply topic (ASCII JSON: it also travels in a header)."""
    data: dict[str, Any] = {
        "sundown": ANSWER_VERSION,
        "night": night.isoformat(),
        "reminders": list(reminders),
        "action": action,
        "from": origin,
    }
    if nonce:
        data["id"] = nonce
    if until is not None and action == "snooze":
        data["until"] = until.astimezone(UTC).isoformat(timespec="seconds")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True)


def http_actions(reply_url: str, pub: Publication, token: str | None) -> list[dict[str, Any]]:
    """ntfy `http` action buttons: Done and Snooze publish an answer; the phone clears its copy."""
    headers = {"X-Title": "sundown answer", "X-Priority": "1", "X-Tags": "sundown"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return [
        {
            "action": "http",
            "label": label,
            "url": reply_url,
            "method": "POST",
            "headers": headers,
            "body": encode_answer(pub.night, pub.reminders, action, PHONE),
            "clear": True,
        }
        for label, action in (("Done", "done"), ("Snooze", "snooze"))
    ]


def parse_answer(message: Mapping[str, Any]) -> Answer | None:
    """The answer in one ntfy `message` event, or None when it is not one of ours."""
    text = message.get("message")
    ident = message.get("id")
    if not isinstance(text, str) or not isinstance(ident, str) or len(text) > 4096:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("sundown") != ANSWER_VERSION:
        return None
    night, reminders, action, origin = (data.get(k) for k in ("night", "reminders", "action", "from"))
    nonce = data.get("id")
    if (
        action not in ACTIONS
        or not isinstance(night, str)
        or not isinstance(reminders, list)
        or not reminders
        or not all(isinstance(r, str) and r for r in reminders)
        or not isinstance(origin, str)
        or not (origin == PHONE or re.fullmatch(r"[A-Za-z0-9][-_.A-Za-z0-9]{0,62}", origin))
        or (nonce is not None and not isinstance(nonce, str))
    ):
        return None
    try:
        night_date = date.fromisoformat(night)
        until = data.get("until")
        until_at = datetime.fromisoformat(until) if isinstance(until, str) else None
    except ValueError:
        return None
    if until_at is not None and until_at.tzinfo is None:
        return None
    sent = message.get("time")
    at = (
        datetime.fromtimestamp(sent, UTC)
        if isinstance(sent, (int, float)) and not isinstance(sent, bool) and 0 < sent < 1e11
        else None
    )
    source = PHONE if origin == PHONE else f"{DEVICE_PREFIX}{origin}"
    return Answer(night_date, tuple(reminders), action, source, nonce or ident, at, until_at)


def should_push(push: Push, reminder_ids: tuple[str, ...], away: bool | None) -> bool:
    """`when = "away"` pushes only while the person is away from this screen (None: unknown = push)."""
    if not any(push.pushes(r) for r in reminder_ids):
        return False
    return push.when == "always" or away is None or away


def due_while_asleep(
    routine: Routine,
    zone: tzinfo,
    now: datetime,
    progress: Mapping[tuple[date, str], ReminderNight],
    changes: Mapping[date, NightChanges],
) -> list[Occurrence]:
    """Pushed reminders not yet sent that fall due within `ASLEEP_HORIZON` after `now`."""
    assert routine.push is not None
    due = []
    tonight = night_of(now, zone)
    for night in (tonight, tonight + ONE_DAY):
        plan = night_plan(routine, night, zone, changes.get(night, NightChanges()))
        for occ in plan.occurrences if plan else ():
            done = progress.get(occ.key, NOTHING)
            if (
                routine.push.pushes(occ.reminder.id)
                and not occ.skipped
                and not done.notified
                and not done.acknowledged
                and now < occ.at <= now + ASLEEP_HORIZON
            ):
                due.append(occ)
    return due
