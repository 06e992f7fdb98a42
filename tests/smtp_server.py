"""A real SMTP server for the send tests: aiosmtpd in its own thread, on 127.0.0.1.

`Recorder` is the aiosmtpd handler. It keeps every message it accepted (envelope, bytes, the
client connection it came on) and lets a test decide the reply at each stage with a hook:
`hook(address, attempt)` returns None to go on as a relay would, an SMTP reply such as
"550 5.1.1 no such user" to refuse, or `DISCONNECT` to drop the connection with no reply
(DATA only). `attempt` counts the calls for that address at that stage, from 1, so a hook that
fails "the first time only" is `lambda a, n: "451 4.3.0 busy" if n == 1 else None`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["DISCONNECT", "Hook", "Received", "Recorder", "SmtpServer", "free_port"]

DISCONNECT = "disconnect"
Hook = Callable[[str, int], str | None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted (it answered 250 to DATA)."""

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes
    peer: str  # the client's host:port: one per SMTP connection
    number: int  # 1 for the first message accepted, …

    @property
    def recipient(self) -> str:
        (only,) = self.recipients
        return only

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        """A header's decoded value, parsing the head only (cheap for thousands)."""
        head = BytesHeaderParser(policy=email.policy.default).parsebytes(self.data)
        return str(head[name])


class Recorder:
    """The aiosmtpd handler: records accepted messages; hooks inject failures."""

    def __init__(self, *, delay: float = 0.0, keep_body: bool = True) -> None:
        self.delay = delay  # seconds spent on each DATA (other connections go on meanwhile)
        self.keep_body = keep_body  # False: keep the header section only (thousands of messages)
        self.mail_hook: Hook | None = None
        self.rcpt_hook: Hook | None = None
        self.data_hook: Hook | None = None
        self.after_accept: Callable[[Received], None] | None = None  # runs before the 250
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._calls: Counter[tuple[str, str]] = Counter()
        self.replies: list[tuple[str, str, str]] = []  # (stage, address, reply) refused

    # ------------------------------------------------------------------ reading

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def calls(self, stage: str, address: str) -> int:
        with self._lock:
            return self._calls[(stage, address.lower())]

    def by_recipient(self) -> dict[str, list[Received]]:
        found: dict[str, list[Received]] = {}
        for message in self.received:
            for recipient in message.recipients:
                found.setdefault(recipient.lower(), []).append(message)
        return found

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ aiosmtpd

    def _ask(self, hook: Hook | None, stage: str, address: str) -> str | None:
        with self._lock:
            self._calls[(stage, address.lower())] += 1
            attempt = self._calls[(stage, address.lower())]
        reply = hook(address, attempt) if hook is not None else None
        if reply is not None:
            with self._lock:
                self.replies.append((stage, address, reply))
        return reply

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        reply = self._ask(self.mail_hook, "mail", address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._ask(self.rcpt_hook, "rcpt", address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        reply = self._ask(self.data_hook, "data", recipient)
        if reply == DISCONNECT:
            # The connection goes away after the message was read and before any reply:
            # the client cannot know whether it was taken. Nothing is recorded.
            assert server.transport is not None
            server.transport.close()
            return "421 4.4.2 closing"  # never reaches the closed connection
        if reply is not None:
            return reply
        content = envelope.original_content or b""
        if not self.keep_body:
            content = content.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
        peer: Any = session.peer
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        with self._lock:
            received = Received(
                mail_from=str(envelope.mail_from),
                recipients=tuple(envelope.rcpt_tos),
                data=bytes(content),
                peer=where,
                number=len(self._received) + 1,
            )
            self._received.append(received)
        if self.after_accept is not None:
            self.after_accept(received)
        return f"250 2.0.0 OK queued as {received.number}"


class _Controller(Controller):
    """aiosmtpd's threaded controller, also on port 0 (the port the system picked)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """`with SmtpServer(recorder) as server:` listens on 127.0.0.1:`server.port`."""

    def __init__(self, recorder: Recorder, port: int = 0) -> None:
        self.recorder = recorder
        self._controller = _Controller(
            recorder,
            hostname="127.0.0.1",
            port=port,
            server_hostname="mx.test.invalid",  # no getfqdn(): it may wait on DNS
            ready_timeout=10.0,
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        # One more turn of the server's loop first: a connection the handler closed (a drop
        # mid-DATA) finishes closing there; stopped before, its socket would be left to the
        # garbage collector and reported as a ResourceWarning at the end of the session.
        loop = self._controller.loop
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(timeout=5)
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
