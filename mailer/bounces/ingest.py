"""Received bounce messages into the database: read, parse, attribute, record with the policy.

`process_message` handles one message in the caller's transaction (shared by `mailer bounces
ingest` and the SMTP endpoint); `ingest_paths` reads .eml files, maildir folders and mbox
files. A bounce that matches no delivery or subscriber is copied to the quarantine folder for
a person to look at; a forged VERP address is counted and otherwise ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mailbox
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from mailer.bounces.attribution import attribute, envelope_hints
from mailer.bounces.files import read_message_file
from mailer.bounces.mime import MAX_MESSAGE_BYTES
from mailer.bounces.parse import parse_message
from mailer.bounces.policy import BouncePolicy, record_bounce
from mailer.config import Config
from mailer.errors import InputFileError, OutputFileError
from mailer.tokens import Signer

__all__ = [
    "IngestSummary",
    "MessageResult",
    "Outcome",
    "Source",
    "bounce_domain",
    "ingest_paths",
    "open_sources",
    "process_message",
    "quarantine",
]

Outcome = Literal["recorded", "not a bounce", "delayed", "forged", "unattributed"]


def bounce_domain(config: Config) -> str:
    """The domain of our VERP addresses (as `campaigns/messages.py` writes them)."""
    sender = config.sender.from_address.rpartition("@")[2].lower()
    return (config.sending.bounce_domain or sender).lower()


@dataclass(slots=True)
class MessageResult:
    """What became of one received message."""

    outcome: Outcome
    recorded: dict[str, int] = field(default_factory=dict)  # by kind
    duplicates: int = 0  # reports already recorded before
    suppressed: list[str] = field(default_factory=list)  # addresses suppressed by it
    recipients: list[str] = field(default_factory=list)  # the reports' addresses
    method: str = ""  # how it was matched: verp, message-id, recipient


def process_message(
    session: Session,
    signer: Signer,
    raw: bytes,
    *,
    domain: str,
    policy: BouncePolicy,
    envelope: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> MessageResult:
    """Parse, attribute and record one message (in the caller's transaction).

    Delay warnings are not recorded: the remote system is still trying, and its final report
    (or silence) decides. Reports that match nothing are not recorded either: the message is
    "unattributed", for the caller to quarantine."""
    reports = [r for r in parse_message(raw) if r.kind == "complaint" or r.recipient]
    if not reports:
        return MessageResult("not a bounce")
    final = [r for r in reports if not r.temporary]
    recipients = [r.recipient for r in reports]
    if not final:
        return MessageResult("delayed", recipients=recipients)
    hints = envelope_hints(raw)
    matches = [
        (r, attribute(session, signer, r, bounce_domain=domain, envelope=envelope, hints=hints))
        for r in final
    ]
    if any(m.method == "forged" for _, m in matches):
        return MessageResult("forged", recipients=recipients)
    result = MessageResult("recorded", recipients=recipients)
    for report, found in matches:
        if not found.attributed:
            result.outcome = "unattributed"
            continue
        result.method = result.method or found.method
        done = record_bounce(
            session,
            delivery_id=found.delivery_id,
            campaign_id=found.campaign_id,
            subscriber_id=found.subscriber_id,
            email=found.email or report.recipient,
            report=report,
            now=now,
            policy=policy,
        )
        if not done.stored:
            result.duplicates += 1
            continue
        result.recorded[report.kind] = result.recorded.get(report.kind, 0) + 1
        if done.suppressed:
            result.suppressed.append(found.email or report.recipient)
    return result


def quarantine(raw: bytes, folder: Path, *, now: dt.datetime | None = None) -> Path:
    """Keep a copy of `raw` in `folder` (named by date and content hash: the same message
    twice is one file); `OutputFileError` when it cannot be written."""
    moment = now or dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    path = folder / f"{moment:%Y%m%dT%H%M%S}-{digest}.eml"
    existing = sorted(folder.glob(f"*-{digest}.eml")) if folder.is_dir() else []
    if existing:
        return existing[0]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{digest}.tmp"
        partial.write_bytes(raw)
        os.replace(partial, path)
    except OSError as exc:
        raise OutputFileError(path, exc.strerror or type(exc).__name__) from None
    return path


# ------------------------------------------------------------------ reading the inputs


@dataclass(frozen=True, slots=True)
class Source:
    """One input: a message file, a maildir folder or an mbox file."""

    path: Path
    kind: Literal["eml", "maildir", "mbox"]

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(label, raw bytes) of each message, in a stable order."""
        if self.kind == "eml":
            yield str(self.path), read_message_file(self.path)
        elif self.kind == "maildir":
            for sub in ("new", "cur"):
                folder = self.path / sub
                if not folder.is_dir():
                    continue
                for item in sorted(folder.iterdir()):
                    if item.is_file() and not item.name.startswith("."):
                        yield str(item), read_message_file(item)
        else:
            box = mailbox.mbox(self.path, create=False)
            try:
                for number, key in enumerate(box.iterkeys(), 1):
                    yield f"{self.path}#{number}", box.get_bytes(key)[:MAX_MESSAGE_BYTES]
            finally:
                box.close()


def _source(path: Path) -> Source:
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return Source(path, "maildir")
        raise InputFileError(
            path, None, "cannot read: a folder that is not a maildir (no cur/ or new/)"
        )
    try:
        with path.open("rb") as file:
            start = file.read(5)
    except OSError as exc:
        raise InputFileError(
            path, None, f"cannot read: {exc.strerror or type(exc).__name__}"
        ) from None
    return Source(path, "mbox" if start == b"From " else "eml")


def open_sources(paths: Sequence[Path]) -> list[Source]:
    """Every path checked before anything is read: `InputFileError` for the first bad one."""
    return [_source(path) for path in paths]


@dataclass(slots=True)
class IngestSummary:
    """The counts `mailer bounces ingest` prints."""

    messages: int = 0
    recorded: dict[str, int] = field(default_factory=lambda: {"hard": 0, "soft": 0, "complaint": 0})
    duplicates: int = 0
    delayed: int = 0
    not_bounces: int = 0
    unattributed: int = 0
    forged: int = 0
    suppressed: int = 0
    quarantined: list[Path] = field(default_factory=list)

    def add(self, result: MessageResult) -> None:
        """Count what became of one message."""
        for kind, count in result.recorded.items():
            self.recorded[kind] = self.recorded.get(kind, 0) + count
        self.duplicates += result.duplicates
        self.suppressed += len(result.suppressed)
        if result.outcome == "not a bounce":
            self.not_bounces += 1
        elif result.outcome == "delayed":
            self.delayed += 1
        elif result.outcome == "forged":
            self.forged += 1
        elif result.outcome == "unattributed":
            self.unattributed += 1


def ingest_paths(
    sessions: sessionmaker[Session],
    signer: Signer,
    sources: Sequence[Source],
    *,
    domain: str,
    policy: BouncePolicy,
    quarantine_dir: Path,
    dry_run: bool = False,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> IngestSummary:
    """Process every message of `sources`: one transaction per message (so a long maildir
    keeps what was done if interrupted); with `dry_run`, one transaction rolled back at the
    end and no quarantine copy."""
    summary = IngestSummary()
    session = sessions()
    try:
        for source in sources:
            for _label, raw in source.messages():
                summary.messages += 1
                result = process_message(
                    session, signer, raw, domain=domain, policy=policy, now=now()
                )
                if dry_run:
                    session.flush()
                else:
                    session.commit()
                summary.add(result)
                if result.outcome == "unattributed" and not dry_run:
                    summary.quarantined.append(quarantine(raw, quarantine_dir, now=now()))
        if dry_run:
            session.rollback()
    finally:
        session.close()
    return summary
