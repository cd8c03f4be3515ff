"""An https calendar: fetched at most hourly with conditional requests, kept in the state directory.

A calendar server sees one GET an hour at most, with `If-None-Match` / `If-Modified-Since`
from the last answer, so an unchanged calendar costs a 304. The last good copy and what
the server said about it (`ETag`, `Last-Modified`, when) live beside the log, so a restart
neither fetches again within the hour nor loses the calendar while the server is down.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from sundown import __version__
from sundown.calendar.ics import MAX_BYTES, TOO_BIG

UTC = timezone.utc
TIMEOUT_S = 20.0  # each connect and read
DEADLINE_S = 60.0  # a whole fetch: a server trickling bytes is given up on
MAX_REDIRECTS = 5
CHUNK = 65536


class FetchError(Exception):
    """Why the calendar could not be fetched, in words for `status` and `doctor`."""


@dataclass(frozen=True)
class Reply:
    body: bytes | None  # None: 304, not modified
    etag: str | None
    last_modified: str | None


def allowed(url: str) -> bool:
    """https anywhere, plain http only to this machine (config/values.py says why)."""
    from sundown.config.values import is_loopback

    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and bool(parts.hostname) and is_loopback(parts.hostname or "")


def get(url: str, etag: str | None = None, last_modified: str | None = None) -> Reply:
    """One conditional GET (following a few redirects); raises FetchError."""
    import http.client

    deadline = time.monotonic() + DEADLINE_S
    for _ in range(MAX_REDIRECTS + 1):
        if not allowed(url):
            raise FetchError(f"refused to follow it to {url} (not https)")
        parts = urlsplit(url)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname or "", parts.port, timeout=TIMEOUT_S)
        headers = {"User-Agent": f"sundown/{__version__} (calendar)", "Accept": "text/calendar, */*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location") or "")
                continue
            if resp.status == 304:
                return Reply(
                    None, resp.getheader("ETag") or etag, resp.getheader("Last-Modified") or last_modified
                )
            if resp.status != 200:
                raise FetchError(f"the server answered {resp.status} {resp.reason}".rstrip())
            body = _read(resp, deadline)
            return Reply(body, resp.getheader("ETag"), resp.getheader("Last-Modified"))
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(_describe(exc)) from None
        finally:
            conn.close()
    raise FetchError(f"it redirects more than {MAX_REDIRECTS} times")


def _read(resp: object, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"it took over {DEADLINE_S:.0f} s to download; tried again later")
        chunk = resp.read(CHUNK)  # type: ignore[attr-defined]
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BYTES:
            raise FetchError(TOO_BIG)
        chunks.append(chunk)


def _describe(exc: BaseException) -> str:
    import socket
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, socket.gaierror):
        return "the server's name does not resolve (offline?)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"the server did not answer within {TIMEOUT_S:.0f} s"
    if isinstance(exc, ConnectionRefusedError):
        return "the server refused the connection"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"cannot reach the server: {text}"


@dataclass(frozen=True)
class Cached:
    """The last good copy of a URL calendar and what the server said about it."""

    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    fetched: datetime | None = None  # the last answer, 200 or 304: the hour counts from it


class Cache:
    """`calendar.ics` and `calendar.json` in the state directory (paths.py names them)."""

    def __init__(self, body: Path, meta: Path, url: str) -> None:
        self.body_path, self.meta_path, self.url = body, meta, url

    def load(self) -> Cached:
        """The copy of this URL; another URL's copy (the config changed) is not used."""
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("url") != self.url:
                return Cached(None)
            body = self.body_path.read_bytes()
            fetched = datetime.fromisoformat(meta["fetched"]) if meta.get("fetched") else None
            return Cached(body, meta.get("etag"), meta.get("last_modified"), fetched)
        except (OSError, ValueError, TypeError, KeyError):
            return Cached(None)

    def save(self, cached: Cached) -> None:
        """Body first, then the meta that vouches for it: a crash between leaves the old meta,
        whose validators no longer match the new body, so the next fetch is a full one."""
        if cached.body is not None:
            _write(self.body_path, cached.body)
        meta = {
            "url": self.url,
            "etag": cached.etag if cached.body is not None else None,
            "last_modified": cached.last_modified if cached.body is not None else None,
            "fetched": cached.fetched.isoformat() if cached.fetched else None,
        }
        _write(self.meta_path, json.dumps(meta).encode())


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refresh(cache: Cache, now: datetime) -> tuple[Cached, str | None]:
    """Fetch the URL (conditionally) and keep what it gave; on failure the last good copy.

    Returns the copy to use and the problem, if the fetch failed.
    """
    old = cache.load()
    try:
        reply = get(
            cache.url, old.etag if old.body is not None else None, old.last_modified if old.body else None
        )
    except FetchError as exc:
        return old, str(exc)
    if reply.body is None:
        new = Cached(old.body, reply.etag, reply.last_modified, now)
    else:
        new = Cached(reply.body, reply.etag, reply.last_modified, now)
    try:
        cache.save(new)
    except OSError as exc:
        return new, f"cannot keep a copy in {cache.body_path.parent}: {exc.strerror or exc}"
    return new, None
