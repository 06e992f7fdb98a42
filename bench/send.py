"""Send benchmark: our sender's messages/s into Postfix's smtp-sink, beside smtp-source's.

    .venv/bin/python bench/send.py [--recipients 20000] [--connections 4,8] [--batch-size 100]
                                   [--database-url postgresql://…] [--memory] [--profile]

Needs `smtp-sink` and `smtp-source` from Debian's `postfix` package (looked up on $PATH and in
/usr/sbin); without them it says so and exits 0 (this script installs nothing).

Default run, for each connection count in --connections:

(a) a fresh database (a temporary SQLite file, or a fresh schema on --database-url, dropped at
    the end) gets --recipients active subscribers confirmed on one list; a campaign of the
    real example issue (`mailer.resources.example_issue()`) is created and started, so its
    `queued` delivery rows are committed before anything is timed;
(b) a fresh `smtp-sink` on 127.0.0.1 (a free port) takes the campaign from `run_campaign`,
    run in a spawned child that reports its wall time and its own peak RSS (VmHWM);
(c) a fresh `smtp-sink` takes the same number of messages from `smtp-source`, with as many
    sessions as we have connections, each session kept open (-d, as ours are) and each
    message a copy of one real personalised message (-F, same bytes); for context, also
    with a new connection per message (no -d). The wall clock of smtp-source is timed.

Then our best rate beside smtp-source's, and their ratio. Target on a 2-core machine: one
process reaches at least half of smtp-source's rate.

--memory: 10,000 and 100,000 recipients, each sent by a spawned child into a fresh sink;
prints both peak RSS figures and their ratio (target: the big one at most 1.2× the small).

--profile: one more run, under cProfile (both the event-loop thread and the database
thread), after the measured ones; prints the top functions by cumulative and own time.

Prints figures beside their targets; never asserts (a slow machine is not a failure).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import pwd
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    peak_rss_mib,
    plain_url,
    postgres_database,
    postgres_unreachable,
    say,
    sqlite_database,
    vm_hwm_mib,
)
from sqlalchemy import func, insert, literal, select
from sqlalchemy.engine import make_url

from mailer.campaigns.engine import SendReport
from mailer.campaigns.lifecycle import create_campaign, start_campaign
from mailer.campaigns.runner import SendKit, campaign_messages, run_campaign
from mailer.config import Config, DatabaseConfig, RelayConfig, SecurityConfig, SendingConfig
from mailer.db.engine import make_engine, make_sessionmaker
from mailer.db.migrate import upgrade
from mailer.db.models import Delivery, MailingList, Subscriber, Subscription
from mailer.domain import DeliveryToSend
from mailer.render.templates import make_environment
from mailer.resources import example_issue, templates_dir
from mailer.subscribers.directory import create_list
from mailer.tokens import Signer
from mailer.transport.smtp import SmtpTransport
from mailer.wiring import open_database

RATIO_TARGET = 0.5  # our messages/s at least half of smtp-source's
MEMORY_SIZES = (10_000, 100_000)
MEMORY_RATIO_TARGET = 1.2  # peak RSS at 100,000 recipients at most 1.2× that at 10,000
CHUNK = 20_000  # subscribers per insert transaction
LIST_SLUG = "mensuel"
ENVELOPE_FROM = "newsletter@example.org"
ENVELOPE_TO = "reader@example.org"
TOP = 15
PROGRESS_EVERY = 10.0  # seconds between progress lines from the sending child
FIRST_NAMES = ("Zoë", "Jean", "Frédéric", "Anne-Sophie", "Mathieu", "Cécile", "Li", "Ørjan")
LAST_NAMES = ("Lefèvre", "Dupont", "Clerbaux", "de Poorter", "Jansen", "Morbois", "Núñez")
LANGUAGES = ("fr", "fr", "fr", "nl", "de")
_COUNTER = re.compile(rb"mesg=(\d+)")


def _at_least(value: float, target: float) -> str:
    return "ok" if value >= target else "BELOW TARGET"


def _at_most(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


# ------------------------------------------------------------------ Postfix's test tools


def find_tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _sink_user() -> list[str]:
    """As root, smtp-sink must be told whose privileges to drop to after binding."""
    if os.geteuid() != 0:
        return []
    for user in ("nobody", "root"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["-u", user]
    return []


@dataclass(slots=True)
class Sink:
    """A running smtp-sink; `messages` is its own count of received messages once stopped."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    messages: int = -1


