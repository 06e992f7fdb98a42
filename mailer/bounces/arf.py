"""RFC 5965 feedback reports (ARF): a recipient told their mailbox provider "this is spam".

The complained-about recipient is in `Original-Rcpt-To` or `Removal-Recipient` when the
provider discloses it; many redact it, and then only the returned message's headers (the VERP
Return-Path, the Message-ID) can name the delivery, so a complaint may have no recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from mailer.bounces.addresses import clean_address, find_addresses
from mailer.bounces.fields import field, fields, report_blocks
from mailer.bounces.mime import content_type, header_values, iter_parts, payload_of
from mailer.bounces.model import BounceReason

__all__ = ["ArfResult", "complaint_reason", "read_arf"]

# Feedback types that are no complaint about our mail: "not-spam" is the opposite, and
# "auth-failure" (RFC 6591) / "dmarc" reports are about authentication, sent to the domain.
_NOT_COMPLAINTS = ("not-spam", "auth-failure", "dmarc")


@dataclass(frozen=True, slots=True)
class ArfResult:
    found: bool
    feedback_type: str  # abuse, fraud, virus, other, not-spam, auth-failure…; "" if missing
    recipients: tuple[str, ...]

    @property
    def is_complaint(self) -> bool:
        return self.found and self.feedback_type not in _NOT_COMPLAINTS


def read_arf(msg: Message, returned_to: str = "") -> ArfResult:
    """The first feedback-report part outside the returned message; `returned_to` is the
    returned message's To header, the recipient of last resort."""
    for part, returned in iter_parts(msg):
        if returned or content_type(part) != "message/feedback-report":
            continue
        blocks = report_blocks(part)
        block = [pair for b in blocks for pair in b]
        feedback_type = field(block, "feedback-type").lower().split(";")[0].strip()
        named = [
            clean_address(value)
            for name in ("original-rcpt-to", "removal-recipient")
            for value in fields(block, name)
        ]
        recipients = [a for a in named if a] or find_addresses(returned_to)[:1]
        return ArfResult(True, feedback_type, tuple(dict.fromkeys(recipients)))
    return _microsoft_jmrp(msg)


def _microsoft_jmrp(msg: Message) -> ArfResult:
    """Outlook.com's junk-mail reporting programme (JMRP) does not send ARF: a message from
    staff@hotmail.com, "complaint about message from <IP>", with the reported message attached
    and its recipient in X-HmXmrOriginalRecipient."""
    sender = " ".join(header_values(msg, "From")).lower()
    subject = " ".join(header_values(msg, "Subject")).lower()
    if "staff@hotmail.com" not in sender and "complaint about message from" not in subject:
        return ArfResult(False, "", ())
    for part, returned in iter_parts(msg):
        if returned or content_type(part) != "message/rfc822":
            continue
        payload = payload_of(part)
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            continue
        named = header_values(inner, "X-HmXmrOriginalRecipient") or header_values(inner, "To")
        recipients = [a for value in named for a in find_addresses(value)][:1]
        return ArfResult(True, "abuse", tuple(recipients))
    return ArfResult(False, "", ())


def complaint_reason(feedback_type: str) -> BounceReason:
    if feedback_type in ("abuse", "fraud", "virus", ""):
        return "spam/content filtered"
    return "other"
