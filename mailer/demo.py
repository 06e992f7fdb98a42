"""`mailer demo`: the whole job on embedded defaults, in a folder of its own.

A fresh SQLite database, the example federations, organisations and member file, a campaign
of the example issue, a test copy, the real send through a local SMTP sink that writes each
message it receives to `mailbox/` — so a newcomer sees every step without any set-up.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from mailer.config import Config, DatabaseConfig, RelayConfig, SecurityConfig
from mailer.domain import CampaignInfo, ImportReport
from mailer.resources import example_issue, examples_dir

__all__ = ["DemoReport", "run_demo"]

FEDERATIONS = (
    ("fcss", "Fédération des centres de services sociaux"),
    ("fmm", "Fédération des maisons médicales"),
    ("fasd", "Fédération de l'aide à domicile"),
)


@dataclass(frozen=True, slots=True)
class DemoReport:
    folder: Path
    members: ImportReport
    test_copies: int
    campaign: CampaignInfo
    mailbox: Path
    messages: int


class _Mailbox:
    """An in-process SMTP server on a free loopback port that keeps every message as .eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.count += 1
            number = self.count
        recipient = str(envelope.rcpt_tos[0]).replace("/", "_")
        (self.folder / f"{number:04d}-{recipient}.eml").write_bytes(envelope.content)
        return "250 2.0.0 Ok: kept in the demo mailbox"


@contextmanager
def _smtp_sink(folder: Path) -> Iterator[tuple[_Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = _Mailbox(folder)
    with socket.socket() as probe:  # a free port (aiosmtpd needs the number up front)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def run_demo(
    folder: Path,
    config: Config,
    templates: jinja2.Environment,
    *,
    say: Callable[[str], None] = lambda _: None,
) -> DemoReport:
    """Everything from an empty database to a sent campaign, inside `folder`."""
    from mailer.campaigns.lifecycle import campaign_info, create_campaign, start_campaign
    from mailer.campaigns.runner import SendKit, run_campaign, send_test_copies
    from mailer.db.engine import make_engine
    from mailer.db.migrate import upgrade
    from mailer.subscribers.directory import add_federation, create_list
    from mailer.subscribers.importer import (
        ImportOptions,
        import_subscribers,
        read_subscriber_file,
    )
    from mailer.subscribers.organisations import import_organisations, read_organisation_file
    from mailer.tokens import Signer, load_secret_key
    from mailer.transport.smtp import SmtpTransport
    from mailer.wiring import open_database

    folder.mkdir(parents=True, exist_ok=True)
    mailbox_dir = folder / "mailbox"
    shutil.rmtree(mailbox_dir, ignore_errors=True)
    mailbox_dir.mkdir()
    database_file = folder / "demo.db"
    for stale in folder.glob("demo.db*"):
        stale.unlink()
    url = f"sqlite:///{database_file}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    say(f"database {database_file} created")

    with _smtp_sink(mailbox_dir) as (mailbox, port):
        demo_config = dataclasses.replace(
            config,
            database=DatabaseConfig(url=url),
            relays=(RelayConfig(name="demo-mailbox", host="127.0.0.1", port=port),),
            security=SecurityConfig(secret_key_file=str(folder / "secret.key")),
        )
        database = open_database(demo_config)
        members = examples_dir() / "members"
        with database.sessions.begin() as session:
            for slug, name in FEDERATIONS:
                add_federation(session, slug, name)
            create_list(session, "actu", "#ActuUNIPSO", double_opt_in=False)
            import_organisations(session, read_organisation_file(members / "organisations.csv"))
        report = import_subscribers(
            database.sessions,
            read_subscriber_file(members / "members-excel.csv"),
            ImportOptions(list_slug="actu"),
        )
        say(f"{report.inserted} members imported ({report.rejected} rows rejected, as expected)")
        with database.sessions.begin() as session:
            campaign_id = create_campaign(session, issue_file=example_issue(), list_slug="actu")
        kit = SendKit(
            config=demo_config,
            sessions=database.sessions,
            templates=templates,
            signer=Signer(load_secret_key(demo_config.security)),
            transport=lambda: SmtpTransport(demo_config.relays),
        )
        tests = send_test_copies(kit, campaign_id, ["staff@example.org"])
        say(f"campaign {campaign_id} created; a test copy went to staff@example.org")
        with database.sessions.begin() as session:
            start_campaign(session, campaign_id)
        run_campaign(kit, campaign_id)
        with database.sessions() as session:
            info = campaign_info(session, campaign_id)
        database.engine.dispose()
        return DemoReport(
            folder=folder,
            members=report,
            test_copies=sum(t.ok for t in tests),
            campaign=info,
            mailbox=mailbox_dir,
            messages=mailbox.count,
        )
