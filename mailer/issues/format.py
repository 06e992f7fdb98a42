"""Parse an issue source file (TOML front matter + Markdown) into the typed `Issue` model.

The format is documented in `docs/issue-format.md`. Every mistake raises `IssueFormatError`
with the file, the 1-based line and a hint; the parser never returns a half-read issue.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin

from mailer.errors import IssueFormatError
from mailer.issues.model import (
    Article,
    Block,
    BulletList,
    Emphasis,
    Event,
    Footer,
    Footnote,
    FootnoteRef,
    FrontMatter,
    Image,
    Inline,
    Issue,
    LineBreak,
    Link,
    Meeting,
    MeetingList,
    OrderedList,
    Paragraph,
    Person,
    Quote,
    Section,
    Strong,
    Subheading,
    Text,
    plain_text,
)

__all__ = ["parse_issue", "read_issue"]

_FENCE_KINDS = ("signature", "event", "meetings")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--|&[A-Za-z]+;|&#")
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[A-Za-z]{2,}$")
_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?(?::\d{2})?$")
_UNDEFINED_FOOTNOTE = re.compile(r"\[\^([^\]\s]+)\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_FRONT_KEYS: dict[str, bool] = {  # key -> required
    "newsletter": True,
    "number": True,
    "date": True,
    "subject": True,
    "preheader": True,
    "language": True,
    "toc_title": False,
    "footer": False,
}
_FOOTER_KEYS = ("publisher", "note", "editors", "contact")
_SIGNATURE_KEYS = ("name", "role", "phone", "email")
_EVENT_KEYS = (
    "date", "start", "end", "end_date", "place", "address", "info", "link", "link_label",
)  # fmt: skip
_MEETING_KEYS = ("date", "time", "body", "place")


def read_issue(path: Path) -> Issue:
    """Read and parse the issue source at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IssueFormatError(path, None, f"cannot read the file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IssueFormatError(
            path,
            line,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8 (in most editors: 'Save with encoding' → UTF-8)",
        ) from None
    return parse_issue(text, path)


def parse_issue(text: str, path: Path | str = "<issue>") -> Issue:
    """Parse issue source `text`; `path` is only used in error messages."""
    return _Parser(Path(path), text.removeprefix("\ufeff")).parse()


# ---------------------------------------------------------------- the parser


@dataclass
class _ArticleDraft:
    anchor: str
    title: tuple[Inline, ...]
    rubric: str
    line: int
    body: list[Block] = field(default_factory=list)
    signatures: list[Person] = field(default_factory=list)
    event: Event | None = None
    footnote_numbers: list[int] = field(default_factory=list)


