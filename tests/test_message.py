"""The MIME message: headers, structure, encoding, escaping and header injection.

The sample issue is compiled once per module; each test personalises it (cheap) and parses the
bytes back with the standard library, the way a receiving client would.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import quopri
import random
import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailer.domain import PersonalLinks, Recipient
from mailer.issues.format import read_issue
from mailer.issues.model import Issue
from mailer.render.message import HeaderInjectionError, encode_address
from mailer.render.pipeline import (
    CompiledIssue,
    compile_issue,
    personal_html,
    personal_text,
    personalise,
)
from mailer.render.slots import SLOT_NAMES, SlotTemplate, qp_encode, slot
from mailer.wiring import Services

MESSAGE_ID = "<x@example.org>"
DATE = dt.datetime(2020, 1, 31, 9, 30, tzinfo=dt.UTC)
READER = Recipient("zoe.lefevre@example.org", "Zoë", "Lefèvre")
LINKS = PersonalLinks(
    view_online_url="https://news.example.org/issues/2020-01?t=v1",
    preferences_url="https://news.example.org/preferences?t=p1",
    unsubscribe_url="https://news.example.org/unsubscribe?t=u1",
)


@pytest.fixture(scope="module")
def issue(example_issue: Path) -> Issue:
    return read_issue(example_issue)


def _compile(issue: Issue, services: Services) -> CompiledIssue:
    return compile_issue(
        issue,
        brand=services.config.brand,
        sender=services.config.sender,
        templates=services.templates,
    )


@pytest.fixture(scope="module")
def compiled(issue: Issue, services: Services) -> CompiledIssue:
    return _compile(issue, services)


def build(
    compiled: CompiledIssue,
    recipient: Recipient = READER,
    links: PersonalLinks = LINKS,
    *,
    message_id: str = MESSAGE_ID,
) -> bytes:
    return personalise(compiled, recipient, links, message_id=message_id, date=DATE)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def raw_headers(data: bytes) -> list[bytes]:
    """The top-level header lines, unfolded only as far as splitting at CRLF."""
    head = data.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def crlf_to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def parts(message: EmailMessage) -> tuple[EmailMessage, EmailMessage]:
    text, html = message.iter_parts()
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text, html


# ------------------------------------------------------------------ headers


def test_headers(compiled: CompiledIssue, issue: Issue, services: Services) -> None:
    message = parse(build(compiled))
    sender = services.config.sender

    (from_,) = message["From"].addresses
    assert from_.addr_spec == sender.from_address
    assert from_.display_name == sender.from_name

    (to,) = message["To"].addresses
    assert to.addr_spec == "zoe.lefevre@example.org"
    assert to.display_name == "Zoë Lefèvre"

    assert str(message["Subject"]) == issue.front.subject
    assert message["Date"].datetime == DATE
    assert message["Message-ID"] == MESSAGE_ID
    assert message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe"] == f"<{LINKS.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(message.get_all(name) or []) == 1, name
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert not message.defects


def test_non_ascii_headers_are_rfc2047_encoded(compiled: CompiledIssue) -> None:
    data = build(compiled)
    headers = raw_headers(data)
    for line in headers:
        line.decode("ascii")  # raises if any header octet is not ASCII
    to = b"\r\n".join(h for h in headers if h.startswith((b"To:", b" ", b"\t")))
    assert b"=?utf-8?" in to.lower()
    assert "Zoë".encode() not in to
    subject = next(h for h in headers if h.startswith(b"Subject:"))
    assert subject.lower().startswith(b"subject: =?utf-8?")


def test_ascii_display_name_is_plain(compiled: CompiledIssue) -> None:
    data = build(compiled, Recipient("jean@example.org", "Jean", "Dupont"))
    assert b"\r\nTo: Jean Dupont <jean@example.org>\r\n" in data
    assert str(parse(data)["To"]) == "Jean Dupont <jean@example.org>"


def test_recipient_without_name_gets_a_bare_address(compiled: CompiledIssue) -> None:
    data = build(compiled, Recipient("anon@example.org"))
    assert b"\r\nTo: anon@example.org\r\n" in data


# ------------------------------------------------------------------ structure and encoding


def test_multipart_alternative_text_then_html(compiled: CompiledIssue) -> None:
    message = parse(build(compiled))
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert [p.get_content_type() for p in (text, html)] == ["text/plain", "text/html"]
    for part in (text, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert not part.defects
    assert len(list(message.iter_parts())) == 2


def test_line_lengths(compiled: CompiledIssue) -> None:
    data = build(compiled)
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body = data.split(b"\r\n\r\n", 1)[1]
    too_long = [line for line in body.split(b"\r\n") if len(line) > 76]
    assert not too_long, too_long[:3]


def test_every_line_ends_with_crlf(compiled: CompiledIssue) -> None:
    data = build(compiled)
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.count(b"\r") == data.count(b"\r\n")


def test_long_non_ascii_name_keeps_crlf(compiled: CompiledIssue) -> None:
    """A display name long enough to be folded must be folded with CRLF, not a bare LF."""
    recipient = Recipient(
        "zm@example.org", "Zoë-Marie-Éléonore-Anne-Sophie", "de la Fontaine-Lefèvre-Vandenberghe"
    )
    data = build(compiled, recipient)
    assert data.count(b"\n") == data.count(b"\r\n"), raw_headers(data)[3:6]
    # Decoded with the RFC 2047 decoder: whitespace between two encoded words is not part of
    # the text (§6.2). CPython's newer header parser inserts a space there, so it can't judge.
    raw = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    folded = re.search(r"^To: (.*?)\r\n(?=\S)", raw, re.MULTILINE | re.DOTALL)
    assert folded
    decoded = str(make_header(decode_header(folded.group(1).replace("\r\n", ""))))
    assert decoded == f"{recipient.display_name} <zm@example.org>"


def test_very_long_ascii_name_keeps_lines_under_998(compiled: CompiledIssue) -> None:
    """RFC 5322 §2.1.1: a line MUST NOT exceed 998 octets, whatever the name stored."""
    data = build(compiled, Recipient("long@example.org", "A" * 1000))
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_decoded_parts_equal_personal_html_and_text(compiled: CompiledIssue) -> None:
    text, html = parts(parse(build(compiled)))
    assert crlf_to_lf(html.get_content()) == personal_html(compiled, READER, LINKS)
    assert crlf_to_lf(text.get_content()) == personal_text(compiled, READER, LINKS)
    assert LINKS.unsubscribe_url in text.get_content()
    assert READER.email in html.get_content()


def test_boundary_does_not_occur_in_the_parts(compiled: CompiledIssue) -> None:
    data = build(compiled)
    boundary = parse(data).get_boundary()
    assert boundary
    assert data.count(boundary.encode("ascii")) == 4  # Content-Type, two delimiters, close


# ------------------------------------------------------------------ escaping


def test_personal_values_are_html_escaped(compiled: CompiledIssue) -> None:
    links = PersonalLinks(
        view_online_url=LINKS.view_online_url,
        preferences_url=LINKS.preferences_url,
        unsubscribe_url='https://news.example.org/unsubscribe?t=u1&list="a"',
    )
    recipient = Recipient("tom&jerry@example.org", "<script>alert(1)</script>", "<b>")
    data = build(compiled, recipient, links)
    message = parse(data)
    text, html = parts(message)
    content = html.get_content()
    assert 'href="https://news.example.org/unsubscribe?t=u1&amp;list=&quot;a&quot;"' in content
    assert 'list="a"' not in content
    assert "tom&amp;jerry@example.org" in content
    assert "tom&jerry" not in content
    assert "<script>" not in content
    assert b"<script>" not in data.split(b"\r\n\r\n", 1)[1]  # nowhere in the body
    # The text part carries the raw values, which is right for text/plain.
    assert links.unsubscribe_url in text.get_content()
    assert crlf_to_lf(content) == personal_html(compiled, recipient, links)
    (to,) = message["To"].addresses
    assert to.display_name == "<script>alert(1)</script> <b>"


# ------------------------------------------------------------------ header injection


@pytest.mark.parametrize(
    ("first_name", "last_name"),
    [
        ("Zoë\r\nBcc: x@evil.example", ""),
        ("Eve\r\nBcc: x@evil.example", ""),
        ("Eve", "\nBcc: x@evil.example"),
        ("Eve\rBcc: x@evil.example", ""),
    ],
)
def test_display_name_cannot_add_a_header(
    compiled: CompiledIssue, first_name: str, last_name: str
) -> None:
    data = build(compiled, Recipient("eve@example.org", first_name, last_name))
    message = parse(data)
    assert message["Bcc"] is None
    assert b"\r\nBcc:" not in data
    assert len(message.get_all("To") or []) == 1
    assert message["To"].addresses[0].addr_spec == "eve@example.org"
    assert data.count(b"\n") == data.count(b"\r\n")


@pytest.mark.parametrize(
    "address",
    [
        "eve@example.org\r\nBcc: x@evil.example",
        "eve@example.org\nBcc: x@evil.example",
        "eve@example.org\r",
        "eve @example.org",
        "eve@exa mple.org",
        " eve@example.org",
        "Eve <eve@example.org>",
        "eve@example.org, x@evil.example",
        "eve",
        "",
        "zoë@example.org",
    ],
)
def test_bad_address_raises(compiled: CompiledIssue, address: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build(compiled, Recipient(address, "Eve"))


@pytest.mark.parametrize("address", ["eve\x00@example.org", "e\x1bve@example.org"])
def test_address_with_control_character_raises(compiled: CompiledIssue, address: str) -> None:
    """NUL, ESC and other C0 controls are not CR/LF but must not reach a header either."""
    with pytest.raises(HeaderInjectionError):
        encode_address(address, "Eve")
    with pytest.raises(HeaderInjectionError):
        build(compiled, Recipient(address, "Eve"))


@pytest.mark.parametrize(
    "message_id",
    [
        "x@example.org",
        "<x-example.org>",
        "<x@example.org",
        "<x y@example.org>",
        "<x@example.org>\r\nBcc: x@evil.example",
        "<x@example.org\n>",
        "",
    ],
)
def test_bad_message_id_raises(compiled: CompiledIssue, message_id: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build(compiled, message_id=message_id)


@pytest.mark.parametrize("key", ["view_online_url", "preferences_url", "unsubscribe_url"])
@pytest.mark.parametrize(
    "url",
    [
        "https://news.example.org/u?t=1\r\nBcc: x@evil.example",
        "https://news.example.org/u?t=1\n",
        "javascript:alert(1)",
        "mailto:unsubscribe@example.org",
        "ftp://news.example.org/u",
        "//news.example.org/u",
        "/unsubscribe?t=1",
        "",
    ],
)
def test_bad_personal_url_raises(compiled: CompiledIssue, key: str, url: str) -> None:
    values = {
        "view_online_url": LINKS.view_online_url,
        "preferences_url": LINKS.preferences_url,
        "unsubscribe_url": LINKS.unsubscribe_url,
    }
    values[key] = url
    with pytest.raises(HeaderInjectionError):
        build(compiled, links=PersonalLinks(**values))


# ------------------------------------------------------------------ slots and quoted-printable

_ALPHABET = [
    "a",
    "Z",
    "0",
    " ",
    "  ",
    "\t",
    "=",
    "==",
    "=20",
    ".",
    "\n",
    "\n.",
    "\n..",
    " \n",
    "\t\n",
    "é",
    "œ",
    "€",
    "😀",
    "\u00a0",
    "<a href='x'>",
    "From ",
]


def _random_text(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randrange(0, 40)):
        if rng.random() < 0.1:
            pieces.append(rng.choice("ab=é. ") * rng.randrange(60, 200))  # long lines
        else:
            pieces.append(rng.choice(_ALPHABET))
    return "".join(pieces)


def _qp_decode(data: bytes) -> str:
    return crlf_to_lf(quopri.decodestring(data).decode("utf-8"))


_EDGE_CASES = [
    "",
    "a",
    " ",
    "trailing space ",
    "trailing tab\t",
    "=",
    "a=b",
    ".",
    ".\n",
    "\n.\n",
    "\n",
    "\n\n",
    "x" * 75,
    "x" * 76,
    "x" * 77,
    "x" * 74 + "é",
    "x" * 75 + " ",
    "x" * 74 + "=",
    "é" * 40,
    "line one \nline two\t\n.line three",
]


@pytest.mark.parametrize("text", _EDGE_CASES)
def test_qp_encode_round_trips(text: str) -> None:
    encoded = qp_encode(text)
    encoded.decode("ascii")
    assert _qp_decode(encoded) == text
    assert all(line.endswith(b"\r\n") for line in encoded.splitlines(keepends=True))


@pytest.mark.parametrize("text", ["x" * 76, "x" * 75 + "é", "é" * 40, "a " * 60])
def test_qp_encode_lines_stay_within_76_characters(text: str) -> None:
    """RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters (excluding CRLF)."""
    for line in qp_encode(text).split(b"\r\n"):
        assert len(line) <= 76, line


@pytest.mark.parametrize("seed", range(30))
def test_concatenated_pieces_decode_to_concatenated_text(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not security
    pieces = [_random_text(rng) for _ in range(rng.randrange(1, 8))]
    encoded = b"".join(qp_encode(p) for p in pieces)
    assert _qp_decode(encoded) == "".join(pieces)


@pytest.mark.parametrize("seed", range(30))
def test_slot_template_encode_fill_round_trips(seed: int) -> None:
    rng = random.Random(1000 + seed)  # noqa: S311 - seeded test data, not security
    names = [rng.choice(SLOT_NAMES) for _ in range(rng.randrange(0, 6))]
    source = _random_text(rng) + "".join(slot(name) + _random_text(rng) for name in names)
    template = SlotTemplate.parse(source)
    assert template.names == tuple(names)
    values = {name: _random_text(rng) for name in SLOT_NAMES}
    expected = template.fill(values)
    filled = template.encode().fill({k: qp_encode(v) for k, v in values.items()})
    assert _qp_decode(filled) == expected


def test_slot_template_parse_and_fill() -> None:
    template = SlotTemplate.parse(f"Bonjour {slot('first_name')}, lien : {slot('email')}.")
    assert template.parts == ("Bonjour ", ", lien : ", ".")
    assert template.names == ("first_name", "email")
    assert (
        template.fill({"first_name": "Zoë", "email": "z@x.org"}) == "Bonjour Zoë, lien : z@x.org."
    )


def test_unknown_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown personal slot"):
        SlotTemplate.parse("%%MAILER:password%%")
    with pytest.raises(ValueError, match="unknown personal slot"):
        slot("password")


# ------------------------------------------------------------------ determinism


def test_personalising_twice_gives_identical_bytes(compiled: CompiledIssue) -> None:
    assert build(compiled) == build(compiled)


def test_different_recipients_give_different_bytes(compiled: CompiledIssue) -> None:
    other = Recipient("jean@example.org", "Jean", "Dupont")
    assert build(compiled) != build(compiled, other)


def test_compile_is_deterministic(issue: Issue, services: Services) -> None:
    first = _compile(issue, services)
    second = _compile(issue, services)
    assert first.digest == second.digest
    assert re.fullmatch(r"[0-9a-f]{64}", first.digest)
    assert first.message == second.message
    assert build(first) == build(second)
