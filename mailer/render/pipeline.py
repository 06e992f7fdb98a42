"""Compile an issue once (Jinja2 → MJML → mjml-python → premailer), personalise it per recipient.

`compile_issue` is the expensive step and runs once per issue. `personalise` only joins
pre-encoded bytes with the recipient's escaped values: no MJML, no premailer, no parsing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup, escape
from mjml import mjml2html
from premailer import Premailer

from mailer.config import BrandConfig, SenderConfig
from mailer.domain import PersonalLinks, Recipient
from mailer.issues.model import Article, Event, Issue, Person, plain_text
from mailer.render.html import HtmlWriter
from mailer.render.labels import Labels, labels_for
from mailer.render.message import MessageTemplate, personal_values
from mailer.render.slots import SlotTemplate, slot
from mailer.render.text import issue_text
from mailer.render.typography import typographer

__all__ = ["CompiledIssue", "compile_issue", "personal_values", "personalise"]

# System fonts only: no request to a font server when the e-mail is opened.
FONT_STACK = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_DOCTYPE = "<!doctype html>"


@dataclass(frozen=True, slots=True)
class CompiledIssue:
    """An issue rendered once, with personal slots left open."""

    subject: str
    preheader: str
    language: str
    html: SlotTemplate
    text: SlotTemplate
    message: MessageTemplate
    digest: str


def compile_issue(
    issue: Issue,
    *,
    brand: BrandConfig,
    sender: SenderConfig,
    templates: jinja2.Environment,
) -> CompiledIssue:
    """Render `issue` to its final HTML and text, with slots for the personal parts."""
    labels = labels_for(issue.front.language)
    typography = typographer(issue.front.language)
    writer = HtmlWriter(labels, typography)
    context = _context(issue, brand, labels, writer)
    mjml_source = templates.get_template("email/issue.mjml").render(context)
    rendered = mjml2html(mjml_source, disable_comments=True, fonts={})
    final = _inline_css(rendered)
    text = issue_text(issue, labels, typography, brand)
    html_template = SlotTemplate.parse(final)
    text_template = SlotTemplate.parse(text)
    digest = hashlib.sha256((final + "\0" + text).encode("utf-8")).hexdigest()
    message = MessageTemplate.build(
        subject=issue.front.subject,
        sender=sender,
        html=html_template,
        text=text_template,
        boundary_seed=digest,
    )
    return CompiledIssue(
        subject=issue.front.subject,
        preheader=issue.front.preheader,
        language=issue.front.language,
        html=html_template,
        text=text_template,
        message=message,
        digest=digest,
    )


def personalise(
    compiled: CompiledIssue,
    recipient: Recipient,
    links: PersonalLinks,
    *,
    message_id: str,
    date: dt.datetime | None = None,
) -> bytes:
    """The complete message for one recipient, as bytes ready for SMTP DATA."""
    return compiled.message.render(recipient, links, message_id=message_id, date=date)


def personal_html(compiled: CompiledIssue, recipient: Recipient, links: PersonalLinks) -> str:
    """The HTML part for one recipient, as text (for previews and the web archive)."""
    values = personal_values(recipient, links)
    return compiled.html.fill({k: html.escape(v, quote=True) for k, v in values.items()})


def personal_text(compiled: CompiledIssue, recipient: Recipient, links: PersonalLinks) -> str:
    return compiled.text.fill(personal_values(recipient, links))


# ---------------------------------------------------------------- internals


def _inline_css(rendered: str) -> str:
    transformed = Premailer(
        rendered,
        allow_network=False,
        keep_style_tags=True,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform(pretty_print=False)
    # premailer (lxml) drops the doctype; without it clients render in quirks mode.
    body = re.sub(r"^\s*<!DOCTYPE[^>]*>\s*", "", str(transformed), flags=re.IGNORECASE)
    return f"{_DOCTYPE}\n{body}"


def _context(
    issue: Issue, brand: BrandConfig, labels: Labels, writer: HtmlWriter
) -> dict[str, Any]:
    front = issue.front
    footer = issue.footer
    website_label = re.sub(r"^https?://", "", brand.website).rstrip("/")
    return {
        "fonts": FONT_STACK,
        "brand": brand,
        "labels": labels,
        "issue": {
            "language": front.language,
            "subject": front.subject,
            "preheader": front.preheader,
            "newsletter": front.newsletter,
            "number": front.number,
            "month_year": labels.month_year(front.date),
            "toc_title": front.toc_title or labels.toc,
        },
        "personal": {
            name: Markup(slot(name))  # noqa: S704 - a fixed ASCII marker
            for name in ("view_online_url", "preferences_url", "unsubscribe_url")
        },
        "contact_phone_href": _phone_href(brand.contact_phone),
        "sent_to": escape(labels.sent_to).replace("{email}", Markup(slot("email"))),  # noqa: S704
        "toc": [
            {
                "title": section.title,
                "anchor": section.anchor,
                "entries": [
                    {
                        "label": labels.article_label(article),
                        "title": writer.inlines(article.title),
                        "anchor": article.anchor,
                    }
                    for article in section.articles
                ],
            }
            for section in issue.sections
        ],
        "intro": writer.blocks(issue.intro) if issue.intro else "",
        "sections": [
            {
                "title": section.title,
                "anchor": section.anchor,
                "content": [_item(item, labels, writer) for item in section.items],
            }
            for section in issue.sections
        ],
        "footer": {
            "note": writer.inlines(footer.note),
            "editors": writer.text(", ".join(footer.editors)),
            "contact": writer.inlines(footer.contact),
            "publisher": footer.publisher or brand.name,
            "website_label": website_label,
        },
    }


def _item(item: Any, labels: Labels, writer: HtmlWriter) -> dict[str, Any]:
    if isinstance(item, Article):
        return {
            "kind": "article",
            "anchor": item.anchor,
            "label": labels.article_label(item),
            "title": writer.inlines(item.title),
            "title_text": plain_text(item.title),
            "body": writer.blocks(item.body),
            "notes": [
                {"number": note.number, "html": writer.inlines(note.children)}
                for note in item.footnotes
            ],
            "signatures": [_person(p) for p in item.signatures],
            "event": _event(item.event, labels, writer) if item.event else None,
        }
    return {"kind": "block", "html": writer.blocks((item,))}  # a paragraph or a meeting list


def _phone_href(phone: str) -> str:
    """A tel: link; Belgian numbers written locally (081/24.90.22) get the +32 prefix."""
    digits = re.sub(r"[^\d+]", "", phone)
    if not digits:
        return ""
    if digits.startswith("00"):
        return "tel:+" + digits[2:]
    return "tel:" + ("+32" + digits[1:] if digits.startswith("0") else digits)


def _person(person: Person) -> dict[str, str]:
    return {
        "name": person.name,
        "role": person.role,
        "phone": person.phone,
        "phone_href": _phone_href(person.phone),
        "email": person.email,
    }


def _event(event: Event, labels: Labels, writer: HtmlWriter) -> dict[str, Any]:
    map_url = ""
    if event.address:
        query = ", ".join(x for x in (event.place, *event.address) if x)
        map_url = "https://www.openstreetmap.org/search?query=" + urllib.parse.quote(query)
    return {
        "day": str(event.date.day),
        "month": labels.months[event.date.month - 1],
        "when": labels.event_when(event),
        "place": writer.text(event.place),
        "address": [writer.text(line) for line in event.address],
        "map_url": map_url,
        "info": writer.inlines(event.info),
        "link": event.link,
        "link_label": event.link_label or labels.more_info,
    }