@dataclass
class _SectionDraft:
    anchor: str
    title: str
    line: int
    items: list[Article | MeetingList | Paragraph | _ArticleDraft] = field(default_factory=list)


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = text.splitlines()
        self.body_offset = 0  # lines before the Markdown body (front matter)
        self.anchors: set[str] = set()
        self.footnote_numbers: dict[int, int] = {}  # markdown-it footnote id -> issue number
        self.footnote_texts: dict[int, tuple[Inline, ...]] = {}
        self.footnote_labels: dict[int, str] = {}
        self.current_line = 1
        self.language = "en"
        self._article: _ArticleDraft | None = None  # the article being read, for footnotes

    # ------------------------------------------------------------ helpers

    def error(self, line: int | None, message: str, hint: str | None = None) -> IssueFormatError:
        return IssueFormatError(self.path, line, message, hint=hint)

    def file_line(self, token: Token) -> int:
        if token.map:
            return self.body_offset + token.map[0] + 1
        return self.current_line

    def new_anchor(self, text: str) -> str:
        base = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        base = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:48].rstrip("-") or "item"
        anchor, n = base, 2
        while anchor in self.anchors:
            anchor, n = f"{base}-{n}", n + 1
        self.anchors.add(anchor)
        return anchor

    # ------------------------------------------------------------ front matter

    def parse(self) -> Issue:
        front, footer = self.parse_front_matter()
        self.language = front.language
        body = "\n".join(self.lines[self.body_offset :])
        # Tables are parsed only to be refused with their line (they break on phones).
        md = MarkdownIt("commonmark", {"html": True}).enable("table").use(footnote_plugin)
        env: dict[str, Any] = {}
        tokens = md.parse(body, env)
        main, notes = self.split_footnotes(tokens)
        self.collect_footnotes(notes, env)
        intro, sections = self.parse_body(main)
        self.check_unused_footnotes()
        return Issue(
            front=front,
            intro=tuple(intro),
            sections=tuple(sections),
            footer=footer,
            source=str(self.path),
        )

    def parse_front_matter(self) -> tuple[FrontMatter, Footer]:
        if not self.lines or self.lines[0].strip() != "+++":
            raise self.error(
                1,
                "the file must start with a front matter between two '+++' lines",
                hint="begin with '+++', then newsletter = \"…\", number = …, date = …, "
                "subject, preheader, language, then '+++'",
            )
        try:
            end = next(i for i in range(1, len(self.lines)) if self.lines[i].strip() == "+++")
        except StopIteration:
            raise self.error(
                1, "the front matter is never closed", hint="add a line '+++' after its last key"
            ) from None
        self.body_offset = end + 1
        data = self.load_toml("\n".join(self.lines[1:end]), first_line=2, what="front matter")
        for key in data:
            if key not in _FRONT_KEYS:
                raise self.error(
                    self.key_line(key, 2, end),
                    f"unknown front-matter key '{key}'",
                    hint="known keys: " + ", ".join(_FRONT_KEYS),
                )
        for key, required in _FRONT_KEYS.items():
            if required and key not in data:
                raise self.error(
                    end + 1, f"missing front-matter key '{key}'", hint=_FRONT_HINTS.get(key)
                )

        def line_of(key: str) -> int:
            return self.key_line(key, 2, end)

        newsletter = self.front_string(data, "newsletter", line_of)
        number = data["number"]
        if isinstance(number, bool) or not isinstance(number, int | str) or not str(number).strip():
            raise self.error(
                line_of("number"), "'number' must be a positive integer or a short label"
            )
        if isinstance(number, int) and number < 1:
            raise self.error(line_of("number"), "'number' must be 1 or more")
        date = data["date"]
        if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
            raise self.error(
                line_of("date"),
                f"'date' must be a date, got {date!r}",
                hint="write it unquoted as YYYY-MM-DD, e.g. date = 2020-01-31",
            )
        subject = self.front_string(data, "subject", line_of, max_length=200)
        preheader = self.front_string(data, "preheader", line_of, max_length=200)
        if _HTML_TAG.search(preheader):
            raise self.error(
                line_of("preheader"),
                "the preheader must be plain text, not HTML",
                hint="inboxes show it as text: remove tags and entities",
            )
        language = self.front_string(data, "language", line_of)
        if not _LANGUAGE.match(language):
            raise self.error(
                line_of("language"),
                f"'language' must be a language tag like 'fr' or 'nl-BE', got {language!r}",
            )
        toc_title = self.front_string(data, "toc_title", line_of, required=False)
        self.language = language
        footer = self.parse_footer(data.get("footer", {}), end)
        front = FrontMatter(
            newsletter=newsletter,
            number=str(number).strip(),
            date=date,
            subject=subject,
            preheader=preheader,
            language=language,
            toc_title=toc_title,
        )
        return front, footer

    def front_string(
        self,
        data: dict[str, Any],
        key: str,
        line_of: Callable[[str], int],
        *,
        max_length: int = 300,
        required: bool = True,
    ) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise self.error(line_of(key), f"'{key}' must be a string in quotes, got {value!r}")
        value = value.strip()
        if required and not value:
            raise self.error(line_of(key), f"'{key}' must not be empty")
        if "\n" in value or "\r" in value or _CONTROL.search(value):
            raise self.error(line_of(key), f"'{key}' must be a single line of text")
        if len(value) > max_length:
            raise self.error(
                line_of(key), f"'{key}' is {len(value)} characters long; the limit is {max_length}"
            )
        return value

    def parse_footer(self, table: Any, end: int) -> Footer:
        first = next(
            (i + 1 for i in range(end) if self.lines[i].strip().startswith("[footer")), end
        )
        if not isinstance(table, dict):
            raise self.error(first, "'footer' must be a table: [footer]")
        for key in table:
            if key not in _FOOTER_KEYS:
                raise self.error(
                    self.key_line(key, first, end),
                    f"unknown key '{key}' in [footer]",
                    hint="known keys: " + ", ".join(_FOOTER_KEYS),
                )

        def text(key: str) -> str:
            value = table.get(key, "")
            if not isinstance(value, str):
                raise self.error(self.key_line(key, first, end), f"footer.{key} must be a string")
            return value.strip()

        editors = table.get("editors", [])
        if not isinstance(editors, list) or not all(isinstance(e, str) for e in editors):
            raise self.error(
                self.key_line("editors", first, end), "footer.editors must be a list of names"
            )
        return Footer(
            publisher=text("publisher"),
            editors=tuple(e.strip() for e in editors if e.strip()),
            note=self.inline_markdown(text("note"), self.key_line("note", first, end)),
            contact=self.inline_markdown(text("contact"), self.key_line("contact", first, end)),
        )

    def key_line(self, key: str, first: int, last: int) -> int:
        """The 1-based line of `key = …` between lines `first` and `last` (best effort)."""
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for index in range(first - 1, min(last, len(self.lines))):
            if pattern.match(self.lines[index]):
                return index + 1
        return first

    def load_toml(self, text: str, *, first_line: int, what: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            found = re.search(r"\(at line (\d+), column \d+\)", message)
            line = first_line + int(found.group(1)) - 1 if found else first_line
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
            raise self.error(
                line,
                f"invalid TOML in the {what}: {message}",
                hint='strings need "quotes", dates are written 2020-01-31 without quotes',
            ) from None

    # ------------------------------------------------------------ footnotes

    def split_footnotes(self, tokens: list[Token]) -> tuple[list[Token], list[Token]]:
        for index, token in enumerate(tokens):
            if token.type == "footnote_block_open":
                return tokens[:index], tokens[index:]
        return tokens, []

    def collect_footnotes(self, notes: list[Token], env: dict[str, Any]) -> None:
        """Read footnote definitions now; they are numbered later, in order of first reference."""
        current: int | None = None
        parts: list[Inline] = []
        for token in notes:
            if token.type == "footnote_open":
                current = int(token.meta["id"])
                self.footnote_labels[current] = str(token.meta.get("label", current))
                parts = []
            elif token.type == "inline" and current is not None:
                self.current_line = self.file_line(token)
                if parts:
                    parts.append(LineBreak())
                parts.extend(self.inlines(token.children or []))
            elif token.type == "footnote_close" and current is not None:
                self.footnote_texts[current] = tuple(parts)
                current = None
            elif token.type in ("fence", "code_block", "html_block", "bullet_list_open"):
                raise self.error(
                    self.file_line(token),
                    "a footnote may only hold text",
                    hint="keep notes to one paragraph of text and links",
                )
        for index, info in env.get("footnotes", {}).get("list", {}).items():
            self.footnote_labels.setdefault(int(index), str(info.get("label", index)))
        # The footnote plugin keeps a definition nobody refers to only as `":label": -1`.
        for key, note_id in env.get("footnotes", {}).get("refs", {}).items():
            if note_id == -1:
                self.unused_footnote(str(key).removeprefix(":"))

    def check_unused_footnotes(self) -> None:
        for note_id, label in self.footnote_labels.items():
            if note_id not in self.footnote_numbers:
                self.unused_footnote(label)

    def unused_footnote(self, label: str) -> None:
        line = next(
            (i + 1 for i, ln in enumerate(self.lines) if ln.lstrip().startswith(f"[^{label}]:")),
            None,
        )
        raise self.error(
            line,
            f"footnote [^{label}] is defined but never referred to",
            hint=f"add [^{label}] where the note applies, or remove the definition",
        )

    def footnote_ref(self, meta: dict[str, Any], article: _ArticleDraft | None) -> FootnoteRef:
        note_id = int(meta["id"])
        number = self.footnote_numbers.get(note_id)
        if number is None:
            if article is None:
                raise self.error(
                    self.current_line,
                    "footnotes can only be referred to inside an article",
                    hint="move the reference into an article or drop it",
                )
            number = len(self.footnote_numbers) + 1
            self.footnote_numbers[note_id] = number
            article.footnote_numbers.append(number)
        return FootnoteRef(number)

    # ------------------------------------------------------------ body structure

    def parse_body(self, tokens: list[Token]) -> tuple[list[Block], list[Section]]:
        intro: list[Block] = []
        sections: list[_SectionDraft] = []
        article: _ArticleDraft | None = None
        index = 0
        while index < len(tokens):
            token = tokens[index]
            self.current_line = self.file_line(token)
            if token.type == "heading_open" and token.tag in ("h1", "h2"):
                inline = tokens[index + 1]
                if token.tag == "h1":
                    title = plain_text(self.inlines(inline.children or [])).strip()
                    if not title:
                        raise self.error(self.current_line, "a section needs a title")
                    sections.append(_SectionDraft(self.new_anchor(title), title, self.current_line))
                    article = None
                else:
                    if not sections:
                        raise self.error(
                            self.current_line,
                            "an article ('## …') must be inside a section",
                            hint="start a section first with a line '# Section title'",
                        )
                    article = self.start_article(inline)
                    sections[-1].items.append(article)
                self._article = article
                index += 3
                continue
            if token.type == "fence":
                self.fence(token, sections, article)
                index += 1
                continue
            block, index = self.block(tokens, index)
            if article is not None:
                article.body.append(block)
            elif sections:
                if not isinstance(block, Paragraph | MeetingList):
                    raise self.error(
                        self.current_line,
                        "only paragraphs and meeting lists may stand outside an article",
                        hint="start an article with '## Title' before lists, images and quotes",
                    )
                sections[-1].items.append(block)
            else:
                intro.append(block)
        return intro, [self.finish_section(s) for s in sections]

    def start_article(self, inline: Token) -> _ArticleDraft:
        children = self.inlines(inline.children or [])
        rubric = ""
        heading_text = plain_text(children)
        if "|" in heading_text:
            rubric, children = self.split_rubric(children)
        if not plain_text(children).strip():
            raise self.error(
                self.current_line,
                "this article has no title",
                hint="write '## RUBRIC | Title of the article' or '## Title of the article'",
            )
        if rubric == "" and "|" in heading_text:
            raise self.error(self.current_line, "the rubric before '|' is empty")
        anchor = self.new_anchor(plain_text(children))
        return _ArticleDraft(anchor, children, rubric, self.current_line)

    def split_rubric(self, children: tuple[Inline, ...]) -> tuple[str, tuple[Inline, ...]]:
        """Split the heading at the first ' | ' (which may sit inside bold text)."""
        flat = _strip_strong(children)
        for position, node in enumerate(flat):
            if isinstance(node, Text) and "|" in node.text:
                before, _, after = node.text.partition("|")
                rubric = (plain_text(flat[:position]) + before).strip()
                rest = ((Text(after.lstrip()),) if after.strip() else ()) + flat[position + 1 :]
                return rubric, _trim(rest)
        return "", children

    def finish_section(self, draft: _SectionDraft) -> Section:
        items: list[Article | MeetingList | Paragraph] = []
        for item in draft.items:
            if isinstance(item, _ArticleDraft):
                items.append(self.finish_article(item))
            else:
                items.append(item)
        return Section(draft.anchor, draft.title, tuple(items), draft.line)

    def finish_article(self, draft: _ArticleDraft) -> Article:
        footnotes = []
        by_number = {number: note_id for note_id, number in self.footnote_numbers.items()}
        for number in draft.footnote_numbers:
            footnotes.append(Footnote(number, self.footnote_texts.get(by_number[number], ())))
        return Article(
            anchor=draft.anchor,
            title=draft.title,
            rubric=draft.rubric,
            body=tuple(draft.body),
            signatures=tuple(draft.signatures),
            event=draft.event,
            footnotes=tuple(footnotes),
            line=draft.line,
        )

    # ------------------------------------------------------------ blocks

    def block(self, tokens: list[Token], index: int) -> tuple[Block, int]:
        """Parse the block starting at `tokens[index]`; return it and the index after it."""
        token = tokens[index]
        kind = token.type
        if kind == "paragraph_open":
            inline = tokens[index + 1]
            image = self.lone_image(inline)
            if image is not None:
                return image, index + 3
            return Paragraph(self.inlines(inline.children or [])), index + 3
        if kind == "heading_open":
            if token.tag != "h3":
                raise self.error(
                    self.current_line,
                    f"headings deeper than ### are not supported ({token.markup} …)",
                    hint="use '#' for sections, '##' for articles and '###' inside an article",
                )
            if self._article is None:
                raise self.error(self.current_line, "a '###' subheading must be inside an article")
            return Subheading(self.inlines(tokens[index + 1].children or [])), index + 3
        if kind in ("bullet_list_open", "ordered_list_open"):
            close = kind.replace("_open", "_close")
            items: list[tuple[Block, ...]] = []
            index += 1
            while tokens[index].type != close:
                # list_item_open
                index += 1
                item_blocks: list[Block] = []
                while tokens[index].type != "list_item_close":
                    if tokens[index].type == "fence":
                        raise self.error(
                            self.file_line(tokens[index]),
                            "signature, event and meeting blocks cannot stand inside a list",
                        )
                    self.current_line = self.file_line(tokens[index])
                    blk, index = self.block(tokens, index)
                    item_blocks.append(blk)
                items.append(tuple(item_blocks))
                index += 1
            if kind == "ordered_list_open":
                start = int(token.attrs.get("start", 1) or 1)
                return OrderedList(start, tuple(items)), index + 1
            return BulletList(tuple(items)), index + 1
        if kind == "blockquote_open":
            quoted: list[Block] = []
            index += 1
            while tokens[index].type != "blockquote_close":
                self.current_line = self.file_line(tokens[index])
                blk, index = self.block(tokens, index)
                quoted.append(blk)
            return Quote(tuple(quoted)), index + 1
        raise self.unsupported(token)

    def unsupported(self, token: Token) -> IssueFormatError:
        line = self.file_line(token)
        if token.type == "html_block":
            snippet = token.content.strip().splitlines()[0][:40] if token.content.strip() else ""
            return self.error(line, f"raw HTML is not allowed: {snippet!r}", hint=_HTML_HINT)
        if token.type == "hr":
            return self.error(
                line,
                "horizontal rules ('---') are not supported",
                hint="sections are separated automatically; remove the line",
            )
        if token.type == "table_open":
            return self.error(
                line,
                "tables are not supported",
                hint="tables do not fit on a phone: use a list, or a meetings block for dates",
            )
        if token.type == "code_block":
            return self.error(
                line,
                "indented code blocks are not supported",
                hint="remove the indentation (4 spaces make a code block in Markdown)",
            )
        return self.error(line, f"unsupported Markdown construct: {token.type}")

    def lone_image(self, inline: Token) -> Image | None:
        children = [c for c in inline.children or [] if not (c.type == "text" and not c.content)]
        images = [c for c in children if c.type == "image"]
        if not images:
            return None
        if len(children) != 1:
            raise self.error(
                self.current_line,
                "an image must stand alone in its own paragraph",
                hint="put a blank line before and after ![alt](https://…)",
            )
        image = images[0]
        src = str(image.attrs.get("src", ""))
        alt = "".join(c.content for c in image.children or [] if c.type in ("text", "code_inline"))
        if not alt.strip():
            raise self.error(
                self.current_line,
                "this image has no alt text",
                hint="describe the image between the brackets: ![Photo of the forum](https://…)",
            )
        if not src.startswith("https://"):
            raise self.error(
                self.current_line,
                f"image address must be absolute https://, got {src!r}",
                hint="upload the image to your website and use its full https:// address",
            )
        return Image(src=src, alt=alt.strip(), caption=str(image.attrs.get("title", "") or ""))

    # ------------------------------------------------------------ fenced blocks

    def fence(
        self, token: Token, sections: list[_SectionDraft], article: _ArticleDraft | None
    ) -> None:
        kind = token.info.strip().split()[0] if token.info.strip() else ""
        line = self.file_line(token)
        if kind not in _FENCE_KINDS:
            raise self.error(
                line,
                f"code blocks are not supported (```{kind})",
                hint="the only fenced blocks are ```signature, ```event and ```meetings",
            )
        data = self.load_toml(token.content, first_line=line + 1, what=f"{kind} block")
        last = (self.body_offset + token.map[1]) if token.map else line
        if kind == "meetings":
            meetings = self.meeting_list(data, line + 1, last)
            if article is not None:
                article.body.append(meetings)
            elif sections:
                sections[-1].items.append(meetings)
            else:
                raise self.error(line, "a meetings block must be inside a section")
            return
        if article is None:
            raise self.error(
                line,
                f"a {kind} block must be inside an article",
                hint="put it under the article's '## …' heading",
            )
        if kind == "signature":
            article.signatures.append(self.person(data, line + 1, last))
        else:
            if article.event is not None:
                raise self.error(line, "an article can hold only one event block")
            article.event = self.event(data, line + 1, last)

    def check_keys(
        self, data: dict[str, Any], known: Sequence[str], first: int, last: int, what: str
    ) -> None:
        for key in data:
            if key not in known:
                raise self.error(
                    self.key_line(key, first, last),
                    f"unknown key '{key}' in the {what} block",
                    hint="known keys: " + ", ".join(known),
                )

    def block_string(
        self, data: dict[str, Any], key: str, first: int, last: int, *, required: bool = False
    ) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise self.error(self.key_line(key, first, last), f"'{key}' must be a string in quotes")
        if required and not value.strip():
            raise self.error(
                self.key_line(key, first, last) if key in data else first - 1,
                f"'{key}' is required here",
            )
        if _CONTROL.search(value) or "\n" in value.strip():
            raise self.error(self.key_line(key, first, last), f"'{key}' must be one line of text")
        if _HTML_TAG.search(value):
            raise self.error(
                self.key_line(key, first, last), f"'{key}' must not contain HTML", hint=_HTML_HINT
            )
        return value.strip()

    def person(self, data: dict[str, Any], first: int, last: int) -> Person:
        self.check_keys(data, _SIGNATURE_KEYS, first, last, "signature")
        email = self.block_string(data, "email", first, last)
        if email and not _EMAIL.match(email):
            raise self.error(self.key_line("email", first, last), f"invalid e-mail {email!r}")
        return Person(
            name=self.block_string(data, "name", first, last, required=True),
            role=self.block_string(data, "role", first, last),
            phone=self.block_string(data, "phone", first, last),
            email=email,
        )

    def block_date(self, data: dict[str, Any], key: str, first: int, last: int) -> dt.date:
        value = data.get(key)
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.error(
                self.key_line(key, first, last) if key in data else first - 1,
                f"'{key}' must be a date like 2020-02-21 (no quotes)"
                + (f", got {value!r}" if value is not None else ""),
            )
        return value

    def block_time(self, data: dict[str, Any], key: str, first: int, last: int) -> dt.time | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.time):
            return value
        match = _TIME.match(value.strip()) if isinstance(value, str) else None
        hour = int(match.group(1)) if match else 99
        minute = int(match.group(2) or 0) if match else 99
        if not match or hour > 23 or minute > 59:
            raise self.error(
                self.key_line(key, first, last),
                f'\'{key}\' must be a time like "9:30", "9h30" or "14h", got {value!r}',
            )
        return dt.time(hour, minute)

    def event(self, data: dict[str, Any], first: int, last: int) -> Event:
        self.check_keys(data, _EVENT_KEYS, first, last, "event")
        address = data.get("address", [])
        if isinstance(address, str):
            address = [address]
        if not isinstance(address, list) or not all(isinstance(a, str) for a in address):
            raise self.error(
                self.key_line("address", first, last),
                '\'address\' must be a list of lines, e.g. ["Rue des Tanneries 1", "5000 Namur"]',
            )
        link = self.block_string(data, "link", first, last)
        if link:
            self.check_href(link, self.key_line("link", first, last))
        date = self.block_date(data, "date", first, last)
        end_date = self.block_date(data, "end_date", first, last) if "end_date" in data else None
        if end_date and end_date < date:
            raise self.error(self.key_line("end_date", first, last), "'end_date' is before 'date'")
        info = self.block_string(data, "info", first, last)
        return Event(
            date=date,
            start=self.block_time(data, "start", first, last),
            end_date=end_date,
            end=self.block_time(data, "end", first, last),
            place=self.block_string(data, "place", first, last),
            address=tuple(a.strip() for a in address if a.strip()),
            info=self.inline_markdown(info, self.key_line("info", first, last)),
            link=link,
            link_label=self.block_string(data, "link_label", first, last),
        )

    def meeting_list(self, data: dict[str, Any], first: int, last: int) -> MeetingList:
        self.check_keys(data, ("meeting",), first, last, "meetings")
        entries = data.get("meeting")
        if not isinstance(entries, list) or not entries:
            raise self.error(
                first - 1,
                "a meetings block needs at least one [[meeting]] table",
                hint='[[meeting]]\ndate = 2020-01-31\ntime = "10:00"\nbody = "Bureau"',
            )
        headers = [i + 1 for i in range(first - 1, last) if self.lines[i].strip() == "[[meeting]]"]
        meetings = []
        for position, entry in enumerate(entries):
            start = headers[position] if position < len(headers) else first
            end = headers[position + 1] if position + 1 < len(headers) else last
            self.check_keys(entry, _MEETING_KEYS, start, end, "meeting")
            meetings.append(
                Meeting(
                    date=self.block_date(entry, "date", start + 1, end),
                    body=self.block_string(entry, "body", start + 1, end, required=True),
                    time=self.block_time(entry, "time", start, end),
                    place=self.block_string(entry, "place", start, end),
                )
            )
        return MeetingList(tuple(meetings))

    # ------------------------------------------------------------ inline content

    def inline_markdown(self, text: str, line: int) -> tuple[Inline, ...]:
        """Parse a one-line Markdown string from a TOML value (footer note, event info)."""
        if not text:
            return ()
        saved = self.current_line
        self.current_line = line
        md = MarkdownIt("commonmark", {"html": True})
        tokens = md.parseInline(text, {})
        result = self.inlines(tokens[0].children or []) if tokens else ()
        self.current_line = saved
        return result

    def inlines(self, tokens: list[Token]) -> tuple[Inline, ...]:
        stack: list[tuple[str, list[Inline], str]] = [("root", [], "")]
        line = self.current_line  # advanced at each line break, so errors name the right line
        for token in tokens:
            kind = token.type
            out = stack[-1][1]
            if kind == "text":
                self.check_text(token.content, line)
                if out and isinstance(out[-1], Text):
                    out[-1] = Text(out[-1].text + token.content)
                else:
                    out.append(Text(token.content))
            elif kind == "code_inline":
                out.append(Text(token.content))
            elif kind == "softbreak":
                out.append(Text(" "))
                line += 1
            elif kind == "hardbreak":
                out.append(LineBreak())
                line += 1
            elif kind in ("em_open", "strong_open", "link_open"):
                href = str(token.attrs.get("href", "")) if kind == "link_open" else ""
                if kind == "link_open":
                    self.check_href(href, line)
                stack.append((kind, [], href))
            elif kind in ("em_close", "strong_close", "link_close"):
                opened, children, href = stack.pop()
                node: Inline
                if opened == "em_open":
                    node = Emphasis(tuple(children))
                elif opened == "strong_open":
                    node = Strong(tuple(children))
                else:
                    if not plain_text(tuple(children)).strip():
                        raise self.error(
                            line,
                            f"the link to {href} has no text",
                            hint="write [words to click](address)",
                        )
                    node = Link(href, tuple(children))
                stack[-1][1].append(node)
            elif kind == "footnote_ref":
                self.current_line, saved = line, self.current_line
                out.append(self.footnote_ref(token.meta, self._article))
                self.current_line = saved
            elif kind == "html_inline":
                raise self.error(
                    line, f"raw HTML is not allowed: {token.content!r}", hint=_HTML_HINT
                )
            elif kind == "image":
                raise self.error(
                    line,
                    "an image must stand alone in its own paragraph",
                    hint="put a blank line before and after ![alt](https://…)",
                )
            else:
                raise self.error(line, f"unsupported Markdown construct: {kind}")
        return tuple(stack[0][1])

    def check_text(self, text: str, line: int) -> None:
        found = _UNDEFINED_FOOTNOTE.search(text)
        if found:
            raise self.error(
                line,
                f"footnote {found.group(0)} is referred to but never defined",
                hint=f"add a line '{found.group(0)}: the note's text'",
            )

    def check_href(self, href: str, line: int) -> None:
        if not href.strip():
            raise self.error(line, "a link has no address", hint="write [text](https://…)")
        lowered = href.lower()
        if lowered.startswith("mailto:"):
            if not _EMAIL.match(href[7:].split("?", 1)[0]):
                raise self.error(line, f"invalid e-mail address in link {href!r}")
            return
        if not re.match(r"^https?://[^/\s]+\.[^/\s]+", lowered) and not re.match(
            r"^https?://localhost", lowered
        ):
            raise self.error(
                line,
                f"links must be absolute http(s):// or mailto: addresses, got {href!r}",
                hint="an e-mail has no current page: write the full address, "
                "e.g. https://www.example.org/page",
            )


