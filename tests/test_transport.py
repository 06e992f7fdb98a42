"""The SMTP transport against a real aiosmtpd server (STARTTLS, AUTH, replies), the rate
limiter, and DKIM signatures checked with dkimpy's own verifier."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.campaigns.messages import DKIM_HEADERS, DkimSigner
from mailer.config import RelayConfig
from mailer.errors import ConfigError, ConnectionFailed, PermanentSendError, TransientSendError
from mailer.transport.base import Envelope, RateLimit
from mailer.transport.smtp import SmtpTransport
from tests.tls import self_signed_certificate

T = TypeVar("T")
MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n"
    b"Message-ID: <1@example.org>\r\nList-Unsubscribe: <https://x.example/u/1>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n.leading dot\r\nbody\r\n"
)


def _stop(controller: Controller) -> None:
    """Stop an aiosmtpd controller after one more turn of its loop, so the connections our
    client just closed are closed on the server's side too (else: a ResourceWarning)."""
    if controller.loop.is_running():
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), controller.loop).result(timeout=5)
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reply_rcpt: dict[str, str] = {}

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.reply_rcpt:
            return self.reply_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: queued as 42"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def plain_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    _stop(controller)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: Playwright's sync API (the session's `browser`
    fixture) leaves the main thread marked as running a loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _send(transport: SmtpTransport, *envelopes: Envelope) -> list[str | Exception]:
    async def main() -> list[str | Exception]:
        results: list[str | Exception] = []
        try:
            for envelope in envelopes:
                try:
                    results.append(await transport.send(envelope))
                except Exception as exc:  # the test looks at which one
                    results.append(exc)
        finally:
            await transport.close()
        return results

    return _run(main())


def test_plain_relay_delivers_the_bytes_and_the_envelope(
    plain_server: tuple[Recorder, int],
) -> None:
    recorder, port = plain_server
    transport = SmtpTransport([RelayConfig(port=port, connections=2)])
    [reply] = _send(transport, Envelope("bounces+x@example.org", "b@example.org", MESSAGE))
    assert reply == "250 2.0.0 Ok: queued as 42"
    mail_from, rcpt, content = recorder.messages[0]
    assert (mail_from, rcpt) == ("bounces+x@example.org", ["b@example.org"])
    assert content.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")  # dot-stuffing undone


def test_refusals_keep_the_connection_usable(plain_server: tuple[Recorder, int]) -> None:
    recorder, port = plain_server
    recorder.reply_rcpt = {
        "gone@example.org": "550 5.1.1 <gone@example.org>: user unknown",
        "busy@example.org": "452 4.2.2 mailbox full, try later",
    }
    transport = SmtpTransport([RelayConfig(port=port, connections=1)])
    results = _send(
        transport,
        Envelope("f@example.org", "gone@example.org", MESSAGE),
        Envelope("f@example.org", "busy@example.org", MESSAGE),
        Envelope("f@example.org", "ok@example.org", MESSAGE),
    )
    gone, busy, ok = results
    assert isinstance(gone, PermanentSendError)
    assert (gone.code, gone.stage) == (550, "rcpt")
    assert "user unknown" in gone.reply
    assert isinstance(busy, TransientSendError)
    assert (busy.code, busy.stage) == (452, "rcpt")
    assert ok == "250 2.0.0 Ok: queued as 42"  # after RSET, on the same connection
    assert [m[1] for m in recorder.messages] == [["ok@example.org"]]


def test_nobody_listening_is_a_connection_failure() -> None:
    transport = SmtpTransport([RelayConfig(name="down", port=_free_port(), timeout=2)])
    [error] = _send(transport, Envelope("f@example.org", "t@example.org", MESSAGE))
    assert isinstance(error, ConnectionFailed)
    assert "down" in str(error)


