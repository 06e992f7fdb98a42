"""Mutated bounces (byte flips, truncation, duplicated headers, random bytes, wrong charsets and
transfer encodings, nested multiparts) never make the parser raise.

`parse_message` has a last-resort `except`, so these tests also run each step on its own
(MIME reading, DSN, ARF, the returned message, auto-reply detection, heuristics): a step that
raises would otherwise be hidden, and would cost every later step its chance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.bounces import BounceReport, parse_message
from mailer.bounces.arf import read_arf
from mailer.bounces.autoreply import is_auto_reply
from mailer.bounces.dsn import read_dsn
from mailer.bounces.fluflscan import flufl_failures
from mailer.bounces.heuristics import diagnostic_for, failed_addresses, is_warning
from mailer.bounces.mime import notice_text, read_message
from mailer.bounces.model import KINDS, REASONS
from mailer.bounces.original import original_of
from tests.bounce_samples import NOT_BOUNCES, SAMPLES

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "flufl-bounce"
CORPUS_FILES = sorted((CORPUS / "messages").glob("*.txt")) if CORPUS.is_dir() else []
OURS = [*SAMPLES.values(), *NOT_BOUNCES.values()]

# Deterministic for CI (same examples every run), no example database left in the tree.
FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip

CHARSETS = [b"x-unknown", b"idna", b"base64", b"rot13", b"utf-7", b"utf-16", b"utf-32",
            b"ansi_x3.110-1983", b"unicode-1-1-utf-7", b"", b'"', b"utf-8\x00",
            b"\xff\xfe"]  # fmt: skip
ENCODINGS = [b"base64", b"quoted-printable", b"x-uuencode", b"uuencode", b"8bit", b"bogus"]
HEADERS = [b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"\"",
           b"Content-Type: message/delivery-status", b"Content-Type: multipart/mixed",
           b"Content-Type: text/plain; charset=\"=?utf-8?q?x?=\"", b"Subject: =?x?q?=FF?=",
           b"From: \"unterminated <", b"Auto-Submitted: auto-replied",
           b"Content-Type: message/feedback-report", b"Content-Type: message/rfc822",
           b"Final-Recipient: rfc822;", b"Status: 9.9.9", b"Action: failed"]  # fmt: skip


def _flip(draw: st.DrawFn, raw: bytes) -> bytes:
    data = bytearray(raw or b"x")
    for _ in range(draw(st.integers(1, 20))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _truncate(draw: st.DrawFn, raw: bytes) -> bytes:
    return raw[: draw(st.integers(0, len(raw)))]


def _insert(draw: st.DrawFn, raw: bytes) -> bytes:
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.binary(max_size=300)) + raw[at:]


def _duplicate_headers(draw: st.DrawFn, raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    extra = [draw(st.sampled_from(lines + HEADERS)) for _ in range(draw(st.integers(1, 30)))]
    return b"\n".join(lines + extra) + (sep or b"\n\n") + body


def _charset(draw: st.DrawFn, raw: bytes) -> bytes:
    name = draw(st.sampled_from(CHARSETS))
    raw = raw.replace(b"charset=utf-8", b"charset=" + name)
    raw = raw.replace(b'charset="', b'charset="' + name)
    return raw.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; charset=" + name)


def _encoding(draw: st.DrawFn, raw: bytes) -> bytes:
    cte = b"\nContent-Transfer-Encoding: " + draw(st.sampled_from(ENCODINGS))
    return raw.replace(b"\nContent-Type: text/plain", cte + b"\nContent-Type: text/plain", 3)


def _nest(draw: st.DrawFn, raw: bytes) -> bytes:
    for level in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from([b"multipart/mixed", b"multipart/report; report-type="
                                     b"delivery-status", b"message/rfc822"]))  # fmt: skip
        if kind == b"message/rfc822":
            raw = b"Content-Type: message/rfc822\n\n" + raw
            continue
        b = b"n%d" % level
        raw = (b"Content-Type: " + kind + b'; boundary="' + b + b'"\n\n--' + b + b"\n" + raw
               + b"\n--" + b + b"--\n")  # fmt: skip
    return raw


def _line_ends(draw: st.DrawFn, raw: bytes) -> bytes:
    return raw.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n\n", b"\r\r\n"])))


MUTATIONS = [_flip, _truncate, _insert, _duplicate_headers, _charset, _encoding, _nest,
             _line_ends]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    raw = draw(st.sampled_from(seeds))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        raw = mutation(draw, raw)
    return raw


def _check(raw: bytes) -> None:
    """Every step on its own, then the whole parse; none may raise."""
    msg = read_message(raw)
    notice = notice_text(msg)
    original_of(msg)
    read_arf(msg, "x@example.org")
    read_dsn(msg)
    is_auto_reply(msg)
    is_warning(notice)
    for address in failed_addresses(notice, frozenset())[:5]:
        diagnostic_for(notice, address)
    flufl_failures(msg)
    reports = parse_message(raw)
    assert isinstance(reports, list)
    for report in reports:
        assert isinstance(report, BounceReport)
        assert report.kind in KINDS
        assert report.reason in REASONS
        assert len(report.diagnostic) <= 1000


@FUZZ
@given(mutated(OURS))
def test_mutated_hand_written_messages(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(raw: bytes) -> None:
    _check(raw)


@pytest.mark.skipif(not CORPUS_FILES, reason=f"no bounce corpus at {CORPUS}")
@FUZZ
@given(st.data())
def test_mutated_corpus_messages(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(CORPUS_FILES))
    _check(data.draw(mutated([path.read_bytes()])))
