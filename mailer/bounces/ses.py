"""Amazon SES notifications delivered by e-mail (through SNS): JSON, not a report format.

A sender that relays through SES and subscribes an address to its bounce topic receives
`{"notificationType": "Bounce" | "Complaint" | "Delivery", ...}` as the body, sometimes inside
SNS's own envelope (`{"Type": "Notification", "Message": "<that JSON as a string>"}`), with
SNS's footer after it. A "Delivery" notification is no bounce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message

from mailer.bounces.addresses import clean_address
from mailer.bounces.mime import content_type, iter_parts, part_text

__all__ = ["SesRecipient", "SesResult", "read_ses"]

_MAX_JSON = 256 * 1024


@dataclass(frozen=True, slots=True)
class SesRecipient:
    recipient: str
    status: str  # "5.1.1", or "" when SES gives none
    diagnostic: str
    temporary: bool  # bounceType "Transient"
    complaint: bool


@dataclass(frozen=True, slots=True)
class SesResult:
    found: bool  # an SES notification, whatever its type
    recipients: tuple[SesRecipient, ...]


def read_ses(msg: Message) -> SesResult:
    for part, returned in iter_parts(msg):
        if returned or content_type(part) not in ("text/plain", "application/json"):
            continue
        notification = _notification(part_text(part))
        if notification is not None:
            return SesResult(True, tuple(_recipients(notification)))
    return SesResult(False, ())


def _notification(text: str) -> dict[str, object] | None:
    start = text.find("{")
    if start < 0 or "notificationType" not in text[:_MAX_JSON]:
        return None
    try:  # the JSON object, then SNS's footer: raw_decode stops where the object ends
        data, _ = json.JSONDecoder().raw_decode(text[start : start + _MAX_JSON])
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):  # the SNS envelope
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    if isinstance(data, dict) and isinstance(data.get("notificationType"), str):
        return data
    return None


def _recipients(notification: dict[str, object]) -> list[SesRecipient]:
    kind = str(notification.get("notificationType", "")).lower()
    if kind == "bounce":
        bounce = notification.get("bounce")
        if not isinstance(bounce, dict):
            return []
        temporary = str(bounce.get("bounceType", "")).lower() == "transient"
        listed = bounce.get("bouncedRecipients")
        return [
            SesRecipient(address, str(r.get("status") or ""), str(r.get("diagnosticCode") or ""),
                         temporary, complaint=False)
            for r in (listed if isinstance(listed, list) else [])
            if isinstance(r, dict) and (address := clean_address(str(r.get("emailAddress", ""))))
        ]  # fmt: skip
    if kind == "complaint":
        complaint = notification.get("complaint")
        if not isinstance(complaint, dict):
            return []
        listed = complaint.get("complainedRecipients")
        kind_text = str(complaint.get("complaintFeedbackType") or "abuse")
        return [
            SesRecipient(address, "", kind_text, temporary=False, complaint=True)
            for r in (listed if isinstance(listed, list) else [])
            if isinstance(r, dict) and (address := clean_address(str(r.get("emailAddress", ""))))
        ]
    return []  # Delivery (or a type we do not know): nothing failed
