"""The ntfy adapter: one publisher thread and one subscriber thread, plain HTTP (stdlib).

Publisher: a queue of jobs (publish, clear, delete, answer) sent in order with a
capped backoff on errors, 429 and 5xx. Every reminder is published under its
sequence id, so a retry after an ambiguous failure (a timeout after the server
took it) updates the phone's copy instead of adding a second one; a newer job for
the same sequence id replaces a queued older one.

Subscriber: one long-lived GET of the reply topic's JSON stream (and the webhook
topic's, in the same stream), resumed with `since=<last message id>` after a restart,
a lost or silent connection, or a resume from suspend. The id is saved (state dir,
`push-since`) only after the daemon's worker has handled the answer, so a kill -9 at
any moment replays it at worst, and a replayed answer changes nothing. A line cut
short is never parsed. Reconnecting backs off by how each connection ended, not by
what it carried: a server that opens and closes at once, or a captive portal's page,
costs a connection every minute at worst, and `status` says what is wrong.

Every request has a deadline for the whole of it (one thread, `Deadlines`, cuts a
connection past its deadline): a server that trickles a byte every few seconds never
trips a socket timeout, and must not hold the queue.

The token is only ever put in an Authorization header: never in a log line, an
error message or `status`; text from the server is cleaned of control characters
and cut short before it reaches either.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from sundown.core.push import Publication, http_actions
from sundown.core.routine import Push
from sundown.paths import write_atomic

if TYPE_CHECKING:
    import http.client

log = logging.getLogger("sundown.push")

TIMEOUT_S = 10.0  # one whole publish; the slow server of the fault tests answers in 5 s
STREAM_IDLE_S = 75.0  # ntfy sends a keepalive every 45 s: no complete line for longer = a dead link
STREAM_HEALTHY_S = 30.0  # a stream that lasted this long ended for a reason: reconnect at once
JUNK_LINES = 100  # lines on a fresh stream none of which is ntfy's: not an ntfy stream, drop it
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 60.0
ANSWER_WAIT_S = 10.0
MAX_LINE = 65536
SERVER_TEXT_MAX = 200  # characters of a server's error text shown
NTFY_EVENTS = frozenset({"open", "keepalive", "message", "poll_request", "message_clear", "message_delete"})

OnAnswer = Callable[[dict[str, Any]], bool]
"""on_message(ntfy message event) -> True once handled (then its id is saved)."""


def http_client(https: bool) -> ModuleType:
    """`http.client`, loaded without OpenSSL for a plain-http server (about 4 MB of resident
    memory: `http.client` imports `ssl` only to offer HTTPS), with it for https."""
    if "http.client" not in sys.modules and not https and "ssl" not in sys.modules:
        sys.modules["ssl"] = None  # type: ignore[assignment]
        try:
            import http.client
        finally:
            del sys.modules["ssl"]
    import http.client

    if https and not hasattr(http.client, "HTTPSConnection"):  # loaded for http before: now with ssl
        import importlib

        importlib.reload(http.client)
    return http.client


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status


class NotAStream(Exception):
    """What came back is not ntfy's JSON stream (a captive portal's page, a proxy's)."""


def read_token(path: Path | None) -> str | None:
    """The token in `path` (one line, comments aside), or None, said in the journal without it."""
    from sundown.config import read_token_file
    from sundown.config.values import Invalid

    if path is None:
        return None
    try:
        return read_token_file(path)
    except Invalid as exc:
        log.warning("push: no token: %s", exc)
        return None


def read_secret(path: Path | None) -> bytes | None:
    """The shared secret answers are signed with, or None, said in the journal without it."""
    from sundown.config import read_secret_file
    from sundown.config.values import Invalid

    if path is None:
        return None
    try:
        return read_secret_file(path)
    except Invalid as exc:
        log.error("push: answers cannot be signed or believed: %s", exc)
        return None


