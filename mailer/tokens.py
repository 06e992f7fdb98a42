"""Signed, purpose-bound tokens for personal links and bounce addresses.

A token is `<fields>.<mac>`: the fields are integers in base 36 joined by `-`, the MAC is the
first 80 bits of HMAC-SHA256 over the purpose and the fields, in lower-case base 32. Only
`[0-9a-z.-]` appear, so a token survives URLs and the local part of an address whose case a
mail server may change. A token signed for one purpose (unsubscribe) is refused for another
(preferences), and a changed digit breaks the MAC.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from mailer.config import SecurityConfig
from mailer.errors import ConfigError, TokenError

__all__ = ["Signer", "load_secret_key"]

_MAC_BYTES = 10
_MIN_KEY = 32
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("token fields are non-negative integers")
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[rest])
        if not number:
            return "".join(reversed(digits))


class Signer:
    """Signs and checks tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_KEY:
            raise ValueError(f"a signing key needs at least {_MIN_KEY} bytes")
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\0{body}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:_MAC_BYTES]).decode("ascii").lower()

    def sign(self, purpose: str, *fields: int, expires: dt.datetime | None = None) -> str:
        """A token for `fields`; with `expires`, it is refused after that moment."""
        parts = [_b36(f) for f in fields]
        parts.append(_b36(int(expires.timestamp())) if expires else "")
        body = "-".join(parts)
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str, *, now: dt.datetime | None = None) -> list[int]:
        """The fields of a genuine, unexpired token signed for `purpose`; else `TokenError`."""
        token = token.strip().lower()
        body, dot, mac = token.rpartition(".")
        if not dot or not body or len(token) > 200:
            raise TokenError("not a token")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise TokenError("this link is not valid (it was altered or is not ours)")
        *fields, expiry = body.split("-")
        try:
            values = [int(f, 36) for f in fields]
            deadline = int(expiry, 36) if expiry else None
        except ValueError:
            raise TokenError("not a token") from None
        if deadline is not None:
            moment = now or dt.datetime.now(dt.UTC)
            if moment.timestamp() > deadline:
                raise TokenError("this link has expired")
        return values


def load_secret_key(security: SecurityConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """`MAILER_SECRET_KEY`, else the key file, created (mode 0600) on first use.

    The same key must sign and check: several hosts share it through the variable or a copy
    of the file."""
    env = os.environ if environ is None else environ
    given = env.get("MAILER_SECRET_KEY", "")
    if given:
        if len(given) < _MIN_KEY:
            raise ConfigError(
                "MAILER_SECRET_KEY", f"too short: use at least {_MIN_KEY} random characters"
            )
        return given.encode("utf-8")
    path = Path(security.secret_key_file)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip()
    except FileExistsError:  # another process created it a moment ago
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "security.secret_key_file", f"cannot read or create {path}: {exc}"
        ) from None
    if len(key) < _MIN_KEY:
        raise ConfigError(
            "security.secret_key_file", f"{path} holds fewer than {_MIN_KEY} characters"
        )
    return key.encode("utf-8")
