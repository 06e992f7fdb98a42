"""`mailer bounces fetch` against a real IMAP server: a private Dovecot on a loopback port
(`tests/imap_server.py`), on SQLite and PostgreSQL. Under CI=true these tests must run."""

from __future__ import annotations

import dataclasses
import itertools
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.bounces.fetch import FetchSummary, fetch_bounces
from mailer.bounces.imap import ImapMailbox, MailboxError, encode_folder, open_mailbox
from mailer.bounces.policy import BouncePolicy
from mailer.config import ImapConfig, load_config
from mailer.db.models import Bounce
from mailer.errors import ConfigError
from mailer.tokens import Signer
from mailer.wiring import Database
from tests import imap_server
from tests.bounce_samples import POSTFIX_DSN
from tests.conftest import need
from tests.imap_server import PASSWORD, USER, ImapServer, dovecot
from tests.smtp_server import free_port
from tests.test_bounce_attribution import BOUNCE_DOMAIN, JAN, SIGNER, ours, verp
from tests.test_bounce_ingest import (
    ANN,
    People,
    cell,
    cli_config,
    counts,
    inbox,
    people,
    suppressed,
)
from tests.test_send import mailer
from tests.tls import self_signed_certificate

ACCOUNTS = itertools.count(1)
OUTCOMES = ("hard", "complaint", "delay", "not-bounce", "unattributed", "forged")


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[ImapServer]:
    need(imap_server.available(), "Dovecot is not installed (Debian package dovecot-imapd)")
    with dovecot() as server:
        yield server


@pytest.fixture
def imap(dovecot_server: ImapServer) -> ImapServer:
    """The module's server as a new user: an empty mailbox of its own."""
    return dataclasses.replace(dovecot_server, user=f"bounces-{next(ACCOUNTS)}@example.be")


def settings(server: ImapServer, **changes: object) -> ImapConfig:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": server.user,
        "timeout": 10.0,
    }
    values.update(changes)
    return ImapConfig(**values)  # type: ignore[arg-type]


def fetch(
    database: Database,
    server: ImapServer,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    **changes: object,
) -> FetchSummary:
    folders = settings(server, **changes)
    mailbox = open_mailbox(folders, PASSWORD)
    try:
        return fetch_bounces(
            database.sessions,
            SIGNER,
            mailbox,
            folders,
            domain=BOUNCE_DOMAIN,
            policy=BouncePolicy(),
            dry_run=dry_run,
            limit=limit,
        )
    finally:
        mailbox.close()


def lf(raw: bytes) -> bytes:
    """IMAP keeps messages with CRLF line ends; the samples are written with LF."""
    return raw.replace(b"\r\n", b"\n")


def bounce_rows(database: Database) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Bounce)) or 0)


def fill(server: ImapServer, sent: People) -> dict[str, bytes]:
    messages = inbox(sent)
    server.append("INBOX", *(messages[name] for name in OUTCOMES))
    return messages


@pytest.mark.parametrize(
    "capabilities",
    [None, "IMAP4rev1 LITERAL+ UIDPLUS", "IMAP4rev1 LITERAL+"],
    ids=["move", "copy-uidplus", "copy-only"],
)
def test_fetch_records_each_bounce_and_files_each_message(
    database: Database, tmp_path: Path, capabilities: str | None
) -> None:
    need(imap_server.available(), "Dovecot is not installed (Debian package dovecot-imapd)")
    with dovecot(capabilities=capabilities) as server:
        messages = fill(server, people(database, tmp_path))
        summary = fetch(database, server)
        assert counts(summary) == {
            "messages": 6,
            "hard": 1,
            "soft": 0,
            "complaint": 1,
            "duplicates": 0,
            "suppressed": 2,
            "delayed": 1,
            "not_bounces": 1,
            "unattributed": 1,
            "forged": 1,
        }
        assert summary.moved == {"Processed": 3, "Unparseable": 1, "Unattributed": 2}
        assert summary.left == 0
        folders = {
            name: sorted(lf(raw) for raw in found) for name, found in server.folders().items()
        }
        expected = {
            "INBOX": [],
            "Processed": sorted(messages[n] for n in ("hard", "complaint", "delay")),
            "Unparseable": [messages["not-bounce"]],
            "Unattributed": sorted(messages[n] for n in ("unattributed", "forged")),
        }
        assert folders == expected
        # Without UIDPLUS only the owner may expunge: ours are flagged, nothing else removed.
        assert server.deleted("INBOX") == (6 if capabilities == "IMAP4rev1 LITERAL+" else 0)
        assert set(suppressed(database)) == {JAN, ANN}

        again = fetch(database, server)
        assert again.messages == 0
        assert again.moved == {}
        assert bounce_rows(database) == 2


