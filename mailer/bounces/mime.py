"""Reading a bounce as MIME without ever failing: capped sizes, bounded walks, forgiving decoding.

Bounces come from every mail system ever written, many of them broken, so every accessor here
returns something usable ("" or an empty list) instead of raising.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_PART_BYTES",
    "RETURNED_TYPES",
    "content_type",
    "decode_bytes",
    "header_text",
    "header_values",
    "iter_parts",
    "notice_text",
    "part_text",
    "payload_of",
    "read_message",
    "returned_tail",
]

# A report puts its notice and status parts first and the returned message last, so the head
# of a huge bounce holds everything we read; the rest is somebody's attachment.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_PART_BYTES = 1024 * 1024
MAX_PARTS = 200
MAX_DEPTH = 12

# Parts that hold the message we sent, returned: never read as the bounce's own words.
RETURNED_TYPES = frozenset({"message/rfc822", "message/global", "text/rfc822-headers",
                            "message/rfc822-headers", "message/global-headers"})  # fmt: skip
# Parts made of header-like field blocks; the email package parses some of them as messages.
_FIELD_TYPES = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "message/feedback-report",
     "message/disposition-notification"}
)  # fmt: skip

_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b[^<>]{0,200}>", re.IGNORECASE)
# Where a plain-text bounce starts quoting the returned message (Exim, qmail, sendmail, …).
_RETURNED_MARKER = re.compile(
    r"^[ \t>]*-{2,}[^\n]{0,40}?(?:copy of (?:the|your) message|original message|unsent message"
    r"|returned message|message (?:text|headers?) follows?|header of the original message"
    r"|below this line)[^\n]{0,60}$"
    r"|^[ \t]*(?:original message follows|(?:the )?original message headers?(?::| (?:is|are"
    r"|follows?)))",
    re.IGNORECASE | re.MULTILINE,
)


def read_message(raw: bytes) -> Message:
    """Parse with the compat32 policy: the modern one raises on malformed headers when read."""
    return BytesParser(policy=compat32).parsebytes(bytes(raw[:MAX_MESSAGE_BYTES]))


def _clean(text: str) -> str:
    # Undecodable bytes come back as lone surrogates: make them printable, never an error later.
    return text.encode("utf-8", "replace").decode("utf-8", "replace")


def header_text(msg: Message, name: str) -> str:
    """The header's value, RFC 2047-decoded when possible, whitespace-collapsed; "" if absent."""
    values = header_values(msg, name)
    return values[0] if values else ""


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of the header `name`, decoded as `header_text` does."""
    try:
        raw = msg.get_all(name) or []
    except Exception:  # a broken header must not hide the rest of the message
        return []
    values = []
    for value in raw[:20]:
        text = str(value)
        # An encoded word in an unknown charset stays as it came.
        with contextlib.suppress(Exception):
            text = str(make_header(decode_header(text)))
        values.append(_SPACE.sub(" ", _clean(text)).strip())
    return values


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in the declared charset, else UTF-8, never failing on bad bytes or unknown names."""
    for candidate in (charset, "utf-8"):
        text = _decoded(data, candidate) if candidate else None
        if text is not None:
            return text
    return data.decode("latin-1")


def _decoded(data: bytes, charset: str) -> str | None:
    try:
        return data.decode(charset, "replace")
    except Exception:  # an unknown or non-text codec (LookupError), or a strict-only one (idna)
        return None


def payload_of(part: Message) -> object:
    """The part's payload as parsed (a list of parts, or text); None when it cannot be had."""
    try:
        return part.get_payload()
    except Exception:
        return None


def part_text(part: Message) -> str:
    """A leaf part's text, transfer-decoded, at most `MAX_PART_BYTES` of it; "" for containers."""
    try:
        if part.is_multipart():
            return ""
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return ""
        charset = part.get_content_charset()
    except Exception:  # a transfer encoding or parameter the email package chokes on
        return ""
    return decode_bytes(data[:MAX_PART_BYTES], charset)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def iter_parts(msg: Message) -> Iterator[tuple[Message, bool]]:
    """(part, inside the returned message) for every part, depth-first, in a bounded walk."""
    stack: list[tuple[Message, int, bool]] = [(msg, 0, False)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth, returned = stack.pop()
        seen += 1
        yield part, returned
        kind = content_type(part)
        if depth >= MAX_DEPTH or kind in _FIELD_TYPES:
            continue
        payload = payload_of(part)
        if not isinstance(payload, list):
            continue
        inner = returned or kind in RETURNED_TYPES
        children = [(p, depth + 1, inner) for p in payload[:MAX_PARTS] if isinstance(p, Message)]
        stack.extend(reversed(children))


def notice_text(msg: Message) -> str:
    """The bounce's own human-readable words: its text parts outside the returned message, cut
    where an inline copy of that message starts; HTML only when there is no plain text."""
    plain: list[str] = []
    rich: list[str] = []
    broken: list[str] = []  # multiparts whose boundary is missing or unused: their raw text
    for part, returned in iter_parts(msg):
        kind = content_type(part)
        if not returned and kind.startswith("multipart/"):
            raw = payload_of(part)
            if isinstance(raw, str):
                broken.append(raw[:MAX_PART_BYTES])
        if returned or kind in RETURNED_TYPES or not kind.startswith("text/"):
            continue
        if kind == "text/html":
            rich.append(_html_to_text(part_text(part)))
        else:
            plain.append(part_text(part))
    text = "\n".join(plain) if any(t.strip() for t in plain) else "\n".join(rich)
    if not text.strip():
        text = "\n".join(broken)
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_PART_BYTES]
    marker = _RETURNED_MARKER.search(text)
    return text[: marker.start()] if marker else text


def returned_tail(msg: Message) -> str:
    """The inline copy of the returned message in a plain-text bounce, or ""."""
    for part, returned in iter_parts(msg):
        if not returned and content_type(part) == "text/plain":
            text = part_text(part).replace("\r\n", "\n")
            marker = _RETURNED_MARKER.search(text)
            if marker:
                return text[marker.end() :].lstrip("\n")
    return ""


def _html_to_text(text: str) -> str:
    text = _BLOCK_TAG.sub("\n", text)
    return html.unescape(_TAG.sub(" ", text))
