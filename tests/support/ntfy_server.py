"""A local stand-in for an ntfy server (ntfy's server is not installable here).

It implements the parts of ntfy's documented HTTP API that sundown uses, on
127.0.0.1 only: publishing with headers (X-Title, X-Priority, X-Tags, X-Actions,
X-At, X-Sequence-ID, RFC 2047 encoded values), the `/json` stream (chunked, with
`open` and `keepalive` events, `since=<id>|<unix time>|all|latest`, `poll=1`),
scheduled messages delivered at their time and replaced or cancelled by sequence
id, `PUT /<topic>/<sid>/clear` and `DELETE /<topic>/<sid>` (message_clear /
message_delete events), `/v1/health`, and Bearer tokens (401 without one).

Several topics in one stream (`/a,b/json`), as ntfy allows: the messages of both, in
the order they came.

Faults for tests: `fail_next` (statuses to answer the next publishes with, e.g.
429, 500; `error_text` the text in their JSON), `delay_s` (a slow server),
`trickle_s` (the answer to a publish sent one byte every that many seconds),
`cut_next_line` (the stream closes in the middle of its next line), `garbage()`
(junk on every open stream), `stream_mode` ("open-then-close": a stream that sends
`open` and closes; "portal": a captive portal's HTML page with status 200),
`stop()` / `start()` (the server down and back, same port, same cache).

Run it alone: `python3 tests/support/ntfy_server.py [PORT]`.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOPIC_RE = re.compile(r"[-_A-Za-z0-9]{1,64}")
RFC2047_RE = re.compile(r"=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=", re.I)


def _id() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=12))


def _decode(value: str | None) -> str | None:
    if value is None:
        return None
    return RFC2047_RE.sub(lambda m: base64.b64decode(m.group(1)).decode("utf-8"), value)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stream:
    topics: frozenset[str]
    lines: list[bytes] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False


class NtfyServer:
    def __init__(self, port: int = 0, tokens: set[str] | None = None, keepalive_s: float = 30.0) -> None:
        self.tokens = tokens
        self.keepalive_s = keepalive_s
        self.lock = threading.RLock()
        self.cache: dict[str, list[dict[str, Any]]] = {}
        self.order: dict[str, int] = {}  # message id -> its place among all topics' messages
        self.scheduled: list[dict[str, Any]] = []
        self.streams: list[Stream] = []
        self.requests: list[Request] = []
        self.fail_next: list[int] = []
        self.error_text: str | None = None
        self.delay_s = 0.0
        self.trickle_s = 0.0
        self.cut_next_line = False
        self.stream_mode: str | None = None  # None | "open-then-close" | "portal"
        self._seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._port = port
        self._stopped = threading.Event()
        self._down = threading.Event()  # set while stopped: a slow answer (`delay_s`) ends at once
        self._connections = 0  # requests being handled; `stop()` waits for them to end
        self._served = threading.Condition()
        self.start()
        self._ticker = threading.Thread(target=self._deliver_scheduled, daemon=True)
        self._ticker.start()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            ntfy = server

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def process_request_thread(self, request: Any, client_address: Any) -> None:
                with server._served:
                    server._connections += 1
                try:
                    super().process_request_thread(request, client_address)  # closes its socket
                finally:
                    with server._served:
                        server._connections -= 1
                        server._served.notify_all()

        self._down.clear()
        self._httpd = Server(("127.0.0.1", self._port), Handler)
        self._port = self._httpd.server_address[1]
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """The server goes down: no new connections, open streams and connections closed (none
        is left open in the test's process, where a later test counts its sockets)."""
        self._down.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.close_streams()
        with self._served:
            self._served.wait_for(lambda: self._connections == 0, timeout=5)

    def close(self) -> None:
        self._stopped.set()
        self.stop()

    def close_streams(self) -> None:
        with self.lock:
            streams, self.streams = self.streams, []
        for s in streams:
            with s.cond:
                s.closed = True
                s.cond.notify_all()

    # -- the model ------------------------------------------------------------------------------

    def messages(self, topic: str, event: str = "message") -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.cache.get(topic, []) if m["event"] == event]

    def publish(self, topic: str, message: str, **fields: Any) -> dict[str, Any]:
        """Publish as a client would (a phone tapping an action does just this)."""
        return self._add(topic, {"message": message, **fields})

    def _add(self, topic: str, fields: dict[str, Any], event: str = "message") -> dict[str, Any]:
        now = time.time()
        msg = {"id": _id(), "time": int(now), "expires": int(now) + 43200, "event": event, "topic": topic}
        msg.update({k: v for k, v in fields.items() if v not in (None, "", [])})
        with self.lock:
            self._seq += 1
            self.order[msg["id"]] = self._seq
            self.cache.setdefault(topic, []).append(msg)
            streams = [s for s in self.streams if topic in s.topics]
        line = json.dumps(msg).encode() + b"\n"
        for s in streams:
            with s.cond:
                s.lines.append(line)
                s.cond.notify_all()
        return msg

    def garbage(self, text: bytes = b"<html>502 Bad Gateway</html>\n{not json\n") -> None:
        with self.lock:
            streams = list(self.streams)
        for s in streams:
            with s.cond:
                s.lines.append(text)
                s.cond.notify_all()

    def _deliver_scheduled(self) -> None:
        while not self._stopped.wait(0.05):
            now = time.time()
            with self.lock:
                due = [m for m in self.scheduled if m["at"] <= now]
                self.scheduled = [m for m in self.scheduled if m["at"] > now]
            for m in due:
                self._add(m["topic"], m["fields"])

    def _since(self, topics: frozenset[str], since: str | None) -> list[dict[str, Any]]:
        with self.lock:
            cached = sorted(
                (m for t in topics for m in self.cache.get(t, [])), key=lambda m: self.order[m["id"]]
            )
        if since is None:
            return []
        if since == "all":
            return cached
        if since == "latest":
            return cached[-1:]
        if since.isdigit():
            return [m for m in cached if m["time"] >= int(since)]
        for i, m in enumerate(cached):
            if m["id"] == since:
                return cached[i + 1 :]
        return cached  # an id the cache no longer has: everything it has


