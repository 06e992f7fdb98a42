"""Sending campaigns through a real SMTP server (aiosmtpd, in this process, on 127.0.0.1).

Nothing of the SMTP client is mocked: the engine, the aiosmtplib transport and its pooled
connections talk SMTP to `tests.smtp_server`, whose recorder keeps what it accepted and whose
hooks inject the relay's refusals, delays and dropped connections. Most tests run the engine
in this process (with a `SendKit` built here) on SQLite and PostgreSQL; the command line is
run as a subprocess where it is what is tested (test copies, crash and restart, illegal
transitions, several worker processes).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import pytest
from sqlalchemy import func, insert, select, update

from mailer.campaigns import runner
from mailer.campaigns.engine import SendReport
from mailer.campaigns.lifecycle import (
    campaign_info,
    cancel_campaign,
    create_campaign,
    due_campaigns,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from mailer.campaigns.messages import DkimSigner, ListIdentity, list_header_lines
from mailer.campaigns.runner import (
    SendKit,
    campaign_messages,
    run_campaign,
    send_test_copies,
)
from mailer.config import (
    Config,
    RelayConfig,
    SecurityConfig,
    SenderConfig,
    SendingConfig,
    WebConfig,
)
from mailer.db.models import (
    Bounce,
    Campaign,
    Delivery,
    Federation,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from mailer.errors import MailerError, TokenError
from mailer.render.templates import make_environment
from mailer.resources import templates_dir
from mailer.subscribers.directory import add_federation, create_list
from mailer.tokens import Signer
from mailer.transport.smtp import SmtpTransport
from mailer.wiring import Database
from tests.conftest import need
from tests.smtp_server import DISCONNECT, Received, Recorder, SmtpServer, free_port

DOMAIN = "fed.example.org"
SENDER = SenderConfig(from_name="Fédération des Tests", from_address=f"news@{DOMAIN}")
BASE_URL = "https://news.fed.example.org"
LIST_SLUG = "actualites-de-la-federation-des-services-sociaux"
LIST_NAME = "Actualités de la fédération"
KEY = b"x" * 32

# The smallest issue the format allows: about 27 KB on the wire (the example is 90 KB), so the
# tests with hundreds or thousands of recipients spend their time sending, not parsing.
SMALL_ISSUE = """\
+++
newsletter = "Lettre test"
number = 7
date = 2024-05-02
subject = "Lettre test – mai 2024 : une brève"
preheader = "Une seule brève, pour les tests d'envoi."
language = "fr"

[footer]
note = "Lettre d'essai"
editors = ["Zoë Test"]
contact = "Écrivez-nous."
+++

# Brèves

## INFO | Une brève

Un paragraphe court, avec un [lien](https://www.example.org/breve).
"""

# ------------------------------------------------------------------ fixtures and helpers


_TEMPLATES: list[jinja2.Environment] = []


def templates() -> jinja2.Environment:
    if not _TEMPLATES:
        _TEMPLATES.append(make_environment(templates_dir()))
    return _TEMPLATES[0]


T = TypeVar("T")


def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function` run in a thread of its own. The send runs its event loop with asyncio.run(),
    which refuses to start where a loop is marked running, as Playwright's sync API leaves the
    main thread once the session's `browser` fixture has been used."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-send") as pool:
        return pool.submit(function, *args, **kwargs).result()


def send(kit: SendKit, campaign_id: int, **options: Any) -> SendReport:
    return in_thread(run_campaign, kit, campaign_id, **options)


def send_tests(
    kit: SendKit, campaign_id: int, addresses: Sequence[str], **options: Any
) -> list[runner.TestResult]:
    return in_thread(send_test_copies, kit, campaign_id, addresses, **options)


@pytest.fixture
def small_issue(tmp_path: Path) -> Path:
    path = tmp_path / "small-issue.md"
    path.write_text(SMALL_ISSUE, encoding="utf-8")
    return path


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp(recorder: Recorder) -> Iterator[SmtpServer]:
    with SmtpServer(recorder) as server:
        yield server


def make_config(tmp_path: Path, port: int, *, connections: int = 3, **sending: Any) -> Config:
    options: dict[str, Any] = {
        "retry_after": 0.05,
        "retry_max": 0.2,
        "unsubscribe_mailbox": "unsubscribe",
    }
    options.update(sending)
    return Config(
        sender=SENDER,
        web=WebConfig(base_url=BASE_URL),
        relays=(
            RelayConfig(
                name="test", host="127.0.0.1", port=port, connections=connections, timeout=10
            ),
        ),
        sending=SendingConfig(**options),
        security=SecurityConfig(secret_key_file=str(tmp_path / "key")),
    )


def make_kit(database: Database, config: Config) -> SendKit:
    relays = config.relays
    return SendKit(
        config=config,
        sessions=database.sessions,
        templates=templates(),
        signer=Signer(KEY),
        transport=lambda: SmtpTransport(relays),
    )


@dataclass(frozen=True)
class Audience:
    list_id: int
    ids: dict[str, int]  # address → subscriber id


def add_audience(
    database: Database, people: Sequence[tuple[str, str, str]], *, list_slug: str = LIST_SLUG
) -> Audience:
    """Active subscribers (address, first name, last name), confirmed on a new list: one
    executemany per table, so thousands cost a fraction of a second."""
    moment = dt.datetime.now(dt.UTC)
    with database.sessions.begin() as session:
        create_list(session, list_slug, LIST_NAME, double_opt_in=False)
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == list_slug))
        assert list_id is not None
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": address,
                    "first_name": first,
                    "last_name": last,
                    "language": "fr",
                    "status": SubscriberStatus.ACTIVE,
                    "attributes": {},
                }
                for address, first, last in people
            ],
        )
        ids = {
            address: subscriber_id
            for subscriber_id, address in session.execute(select(Subscriber.id, Subscriber.email))
        }
        session.execute(
            insert(Subscription),
            [
                {
                    "subscriber_id": ids[address],
                    "list_id": list_id,
                    "status": SubscriptionStatus.CONFIRMED,
                    "consent_at": moment,
                    "consent_source": "test",
                }
                for address, _, _ in people
            ],
        )
    return Audience(list_id, {address: ids[address] for address, _, _ in people})


def numbered(count: int, prefix: str = "reader") -> list[tuple[str, str, str]]:
    return [(f"{prefix}{n:05d}@example.be", f"Prénom{n}", f"Nom{n}") for n in range(count)]


def new_campaign(database: Database, issue: Path, *, start: bool = True) -> int:
    with database.sessions.begin() as session:
        campaign_id = create_campaign(session, issue_file=issue, list_slug=LIST_SLUG)
    if start:
        with database.sessions.begin() as session:
            start_campaign(session, campaign_id)
    return campaign_id


@dataclass(frozen=True)
class Row:
    id: int
    subscriber_id: int | None
    email: str
    status: str
    attempts: int
    smtp_code: int | None
    smtp_response: str
    message_id: str
    next_attempt_at: dt.datetime | None
    lease_owner: str


def deliveries(database: Database, campaign_id: int) -> dict[str, Row]:
    """The campaign's deliveries by address."""
    with database.sessions() as session:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.subscriber_id,
                Delivery.email,
                Delivery.status,
                Delivery.attempts,
                Delivery.smtp_code,
                Delivery.smtp_response,
                Delivery.message_id,
                Delivery.next_attempt_at,
                Delivery.lease_owner,
            ).where(Delivery.campaign_id == campaign_id)
        ).all()
    return {row.email: Row(**row._mapping) for row in rows}


