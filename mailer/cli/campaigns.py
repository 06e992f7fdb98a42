"""`mailer campaign …` and `mailer worker`: create, test, send, follow and stop campaigns."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mailer.cli.base import Context, cli, console, pass_context, print_table
from mailer.errors import MailerError

if TYPE_CHECKING:
    from mailer.campaigns.engine import SendReport
    from mailer.domain import CampaignInfo

__all__ = ["campaign", "worker"]

_TERMINAL = ("sent", "bounced", "failed", "skipped")


@cli.group()
def campaign() -> None:
    """Campaigns: an issue sent to a list (or a segment of it)."""


@campaign.command("create")
@click.option(
    "--issue",
    "issue_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The issue source file.",
)
@click.option("--list", "list_slug", required=True, metavar="SLUG", help="The list to send to.")
@click.option("--segment", metavar="NAME", help="Only the list's subscribers in this segment.")
@click.option("--subject", help="Subject line (default: the issue's subject).")
@click.option(
    "--at",
    "at",
    metavar='"YYYY-MM-DD HH:MM"',
    help="Schedule for this time (Brussels); `mailer worker` sends it then.",
)
@pass_context
def campaign_create(
    ctx: Context,
    issue_file: Path,
    list_slug: str,
    segment: str | None,
    subject: str | None,
    at: str | None,
) -> None:
    """Create a campaign and print its id (on standard output, for scripts)."""
    from mailer.campaigns.lifecycle import create_campaign, parse_local_time

    scheduled = parse_local_time(at) if at else None
    with ctx.session() as session:
        campaign_id = create_campaign(
            session,
            issue_file=issue_file,
            list_slug=list_slug,
            segment_name=segment,
            subject=subject,
            scheduled_at=scheduled,
        )
    click.echo(campaign_id)
    state = f"scheduled for {at} (Brussels)" if at else "draft"
    console(stderr=True).print(
        f"Campaign {campaign_id} created ({state}). Next: `mailer campaign test {campaign_id} "
        f"--to you@example.org`, then `mailer campaign send {campaign_id}`."
    )


@campaign.command("test")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="ADDR[,ADDR...]",
    help="Where to send test copies (anyone, not only subscribers).",
)
@click.option(
    "--as",
    "as_subscriber",
    metavar="EMAIL",
    help="Personalise as this subscriber (default: a sample reader).",
)
@pass_context
def campaign_test(ctx: Context, campaign_id: int, to: str, as_subscriber: str | None) -> None:
    """Send test copies ([TEST] in the subject); nothing is counted or recorded."""
    from mailer.campaigns.runner import send_test_copies

    addresses = [a for a in to.split(",") if a.strip()]
    results = send_test_copies(
        ctx.services.send_kit(), campaign_id, addresses, as_subscriber=as_subscriber
    )
    print_table(
        f"test copies of campaign {campaign_id}",
        ("to", "result"),
        [(r.address, ("sent: " if r.ok else "not sent: ") + r.reply) for r in results],
    )
    if not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


@campaign.command("send")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes on this host (PostgreSQL only for more than one).",
)
@pass_context
def campaign_send(ctx: Context, campaign_id: int, workers: int) -> None:
    """Send a campaign now. Run it again (or `resume`) after a crash: it continues where it
    stopped, and nobody gets the message twice (except deliveries in flight at the crash, sent
    again with the same Message-ID)."""
    from mailer.campaigns.lifecycle import start_campaign

    if workers > 1 and ctx.services.config.database.url.startswith("sqlite"):
        raise MailerError("--workers: several workers need PostgreSQL (SQLite has one writer)")
    with ctx.session() as session:
        created = start_campaign(session, campaign_id)
    if created:
        console(stderr=True).print(f"{created} recipients in campaign {campaign_id}.")
    _send_and_report(ctx, campaign_id, workers)


@campaign.command("resume")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@pass_context
def campaign_resume(ctx: Context, campaign_id: int, workers: int) -> None:
    """Continue a paused (or interrupted) campaign, and send the rest now."""
    from mailer.campaigns.lifecycle import resume_campaign

    with ctx.session() as session:
        resume_campaign(session, campaign_id)
    _send_and_report(ctx, campaign_id, workers)


@campaign.command("pause")
@click.argument("campaign_id", type=int, metavar="ID")
@pass_context
def campaign_pause(ctx: Context, campaign_id: int) -> None:
    """Pause a campaign being sent; workers see it within half a second and stop after the
    messages on the wire."""
    from mailer.campaigns.lifecycle import pause_campaign

    with ctx.session() as session:
        pause_campaign(session, campaign_id)
    console().print(
        f"Campaign {campaign_id} paused. `mailer campaign resume {campaign_id}` continues it."
    )


@campaign.command("cancel")
@click.argument("campaign_id", type=int, metavar="ID")
@pass_context
def campaign_cancel(ctx: Context, campaign_id: int) -> None:
    """Cancel a campaign for good: what is not sent yet will not be."""
    from mailer.campaigns.lifecycle import cancel_campaign

    with ctx.session() as session:
        skipped = cancel_campaign(session, campaign_id)
    console().print(f"Campaign {campaign_id} cancelled; {skipped} messages will not be sent.")


@campaign.command("status")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@pass_context
def campaign_status(ctx: Context, campaign_id: int, as_json: bool) -> None:
    """Where a campaign stands: its state, and its deliveries by outcome."""
    from mailer.campaigns.lifecycle import campaign_info

    with ctx.session() as session:
        info = campaign_info(session, campaign_id)
    if as_json:
        click.echo(json.dumps(_as_json(info), ensure_ascii=False))
        return
    _print_status(info)


@campaign.command("list")
@pass_context
def campaign_list(ctx: Context) -> None:
    """Every campaign, newest first."""
    from mailer.campaigns.lifecycle import list_campaigns

    with ctx.session() as session:
        infos = list_campaigns(session)
    print_table(
        "campaigns",
        ("id", "status", "subject", "list", "segment", "recipients", "sent", "when"),
        [
            (
                i.id,
                i.status,
                _short(i.subject, 50),
                i.list_slug,
                i.segment_name or "—",
                i.total,
                i.deliveries.get("sent", 0),
                _when(i),
            )
            for i in infos
        ],
    )


@cli.command("worker")
@click.option(
    "--campaign",
    "campaign_id",
    type=int,
    metavar="ID",
    help="Work on this campaign only (default: every campaign that is due).",
)
@click.option("--once", is_flag=True, help="Exit when nothing is left to send.")
@click.option(
    "--poll",
    type=click.FloatRange(0.5, 3600),
    default=10.0,
    show_default=True,
    help="Seconds between looks for due campaigns.",
)
@click.option("--quiet", is_flag=True, help="No progress bar (for services and scripts).")
@pass_context
def worker(ctx: Context, campaign_id: int | None, once: bool, poll: float, quiet: bool) -> None:
    """Send due campaigns: scheduled ones whose time has come, and those being sent. Run one
    per host (systemd, cron with --once); on PostgreSQL any number share a campaign."""
    from mailer.campaigns.lifecycle import due_campaigns, start_campaign
    from mailer.campaigns.runner import run_campaign

    kit = ctx.services.send_kit()
    out = console(stderr=True)
    while True:
        with ctx.session() as session:
            due = due_campaigns(session)
        if campaign_id is not None:
            due = [c for c in due if c == campaign_id]
        for due_id in due:
            with ctx.session() as session:
                start_campaign(session, due_id)
            if quiet:
                report = run_campaign(kit, due_id)
            else:
                with _send_progress(ctx, due_id) as on_progress:
                    report = run_campaign(kit, due_id, on_progress=on_progress)
            out.print(f"campaign {due_id}: {_report_line(report)}")
        if once and not due:
            return
        if once and campaign_id is not None:
            return
        if not due:
            time.sleep(poll)


# ---------------------------------------------------------------------- sending with a bar


def _send_and_report(ctx: Context, campaign_id: int, workers: int) -> None:
    from mailer.campaigns.lifecycle import campaign_info
    from mailer.campaigns.runner import run_campaign

    if workers == 1:
        kit = ctx.services.send_kit()
        try:
            with _send_progress(ctx, campaign_id) as on_progress:
                report = run_campaign(kit, campaign_id, on_progress=on_progress)
        except KeyboardInterrupt:
            console(stderr=True).print(
                f"Interrupted. `mailer campaign send {campaign_id}` continues where it stopped."
            )
            raise click.exceptions.Exit(130) from None
        console(stderr=True).print(f"This worker: {_report_line(report)}")
    else:
        _run_worker_processes(ctx, campaign_id, workers)
    with ctx.session() as session:
        info = campaign_info(session, campaign_id)
    _print_status(info)
    if info.status == "paused":
        raise click.exceptions.Exit(1)


def _run_worker_processes(ctx: Context, campaign_id: int, workers: int) -> None:
    """`workers` processes of `mailer worker --campaign ID --once`, followed from here."""
    command = [sys.executable, "-m", "mailer"]
    if ctx.config_path is not None:
        command += ["--config", str(ctx.config_path)]
    command += ["worker", "--campaign", str(campaign_id), "--once", "--quiet"]
    children = [subprocess.Popen(command) for _ in range(workers)]  # noqa: S603 (our own CLI)
    try:
        with _send_progress(ctx, campaign_id) as update:
            while any(child.poll() is None for child in children):
                update(None)
                time.sleep(0.5)
            update(None)
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
        for child in children:
            child.wait()
        raise click.exceptions.Exit(130) from None
    failed = [child.returncode for child in children if child.returncode]
    if failed:
        raise MailerError(f"{len(failed)} of {workers} workers failed (exit codes {failed})")


@contextmanager
def _send_progress(ctx: Context, campaign_id: int) -> Iterator[Callable[[SendReport | None], None]]:
    """A progress bar over the campaign's deliveries, refreshed from the database."""
    from mailer.campaigns.lifecycle import campaign_info

    sessions = ctx.services.database.sessions
    last = [0.0]

    def counts() -> tuple[int, dict[str, int]]:
        with sessions() as session:
            info = campaign_info(session, campaign_id)
        return info.total, info.deliveries

    total, at_start = counts()
    base = {s: at_start.get(s, 0) for s in (*_TERMINAL, "deferred")}
    with Progress(
        TextColumn(f"[bold]campaign {campaign_id}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console(stderr=True), transient=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("send", total=total or None, detail="")

        def update(report: SendReport | None) -> None:
            """From this worker's own counts (cheap), or from the database (other workers)."""
            now = time.monotonic()
            if now - last[0] < 0.2:
                return
            last[0] = now
            if report is None:
                new_total, by_status = counts()
            else:
                new_total = total
                by_status = {s: base[s] + getattr(report, s) for s in _TERMINAL}
                by_status["deferred"] = report.deferred
            done = sum(by_status.get(s, 0) for s in _TERMINAL)
            detail = " · ".join(
                f"{s} {by_status[s]}"
                for s in ("sent", "deferred", "bounced", "failed")
                if by_status.get(s)
            )
            progress.update(task, total=new_total, completed=done, detail=detail)

        update(None)
        yield update
        last[0] = 0.0
        update(None)


# ---------------------------------------------------------------------- presenting


def _report_line(report: SendReport) -> str:
    rate = report.sent / report.elapsed if report.elapsed > 0 else 0.0
    line = (
        f"{report.sent} sent, {report.deferred} deferred, {report.bounced} bounced, "
        f"{report.failed} failed, {report.skipped} skipped in {report.elapsed:.1f} s "
        f"({rate:.0f} messages/s); stopped: {report.stopped_because or '—'}"
    )
    if report.pause_reason:
        line += f" — {report.pause_reason}"
    return line


def _print_status(info: CampaignInfo) -> None:
    rows: list[tuple[str, object]] = [
        ("status", info.status),
        ("subject", info.subject),
        ("list", info.list_slug),
        ("segment", info.segment_name or "—"),
        ("issue", info.issue_file),
        ("scheduled", _stamp(info.scheduled_at)),
        ("started", _stamp(info.started_at)),
        ("finished", _stamp(info.finished_at)),
        ("recipients", info.total),
    ]
    for status in ("queued", "sending", "deferred", "sent", "bounced", "failed", "skipped"):
        if info.deliveries.get(status):
            rows.append((f"  {status}", info.deliveries[status]))
    for kind in ("hard", "soft", "complaint"):
        if info.bounces.get(kind):
            rows.append((f"{kind} bounces", info.bounces[kind]))
    if info.pause_reason:
        rows.append(("paused because", info.pause_reason))
    print_table(f"campaign {info.id}", ("", "value"), rows)
    if info.by_federation:
        columns = ("recipients", "sent", "hard", "soft", "complaint")
        print_table(
            "by federation",
            ("federation", *columns),
            [(slug or "(none)", *(counts[c] for c in columns))
             for slug, counts in info.by_federation.items()],
        )  # fmt: skip


def _as_json(info: CampaignInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "status": info.status,
        "subject": info.subject,
        "list": info.list_slug,
        "segment": info.segment_name or None,
        "issue_file": info.issue_file,
        "scheduled_at": _iso(info.scheduled_at),
        "started_at": _iso(info.started_at),
        "finished_at": _iso(info.finished_at),
        "pause_reason": info.pause_reason or None,
        "recipients": info.total,
        "deliveries": {
            s: info.deliveries.get(s, 0)
            for s in ("queued", "sending", "deferred", "sent", "bounced", "failed", "skipped")
        },
        "bounces": {k: info.bounces.get(k, 0) for k in ("hard", "soft", "complaint")},
        "by_federation": info.by_federation,
    }


def _iso(moment: object) -> str | None:
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return moment.isoformat()


def _stamp(moment: object) -> str:
    import datetime as dt

    from mailer.campaigns.lifecycle import LOCAL_TIME

    if not isinstance(moment, dt.datetime):
        return "—"
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S (Brussels)")


def _when(info: CampaignInfo) -> str:
    return _stamp(info.finished_at or info.started_at or info.scheduled_at)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
