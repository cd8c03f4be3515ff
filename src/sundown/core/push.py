"""What goes to the push server and what comes back from it: pure encoding and rules.

A pushed reminder is one ntfy message whose sequence id is derived from its key, so
every machine sharing the topic (and every retry) updates the same notification on
the phone instead of adding one. Its two `http` actions publish an *answer* to the
reply topic; every daemon subscribed to that topic applies it. An answer is a small
JSON object; anything else on the reply topic is ignored and counted.

Trust: whoever knows the topic can publish to it, so an answer counts only when it
carries an HMAC-SHA256, made with the secret the person's machines share, over its
fields (night, reminders, action, until, sender, sender's id, nonce, expiry). The
phone cannot sign: it echoes a body a machine signed for it when it pushed the
reminder. `verify` says whether an answer may be applied at all; the local rules
(what it may change) come after it. A sleep app's webhook cannot sign either: it is
read from a topic of its own (`parse_webhook`) and can never acknowledge.

No I/O here: the adapter (`sundown.push.ntfy`) does the HTTP, the daemon the log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sundown.core.answers import Answer
from sundown.core.plan import ONE_DAY, UTC, NightChanges, Occurrence, night_of, night_plan
from sundown.core.routine import Push, Routine
from sundown.core.state import NOTHING, ReminderNight, instant
from sundown.core.vocabulary import DEVICE_PREFIX

ANSWER_VERSION = 1
ACTIONS = ("done", "snooze")  # what an answer from elsewhere may do
PHONE = "phone"
PRIORITY_DEFAULT = 3
PRIORITY_HIGH = 4
SID_RE = re.compile(r"[-_A-Za-z0-9]{1,64}")
# Suspend hand-off: reminders due within this long after going to sleep go to the server.
ASLEEP_HORIZON = timedelta(hours=12)
MAX_MESSAGE = 4096  # an answer is ~300 bytes; anything much longer is not one
REMINDER_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,199}")  # a config id, within reason
ORIGIN_RE = re.compile(r"[A-Za-z0-9][-_.A-Za-z0-9]{0,62}")
TOKEN_RE = re.compile(r"[-_.A-Za-z0-9]{1,200}")  # nonces and device ids
SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")
MAX_REMINDERS = 64
HMAC_BLOCK = 64  # SHA-256's block size
# Why an answer was not believed (each a counter in `status --json`).
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
DISTRUST = (UNSIGNED, BAD_SIGNATURE, EXPIRED)


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
    answers: tuple[tuple[str, str], ...] = ()  # (button label, signed answer body) for the phone


@dataclass(frozen=True)
class Signer:
    """What a machine signs answers with: the shared secret, its name and its id."""

    secret: bytes = field(repr=False)
    device: str
    device_id: str

    def answer(
        self,
        night: date,
        reminders: tuple[str, ...],
        action: str,
        nonce: str,
        expires: datetime,
        origin: str | None = None,
        until: datetime | None = None,
    ) -> str:
        """A signed answer body: this machine's own (origin None), or one for the phone to echo."""
        return encode_answer(night, reminders, action, origin or self.device, nonce, until, self, expires)


@dataclass(frozen=True)
class Verdict:
    """Whether an answer may be believed at all, and who signed it."""

    distrust: str | None  # None: believed; else UNSIGNED, BAD_SIGNATURE or EXPIRED
    device_id: str = ""  # the signer's push id: tells two machines of one name apart
    expires: datetime | None = None  # as signed: the end of the answer's night


