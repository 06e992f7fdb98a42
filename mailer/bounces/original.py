"""Hints about the message that bounced, to match a bounce to its delivery later.

A report usually returns our message (message/rfc822) or its headers (text/rfc822-headers);
a plain-text bounce quotes it after a marker line. The VERP address in Return-Path, the
Message-ID derived from (campaign, subscriber) and the signed List-Unsubscribe link each name
the delivery; the caller decides which to trust.
"""

from __future__ import annotations

from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from mailer.bounces.mime import (
    content_type,
    header_text,
    iter_parts,
    part_text,
    payload_of,
    returned_tail,
)

__all__ = ["HINT_HEADERS", "Original", "original_of"]

HINT_HEADERS = ("Message-ID", "Return-Path", "To", "From", "Subject", "Date", "List-Id",
                "Feedback-ID", "List-Unsubscribe")  # fmt: skip
_MAX_HEADER_TEXT = 64 * 1024

Original = tuple[str, tuple[tuple[str, str], ...]]


def original_of(msg: Message) -> Original:
    """(Message-ID, hint headers) of the returned message; ("", ()) when there is none."""
    headers = _returned_headers(msg)
    if headers is None:
        return "", ()
    hints = tuple((name, value) for name in HINT_HEADERS if (value := header_text(headers, name)))
    message_id = next((v for k, v in hints if k == "Message-ID"), "")
    return message_id, hints


def _returned_headers(msg: Message) -> Message | None:
    for part, returned in iter_parts(msg):
        if returned:
            continue
        kind = content_type(part)
        if kind in ("message/rfc822", "message/global"):
            payload = payload_of(part)
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return _parse_headers(payload)
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            return _parse_headers(part_text(part))
    tail = returned_tail(msg)
    return _parse_headers(tail) if tail else None


def _parse_headers(text: str) -> Message | None:
    try:
        return HeaderParser(policy=compat32).parsestr(text[:_MAX_HEADER_TEXT], headersonly=True)
    except Exception:  # nothing header-like: no hints
        return None