@contextmanager
def smtp_sink(executable: str, folder: Path) -> Iterator[Sink]:
    """A fresh smtp-sink on 127.0.0.1 and a free port, stopped (by its pid) on the way out.
    Its running counter (-c) goes to a file, never a pipe that could fill up and stall it."""
    port = _free_port()
    log = folder / f"sink-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [executable, "-c", *_sink_user(), f"127.0.0.1:{port}", "1000"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    sink = Sink(port, process, log)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"smtp-sink exited: {log.read_text(errors='replace')[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"smtp-sink did not listen on port {port}") from None
                time.sleep(0.02)
        yield sink
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        counts = _COUNTER.findall(log.read_bytes())
        # The probe connection above counts as a session, never as a message.
        sink.messages = int(counts[-1]) if counts else 0
        log.unlink(missing_ok=True)


def run_smtp_source(
    executable: str, port: int, *, sessions: int, count: int, message: Path, keep_open: bool
) -> dict[str, Any]:
    command = [
        executable,
        *(["-d"] if keep_open else []),
        "-s", str(sessions),
        "-m", str(count),
        "-F", str(message),
        "-f", ENVELOPE_FROM,
        "-t", ENVELOPE_TO,
        f"127.0.0.1:{port}",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False, timeout=3600)
    seconds = time.perf_counter() - started
    error = done.stderr.decode(errors="replace").strip()
    return {"seconds": seconds, "returncode": done.returncode, "error": error[-300:]}


# ------------------------------------------------------------------ databases


def fresh_database(pg_url: str | None, folder: Path, name: str) -> AbstractContextManager[str]:
    return postgres_database(pg_url, "bench_send") if pg_url else sqlite_database(folder, name)


def _subscriber_rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "email": f"reader{i}@m{i % 997}.example.be",
            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[i % len(LAST_NAMES)],
            "language": LANGUAGES[i % len(LANGUAGES)],
            "status": "active",
            "attributes": {},
        }
        for i in range(start, stop)
    ]


def prepare_campaign(url: str, recipients: int) -> dict[str, Any]:
    """Schema, one list, `recipients` active confirmed subscribers (Core inserts), and a
    started campaign of the example issue: its queued deliveries are committed on return."""
    began = time.perf_counter()
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            create_list(session, LIST_SLUG, "Newsletter mensuelle", double_opt_in=False)
        with sessions() as session:
            list_id = session.scalar(select(MailingList.id).where(MailingList.slug == LIST_SLUG))
        statement = insert(Subscriber)
        for start in range(0, recipients, CHUNK):
            rows = _subscriber_rows(start, min(recipients, start + CHUNK))
            with engine.begin() as connection:
                connection.execute(statement, rows)
        with engine.begin() as connection:
            connection.execute(
                insert(Subscription).from_select(
                    ["subscriber_id", "list_id", "status"],
                    select(Subscriber.id, literal(list_id), literal("confirmed")),
                )
            )
        loaded = time.perf_counter()
        with sessions.begin() as session:
            campaign_id = create_campaign(session, issue_file=example_issue(), list_slug=LIST_SLUG)
            queued = start_campaign(session, campaign_id)
        return {
            "campaign_id": campaign_id,
            "queued": queued,
            "load_s": loaded - began,
            "start_s": time.perf_counter() - loaded,
        }
    finally:
        engine.dispose()


# ------------------------------------------------------------------ the sender, in a child


