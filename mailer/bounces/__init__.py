"""Bounces: reading non-delivery reports and complaints into `BounceReport`s, and classifying them.

`parse_message(raw)` is the one entry point; `classify(status, diagnostic, action)` is the
pure table that decides hard or soft. Matching a report to a delivery (VERP, Message-ID) and
acting on it (suppression policy) belong to the caller.
"""

from __future__ import annotations

from mailer.bounces.classify import Classification, classify
from mailer.bounces.mime import MAX_MESSAGE_BYTES
from mailer.bounces.model import BounceKind, BounceReason, BounceReport, BounceSource
from mailer.bounces.parse import parse_message

__all__ = [
    "MAX_MESSAGE_BYTES",
    "BounceKind",
    "BounceReason",
    "BounceReport",
    "BounceSource",
    "Classification",
    "classify",
    "parse_message",
]
