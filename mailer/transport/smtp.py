"""`SmtpTransport`: pools of aiosmtplib connections to one or more relays.

An aiosmtplib client carries one message at a time, so each relay gets `connections` clients;
a `send` takes whichever idle connection comes first (relays share the load by their pool
sizes), waits for that relay's rate limit, and reconnects when the connection was lost. SMTP
replies become the mailer's own errors: 4xx `TransientSendError`, 5xx `PermanentSendError`
(with the stage: mail, rcpt or data), no answer at all `ConnectionFailed`.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiosmtplib

from mailer.config import RelayConfig
from mailer.errors import (
    ConfigError,
    ConnectionFailed,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from mailer.transport.base import Envelope, RateLimit

__all__ = ["SmtpTransport"]

_CONNECTION_ERRORS = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPConnectError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


@dataclass(slots=True)
class _Relay:
    config: RelayConfig
    password: str | None
    limit: RateLimit


@dataclass(slots=True)
class _Connection:
    relay: _Relay
    client: aiosmtplib.SMTP | None = None


class SmtpTransport:
    """Sends through the configured relays over pooled SMTP connections."""

    def __init__(
        self,
        relays: Sequence[RelayConfig],
        *,
        environ: Mapping[str, str] | None = None,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._local_hostname = local_hostname
        self._tls_context = tls_context
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()
        self._connections: list[_Connection] = []
        for relay_config in relays:
            password = None
            if relay_config.password_env:
                password = env.get(relay_config.password_env)
                if password is None:
                    raise ConfigError(
                        f"relays.{relay_config.name}.password_env",
                        f"the environment variable {relay_config.password_env} is not set",
                    )
            relay = _Relay(
                relay_config, password, RateLimit(relay_config.per_second, relay_config.per_hour)
            )
            for _ in range(relay_config.connections):
                connection = _Connection(relay)
                self._connections.append(connection)
                self._idle.put_nowait(connection)

    @property
    def concurrency(self) -> int:
        return len(self._connections)

    async def send(self, envelope: Envelope, /) -> str:
        connection = await self._idle.get()
        try:
            await connection.relay.limit.acquire()
            return await self._send_on(connection, envelope)
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._connections:
            client, connection.client = connection.client, None
            if client is None:
                continue
            if client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), timeout=2)
                except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
                    pass  # closed below either way
            client.close()
        await asyncio.sleep(0)  # let the closed sockets finish closing before the loop ends

    async def _connect(self, connection: _Connection) -> aiosmtplib.SMTP:
        config = connection.relay.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            username=config.username or None,
            password=connection.relay.password,
            timeout=config.timeout,
            local_hostname=self._local_hostname,
            tls_context=self._tls_context,
        )
        try:
            try:
                await client.connect()
                if client.is_ehlo_or_helo_needed:  # our MAIL/RCPT/DATA are sent as they are
                    await _greet(client)
            except BaseException:
                client.close()  # a half-open session (refused login, bad greeting) holds a socket
                raise
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ConnectionFailed(
                exc.code, f"{config.name}: login refused: {exc.message}", stage="connect"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:  # e.g. a 421 or 554 greeting
            raise ConnectionFailed(
                exc.code, f"{config.name}: {exc.message}", stage="connect"
            ) from None
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS) as exc:
            raise ConnectionFailed(
                0,
                f"{config.name} ({config.host}:{config.port}): {_describe(exc)}",
                stage="connect",
            ) from None
        connection.client = client
        return client

    async def _send_on(self, connection: _Connection, envelope: Envelope) -> str:
        client = connection.client
        if client is None or not client.is_connected:
            client = await self._connect(connection)
        stage = "mail"
        try:
            await _command(client, b"MAIL FROM:<" + _address(envelope.mail_from) + b">", 250)
            stage = "rcpt"
            await _command(client, b"RCPT TO:<" + _address(envelope.recipient) + b">", 250, 251)
            stage = "data"
            response = await _data(client, envelope.data)
        except aiosmtplib.SMTPResponseException as exc:
            error = _reply_error(exc.code, exc.message, stage)
            if exc.code == 421 or not client.is_connected:  # the relay is closing the session
                self._drop(connection)
            else:
                await self._reset(connection)
            raise error from None
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS) as exc:
            self._drop(connection)
            raise ConnectionFailed(
                0,
                f"{connection.relay.config.name}: {_describe(exc)} during {stage.upper()}",
                stage=stage,
            ) from None
        return f"{response.code} {response.message}"

    async def _reset(self, connection: _Connection) -> None:
        """RSET after a refused transaction, so the connection can carry the next message."""
        client = connection.client
        if client is None:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
            self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        client, connection.client = connection.client, None
        if client is not None:
            client.close()


# The commands are written here rather than with aiosmtplib's mail()/rcpt()/data(): those
# re-parse each address (email.utils) and, for DATA, run two regular expressions over the whole
# 90 KB message (line endings, dot-stuffing) — more than everything else a message costs.
# Our messages are built with CRLF line endings and with no line starting with "." (see
# `render.slots.qp_encode`), so DATA sends the bytes as they are, after a cheap check.


async def _greet(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:  # an old relay without ESMTP
        await client.helo()


def _address(address: str) -> bytes:
    encoded = address.encode("ascii")  # addresses were validated (and IDNs punycoded) on import
    if any(c in encoded for c in b"<>\r\n\x00 "):
        raise PermanentSendError(0, f"not a plain address: {address!r}", stage="mail")
    return encoded


async def _command(client: aiosmtplib.SMTP, line: bytes, *expected: int) -> None:
    response = await client.execute_command(line)
    if response.code not in expected:
        error = (aiosmtplib.SMTPSenderRefused if line.startswith(b"MAIL")
                 else aiosmtplib.SMTPRecipientRefused)  # fmt: skip
        raise error(response.code, response.message, "")


async def _data(client: aiosmtplib.SMTP, message: bytes) -> aiosmtplib.SMTPResponse:
    if message.startswith(b".") or b"\r\n." in message:  # not one of ours: stuff it
        message = message.replace(b"\r\n.", b"\r\n..")
        if message.startswith(b"."):
            message = b"." + message
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost before the message")
    protocol.write(message + b".\r\n")
    response = await protocol.read_response(timeout=client.timeout)
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


def _reply_error(code: int, message: str, stage: str) -> SendError:
    text = " ".join(message.split())[:1000]
    if 400 <= code < 500:
        return TransientSendError(code, text, stage=stage)
    if 500 <= code < 600:
        return PermanentSendError(code, text, stage=stage)
    return TransientSendError(code, f"unexpected reply: {text}", stage=stage)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]