@dataclass(slots=True)
class _ThreadProfiles:
    """cProfile for the event-loop thread and every thread started while it runs (the
    engine's database thread): `threading.setprofile` hands each new thread a hook whose
    first call starts a profiler of that thread's own (a cProfile profiler is per thread)."""

    main: cProfile.Profile = field(default_factory=cProfile.Profile)
    others: list[tuple[str, cProfile.Profile]] = field(default_factory=list)
    note: str = ""

    def _hook(self, *_: Any) -> None:
        profile = cProfile.Profile()
        try:
            profile.enable()
        except ValueError as exc:  # Python 3.12+: one profiler at a time (sys.monitoring)
            self.note = f"other threads not profiled: {exc}"
            sys.setprofile(None)
            return
        self.others.append((threading.current_thread().name, profile))

    def __enter__(self) -> _ThreadProfiles:
        threading.setprofile(self._hook)
        self.main.enable()
        return self

    def __exit__(self, *_: object) -> None:
        self.main.disable()
        threading.setprofile(None)

    def report(self, wall: float) -> str:
        out = io.StringIO()
        main = pstats.Stats(self.main, stream=out).strip_dirs()
        idle = _idle(main, "<method 'poll' of 'select.epoll' objects>")
        out.write(
            f"\n=== event-loop thread: {_total(main):.2f} s profiled over a {wall:.2f} s run, "
            f"{idle:.2f} s of it waiting in epoll; top {TOP} by cumulative time ===\n"
        )
        main.sort_stats("cumulative").print_stats(TOP)
        out.write(f"\n=== event-loop thread: top {TOP} by own time (tottime) ===\n")
        main.sort_stats("tottime").print_stats(TOP)
        for name, profile in self.others:
            stats = pstats.Stats(profile, stream=out).strip_dirs()
            idle = _idle(stats, "<method 'get' of '_queue.SimpleQueue' objects>")
            if _total(stats) - idle < 0.05:  # an executor thread that did next to nothing
                continue
            out.write(
                f"\n=== thread {name}: {_total(stats) - idle:.2f} s busy, {idle:.2f} s waiting "
                f"for work; top {TOP} by cumulative time ===\n"
            )
            stats.sort_stats("cumulative").print_stats(TOP)
        if self.note:
            out.write(f"\n({self.note})\n")
        return _trim_stats(out.getvalue())


def _idle(stats: pstats.Stats, waiting: str) -> float:
    """Own time spent in the C function `waiting` (how a thread waits for work)."""
    table: dict[tuple[str, int, str], tuple[Any, ...]] = getattr(stats, "stats", {})
    return float(sum(entry[2] for key, entry in table.items() if key[2] == waiting))


def _total(stats: pstats.Stats) -> float:
    """The profiled time of `stats` (pstats keeps it as an undeclared attribute)."""
    return float(getattr(stats, "total_tt", 0.0))


def _trim_stats(text: str) -> str:
    """pstats' headers without the blank lines and the 'Ordered by' / 'List reduced' noise."""
    keep = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("Ordered by", "List reduced")):
            continue
        keep.append(line.rstrip())
    return "\n".join(keep)


def _sample_message(kit: SendKit, campaign_id: int) -> bytes:
    """One real personalised message (the first delivery's), exactly as the engine builds it."""
    with kit.sessions() as session:
        row = session.execute(
            select(
                Delivery.id,
                Delivery.subscriber_id,
                Delivery.email,
                Delivery.attempts,
                Subscriber.first_name,
                Subscriber.last_name,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.campaign_id == campaign_id)
            .order_by(Delivery.id)
            .limit(1)
        ).one()
    messages = campaign_messages(kit, campaign_id)
    delivery = DeliveryToSend(row.id, row.subscriber_id, row.email, row.first_name,
                              row.last_name, row.attempts)  # fmt: skip
    return messages.envelope(delivery).data


