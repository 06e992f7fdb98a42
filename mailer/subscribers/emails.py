"""E-mail addresses: normalised, validated by syntax (no DNS), hashed for suppressions."""

from __future__ import annotations

import hashlib
import re

__all__ = ["email_hash", "normalise_email"]

# A practical subset of RFC 5321/5322: dot-atom local part, LDH domain labels, a TLD of letters
# (or an IDN in punycode). Quoted local parts and IP literals are refused: no newsletter
# subscriber has one, and accepting them invites header trouble.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{2,59}})")
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_HASH_PREFIX = b"federation-mailer suppression v1\0"


def normalise_email(raw: str) -> str | None:
    """The canonical form of `raw` (trimmed, lower-case, IDN domain in punycode), or None."""
    text = _MAILTO.sub("", raw.strip()).strip("<> \t")
    if not text or len(text) > 254 or text.count("@") != 1:
        return None
    local, domain = text.rsplit("@", 1)
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    address = f"{local}@{domain}".lower()
    if len(local) > 64 or not _EMAIL.fullmatch(address):
        return None
    return address


def email_hash(address: str) -> str:
    """A stable hash of a normalised address, kept after the address itself is erased."""
    return hashlib.sha256(_HASH_PREFIX + address.encode("utf-8")).hexdigest()
