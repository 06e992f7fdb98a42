"""The bounce domain's SMTP endpoint (`mailer.bounces.server`), started in this process on
SQLite and PostgreSQL, with smtplib as the sending system."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.bounces.policy import BouncePolicy
from mailer.bounces.server import BounceHandler, Received, make_controller
from mailer.db.models import Bounce, Subscriber, Suppression
from mailer.tokens import Signer
from mailer.wiring import Database
from tests.bounce_samples import POSTFIX_DSN
from tests.smtp_server import free_port
from tests.test_bounce_attribution import (
    BOUNCE_DOMAIN,
    JAN,
    SIGNER,
    delivery_ids,
    ours,
    verp,
    write_issue,
)
from tests.test_bounce_ingest import cli_config
from tests.test_send import add_audience, cli_env, new_campaign

ANN = "ann@example.be"


def wire(raw: bytes) -> bytes:
    """CRLF line ends, as SMTP carries them (smtplib leaves bytes as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Endpoint:
    def __init__(self, handler: BounceHandler, port: int) -> None:
        self.handler = handler
        self.port = port
        self.received: list[Received] = []

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname="mx.sender.example", timeout=10)


@pytest.fixture
def endpoint(database: Database, tmp_path: Path) -> Iterator[Endpoint]:
    handler = BounceHandler(
        database.sessions,
        SIGNER,
        domain=BOUNCE_DOMAIN,
        policy=BouncePolicy(),
        quarantine_dir=tmp_path / "quarantine",
    )
    port = free_port()
    served = Endpoint(handler, port)
    handler.on_message = served.received.append
    controller = make_controller(handler, host="127.0.0.1", port=port)
    controller.start()
    try:
        yield served
    finally:
        controller.stop()


def test_rcpt_accepts_only_genuine_verp_addresses(
    database: Database, endpoint: Endpoint, tmp_path: Path
) -> None:
    add_audience(database, [(JAN, "Jan", "P")])
    ids = delivery_ids(database, new_campaign(database, write_issue(tmp_path)))
    genuine = verp(ids[JAN][0])
    refused = [
        f"postmaster@{BOUNCE_DOMAIN}",
        f"bounces+{ids[JAN][0]}-.aaaaaaaaaaaaaaaa@{BOUNCE_DOMAIN}",  # forged
        verp(ids[JAN][0], signer=Signer(b"y" * 32)),  # another key
        verp(ids[JAN][0], domain="elsewhere.example"),  # not our domain
        JAN,
    ]
    with endpoint.client() as client:
        client.ehlo()
        client.mail("")
        for address in refused:
            code, reply = client.rcpt(address)
            assert (code, reply[:5]) == (550, b"5.1.1"), address
        assert client.rcpt(genuine)[0] == 250
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("", [refused[1]], wire(POSTFIX_DSN))
    assert endpoint.received == []
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 0


def test_copies_of_one_bounce_arriving_together_are_recorded_once(
    database: Database, endpoint: Endpoint, tmp_path: Path
) -> None:
    """Eight SMTP sessions deliver the same bounce at once (a sender retrying after a timeout):
    the report is stored once, whatever the interleaving."""
    add_audience(database, [(JAN, "Jan", "P")])
    ids = delivery_ids(database, new_campaign(database, write_issue(tmp_path)))
    raw = wire(ours(POSTFIX_DSN, to=verp(ids[JAN][0])))
    start = threading.Barrier(8)

    def deliver() -> None:
        with endpoint.client() as client:
            client.ehlo()
            start.wait(timeout=10)
            client.sendmail("", [verp(ids[JAN][0])], raw)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(endpoint.received) == 8
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 1


def test_a_bounce_to_a_verp_address_is_recorded(
    database: Database, endpoint: Endpoint, tmp_path: Path
) -> None:
    add_audience(database, [(JAN, "Jan", "P"), (ANN, "Ann", "A")])
    campaign = new_campaign(database, write_issue(tmp_path))
    ids = delivery_ids(database, campaign)
    # The DSN reports jan@ (a forwarding address, say), but it came back to ann's VERP
    # address: the envelope decides.
    with endpoint.client() as client:
        client.sendmail("", [verp(ids[ANN][0])], wire(ours(POSTFIX_DSN)))
        client.sendmail("", [verp(ids[ANN][0])], wire(ours(POSTFIX_DSN)))  # the same twice
    (first, second) = endpoint.received
    assert (first.result.outcome, first.result.method, first.result.recorded) == (
        "recorded",
        "verp",
        {"hard": 1},
    )
    assert second.result.duplicates == 1
    with database.sessions() as session:
        rows = session.execute(select(Bounce.email, Bounce.kind, Bounce.delivery_id)).all()
        reason = session.scalar(select(Suppression.reason).where(Suppression.email == ANN))
        statuses = dict(iter(session.execute(select(Subscriber.email, Subscriber.status))))
    assert [tuple(r) for r in rows] == [(ANN, "hard", ids[ANN][0])]
    assert reason == "hard bounce"
    assert {k: str(v) for k, v in statuses.items()} == {JAN: "active", ANN: "blocklisted"}


def test_an_unattributable_bounce_is_quarantined(
    database: Database, endpoint: Endpoint, tmp_path: Path
) -> None:
    # A genuine token whose delivery no longer exists, about an unknown address.
    raw = ours(POSTFIX_DSN, recipient="nobody@example.be")
    with endpoint.client() as client:
        client.sendmail("", [verp(987654)], wire(raw))
    (received,) = endpoint.received
    assert received.result.outcome == "unattributed"
    assert received.quarantined is not None
    assert received.quarantined.parent == tmp_path / "quarantine"
    assert received.quarantined.read_bytes().replace(b"\r\n", b"\n") == raw
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 0


def test_cli_serve_records_and_stops_on_sigterm(
    database: Database, db_url: str, mailer_bin: str, tmp_path: Path
) -> None:
    add_audience(database, [(JAN, "Jan", "P")])
    ids = delivery_ids(database, new_campaign(database, write_issue(tmp_path)))
    config = cli_config(tmp_path)
    port = free_port()
    command = [mailer_bin, "--config", str(config), "bounces", "serve", "--port", str(port)]
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli_env(db_url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        try:
            banner = process.stdout.readline()
            assert f"on 127.0.0.1:{port}" in banner
            address = verp(ids[JAN][0], signer=Signer(b"k" * 64))
            with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.example", timeout=10) as client:
                client.sendmail("", [address], wire(ours(POSTFIX_DSN)))
            line = process.stdout.readline()
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=10)
    assert "recorded" in line, errors
    assert JAN in line
    assert "1 hard" in line
    assert process.returncode == 0
    with database.sessions() as session:
        assert session.scalar(select(Suppression.reason).where(Suppression.email == JAN)) == (
            "hard bounce"
        )
