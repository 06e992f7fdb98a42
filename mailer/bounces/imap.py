"""The IMAP mailbox `mailer bounces fetch` reads, over the standard library's imaplib.

Only what fetching bounces needs: log in (TLS, STARTTLS, or plain text to a loopback address
only, so a password never crosses a network in clear), list the messages of a folder, read them
(at most `MAX_MESSAGE_BYTES` each: parsing reads no more) and move them to another folder. A
move is `UID MOVE` (RFC 6851) where the server offers it, else `UID COPY` then `\\Deleted`, then
`UID EXPUNGE` (RFC 4315) of exactly those messages; a server with neither leaves them flagged
`\\Deleted` (and skipped) for its owner to expunge: nothing else in the folder is ever removed.
Every failure is a `MailboxError` that names the server and what it said, never the password.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mailer.bounces.mime import MAX_MESSAGE_BYTES
from mailer.config import ImapConfig
from mailer.errors import ConfigError, MailerError

__all__ = ["ImapMailbox", "MailboxError", "encode_folder", "open_mailbox"]

_FETCH_ITEMS = f"(UID BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)"
_UID = re.compile(rb"\bUID (\d+)")


class MailboxError(MailerError):
    """The IMAP server cannot be reached, refused us, or refused a command."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message read from the folder."""

    uid: int
    raw: bytes  # its first MAX_MESSAGE_BYTES


def encode_folder(name: str) -> str:
    """`name` as an IMAP mailbox argument: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ImapMailbox:
    """A logged-in IMAP connection with one folder selected."""

    def __init__(self, client: imaplib.IMAP4, where: str) -> None:
        self._client = client
        self._where = where
        self._capabilities: set[str] = set()

    # --------------------------------------------------------------- commands

    def _call(self, what: str, command: str, *args: object) -> list[object]:
        """imaplib's `command`; its data when the server said OK, else `MailboxError`."""
        try:
            typ, data = getattr(self._client, command)(*args)
        except (imaplib.IMAP4.error, OSError, UnicodeError) as exc:  # abort, timeout, TLS
            raise MailboxError(f"{self._where}: {what}: {_describe(exc)}") from None
        if typ != "OK":
            said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxError(f"{self._where}: {what}: the server said {typ} {said}".rstrip())
        return list(data)

    def refresh_capabilities(self) -> None:
        data = self._call("CAPABILITY", "capability")
        words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
        self._capabilities = {w.upper() for w in words.split()}

    def can(self, capability: str) -> bool:
        return capability.upper() in self._capabilities

    def select(self, folder: str) -> int:
        """Open `folder` for reading and moving; how many messages it holds."""
        data = self._call(f"folder {folder!r}", "select", encode_folder(folder))
        first = data[0] if data else b"0"
        return int(first) if isinstance(first, bytes) and first.isdigit() else 0

    def ensure_folder(self, folder: str) -> None:
        """Create `folder` unless it exists (moving into a missing folder would fail)."""
        data = self._call(f"list {folder!r}", "list", '""', encode_folder(folder))
        if any(isinstance(d, bytes) for d in data):
            return
        self._call(f"create folder {folder!r}", "create", encode_folder(folder))

    def uids(self) -> list[int]:
        """The messages of the selected folder not flagged \\Deleted, oldest first."""
        data = self._call("SEARCH", "uid", "SEARCH", "UNDELETED")
        words = b" ".join(d for d in data if isinstance(d, bytes)).split()
        return sorted(int(w) for w in words if w.isdigit())

    def fetch(self, uids: Sequence[int]) -> Iterator[Fetched]:
        """Read `uids` (one command; their first `MAX_MESSAGE_BYTES` each)."""
        if not uids:
            return
        data = self._call("FETCH", "uid", "FETCH", _uid_set(uids), _FETCH_ITEMS)
        for item in data:
            if not isinstance(item, tuple) or len(item) != 2:
                continue  # the closing ")" of each response, or a flags update
            head, body = item
            uid = _UID.search(head)
            if uid is None or not isinstance(body, bytes):
                continue
            yield Fetched(int(uid[1]), body)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move `uids` of the selected folder to `folder` (see the module's note)."""
        if not uids:
            return
        what = f"move to {folder!r}"
        target = encode_folder(folder)
        ids = _uid_set(uids)
        if self.can("MOVE"):
            self._call(what, "uid", "MOVE", ids, target)
            return
        self._call(what, "uid", "COPY", ids, target)
        self._call(what, "uid", "STORE", ids, "+FLAGS.SILENT", r"(\Deleted)")
        if self.can("UIDPLUS"):
            self._call(what, "uid", "EXPUNGE", ids)

    def starttls(self, context: ssl.SSLContext) -> None:
        self._call("STARTTLS", "starttls", context)

    def login(self, user: str, password: str) -> None:
        """AUTHENTICATE PLAIN where offered (it carries UTF-8; imaplib's LOGIN is ASCII only),
        else LOGIN."""
        what = f"log in as {user!r}"
        if "AUTH=PLAIN" in self._client.capabilities:
            secret = f"\0{user}\0{password}".encode()
            self._call(what, "authenticate", "PLAIN", lambda _challenge: secret)
        else:
            self._call(what, "login", user, password)
        self.refresh_capabilities()  # they change after login; imaplib keeps the first ones

    def close(self) -> None:
        """Log out (the folder is left as it is: nothing is expunged on the way out)."""
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self._client.logout()


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(u) for u in uids)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, UnicodeError):
        return "only ASCII is accepted here by this server (no AUTH=PLAIN)"
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") if text else type(exc).__name__


def open_mailbox(
    settings: ImapConfig, password: str | None, *, tls_context: ssl.SSLContext | None = None
) -> ImapMailbox:
    """Connect and log in with `settings`; `MailboxError` when that fails, `ConfigError` when
    the settings cannot work (no host, no user, plain text to a remote server)."""
    if not settings.host:
        raise ConfigError("bounces.imap.host", "no IMAP server set (or MAILER_IMAP_HOST)")
    if not settings.username:
        raise ConfigError("bounces.imap.username", "no IMAP user set (or MAILER_IMAP_USER)")
    if password is None:
        raise ConfigError(
            "bounces.imap.password_env",
            f"the environment variable {settings.password_env} is not set",
        )
    if settings.security == "none" and not _is_loopback(settings.host):
        raise ConfigError(
            "bounces.imap.security",
            f"'none' would send the password in clear to {settings.host}: use tls or starttls",
        )
    port = settings.port or (993 if settings.security == "tls" else 143)
    where = f"IMAP {settings.host}:{port}"
    context = tls_context or ssl.create_default_context()
    try:
        if settings.security == "tls":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, port, ssl_context=context, timeout=settings.timeout
            )
        else:
            client = imaplib.IMAP4(settings.host, port, timeout=settings.timeout)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"{where}: cannot connect: {_describe(exc)}") from None
    mailbox = ImapMailbox(client, where)
    try:
        if settings.security == "starttls":
            mailbox.starttls(context)
        mailbox.login(settings.username, password)
    except BaseException:
        mailbox.close()
        raise
    return mailbox
