"""`mailer bounces ingest` (.eml, maildir, mbox), `bounces list` and `suppressions`, on SQLite
and PostgreSQL: the service in this process, the command line through a subprocess."""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from mailer.bounces.ingest import IngestSummary, ingest_paths, open_sources
from mailer.bounces.policy import BouncePolicy
from mailer.db.models import (
    Bounce,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from mailer.errors import InputFileError, MailerError, NotFound
from mailer.subscribers.suppressions import (
    add_suppression,
    list_suppressions,
    remove_suppression,
)
from mailer.tokens import Signer
from mailer.wiring import Database
from tests.bounce_samples import ARF, EXIM_DELAY, NOT_BOUNCES, POSTFIX_DSN
from tests.test_bounce_attribution import (
    BOUNCE_DOMAIN,
    JAN,
    SIGNER,
    delivery_ids,
    message_id,
    ours,
    verp,
    write_issue,
)
from tests.test_send import add_audience, mailer, new_campaign, write_config

ANN = "ann@example.be"


People = tuple[int, dict[str, tuple[int, int]]]


def people(database: Database, tmp_path: Path) -> People:
    """jan@, ann@ and eve@ on a list, one campaign started: the campaign and, by address,
    (delivery, subscriber)."""
    add_audience(database, [(JAN, "Jan", "P"), (ANN, "Ann", "A"), ("eve@example.be", "Eve", "E")])
    campaign = new_campaign(database, write_issue(tmp_path))
    return campaign, delivery_ids(database, campaign)


def inbox(sent: People) -> dict[str, bytes]:
    """One message of each outcome."""
    campaign, ids = sent
    jan, ann = ids[JAN], ids[ANN]
    return {
        "hard": ours(POSTFIX_DSN, to=verp(jan[0])),
        "complaint": ours(
            ARF.replace(b"Claire@yahoo.example", ANN.encode()).replace(
                b"claire@yahoo.example", ANN.encode()
            ),
            msgid=message_id(campaign, ann[1]),
        ),
        "delay": ours(EXIM_DELAY, to=verp(ids["eve@example.be"][0])),
        "not-bounce": NOT_BOUNCES["out-of-office"],
        "unattributed": ours(POSTFIX_DSN, recipient="nobody@example.be"),
        "forged": ours(POSTFIX_DSN, to=f"bounces+{ann[0]}-.aaaaaaaaaaaaaaaa@{BOUNCE_DOMAIN}"),
    }


def ingest(
    database: Database, tmp_path: Path, *paths: Path, dry_run: bool = False
) -> IngestSummary:
    return ingest_paths(
        database.sessions,
        SIGNER,
        open_sources(paths),
        domain=BOUNCE_DOMAIN,
        policy=BouncePolicy(),
        quarantine_dir=tmp_path / "quarantine",
        dry_run=dry_run,
    )


def counts(summary: IngestSummary) -> dict[str, int]:
    return {
        "messages": summary.messages,
        **summary.recorded,
        "duplicates": summary.duplicates,
        "suppressed": summary.suppressed,
        "delayed": summary.delayed,
        "not_bounces": summary.not_bounces,
        "unattributed": summary.unattributed,
        "forged": summary.forged,
    }


def suppressed(database: Database) -> dict[str, str]:
    with database.sessions() as session:
        return {
            str(email): reason
            for email, reason in session.execute(select(Suppression.email, Suppression.reason))
        }


def test_ingest_a_maildir(database: Database, tmp_path: Path) -> None:
    sent = people(database, tmp_path)
    ids = sent[1]
    messages = inbox(sent)
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(folder, create=True)
    for raw in messages.values():
        box.add(raw)
    (folder / "cur" / "seen:2,S").write_bytes(messages["hard"])  # read already: same bounce

    summary = ingest(database, tmp_path, folder)

    assert counts(summary) == {
        "messages": 7,
        "hard": 1,
        "soft": 0,
        "complaint": 1,
        "duplicates": 1,
        "suppressed": 2,
        "delayed": 1,
        "not_bounces": 1,
        "unattributed": 1,
        "forged": 1,
    }
    assert suppressed(database) == {JAN: "hard bounce", ANN: "complaint"}
    with database.sessions() as session:
        status = {
            e: str(s) for e, s in session.execute(select(Subscriber.email, Subscriber.status))
        }
        ann_lists = session.scalars(
            select(Subscription.status).where(Subscription.subscriber_id == ids[ANN][1])
        ).all()
        rows = session.execute(select(Bounce.email, Bounce.kind, Bounce.source)).all()
    assert status == {JAN: "blocklisted", ANN: "blocklisted", "eve@example.be": "active"}
    assert ann_lists == [SubscriptionStatus.UNSUBSCRIBED]
    assert sorted(map(tuple, rows)) == [(ANN, "complaint", "arf"), (JAN, "hard", "dsn")]
    # The unattributed one is kept for a person to look at, once.
    (kept,) = summary.quarantined
    assert kept.read_bytes() == messages["unattributed"]

    again = ingest(database, tmp_path, folder)
    assert again.recorded == {"hard": 0, "soft": 0, "complaint": 0}
    assert (again.duplicates, again.unattributed) == (3, 1)
    assert list((tmp_path / "quarantine").iterdir()) == [kept]


def test_ingest_eml_and_mbox_files(database: Database, tmp_path: Path) -> None:
    messages = inbox(people(database, tmp_path))
    eml = tmp_path / "hard.eml"
    eml.write_bytes(messages["hard"])
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for name in ("complaint", "not-bounce", "forged"):
        box.add(messages[name])
    box.close()

    summary = ingest(database, tmp_path, eml, tmp_path / "bounces.mbox")

    assert (summary.messages, summary.recorded["hard"], summary.recorded["complaint"]) == (4, 1, 1)
    assert (summary.not_bounces, summary.forged, summary.quarantined) == (1, 1, [])


def test_a_dry_run_stores_and_copies_nothing(database: Database, tmp_path: Path) -> None:
    files = []
    for name, raw in inbox(people(database, tmp_path)).items():
        files.append(tmp_path / f"{name}.eml")
        files[-1].write_bytes(raw)

    summary = ingest(database, tmp_path, *files, dry_run=True)

    assert (summary.recorded["hard"], summary.recorded["complaint"], summary.unattributed) == (
        1,
        1,
        1,
    )
    assert summary.quarantined == []
    assert not (tmp_path / "quarantine").exists()
    assert suppressed(database) == {}
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 0


def test_bad_paths_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputFileError, match="cannot read"):
        open_sources([tmp_path / "missing.eml"])
    with pytest.raises(InputFileError, match="not a maildir"):
        open_sources([tmp_path / "folder"])


