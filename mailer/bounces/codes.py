"""SMTP codes in free text: enhanced status codes (RFC 3463, "5.1.1") and basic replies ("550").

The patterns are bounded and anchored on what surrounds a code, so that version numbers
("Exim 4.92.3"), IP addresses and dates are not taken for one, and a megabyte of text costs
one linear scan.
"""

from __future__ import annotations

import re

__all__ = ["basic_code", "enhanced_code", "status_from_text", "status_of_field"]

# class.subject.detail; subjects are 0-7, details up to three digits (5.1.10, 5.7.26).
_ENHANCED = re.compile(r"(?<![\w.])([245])\.([0-7])\.(\d{1,3})(?![\w.]?\d)")
# The reply codes mail systems actually send for failures, with what follows them in a reply
# ("550 ", "550-", "550:") and what can precede them ("said: 550", "<<< 550", "(#550", ";550").
_BASIC = re.compile(
    r"(?<![\w.\-/:@])(4(?:2[01]|5[0-5])|5(?:0[0-4]|[2-5]\d|71))(?=[ \-:\t]|$)",
    re.MULTILINE,
)


def enhanced_code(text: str, classes: str = "45", *, specific: bool = False) -> str:
    """The first enhanced status code of one of `classes` in `text`, or "". With `specific`,
    the first whose detail is not 0 when there is one: a report may give its own generic code
    before the remote server's ("5.1.0 - Unknown address error 550-'5.2.2 …'")."""
    first = ""
    for match in _ENHANCED.finditer(text):
        if match.group(1) not in classes:
            continue
        code = ".".join(match.groups())
        if not specific or not code.endswith(".0"):
            return code
        first = first or code
    return first


def basic_code(text: str) -> str:
    """The first 4xx/5xx SMTP reply code in `text`, or ""."""
    match = _BASIC.search(text)
    return match.group(1) if match else ""


def status_from_text(text: str) -> str:
    """A status for a diagnostic without a Status field: its enhanced code if it has one, else
    its basic reply code's class ("550" → "5.0.0", "452" → "4.0.0"), else ""."""
    code = enhanced_code(text)
    if code:
        return enhanced_code(text, code[0], specific=True)
    basic = basic_code(text)
    return f"{basic[0]}.0.0" if basic else ""


def status_of_field(value: str) -> str:
    """The code in a DSN `Status:` field ("5.1.1 (user unknown)" → "5.1.1"), or ""."""
    match = _ENHANCED.search(value.strip())
    if match:
        return ".".join(match.groups())
    # Some MTAs write a bare "5.0" or "550" in the Status field.
    short = re.match(r"\s*([245])\.([0-7])\b", value)
    if short:
        return f"{short.group(1)}.{short.group(2)}.0"
    basic = basic_code(value)
    return f"{basic[0]}.0.0" if basic else ""