def test_an_interrupted_fetch_is_taken_again_and_recorded_once(
    database: Database, imap: ImapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounces are committed before the messages move: a failure between the two leaves
    the messages in the folder, and the next run finds them recorded already."""
    fill(imap, people(database, tmp_path))

    def lost(self: ImapMailbox, uids: object, folder: str) -> None:
        raise MailboxError("IMAP: the connection was lost")

    with monkeypatch.context() as patch:
        patch.setattr(ImapMailbox, "move", lost)
        with pytest.raises(MailboxError):
            fetch(database, imap)
    assert bounce_rows(database) == 2
    assert len(imap.folders()["INBOX"]) == 6

    summary = fetch(database, imap)
    assert summary.recorded == {"hard": 0, "soft": 0, "complaint": 0}
    assert summary.duplicates == 2
    assert summary.moved == {"Processed": 3, "Unparseable": 1, "Unattributed": 2}
    assert bounce_rows(database) == 2
    assert imap.folders()["INBOX"] == []


def test_a_dry_run_stores_creates_and_moves_nothing(
    database: Database, imap: ImapServer, tmp_path: Path
) -> None:
    fill(imap, people(database, tmp_path))
    summary = fetch(database, imap, dry_run=True)
    assert summary.recorded == {"hard": 1, "soft": 0, "complaint": 1}
    assert summary.moved == {}
    assert summary.left == 6
    assert bounce_rows(database) == 0
    assert suppressed(database) == {}
    assert list(imap.folders()) == ["INBOX"]
    assert len(imap.folders()["INBOX"]) == 6


def test_limit_takes_the_oldest_first_and_folders_may_have_any_name(
    database: Database, imap: ImapServer, tmp_path: Path
) -> None:
    messages = fill(imap, people(database, tmp_path))
    summary = fetch(database, imap, limit=2, processed_folder="Traités", unparseable_folder="A&B")
    assert summary.messages == 2
    assert summary.left == 4
    assert summary.moved == {"Traités": 2}
    found = imap.folders()
    assert sorted(lf(raw) for raw in found["Trait&AOk-s"]) == sorted(
        [messages["hard"], messages["complaint"]]
    )
    assert "A&-B" in found  # created before the first move, although nothing went there yet
    assert len(found["INBOX"]) == 4


def test_garbage_and_huge_messages_are_filed_not_fatal(
    database: Database, imap: ImapServer, tmp_path: Path
) -> None:
    sent = people(database, tmp_path)
    jan_delivery = sent[1][JAN][0]
    huge = ours(POSTFIX_DSN, to=verp(jan_delivery)) + b"\n" + b"x" * 76 + b"\n" * 70_000
    garbage = [
        b"\x00\xff\xfe not a message at all",
        b"Content-Type: multipart/report; boundary=\n\n--\n--\n",
        b"Subject: =?x-unknown?Q?=FF?=\nContent-Type: text/plain; charset=nope\n\n\xff\xfe",
    ]
    imap.append("INBOX", huge, *garbage)
    summary = fetch(database, imap)
    assert summary.messages == 4
    assert summary.recorded["hard"] == 1
    assert summary.moved == {"Processed": 1, "Unparseable": 3}


def test_connection_failures_are_one_clear_error(database: Database, imap: ImapServer) -> None:
    with pytest.raises(MailboxError, match=rf"log in as '{imap.user}'") as wrong:
        open_mailbox(settings(imap), "not the password")
    assert "not the password" not in str(wrong.value)
    assert PASSWORD not in str(wrong.value)

    with pytest.raises(MailboxError, match=r"cannot connect: Connection refused"):
        open_mailbox(settings(imap, port=free_port()), PASSWORD)

    mailbox = open_mailbox(settings(imap), PASSWORD)
    try:
        with pytest.raises(MailboxError, match=r"folder 'Nope': the server said NO"):
            fetch_bounces(
                database.sessions,
                SIGNER,
                mailbox,
                settings(imap, folder="Nope"),
                domain=BOUNCE_DOMAIN,
                policy=BouncePolicy(),
            )
    finally:
        mailbox.close()


def test_tls_and_starttls_check_the_certificate(tmp_path: Path) -> None:
    need(imap_server.available(), "Dovecot is not installed (Debian package dovecot-imapd)")
    cert, key = self_signed_certificate(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    with dovecot(tls=(cert, key)) as server:
        for security, port in (("tls", server.tls_port), ("starttls", server.port)):
            wanted = settings(server, security=security, port=port)
            mailbox = open_mailbox(wanted, PASSWORD, tls_context=trusted)
            try:
                assert mailbox.select("INBOX") == 0
            finally:
                mailbox.close()
            with pytest.raises(MailboxError, match="TLS failed: CERTIFICATE_VERIFY_FAILED"):
                open_mailbox(wanted, PASSWORD)  # the system's CAs do not know this server


@pytest.mark.parametrize(
    ("changes", "password", "message"),
    [
        ({"host": ""}, PASSWORD, "bounces.imap.host: no IMAP server set"),
        ({"username": ""}, PASSWORD, "bounces.imap.username: no IMAP user set"),
        ({}, None, "MAILER_IMAP_PASSWORD is not set"),
        ({"host": "imap.example.be"}, PASSWORD, "would send the password in clear"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_connecting(
    changes: dict[str, object], password: str | None, message: str
) -> None:
    base: dict[str, object] = {"host": "127.0.0.1", "security": "none", "username": USER}
    base.update(changes)
    with pytest.raises(ConfigError, match=message):
        open_mailbox(ImapConfig(**base), password)  # type: ignore[arg-type]


def test_folder_names_are_modified_utf7_and_quoted() -> None:
    assert encode_folder("INBOX") == '"INBOX"'
    assert encode_folder("Traités") == '"Trait&AOk-s"'
    assert encode_folder("A&B") == '"A&-B"'
    assert encode_folder("~peter/mail/日本語/台北") == '"~peter/mail/&ZeVnLIqe-/&U,BTFw-"'
    assert encode_folder('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'


def test_imap_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "mailer.toml"
    path.write_text(
        '[bounces.imap]\nhost = "imap.example.be"\nusername = "b"\nprocessed_folder = "Done"\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={"MAILER_IMAP_USER": "bounces@unipso.be"})
    imap = config.bounces.imap
    assert (imap.host, imap.username, imap.port, imap.security) == (
        "imap.example.be",
        "bounces@unipso.be",
        0,
        "tls",
    )
    assert imap.processed_folder == "Done"
    for bad, key in [
        ('security = "ssl"', "bounces.imap.security"),
        ('processed_folder = "INBOX"', "bounces.imap.processed_folder"),
        ('unparseable_folder = " "', "bounces.imap.unparseable_folder"),
        ("port = 70000", "bounces.imap.port"),
        ('password_env = "imap password"', "bounces.imap.password_env"),
        ('host = "imap.example.be/x"', "bounces.imap.host"),
    ]:
        path.write_text(f"[bounces.imap]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(path, environ={})


def test_cli_fetch(
    database: Database,
    db_url: str,
    mailer_bin: str,
    imap: ImapServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = people(database, tmp_path)
    config = cli_config(tmp_path)
    with config.open("a", encoding="utf-8") as file:
        file.write(
            f'[bounces.imap]\nhost = "127.0.0.1"\nport = {imap.port}\nsecurity = "none"\n'
            f'username = "{imap.user}"\n'
        )
    token = Signer(b"k" * 64).sign("verp", sent[1][JAN][0])  # the key cli_config writes
    imap.append(
        "INBOX", ours(POSTFIX_DSN, to=f"bounces+{token}@{BOUNCE_DOMAIN}"), inbox(sent)["not-bounce"]
    )
    monkeypatch.setenv("MAILER_IMAP_PASSWORD", "wrong")
    refused = mailer(mailer_bin, db_url, config, "bounces", "fetch")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[0]
        .startswith(f"error: IMAP 127.0.0.1:{imap.port}: log in as '{imap.user}'")
    )
    assert "Traceback" not in refused.stderr
    assert "wrong" not in refused.stderr

    monkeypatch.setenv("MAILER_IMAP_PASSWORD", PASSWORD)
    run = mailer(mailer_bin, db_url, config, "bounces", "fetch", "--quiet")
    assert run.returncode == 0, run.stderr
    assert cell(run.stdout, "hard bounces recorded") == "1"
    assert cell(run.stdout, "moved to Processed") == "1"
    assert cell(run.stdout, "moved to Unparseable") == "1"
    assert cell(run.stdout, "left in the folder") == "0"
    assert imap.folders()["INBOX"] == []