def test_starttls_and_login(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret", handled=False)

    recorder = Recorder()
    port = _free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, tls_context=server_tls,
        require_starttls=True, auth_required=True, authenticator=authenticator,
        auth_exclude_mechanism=["LOGIN"],
    )  # fmt: skip
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        relay = RelayConfig(
            port=port, security="starttls", username="news", password_env="PW", timeout=5
        )
        transport = SmtpTransport([relay], environ={"PW": "s3cret"}, tls_context=client_tls)
        [reply] = _send(transport, Envelope("f@example.org", "t@example.org", MESSAGE))
        assert str(reply).startswith("250")
        assert logins == [("news", "s3cret")]
        wrong = SmtpTransport([relay], environ={"PW": "nope"}, tls_context=client_tls)
        [error] = _send(wrong, Envelope("f@example.org", "t@example.org", MESSAGE))
        assert isinstance(error, ConnectionFailed)
        assert "login refused" in str(error)
        assert "nope" not in str(error)  # the password never appears in messages
    finally:
        _stop(controller)


def test_a_missing_password_variable_is_a_config_error() -> None:
    relay = RelayConfig(username="u", password_env="MISSING_PW")
    with pytest.raises(ConfigError, match="MISSING_PW"):
        SmtpTransport([relay], environ={})


def test_rate_limit_per_second() -> None:
    async def main() -> float:
        limit = RateLimit(per_second=40)
        started = time.monotonic()
        for _ in range(80):  # 40 at once (the bucket), then 40 more at 40/s
            await limit.acquire()
        return time.monotonic() - started

    elapsed = _run(main())
    assert 0.9 <= elapsed < 2.0


def test_rate_limit_per_hour_spreads_messages() -> None:
    async def main() -> float:
        limit = RateLimit(per_hour=36000)  # 10 a second, bursts of a minute's worth (600)
        started = time.monotonic()
        for _ in range(610):
            await limit.acquire()
        return time.monotonic() - started

    elapsed = _run(main())
    assert 0.9 <= elapsed < 2.0


def test_dkim_signature_verifies_and_covers_one_click_unsubscribe(tmp_path: Path) -> None:
    import dkim  # type: ignore[import-untyped]

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signed = DkimSigner("example.org", "news", str(key)).sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature:")
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    tags = header.split(":", 1)[1].replace("\r\n", "").replace(" ", "").replace("\t", "")
    covered = re.search(r"(?:^|;)h=([^;]+)", tags)
    assert covered is not None
    names = covered.group(1).split(":")
    assert "list-unsubscribe" in names
    assert "list-unsubscribe-post" in names
    assert set(names) <= {h.decode() for h in DKIM_HEADERS}

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news._domainkey.example.org."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    tampered = signed.replace(b"https://x.example/u/1", b"https://evil.example/u/1")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_an_unreadable_dkim_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="private_key_file"):
        DkimSigner("example.org", "news", str(tmp_path / "missing.pem"))


def test_several_relays_share_the_load() -> None:
    first, second = Recorder(), Recorder()
    ports = [_free_port(), _free_port()]
    controllers = [
        Controller(recorder, hostname="127.0.0.1", port=port)
        for recorder, port in zip((first, second), ports, strict=True)
    ]
    for controller in controllers:
        controller.start()
    try:
        transport = SmtpTransport(
            [RelayConfig(name="a", port=ports[0], connections=2),
             RelayConfig(name="b", port=ports[1], connections=2)]
        )  # fmt: skip

        async def main() -> list[str]:
            try:
                envelopes = [
                    Envelope("f@example.org", f"r{n}@example.org", MESSAGE) for n in range(40)
                ]
                return list(await asyncio.gather(*(transport.send(e) for e in envelopes)))
            finally:
                await transport.close()

        replies = _run(main())
    finally:
        for controller in controllers:
            _stop(controller)
    assert all(reply.startswith("250") for reply in replies)
    assert len(first.messages) + len(second.messages) == 40
    assert first.messages  # both relays carried some
    assert second.messages
