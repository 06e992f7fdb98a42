"""Checks on a rendered e-mail: will it arrive whole, readable and accessible in real clients?

Each check returns a `CheckResult` (ok / warn / fail) with a short detail; `mailer render`
prints them as a table and `--check` turns a failure into exit code 1.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

import lxml.html
from lxml.html import HtmlElement

__all__ = [
    "GMAIL_CLIP_BYTES",
    "GMAIL_STYLE_BYTES",
    "MIN_FONT_PX",
    "CheckResult",
    "Status",
    "run_checks",
]

GMAIL_CLIP_BYTES = 102_000  # Gmail shows "[Message clipped]" past about 102 KB of HTML
SIZE_WARNING_BYTES = 90_000
GMAIL_STYLE_BYTES = 16_384  # Gmail drops <style> blocks larger than this
MIN_FONT_PX = 14.0
_DEFAULT_FONT_PX = 16.0
_FONT_SIZE = re.compile(r"(?:^|;)\s*font-size\s*:\s*([\d.]+)\s*(px|pt|em|rem|%)?", re.IGNORECASE)
# Only display:none hides text from readers; mso-hide:all hides it from Outlook alone.
_HIDDEN = re.compile(r"(?:^|;)\s*display\s*:\s*none", re.IGNORECASE)
_REMOTE_FONT = re.compile(r"@font-face[^}]*url\(\s*['\"]?(https?:)?//", re.IGNORECASE | re.DOTALL)
_TEL = re.compile(r"^tel:\+?[0-9]{3,20}$")


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str


def run_checks(*, html: str, encoded_html_size: int, text: str, language: str) -> list[CheckResult]:
    """Run every check on the personalised HTML and text of one message."""
    document = lxml.html.document_fromstring(html.encode("utf-8"))
    styles = [s.text or "" for s in document.iter("style")]
    return [
        _size(encoded_html_size),
        _style_budget(styles),
        _language(document, language),
        _alt(document),
        _remote_css(document, styles),
        _media_queries(styles),
        _links(document),
        _font_size(document),
        _text_part(text),
    ]


def _size(size: int) -> CheckResult:
    name = "HTML size (encoded)"
    detail = f"{size / 1000:.1f} KB of {GMAIL_CLIP_BYTES / 1000:.0f} KB before Gmail clips"
    if size >= GMAIL_CLIP_BYTES:
        return CheckResult(name, Status.FAIL, detail + ": shorten the issue")
    if size >= SIZE_WARNING_BYTES:
        return CheckResult(name, Status.WARN, detail + ": close to the limit")
    return CheckResult(name, Status.OK, detail)


def _style_budget(styles: list[str]) -> CheckResult:
    total = sum(len(s.encode("utf-8")) for s in styles)
    detail = f"{total / 1024:.1f} KB of <style> (limit {GMAIL_STYLE_BYTES // 1024} KB)"
    return CheckResult(
        "style size", Status.FAIL if total > GMAIL_STYLE_BYTES else Status.OK, detail
    )


def _language(document: HtmlElement, language: str) -> CheckResult:
    lang = document.get("lang", "")
    if lang.lower() == language.lower():
        return CheckResult("<html lang>", Status.OK, f'lang="{lang}"')
    return CheckResult(
        "<html lang>", Status.FAIL, f'lang="{lang}" but the issue is written in "{language}"'
    )


def _alt(document: HtmlElement) -> CheckResult:
    images = list(document.iter("img"))
    missing = [img.get("src", "?") for img in images if not (img.get("alt") or "").strip()]
    if missing:
        return CheckResult(
            "image alt text", Status.FAIL, f"{len(missing)} image(s) without alt: {missing[0]}"
        )
    return CheckResult("image alt text", Status.OK, f"{len(images)} image(s), all with alt")


def _remote_css(document: HtmlElement, styles: list[str]) -> CheckResult:
    name = "no remote CSS or fonts"
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower()
        if "stylesheet" in rel or "font" in (link.get("href") or ""):
            return CheckResult(name, Status.FAIL, f"<link> to {link.get('href')}")
    for css in styles:
        if "@import" in css:
            return CheckResult(name, Status.FAIL, "@import in a <style> block")
        if _REMOTE_FONT.search(css):
            return CheckResult(name, Status.FAIL, "@font-face loads a remote font")
    return CheckResult(name, Status.OK, "none")


def _media_queries(styles: list[str]) -> CheckResult:
    count = sum(css.count("@media") for css in styles)
    if count:
        return CheckResult("@media kept", Status.OK, f"{count} @media rule(s) after inlining")
    return CheckResult("@media kept", Status.FAIL, "no @media rule left: the layout won't adapt")


def _links(document: HtmlElement) -> CheckResult:
    ids = {el.get("id") for el in document.iter() if el.get("id")}
    ids |= {el.get("name") for el in document.iter("a") if el.get("name")}
    count = 0
    for anchor in document.iter("a"):
        if anchor.get("href") is None and not anchor.text_content().strip():
            continue  # an empty jump target (<a name="…">), not a link
        href = (anchor.get("href") or "").strip()
        count += 1
        if not href:
            text = anchor.text_content().strip()[:40]
            return CheckResult("links", Status.FAIL, f"empty link around {text!r}")
        lowered = href.lower()
        if lowered.startswith("#"):
            if href[1:] not in ids:
                return CheckResult("links", Status.FAIL, f"{href} points to no anchor")
            continue
        if re.match(r"^https?://[^/\s]+", lowered) or lowered.startswith("mailto:"):
            if lowered.startswith("mailto:") and "@" not in href:
                return CheckResult("links", Status.FAIL, f"mailto without an address: {href}")
            continue
        if _TEL.match(lowered):
            continue
        return CheckResult("links", Status.FAIL, f"not an absolute http(s)/mailto link: {href}")
    return CheckResult("links", Status.OK, f"{count} links, all absolute or in-message anchors")


def _font_size(document: HtmlElement) -> CheckResult:
    smallest: tuple[float, str] | None = None
    body = document.find("body")
    root = body if body is not None else document
    for size, element in _text_sizes(root, _DEFAULT_FONT_PX):
        if smallest is None or size < smallest[0]:
            smallest = (size, (element.text_content() or "").strip()[:40])
    if smallest is None:
        return CheckResult("body text ≥ 14px", Status.FAIL, "no visible text")
    size, sample = smallest
    if size < MIN_FONT_PX:
        return CheckResult("body text ≥ 14px", Status.FAIL, f"{size:g}px text: {sample!r}")
    return CheckResult("body text ≥ 14px", Status.OK, f"smallest text is {size:g}px")


def _text_sizes(element: HtmlElement, inherited: float) -> Iterator[tuple[float, HtmlElement]]:
    style = element.get("style") or ""
    if _HIDDEN.search(style):
        return  # the preheader and Outlook-only parts are not read on screen
    size = inherited
    if element.tag == "small":
        size *= 0.83
    match = _FONT_SIZE.search(style)
    if match:
        value = float(match.group(1))
        unit = (match.group(2) or "px").lower()
        if unit == "px":
            size = value
        elif unit == "pt":
            size = value * 4 / 3
        elif unit in ("em", "rem"):
            size = (inherited if unit == "em" else _DEFAULT_FONT_PX) * value
        else:
            size = inherited * value / 100
    if (element.text or "").strip():
        yield size, element
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments
        yield from _text_sizes(child, size)
        if (child.tail or "").strip():
            yield size, element


def _text_part(text: str) -> CheckResult:
    words = len(text.split())
    if words == 0:
        return CheckResult("text part", Status.FAIL, "the plain-text part is empty")
    return CheckResult("text part", Status.OK, f"{words} words")
