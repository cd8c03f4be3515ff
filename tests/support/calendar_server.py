"""A local calendar server for the https calendar tests: one .ics at `/cal.ics`, on 127.0.0.1.

It answers like a calendar host does: `ETag` and `Last-Modified` on every 200, `304 Not
Modified` to a matching `If-None-Match` (or `If-Modified-Since`), and keeps every request
so a test can see what was asked. Faults: `fail_with` (a status for the next GETs, e.g. 500),
`delay_s` (a slow server: it waits before answering), `hang` (never answers until released).
With `tls=True` it serves https with tests/calendars/localhost.pem (self-signed, for 127.0.0.1
and localhost, valid until 2126): a client trusts it through SSL_CERT_FILE.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CERTS = Path(__file__).resolve().parent.parent / "calendars"
CERT, KEY = CERTS / "localhost.pem", CERTS / "localhost.key"


class CalendarServer:
    def __init__(self, body: bytes = b"", tls: bool = False) -> None:
        self.body = body
        self.modified = time.time()
        self.fail_with: int | None = None
        self.delay_s = 0.0
        self.release = threading.Event()
        self.release.set()  # cleared: every request hangs until it is set again
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
                server.release.wait()
                if server.delay_s:
                    time.sleep(server.delay_s)
                if server.fail_with is not None:
                    self.send_response(server.fail_with)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.split("?")[0] != "/cal.ics":
                    self.send_error(404)
                    return
                etag = server.etag
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(server.modified, usegmt=True))
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(CERT, KEY)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        # shutdown() waits for serve_forever's next poll: 0.5 s a test by default.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.httpd.server_address[1]}/cal.ics"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def publish(self, body: bytes) -> None:
        self.body, self.modified = body, time.time()

    def gets(self) -> int:
        return len(self.requests)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
