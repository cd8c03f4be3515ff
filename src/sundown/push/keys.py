"""What makes an answer believable: the shared secret, an unguessable topic, this machine's id.

`sundown push init` writes the secret (copied by hand to every machine of the person) and
suggests a topic; each machine makes its own id, kept in the state directory, which its
signed answers carry: two machines with one device name (a cloned image keeps the hostname)
are still told apart. The id is bound to /etc/machine-id, so a clone whose machine id was
regenerated makes a new one instead of carrying the original's.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from sundown.paths import write_atomic

log = logging.getLogger("sundown.push")

SECRET_BYTES = 32
TOPIC_PREFIX = "sundown-"
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


# os.urandom, not `secrets`: that imports hmac, which maps OpenSSL's libcrypto (3.7 MB) into a
# daemon that pushes over plain http and otherwise never needs it. The same source of randomness.


def _random_text(n: int) -> str:
    """`n` random bytes as base64url without padding."""
    return base64.urlsafe_b64encode(os.urandom(n)).decode("ascii").rstrip("=")


def new_secret_text() -> str:
    """32 random bytes, base64url: what the secret file holds."""
    return _random_text(SECRET_BYTES)


def new_topic() -> str:
    """`sundown-` and 26 random letters and digits (130 bits): a topic nobody guesses."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"  # 32: a byte's low 5 bits pick one without bias
    return TOPIC_PREFIX + "".join(alphabet[b & 31] for b in os.urandom(26))


def new_nonce() -> str:
    return _random_text(12)


def write_private(path: Path, text: str, replace: bool = False) -> None:
    """Write `text` to `path` with mode 0600 (directories 0700); FileExistsError unless `replace`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if replace:
        write_atomic(path, text)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def secret_file_text() -> str:
    return (
        "# sundown push secret: answers from your machines and your phone are signed with it.\n"
        "# Copy this file to each of your machines (mode 600); never publish it.\n"
        f"{new_secret_text()}\n"
    )


def _machine() -> str:
    """A digest of this machine's id, "" where there is none (not Linux, a bare container)."""
    from sundown.core.push import sha256_hex

    for path in MACHINE_ID_FILES:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return sha256_hex(b"sundown-device:" + text.encode())[:16]
    return ""


def device_id(path: Path, create: bool = True) -> str:
    """This machine's id for push (12 random characters), made once and kept at `path` (the
    state dir's `push-device`).

    Made again when the file was made on another machine (a copied or cloned state dir with a
    new machine id). "" when there is none and `create` is false."""
    machine = _machine()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = data.get("id") if isinstance(data, dict) else None
        if (
            isinstance(found, str)
            and 8 <= len(found) <= 64
            and found.replace("-", "").replace("_", "").isalnum()
        ):
            if data.get("machine", "") == machine:
                return found
            log.info("push: the state directory came from another machine: a new device id for this one")
    except (OSError, ValueError):
        pass
    if not create:
        return ""
    made = _random_text(9)
    try:
        write_private(path, json.dumps({"id": made, "machine": machine}) + "\n", replace=True)
    except OSError as exc:
        log.warning("cannot save this machine's push id in %s: %s", path, exc.strerror or exc)
    return made