def statuses(database: Database, campaign_id: int) -> Counter[str]:
    return Counter(row.status for row in deliveries(database, campaign_id).values())


def status_of(database: Database, campaign_id: int) -> str:
    with database.sessions() as session:
        return campaign_info(session, campaign_id).status


def assert_each_received_once(recorder: Recorder, addresses: Sequence[str]) -> None:
    got = recorder.by_recipient()
    assert sorted(got) == sorted(addresses)
    twice = {address: len(messages) for address, messages in got.items() if len(messages) != 1}
    assert not twice, f"received more than once: {twice}"


def pause_from_outside(database: Database, campaign_id: int) -> None:
    """What `mailer campaign pause` does, from the SMTP server's thread (its own session)."""
    with database.sessions.begin() as session:
        pause_campaign(session, campaign_id)


def header_block(data: bytes) -> bytes:
    return data.partition(b"\r\n\r\n")[0]


def raw_header(data: bytes, name: str) -> bytes:
    """A header as it is on the wire, continuation lines unfolded."""
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", header_block(data))
    prefix = name.lower().encode("ascii") + b":"
    found = [line for line in unfolded.split(b"\r\n") if line.lower().startswith(prefix)]
    assert len(found) == 1, f"{name}: {found}"
    return found[0][len(prefix) :].strip()


# ------------------------------------------------------------------ 1. one message, read closely


def test_headers_and_mime_of_a_received_message(
    database: Database, smtp: SmtpServer, recorder: Recorder, example_issue: Path, tmp_path: Path
) -> None:
    address = "zoe.lefevre@example.be"
    audience = add_audience(database, [(address, "Zoë", "Lefèvre-Ünal")])
    subscriber_id = audience.ids[address]
    campaign_id = new_campaign(database, example_issue)
    kit = make_kit(database, make_config(tmp_path, smtp.port))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    report = send(kit, campaign_id)

    assert (report.sent, report.stopped_because) == (1, "sent")
    (received,) = recorder.received
    row = deliveries(database, campaign_id)[address]
    signer = Signer(KEY)
    # The envelope: VERP return path whose token names (and authenticates) the delivery.
    assert received.recipients == (address,)
    local, _, domain = received.mail_from.partition("@")
    assert domain == DOMAIN
    assert local.startswith("bounces+")
    assert signer.verify("verp", local.removeprefix("bounces+")) == [row.id]

    data = received.data
    head = header_block(data)
    assert head.isascii(), "header section must be 7-bit (RFC 2047 for anything else)"
    message = received.message()
    # From and To: display names with accents, RFC 2047-encoded on the wire.
    assert raw_header(data, "To").startswith(b"=?utf-8?")
    assert raw_header(data, "To").endswith(f"<{address}>".encode())
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Lefèvre-Ünal", address)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (SENDER.from_name, SENDER.from_address)
    with database.sessions() as session:
        subject = campaign_info(session, campaign_id).subject
    assert message["Subject"] == subject
    date = email.utils.parsedate_to_datetime(str(message["Date"]))
    assert date.tzinfo is not None
    assert before - dt.timedelta(seconds=1) <= date <= dt.datetime.now(dt.UTC)
    # Message-ID: derived from (campaign, subscriber), kept on the delivery.
    message_id = str(message["Message-ID"])
    assert message_id == f"<{signer.sign('message-id', campaign_id, subscriber_id)}@{DOMAIN}>"
    assert message_id == row.message_id
    assert signer.verify("message-id", message_id[1:].partition("@")[0]) == [
        campaign_id,
        subscriber_id,
    ]
    # List headers (RFC 2369, 2919, 8058) and the feedback loop's identifier.
    assert str(message["List-Id"]) == f"{LIST_NAME} <{LIST_SLUG}.{DOMAIN}>"
    # The list identifier itself is never inside an encoded word: clients look for it there.
    assert raw_header(data, "List-Id").endswith(f"<{LIST_SLUG}.{DOMAIN}>".encode())
    assert str(message["Feedback-ID"]) == f"{campaign_id}:{LIST_SLUG}:newsletter:{DOMAIN}"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^<>]+)>", str(message["List-Unsubscribe"]))
    assert len(links) == 2, message["List-Unsubscribe"]
    https, mailto = links
    assert https.startswith(f"{BASE_URL}/unsubscribe/")
    token = https.rpartition("/")[2]
    assert signer.verify("unsubscribe", token) == [subscriber_id, audience.list_id, campaign_id]
    assert mailto == f"mailto:unsubscribe+{token}@{DOMAIN}?subject=unsubscribe"
    # MIME: multipart/alternative, the text part first, then the HTML one.
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    text, html = (part.get_content() for part in parts)
    assert isinstance(text, str)
    assert isinstance(html, str)
    assert f"{BASE_URL}/view/" in text
    assert https in html
    assert "<html" in html.lower()


