"""Telling an auto-reply (out of office, vacation, "we received your message") from a bounce.

Both are generated mail, and many mail systems mark their bounces `Auto-Submitted:
auto-replied` too, so the headers alone do not decide: a message that looks like it comes from
a mail system (its sender, its subject) is a bounce candidate whatever its headers say.
"""

from __future__ import annotations

import re
from email.message import Message

from mailer.bounces.mime import header_text

__all__ = ["is_auto_reply", "looks_like_bounce"]

# The sender of a non-delivery report: a daemon or postmaster mailbox, or its display name.
_DAEMON = re.compile(
    r"mailer-?daemon|postmaster|mail ?delivery|delivery ?(?:status|subsystem|notification)"
    r"|mail ?administrator|mail ?system|mdaemon|\bsmtp\b|system administrator|bounce",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not (?:be )?delivered|delivery (?:status|failure|failed|problem"
    r"|report|notification|has failed|incomplete|delayed)|failure notice|returned mail"
    r"|mail delivery|returning message|non[- ]?delivery|delivery warning|failed mail"
    r"|mail error|rejected mail|unzustellbar|non remis|onbestelbaar|no entregado|non recapitato",
    re.IGNORECASE,
)
# RFC 3834 and the de-facto headers of vacation programs and Exchange.
_AUTO_HEADERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Auto-Submitted", re.compile(r"^auto-(?:replied|generated)", re.IGNORECASE)),
    ("X-Autoreply", re.compile(r".")),
    ("X-Autorespond", re.compile(r".")),
    ("X-Autoresponder", re.compile(r".")),
    ("X-Auto-Reply", re.compile(r".")),
    ("X-Vacation", re.compile(r".")),
    ("Precedence", re.compile(r"auto[_-]?reply", re.IGNORECASE)),
    ("X-Precedence", re.compile(r"auto[_-]?reply", re.IGNORECASE)),
    ("X-MS-Exchange-Inbox-Rules-Loop", re.compile(r".")),
)
_VACATION_SUBJECT = re.compile(
    r"out of (?:the )?office|\bOOO\b|absen(?:ce|t)|away from|on (?:vacation|holiday|leave)"
    r"|vacation|auto(?:matic)?[ -]?(?:reply|response|antwort|answer)|autoreply|r[ée]ponse"
    r" automatique|afwezig|automatisch antwoord|niet aanwezig|abwesen|risposta automatica"
    r"|respuesta autom[aá]tica|fuera de la oficina|en cong[ée]|cong[ée]s|thank you for"
    r" (?:your|contacting)|we have received your|merci pour votre",
    re.IGNORECASE,
)


def looks_like_bounce(msg: Message) -> bool:
    """From a mail system, or with a non-delivery subject, or an empty sender."""
    sender = header_text(msg, "From")
    return_path = header_text(msg, "Return-Path")
    return bool(
        _DAEMON.search(sender)
        or return_path in ("<>", "<MAILER-DAEMON>")
        or sender.strip() in ("", "<>")
        or _BOUNCE_SUBJECT.search(header_text(msg, "Subject"))
    )


def is_auto_reply(msg: Message) -> bool:
    """An RFC 3834 auto-reply or a vacation message, and not a mail system's report."""
    if looks_like_bounce(msg):
        return False
    for name, pattern in _AUTO_HEADERS:
        value = header_text(msg, name)
        if value and pattern.search(value):
            return True
    return bool(_VACATION_SUBJECT.search(header_text(msg, "Subject")))
