"""Classification: a status code and the remote server's text → a reason → hard or soft.

A pure function over two tables (documented in docs/bounces.md). The rule that matters: *hard*
means the address itself is dead (unknown user, unknown domain, moved), because a hard bounce
suppresses the subscriber at once; everything else that failed is *soft*, including many
5.x.x codes that RFC 3463 itself calls possibly transient (5.2.2 mailbox full) or that are about
the message or the sender, not the address (5.7.x policy, 5.3.4 too big). In doubt: soft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailer.bounces.model import BounceKind, BounceReason

__all__ = ["AFTER_DATA", "DEAD_ADDRESS", "Classification", "classify", "reason_from_text"]

# Reasons that mean "this address will never take mail": the only ones that can be hard.
DEAD_ADDRESS: frozenset[BounceReason] = frozenset({"user unknown", "host unknown", "moved"})

_AUTH_DETAILS = ("7.8", "7.9", "7.13", "7.14", *(f"7.{n}" for n in range(20, 28)))
# "subject.detail" of an enhanced code → reason, when the code alone is decisive (RFC 3463,
# RFC 7505 for 1.10 as Exchange uses it, RFC 5248's registry). Codes not listed fall back to
# the text, then to their subject's default below.
STATUS_REASONS: dict[str, BounceReason] = {
    "1.1": "user unknown",  # bad destination mailbox address
    "1.10": "user unknown",  # Exchange RESOLVER.ADR.RecipientNotFound (RFC 7505: null MX)
    "1.2": "host unknown",  # bad destination system address
    "1.3": "user unknown",  # bad destination mailbox address syntax: can never be delivered
    "1.6": "moved",  # destination mailbox has moved, no forwarding address
    "1.7": "policy",  # bad *sender's* mailbox address syntax: about us, not the recipient
    "1.8": "policy",  # bad *sender's* system address (our domain refused, e.g. no MX found)
    # 2.1 "mailbox disabled" is not listed: it may come back (RFC 3463), but many servers send
    # 5.2.1 with "User unknown", which the text then says; with other words it is "other".
    "2.2": "mailbox full",  # RFC 3463: "a transient error … even when sent as 5.2.2"
    "2.3": "message too big",  # message length exceeds administrative limit
    "3.4": "message too big",  # message too big for system
    "4.4": "host unknown",  # unable to route: no MX, no A record
    "4.7": "expired",  # delivery time expired
    "7.1": "blocked",  # delivery not authorised, message refused
    "7.7": "other",  # message integrity failure
    # SMTP AUTH (7.8, 7.9, 7.13, 7.14) and SPF/DKIM/DMARC/reverse DNS (RFC 7372: 7.20-7.27)
    **dict.fromkeys(_AUTH_DETAILS, "authentication failure"),
}
# Subject (the "y" of x.y.z) → reason when neither the detail nor the text decides.
SUBJECT_DEFAULTS: dict[str, BounceReason] = {
    "0": "other", "1": "other", "2": "other", "3": "network/system error",
    "4": "network/system error", "5": "other", "6": "other", "7": "policy",
}  # fmt: skip
# The text can refine 5.7.x (policy), but only among these: a refusal is never a dead address.
_POLICY_FAMILY: frozenset[BounceReason] = frozenset(
    {"spam/content filtered", "authentication failure", "blocked", "policy"}
)

# The remote server's words → reason, first match wins. The reasons that keep an address
# (spam, blocking, quota…) come before the dead-address ones: in doubt, soft.
_W = r"(?:user|mailbox|recipient|address|account|addressee|e-?mail(?: address)?)"
_TEXT_PATTERNS: tuple[tuple[BounceReason, str], ...] = (
    ("spam/content filtered", r"spam(?!haus|cop)|unsolicited|junk|virus|malware|phish|content"
     r" (?:rejected|filter)|rejected (?:due to|because of) (?:its )?content|suspicious|bulk mail"),
    ("authentication failure", r"\bspf\b|\bdkim\b|\bdmarc\b|authenticat|sender policy"
     r"|reverse dns|\bptr\b"),
    ("blocked", r"block(?:ed|list|ing)|black ?list|deny ?list|\brbl\b|dnsbl|spamhaus|spamcop"
     r"|barracuda|reputation|banned|(?<!not )listed (?:at|in|on|by)"),
    ("mailbox full", r"quota|(?:mailbox|mail box|inbox|account|mail ?folder|disk|storage)"
     r"[\w ]{0,12}(?:full|exceeded)|insufficient (?:system )?storage|mailbox size limit"
     r"|exceeded storage"),
    ("message too big", r"too (?:big|large)|message (?:size|length) exceed|exceed(?:s|ed)?"
     r" (?:the )?(?:max(?:imum)?|allowed|size)|size limit"),
    # Disabled mailboxes may come back (RFC 3463 X.2.1); "mailbox unavailable" is RFC 5321's
    # generic 550 text, used for unknown users (Outlook.com) and refusals alike: soft.
    ("other", r"(?:account|mailbox)[\w ]{0,12}(?:disabled|inactive|suspended|deactivated"
     r"|locked)|mailbox (?:is )?unavailable"),
    ("user unknown", rf"{_W} unknown|unknown {_W}|no such {_W}|{_W} (?:couldn't|could not"
     r"|cannot|can't) be found|invalid (?:final delivery )?userid|{_W}(?: name)? (?:does not"
     rf"|doesn't|did not|not|no longer) (?:exist|found|known|valid)|invalid {_W}|{_W} is"
     rf" invalid|not (?:a )?(?:valid|known) {_W}|recipientnotfound|unrouteable address|not our"
     rf" customer|no mailbox|bad destination mailbox|{_W} (?:has been )?(?:closed|deleted"
     rf"|removed|terminated)|(?:tried to reach|address) does not exist|unknown local.?part"
     r"|(?:does not|doesn't) have an? [\w.\-]{1,60} account|not listed in [\w ]{0,30}"
     r"directory|name is not recognized"),
    ("host unknown", r"host (?:unknown|not found)|unknown (?:host|domain)|domain (?:not found"
     r"|does not exist|unknown|name not found)|no such domain|nxdomain|unrouteable domain"
     r"|name ?server|name or service not known|no mx|mx record|could not be resolved"
     r"|domain is not reachable"),
    ("moved", rf"{_W} (?:has )?(?:moved|changed)|no longer (?:valid|available|in use|active"
     r"|employed|works|at|with)|has left|forwarding address"),
    ("expired", r"expired|retry time(?:out)? (?:was |has been )?(?:exceeded|reached)|message"
     r" (?:is )?too old|delivery time|has been (?:queued|delayed) for|could not be delivered"
     r" for \d|timeout exceeded"),
    ("policy", r"polic(?:y|ies)|not (?:permitted|allowed|authori[sz]ed)|relay|access denied"
     r"|(?<!connection )refused|rate.?limit|throttl|too many (?!hops)|greylist|prohibit"
     r"|rejected"),
    ("network/system error", r"connect|timed? ?out|network|system (?:error|failure)|internal"
     r" error|service (?:not available|unavailable)|temporar|loop|too many hops|resources"
     r"|server error|local error|i/o error|try again|unavailable"),
)  # fmt: skip
TEXT_REASONS: tuple[tuple[BounceReason, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in _TEXT_PATTERNS
)


# A code whose meaning one provider's words change: Exchange Online answers an unknown
# recipient of a domain it hosts with "550 5.4.1 Recipient address rejected: Access denied".
_PROVIDER_CODES: tuple[tuple[str, re.Pattern[str], BounceReason], ...] = (
    ("4.1", re.compile(r"recipient address rejected: access denied", re.IGNORECASE),
     "user unknown"),
)  # fmt: skip
# A reply that refused the message after reading it ("in reply to end of DATA", Sendmail's
# ">>> DATA"): an "unknown user" then comes from a filter that accepted the address at RCPT,
# not from a directory (as sisimai also reads it), so it is not taken as a dead address.
AFTER_DATA = re.compile(
    r"in reply to end of data|after end of data|in reply to data command|>>> DATA\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Classification:
    reason: BounceReason
    kind: BounceKind


def reason_from_text(text: str) -> BounceReason | None:
    """The first reason of `TEXT_REASONS` whose pattern occurs in `text`, or None."""
    return next((reason for reason, pattern in TEXT_REASONS if pattern.search(text)), None)


def classify(
    status: str, diagnostic: str, action: str = "", *, after_data: bool = False
) -> Classification:
    """Reason and kind (hard or soft) of a failed recipient.

    `status` is "x.y.z" or ""; `diagnostic` the remote server's text; `action` the DSN action;
    `after_data` whether the refusal answered the message's DATA (see `AFTER_DATA`).
    Hard needs a dead-address reason *and* a permanent failure (class 5, not a delay).
    """
    parts = status.split(".")
    subject_detail = ".".join(parts[1:3]) if len(parts) == 3 else ""
    from_text = reason_from_text(diagnostic)
    reason = STATUS_REASONS.get(subject_detail)
    for code, words, meaning in _PROVIDER_CODES:
        if subject_detail == code and words.search(diagnostic):
            return Classification(meaning, _kind(meaning, status, action))
    if parts[1:2] == ["7"]:
        # 5.7.x is about the sender or the message: the text may say which, never "dead".
        if from_text in _POLICY_FAMILY and (reason in (None, "blocked") or from_text != "policy"):
            reason = from_text
        reason = reason or "policy"
    elif reason in DEAD_ADDRESS and from_text == "mailbox full":
        # "552 sorry, mailbox … is over quota (#5.1.1)": a full mailbox is alive, whatever code
        # a server puts on it; in doubt, soft.
        reason = from_text
    elif reason is None:
        reason = from_text or SUBJECT_DEFAULTS.get(parts[1] if len(parts) == 3 else "", "other")
        if after_data and reason == "user unknown":
            reason = "spam/content filtered"
    return Classification(reason, _kind(reason, status, action))


def _kind(reason: BounceReason, status: str, action: str) -> BounceKind:
    permanent = action != "delayed" and (
        status.startswith("5") or (not status and action in ("failed", ""))
    )
    return "hard" if permanent and reason in DEAD_ADDRESS else "soft"
