"""What a bounce says about one recipient: `BounceReport`, and the words it is made of.

Plain data with no imports from the rest of the package, so that the database layer can store
reports without depending on the parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "KINDS",
    "REASONS",
    "BounceKind",
    "BounceReason",
    "BounceReport",
    "BounceSource",
]

BounceKind = Literal["hard", "soft", "complaint"]
BounceSource = Literal["dsn", "arf", "heuristic"]
BounceReason = Literal[
    "user unknown",
    "host unknown",
    "moved",
    "mailbox full",
    "message too big",
    "blocked",
    "spam/content filtered",
    "policy",
    "authentication failure",
    "expired",
    "network/system error",
    "other",
]

KINDS: tuple[BounceKind, ...] = get_args(BounceKind)
REASONS: tuple[BounceReason, ...] = get_args(BounceReason)


@dataclass(frozen=True, slots=True)
class BounceReport:
    """One failed (or complained-about) recipient, as one bounce message reports it.

    `recipient` is lower-cased; it is "" only for a complaint whose report hides the address
    (the caller then matches with `original_message_id` or the VERP `Return-Path` in
    `original_headers`). `status` is "x.y.z" ("" for a complaint), `action` the DSN action
    (failed, delayed; "" when the message does not say), `diagnostic` the remote server's text,
    whitespace-collapsed, at most 1000 characters.
    """

    recipient: str
    kind: BounceKind
    status: str
    action: str
    reason: BounceReason
    diagnostic: str
    source: BounceSource
    original_message_id: str = ""
    # A few headers of the returned message (Message-ID, Return-Path, To, From, Subject, Date,
    # List-Id, Feedback-ID), in the order found: hints to match the bounce to a delivery.
    original_headers: tuple[tuple[str, str], ...] = ()

    @property
    def temporary(self) -> bool:
        """A delay warning, not a final failure: the Action says so, or else the status class."""
        if self.action:
            return self.action == "delayed"
        return self.status.startswith("4")

    def original_header(self, name: str) -> str:
        """The returned message's header `name` (case-insensitive), or ""."""
        wanted = name.lower()
        return next((v for k, v in self.original_headers if k.lower() == wanted), "")
