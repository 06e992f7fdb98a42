"""flufl.bounce (GNU Mailman's detectors) for the non-standard formats, made safe to call.

`all_failures` runs its detectors in order and stops at the first hit, like we do; but it
re-raises whatever a detector raises (some do on malformed messages, `IndexError`), so any
exception here means "flufl found nothing".
"""

from __future__ import annotations

import logging
from email.message import Message

__all__ = ["flufl_failures"]

# flufl.bounce logs a detector's exception with a traceback before re-raising it; with no
# handler configured, Python would print that on stderr (under `mailer bounces parse` too).
# A NullHandler keeps it out of the terminal while an application's own logging still sees it.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())


def flufl_failures(msg: Message) -> tuple[list[str], list[str]]:
    """(temporary, permanent) failed addresses, lower-cased; a permanent one is never also
    listed as temporary."""
    try:
        from flufl.bounce import all_failures

        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choked on a malformed message
        return [], []
    perm = _decoded(permanent)
    temp = [a for a in _decoded(temporary) if a not in perm]
    return temp, perm


def _decoded(addresses: frozenset[bytes]) -> list[str]:
    found = []
    for raw in sorted(addresses):
        text = raw.decode("utf-8", "replace").strip().strip("<>").lower()
        if "@" in text:
            found.append(text)
    return list(dict.fromkeys(found))