def test_suppressions_add_list_and_remove(database: Database, tmp_path: Path) -> None:
    people(database, tmp_path)
    with database.sessions.begin() as session:
        assert add_suppression(session, " Jan@Example.be ", "staff") is True
        assert add_suppression(session, JAN, "again") is False
        jan_id = select(Subscriber.id).where(Subscriber.email == JAN).scalar_subquery()
        session.execute(
            update(Subscription)
            .where(Subscription.subscriber_id == jan_id)
            .values(status=SubscriptionStatus.UNSUBSCRIBED)
        )
    with database.sessions() as session:
        (info,) = list_suppressions(session)
        person = session.scalar(select(Subscriber.status).where(Subscriber.email == JAN))
    assert (info.email, info.reason) == (JAN, "staff")
    assert person == SubscriberStatus.BLOCKLISTED
    with database.sessions.begin() as session:
        assert remove_suppression(session, JAN) is True
    with database.sessions() as session:
        person = session.scalar(select(Subscriber.status).where(Subscriber.email == JAN))
        lists = session.scalars(
            select(Subscription.status)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscriber.email == JAN)
        ).all()
        assert list_suppressions(session) == []
    assert person == SubscriberStatus.ACTIVE
    assert lists == [SubscriptionStatus.UNSUBSCRIBED]  # not re-subscribed
    with database.sessions.begin() as session, pytest.raises(NotFound):
        remove_suppression(session, JAN)
    with database.sessions.begin() as session, pytest.raises(MailerError, match="not a valid"):
        add_suppression(session, "not-an-address")


