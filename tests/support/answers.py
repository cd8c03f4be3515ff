"""Signed answers for push tests: the secret every test machine shares, and answers made with it
(as the phone echoes a body a machine signed, or another machine publishes its own)."""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sundown.core.push import Signer, encode_answer

SECRET = bytes(range(32))
PHONE_SIGNER = Signer(SECRET, "phone", "test-machine-id")
_secret_dir: Path | None = None


def secret_file() -> Path:
    """A file holding SECRET (mode 600), one per test process; what `secret_file` names in configs."""
    global _secret_dir
    if _secret_dir is None:
        _secret_dir = Path(tempfile.mkdtemp(prefix="sundown-secret-"))
        atexit.register(shutil.rmtree, _secret_dir, True)
        path = _secret_dir / "push-secret"
        path.write_text(base64.urlsafe_b64encode(SECRET).decode().rstrip("=") + "\n")
        path.chmod(0o600)
    return _secret_dir / "push-secret"


def secret_line() -> str:
    """The [push] line naming the test secret."""
    return f'secret_file = "{secret_file()}"\n'


def far(night: date) -> datetime:
    """An expiry past every test's clock: the end of the night after next."""
    return datetime.combine(night + timedelta(days=2), time(12), timezone.utc)


def signed(
    night: date,
    reminders: tuple[str, ...],
    action: str,
    origin: str = "phone",
    *,
    nonce: str,
    until: datetime | None = None,
    expires: datetime | None = None,
    secret: bytes = SECRET,
    device_id: str = "test-machine-id",
) -> str:
    """An answer body as a machine sharing the secret signs it."""
    signer = Signer(secret, origin, device_id)
    return encode_answer(night, reminders, action, origin, nonce, until, signer, expires or far(night))
