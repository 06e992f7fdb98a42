"""The field blocks of a report part (message/delivery-status, message/feedback-report).

The email package parses message/delivery-status into one header block per recipient, parses
other message/* report types as one nested message, and leaves a base64 or broken part as text.
All three become the same thing here: a list of blocks of (lower-cased name, value) pairs.
"""

from __future__ import annotations

import re
from email.message import Message

from mailer.bounces.mime import decode_bytes, header_values, part_text, payload_of

__all__ = ["Block", "field", "fields", "report_blocks"]

Block = list[tuple[str, str]]

MAX_BLOCKS = 500
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def report_blocks(part: Message) -> list[Block]:
    payload = payload_of(part)
    if isinstance(payload, str):
        return _parse_blocks(part_text(part))
    blocks: list[Block] = []
    if not isinstance(payload, list):
        return blocks
    for sub in payload[:MAX_BLOCKS]:
        if not isinstance(sub, Message):
            continue
        blocks.append(_block_of(sub))
        # A nested message's body holds the blocks after its first one.
        body = payload_of(sub)
        if isinstance(body, str) and body.strip():
            blocks.extend(_parse_blocks(_text(body)))
    return [block for block in blocks if block][:MAX_BLOCKS]


def field(block: Block, name: str) -> str:
    """The first value of field `name` (lower case) in the block, or ""."""
    return next((value for key, value in block if key == name), "")


def fields(block: Block, name: str) -> list[str]:
    return [value for key, value in block if key == name]


def _block_of(sub: Message) -> Block:
    try:
        keys = list(dict.fromkeys(key.lower() for key in sub))
    except Exception:
        return []
    return [(key, value) for key in keys for value in header_values(sub, key)]


def _text(body: str) -> str:
    # The parser keeps undecodable bytes as surrogates: back to bytes, then decoded leniently.
    try:
        return decode_bytes(body.encode("ascii", "surrogateescape"), "utf-8")
    except UnicodeError:
        return body.encode("utf-8", "replace").decode("utf-8")


def _parse_blocks(text: str) -> list[Block]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[Block] = []
    for chunk in _BLANK_LINE.split(text)[:MAX_BLOCKS]:
        block: Block = []
        for line in chunk.split("\n")[:1000]:
            if line[:1] in (" ", "\t") and block:
                key, value = block[-1]
                block[-1] = (key, f"{value} {line.strip()}".strip())
            elif ":" in line:
                key, _, value = line.partition(":")
                if key.strip() and " " not in key.strip():
                    block.append((key.strip().lower(), value.strip()))
        if block:
            blocks.append(block)
    return blocks
