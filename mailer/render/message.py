"""MIME assembly: the skeleton is encoded once; per recipient only personal bytes are joined.

The body is multipart/alternative (text, then HTML), both UTF-8 quoted-printable. Personal header
values are checked for CR/LF (no header injection) and encoded per RFC 2047 when not ASCII.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header

from mailer.config import SenderConfig
from mailer.domain import PersonalLinks, Recipient
from mailer.render.slots import EncodedTemplate, SlotTemplate, qp_encode

__all__ = [
    "HeaderInjectionError",
    "MessageTemplate",
    "encode_address",
    "encode_header",
    "personal_values",
]

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"https?://[^\s<>\x00-\x1f\x7f]+")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_ATOM_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ .]*$")
_MESSAGE_ID = re.compile(r"^<[^<>\s]+@[^<>\s]+>$")
_MAILTO = re.compile(r"mailto:[^\s<>,\x00-\x1f\x7f]+@[^\s<>,\x00-\x1f\x7f]+")
_RESERVED = frozenset(
    name.lower()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                 "List-Unsubscribe", "List-Unsubscribe-Post", "Reply-To")
)  # fmt: skip


class HeaderInjectionError(ValueError):
    """A value meant for a header contains a line break or is not a plain address."""


def _header_line(name: str, value: str) -> str:
    """`Name: value`, refusing names that are not header names or that the message sets."""
    if not _HEADER_NAME.match(name) or name.lower() in _RESERVED:
        raise HeaderInjectionError(f"not a header name this message may carry: {name!r}")
    return f"{name}: {encode_header(value, name)}"


def encode_header(value: str, name: str = "") -> str:
    """A header value as ASCII: unchanged when short and plain, else RFC 2047 encoded and folded."""
    if _CONTROL.search(value):
        raise HeaderInjectionError(f"line break or control character in header value {value!r}")
    if value.isascii() and len(name) + len(value) < 76:
        return value
    return Header(value, "utf-8", maxlinelen=76, header_name=name).encode(linesep="\r\n")


def encode_address(address: str, name: str = "") -> str:
    """`"Name" <address>` for a header; refuses anything that could inject a header."""
    if not _ADDRESS.match(address) or not address.isascii() or _CONTROL.search(address):
        raise HeaderInjectionError(f"not a plain e-mail address: {address!r}")
    name = _CONTROL.sub(" ", name).strip()  # a name is data: never let it break a header
    if not name:
        return address
    if name.isascii() and len(name) < 60:
        if _ATOM_SAFE.match(name) and "." not in name:
            return f"{name} <{address}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    encoded = Header(name, "utf-8", maxlinelen=76, header_name="From").encode(linesep="\r\n")
    return f"{encoded} <{address}>"


def personal_values(recipient: Recipient, links: PersonalLinks) -> dict[str, str]:
    """The raw (unescaped) value of every personal slot."""
    return {
        "email": recipient.email,
        "first_name": recipient.first_name,
        "last_name": recipient.last_name,
        "view_online_url": links.view_online_url,
        "preferences_url": links.preferences_url,
        "unsubscribe_url": links.unsubscribe_url,
    }


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A message with everything but the personal parts encoded once, as CRLF bytes."""

    head: bytes  # From, Subject, MIME-Version, … (fixed headers)
    content_type: bytes  # the multipart Content-Type header
    text: EncodedTemplate
    html: EncodedTemplate
    boundary: str

    @classmethod
    def build(
        cls,
        *,
        subject: str,
        sender: SenderConfig,
        html: SlotTemplate,
        text: SlotTemplate,
        boundary_seed: str,
        headers: Mapping[str, str] | None = None,
    ) -> MessageTemplate:
        """`headers`: more fixed headers (List-Id, Feedback-ID…), checked and encoded."""
        lines = [
            f"From: {encode_address(sender.from_address, sender.from_name)}",
            f"Subject: {encode_header(subject, 'Subject')}",
            "MIME-Version: 1.0",
        ]
        if sender.reply_to:
            lines.append(f"Reply-To: {encode_address(sender.reply_to)}")
        for name, value in (headers or {}).items():
            lines.append(_header_line(name, value))
        # "=_" never occurs in quoted-printable output, so it cannot collide with the body.
        boundary = f"=_mailer_{boundary_seed[:24]}"
        content_type = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        return cls(
            head=("\r\n".join(lines) + "\r\n").encode("ascii"),
            content_type=content_type.encode("ascii"),
            text=text.encode(),
            html=html.encode(),
            boundary=boundary,
        )

    def render(
        self,
        recipient: Recipient,
        links: PersonalLinks,
        *,
        message_id: str,
        date: dt.datetime | None = None,
        extra_headers: Mapping[str, str] | None = None,
        unsubscribe_mailto: str = "",
    ) -> bytes:
        """The whole message. `unsubscribe_mailto` (a `mailto:` URI) joins the https one-click
        link in List-Unsubscribe (RFC 2369, RFC 8058)."""
        values = personal_values(recipient, links)
        for key in ("view_online_url", "preferences_url", "unsubscribe_url"):
            if not _URL.fullmatch(values[key]):
                raise HeaderInjectionError(f"{key} must be an absolute http(s) URL")
        if _CONTROL.search(message_id) or not _MESSAGE_ID.match(message_id):
            raise HeaderInjectionError(f"not a Message-ID: {message_id!r}")
        unsubscribe = f"<{links.unsubscribe_url}>"
        if unsubscribe_mailto:
            if not _MAILTO.fullmatch(unsubscribe_mailto):
                raise HeaderInjectionError(f"not a mailto: URI: {unsubscribe_mailto!r}")
            unsubscribe += f", <{unsubscribe_mailto}>"
        when = date or dt.datetime.now(dt.UTC)
        lines = [
            f"To: {encode_address(recipient.email, recipient.display_name)}",
            f"Date: {email.utils.format_datetime(when)}",
            f"Message-ID: {message_id}",
            f"List-Unsubscribe: {unsubscribe}",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        for name, value in (extra_headers or {}).items():
            lines.append(_header_line(name, value))
        personal_head = ("\r\n".join(lines) + "\r\n").encode("ascii")
        text_values = {k: qp_encode(v) for k, v in values.items() if k in self.text.names}
        html_values = {
            k: qp_encode(html.escape(v, quote=True))
            for k, v in values.items()
            if k in self.html.names
        }
        boundary = self.boundary.encode("ascii")
        return b"".join(
            (
                self.head,
                personal_head,
                self.content_type,
                b"\r\n--",
                boundary,
                b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                self.text.fill(text_values),
                b"\r\n--",
                boundary,
                b'\r\nContent-Type: text/html; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                self.html.fill(html_values),
                b"\r\n--",
                boundary,
                b"--\r\n",
            )
        )
