"""A private Dovecot IMAP server for the tests: its own configuration, users and maildirs under
a fresh folder, listening on a loopback port, nothing of the system's Dovecot touched (Debian's
`dovecot-imapd`, installed by `.ci/run` without starting its service).

Run as root, Dovecot refuses to give mail access to uid 0: the mailboxes then belong to the
`mail` user (uid 8), and the folder is opened to it. Run as another user, everything runs as
that user. `capabilities` replaces what the server advertises, to exercise the clients' fallbacks
(a server without MOVE, or without UIDPLUS either)."""

from __future__ import annotations

import contextlib
import getpass
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.smtp_server import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces@example.be"
PASSWORD = "s3cret-é"  # not ASCII: AUTHENTICATE PLAIN must carry it

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
{users}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
# No growing delay after the tests' deliberate wrong passwords (Dovecot's auth penalty).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
{capability}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


@dataclass(frozen=True)
class ImapServer:
    """A running server, seen as one of its users: any name logs in with `PASSWORD`, and
    each has mailboxes of its own (a fresh user is a fresh, empty account)."""

    host: str
    port: int
    root: Path
    tls_port: int = 0  # implicit TLS (with `dovecot(tls=...)`); STARTTLS is on `port` then
    user: str = USER

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.authenticate("PLAIN", lambda _: f"\0{self.user}\0{PASSWORD}".encode())
        return client

    def append(self, folder: str, *messages: bytes) -> None:
        client = self.client()
        try:
            for raw in messages:
                typ, data = client.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            client.logout()

    def folders(self) -> dict[str, list[bytes]]:
        """Every folder and the messages in it (their text), those flagged \\Deleted left out."""
        client = self.client()
        try:
            typ, listed = client.list()
            assert typ == "OK"
            names = [line.rsplit(b" ", 1)[1].strip(b'"').decode() for line in listed if line]
            found: dict[str, list[bytes]] = {}
            for name in sorted(names):
                client.select(f'"{name}"', readonly=True)
                typ, data = client.uid("SEARCH", "UNDELETED")
                uids = data[0].split() if data and data[0] else []
                found[name] = [self._body(client, uid) for uid in uids]
            return found
        finally:
            client.logout()

    def deleted(self, folder: str) -> int:
        """How many messages of `folder` are flagged \\Deleted (not yet expunged)."""
        client = self.client()
        try:
            client.select(f'"{folder}"', readonly=True)
            _typ, data = client.uid("SEARCH", "DELETED")
            return len(data[0].split()) if data and data[0] else 0
        finally:
            client.logout()

    @staticmethod
    def _body(client: imaplib.IMAP4, uid: bytes) -> bytes:
        _typ, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
        item = data[0]
        assert isinstance(item, tuple)
        return item[1]


@contextlib.contextmanager
def dovecot(
    *, capabilities: str | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[ImapServer]:
    """A running private Dovecot, stopped and removed afterwards; with `tls` (certificate
    and key files), also on an implicit-TLS port and offering STARTTLS."""
    root = Path(tempfile.mkdtemp(prefix="mailer-dovecot-"))
    root.chmod(0o755)  # the mail user's processes must reach its home below
    if os.geteuid() == 0:
        owner = pwd.getpwnam("mail")
        users = ""
    else:
        owner = pwd.getpwuid(os.geteuid())
        me = getpass.getuser()
        users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
    home = root / "home"
    home.mkdir()
    os.chown(home, owner.pw_uid, owner.pw_gid)
    port = free_port()
    tls_port = free_port() if tls else 0
    tls_settings = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}" if tls else "ssl = no"
    capability = f"imap_capability = {capabilities}" if capabilities is not None else ""
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            uid=owner.pw_uid,
            gid=owner.pw_gid,
            users=users,
            capability=capability,
            password=PASSWORD,
            tls=tls_settings,
            tls_port=tls_port,
        ),
        encoding="utf-8",
    )
    # Not pipes: the daemon keeps its stderr open, and run() would wait for it to close.
    errors = root / "start.err"
    with errors.open("wb") as stderr:
        code = subprocess.call(
            [DOVECOT, "-c", str(config)], stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
        )
    assert code == 0, errors.read_text(errors="replace") + _log(root)
    try:
        _wait_for(port, root)
        yield ImapServer("127.0.0.1", port, root, tls_port)
    finally:
        _stop(root)
        shutil.rmtree(root, ignore_errors=True)


def _log(root: Path) -> str:
    log = root / "dovecot.log"
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def _wait_for(port: int, root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"dovecot did not listen on {port}:\n{_log(root)}")


def _stop(root: Path) -> None:
    """Kill the server and its processes at once: a clean SIGTERM takes Dovecot 3-8 s, and
    nothing of it needs to outlive the test. It runs in a process group of its own."""
    pid_file = root / "run" / "master.pid"
    try:
        pid = int(pid_file.read_text().strip())
        group = os.getpgid(pid)
    except (OSError, ValueError):
        return
    if group == os.getpgrp():  # never ours (it should not be: the daemon starts a session)
        group = 0
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        except OSError:  # gone
            return
        if stat.rpartition(") ")[2].startswith("Z"):  # dead, and this container may not reap
            return
        time.sleep(0.02)