def _send_child(
    url: str,
    campaign_id: int,
    port: int,
    connections: int,
    batch_size: int,
    key: bytes,
    key_file: str,
    sample_path: str | None,
    profile: bool,
) -> dict[str, Any]:
    """Runs in a spawned process: send the campaign into the sink on `port`, report how long
    it took, the delivery counts, and this process's own peak RSS."""
    baseline_hwm = vm_hwm_mib()
    relays = (RelayConfig(host="127.0.0.1", port=port, connections=connections),)
    config = Config(
        database=DatabaseConfig(url=url),
        relays=relays,
        sending=SendingConfig(batch_size=batch_size),
        security=SecurityConfig(secret_key_file=key_file),
    )
    database = open_database(config)
    kit = SendKit(
        config=config,
        sessions=database.sessions,
        templates=make_environment(templates_dir()),
        signer=Signer(key),
        transport=lambda: SmtpTransport(relays),
    )
    last = [time.perf_counter()]

    def progress(report: SendReport) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            say(f"      … {report.sent:,} sent")

    profiles = _ThreadProfiles() if profile else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if profiles is not None:
        with profiles:
            report = run_campaign(kit, campaign_id, on_progress=progress)
    else:
        report = run_campaign(kit, campaign_id, on_progress=progress)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    hwm, maxrss = vm_hwm_mib(), peak_rss_mib()
    with database.sessions() as session:
        counts = {
            str(status): int(n)
            for status, n in session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.campaign_id == campaign_id)
                .group_by(Delivery.status)
            )
        }
    sample_bytes = 0
    if sample_path:
        data = _sample_message(kit, campaign_id)
        sample_bytes = len(data)
        # smtp-source -F sends each line of the file followed by CRLF: the same bytes.
        Path(sample_path).write_bytes(data.replace(b"\r\n", b"\n"))
    database.engine.dispose()
    return {
        "sent": report.sent,
        "deferred": report.deferred,
        "failed": report.failed,
        "requeued": report.requeued,
        "stopped": report.stopped_because,
        "last_error": report.last_error,
        "engine_s": report.elapsed,
        "wall_s": wall,
        "cpu_s": cpu,
        "hwm_mib": hwm,
        "maxrss_mib": maxrss,
        "baseline_hwm_mib": baseline_hwm,
        "counts": counts,
        "sample_bytes": sample_bytes,
        "profile": profiles.report(wall) if profiles is not None else "",
    }


def run_sender(**kwargs: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_send_child, **kwargs).result()


# ------------------------------------------------------------------ main


@dataclass(frozen=True, slots=True)
class Tools:
    sink: str
    source: str


@dataclass(frozen=True, slots=True)
class Setting:
    folder: Path
    pg_url: str | None
    batch_size: int
    key: bytes
    tools: Tools


