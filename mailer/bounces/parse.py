"""`parse_message`: one received message → the recipients it reports as failed or complaining.

Sources in a fixed order, most reliable first, stopping at the first that recognises the
message: an ARF feedback report (RFC 5965), a DSN (RFC 3464), an Amazon SES notification
(JSON), then — unless the message is an auto-reply — flufl.bounce's detectors, then our own
text heuristics. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message
from typing import TypeVar

from mailer.bounces.addresses import find_addresses
from mailer.bounces.arf import ArfResult, complaint_reason, read_arf
from mailer.bounces.autoreply import is_auto_reply, looks_like_bounce
from mailer.bounces.classify import classify
from mailer.bounces.codes import enhanced_code, status_from_text
from mailer.bounces.dsn import DsnResult, read_dsn
from mailer.bounces.fluflscan import flufl_failures
from mailer.bounces.heuristics import (
    diagnostic_for,
    failed_addresses,
    has_marker,
    is_warning,
    refused_after_data,
)
from mailer.bounces.mime import header_values, notice_text, read_message
from mailer.bounces.model import BounceReport, BounceSource
from mailer.bounces.original import Original, original_of
from mailer.bounces.ses import SesRecipient, SesResult, read_ses

__all__ = ["parse_message"]

T = TypeVar("T")
FLUFL_BYTES = 256 * 1024
# A bounce of one of our messages names one recipient (VERP); a long list is a forwarded digest
# of failures or garbage, and the first hundred are plenty.
MAX_REPORTS = 100
_MESSAGE_ID = re.compile(r"message-id:\s{0,20}(<?[^\s>]{1,300}>?)", re.IGNORECASE)


def parse_message(raw: bytes) -> list[BounceReport]:
    """The bounce reports in `raw` (a whole message as received); [] for anything that is not
    a bounce or a complaint: ordinary mail, auto-replies, success DSNs, garbage."""
    try:
        msg = read_message(raw)
        # flufl.bounce's generic detector reads every line of every part (about a second per
        # megabyte); the head of a bounce is where its report is.
        head = msg if len(raw) <= FLUFL_BYTES else read_message(raw[:FLUFL_BYTES])
        return _parse(msg, head)[:MAX_REPORTS]
    except Exception:  # the last net: what cannot be read is not a bounce we can act on
        return []


def _parse(msg: Message, head: Message) -> list[BounceReport]:
    nothing: Original = ("", ())
    original = _safely(lambda: original_of(msg), nothing)
    notice: str = _safely(lambda: notice_text(msg), "")
    returned_to = next((v for k, v in original[1] if k == "To"), "")
    arf = _safely(lambda: read_arf(msg, returned_to), ArfResult(False, "", ()))
    if arf.found:
        return _complaints(arf, notice, original)
    dsn = _safely(lambda: read_dsn(msg), DsnResult(False, ()))
    if dsn.found:  # a DSN of deliveries only is no bounce: nothing else is asked
        return [
            _report(
                f.recipient,
                f.status,
                f.action,
                f.diagnostic or diagnostic_for(notice, f.recipient),
                "dsn",
                original,
                after_data=refused_after_data(notice, f.recipient),
            )
            for f in dsn.failures
        ]
    ses = _safely(lambda: read_ses(msg), SesResult(False, ()))
    if ses.found:
        return [_ses_report(r, original) for r in ses.recipients]
    if _safely(lambda: is_auto_reply(msg), False):
        return []
    # The bounce's own sender and recipient (our VERP address) are never the failed one.
    # Nor is a Message-ID, the returned message's or one the notice quotes (a detector may take
    # the id for an address).
    exclude = frozenset(
        a for name in ("From", "To", "Sender", "Reply-To") for v in header_values(msg, name)
        for a in find_addresses(v)
    ) | frozenset(
        a for v in (original[0], *_MESSAGE_ID.findall(notice)) for a in find_addresses(v)
    )  # fmt: skip
    temporary, permanent = (
        [a for a in found if a not in exclude] for found in flufl_failures(head)
    )
    if not (temporary or permanent) and _safely(lambda: _bounce_like(msg, notice), False):
        found = failed_addresses(notice, exclude)
        if is_warning(notice):
            temporary = found
        else:
            permanent = found
    return [
        _text_report(address, delayed, notice, original)
        for delayed, addresses in ((False, permanent), (True, temporary))
        for address in addresses
    ]


def _bounce_like(msg: Message, notice: str) -> bool:
    return looks_like_bounce(msg) or has_marker(notice)


def _text_report(address: str, delayed: bool, notice: str, original: Original) -> BounceReport:
    """A report from a text-only source: the status from the codes near the address, the
    action from the detector or the notice's wording (a warning is a delay)."""
    diagnostic = diagnostic_for(notice, address)
    delayed = delayed or is_warning(notice)
    if delayed:
        status = enhanced_code(diagnostic, "4") or "4.0.0"
    else:
        status = status_from_text(diagnostic) or "5.0.0"
    return _report(
        address, status, "delayed" if delayed else "failed", diagnostic, "heuristic", original,
        after_data=refused_after_data(notice, address),
    )  # fmt: skip


def _report(
    recipient: str, status: str, action: str, diagnostic: str, source: BounceSource,
    original: Original, *, after_data: bool = False,
) -> BounceReport:  # fmt: skip
    verdict = classify(status, diagnostic, action, after_data=after_data)
    return BounceReport(
        recipient=recipient,
        kind=verdict.kind,
        status=status,
        action=action,
        reason=verdict.reason,
        diagnostic=" ".join(diagnostic.split())[:1000],
        source=source,
        original_message_id=original[0],
        original_headers=original[1],
    )


def _ses_report(found: SesRecipient, original: Original) -> BounceReport:
    if found.complaint:
        text = f"Amazon SES complaint ({found.diagnostic})"
        return BounceReport(found.recipient, "complaint", "", "", "spam/content filtered", text,
                            "arf", *original)  # fmt: skip
    status = found.status or status_from_text(found.diagnostic) or "5.0.0"
    if found.temporary and status.startswith("5") and not found.status:
        status = "4" + status[1:]
    return _report(found.recipient, status, "failed", found.diagnostic, "dsn", original)


def _complaints(arf: ArfResult, notice: str, original: Original) -> list[BounceReport]:
    if not arf.is_complaint:
        return []  # not-spam, auth-failure: feedback, but nobody complained
    reason = complaint_reason(arf.feedback_type)
    text = " ".join(notice.split())[:1000]
    return [
        BounceReport(recipient, "complaint", "", "", reason, text, "arf", *original)
        for recipient in arf.recipients or ("",)
    ]


def _safely(step: Callable[[], T], default: T) -> T:
    """One step's result, or `default` when it fails: a broken ARF part must not stop the DSN
    reading, nor a broken DSN part the heuristics."""
    try:
        return step()
    except Exception:
        return default
