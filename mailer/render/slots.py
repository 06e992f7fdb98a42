"""Personal slots: markers left in the compiled issue and filled in cheaply per recipient.

The compiled HTML and text carry markers such as `%%MAILER:unsubscribe_url%%`. They survive MJML
and premailer untouched, and are split out once per issue, so that per recipient personalising
is a join of pre-encoded byte strings, never a re-render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import quoprimime

__all__ = ["SLOT_NAMES", "EncodedTemplate", "SlotTemplate", "qp_encode", "slot"]

SLOT_NAMES = (
    "email",
    "first_name",
    "last_name",
    "view_online_url",
    "preferences_url",
    "unsubscribe_url",
)
_SLOT = re.compile(r"%%MAILER:([a-z_]+)%%")


def slot(name: str) -> str:
    """The marker for the personal value `name`."""
    if name not in SLOT_NAMES:
        raise ValueError(f"unknown personal slot {name!r}")
    return f"%%MAILER:{name}%%"


@dataclass(frozen=True, slots=True)
class SlotTemplate:
    """A text split at its slots: parts[0] + value(names[0]) + parts[1] + … + parts[-1]."""

    parts: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> SlotTemplate:
        pieces = _SLOT.split(text)
        names = tuple(pieces[1::2])
        for name in names:
            if name not in SLOT_NAMES:
                raise ValueError(f"unknown personal slot {name!r}")
        return cls(tuple(pieces[0::2]), names)

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.parts[0]]
        for name, part in zip(self.names, self.parts[1:], strict=True):
            out.append(values[name])
            out.append(part)
        return "".join(out)

    def encode(self) -> EncodedTemplate:
        return EncodedTemplate(tuple(qp_encode(p) for p in self.parts), self.names)


@dataclass(frozen=True, slots=True)
class EncodedTemplate:
    """A `SlotTemplate` whose fixed parts are already quoted-printable encoded (CRLF lines)."""

    parts: tuple[bytes, ...]
    names: tuple[str, ...]

    def fill(self, encoded: Mapping[str, bytes]) -> bytes:
        """Join with values that were encoded with `qp_encode` (and escaped for their context)."""
        out = [self.parts[0]]
        for name, part in zip(self.names, self.parts[1:], strict=True):
            out.append(encoded[name])
            out.append(part)
        return b"".join(out)


def qp_encode(text: str) -> bytes:
    """Quoted-printable encode UTF-8 `text` so that encoded pieces can be concatenated.

    Every piece that does not end a line ends with a soft line break (`=\\r\\n`), so the next
    piece always starts at column 0 and no line ever exceeds 76 characters, whatever is joined.
    """
    if not text:
        return b""
    # 73, not 76: the soft break appended below adds one "=" to the last line, and a leading
    # "." written as "=2E" two more.
    encoded = quoprimime.body_encode(
        text.encode("utf-8").decode("latin-1"), maxlinelen=73, eol="\r\n"
    )
    # No line starts with ".": SMTP would need it doubled ("dot-stuffing") in every message,
    # a scan of the whole message per recipient; encoded once here, it never has to be.
    encoded = encoded.replace("\r\n.", "\r\n=2E")
    if encoded.startswith("."):
        encoded = "=2E" + encoded[1:]
    if text.endswith("\n"):
        if not encoded.endswith("\r\n"):
            encoded += "\r\n"
    else:
        encoded += "=\r\n"
    return encoded.encode("ascii")