@pytest.mark.parametrize(
    ("name", "decoded"),
    [
        ("Actualités de la fédération", "Actualités de la fédération"),
        ("#ActuUNIPSO", "#ActuUNIPSO"),
        ('Conseil d\'administration "CA", Namur', '"Conseil d\'administration \\"CA\\", Namur"'),
        ("Ligne\r\nBcc: evil@example.org", '"Ligne Bcc: evil@example.org"'),
        ("", ""),
    ],
)
def test_list_id_keeps_its_identifier_readable(name: str, decoded: str) -> None:
    """RFC 2919: only the name may be encoded; `<slug.domain>` is what filters read."""
    lines = list_header_lines(ListIdentity(7, LIST_SLUG, name), 12, DOMAIN)
    assert lines.isascii()
    message = email.message_from_bytes(lines + b"\r\n", policy=email.policy.default)
    ident = f"<{LIST_SLUG}.{DOMAIN}>"
    assert str(message["List-Id"]) == (f"{decoded} {ident}" if decoded else ident)
    assert raw_header(lines + b"\r\n", "List-Id").endswith(ident.encode())
    assert str(message["Feedback-ID"]) == f"12:{LIST_SLUG}:newsletter:{DOMAIN}"
    assert "Bcc" not in message
    list_id = lines.partition(b"\r\nFeedback-ID:")[0]  # one word: never folded
    assert all(len(line) <= 78 for line in list_id.split(b"\r\n"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dkim_signature_of_a_received_message_verifies(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    """Signed as sent, verified as received: the folded List-Id and both List-Unsubscribe
    headers included."""
    import dkim  # type: ignore[import-untyped]

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    add_audience(database, [("zoe@example.be", "Zoë", "Lefèvre-Ünal")])
    campaign_id = new_campaign(database, small_issue)
    kit = dataclasses.replace(
        make_kit(database, make_config(tmp_path, smtp.port)),
        dkim=DkimSigner(DOMAIN, "news", str(key)),
    )

    assert send(kit, campaign_id).sent == 1

    (received,) = recorder.received

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"news._domainkey.{DOMAIN}.".encode()
        return record

    assert dkim.verify(received.data, dnsfunc=dns)
    signature = re.sub(rb"\r\n[ \t]+", b" ", header_block(received.data)).split(b"\r\n")[0]
    covered = re.search(rb"h=([^;]+)", signature.replace(b" ", b""))
    assert covered is not None
    assert {b"list-id", b"list-unsubscribe", b"list-unsubscribe-post"} <= set(
        covered.group(1).split(b":")
    )
    assert not dkim.verify(received.data.replace(b"Lettre test", b"Lettre fausse"), dnsfunc=dns)


# ------------------------------------------------------------------ 2. many recipients


def test_one_message_per_recipient_over_several_connections(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = numbered(50)
    audience = add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    kit = make_kit(database, make_config(tmp_path, smtp.port, connections=3, batch_size=8))

    report = send(kit, campaign_id)

    addresses = [address for address, _, _ in people]
    assert (report.sent, report.stopped_because) == (50, "sent")
    assert_each_received_once(recorder, addresses)
    assert statuses(database, campaign_id) == {"sent": 50}
    assert status_of(database, campaign_id) == "sent"
    assert 2 <= len({m.peer for m in recorder.received}) <= 3  # the pool, no reconnection
    # The Message-ID is a function of (campaign, subscriber): computed again (another
    # CampaignMessages, another Signer with the same key) it is the one that was sent.
    first = campaign_messages(kit, campaign_id)
    again = campaign_messages(make_kit(database, kit.config), campaign_id)
    rows = deliveries(database, campaign_id)
    sent_ids = {m.recipient: m.header("Message-ID") for m in recorder.received}
    for address, subscriber_id in audience.ids.items():
        computed = first.message_id(subscriber_id)
        assert computed == again.message_id(subscriber_id)
        assert computed == sent_ids[address] == rows[address].message_id
    assert len(set(sent_ids.values())) == 50


# ------------------------------------------------------------------ 3. what the relay answers


def test_relay_replies_decide_each_delivery(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = [
        ("ok1@example.be", "Ann", "A"),
        ("ok2@example.be", "Bob", "B"),
        ("gone@example.be", "Gus", "G"),  # 550 at RCPT: bounced, hard
        ("greylisted@example.be", "Gia", "G"),  # 451 at RCPT once: deferred, then sent
        ("full@example.be", "Flo", "F"),  # 452 at DATA once: deferred, then sent
        ("busy@example.be", "Bea", "B"),  # 451 at RCPT always: failed after 3, soft bounce
        ("closing@example.be", "Cid", "C"),  # 421 at RCPT once: deferred, then sent
        ("spam@example.be", "Sam", "S"),  # 554 at DATA: failed, reply kept
        ("dropped@example.be", "Dan", "D"),  # connection lost in DATA once: sent, no attempt
    ]
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)

    def rcpt(address: str, attempt: int) -> str | None:
        if address == "gone@example.be":
            return "550 5.1.1 <gone@example.be>: no such user"
        if address == "greylisted@example.be" and attempt == 1:
            return "451 4.7.1 greylisted, come back later"
        if address == "busy@example.be":
            return "451 4.3.0 mailbox busy"
        if address == "closing@example.be" and attempt == 1:
            return "421 4.3.2 service shutting down"
        return None

    def data(address: str, attempt: int) -> str | None:
        if address == "full@example.be" and attempt == 1:
            return "452 4.2.2 mailbox full"
        if address == "spam@example.be":
            return "554 5.7.1 message refused as spam"
        if address == "dropped@example.be" and attempt == 1:
            return DISCONNECT
        return None

    recorder.rcpt_hook = rcpt
    recorder.data_hook = data
    kit = make_kit(database, make_config(tmp_path, smtp.port, max_attempts=3))

    report = send(kit, campaign_id)

    rows = deliveries(database, campaign_id)
    assert {a: r.status for a, r in rows.items()} == {
        "ok1@example.be": "sent",
        "ok2@example.be": "sent",
        "gone@example.be": "bounced",
        "greylisted@example.be": "sent",
        "full@example.be": "sent",
        "busy@example.be": "failed",
        "closing@example.be": "sent",
        "spam@example.be": "failed",
        "dropped@example.be": "sent",
    }
    assert report.stopped_because == "sent"
    assert (report.sent, report.bounced, report.failed) == (6, 1, 2)
    assert report.deferred == 5  # greylisted, full, closing once; busy twice
    assert report.requeued == 1  # dropped: no answer, not an attempt
    # Attempts: a 4xx counts, a lost connection does not.
    attempts = {a: r.attempts for a, r in rows.items()}
    assert attempts["greylisted@example.be"] == 2
    assert attempts["full@example.be"] == 2
    assert attempts["closing@example.be"] == 2
    assert attempts["busy@example.be"] == 3
    assert attempts["dropped@example.be"] == 1
    assert attempts["ok1@example.be"] == 1
    assert recorder.calls("rcpt", "busy@example.be") == 3
    assert recorder.calls("data", "dropped@example.be") == 2
    # The replies are kept.
    assert rows["gone@example.be"].smtp_code == 550
    assert "5.1.1" in rows["gone@example.be"].smtp_response
    assert rows["spam@example.be"].smtp_code == 554
    assert "message refused as spam" in rows["spam@example.be"].smtp_response
    assert rows["busy@example.be"].smtp_code == 451
    assert "mailbox busy" in rows["busy@example.be"].smtp_response
    # Bounces: a hard one for the refused address, a soft one for the attempts given up.
    with database.sessions() as session:
        bounces = session.execute(
            select(Bounce.email, Bounce.kind, Bounce.status, Bounce.delivery_id, Bounce.source)
            .where(Bounce.campaign_id == campaign_id)
            .order_by(Bounce.email)
        ).all()
        info = campaign_info(session, campaign_id)
    assert [tuple(b) for b in bounces] == [
        ("busy@example.be", "soft", "4.3.0", rows["busy@example.be"].id, "smtp"),
        ("gone@example.be", "hard", "5.1.1", rows["gone@example.be"].id, "smtp"),
    ]
    assert info.bounces == {"hard": 1, "soft": 1}
    assert info.status == "sent"
    # What reached the mailboxes: each sent address once, the refused ones never.
    assert_each_received_once(
        recorder,
        [a for a, r in rows.items() if r.status == "sent"],
    )


def test_a_421_defers_the_delivery_with_its_reply(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    """Seen in the database before the retry: the campaign is paused by the relay's hook."""
    add_audience(database, [("later@example.be", "Léa", "Tard")])
    campaign_id = new_campaign(database, small_issue)

    def rcpt(address: str, attempt: int) -> str:
        pause_from_outside(database, campaign_id)
        return "421 4.7.0 too many connections, try later"

    recorder.rcpt_hook = rcpt
    kit = make_kit(database, make_config(tmp_path, smtp.port, retry_after=30, retry_max=60))
    before = dt.datetime.now(dt.UTC)

    report = send(kit, campaign_id)

    assert report.stopped_because == "paused"
    assert report.deferred == 1
    row = deliveries(database, campaign_id)["later@example.be"]
    assert (row.status, row.attempts, row.smtp_code) == ("deferred", 1, 421)
    assert "too many connections" in row.smtp_response
    assert row.next_attempt_at is not None
    retry = row.next_attempt_at.replace(tzinfo=row.next_attempt_at.tzinfo or dt.UTC)
    assert before + dt.timedelta(seconds=20) < retry < before + dt.timedelta(seconds=40)
    assert recorder.received == []


def test_refusals_at_mail_from_pause_the_campaign(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = numbered(10)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    recorder.mail_hook = lambda address, attempt: "550 5.7.1 sender not allowed here"
    config = make_config(tmp_path, smtp.port, connections=1, pause_after_rejections=3)

    report = send(make_kit(database, config), campaign_id)

    assert report.stopped_because == "paused"
    with database.sessions() as session:
        info = campaign_info(session, campaign_id)
    assert info.status == "paused"
    assert "refused 3 messages in a row" in info.pause_reason
    assert "sender not allowed here" in info.pause_reason
    assert info.deliveries == {"failed": 3, "queued": 7}
    failed = [r for r in deliveries(database, campaign_id).values() if r.status == "failed"]
    assert all(r.smtp_code == 550 for r in failed)
    assert recorder.received == []


def test_a_slow_relay_never_lets_a_lease_run_out(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    """A rate limit makes a batch take longer than a lease: what the worker holds keeps its
    lease (no other worker may take it over), and nothing is claimed, or sent, twice."""
    people = numbered(70)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    config = make_config(tmp_path, smtp.port, connections=1, batch_size=50, lease_seconds=1)
    relay = dataclasses.replace(config.relays[0], per_second=20.0)  # 50 take 1.5 s and more
    config = dataclasses.replace(config, relays=(relay,))
    expired: list[int] = []

    def after(received: Received) -> None:
        with database.sessions() as session:
            expired.append(
                session.scalar(
                    select(func.count()).where(
                        Delivery.campaign_id == campaign_id,
                        Delivery.status == "sending",
                        Delivery.lease_until < dt.datetime.now(dt.UTC),
                    )
                )
                or 0
            )

    recorder.after_accept = after

    report = send(make_kit(database, config), campaign_id)

    assert (report.sent, report.stopped_because) == (70, "sent")
    assert_each_received_once(recorder, [a for a, _, _ in people])
    assert statuses(database, campaign_id) == {"sent": 70}
    assert len(expired) == 70
    assert max(expired) == 0, "a lease ran out while its worker still held the delivery"


# ------------------------------------------------------------------ 4. relay unreachable


def test_an_unreachable_relay_pauses_without_losing_anything(
    database: Database, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = numbered(12)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    port = free_port()  # nothing listens there (yet)
    config = make_config(tmp_path, port, connections=2, pause_after_connection_failures=4)
    kit = make_kit(database, config)

    report = send(kit, campaign_id)

    assert report.stopped_because == "paused"
    assert report.sent == 0
    assert report.requeued >= 4
    with database.sessions() as session:
        info = campaign_info(session, campaign_id)
    assert info.status == "paused"
    assert "could not be reached 4 times in a row" in info.pause_reason
    assert f"127.0.0.1:{port}" in info.pause_reason
    rows = deliveries(database, campaign_id).values()
    assert Counter(r.status for r in rows) == {"queued": 12}  # every one back, none lost
    assert all(r.attempts == 0 and r.lease_owner == "" for r in rows)

    with SmtpServer(recorder, port=port):
        with database.sessions.begin() as session:
            resume_campaign(session, campaign_id)
        again = send(kit, campaign_id)

    assert (again.sent, again.stopped_because) == (12, "sent")
    assert_each_received_once(recorder, [a for a, _, _ in people])
    with database.sessions() as session:
        info = campaign_info(session, campaign_id)
    assert (info.status, info.deliveries, info.pause_reason) == ("sent", {"sent": 12}, "")
    assert all(r.attempts == 1 for r in deliveries(database, campaign_id).values())


# ------------------------------------------------------------------ 5. pause and resume


def test_pause_from_elsewhere_stops_the_worker_and_resume_finishes(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = numbered(40)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    batch, connections = 5, 2

    def after(received: Received) -> None:
        if received.number == 10:
            pause_from_outside(database, campaign_id)

    recorder.after_accept = after
    kit = make_kit(
        database,
        make_config(tmp_path, smtp.port, connections=connections, batch_size=batch),
    )

    report = send(kit, campaign_id)

    assert report.stopped_because == "paused"
    counts = statuses(database, campaign_id)
    received = recorder.count()
    assert set(counts) == {"sent", "queued"}  # nothing left claimed
    assert counts["sent"] == received == report.sent
    # The worker stops soon: what it had in hand at most, not the whole campaign.
    assert 10 <= received <= 10 + batch + 2 * connections
    with database.sessions() as session:
        info = campaign_info(session, campaign_id)
    assert (info.status, info.pause_reason) == ("paused", "paused by staff")

    recorder.after_accept = None
    with database.sessions.begin() as session:
        resume_campaign(session, campaign_id)
    again = send(kit, campaign_id)

    assert again.stopped_because == "sent"
    assert again.sent == 40 - received
    assert_each_received_once(recorder, [a for a, _, _ in people])
    assert statuses(database, campaign_id) == {"sent": 40}
    assert status_of(database, campaign_id) == "sent"


def test_cancel_from_elsewhere_leaves_nothing_queued(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    """What the stopping worker still held (claimed, not sent) ends `skipped` too: a cancelled
    campaign has no delivery left waiting."""
    people = numbered(40)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    skipped_by_cancel: list[int] = []

    def after(received: Received) -> None:
        if received.number == 3:
            with database.sessions.begin() as session:
                skipped_by_cancel.append(cancel_campaign(session, campaign_id))

    recorder.after_accept = after
    kit = make_kit(database, make_config(tmp_path, smtp.port, connections=1, batch_size=10))

    report = send(kit, campaign_id)

    assert report.stopped_because == "cancelled"
    with database.sessions() as session:
        info = campaign_info(session, campaign_id)
    assert info.status == "cancelled"
    assert set(info.deliveries) == {"sent", "skipped"}, info.deliveries
    assert info.deliveries["sent"] == recorder.count() == report.sent
    assert info.deliveries["sent"] + info.deliveries["skipped"] == 40
    # Some were in the worker's hands at the cancel: skipped when it gave them back.
    assert info.deliveries["skipped"] > skipped_by_cancel[0]
    rows = deliveries(database, campaign_id).values()
    assert all(r.smtp_response == "campaign cancelled" for r in rows if r.status == "skipped")
    assert all(r.lease_owner == "" for r in rows)
    assert_each_received_once(recorder, [r.email for r in rows if r.status == "sent"])


# ------------------------------------------------------------------ 6. unsubscribed meanwhile


def test_who_leaves_during_the_send_is_skipped(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    people = numbered(20)
    audience = add_audience(database, people)
    campaign_id = new_campaign(database, small_issue)
    unsubscribed, blocklisted = people[19][0], people[18][0]

    def after(received: Received) -> None:
        if received.number != 5:
            return
        with database.sessions.begin() as session:
            session.execute(
                update(Subscription)
                .where(Subscription.subscriber_id == audience.ids[unsubscribed])
                .values(status=SubscriptionStatus.UNSUBSCRIBED)
            )
            session.execute(
                update(Subscriber)
                .where(Subscriber.id == audience.ids[blocklisted])
                .values(status=SubscriberStatus.BLOCKLISTED)
            )

    recorder.after_accept = after
    kit = make_kit(database, make_config(tmp_path, smtp.port, connections=1, batch_size=5))

    report = send(kit, campaign_id)

    assert (report.sent, report.skipped, report.stopped_because) == (18, 2, "sent")
    rows = deliveries(database, campaign_id)
    for address in (unsubscribed, blocklisted):
        assert rows[address].status == "skipped"
        assert "unsubscribed" in rows[address].smtp_response
    assert_each_received_once(recorder, [a for a, _, _ in people[:18]])
    assert statuses(database, campaign_id) == {"sent": 18, "skipped": 2}
    assert status_of(database, campaign_id) == "sent"


# ------------------------------------------------------------------ 7. test copies


def test_test_copies_touch_no_delivery(
    database: Database, smtp: SmtpServer, recorder: Recorder, small_issue: Path, tmp_path: Path
) -> None:
    add_audience(database, [("zoe@example.be", "Zoë", "Lefèvre")])
    campaign_id = new_campaign(database, small_issue)  # started: one queued delivery
    kit = make_kit(database, make_config(tmp_path, smtp.port, test_max_recipients=3))
    with database.sessions() as session:
        before = campaign_info(session, campaign_id)
    assert (before.status, before.deliveries) == ("sending", {"queued": 1})
    rows_before = deliveries(database, campaign_id)

    results = send_tests(kit, campaign_id, ["editor@x.org", " Chief@X.org "])

    assert [(r.address, r.ok) for r in results] == [("editor@x.org", True), ("chief@x.org", True)]
    assert all(r.reply.startswith("250 ") for r in results)
    assert sorted(recorder.by_recipient()) == ["chief@x.org", "editor@x.org"]
    for received in recorder.received:
        message = received.message()
        assert str(message["Subject"]) == "[TEST] " + before.subject
        assert received.mail_from == SENDER.from_address  # bounces of tests are not VERP
        assert "mailto:" not in str(message["List-Unsubscribe"])
        https = re.findall(r"<([^<>]+)>", str(message["List-Unsubscribe"]))[0]
        with pytest.raises(TokenError):  # a test link unsubscribes nobody
            Signer(KEY).verify("unsubscribe", https.rpartition("/")[2])
    # Nothing recorded: the campaign's statistics and deliveries are as they were.
    with database.sessions() as session:
        after = campaign_info(session, campaign_id)
    assert after == before
    assert deliveries(database, campaign_id) == rows_before

    # As a subscriber: their name in To.
    (result,) = send_tests(kit, campaign_id, ["editor@x.org"], as_subscriber="ZOE@example.be")
    assert result.ok
    message = recorder.received[-1].message()
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Lefèvre", "editor@x.org")

    # Refused before anything is sent.
    count = recorder.count()
    with pytest.raises(MailerError, match="at most 3"):
        send_tests(kit, campaign_id, [f"t{n}@x.org" for n in range(4)])
    with pytest.raises(MailerError, match="not an e-mail address"):
        send_tests(kit, campaign_id, ["editor@x.org", "not-an-address"])
    with pytest.raises(MailerError, match="no subscriber"):
        send_tests(kit, campaign_id, ["editor@x.org"], as_subscriber="nobody@example.be")
    assert recorder.count() == count
    assert deliveries(database, campaign_id) == rows_before
    with database.sessions() as session:
        assert campaign_info(session, campaign_id) == before


# ------------------------------------------------------------------ the command line


def write_config(tmp_path: Path, port: int, *, connections: int = 4, **sending: object) -> Path:
    lines = [
        "[sender]",
        f'from_name = "{SENDER.from_name}"',
        f'from_address = "{SENDER.from_address}"',
        "[web]",
        f'base_url = "{BASE_URL}"',
        "[[relays]]",
        'name = "test"',
        'host = "127.0.0.1"',
        f"port = {port}",
        f"connections = {connections}",
        "timeout = 10",
        "[sending]",
        "retry_after = 0.05",
        "retry_max = 0.2",
        'unsubscribe_mailbox = "unsubscribe"',
        *(f"{key} = {json.dumps(value)}" for key, value in sending.items()),
        "[security]",
        f'secret_key_file = "{tmp_path / "secret.key"}"',
    ]
    path = tmp_path / "mailer.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("MAILER_CONFIG", "MAILER_SECRET_KEY"):
        env.pop(name, None)
    env.update(MAILER_DATABASE_URL=db_url, NO_COLOR="1", COLUMNS="160")
    return env


def mailer(
    mailer_bin: str, db_url: str, config: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mailer_bin, "--config", str(config), *args],
        cwd=config.parent,
        env=cli_env(db_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=timeout,
    )


def test_cli_sends_test_copies(
    database: Database,
    db_url: str,
    smtp: SmtpServer,
    recorder: Recorder,
    small_issue: Path,
    tmp_path: Path,
    mailer_bin: str,
) -> None:
    add_audience(database, [("zoe@example.be", "Zoë", "Lefèvre")])
    campaign_id = new_campaign(database, small_issue, start=False)
    config = write_config(tmp_path, smtp.port)

    result = mailer(
        mailer_bin, db_url, config, "campaign", "test", str(campaign_id), "--to",
        "a@x.org,b@x.org", "--as", "zoe@example.be",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "sent: 250" in result.stdout
    assert sorted(recorder.by_recipient()) == ["a@x.org", "b@x.org"]
    for received in recorder.received:
        message = received.message()
        assert str(message["Subject"]).startswith("[TEST] ")
        assert message["To"].addresses[0].display_name == "Zoë Lefèvre"
    assert deliveries(database, campaign_id) == {}
    assert status_of(database, campaign_id) == "draft"


def test_cli_refuses_illegal_transitions(
    database: Database,
    db_url: str,
    smtp: SmtpServer,
    small_issue: Path,
    tmp_path: Path,
    mailer_bin: str,
) -> None:
    add_audience(database, numbered(2))
    draft = new_campaign(database, small_issue, start=False)
    done = new_campaign(database, small_issue)
    send(make_kit(database, make_config(tmp_path, smtp.port)), done)
    assert status_of(database, done) == "sent"
    config = write_config(tmp_path, smtp.port)

    cases = [
        (("campaign", "pause", str(draft)), "has not started"),
        (("campaign", "resume", str(done)), "it was sent"),
        (("campaign", "send", str(draft), "--workers", "2"), "need PostgreSQL"),
        (("campaign", "cancel", "999"), "no campaign 999"),
    ]
    if database.engine.dialect.name != "sqlite":
        cases[2] = (("campaign", "cancel", str(done)), "it was sent")
    for args, reason in cases:
        result = mailer(mailer_bin, db_url, config, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("error: ")
        assert reason in lines[0]
        assert "Traceback" not in result.stderr
    assert status_of(database, draft) == "draft"
    assert status_of(database, done) == "sent"


# ------------------------------------------------------------------ 8. crash and restart


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_killed_sender_is_continued_without_loss(
    database: Database, db_url: str, small_issue: Path, tmp_path: Path, mailer_bin: str
) -> None:
    people = numbered(300)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue, start=False)
    recorder = Recorder(delay=0.04)  # at most 100 messages a second
    connections, batch = 4, 10
    with SmtpServer(recorder) as server:
        config = write_config(
            tmp_path, server.port, connections=connections, batch_size=batch, lease_seconds=1
        )
        command = [mailer_bin, "--config", str(config), "campaign", "send", str(campaign_id)]
        with subprocess.Popen(
            command,
            cwd=tmp_path,
            env=cli_env(db_url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as first:
            try:
                assert recorder.wait_for(60, timeout=30), "the first sender sent nothing"
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
        time.sleep(0.2)  # what was on the wire has arrived
        at_kill = deliveries(database, campaign_id)
        received_at_kill = recorder.by_recipient()
        in_flight = {a for a, r in at_kill.items() if r.status == "sending"}
        assert 60 <= len(received_at_kill) < 300
        assert status_of(database, campaign_id) == "sending"

        result = mailer(mailer_bin, db_url, config, "campaign", "send", str(campaign_id))
        assert result.returncode == 0, result.stderr

        status = mailer(
            mailer_bin, db_url, config, "campaign", "status", str(campaign_id), "--json"
        )

    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["status"] == "sent"
    assert summary["recipients"] == 300
    assert summary["deliveries"]["sent"] == 300
    rows = deliveries(database, campaign_id)
    assert Counter(r.status for r in rows.values()) == {"sent": 300}
    got = recorder.by_recipient()
    assert sorted(got) == sorted(a for a, _, _ in people)  # everyone at least once
    twice = {a: ms for a, ms in got.items() if len(ms) > 1}
    for address, messages in twice.items():
        assert len(messages) == 2, address
        # The same message again: the receiving side can drop the copy.
        assert {m.header("Message-ID") for m in messages} == {rows[address].message_id}
        # Only a message on the wire (claimed and unsettled) at the crash is sent again.
        assert address in in_flight
        assert address in received_at_kill
    assert len(twice) <= len(in_flight)
    assert len(twice) <= connections * batch + connections


# ------------------------------------------------------------------ 9. several workers


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_three_worker_processes_share_a_campaign(
    database: Database,
    db_url: str,
    small_issue: Path,
    tmp_path: Path,
    mailer_bin: str,
    postgres_available: bool,
) -> None:
    need(postgres_available, "PostgreSQL is not reachable (set MAILER_TEST_PG_URL)")
    people = numbered(5000)
    add_audience(database, people)
    campaign_id = new_campaign(database, small_issue, start=False)
    recorder = Recorder(keep_body=False)
    with SmtpServer(recorder) as server:
        config = write_config(tmp_path, server.port, connections=4, batch_size=50)
        result = mailer(
            mailer_bin, db_url, config, "campaign", "send", str(campaign_id), "--workers", "3",
            timeout=120,
        )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert recorder.count() == 5000
    assert_each_received_once(recorder, [a for a, _, _ in people])
    assert statuses(database, campaign_id) == {"sent": 5000}
    assert status_of(database, campaign_id) == "sent"
    # More connections than one worker has: the three processes shared the work.
    assert len({m.peer for m in recorder.received}) > 4
    rows = deliveries(database, campaign_id)
    for received in recorder.received[::97]:
        assert received.header("Message-ID") == rows[received.recipient].message_id


# ------------------------------------------------------------------ 10. scheduled campaigns


def test_scheduled_times_are_brussels_time_and_in_the_future() -> None:
    from mailer.campaigns.lifecycle import parse_local_time

    now = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
    # 09:00 in Brussels in winter is 08:00 UTC; in summer 07:00 UTC.
    assert parse_local_time("2026-12-01 09:00", now=now) == dt.datetime(
        2026, 12, 1, 8, 0, tzinfo=dt.UTC
    )
    assert parse_local_time("2027-07-01 09:00", now=now).hour == 7
    with pytest.raises(MailerError, match="in the past"):
        parse_local_time("2026-11-26 08:59", now=now)  # 07:59 UTC
    with pytest.raises(MailerError, match="2026-12-01 09:00"):
        parse_local_time("1 December", now=now)


def test_the_worker_sends_a_scheduled_campaign_once_it_is_due(
    database: Database,
    db_url: str,
    smtp: SmtpServer,
    recorder: Recorder,
    small_issue: Path,
    tmp_path: Path,
    mailer_bin: str,
) -> None:
    people = numbered(5)
    add_audience(database, people)
    config = write_config(tmp_path, smtp.port)
    result = mailer(
        mailer_bin, db_url, config, "campaign", "create", "--issue", str(small_issue),
        "--list", LIST_SLUG, "--at", "2099-01-01 09:00",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    campaign_id = int(result.stdout.strip())
    assert status_of(database, campaign_id) == "scheduled"

    # Not due yet: the worker leaves it alone.
    idle = mailer(mailer_bin, db_url, config, "worker", "--once", "--quiet")
    assert idle.returncode == 0, idle.stderr
    assert status_of(database, campaign_id) == "scheduled"
    assert recorder.by_recipient() == {}

    with database.sessions.begin() as session:  # time passes
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(scheduled_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    with database.sessions() as session:
        assert due_campaigns(session) == [campaign_id]
    due = mailer(mailer_bin, db_url, config, "worker", "--once", "--quiet")
    assert due.returncode == 0, due.stderr
    assert status_of(database, campaign_id) == "sent"
    assert_each_received_once(recorder, [a for a, _, _ in people])
    with database.sessions() as session:
        assert due_campaigns(session) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("subject", ["Hello\r\nBcc: everyone@example.org", "x" * 301, "  "])
def test_a_subject_cannot_inject_a_header(
    database: Database, small_issue: Path, subject: str
) -> None:
    add_audience(database, numbered(1))
    with database.sessions.begin() as session, pytest.raises(MailerError, match="--subject"):
        create_campaign(session, issue_file=small_issue, list_slug=LIST_SLUG, subject=subject)


def test_status_counts_bounces_per_federation(
    database: Database,
    db_url: str,
    smtp: SmtpServer,
    recorder: Recorder,
    small_issue: Path,
    tmp_path: Path,
    mailer_bin: str,
) -> None:
    people = [
        ("a1@example.be", "A", "One"), ("a2@example.be", "A", "Two"),
        ("b1@example.be", "B", "One"), ("b2@example.be", "B", "Two"),
        ("x1@example.be", "X", "One"),
    ]  # fmt: skip
    audience = add_audience(database, people)
    with database.sessions.begin() as session:
        add_federation(session, "fed-a", "Fédération A")
        add_federation(session, "fed-b", "Fédération B")
        for address, slug in (("a1", "fed-a"), ("a2", "fed-a"), ("b1", "fed-b"), ("b2", "fed-b")):
            session.execute(
                update(Subscriber)
                .where(Subscriber.id == audience.ids[f"{address}@example.be"])
                .values(federation_id=select(Federation.id).where(Federation.slug == slug)
                        .scalar_subquery())
            )  # fmt: skip
    campaign_id = new_campaign(database, small_issue)

    def rcpt(address: str, attempt: int) -> str | None:
        if address == "a2@example.be":
            return "550 5.1.1 <a2@example.be>: no such user"
        if address == "b2@example.be":
            return "550 5.7.1 blocked by policy"  # refused, but the address is alive: soft
        return None

    recorder.rcpt_hook = rcpt
    send(make_kit(database, make_config(tmp_path, smtp.port)), campaign_id)
    status = mailer(
        mailer_bin, db_url, write_config(tmp_path, smtp.port), "campaign", "status",
        str(campaign_id), "--json",
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["bounces"] == {"hard": 1, "soft": 1, "complaint": 0}
    zero = {"hard": 0, "soft": 0, "complaint": 0}
    assert summary["by_federation"] == {
        "": {"recipients": 1, "sent": 1, **zero},
        "fed-a": {"recipients": 2, "sent": 1, **zero, "hard": 1},
        "fed-b": {"recipients": 2, "sent": 1, **zero, "soft": 1},
    }
    with database.sessions() as session:  # only the dead address is suppressed
        blocked = set(
            session.scalars(
                select(Subscriber.email).where(Subscriber.status == SubscriberStatus.BLOCKLISTED)
            )
        )
    assert blocked == {"a2@example.be"}