_HTML_HINT = (
    "use Markdown instead: *emphasis*, **bold**, [text](https://…), "
    "footnotes as [^1] … [^1]: text, a line break as a '\\' at the end of the line"
)
_FRONT_HINTS = {
    "newsletter": 'the newsletter\'s title, e.g. newsletter = "#ActuUNIPSO"',
    "number": "the issue's number, e.g. number = 12",
    "date": "the issue's date, e.g. date = 2020-01-31",
    "subject": 'the e-mail subject, e.g. subject = "Our January news"',
    "preheader": "one plain-text sentence shown after the subject in inboxes",
    "language": 'the language tag, e.g. language = "fr"',
}


def _strip_strong(children: tuple[Inline, ...]) -> tuple[Inline, ...]:
    """Headings copied from a PDF are often bold all over: bold adds nothing to a heading."""
    out: list[Inline] = []
    for node in children:
        if isinstance(node, Strong):
            out.extend(_strip_strong(node.children))
        else:
            out.append(node)
    return tuple(out)


def _trim(children: tuple[Inline, ...]) -> tuple[Inline, ...]:
    items = list(children)
    while items and isinstance(items[0], Text) and not items[0].text.strip():
        items.pop(0)
    while items and isinstance(items[-1], Text) and not items[-1].text.strip():
        items.pop()
    if items and isinstance(items[0], Text):
        items[0] = Text(items[0].text.lstrip())
    if items and isinstance(items[-1], Text):
        items[-1] = Text(items[-1].text.rstrip())
    return tuple(items)
