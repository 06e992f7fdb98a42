"""E-mail addresses as bounces write them: in DSN fields, angle brackets, prose, `mailto:` links."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ADDRESS", "clean_address", "find_addresses", "is_system_address"]

# Bounded on both sides so that a megabyte without an "@" costs one linear scan.
ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,10}[A-Za-z]{2,63}\b"
)
# Senders and boilerplate that appear in bounces but are never the failed recipient.
_SYSTEM = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|mailerdaemon|noreply|no-reply"
    r"|abuse|hostmaster|root|daemon|mdaemon|mail\.delivery\.system)@",
    re.IGNORECASE,
)


def clean_address(value: str) -> str:
    """The address in a DSN or ARF field ("rfc822; <Ann@Example.org>" → "ann@example.org").

    Keeps what the field says even when it is not a valid address (anonymised corpora,
    mis-typed recipients): it still names the delivery. Returns "" when there is no "@".
    """
    text = value.strip()
    kind, sep, rest = text.partition(";")
    if sep and "@" not in kind:
        text = rest.strip()
    match = ADDRESS.search(text)
    if match:
        return match.group(0).strip(".").lower()
    text = text.strip("<>\"' \t").lower()
    return text if "@" in text and " " not in text and len(text) <= 320 else ""


def find_addresses(text: str) -> list[str]:
    """Every address in `text`, lower-cased, in order, without repeats."""
    return _unique(m.group(0).strip(".").lower() for m in ADDRESS.finditer(text))


def is_system_address(address: str) -> bool:
    return bool(_SYSTEM.match(address))


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
