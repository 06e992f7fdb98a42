"""The typed model of a newsletter issue: plain frozen dataclasses, no Markdown, no ORM.

Text is kept as a small inline tree (`Text`, `Emphasis`, `Strong`, `Link`, ...) so that the HTML
and the plain-text renderers each decide how to present it, and nothing needs re-parsing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "Article",
    "Block",
    "BulletList",
    "Emphasis",
    "Event",
    "Footer",
    "Footnote",
    "FootnoteRef",
    "FrontMatter",
    "Image",
    "Inline",
    "Issue",
    "LineBreak",
    "Link",
    "Meeting",
    "MeetingList",
    "OrderedList",
    "Paragraph",
    "Person",
    "Quote",
    "Section",
    "Strong",
    "Subheading",
    "Text",
    "iter_links",
    "plain_text",
]


# ---------------------------------------------------------------- inline content


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Emphasis:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Strong:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class FootnoteRef:
    """A reference to end-note `number` (numbered across the whole issue, in reading order)."""

    number: int


@dataclass(frozen=True, slots=True)
class LineBreak:
    pass


Inline = Text | Emphasis | Strong | Link | FootnoteRef | LineBreak


# ---------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class Paragraph:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Subheading:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True, slots=True)
class OrderedList:
    start: int
    items: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True, slots=True)
class Quote:
    children: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Image:
    src: str
    alt: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting of a statutory body or working group."""

    date: dt.date
    body: str
    time: dt.time | None = None
    place: str = ""


@dataclass(frozen=True, slots=True)
class MeetingList:
    meetings: tuple[Meeting, ...]


Block = Paragraph | Subheading | BulletList | OrderedList | Quote | Image | MeetingList


# ---------------------------------------------------------------- articles and sections


@dataclass(frozen=True, slots=True)
class Person:
    """An author's signature, or a contact."""

    name: str
    role: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """The practical side of an agenda item: when, where, how to take part."""

    date: dt.date
    start: dt.time | None = None
    end_date: dt.date | None = None
    end: dt.time | None = None
    place: str = ""
    address: tuple[str, ...] = ()
    info: tuple[Inline, ...] = ()
    link: str = ""
    link_label: str = ""


@dataclass(frozen=True, slots=True)
class Footnote:
    number: int
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Article:
    anchor: str
    title: tuple[Inline, ...]
    rubric: str = ""
    body: tuple[Block, ...] = ()
    signatures: tuple[Person, ...] = ()
    event: Event | None = None
    footnotes: tuple[Footnote, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    title: str
    items: tuple[Article | MeetingList | Paragraph, ...] = ()
    line: int = 0

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(item for item in self.items if isinstance(item, Article))


@dataclass(frozen=True, slots=True)
class FrontMatter:
    newsletter: str
    number: str
    date: dt.date
    subject: str
    preheader: str
    language: str
    toc_title: str = ""


@dataclass(frozen=True, slots=True)
class Footer:
    publisher: str = ""
    editors: tuple[str, ...] = ()
    note: tuple[Inline, ...] = ()
    contact: tuple[Inline, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
    front: FrontMatter
    intro: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()
    footer: Footer = field(default_factory=Footer)
    source: str = ""

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(a for s in self.sections for a in s.articles)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(a.event for a in self.articles if a.event is not None)


# ---------------------------------------------------------------- walking the tree


def plain_text(inlines: tuple[Inline, ...]) -> str:
    """The text of an inline tree without formatting (footnote numbers dropped)."""
    out: list[str] = []
    for node in inlines:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Emphasis | Strong | Link):
            out.append(plain_text(node.children))
        elif isinstance(node, LineBreak):
            out.append(" ")
    return "".join(out)


def _inline_links(inlines: tuple[Inline, ...]) -> Iterator[str]:
    for node in inlines:
        if isinstance(node, Link):
            yield node.href
            yield from _inline_links(node.children)
        elif isinstance(node, Emphasis | Strong):
            yield from _inline_links(node.children)


def _block_links(blocks: tuple[Block | Article | Paragraph, ...]) -> Iterator[str]:
    for block in blocks:
        if isinstance(block, Paragraph | Subheading):
            yield from _inline_links(block.children)
        elif isinstance(block, BulletList | OrderedList):
            for item in block.items:
                yield from _block_links(item)
        elif isinstance(block, Quote):
            yield from _block_links(block.children)
        elif isinstance(block, Image):
            yield block.src


def iter_links(issue: Issue) -> Iterator[str]:
    """Every link target written in the issue, in reading order (images included)."""
    yield from _block_links(issue.intro)
    for section in issue.sections:
        for item in section.items:
            if isinstance(item, Paragraph):
                yield from _inline_links(item.children)
            elif isinstance(item, Article):
                yield from _inline_links(item.title)
                yield from _block_links(item.body)
                if item.event:
                    yield from _inline_links(item.event.info)
                    if item.event.link:
                        yield item.event.link
                for person in item.signatures:
                    if person.email:
                        yield f"mailto:{person.email}"
                for note in item.footnotes:
                    yield from _inline_links(note.children)
    yield from _inline_links(issue.footer.note)
    yield from _inline_links(issue.footer.contact)
