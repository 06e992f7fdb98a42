"""A bounce from a real MTA, end to end: a campaign is sent through a private Postfix
instance (started here, under tmp_path, on a loopback port) to two local.test addresses that
have no mailbox. Postfix accepts both, fails the local delivery ("unknown user") and sends its
own DSN to the VERP return path, `bounces+<token>@bounces.test`, which its transport table
routes to our bounce endpoint (`mailer.bounces.server`, in this process). Nothing of Postfix is
touched outside tmp_path: `postfix -c DIR` with its own main.cf, master.cf and queue, run as
root (it drops to the `postfix` user itself). Postfix's fatal errors before its log file is
open go to syslog only (stderr when it is a terminal): to see them, run
`script -qc "postfix -c DIR check" /dev/null` on the configuration left in tmp_path."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.bounces.policy import BouncePolicy
from mailer.bounces.server import BounceHandler, Received, make_controller
from mailer.db.models import Bounce, Subscriber, Suppression
from mailer.tokens import Signer
from mailer.wiring import Database
from tests.conftest import need
from tests.smtp_server import free_port
from tests.test_bounce_attribution import delivery_ids, write_issue
from tests.test_send import KEY, add_audience, make_config, make_kit, new_campaign, send

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
LOCAL_DOMAIN = "local.test"
BOUNCE_DOMAIN = "bounces.test"
NOBODIES = (f"nobody1@{LOCAL_DOMAIN}", f"nobody2@{LOCAL_DOMAIN}")

# Every service runs unchrooted (column 5 "n"): the queue is all a daemon needs.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
local     unix  - n n -    - local
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
syslog_name = postfix-e2e
queue_directory = {root}/queue
data_directory = {root}/data
# Its own log file (postlogd, in master.cf), shown when the test fails; it must be under one
# of maillog_file_prefixes (by default /var and /dev/stdout).
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{local}
mydomain = {local}
myorigin = {local}
mydestination = {local}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
append_dot_mydomain = no
# Accept any local.test recipient at RCPT; local(8) then fails "unknown user" -> a DSN.
local_recipient_maps =
alias_maps =
alias_database =
transport_maps = inline:{{{bounces}=smtp:[127.0.0.1]:{endpoint}}}
delay_warning_time = 0
bounce_queue_lifetime = 60s
maximal_queue_lifetime = 60s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""


@dataclass(frozen=True)
class Postfix:
    config_dir: Path
    root: Path
    port: int

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def flush(self) -> None:
        subprocess.run(
            [POSTQUEUE, "-c", str(self.config_dir), "-f"],
            capture_output=True,
            timeout=10,
            check=False,
        )

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"


def wait_for_port(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def endpoint(database: Database, tmp_path: Path) -> Iterator[tuple[int, list[Received]]]:
    handler = BounceHandler(
        database.sessions,
        Signer(KEY),
        domain=BOUNCE_DOMAIN,
        policy=BouncePolicy(),
        quarantine_dir=tmp_path / "quarantine",
    )
    received: list[Received] = []
    handler.on_message = received.append
    port = free_port()
    controller = make_controller(handler, host="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def postfix(tmp_path: Path, endpoint: tuple[int, list[Received]]) -> Iterator[Postfix]:
    need(
        shutil.which("postfix") is not None or Path("/usr/sbin/postfix").exists(),
        "Postfix is not installed (apt-get install postfix)",
    )
    root = tmp_path / "postfix"
    config_dir = root / "etc"
    config_dir.mkdir(parents=True)
    (root / "queue").mkdir()
    (root / "data").mkdir()
    shutil.chown(root / "data", "postfix", "postfix")
    # The daemons open the data directory and the log as the postfix user, by absolute path:
    # it must be able to traverse pytest's 0700 directories (traverse only, restored after).
    opened = {
        directory: stat.S_IMODE(directory.stat().st_mode)
        for directory in tmp_path.parents
        if directory != Path("/") and not directory.stat().st_mode & stat.S_IXOTH
    }
    port = free_port()
    (config_dir / "main.cf").write_text(
        MAIN_CF.format(root=root, local=LOCAL_DOMAIN, bounces=BOUNCE_DOMAIN, endpoint=endpoint[0])
    )
    (config_dir / "master.cf").write_text(MASTER_CF.format(port=port))
    instance = Postfix(config_dir, root, port)
    try:
        for directory in (tmp_path, *opened):
            directory.chmod(stat.S_IMODE(directory.stat().st_mode) | 0o011)
        started = instance.command("start")
        assert started.returncode == 0, f"{started.stdout}{started.stderr}\n{instance.log()}"
        wait_for_port(port, time.monotonic() + 15)
        yield instance
    finally:
        if instance.command("stop").returncode != 0:
            instance.command("abort")
        for directory, mode in opened.items():
            directory.chmod(mode)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_postfix_dsns_become_hard_bounces(
    database: Database,
    endpoint: tuple[int, list[Received]],
    postfix: Postfix,
    tmp_path: Path,
) -> None:
    _, received = endpoint
    add_audience(database, [(NOBODIES[0], "Un", "Nobody"), (NOBODIES[1], "Deux", "Nobody")])
    campaign = new_campaign(database, write_issue(tmp_path))
    ids = delivery_ids(database, campaign)
    config = make_config(tmp_path, postfix.port, connections=1, bounce_domain=BOUNCE_DOMAIN)
    report = send(make_kit(database, config), campaign)
    assert (report.sent, report.failed, report.deferred) == (2, 0, 0)

    # Postfix bounces at once (local delivery fails 5.1.1); flushing only hurries a retry.
    started = time.monotonic()
    flushed = started
    while len(received) < 2 and time.monotonic() < started + 20:
        time.sleep(0.1)
        if time.monotonic() > flushed + 1:
            postfix.flush()
            flushed = time.monotonic()
    assert len(received) == 2, postfix.log()

    results = sorted((m.result for m in received), key=lambda r: r.recipients)
    assert [(r.outcome, r.method, r.recorded, r.recipients, r.suppressed) for r in results] == [
        ("recorded", "verp", {"hard": 1}, [a], [a]) for a in NOBODIES
    ]
    with database.sessions() as session:
        rows = session.execute(
            select(
                Bounce.email,
                Bounce.kind,
                Bounce.source,
                Bounce.status,
                Bounce.delivery_id,
                Bounce.diagnostic,
            )
        ).all()
        suppressed = dict(iter(session.execute(select(Suppression.email, Suppression.reason))))
        statuses = dict(iter(session.execute(select(Subscriber.email, Subscriber.status))))
    assert sorted((r.email, str(r.kind), r.source, r.status, r.delivery_id) for r in rows) == [
        (address, "hard", "dsn", "5.1.1", ids[address][0]) for address in NOBODIES
    ]
    # Postfix's own words, from the DSN's Diagnostic-Code (the local part, as local(8) saw it)
    for row in rows:
        assert f'unknown user: "{row.email.split("@")[0]}"' in row.diagnostic, row.diagnostic
    assert suppressed == dict.fromkeys(NOBODIES, "hard bounce")
    assert {k: str(v) for k, v in statuses.items()} == dict.fromkeys(NOBODIES, "blocklisted")