# ------------------------------------------------------------------ the command line


def cell(table: str, label: str) -> str:
    """The count on the line of `label` in a printed summary table."""
    (line,) = [line for line in table.splitlines() if label in line]
    return line.strip(" │|").split()[-1]


def cli_config(tmp_path: Path) -> Path:
    key = tmp_path / "secret.key"
    key.write_text("k" * 64 + "\n", encoding="ascii")
    return write_config(tmp_path, 2525, bounce_domain=BOUNCE_DOMAIN)


def test_cli_ingest_list_and_suppressions(
    database: Database, db_url: str, mailer_bin: str, tmp_path: Path
) -> None:
    add_audience(database, [(JAN, "Jan", "P"), (ANN, "Ann", "A")])
    campaign = new_campaign(database, write_issue(tmp_path))
    ids = delivery_ids(database, campaign)
    config = cli_config(tmp_path)
    signer = Signer(b"k" * 64)
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(folder, create=True)
    box.add(ours(POSTFIX_DSN, to=f"bounces+{signer.sign('verp', ids[JAN][0])}@{BOUNCE_DOMAIN}"))
    box.add(ours(POSTFIX_DSN, recipient="nobody@example.be"))

    run = mailer(mailer_bin, db_url, config, "bounces", "ingest", str(folder))
    assert run.returncode == 0, run.stderr
    assert "messages read" in run.stdout
    assert cell(run.stdout, "hard bounces recorded") == "1"
    assert cell(run.stdout, "unattributed (quarantined)") == "1"
    assert cell(run.stdout, "soft bounces recorded") == "0"
    assert len(list((tmp_path / "var" / "quarantine").iterdir())) == 1

    listed = mailer(mailer_bin, db_url, config, "bounces", "list", "--campaign", str(campaign))
    assert listed.returncode == 0, listed.stderr
    assert JAN in listed.stdout
    assert "5.1.1" in listed.stdout
    shown = mailer(mailer_bin, db_url, config, "suppressions", "list")
    assert "hard bounce" in shown.stdout
    assert JAN in shown.stdout
    removed = mailer(mailer_bin, db_url, config, "suppressions", "remove", JAN)
    assert removed.returncode == 0, removed.stderr
    assert "active again" in removed.stdout
    added = mailer(mailer_bin, db_url, config, "suppressions", "add", ANN, "--reason", "asked")
    assert added.returncode == 0, added.stderr
    assert suppressed(database) == {ANN: "asked"}


@pytest.mark.parametrize("bad", ["missing", "not a maildir", "below a file", "unreadable"])
def test_cli_ingest_refuses_bad_paths(
    database: Database, db_url: str, mailer_bin: str, tmp_path: Path, bad: str
) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(POSTFIX_DSN)
    path = tmp_path / bad.replace(" ", "-")
    if bad == "below a file":  # open() fails even for root: "Not a directory"
        path = good / "inner.eml"
    elif bad == "not a maildir":
        path.mkdir()
    elif bad == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file: no unreadable file to test with")
        path.write_bytes(POSTFIX_DSN)
        path.chmod(0)
    run = mailer(
        mailer_bin, db_url, cli_config(tmp_path), "bounces", "ingest", str(good), str(path)
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: cannot read")
    assert "Traceback" not in run.stderr
    with database.sessions() as session:  # refused before anything was stored
        assert session.scalar(select(func.count()).select_from(Bounce)) == 0


def test_cli_suppressions_remove_unknown_is_one_error_line(
    database: Database, db_url: str, mailer_bin: str, tmp_path: Path
) -> None:
    run = mailer(mailer_bin, db_url, cli_config(tmp_path), "suppressions", "remove", JAN)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {JAN} is not suppressed"
