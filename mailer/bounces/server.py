"""The SMTP endpoint of the bounce domain (`mailer bounces serve`), on aiosmtpd.

At RCPT it accepts only our VERP addresses, `bounces+<token>@<bounce domain>` with a token that
verifies: anything else, forged tokens included, gets `550 5.1.1`, so nothing else is ever
stored. At DATA each message is parsed, attributed (the envelope's VERP address first) and
recorded with the suppression policy, in one transaction, off the event loop; a bounce it
cannot attribute is copied to the quarantine folder. A database failure answers `451`, so the
sending system tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.orm import Session, sessionmaker

from mailer.bounces.attribution import verp_token
from mailer.bounces.ingest import MessageResult, process_message, quarantine
from mailer.bounces.policy import BouncePolicy
from mailer.errors import TokenError
from mailer.tokens import Signer

__all__ = ["BounceHandler", "Received", "make_controller"]

log = logging.getLogger(__name__)
MAX_DATA = 10 * 1024 * 1024  # a bounce with the returned message attached; parsing reads 4 MB


@dataclass(frozen=True, slots=True)
class Received:
    """One message the endpoint took, and what became of it (for the command's output)."""

    peer: str
    recipients: tuple[str, ...]
    result: MessageResult
    quarantined: Path | None


class BounceHandler:
    """aiosmtpd handler: VERP-only RCPT, and parse + attribute + record at DATA."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: Signer,
        *,
        domain: str,
        policy: BouncePolicy,
        quarantine_dir: Path,
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.signer = signer
        self.domain = domain
        self.policy = policy
        self.quarantine_dir = quarantine_dir
        self.on_message = on_message
        # One message at a time: `record_bounce` checks for the same report before storing it,
        # and two copies of one bounce (a retry after a timeout) must not both pass the check.
        self._recording = threading.Lock()

    def accepts(self, address: str) -> bool:
        """Whether `address` is one of our VERP addresses with a genuine token."""
        token = verp_token(address, self.domain)
        if token is None:
            return False
        try:
            self.signer.verify("verp", token)
        except TokenError:
            return False
        return True

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.accepts(address):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: SmtpSession, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        content = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        recipients = tuple(str(r) for r in envelope.rcpt_tos)
        try:
            result, kept = await asyncio.to_thread(self.process, content, recipients)
        except Exception:  # the database or the disk: the sender keeps the message and retries
            log.exception("cannot record a bounce")
            return "451 4.3.0 cannot record the message now, try again later"
        if self.on_message is not None:
            peer: Any = session.peer
            where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
            self.on_message(Received(where, recipients, result, kept))
        return "250 2.0.0 OK"

    def process(self, raw: bytes, recipients: tuple[str, ...]) -> tuple[MessageResult, Path | None]:
        """One message in one transaction (the same as `bounces ingest`); the quarantine copy
        of an unattributed bounce is written after the commit."""
        with self._recording, self.sessions.begin() as session:
            result = process_message(
                session,
                self.signer,
                raw,
                domain=self.domain,
                policy=self.policy,
                envelope=recipients,
            )
        kept = None
        if result.outcome == "unattributed":
            kept = quarantine(raw, self.quarantine_dir)
        return result, kept


def make_controller(handler: BounceHandler, *, host: str, port: int) -> Controller:
    """A threaded aiosmtpd controller for `handler` (call `.start()` and `.stop()`)."""
    return Controller(
        handler,
        hostname=host,
        port=port,
        server_hostname=handler.domain or "localhost",  # no getfqdn(): it may wait on DNS
        data_size_limit=MAX_DATA,
        ready_timeout=10.0,
    )
