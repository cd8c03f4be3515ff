"""A night's activity spans as messages on the push reply topic, and back. Pure.

Each machine of one person publishes the spans of a night it closed (core/activity.py)
to the reply topic every sundown sharing the push topic subscribes to; the others store
them with source `device:<name>`, so `stats` on any machine reckons lights out from all
of them (a person is active when any machine is). A span seen twice is one span: the
receiver skips the spans it has, and the log's span table keeps one row per
(night, machine, start).

A message holds at most `MAX_SPANS` spans (an ntfy message is at most 4096 bytes);
a night with more goes as several. Only states and whole seconds travel: nothing about
windows or input.

Trust: whoever knows the topic can publish to it, so spans count only when signed like
an answer (core/push.py): an HMAC-SHA256 with the secret the machines share, over the
night, the sender's name, the spans and the sender's push id. They carry no expiry or
nonce: they tell history, and a replay only repeats what that machine said, which is
stored once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timezone
from typing import Any

from sundown.core.activity import Span, plausible
from sundown.core.push import (
    BAD_SIGNATURE,
    SIGNATURE_RE,
    TOKEN_RE,
    UNSIGNED,
    Signer,
    Verdict,
    message_data,
    sign,
)
from sundown.core.push import _same as same_digest
from sundown.core.vocabulary import ACTIVITY_STATES, DEVICE_PREFIX

UTC = timezone.utc
VERSION = 1
KIND = "spans"
MAX_SPANS = 40  # about 60 bytes each: a message stays well under ntfy's 4096 bytes
ORIGIN_RE = re.compile(r"[A-Za-z0-9][-_.A-Za-z0-9]{0,62}")


@dataclass(frozen=True)
class SpanReport:
    """Some of one machine's spans of one night."""

    night: date
    origin: str  # the device name of the machine they are from
    spans: tuple[Span, ...]

    @property
    def source(self) -> str:
        """The log's source for them: `device:<name>`."""
        return f"{DEVICE_PREFIX}{self.origin}"


def encode(night: date, spans: Sequence[Span], signer: Signer) -> list[str]:
    """The signed messages that carry this machine's `spans` (ASCII JSON, at most `MAX_SPANS` each)."""
    messages = []
    for i in range(0, len(spans), MAX_SPANS):
        part = [[s.state, s.start, s.end] for s in spans[i : i + MAX_SPANS]]
        data: dict[str, Any] = {
            "sundown": VERSION,
            "kind": KIND,
            "night": night.isoformat(),
            "from": signer.device,
            "spans": part,
            "dev": signer.device_id,
        }
        data["sig"] = sign(signer.secret, _canonical(data["night"], signer.device, part, signer.device_id))
        messages.append(json.dumps(data, separators=(",", ":"), ensure_ascii=True))
    return messages


def _canonical(night: Any, origin: Any, spans: Any, device_id: str) -> bytes:
    """The signed fields in a fixed order, however the message's JSON is spelt."""
    fields = ["sundown-spans", VERSION, night, origin, spans, device_id]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def verify(message: Mapping[str, Any], secret: bytes) -> Verdict:
    """Whether the spans in one ntfy `message` were signed with `secret`, and by which machine's
    id. Asked before anything is written; never raises, whatever the message holds."""
    data = _data(message)
    if data is None:
        return Verdict(UNSIGNED)
    device_id, signature = data.get("dev"), data.get("sig")
    if not (isinstance(device_id, str) and TOKEN_RE.fullmatch(device_id)):
        return Verdict(UNSIGNED)
    if not (isinstance(signature, str) and SIGNATURE_RE.fullmatch(signature)):
        return Verdict(UNSIGNED)
    canonical = _canonical(data.get("night"), data.get("from"), data.get("spans"), device_id)
    if not same_digest(sign(secret, canonical), signature):
        return Verdict(BAD_SIGNATURE)
    return Verdict(None, device_id)


def _data(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON object in a message that claims to hold spans, or None."""
    data = message_data(message, VERSION)
    return data if data is not None and data.get("kind") == KIND else None


def parse(message: Mapping[str, Any]) -> SpanReport | None:
    """The spans in one ntfy `message` event, or None when it holds none of ours (whether they
    may be believed is `verify`'s question). Never raises.

    Hostile input is refused whole: an unknown state, a span that ends before it starts,
    lasts over a day or lies outside its night's two days, a name no machine has.
    """
    data = _data(message)
    if data is None:
        return None
    night_text, origin, raw = data.get("night"), data.get("from"), data.get("spans")
    if not isinstance(origin, str) or not ORIGIN_RE.fullmatch(origin) or not isinstance(raw, list):
        return None
    try:
        night = date.fromisoformat(night_text) if isinstance(night_text, str) else None
    except ValueError:
        return None
    if night is None or not raw or len(raw) > MAX_SPANS:
        return None
    spans = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 3 and item[0] in ACTIVITY_STATES):
            return None
        state, start, end = item
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (start, end)):
            return None
        if not plausible(night, start, end):
            return None
        spans.append(Span(state, start, end))
    return SpanReport(night, origin, tuple(spans))
