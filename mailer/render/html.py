"""The editors' content (inline trees and blocks) as HTML fragments for the e-mail templates.

Every piece of text goes through `escape`, so nothing an editor writes becomes markup; the
fragments are returned as `Markup` so the autoescaping templates insert them as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from mailer.issues.model import (
    Block,
    BulletList,
    Emphasis,
    FootnoteRef,
    Image,
    Inline,
    LineBreak,
    Link,
    MeetingList,
    OrderedList,
    Paragraph,
    Quote,
    Strong,
    Subheading,
    Text,
)
from mailer.render.labels import Labels

__all__ = ["HtmlWriter"]

CONTENT_WIDTH = 552  # 600 px e-mail minus 2 × 24 px padding


class HtmlWriter:
    """Writes inline trees and blocks as HTML, in the issue's language and typography."""

    def __init__(self, labels: Labels, typography: Callable[[str], str]) -> None:
        self.labels = labels
        self.typography = typography

    def text(self, value: str) -> Markup:
        return escape(self.typography(value))

    def inlines(self, nodes: tuple[Inline, ...]) -> Markup:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, Text):
                out.append(self.text(node.text))
            elif isinstance(node, Emphasis):
                out.append(f"<em>{self.inlines(node.children)}</em>")
            elif isinstance(node, Strong):
                out.append(f"<strong>{self.inlines(node.children)}</strong>")
            elif isinstance(node, Link):
                out.append(f'<a href="{escape(node.href)}">{self.inlines(node.children)}</a>')
            elif isinstance(node, FootnoteRef):
                n = node.number
                out.append(
                    f'<sup class="fn-ref"><a href="#note-{n}" id="ref-{n}" '
                    f'aria-label="{escape(self.labels.notes)} {n}">{n}</a></sup>'
                )
            elif isinstance(node, LineBreak):
                out.append("<br>")
        return Markup("".join(out))  # noqa: S704 - every piece above is escaped

    def blocks(self, blocks: tuple[Block, ...]) -> Markup:
        return Markup("".join(self.block(b) for b in blocks))  # noqa: S704 - built escaped

    def block(self, block: Block) -> str:
        if isinstance(block, Paragraph):
            return f"<p>{self.inlines(block.children)}</p>"
        if isinstance(block, Subheading):
            return f'<h4 class="subheading">{self.inlines(block.children)}</h4>'
        if isinstance(block, BulletList):
            return "<ul>" + "".join(self.list_item(item) for item in block.items) + "</ul>"
        if isinstance(block, OrderedList):
            start = f' start="{block.start}"' if block.start != 1 else ""
            items = "".join(self.list_item(item) for item in block.items)
            return f"<ol{start}>{items}</ol>"
        if isinstance(block, Quote):
            return f"<blockquote>{self.blocks(block.children)}</blockquote>"
        if isinstance(block, Image):
            caption = (
                f'<span class="caption">{self.text(block.caption)}</span>' if block.caption else ""
            )
            return (
                f'<p class="figure"><img src="{escape(block.src)}" alt="{escape(block.alt)}" '
                f'width="{CONTENT_WIDTH}" class="content-image">{caption}</p>'
            )
        return self.meetings(block)

    def list_item(self, blocks: tuple[Block, ...]) -> str:
        # A tight list item is one paragraph: write its text without <p> margins.
        if len(blocks) == 1 and isinstance(blocks[0], Paragraph):
            return f"<li>{self.inlines(blocks[0].children)}</li>"
        return f"<li>{self.blocks(blocks)}</li>"

    def meetings(self, block: MeetingList) -> str:
        rows = []
        for meeting in block.meetings:
            when = escape(self.labels.short_date(meeting.date))
            weekday = escape(self.labels.weekdays[meeting.date.weekday()][:3] + ".")
            time = f" · {escape(self.labels.time(meeting.time))}" if meeting.time else ""
            place = (
                f'<br><span class="m-place">{self.text(meeting.place)}</span>'
                if meeting.place
                else ""
            )
            rows.append(
                f'<tr><td class="m-date"><strong>{when}</strong> '
                f'<span class="m-day">{weekday}</span></td>'
                f'<td class="m-body"><strong>{self.text(meeting.body)}</strong>'
                f"{time}{place}</td></tr>"
            )
        return (
            '<table class="meetings" role="presentation" width="100%" cellpadding="0" '
            f'cellspacing="0">{"".join(rows)}</table>'
        )