def clean(text: str, limit: int = SERVER_TEXT_MAX) -> str:
    """Text from a server made safe for a terminal and the journal: no control characters (an
    escape sequence, a newline that would fake a journal line of its own), at most `limit` long."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text[: limit * 4]).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Deadlines:
    """One thread that cuts each connection past its deadline, for the whole of a request.

    A socket timeout bounds one read; a server that sends a byte every few seconds would
    keep a request alive for ever. Started at the first request; a daemon thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, Any]] = {}
        self._expired: set[int] = set()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, conn: Any, seconds: float) -> None:
        """Cut `conn` `seconds` from now (again: the deadline moves)."""
        with self._cond:
            self._due[id(conn)] = (time.monotonic() + seconds, conn)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="sundown-push-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def disarm(self, conn: Any) -> bool:
        """No more deadline for `conn`; True when it was cut for being late."""
        with self._cond:
            self._due.pop(id(conn), None)
            late = id(conn) in self._expired
            self._expired.discard(id(conn))
            return late

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for key, (due, conn) in list(self._due.items()):
                    if due <= now:
                        del self._due[key]
                        self._expired.add(key)
                        _cut(conn)
                nearest = min((due for due, _ in self._due.values()), default=None)
                self._cond.wait(None if nearest is None else max(nearest - now, 0.01))


def _cut(conn: Any) -> None:
    import socket

    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def header_text(text: str) -> str:
    """HTTP headers are Latin-1: other text goes as RFC 2047 (ntfy decodes it)."""
    flat = " ".join(text.split())
    if flat.isascii():
        return flat
    return "=?UTF-8?B?" + base64.b64encode(flat.encode("utf-8")).decode("ascii") + "?="


def backoff(failures: int, cap: float = BACKOFF_CAP_S) -> float:
    return min(cap, BACKOFF_FIRST_S * (2 ** max(failures - 1, 0)))


@dataclass
class Job:
    kind: str  # publish | clear | delete | answer
    sid: str | None = None
    pub: Publication | None = None
    body: str = ""
    attempts: int = 0
    on_sent: Callable[[], None] | None = None  # called (publisher thread) once the server took it


@dataclass
class PushStatus:
    connected: bool = False
    publish_error: str | None = None  # the last publish failed: why
    stream_error: str | None = None  # the reply stream is down: why
    published: int = 0
    retries: int = 0
    dropped: int = 0
    answers_in: int = 0
    stream_errors: int = 0
    queued: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class Connection:
    """HTTP(S) to one ntfy server."""

    def __init__(self, server: str, token: str | None) -> None:
        url = urlsplit(server)
        self.https = url.scheme == "https"
        self.host = url.hostname or ""
        self.port = url.port
        self.prefix = url.path.rstrip("/")
        self.token = token
        self.http = http_client(self.https)
        # ValueError: http.client's word for a header it will not send, among others.
        self.errors: tuple[type[Exception], ...] = (OSError, ValueError, self.http.HTTPException)
        self.deadlines = Deadlines()

    def scrub(self, text: str) -> str:
        """`text` without the token, whatever put it there (an exception quoting a header, its
        repr), and without control characters."""
        import re

        if self.token:
            for form in (self.token, repr(self.token)[1:-1], repr(self.token.encode())[2:-1]):
                text = text.replace(form, "[token]")
        text = re.sub(r"(?i)(bearer\s+)[^\s'\"]+(?:\s[^\s'\"]*)*?(?=['\"]|$)", r"\1[token]", text)
        return clean(text, 300)

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            import ssl

            conn: http.client.HTTPConnection = self.http.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
            return conn
        return self.http.HTTPConnection(self.host, self.port, timeout=timeout)  # type: ignore[no-any-return]

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"User-Agent": "sundown"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(extra or {})
        return h

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> tuple[int, bytes]:
        conn = self.connect(timeout)
        self.deadlines.arm(conn, timeout)
        try:
            conn.request(method, self.prefix + path, body=body or None, headers=self.headers(headers))
            resp = conn.getresponse()
            data = resp.read(MAX_LINE)
            return resp.status, data
        except self.errors:
            if self.deadlines.disarm(conn):  # cut for being late: say so, not "connection reset"
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            raise
        finally:
            self.deadlines.disarm(conn)
            conn.close()


def _describe(status: int, data: bytes) -> str:
    try:
        text = json.loads(data).get("error") or ""
    except (ValueError, AttributeError, RecursionError):
        text = ""
    text = clean(text) if isinstance(text, str) else ""
    hints = {
        401: "the server wants a token: check token_file",
        403: "the token may not use this topic: check the server's access rules",
        429: "the server rate-limits us",
    }
    return (
        f"HTTP {status}" + (f" ({text})" if text else "") + (f"; {hints[status]}" if status in hints else "")
    )


