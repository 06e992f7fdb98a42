"""Matching a parsed bounce to a delivery (`mailer.bounces.attribution`), on SQLite and
PostgreSQL: VERP first (a forged token is ignored entirely), then the signed Message-ID, then
the failed recipient's address."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.bounces import parse_message
from mailer.bounces.attribution import Attribution, attribute, envelope_hints, verp_token
from mailer.db.models import Delivery
from mailer.tokens import Signer
from mailer.wiring import Database
from tests.bounce_samples import ARF_REDACTED, POSTFIX_DSN
from tests.test_send import KEY, SMALL_ISSUE, add_audience, new_campaign

BOUNCE_DOMAIN = "bounces.fed.example.org"
SENDER_DOMAIN = "fed.example.org"
SIGNER = Signer(KEY)
JAN = "jan@example.be"


def verp(delivery_id: int, *, signer: Signer = SIGNER, domain: str = BOUNCE_DOMAIN) -> str:
    return f"bounces+{signer.sign('verp', delivery_id)}@{domain}"


def message_id(campaign_id: int, subscriber_id: int) -> str:
    return f"<{SIGNER.sign('message-id', campaign_id, subscriber_id)}@{SENDER_DOMAIN}>"


def ours(
    sample: bytes,
    *,
    to: str = "postmaster@elsewhere.example",
    msgid: str = "<unrelated@elsewhere.example>",
    recipient: str = JAN,
) -> bytes:
    """A sample bounce as if about our message: its VERP address (the bounce's To and the
    returned message's Return-Path), Message-ID and failed recipient replaced."""
    return (
        sample.replace(b"bounces+d42.abc@news.example.org", to.encode())
        .replace(b"<c7.s42@news.example.org>", msgid.encode())
        .replace(b"Jan@Example.be", recipient.encode())
        .replace(JAN.encode(), recipient.encode())
    )


def write_issue(tmp_path: Path) -> Path:
    path = tmp_path / "issue.md"
    path.write_text(SMALL_ISSUE, encoding="utf-8")
    return path


def delivery_ids(database: Database, campaign_id: int) -> dict[str, tuple[int, int]]:
    """address → (delivery id, subscriber id)"""
    with database.sessions() as session:
        rows = session.execute(
            select(Delivery.email, Delivery.id, Delivery.subscriber_id).where(
                Delivery.campaign_id == campaign_id
            )
        ).all()
    return {email: (int(d), int(s or 0)) for email, d, s in rows}


@pytest.fixture
def sent(database: Database, tmp_path: Path) -> tuple[Database, list[int]]:
    """Two campaigns sent to jan@ and ann@."""
    add_audience(database, [(JAN, "Jan", "P"), ("ann@example.be", "Ann", "A")])
    issue = write_issue(tmp_path)
    return database, [new_campaign(database, issue), new_campaign(database, issue)]


def match(database: Database, raw: bytes, *, envelope: tuple[str, ...] = ()) -> Attribution:
    (report,) = parse_message(raw)
    with database.sessions() as session:
        return attribute(
            session,
            SIGNER,
            report,
            bounce_domain=BOUNCE_DOMAIN,
            envelope=envelope,
            hints=envelope_hints(raw),
        )


def test_verp_token_parsing() -> None:
    assert verp_token("bounces+1.abc@b.example", "b.example") == "1.abc"
    assert verp_token("<Bounces+1.ABC@B.Example>", "b.example") == "1.ABC"
    assert verp_token("bounces+1.abc@other.example", "b.example") is None
    assert verp_token("bounces+1.abc@other.example", "") == "1.abc"
    assert verp_token("news@b.example", "b.example") is None
    assert verp_token("bounces+@b.example", "b.example") is None
    assert verp_token("not an address", "b.example") is None


def test_the_verp_envelope_names_the_delivery(sent: tuple[Database, list[int]]) -> None:
    database, (first, _) = sent
    ann_delivery, ann_id = delivery_ids(database, first)["ann@example.be"]
    # The DSN names jan@ (forwarded?), but it was sent to ann's delivery's VERP address.
    found = match(database, ours(POSTFIX_DSN), envelope=(verp(ann_delivery),))
    assert found == Attribution("verp", ann_delivery, first, ann_id, "ann@example.be")
    assert found.attributed


def test_the_verp_address_in_the_headers_is_enough(sent: tuple[Database, list[int]]) -> None:
    database, (first, _) = sent
    jan_delivery, jan_id = delivery_ids(database, first)[JAN]
    found = match(database, ours(POSTFIX_DSN, to=verp(jan_delivery)))
    assert found == Attribution("verp", jan_delivery, first, jan_id, JAN)


@pytest.mark.parametrize("how", ["other key", "altered", "not a token"])
def test_a_forged_verp_token_is_ignored_entirely(
    sent: tuple[Database, list[int]], how: str
) -> None:
    database, (first, _) = sent
    jan_delivery, jan_id = delivery_ids(database, first)[JAN]
    genuine = SIGNER.sign("verp", jan_delivery)
    altered = SIGNER.sign("verp", jan_delivery + 1).split(".")[0] + "." + genuine.split(".")[1]
    address = {
        "other key": verp(jan_delivery, signer=Signer(b"y" * 32)),
        "altered": f"bounces+{altered}@{BOUNCE_DOMAIN}",
        "not a token": f"bounces+{jan_delivery}@{BOUNCE_DOMAIN}",
    }[how]
    # The Message-ID and the recipient would both match: a forged VERP address wins over them.
    raw = ours(POSTFIX_DSN, to=address, msgid=message_id(first, jan_id))
    assert match(database, raw) == Attribution("forged")
    assert match(database, ours(POSTFIX_DSN), envelope=(address,)) == Attribution("forged")


def test_the_message_id_names_campaign_and_subscriber(sent: tuple[Database, list[int]]) -> None:
    database, (first, _) = sent
    jan_delivery, jan_id = delivery_ids(database, first)[JAN]
    raw = ours(POSTFIX_DSN, msgid=message_id(first, jan_id), recipient="alias@example.be")
    assert match(database, raw) == Attribution("message-id", jan_delivery, first, jan_id, JAN)


def test_the_recipient_is_the_last_resort(sent: tuple[Database, list[int]]) -> None:
    database, (_, second) = sent
    jan_delivery, jan_id = delivery_ids(database, second)[JAN]
    # A VERP address of another domain is not ours: neither used nor "forged".
    raw = ours(POSTFIX_DSN, to=f"bounces+1.abc@{SENDER_DOMAIN}.invalid")
    assert match(database, raw) == Attribution("recipient", jan_delivery, second, jan_id, JAN)


def test_an_unknown_recipient_is_not_attributed(sent: tuple[Database, list[int]]) -> None:
    database, _ = sent
    found = match(database, ours(POSTFIX_DSN, recipient="nobody@example.be"))
    assert found == Attribution("none", email="nobody@example.be")
    assert not found.attributed


def test_a_subscriber_never_mailed_is_not_attributed_by_address(
    sent: tuple[Database, list[int]],
) -> None:
    """No delivery to the address: a bounce naming it cannot be about our mail."""
    database, _ = sent
    add_audience(database, [("new@example.be", "New", "N")], list_slug="later")
    found = match(database, ours(POSTFIX_DSN, recipient="new@example.be"))
    assert found == Attribution("none", email="new@example.be")


def test_a_redacted_complaint_is_matched_by_verp(sent: tuple[Database, list[int]]) -> None:
    database, (first, _) = sent
    ann_delivery, ann_id = delivery_ids(database, first)["ann@example.be"]
    raw = ours(ARF_REDACTED, to=verp(ann_delivery))
    (report,) = parse_message(raw)
    assert (report.kind, report.recipient) == ("complaint", "")
    assert match(database, raw) == Attribution(
        "verp", ann_delivery, first, ann_id, "ann@example.be"
    )
    # Without VERP or Message-ID there is nothing to go on.
    assert match(database, ours(ARF_REDACTED)) == Attribution("none")


def test_envelope_hints_read_the_delivery_headers() -> None:
    raw = b"Delivered-To: a@x.example\nX-Original-To: <b@x.example>\nTo: C <c@x.example>\n\nhi"
    assert envelope_hints(raw) == ["a@x.example", "b@x.example", "c@x.example"]
    assert envelope_hints(b"\xff\xfe garbage") == []