def _canonical(
    night: Any, reminders: Any, action: Any, until: Any, origin: Any, device_id: str, nonce: str, exp: int
) -> bytes:
    """The signed fields in a fixed order: one text for each answer, however its JSON is spelt."""
    fields = [
        "sundown-answer",
        ANSWER_VERSION,
        night,
        reminders,
        action,
        until,
        origin,
        device_id,
        nonce,
        exp,
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(secret: bytes, signed: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) of `signed`, in hex: `hmac.new(secret, signed, "sha256")`, computed
    with the interpreter's own SHA-256. `hmac` and `hashlib` load OpenSSL's libcrypto (3.7 MB of
    a 25 MB daemon), which a plain-http push otherwise never needs; a test checks the two agree."""
    sha256 = _sha256()
    key = (sha256(secret).digest() if len(secret) > HMAC_BLOCK else secret).ljust(HMAC_BLOCK, b"\0")
    inner = sha256(bytes(b ^ 0x36 for b in key) + signed).digest()
    return str(sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest())


def sha256_hex(data: bytes) -> str:
    """SHA-256 in hex, without OpenSSL (see `sign`)."""
    return str(_sha256()(data).hexdigest())


def _sha256() -> Any:
    import importlib

    for name in ("_sha2", "_sha256"):  # Python 3.12+, then 3.10 and 3.11
        try:
            return importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
    import hashlib  # a build without them

    return hashlib.sha256


def _same(a: str, b: str) -> bool:
    """Equal, in time independent of where they differ: `hmac.compare_digest` as it is where
    Python has no OpenSSL (with OpenSSL, hmac takes OpenSSL's twin of it)."""
    from _operator import _compare_digest

    return bool(_compare_digest(a, b))


def verify(message: Mapping[str, Any], secret: bytes, now: datetime) -> Verdict:
    """Whether the answer in one ntfy `message` was signed with `secret` over every field it
    has and its night has not ended. Asked before anything looks at what the answer asks;
    whether it was seen before is the caller's question (its nonce is the answer's `ident`).
    Never raises, whatever the message holds."""
    data = message_data(message, ANSWER_VERSION)
    if data is None:
        return Verdict(UNSIGNED)
    device_id, signature, nonce = (
        _text(data, k, p) for k, p in (("dev", TOKEN_RE), ("sig", SIGNATURE_RE), ("id", TOKEN_RE))
    )
    exp = _unix(data.get("exp"))
    if device_id is None or signature is None or nonce is None or exp is None:
        return Verdict(UNSIGNED)
    until = data.get("until", "")
    fields = (data.get("night"), data.get("reminders"), data.get("action"), until, data.get("from"))
    if not _same(sign(secret, _canonical(*fields, device_id, nonce, exp)), signature):
        return Verdict(BAD_SIGNATURE)
    expires = datetime.fromtimestamp(exp, UTC)
    if now > expires:
        return Verdict(EXPIRED, device_id, expires)
    return Verdict(None, device_id, expires)


def _unix(value: Any) -> int | None:
    """Unix seconds between 1970 and the year 5138, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**11 else None


def message_data(message: Mapping[str, Any], version: int) -> dict[str, Any] | None:
    """The JSON object in a message that claims to be ours (`"sundown": version`: an answer,
    or spans in core/push_spans.py), or None."""
    text = message.get("message")
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and data.get("sundown") == version else None


def sequence_id(key: str) -> str:
    """ "2026-11-25/magnesium" -> "sd-2026-11-25-magnesium" (ntfy allows [-_A-Za-z0-9]{1,64})."""
    sid = "sd-" + re.sub(r"[^-_A-Za-z0-9]", "-", key)
    if len(sid) > 64:
        sid = sid[:47] + "-" + sha256_hex(key.encode())[:16]
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
    answers: tuple[tuple[str, str], ...] = (),
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
        answers=answers,
    )


def phone_answers(
    signer: Signer, night: date, reminders: tuple[str, ...], expires: datetime, nonces: tuple[str, str]
) -> tuple[tuple[str, str], ...]:
    """The bodies of the phone's Done and Snooze buttons, signed here: the phone only echoes them."""
    return tuple(
        (label, signer.answer(night, reminders, action, nonce, expires, origin=PHONE))
        for (label, action), nonce in zip((("Done", "done"), ("Snooze", "snooze")), nonces, strict=True)
    )


def encode_answer(
    night: date,
    reminders: tuple[str, ...],
    action: str,
    origin: str,
    nonce: str | None = None,
    until: datetime | None = None,
    signer: Signer | None = None,
    expires: datetime | None = None,
) -> str:
    """The body an action publishes to the reply topic (ASCII JSON: it also travels in a header).

    With a `signer` (and `expires`, the night's end) it carries `dev`, `exp` and `sig`."""
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
    if signer is not None and nonce and expires is not None:
        data["dev"] = signer.device_id
        data["exp"] = int(expires.timestamp())
        signed = _canonical(
            data["night"],
            data["reminders"],
            action,
            data.get("until", ""),
            origin,
            signer.device_id,
            nonce,
            data["exp"],
        )
        data["sig"] = sign(signer.secret, signed)
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
            "body": body,
            "clear": True,
        }
        for label, body in pub.answers
    ]


