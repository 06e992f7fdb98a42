"""Which delivery (or subscriber) a bounce is about.

In this order, the first that answers decides:

1. the VERP address the bounce was sent to, `bounces+<token>@<bounce domain>`: the envelope
   recipient when known, else the received message's `Delivered-To`, `X-Original-To`, `To`,
   else the returned message's `Return-Path`. Its signed token names the delivery. A token
   that does not verify (forged, altered) makes the whole report **forged**: it is ignored,
   never matched another way, so that nobody can suppress an address by sending us a bounce;
2. the returned message's Message-ID, `<token@domain>`, signed from (campaign, subscriber);
3. the failed recipient's address: the latest delivery to it (and its subscriber). An
   address we never sent a campaign to matches nothing, even if it is a subscriber's: a
   bounce about it cannot be about our mail, and this way a made-up bounce can only name
   addresses that were really mailed.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.bounces.model import BounceReport
from mailer.db.models import Delivery, Subscriber
from mailer.errors import TokenError
from mailer.tokens import Signer

__all__ = ["Attribution", "Method", "attribute", "envelope_hints", "verp_token"]

Method = Literal["verp", "message-id", "recipient", "forged", "none"]
_HINT_HEADERS = ("delivered-to", "x-original-to", "to")
_PREFIX = "bounces+"


@dataclass(frozen=True, slots=True)
class Attribution:
    """What a report was matched to, and how."""

    method: Method
    delivery_id: int | None = None
    campaign_id: int | None = None
    subscriber_id: int | None = None
    email: str = ""  # the address to act on (the delivery's, else the report's)

    @property
    def attributed(self) -> bool:
        return self.method in ("verp", "message-id", "recipient")


def verp_token(address: str, bounce_domain: str) -> str | None:
    """The token of `bounces+<token>@<bounce_domain>` (domain and case ignored when
    `bounce_domain` is ""), else None."""
    text = address.strip().strip("<>").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local.lower().startswith(_PREFIX):
        return None
    if bounce_domain and domain.lower().rstrip(".") != bounce_domain.lower():
        return None
    token = local[len(_PREFIX) :]
    return token or None


def envelope_hints(raw: bytes) -> list[str]:
    """The addresses in the received message's Delivered-To, X-Original-To and To headers
    (where a bounce to our VERP address usually shows it); [] for what cannot be read."""
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            raw[:65536]
        )
        found: list[str] = []
        for name in _HINT_HEADERS:
            values = [str(v) for v in headers.get_all(name) or []]
            found.extend(address for _, address in email.utils.getaddresses(values) if address)
    except Exception:  # a header the parser chokes on gives no hint, not an error
        return []
    return found


def attribute(
    session: Session,
    signer: Signer,
    report: BounceReport,
    *,
    bounce_domain: str,
    envelope: Sequence[str] = (),
    hints: Sequence[str] = (),
) -> Attribution:
    """Match `report` to a delivery (see the module's documentation for the order).

    `envelope`: the envelope recipients of the bounce (the SMTP endpoint knows them);
    `hints`: addresses from the received message's headers (`envelope_hints`)."""
    candidates = [*envelope, *hints, report.original_header("Return-Path")]
    by_verp = _by_verp(session, signer, candidates, bounce_domain)
    if by_verp is not None:
        return by_verp
    by_message_id = _by_message_id(session, signer, report.original_message_id)
    if by_message_id is not None:
        return by_message_id
    return _by_recipient(session, report.recipient)


def _by_verp(
    session: Session, signer: Signer, candidates: Iterable[str], bounce_domain: str
) -> Attribution | None:
    for address in candidates:
        token = verp_token(address, bounce_domain) if address else None
        if token is None:
            continue
        try:
            (delivery_id,) = signer.verify("verp", token)
        except (TokenError, ValueError):  # a bad MAC, or not one field
            return Attribution("forged")
        row = session.execute(
            select(Delivery.campaign_id, Delivery.subscriber_id, Delivery.email).where(
                Delivery.id == delivery_id
            )
        ).one_or_none()
        if row is not None:
            return Attribution("verp", delivery_id, row[0], row[1], row[2])
        # Genuine but the delivery is gone (its campaign deleted): try the other ways.
    return None


def _by_message_id(session: Session, signer: Signer, message_id: str) -> Attribution | None:
    token = message_id.strip().strip("<>").rpartition("@")[0]
    if not token:
        return None
    try:
        campaign_id, subscriber_id = signer.verify("message-id", token)
    except (TokenError, ValueError):  # another message's Message-ID: no match, not forged
        return None
    row = session.execute(
        select(Delivery.id, Delivery.email).where(
            Delivery.campaign_id == campaign_id, Delivery.subscriber_id == subscriber_id
        )
    ).one_or_none()
    if row is not None:
        return Attribution("message-id", row[0], campaign_id, subscriber_id, row[1])
    address = session.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id))
    if address is None:
        return None
    return Attribution("message-id", None, None, subscriber_id, address)


def _by_recipient(session: Session, recipient: str) -> Attribution:
    address = recipient.strip().lower()
    if not address:
        return Attribution("none")
    latest = session.execute(
        select(Delivery.id, Delivery.campaign_id, Delivery.subscriber_id)
        .where(Delivery.email == address)
        .order_by(Delivery.id.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return Attribution("none", email=address)
    subscriber_id = latest[2] or session.scalar(
        select(Subscriber.id).where(Subscriber.email == address)
    )
    return Attribution("recipient", latest[0], latest[1], subscriber_id, address)
