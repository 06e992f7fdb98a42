"""The plain-text part, written from the issue model (not scraped from the HTML).

Readable in any client and by screen readers: wrapped at 72 columns, headings underlined,
links numbered in the text and listed with their addresses under each article.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from mailer.config import BrandConfig
from mailer.issues.model import (
    Article,
    Block,
    BulletList,
    Emphasis,
    Event,
    FootnoteRef,
    Image,
    Inline,
    Issue,
    LineBreak,
    Link,
    MeetingList,
    OrderedList,
    Paragraph,
    Quote,
    Strong,
    Subheading,
    Text,
    plain_text,
)
from mailer.render.labels import Labels
from mailer.render.slots import slot

__all__ = ["TextWriter", "issue_text"]

WIDTH = 72
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _superscript(number: int) -> str:
    """Footnote numbers as superscripts, so they don't look like the [n] link references."""
    return str(number).translate(_SUPERSCRIPTS)


class TextWriter:
    """Writes one article (or other block run) as text, collecting its links as [n] references."""

    def __init__(self, labels: Labels, typography: Callable[[str], str]) -> None:
        self.labels = labels
        self.typography = typography
        self.links: list[str] = []

    def take_links(self) -> list[str]:
        lines = [f"[{n}] {href}" for n, href in enumerate(self.links, start=1)]
        self.links = []
        return lines

    def inlines(self, nodes: tuple[Inline, ...]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, Text):
                out.append(self.typography(node.text))
            elif isinstance(node, Emphasis | Strong):
                out.append(self.inlines(node.children))
            elif isinstance(node, Link):
                label = self.inlines(node.children)
                bare = node.href.removeprefix("mailto:")
                if label.strip() in (node.href, bare):
                    out.append(label)
                else:
                    if node.href not in self.links:
                        self.links.append(node.href)
                    out.append(f"{label} [{self.links.index(node.href) + 1}]")
            elif isinstance(node, FootnoteRef):
                out.append(_superscript(node.number))
            elif isinstance(node, LineBreak):
                out.append("\n")
        return "".join(out)

    def wrap(self, text: str, indent: str = "", first: str | None = None) -> list[str]:
        lines: list[str] = []
        for number, part in enumerate(text.split("\n")):
            lines.extend(
                textwrap.wrap(
                    part,
                    WIDTH,
                    initial_indent=(first if first is not None and number == 0 else indent),
                    subsequent_indent=indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                or [indent.rstrip()]
            )
        return lines

    def blocks(self, blocks: tuple[Block, ...], indent: str = "") -> list[str]:
        lines: list[str] = []
        for block in blocks:
            if lines:
                lines.append("")
            lines.extend(self.block(block, indent))
        return lines

    def block(self, block: Block, indent: str = "") -> list[str]:
        if isinstance(block, Paragraph):
            return self.wrap(self.inlines(block.children), indent)
        if isinstance(block, Subheading):
            title = self.inlines(block.children)
            return [indent + title, indent + "~" * min(len(title), WIDTH - len(indent))]
        if isinstance(block, BulletList | OrderedList):
            lines = []
            for position, item in enumerate(block.items):
                if isinstance(block, BulletList):
                    marker = "  * "
                else:
                    marker = f"  {block.start + position}. "
                body = self.blocks(item, indent + " " * len(marker))
                if body:
                    body[0] = indent + marker + body[0].lstrip()
                lines.extend(body)
            return lines
        if isinstance(block, Quote):
            return self.blocks(block.children, indent + "  > ")
        if isinstance(block, Image):
            text = f"[{block.alt}]" + (f" {block.caption}" if block.caption else "")
            return self.wrap(text, indent)
        return self.meetings(block, indent)

    def meetings(self, block: MeetingList, indent: str = "") -> list[str]:
        lines = []
        for meeting in block.meetings:
            parts = [self.labels.short_date(meeting.date)]
            if meeting.time:
                parts.append(self.labels.time(meeting.time))
            text = ", ".join(parts) + self.labels.colon + meeting.body
            if meeting.place:
                text += f" ({meeting.place})"
            lines.extend(self.wrap(self.typography(text), indent + "    ", indent + "  - "))
        return lines

    def event(self, event: Event) -> list[str]:
        labels = self.labels
        items = [f"{labels.when}{labels.colon}{labels.event_when(event)}"]
        where = ", ".join(x for x in (event.place, *event.address) if x)
        if where:
            items.append(f"{labels.where}{labels.colon}{where}")
        if event.link:
            items.append(f"{event.link_label or labels.more_info}{labels.colon}{event.link}")
        lines = [labels.practical, ""]
        for item in items:
            lines.extend(self.wrap(self.typography(item), "    ", "  - "))
        if event.info:
            lines.extend(self.wrap(self.inlines(event.info), "    ", "  - "))
        return lines

    def article(self, article: Article) -> list[str]:
        title = self.inlines(article.title)
        lines = []
        label = self.labels.article_label(article)
        if label:
            lines.append(label.upper())
        lines.extend(self.wrap(title))
        lines.append("-" * min(max(len(x) for x in self.wrap(title)), WIDTH))
        lines.append("")
        lines.extend(self.blocks(article.body))
        if article.event:
            lines.extend(["", *self.event(article.event)])
        for note in article.footnotes:
            lines.append("")
            marker = _superscript(note.number) + " "
            lines.extend(self.wrap(self.inlines(note.children), "   ", marker))
        for person in article.signatures:
            details = ", ".join(
                x for x in (person.name, person.role, person.phone, person.email) if x
            )
            lines.extend(["", *self.wrap("— " + details)])
        links = self.take_links()
        if links:
            lines.extend(["", *links])
        return lines


def issue_text(
    issue: Issue, labels: Labels, typography: Callable[[str], str], brand: BrandConfig
) -> str:
    """The whole plain-text part, with personal slots for links and the address."""
    front = issue.front
    writer = TextWriter(labels, typography)
    masthead = (
        f"{front.newsletter} {labels.number} {front.number} — {labels.month_year(front.date)}"
    )
    out: list[str] = [masthead, "=" * min(len(masthead), WIDTH), ""]
    out.append(f"{labels.view_online}{labels.colon}{slot('view_online_url')}")
    out.append("")
    toc_title = (front.toc_title or labels.toc).upper()
    out.extend([toc_title, "-" * len(toc_title)])
    for section in issue.sections:
        out.append(section.title.upper())
        for article in section.articles:
            label = labels.article_label(article)
            entry = (label + " — " if label else "") + plain_text(article.title)
            out.extend(writer.wrap(typography(entry), "      ", "  * "))
    if issue.intro:
        out.extend(["", *writer.blocks(issue.intro)])
        intro_links = writer.take_links()
        if intro_links:
            out.extend(["", *intro_links])
    for section in issue.sections:
        title = section.title.upper()
        out.extend(["", "", "=" * min(len(title), WIDTH), title, "=" * min(len(title), WIDTH)])
        for item in section.items:
            out.append("")
            if isinstance(item, Article):
                out.extend(writer.article(item))
            else:
                out.extend(writer.block(item))
                links = writer.take_links()
                if links:
                    out.extend(["", *links])
    out.extend(["", "", "-" * WIDTH])
    footer = issue.footer
    if footer.note:
        out.extend(writer.wrap(writer.inlines(footer.note)))
    if footer.editors:
        out.extend(
            writer.wrap(typography(f"{labels.editors}{labels.colon}{', '.join(footer.editors)}"))
        )
    if footer.contact:
        out.extend(writer.wrap(writer.inlines(footer.contact)))
    publisher = footer.publisher or brand.name
    out.extend(writer.wrap(", ".join(x for x in (publisher, brand.postal_address) if x)))
    contact = ", ".join(x for x in (brand.contact_email, brand.contact_phone) if x)
    if contact:
        out.append(f"{labels.contact}{labels.colon}{contact}")
    out.append(brand.website)
    links = writer.take_links()
    if links:
        out.extend(["", *links])
    out.append("")
    out.append(labels.sent_to.format(email=slot("email")))
    out.append(f"{labels.preferences}{labels.colon}{slot('preferences_url')}")
    out.append(f"{labels.unsubscribe}{labels.colon}{slot('unsubscribe_url')}")
    return "\n".join(line.rstrip() for line in out) + "\n"