def send_once(
    setting: Setting, name: str, recipients: int, connections: int, *,
    sample: Path | None = None, profile: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """A fresh database and campaign, a fresh sink, our sender in a child."""
    with fresh_database(setting.pg_url, setting.folder, name) as url:
        prepared = prepare_campaign(url, recipients)
        say(f"    {prepared['queued']:,} deliveries queued and committed "
             f"(subscribers loaded in {prepared['load_s']:.1f} s, campaign started in "
             f"{prepared['start_s']:.1f} s); sending with {connections} connection(s)"
             f"{' under cProfile' if profile else ''} …")  # fmt: skip
        with smtp_sink(setting.tools.sink, setting.folder) as sink:
            result = run_sender(
                url=url,
                campaign_id=prepared["campaign_id"],
                port=sink.port,
                connections=connections,
                batch_size=setting.batch_size,
                key=setting.key,
                key_file=str(setting.folder / "secret.key"),
                sample_path=str(sample) if sample else None,
                profile=profile,
            )
    result["sink_messages"] = sink.messages
    result["queued"] = prepared["queued"]
    result["rate"] = result["sent"] / result["wall_s"] if result["wall_s"] else 0.0
    say(f"    {result['sent']:,} sent in {result['wall_s']:.2f} s ({result['rate']:,.0f} msg/s; "
         f"engine {result['engine_s']:.2f} s; CPU {result['cpu_s']:.2f} s), "
         f"the sink counted {sink.messages:,}, "
         f"peak RSS {result['hwm_mib']:.1f} MiB, stopped: {result['stopped']}")  # fmt: skip
    if result["last_error"]:
        say(f"    last error: {result['last_error']}")
    return result


def source_once(
    setting: Setting, sessions: int, count: int, message: Path, *, keep_open: bool
) -> dict[str, Any]:
    with smtp_sink(setting.tools.sink, setting.folder) as sink:
        result = run_smtp_source(
            setting.tools.source, sink.port, sessions=sessions, count=count, message=message,
            keep_open=keep_open,
        )  # fmt: skip
    result["sink_messages"] = sink.messages
    result["rate"] = sink.messages / result["seconds"] if result["seconds"] else 0.0
    how = "-d, sessions kept open" if keep_open else "a new connection per message"
    say(
        f"    smtp-source -s {sessions} ({how}): {sink.messages:,} messages in "
        f"{result['seconds']:.2f} s ({result['rate']:,.0f} msg/s)"
        + (f"; exit {result['returncode']}: {result['error']}" if result["returncode"] else "")
    )
    return result


def bench_throughput(setting: Setting, recipients: int, counts: list[int]) -> dict[str, Any]:
    message = setting.folder / "message.eml"
    ours: dict[int, dict[str, Any]] = {}
    kept: dict[int, dict[str, Any]] = {}
    fresh: dict[int, dict[str, Any]] = {}
    size = 0
    for connections in counts:
        say(f"\n[{connections} connections] our sender, {recipients:,} recipients")
        ours[connections] = send_once(
            setting, f"send{connections}", recipients, connections,
            sample=None if message.exists() else message,
        )  # fmt: skip
        size = size or ours[connections]["sample_bytes"]
        say(f"[{connections} connections] smtp-source, {recipients:,} copies of one real "
             f"message ({size:,} bytes on the wire, sent with -F)")  # fmt: skip
        kept[connections] = source_once(setting, connections, recipients, message, keep_open=True)
        fresh[connections] = source_once(setting, connections, recipients, message, keep_open=False)
    return {"ours": ours, "kept": kept, "fresh": fresh, "size": size}


def report_throughput(
    recipients: int, database: str, results: dict[str, Any], setting: Setting
) -> None:
    ours, kept, fresh = results["ours"], results["kept"], results["fresh"]
    say(f"\n--- results: {recipients:,} recipients, {database}, example issue "
         f"({results['size'] / 1000:.1f} KB a message), "
         f"batch size {setting.batch_size} ---")  # fmt: skip
    for k, r in ours.items():
        status = ", ".join(f"{s} {n:,}" for s, n in sorted(r["counts"].items()))
        say(f"our sender, {k:>2} connections     {r['wall_s']:7.2f} s   "
             f"{r['rate']:8,.0f} msg/s   peak RSS {r['hwm_mib']:6.1f} MiB   "
             f"(CPU {r['cpu_s']:.2f} s; engine {r['engine_s']:.2f} s; "
             f"sink counted {r['sink_messages']:,}; "
             f"deliveries: {status})")  # fmt: skip
    for k in ours:
        for label, runs in (("-d", kept), ("  ", fresh)):
            r = runs[k]
            note = "sessions kept open" if label == "-d" else "a new connection per message"
            failed = f"   exit {r['returncode']}" if r["returncode"] else ""
            say(f"smtp-source -s {k:<2} {label}          {r['seconds']:7.2f} s   "
                 f"{r['rate']:8,.0f} msg/s   ({note}; sink counted "
                 f"{r['sink_messages']:,}){failed}")  # fmt: skip
    for k in ours:
        ratio = ours[k]["rate"] / kept[k]["rate"] if kept[k]["rate"] else 0.0
        say(f"ratio, {k:>2} connections          {ratio:6.2f}×   (ours / smtp-source -d -s {k}; "
             f"{ours[k]['rate'] / fresh[k]['rate'] if fresh[k]['rate'] else 0.0:.2f}× against "
             f"a new connection per message)")  # fmt: skip
    best = max(ours, key=lambda k: ours[k]["rate"])
    best_ratio = ours[best]["rate"] / kept[best]["rate"] if kept[best]["rate"] else 0.0
    source_best = max(kept, key=lambda k: kept[k]["rate"])
    strict = ours[best]["rate"] / kept[source_best]["rate"] if kept[source_best]["rate"] else 0.0
    say(f"best: ours with {best} connections   {ours[best]['rate']:,.0f} msg/s   "
         f"{best_ratio:.2f}× smtp-source -d -s {best}   target >= {RATIO_TARGET}×   "
         f"{_at_least(best_ratio, RATIO_TARGET)}")  # fmt: skip
    say(f"      against smtp-source's best (-s {source_best}, "
         f"{kept[source_best]['rate']:,.0f} msg/s)   {strict:.2f}×   "
         f"{_at_least(strict, RATIO_TARGET)}")  # fmt: skip
    say(f"peak RSS, {recipients:,} recipients   {ours[best]['hwm_mib']:.1f} MiB VmHWM "
         f"({ours[best]['maxrss_mib']:.1f} MiB ru_maxrss, which counts the parent's size at "
         f"spawn; {ours[best]['baseline_hwm_mib']:.1f} MiB at the child's start)")  # fmt: skip


def bench_memory(setting: Setting, connections: int) -> None:
    results: dict[int, dict[str, Any]] = {}
    for recipients in MEMORY_SIZES:
        say(f"\n[memory] {recipients:,} recipients, {connections} connections")
        results[recipients] = send_once(setting, f"memory{recipients}", recipients, connections)
    small, big = (results[n] for n in MEMORY_SIZES)
    ratio = big["hwm_mib"] / small["hwm_mib"]
    say(f"\n--- memory: {connections} connections, batch size {setting.batch_size} ---")
    for n, r in results.items():
        say(f"peak RSS, {n:>7,} recipients   {r['hwm_mib']:7.1f} MiB VmHWM   "
             f"({r['maxrss_mib']:.1f} MiB ru_maxrss; {r['sent']:,} sent in {r['wall_s']:.1f} s, "
             f"{r['rate']:,.0f} msg/s; sink counted {r['sink_messages']:,})")  # fmt: skip
    say(
        f"ratio {MEMORY_SIZES[1]:,} / {MEMORY_SIZES[0]:,}   {ratio:.2f}×   "
        f"target <= {MEMORY_RATIO_TARGET}×   {_at_most(ratio, MEMORY_RATIO_TARGET)}"
    )


def _connection_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 4,8, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("at least one connection count, each at least 1")
    return list(dict.fromkeys(counts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipients", type=int, default=20_000, help="messages to send (default 20000)"
    )
    parser.add_argument(
        "--connections", type=_connection_counts, default=[4, 8],
        help="relay connection counts to measure, comma-separated (default 4,8); "
        "--memory and --profile use the first",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=SendingConfig().batch_size,
        help=f"sending.batch_size (default {SendingConfig().batch_size})",
    )  # fmt: skip
    parser.add_argument(
        "--database-url", default=None,
        help="a PostgreSQL server to use instead of temporary SQLite files "
        "(each run gets a fresh schema, dropped at the end)",
    )  # fmt: skip
    parser.add_argument(
        "--memory", action="store_true",
        help=f"peak RSS at {MEMORY_SIZES[0]:,} and {MEMORY_SIZES[1]:,} recipients instead",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="one more run under cProfile; prints where the time goes",
    )  # fmt: skip
    args = parser.parse_args(argv)
    recipients = max(1, args.recipients)
    sink, source = find_tool("smtp-sink"), find_tool("smtp-source")
    if sink is None or source is None:
        say("smtp-sink and smtp-source (Debian's postfix package) were not found on $PATH nor "
             "in /usr/sbin: nothing measured. This script installs nothing; as root, "
             "`apt-get install postfix` brings them.")  # fmt: skip
        return 0
    pg_url = args.database_url
    if pg_url:
        if make_url(pg_url).get_backend_name() != "postgresql":
            parser.error("--database-url: a postgresql:// URL (SQLite files are temporary)")
        if reason := postgres_unreachable(pg_url):
            say(f"PostgreSQL not reachable at {plain_url(pg_url)} ({reason}): nothing measured")
            return 1
    database = f"PostgreSQL ({make_url(pg_url).host})" if pg_url else "SQLite"
    started = time.perf_counter()
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); {database}; "
         f"{sink}, {source}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="mailer-bench-send-") as tmp:
        setting = Setting(
            folder=Path(tmp),
            pg_url=pg_url,
            batch_size=max(1, args.batch_size),
            key=secrets.token_bytes(32),
            tools=Tools(sink, source),
        )
        first = args.connections[0]
        if args.memory:
            bench_memory(setting, first)
        else:
            results = bench_throughput(setting, recipients, args.connections)
            report_throughput(recipients, database, results, setting)
        if args.profile:
            say(f"\n[profile] {recipients:,} recipients, {first} connections, under cProfile")
            profiled = send_once(setting, "profile", recipients, first, profile=True)
            say(profiled["profile"])
    say(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