class NtfyPush:
    """Publishes reminders and answers; streams answers to `on_message`."""

    def __init__(
        self,
        push: Push,
        since_path: Path,
        on_message: OnAnswer,
        token: str | None = None,
        backoff_cap: float = BACKOFF_CAP_S,
        on_webhook: OnAnswer | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.push = push
        self.timeout = timeout  # for the whole of one request
        self.conn = Connection(push.server, token)
        self.token = token
        self.on_message = on_message
        self.on_webhook = on_webhook  # messages on `webhook_topic`, when there is one
        self.backoff_cap = backoff_cap
        self._failures = 0  # connections of the reply stream in a row that ended badly
        self._junk = 0  # lines on the current connection that are not ntfy's
        self._believed = False  # the current connection delivered something of ntfy's
        self.since_path = since_path
        self.status = PushStatus()
        self._jobs: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._stream: http.client.HTTPConnection | None = None
        self._stream_lock = threading.Lock()
        self._kicked = threading.Event()
        self._since = self._load_since()
        self.stream_errors: tuple[type[Exception], ...] = (*self.conn.errors, ValueError)
        self._publisher = threading.Thread(target=self._publish_loop, name="sundown-push-out", daemon=True)
        self._subscriber = threading.Thread(target=self._subscribe_loop, name="sundown-push-in", daemon=True)

    @property
    def reply_url(self) -> str:
        scheme = "https" if self.conn.https else "http"
        host = self.conn.host if ":" not in self.conn.host else f"[{self.conn.host}]"
        port = f":{self.conn.port}" if self.conn.port else ""
        return f"{scheme}://{host}{port}{self.conn.prefix}/{self.push.reply_topic}"

    def start(self) -> None:
        self._publisher.start()
        self._subscriber.start()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._kicked.set()
        self._drop_stream()
        self.conn.deadlines.close()
        # Daemon threads: a request in flight to a slow server must not hold up a SIGTERM exit.
        for thread in (self._publisher, self._subscriber):
            if thread.ident is not None:
                thread.join(timeout=0.2)

    def _ensure_publisher(self) -> None:
        """A publisher thread that died (whatever killed it) is replaced: pushes never wait for ever."""
        if self._stopping or self._publisher.is_alive() or not self._publisher.ident:
            return
        log.error("push: the publishing thread had stopped; started again")
        self._publisher = threading.Thread(target=self._publish_loop, name="sundown-push-out", daemon=True)
        self._publisher.start()

    # -- the outbox -------------------------------------------------------------------------

    def publish(self, pub: Publication) -> None:
        self._enqueue(Job("publish", pub.sid, pub))

    def clear(self, sid: str) -> None:
        """The phone's copy is marked read and dismissed (ntfy 2.16+)."""
        self._enqueue(Job("clear", sid))

    def delete(self, sid: str) -> None:
        """A scheduled message not yet delivered is cancelled (ntfy 2.16+)."""
        self._enqueue(Job("delete", sid))

    def answer(self, body: str, on_sent: Callable[[], None] | None = None) -> None:
        self._enqueue(Job("answer", None, body=body, on_sent=on_sent))

    def _enqueue(self, job: Job) -> None:
        with self._cond:
            if job.sid is not None:
                # A newer word on the same notification makes an unsent older one moot.
                kept = [j for j in self._jobs if j.sid != job.sid]
                self._jobs = collections.deque(kept)
            self._jobs.append(job)
            self.status.queued = len(self._jobs)
            self._cond.notify_all()
        self._ensure_publisher()

    def publish_now(self, pub: Publication, timeout: float = 3.0) -> bool:
        """Synchronously (before suspend): True once the server accepted it."""
        try:
            status, data = self._send(Job("publish", pub.sid, pub), timeout)
        except Exception as exc:  # any failure is a finding: the reminder goes out normally instead
            self._error(f"cannot reach {self.push.server}: {exc}")
            return False
        if status // 100 == 2:
            self.status.published += 1
            return True
        self._error(_describe(status, data))
        return False

    def _send(self, job: Job, timeout: float | None = None) -> tuple[int, bytes]:
        timeout = timeout or self.timeout
        topic = "/" + quote(self.push.topic)
        if job.kind == "answer":
            return self.conn.request(
                "POST",
                "/" + quote(self.push.reply_topic),
                job.body.encode(),
                {"X-Title": "sundown answer", "X-Priority": "1", "X-Tags": "sundown"},
                timeout,
            )
        if job.kind == "clear":
            return self.conn.request("PUT", f"{topic}/{job.sid}/clear", timeout=timeout)
        if job.kind == "delete":
            return self.conn.request("DELETE", f"{topic}/{job.sid}", timeout=timeout)
        pub = job.pub
        assert pub is not None
        headers = {
            "X-Sequence-ID": pub.sid,
            "X-Title": header_text(pub.title),
            "X-Priority": str(pub.priority),
            "X-Tags": ",".join(pub.tags),
            "X-Actions": json.dumps(http_actions(self.reply_url, pub, self.token), ensure_ascii=True),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if pub.at is not None:
            headers["X-At"] = str(int(pub.at.timestamp()))
        return self.conn.request("POST", topic, (pub.body or pub.title).encode("utf-8"), headers, timeout)

    def _publish_loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._jobs[0]
            try:
                status, data = self._send(job)
                problem = None if status // 100 == 2 else _describe(status, data)
                retry = status == 429 or status >= 500
            except self.conn.errors as exc:
                status, problem, retry = 0, f"cannot reach {self.push.server}: {exc}", True
            except Exception as exc:  # a bug, not the server: this job goes, the thread stays
                status, problem, retry = 0, f"cannot send a {job.kind}: {type(exc).__name__}: {exc}", False
            with self._cond:
                if self._jobs and self._jobs[0] is job:
                    if problem is None or not retry:
                        self._jobs.popleft()
                self.status.queued = len(self._jobs)
            if problem is None:
                self.status.published += 1
                if job.on_sent is not None:
                    job.on_sent()
                if self.status.publish_error:
                    log.info("push server takes messages again")
                self.status.publish_error = None
                continue
            self._error(problem)
            if not retry:
                self.status.dropped += 1
                log.warning("push %s refused (%s); not retried", job.kind, problem)
                continue
            job.attempts += 1
            self.status.retries += 1
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, timeout=backoff(job.attempts, self.backoff_cap))

    def _error(self, problem: str) -> None:
        problem = self.conn.scrub(problem)
        if problem != self.status.publish_error:
            log.warning("push: %s", problem)
        self.status.publish_error = problem

    def _stream_failed(self, problem: str) -> None:
        problem = self.conn.scrub(problem)
        if problem != self.status.stream_error:
            log.warning("push: %s", problem)
        self.status.stream_error = problem

    # -- the reply stream -------------------------------------------------------------------

    def _load_since(self) -> str:
        try:
            data = json.loads(self.since_path.read_text())
            if data.get("topic") == self._stream_name() and isinstance(data.get("since"), str):
                return data["since"]
        except (OSError, ValueError, AttributeError):
            pass
        return str(int(time.time()) - 60)  # first run: nothing older concerns us

    def _stream_name(self) -> str:
        return f"{self.push.server}/{self.push.reply_topic}"

    def _save_since(self, ident: str) -> None:
        self._since = ident
        try:
            write_atomic(self.since_path, json.dumps({"topic": self._stream_name(), "since": ident}))
        except OSError as exc:
            log.warning("cannot save the push stream position: %s", exc)

    def kick(self) -> None:
        """Reconnect now (after a resume: the old connection may be silently dead)."""
        self._kicked.set()
        self._drop_stream()

    def _drop_stream(self) -> None:
        with self._stream_lock:
            stream = self._stream
        if stream is not None and stream.sock is not None:
            import socket

            try:
                stream.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _subscribe_loop(self) -> None:
        while not self._stopping:
            self._kicked.clear()
            started = time.monotonic()
            try:
                problem = self._stream_once()
            except HttpError as exc:
                problem = f"reply stream: {exc}"
            except NotAStream as exc:
                problem = f"reply stream from {self.push.server}: {exc}"
            except self.stream_errors as exc:
                problem = f"reply stream from {self.push.server} lost: {exc}"
            self.status.connected = False
            if self._stopping:
                return
            if self._kicked.is_set():  # a resume: reconnect now, nothing went wrong
                self._failures = 0
                continue
            # By how the connection went, never by what it carried: one that delivered a line
            # and closed at once is as bad as one that never opened.
            healthy = self._believed and time.monotonic() - started >= STREAM_HEALTHY_S
            self._failures = 1 if healthy else self._failures + 1
            self._stream_failed(problem)
            self._kicked.wait(backoff(self._failures, self.backoff_cap))

    def _topics(self) -> str:
        topics = [self.push.reply_topic]
        if self.push.webhook_topic and self.on_webhook is not None:
            topics.append(self.push.webhook_topic)
        return ",".join(quote(t) for t in topics)

    def _stream_once(self) -> str:
        """One connection until it ends; what ended it (an error ends it by raising)."""
        conn = self.conn.connect(STREAM_IDLE_S)
        with self._stream_lock:
            self._stream = conn
        self._junk, self._believed = 0, False
        deadlines = self.conn.deadlines
        deadlines.arm(conn, STREAM_IDLE_S)
        try:
            path = f"{self.conn.prefix}/{self._topics()}/json?since={quote(self._since)}"
            conn.request("GET", path, headers=self.conn.headers())
            resp = conn.getresponse()
            if resp.status != 200:
                raise HttpError(resp.status, _describe(resp.status, resp.read(MAX_LINE)))
            kind = resp.getheader("Content-Type") or ""
            if "json" not in kind:
                raise NotAStream(
                    f"it answered {clean(kind, 60) or 'something'}, not ntfy's JSON stream"
                    " (a captive portal or a proxy in the way?)"
                )
            while not self._stopping:
                line = resp.readline(MAX_LINE)
                if not line.endswith(b"\n"):
                    # End of stream, or a line cut short: never parse half a line.
                    return "the server closed the reply stream"
                deadlines.arm(conn, STREAM_IDLE_S)  # a complete line: the link is alive
                self._line(line)
            return "stopping"
        except self.stream_errors:
            if deadlines.disarm(conn):
                raise TimeoutError(f"no complete line for {STREAM_IDLE_S:g} s") from None
            raise
        finally:
            deadlines.disarm(conn)
            with self._stream_lock:
                self._stream = None
            conn.close()

    def _line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            event = None
        if not isinstance(event, dict) or event.get("event") not in NTFY_EVENTS:
            self.status.stream_errors += 1
            self._junk += 1
            if not self._believed:
                self._stream_failed(
                    f"the reply stream from {self.push.server} carries lines that are not ntfy's"
                    " (a captive portal or a proxy in the way?)"
                )
                if self._junk >= JUNK_LINES:
                    raise NotAStream(f"{JUNK_LINES} lines and none of them ntfy's")
            return
        self.status.connected = True
        self._believed = True
        # A server that opens and closes at once sets the error again as it closes: between
        # two of its connections (the backoff) `status` shows it.
        self._clear_stream_error()
        if event["event"] != "message":
            return  # open, keepalive, poll_request, message_clear, ...
        ident = event.get("id")
        if not isinstance(ident, str) or not ident:
            self.status.stream_errors += 1
            return
        self.status.answers_in += 1
        webhook = self.push.webhook_topic is not None and event.get("topic") == self.push.webhook_topic
        handler = self.on_webhook if webhook and self.on_webhook is not None else self.on_message
        if not handler(event):
            # Not handled (the daemon was busy): reconnect from the last saved id to see it again.
            raise OSError("the daemon did not take an answer in time; replaying")
        self._save_since(ident)

    def _clear_stream_error(self) -> None:
        if self.status.stream_error:
            log.info("push: reply stream connected again")
            self.status.stream_error = None

    def snapshot(self) -> dict[str, Any]:
        self._ensure_publisher()
        s = self.status
        return {
            "server": self.push.server,
            "device": self.push.device,
            "when": self.push.when,
            "connected": s.connected,
            "error": "; ".join(e for e in (s.publish_error, s.stream_error) if e) or None,
            "queued": s.queued,
            "published": s.published,
            "retries": s.retries,
            "dropped": s.dropped,
            "stream_errors": s.stream_errors,
        }