class _Handler(BaseHTTPRequestHandler):
    ntfy: NtfyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _error(self, status: int, text: str) -> None:
        self._reply(status, {"code": status * 100 + 1, "http": status, "error": text})

    def _authorized(self) -> bool:
        if self.ntfy.tokens is None:
            return True
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.ntfy.tokens

    def _record(self) -> tuple[list[str], dict[str, list[str]], bytes]:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.ntfy.requests.append(Request(self.command, self.path, dict(self.headers.items()), body))
        return [p for p in url.path.split("/") if p], parse_qs(url.query), body

    def _header(self, *names: str) -> str | None:
        for n in names:
            v = self.headers.get(n)
            if v is not None:
                return _decode(v)
        return None

    def do_GET(self) -> None:
        parts, query, _ = self._record()
        if parts == ["v1", "health"]:
            self._reply(200, {"healthy": True})
            return
        topics = frozenset(parts[0].split(",")) if parts else frozenset()
        if len(parts) != 2 or parts[1] != "json" or not all(TOPIC_RE.fullmatch(t) for t in topics):
            self._error(404, "page not found")
            return
        if not self._authorized():
            self._error(401, "unauthorized")
            return
        if self.ntfy.stream_mode == "portal":
            page = b"<html><head><title>Hotel WiFi</title></head><body>\n<p>Log in</p>\n</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        topic = parts[0]
        since = (query.get("since") or [None])[0]
        backlog = self.ntfy._since(topics, since)
        stream = Stream(topics)
        if not query.get("poll"):
            with self.ntfy.lock:
                self.ntfy.streams.append(stream)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        opened = {"id": _id(), "time": int(time.time()), "event": "open", "topic": topic}
        lines = [json.dumps(opened).encode() + b"\n"] + [json.dumps(m).encode() + b"\n" for m in backlog]
        try:
            for line in lines:
                self._chunk(line)
            if query.get("poll") or self.ntfy.stream_mode == "open-then-close":
                self._chunk(b"")
                return
            while True:
                with stream.cond:
                    stream.cond.wait_for(lambda: stream.lines or stream.closed, timeout=self.ntfy.keepalive_s)
                    pending, stream.lines = stream.lines, []
                    closed = stream.closed
                if closed:
                    self.close_connection = True
                    return
                if not pending:
                    keepalive = {"id": _id(), "time": int(time.time()), "event": "keepalive", "topic": topic}
                    pending = [json.dumps(keepalive).encode() + b"\n"]
                for line in pending:
                    if self.ntfy.cut_next_line and line.startswith(b"{") and b'"message"' in line:
                        self.ntfy.cut_next_line = False
                        self._chunk(line[: len(line) // 2])
                        self.close_connection = True
                        return
                    self._chunk(line)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with self.ntfy.lock:
                if stream in self.ntfy.streams:
                    self.ntfy.streams.remove(stream)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _reply(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode() + b"\n"
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        if not self.ntfy.trickle_s:
            self.wfile.write(head + body)
            return
        try:
            for i in range(len(head + body)):  # one byte at a time: never a socket timeout
                if self.ntfy._stopped.is_set() or not self.ntfy.trickle_s:
                    return
                self.wfile.write((head + body)[i : i + 1])
                self.wfile.flush()
                time.sleep(self.ntfy.trickle_s)
        except OSError:  # the client gave up on us: what the test wants
            self.close_connection = True

    def do_POST(self) -> None:
        self._publish()

    def do_PUT(self) -> None:
        self._publish()

    def _publish(self) -> None:
        parts, query, body = self._record()
        if self.ntfy.delay_s:
            self.ntfy._down.wait(self.ntfy.delay_s)
        if not parts or not TOPIC_RE.fullmatch(parts[0]) or len(parts) > 3:
            self._error(404, "page not found")
            return
        if not self._authorized():
            self._error(401, "unauthorized")
            return
        if self.ntfy.fail_next:
            status = self.ntfy.fail_next.pop(0)
            text = self.ntfy.error_text or ("limit reached" if status == 429 else "internal server error")
            self._error(status, text)
            return
        topic = parts[0]
        if len(parts) == 3:
            if parts[2] not in ("clear", "read"):
                self._error(404, "page not found")
                return
            self._reply(200, self.ntfy._add(topic, {"sequence_id": parts[1]}, "message_clear"))
            return
        sid = parts[1] if len(parts) == 2 else self._header("X-Sequence-ID", "Sequence-ID", "SID")
        if sid is not None and not TOPIC_RE.fullmatch(sid):
            self._error(400, "invalid sequence ID")
            return
        actions_text = self._header("X-Actions", "Actions", "Action")
        try:
            actions = json.loads(actions_text) if actions_text else None
        except ValueError:
            self._error(400, "invalid actions")
            return
        priority = self._header("X-Priority", "Priority", "prio", "p")
        tags = self._header("X-Tags", "Tags", "Tag", "ta")
        fields = {
            "title": self._header("X-Title", "Title", "t"),
            "message": body.decode("utf-8") or "triggered",
            "priority": int(priority) if priority and priority.isdigit() else None,
            "tags": tags.split(",") if tags else None,
            "actions": actions,
            "sequence_id": sid,
        }
        at = self._header("X-At", "At", "X-Delay", "Delay", "X-In", "In")
        with self.ntfy.lock:
            if sid is not None:
                # A new message with the same sequence id replaces a scheduled one not yet delivered.
                self.ntfy.scheduled = [
                    m
                    for m in self.ntfy.scheduled
                    if not (m["topic"] == topic and m["fields"].get("sequence_id") == sid)
                ]
            if at:
                when = float(at) if at.isdigit() else None
                if when is None or when < time.time() - 1:
                    self._error(400, "invalid delay")
                    return
                msg = {"id": _id(), "time": int(when), "event": "message", "topic": topic, **fields}
                self.ntfy.scheduled.append({"topic": topic, "at": when, "fields": fields})
                self._reply(200, msg)
                return
        self._reply(200, self.ntfy._add(topic, fields))

    def do_DELETE(self) -> None:
        parts, _, _ = self._record()
        if len(parts) != 2 or not self._authorized():
            self._error(
                404 if len(parts) != 2 else 401, "page not found" if len(parts) != 2 else "unauthorized"
            )
            return
        topic, sid = parts
        with self.ntfy.lock:
            self.ntfy.scheduled = [
                m
                for m in self.ntfy.scheduled
                if not (m["topic"] == topic and m["fields"].get("sequence_id") == sid)
            ]
        self._reply(200, self.ntfy._add(topic, {"sequence_id": sid}, "message_delete"))


if __name__ == "__main__":
    srv = NtfyServer(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(srv.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        srv.close()
