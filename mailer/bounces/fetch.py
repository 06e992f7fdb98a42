"""`mailer bounces fetch`: record the bounces waiting in an IMAP folder, then file them away.

Each message is recorded in its own transaction (as `bounces ingest` does), committed before
it is moved, and moved only after: a crash in between leaves it in the folder, and the next run
finds its bounces already recorded (they are stored once) and moves it then. Nothing is ever
deleted: what was recorded (or was already, or is a delay warning) goes to the processed
folder, what holds no bounce at all to the unparseable folder, and bounces that match none of
our deliveries (or carry a forged VERP address) to the unattributed folder, for a person.
No transaction is open while the server is being talked to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from mailer.bounces.imap import ImapMailbox
from mailer.bounces.ingest import IngestSummary, MessageResult, Outcome, process_message
from mailer.bounces.policy import BouncePolicy
from mailer.config import ImapConfig
from mailer.tokens import Signer

__all__ = ["FetchSummary", "destination", "fetch_bounces"]

BATCH = 25  # messages per FETCH: few round trips, at most 25 × 4 MB in memory


@dataclass(slots=True)
class FetchSummary(IngestSummary):
    """`IngestSummary` plus where the messages went (folder → count)."""

    moved: dict[str, int] = field(default_factory=dict)
    left: int = 0  # still in the folder: beyond --limit, or a dry run


def destination(outcome: Outcome, folders: ImapConfig) -> str:
    """The folder a message goes to after `outcome`."""
    if outcome == "not a bounce":
        return folders.unparseable_folder
    if outcome in ("unattributed", "forged"):
        return folders.unattributed_folder
    return folders.processed_folder  # recorded, already recorded, or a delay warning


def fetch_bounces(
    sessions: sessionmaker[Session],
    signer: Signer,
    mailbox: ImapMailbox,
    folders: ImapConfig,
    *,
    domain: str,
    policy: BouncePolicy,
    dry_run: bool = False,
    limit: int | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_message: Callable[[MessageResult], None] = lambda result: None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> FetchSummary:
    """Process the messages of `folders.folder` (the oldest `limit` of them): record, then move.

    With `dry_run` the folder is only read (nothing is stored, created or moved)."""
    summary = FetchSummary()
    mailbox.select(folders.folder)
    uids = mailbox.uids()
    todo = uids if limit is None else uids[:limit]
    summary.left = len(uids) if dry_run else len(uids) - len(todo)
    on_start(len(todo))
    if not dry_run:
        targets = (
            folders.processed_folder,
            folders.unparseable_folder,
            folders.unattributed_folder,
        )
        for folder in dict.fromkeys(targets):  # each once, in this order
            mailbox.ensure_folder(folder)
    for start in range(0, len(todo), BATCH):
        moves: dict[str, list[int]] = {}
        for message in mailbox.fetch(todo[start : start + BATCH]):
            with sessions() as session:
                result = process_message(
                    session, signer, message.raw, domain=domain, policy=policy, now=now()
                )
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
            summary.messages += 1
            summary.add(result)
            moves.setdefault(destination(result.outcome, folders), []).append(message.uid)
            on_message(result)
        if dry_run:
            continue
        for folder, moved in moves.items():
            mailbox.move(moved, folder)
            summary.moved[folder] = summary.moved.get(folder, 0) + len(moved)
    return summary
