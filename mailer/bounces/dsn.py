"""RFC 3464 delivery status notifications: one report per failed or delayed recipient.

Reads every message/delivery-status (and RFC 6533 message/global-delivery-status) part
outside the returned message, whatever the top-level report-type says: several MTAs send
multipart/mixed, or forget the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from mailer.bounces.addresses import clean_address
from mailer.bounces.codes import enhanced_code, status_from_text, status_of_field
from mailer.bounces.fields import Block, field, report_blocks
from mailer.bounces.mime import content_type, iter_parts

__all__ = ["DsnRecipient", "DsnResult", "read_dsn"]

_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
# Actions that are no failure (RFC 3464 §2.3.3): a DSN made only of these is not a bounce.
_SUCCESS = ("delivered", "relayed", "expanded")


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    recipient: str
    action: str  # "failed" or "delayed"
    status: str  # x.y.z, never ""
    diagnostic: str  # the Diagnostic-Code without its "smtp;" type


@dataclass(frozen=True, slots=True)
class DsnResult:
    found: bool  # a delivery-status part names at least one recipient, failed or not
    failures: tuple[DsnRecipient, ...]


def read_dsn(msg: Message) -> DsnResult:
    """The report's own status parts; else those of a report forwarded as an attachment (some
    gateways wrap the DSN they received: we never send DSNs, so a nested one is not ours)."""
    parts = [(part, returned) for part, returned in iter_parts(msg)
             if content_type(part) in _STATUS_TYPES]  # fmt: skip
    outside = [part for part, returned in parts if not returned]
    return _read(outside) if outside else _read([part for part, _ in parts])


def _read(parts: list[Message]) -> DsnResult:
    found = False
    failures: dict[tuple[str, str], DsnRecipient] = {}
    for part in parts:
        for block in report_blocks(part):
            recipient = _recipient(block)
            if not recipient:
                continue  # the per-message block, or a recipient we cannot name
            found = True
            failure = _failure(block, recipient)
            if failure is not None:
                failures.setdefault((failure.recipient, failure.action), failure)
    return DsnResult(found, tuple(failures.values()))


def _failure(block: Block, recipient: str) -> DsnRecipient | None:
    diagnostic = _diagnostic(field(block, "diagnostic-code") or field(block, "x-diagnostic"))
    status = status_of_field(field(block, "status"))
    action = _action(field(block, "action"), status or status_from_text(diagnostic))
    if action is None:
        return None
    if not status:
        status = status_from_text(diagnostic)
        if not status and field(block, "action").strip().lower().startswith("expire"):
            status = "5.4.7"  # delivery time expired
    elif status.endswith(".0"):
        # Exim writes "Status: 5.0.0" for everything, SES "5.1.0" for any address problem:
        # a more specific code in the remote reply says more.
        specific = enhanced_code(diagnostic, status[0], specific=True)
        # (5.0.0 → 5.1.0 says more too; 5.1.0 → 5.0.0 would say less)
        if specific and (not specific.endswith(".0") or status.endswith(".0.0")):
            status = specific
    if not status or status[0] not in "45":
        status = "5.0.0" if action == "failed" else "4.0.0"
    return DsnRecipient(recipient, action, status, diagnostic)


def _recipient(block: Block) -> str:
    # The Original-Recipient is the address as we sent it (before forwarding); an
    # Original-Recipient of another type ("unknown;") is skipped for the Final-Recipient.
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = field(block, name)
        kind, sep, _ = value.partition(";")
        if sep and kind.strip().lower() not in ("rfc822", "utf-8") and name != "final-recipient":
            continue
        address = clean_address(value)
        if address:
            return address
    return ""


def _action(value: str, status: str) -> str | None:
    """The action as "failed" or "delayed"; None for a success or one we cannot read."""
    word = value.strip().lower().split(" ", 1)[0].split("(", 1)[0].rstrip(";")
    if word.startswith(_SUCCESS):
        return None
    if word.startswith(("fail", "error", "bounce", "reject", "expire")):
        return "failed"  # "error" (OpenSMTPD), "expired" (SendGrid): non-standard "failed"
    if word.startswith(("delay", "defer", "warn")):
        return "delayed"
    # No Action field (or an unknown one): the status class tells.
    if status.startswith("5"):
        return "failed"
    if status.startswith("4"):
        return "delayed"
    return None


def _diagnostic(value: str) -> str:
    kind, sep, rest = value.partition(";")
    text = rest if sep and len(kind) < 20 and " " not in kind.strip() else value
    return " ".join(text.split())[:1000]
