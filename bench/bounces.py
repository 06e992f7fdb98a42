"""Bounce benchmark: parsing speed on real bounces, and `bounces fetch` from a real IMAP server.

    .venv/bin/python bench/bounces.py [--corpus DIR] [--messages N]

Parsing runs over flufl.bounce's real bounces (`../shared/corpora/flufl-bounce`, read in
place; skipped when absent). Fetching starts a private Dovecot on a loopback port (as the
tests do; skipped when Dovecot is not installed), fills a folder with N bounces of a sent
campaign's recipients, and times one fetch into a scratch SQLite database: parse, match,
record and commit each message, then move it. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the private Dovecot of the tests

from sqlalchemy import select  # noqa: E402

from mailer.bounces import parse_message  # noqa: E402
from mailer.bounces.fetch import fetch_bounces  # noqa: E402
from mailer.bounces.imap import open_mailbox  # noqa: E402
from mailer.bounces.policy import BouncePolicy  # noqa: E402
from mailer.config import Config, DatabaseConfig, ImapConfig  # noqa: E402
from mailer.db.engine import make_engine  # noqa: E402
from mailer.db.migrate import upgrade  # noqa: E402
from mailer.db.models import Delivery  # noqa: E402
from mailer.wiring import Database, open_database  # noqa: E402
from tests import imap_server  # noqa: E402
from tests.bounce_samples import POSTFIX_DSN  # noqa: E402
from tests.test_bounce_attribution import BOUNCE_DOMAIN, SIGNER, ours, verp  # noqa: E402
from tests.test_send import SMALL_ISSUE, add_audience, new_campaign  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "flufl-bounce" / "messages"


def bench_parse(corpus: Path, rounds: int = 5) -> None:
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    if not files:
        print(f"parse: skipped ({corpus} not found)")
        return
    raws = [p.read_bytes() for p in files]
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in raws:
            parse_message(raw)
    elapsed = time.perf_counter() - started
    count = len(raws) * rounds
    print(f"parse: {count / elapsed:,.0f} messages/s ({elapsed / count * 1000:.2f} ms each, "
          f"{len(raws)} real bounces × {rounds})")  # fmt: skip


def _database(folder: Path) -> Database:
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return open_database(Config(database=DatabaseConfig(url=url)))


def bench_fetch(messages: int) -> None:
    if not imap_server.available():
        print("fetch: skipped (Dovecot is not installed: Debian package dovecot-imapd)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        database = _database(folder)
        people = [(f"reader{i}@example.be", "Reader", str(i)) for i in range(messages)]
        add_audience(database, people)
        issue = folder / "issue.md"
        issue.write_text(SMALL_ISSUE, encoding="utf-8")
        campaign = new_campaign(database, issue)
        with database.sessions() as session:
            deliveries = session.execute(
                select(Delivery.id, Delivery.email).where(Delivery.campaign_id == campaign)
            ).all()
        with imap_server.dovecot() as server:
            client = server.client()
            for delivery_id, email in deliveries:
                raw = ours(POSTFIX_DSN, to=verp(delivery_id), recipient=email)
                client.append("INBOX", None, None, raw)
            client.logout()
            settings = ImapConfig(host=server.host, port=server.port, security="none",
                                  username=server.user, timeout=60)  # fmt: skip
            started = time.perf_counter()
            mailbox = open_mailbox(settings, imap_server.PASSWORD)
            try:
                summary = fetch_bounces(database.sessions, SIGNER, mailbox, settings,
                                        domain=BOUNCE_DOMAIN, policy=BouncePolicy())  # fmt: skip
            finally:
                mailbox.close()
            elapsed = time.perf_counter() - started
        database.engine.dispose()
    print(f"fetch: {summary.messages / elapsed:,.0f} messages/s ({summary.messages} hard "
          f"bounces recorded and suppressed, moved {summary.moved}; SQLite, Dovecot on "
          f"loopback, {elapsed:.1f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--messages", type=int, default=1000, help="bounces to fetch")
    args = parser.parse_args()
    bench_parse(args.corpus)
    bench_fetch(args.messages)


if __name__ == "__main__":
    main()
