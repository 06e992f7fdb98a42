"""Plain-text non-delivery reports: which addresses failed, and what the remote server said.

The last resort, after DSN, ARF and flufl.bounce. Addresses are taken only from the shapes
that MTAs give the failed recipient's line (Postfix and qmail "<addr>:", Exim's indented
address, Sendmail "addr... reason", "RCPT TO:<addr>", Gmail and Exchange sentences…), never from
any address in the prose, and only in the bounce's own words (not the returned message).
"""

from __future__ import annotations

import re

from mailer.bounces.addresses import ADDRESS, clean_address, is_system_address
from mailer.bounces.classify import AFTER_DATA
from mailer.bounces.codes import status_from_text

__all__ = [
    "MARKERS",
    "diagnostic_for",
    "failed_addresses",
    "has_marker",
    "is_warning",
    "refused_after_data",
]

_A = ADDRESS.pattern
# What each family of mail systems writes at the top of its report.
MARKERS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "postfix": r"this is the mail system at host|in reply to (?:rcpt to|end of data|mail from)",
        "exim": r"smtp error from remote mail server|following address\(es\) failed"
        r"|created automatically by mail delivery software",
        "sendmail": r"-{3,} ?the following addresses had (?:permanent fatal|transient non-fatal)"
        r" errors|transcript of session follows",
        "qmail": r"this is the qmail-send program",
        "exchange": r"delivery has failed to these recipients or groups|resolver\.adr\."
        r"|diagnostic information for administrators|your message to .{1,200} couldn't be"
        r" delivered",
        "gmail": r"the email account that you tried to reach|address not found\b|delivery to the"
        r" following recipients? (?:failed|has been delayed)|wasn't delivered to",
        "yahoo": r"unable to deliver (?:your )?message to the following address",
        "ses": r"an error occurred while trying to deliver the mail to the following recipients",
        "opensmtpd": r"an error has occurred while attempting to deliver a message for",
        "james": r"error message below:",  # Apache James, Verizon
        "x1": r"the following addresses had delivery errors|could not be delivered to:",
        "x6": r"we had trouble delivering your message|recipients returned permanent errors",
    }.items()
}
# Lines that name a failed recipient; group 1 is the address.
# (a bullet, Sendmail's ">>>", or the SMTP code the line starts with: "554 <addr>... error")
_BULLET = r"^[ \t]*(?:(?:[*\u2022]|>{1,3}|-{1,2})[ \t]*)?(?:[45]\d\d[ \t]+)?"
_SHAPES = tuple(
    re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    for pattern in (
        # Postfix, qmail, Yahoo "<addr>:", and "[addr]:"
        rf"{_BULLET}[<\[]({_A})[>\]][ \t]*(?::|\.\.\.|$)",
        # Exim, Exchange, Gmail: the address alone on its line, maybe quoted or with a mailto
        rf"{_BULLET}[\"'<]?({_A})[\"'>]?[ \t]*(?:<[^>\n]{{1,330}}>|\([^)\n]{{1,330}}\))?[ \t]*:?"
        rf"[ \t]*$",
        # Sendmail "addr... User unknown", "addr - no such user", Exchange "addr on <date>"
        rf"{_BULLET}<?({_A})>?(?:\.\.\.|[ \t]+(?:\.\.\.|-{{1,2}}|on)[ \t])",
        # "Recipient: addr", "Unknown user: addr", "Error-for: addr", "Intended recipient: …"
        rf"^[ \t]*[\w' \-]{{0,40}}(?:recipient|address|user|userid|error-for|addressee)s?"
        rf"(?:\([^)\n]{{0,10}}\))?[ \t]*:[ \t]*[<\[(\"']?(?:smtp:)?({_A})",
        rf"rcpt to:[ \t]*<?({_A})>?",  # an SMTP transcript, or Apache James's summary
        # OpenSMTPD "addr: reason", and "addr [reason]"
        rf"^({_A}):[ \t]+\S",
        rf"^({_A})[ \t]+\[[^\]\n]{{1,100}}\][ \t]*$",
        rf"recipients? returned (?:permanent|temporary|transient) errors?:[ \t]*<?({_A})",
        rf"(?:delivered|deliver (?:the|your) message|delivery|addressed) to:?[ \t]+"
        rf"(?:local user[ \t]+)?[<'\"]?({_A})",  # Gmail, O365, "addressed to 'addr'"
        rf"your message to[ \t]+<?({_A})>?[ \t]+(?:couldn't|could not|was not|wasn't|was (?:\w+ )?"
        r"rejected)",
        rf"delivery failed[^:\n]{{0,30}}:[ \t]*<?({_A})",
        # the address we sent to, before the remote system forwarded it
        rf"\((?:expanded|generated) from:?[ \t]*<?({_A})>?\)",
        rf"(?:original|final)-recipient:[ \t]*rfc822;[ \t]*<?({_A})",  # a DSN pasted as text
    )
)
_WARNING = re.compile(
    r"\bdelayed\b|not yet been delivered|will (?:continue|keep)"
    r" (?:trying|to try|retrying)|still (?:being )?(?:trying|retried)|will (?:be )?retr(?:y|ied)"
    r"|this is (?:only )?a warning|warning: message|transient non-fatal|delivery incomplete"
    r"|(?:attempts|delivery) will continue|will continue to (?:try|be made)|postponed"
    r"|do not need to (?:re)?send|no action is required",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)?|fatal|giving up|not going to try again"
    r"|has been returned|returned to sender|will not be retried|delivery has failed",
    re.IGNORECASE,
)


