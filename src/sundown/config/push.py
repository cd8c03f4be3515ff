"""What [push] names beyond its values: the token and the secret (one value in a file of
one's own, like an ssh key), and whether its topic is one a stranger could guess."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sundown.config.values import Invalid, show
from sundown.core.routine import Push


def default_secret_file() -> Path:
    """~/.config/sundown/push-secret: beside the config, which `sundown push init` tells to copy too."""
    from sundown.paths import config_dir

    return config_dir() / "push-secret"


# The token and the secret: one value in a file of one's own, like an ssh key. Messages about
# them quote the path, never what the file holds (it may hold the token after all).
PRIVATE_MAX_BYTES = 4096
TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/=-]{8,512}")  # RFC 6750's token characters
SECRET_MIN_BYTES = 16
SYSTEM_DIRS = ("/proc/", "/sys/", "/dev/")


def private_value(path: Path, what: str) -> str:
    """The one line of `path` that is not blank or a `#` comment; `what` names it in messages.

    Raises `Invalid` when the file is not this user's alone, not a plain small text file, or holds
    no line or several."""
    import stat

    name = show(str(path))
    real = os.path.realpath(path)
    if real.startswith(SYSTEM_DIRS):
        raise Invalid(f"{name} is a system file, not a file holding {what}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Invalid(f"{name} does not exist; write {what} into it (mode 600)") from None
    except OSError as exc:
        raise Invalid(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Invalid(f"{name} is not a file")
        if st.st_uid != os.getuid():
            raise Invalid(f"{name} belongs to another user (uid {st.st_uid}); run `chown $USER {path}`")
        if st.st_mode & 0o077:
            raise Invalid(
                f"{name} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); run `chmod 600 {path}`"
            )
        data = os.read(fd, PRIVATE_MAX_BYTES + 1)
    except OSError as exc:
        raise Invalid(f"cannot read {name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > PRIVATE_MAX_BYTES:
        raise Invalid(f"{name} is too large to hold just {what} (over {PRIVATE_MAX_BYTES} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{name} is not a text file; write {what} into it, alone on one line") from None
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        raise Invalid(f"{name} is empty; write {what} into it")
    if len(lines) > 1:
        raise Invalid(
            f"{name} holds {len(lines)} lines besides comments; write {what} alone on one line"
            " (a line starting with # is a comment)"
        )
    return lines[0]


def read_token_file(path: Path) -> str:
    """The ntfy access token in `path`; raises `Invalid` (never quoting the file)."""
    token = private_value(path, "the access token")
    if not TOKEN_RE.fullmatch(token):
        raise Invalid(
            f"{show(str(path))} does not hold an access token (letters, digits and . _ ~ + / = -,"
            " like tk_...); write the token alone on one line"
        )
    return token


def read_secret_file(path: Path) -> bytes:
    """The shared push secret in `path` (base64url, as `sundown push init` writes it)."""
    import binascii  # built in; base64 would be one more module for every command

    text = private_value(path, "the push secret")
    secret = b""
    if re.fullmatch(r"[A-Za-z0-9_-]+=*", text):
        standard = text.rstrip("=").translate(str.maketrans("-_", "+/"))
        try:
            secret = binascii.a2b_base64(standard + "=" * (-len(standard) % 4))
        except (ValueError, binascii.Error):
            pass
    if len(secret) < SECRET_MIN_BYTES:
        raise Invalid(
            f"{show(str(path))} does not hold a push secret; `sundown push init --force` writes a new one"
            " (then copy it to every machine)"
        )
    return secret


def token_file_problem(path: Path) -> str | None:
    """Like ssh with its keys: a token others can read is refused. Never quotes the token."""
    try:
        read_token_file(path)
    except Invalid as exc:
        return str(exc)
    return None


def secret_file_problem(path: Path) -> str | None:
    try:
        read_secret_file(path)
    except Invalid as exc:
        message = str(exc)
        if "does not exist" in message:
            return (
                f"{show(str(path))} does not exist: answers are signed with a secret shared by your"
                " machines; run `sundown push init` (or copy the file from a machine that has it)"
            )
        return message
    return None


# Public ntfy servers: anyone may read and publish to any topic there that they can name.
PUBLIC_SERVERS = ("ntfy.sh",)
PRIVATE_SUFFIXES = (".local", ".lan", ".home", ".internal", ".home.arpa")
TOPIC_MIN = 12
WORDY_PART = re.compile(r"[A-Za-z]+\d{0,4}|\d{1,4}")


def topic_warning(push: Push) -> str | None:
    """A topic someone could guess, on a server anyone can use (`check` and `doctor` say so).

    Public: ntfy.sh, or a server that lets sundown in without a token and is not on this
    machine or the home network. Guessable: short, or made only of words and short numbers
    ("evening", "my-reminders-2024"); `push init` makes one that is neither."""
    import ipaddress
    from urllib.parse import urlsplit

    from sundown.config.values import loopback

    host = (urlsplit(push.server).hostname or "").lower().rstrip(".")
    public = host in PUBLIC_SERVERS or host.endswith(tuple(f".{h}" for h in PUBLIC_SERVERS))
    if not public and push.token_file is None and not loopback(host):
        try:
            public = ipaddress.ip_address(host).is_global
        except ValueError:
            public = "." in host and not host.endswith(PRIVATE_SUFFIXES)
    if not public:
        return None
    parts = [p for p in re.split(r"[-_]", push.topic) if p]
    if len(push.topic) >= TOPIC_MIN and not all(WORDY_PART.fullmatch(p) for p in parts):
        return None
    why = "short" if len(push.topic) < TOPIC_MIN else "made of words"
    return (
        f"the topic {show(push.topic)} on {host} is {why}, easy to guess: whoever guesses it reads"
        " your reminders and can press their buttons; `sundown push init` suggests one nobody guesses"
    )
