"""Putting a send together: compile the campaign's issue once, then run the engine, or send
test copies. The pieces (sessions, signer, transport) come from the wiring."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailer.bounces.policy import BouncePolicy
from mailer.campaigns.deliveries import DeliveryStore
from mailer.campaigns.engine import SendReport, send_campaign
from mailer.campaigns.lifecycle import load_issue_source
from mailer.campaigns.messages import CampaignMessages, DkimSigner, ListIdentity
from mailer.config import Config
from mailer.db.models import MailingList, Subscriber
from mailer.domain import Recipient
from mailer.errors import MailerError, NotFound, SendError
from mailer.issues.format import parse_issue
from mailer.render.pipeline import compile_issue
from mailer.render.preview import sample_reader
from mailer.subscribers.emails import normalise_email
from mailer.tokens import Signer
from mailer.transport.base import Envelope, Transport

__all__ = ["SendKit", "TestResult", "run_campaign", "send_test_copies", "worker_name"]


def worker_name() -> str:
    """Who holds a lease: host, process and a random part (a pid can be reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class SendKit:
    """What sending needs, built by the wiring."""

    config: Config
    sessions: sessionmaker[Session]
    templates: jinja2.Environment
    signer: Signer
    transport: Callable[[], Transport]  # a new transport (its own connections) per run
    dkim: DkimSigner | None = None


def campaign_messages(kit: SendKit, campaign_id: int, *, test: bool = False) -> CampaignMessages:
    with kit.sessions() as session:
        source, issue_file, subject, list_id = load_issue_source(session, campaign_id)
        listed = session.execute(
            select(MailingList.slug, MailingList.name).where(MailingList.id == list_id)
        ).one()
    issue = parse_issue(source, issue_file)
    compiled = compile_issue(
        issue, brand=kit.config.brand, sender=kit.config.sender, templates=kit.templates
    )
    return CampaignMessages(
        compiled,
        campaign_id=campaign_id,
        subject=f"[TEST] {subject}" if test else subject,
        mailing_list=ListIdentity(list_id, listed.slug, listed.name),
        config=kit.config,
        signer=kit.signer,
        dkim_signer=kit.dkim,
        test=test,
    )


def run_campaign(
    kit: SendKit,
    campaign_id: int,
    *,
    on_progress: Callable[[SendReport], None] = lambda _: None,
    owner: str | None = None,
) -> SendReport:
    """Send what is due in a campaign that is `sending` (see `start_campaign`)."""
    messages = campaign_messages(kit, campaign_id)
    store = DeliveryStore(
        kit.sessions,
        campaign_id,
        owner=owner or worker_name(),
        lease_seconds=kit.config.sending.lease_seconds,
        policy=BouncePolicy.from_config(kit.config.bounces),
    )

    async def main() -> SendReport:
        return await send_campaign(
            store, messages, kit.transport(), kit.config.sending, on_progress=on_progress
        )

    return asyncio.run(main())


@dataclass(frozen=True, slots=True)
class TestResult:
    address: str
    ok: bool
    reply: str


def send_test_copies(
    kit: SendKit,
    campaign_id: int,
    addresses: Sequence[str],
    *,
    as_subscriber: str | None = None,
) -> list[TestResult]:
    """Test copies to any addresses: `[TEST]` subject, personalised as a sample reader or as
    `as_subscriber`, never touching deliveries or statistics. Their links are test links
    (they unsubscribe nobody) and their bounces go to the sender address, not to VERP."""
    limit = kit.config.sending.test_max_recipients
    wanted: list[str] = []
    for raw in addresses:
        address = normalise_email(raw)
        if address is None:
            raise MailerError(f"--to: {raw.strip()!r} is not an e-mail address")
        if address not in wanted:
            wanted.append(address)
    if not wanted:
        raise MailerError("--to: give at least one address")
    if len(wanted) > limit:
        raise MailerError(f"--to: at most {limit} addresses per test (sending.test_max_recipients)")
    reader = sample_reader()
    subscriber_id = 0
    if as_subscriber:
        email = normalise_email(as_subscriber) or as_subscriber
        with kit.sessions() as session:
            person = session.execute(
                select(Subscriber.id, Subscriber.first_name, Subscriber.last_name).where(
                    Subscriber.email == email
                )
            ).one_or_none()
        if person is None:
            raise NotFound(f"--as: no subscriber {as_subscriber!r}")
        subscriber_id = person.id
        reader = Recipient(email, person.first_name, person.last_name)
    messages = campaign_messages(kit, campaign_id, test=True)
    moment = dt.datetime.now(dt.UTC)
    envelopes = []
    for address in wanted:
        recipient = Recipient(address, reader.first_name, reader.last_name)
        message_id = f"<test.{campaign_id}.{secrets.token_hex(8)}@{messages.domain}>"
        data = messages.render(recipient, subscriber_id, message_id=message_id, now=moment)
        envelopes.append(Envelope(kit.config.sender.from_address, address, data))

    async def main() -> list[TestResult]:
        transport = kit.transport()
        results = []
        try:
            for envelope in envelopes:  # one after the other: the relay's rate limit applies
                try:
                    reply = await transport.send(envelope)
                    results.append(TestResult(envelope.recipient, True, reply))
                except SendError as exc:
                    results.append(TestResult(envelope.recipient, False, str(exc)))
        finally:
            await transport.close()
        return results

    return asyncio.run(main())