def _text(data: Mapping[str, Any], key: str, pattern: re.Pattern[str]) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def parse_answer(message: Mapping[str, Any]) -> Answer | None:
    """The answer in one ntfy `message` event, or None when it is not one of ours.

    Whatever the message holds, this returns or gives None, never raises: every field is
    checked for its type and range (an `until` that no UTC can hold is no answer)."""
    ident = message.get("id")
    data = message_data(message, ANSWER_VERSION)
    if data is None or not isinstance(ident, str):
        return None
    night, reminders, action, origin = (data.get(k) for k in ("night", "reminders", "action", "from"))
    nonce = data.get("id")
    if (
        action not in ACTIONS
        or not isinstance(night, str)
        or not isinstance(reminders, list)
        or not 0 < len(reminders) <= MAX_REMINDERS
        or not all(isinstance(r, str) and REMINDER_RE.fullmatch(r) for r in reminders)
        or not isinstance(origin, str)
        or not (origin == PHONE or ORIGIN_RE.fullmatch(origin))
        or (nonce is not None and (not isinstance(nonce, str) or not TOKEN_RE.fullmatch(nonce)))
    ):
        return None
    try:
        night_date = date.fromisoformat(night)
    except ValueError:
        return None
    until = data.get("until")
    until_at = instant(until)
    if until is not None and until_at is None:
        return None
    sent = message.get("time")
    at = (
        datetime.fromtimestamp(sent, UTC)
        if isinstance(sent, (int, float)) and not isinstance(sent, bool) and 0 < sent < 1e11
        else None
    )
    source = PHONE if origin == PHONE else f"{DEVICE_PREFIX}{origin}"
    return Answer(night_date, tuple(reminders), action, source, nonce or ident, at, until_at)


# --- a sleep app's webhook ----------------------------------------------------------------------

SLEEP_AS_ANDROID = {
    "sleep_tracking_started": "in_bed",
    "alarm_alert_dismiss": "awake",
    "alarm_rescheduled": "next_alarm",
}


@dataclass(frozen=True)
class SleepSignal:
    """What a sleep or alarm app said through the webhook topic. It cannot sign, so it can only
    say when the person went to bed or got up, or when the next alarm rings; never Done."""

    kind: str  # "in_bed" | "awake" | "next_alarm"
    at: datetime  # when the server received it (UTC)
    ident: str  # the server's message id: seen twice, it changes nothing
    alarm: datetime | None = None  # next_alarm: when it rings (UTC)
    app: str = "sleep_as_android"


def parse_webhook(message: Mapping[str, Any], now: datetime) -> SleepSignal | None:
    """Sleep as Android's webhook JSON (`{"event": ..., "value1": ...}`) in one ntfy message, or
    None. `now` stands in for a message without the server's time. Never raises."""
    text = message.get("message")
    ident = message.get("id")
    if not isinstance(text, str) or not isinstance(ident, str) or not ident or len(text) > MAX_MESSAGE:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    kind = SLEEP_AS_ANDROID.get(data.get("event"))  # type: ignore[arg-type]
    if kind is None:
        return None
    sent = message.get("time")
    at = (
        datetime.fromtimestamp(sent, UTC)
        if isinstance(sent, (int, float)) and not isinstance(sent, bool) and 0 < sent < 1e11
        else now.astimezone(UTC)
    )
    alarm = None
    if kind == "next_alarm":
        value = data.get("value1")
        if isinstance(value, str) and value.isdigit() and len(value) <= 14:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**14:
            return None  # the next alarm in milliseconds since 1970, as the app sends it
        alarm = datetime.fromtimestamp(value / 1000, UTC)
    return SleepSignal(kind, at, ident, alarm)


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