def has_marker(notice: str) -> bool:
    return any(pattern.search(notice) for pattern in MARKERS.values())


def is_warning(notice: str) -> bool:
    """A delay notice ("will retry", "has not yet been delivered"), not a final failure."""
    return bool(_WARNING.search(notice)) and not _PERMANENT.search(notice)


def failed_addresses(notice: str, exclude: frozenset[str]) -> list[str]:
    """The failed recipients named in the notice, in order of appearance."""
    found: list[tuple[int, str]] = []
    for shape in _SHAPES:
        for match in shape.finditer(notice):
            address = clean_address(match.group(1))
            if address and address not in exclude and not is_system_address(address):
                found.append((match.start(1), address))
    return list(dict.fromkeys(address for _, address in sorted(found)))


def _first_mention(lines: list[str], address: str) -> int | None:
    return next((i for i, line in enumerate(lines) if address in line.lower()), None)


def refused_after_data(notice: str, address: str) -> bool:
    """Whether the notice says the refusal of `address` answered the message's DATA: looked
    for in the dozen lines from the address's first mention (a Sendmail transcript follows
    the address after a blank line)."""
    lines = notice.split("\n")
    index = _first_mention(lines, address)
    if index is None:
        return False
    # Joined with spaces: Postfix wraps "(in reply to end of DATA command)" anywhere.
    return bool(AFTER_DATA.search(" ".join(" ".join(lines[index : index + 12]).split())))


_ENTRY = re.compile(rf"^[ \t]*[\"'<\[]?({_A})[\"'>\]]?[ \t]*(?::|\.\.\.|$)", re.IGNORECASE)


def _starts_another_entry(line: str, address: str) -> bool:
    """`line` begins another recipient's entry: `<addr>:`, `"addr":`, an address alone."""
    match = _ENTRY.match(line)
    return match is not None and clean_address(match.group(1)) != address


def diagnostic_for(notice: str, address: str) -> str:
    """What the report says about `address`: the lines from its first mention to the end of
    its paragraph, or the first line with an SMTP code when that paragraph has none."""
    lines = notice.split("\n")
    index = _first_mention(lines, address)
    window: list[str] = []
    if index is not None:
        blank = 0
        for line in lines[index : index + 16]:
            blank = blank + 1 if not line.strip() else 0
            # a second blank line, or the next recipient's entry (indented lines continue)
            if blank >= 2 or (window and _starts_another_entry(line, address)):
                break
            window.append(line)
    text = " ".join(" ".join(window).split())
    if status_from_text(text):
        return text[:1000]
    # The reply is elsewhere (Gmail's "The response from the remote server was:" paragraph).
    for i, line in enumerate(lines[:5000]):
        if status_from_text(line):
            paragraph = []
            for follow in lines[i : i + 8]:
                if not follow.strip():
                    break
                paragraph.append(follow)
            return " ".join(" ".join(paragraph).split())[:1000]
    return text[:1000]
