"""`mailer bounces parse`: what a saved bounce message says, without touching the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mailer.cli.base import Context, cli, console, pass_context

if TYPE_CHECKING:  # the parser (and flufl.bounce with it) is imported when a command runs
    from collections.abc import Sequence

    from mailer.bounces import BounceReport
    from mailer.bounces.ingest import IngestSummary

# The fields of `--json`, in this order: what scripts rely on.
JSON_FIELDS = ("recipient", "kind", "status", "action", "reason", "diagnostic", "source")
_STYLE = {"hard": "red", "complaint": "magenta"}


@cli.group()
def bounces() -> None:
    """Bounce messages: non-delivery reports and complaints."""


@bounces.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
def bounces_parse(files: tuple[Path, ...], as_json: bool) -> None:
    """Show the failed recipients each message FILE reports (hard, soft, complaint).

    A file that cannot be read is reported on stderr and the others are still parsed; the
    exit code is then 2.
    """
    from mailer.bounces import parse_message
    from mailer.bounces.files import read_message_file
    from mailer.errors import InputFileError

    failed = False
    for path in files:
        try:
            raw = read_message_file(path)
        except InputFileError as exc:
            # The same one line as `cli.main` prints for a MailerError, then on to the next file.
            click.echo(f"{click.style('error:', fg='red', bold=True)} {exc}", err=True)
            failed = True
            continue
        reports = parse_message(raw)
        if as_json:
            click.echo(json.dumps(_as_json(path, reports), ensure_ascii=False))
        else:
            _print(path, reports)
    if failed:
        raise click.exceptions.Exit(2)


def _as_json(path: Path, reports: list[BounceReport]) -> dict[str, object]:
    return {
        "file": str(path),
        "bounces": [{name: getattr(r, name) for name in JSON_FIELDS} for r in reports],
    }


def _print(path: Path, reports: list[BounceReport]) -> None:
    if not reports:
        console().print(f"{path}: not a bounce (no failed recipient, no complaint)", markup=False)
        return
    table = Table(title=f"{path}: {len(reports)} bounce(s)", title_justify="left")
    # An address must stay whole to be copied; the diagnostic is what wraps.
    for column in ("recipient", "kind", "status", "action", "reason", "source"):
        table.add_column(column, no_wrap=True)
    table.add_column("diagnostic", ratio=1, min_width=20)
    for r in reports:
        cells = (r.recipient or "(hidden)", r.kind, r.status or "-", r.action or "-", r.reason,
                 r.source, _short(r.diagnostic))  # fmt: skip
        table.add_row(*cells, style=_STYLE.get(r.kind))
    console().print(table)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@bounces.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Parse and match, store nothing, copy nothing.")
@pass_context
def bounces_ingest(ctx: Context, paths: tuple[Path, ...], dry_run: bool) -> None:
    """Record the bounces in PATHS: .eml files, maildir folders (cur/ and new/), mbox files.

    Each bounce is matched to its delivery (VERP address, Message-ID, then the address) and
    goes through the suppression policy; a bounce that matches nothing is copied to the
    quarantine folder (`bounces.quarantine_dir`).
    """
    from mailer.bounces.ingest import bounce_domain, ingest_paths, open_sources
    from mailer.bounces.policy import BouncePolicy

    sources = open_sources(paths)  # every path checked before anything is stored
    services = ctx.services
    config = services.config
    summary = ingest_paths(
        services.database.sessions,
        services.signer(),
        sources,
        domain=bounce_domain(config),
        policy=BouncePolicy.from_config(config.bounces),
        quarantine_dir=Path(config.bounces.quarantine_dir),
        dry_run=dry_run,
    )
    title = "Bounces ingested" + (" (dry run: nothing stored)" if dry_run else "")
    _print_summary(title, summary)
    if summary.quarantined:
        folder = summary.quarantined[0].parent
        console().print(f"{len(summary.quarantined)} message(s) copied to {folder}", markup=False)


def _print_summary(
    title: str,
    summary: IngestSummary,
    extra: Sequence[tuple[str, int]] = (),
    *,
    unattributed: str = "unattributed (quarantined)",
) -> None:
    recorded = summary.recorded
    rows: list[tuple[str, int]] = [
        ("messages read", summary.messages),
        ("hard bounces recorded", recorded.get("hard", 0)),
        ("soft bounces recorded", recorded.get("soft", 0)),
        ("complaints recorded", recorded.get("complaint", 0)),
        ("already recorded", summary.duplicates),
        ("addresses suppressed", summary.suppressed),
        ("delay warnings (not recorded)", summary.delayed),
        ("not bounces", summary.not_bounces),
        (unattributed, summary.unattributed),
        ("forged VERP address (ignored)", summary.forged),
        *extra,
    ]
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, count in rows:
        table.add_row(label, str(count))
    console().print(table)


@bounces.command("fetch")
@click.option("--folder", help="The folder to read (default: bounces.imap.folder, INBOX).")
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most this many messages, oldest first."
)
@click.option("--dry-run", is_flag=True, help="Read and match only: store, create, move nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar (for cron); the summary is printed.")
@pass_context
def bounces_fetch(
    ctx: Context, folder: str | None, limit: int | None, dry_run: bool, quiet: bool
) -> None:
    """Record the bounces waiting in an IMAP mailbox, then move each message out of the folder.

    The server and the folders are set in [bounces.imap] (MAILER_IMAP_HOST and MAILER_IMAP_USER
    override host and user); the password is read from the environment variable
    bounces.imap.password_env names (MAILER_IMAP_PASSWORD). Recorded bounces go to the processed
    folder, messages with no bounce in them to the unparseable folder, bounces that match none
    of our deliveries to the unattributed folder; nothing is deleted. Run it from cron or a
    systemd timer: a message interrupted half-way is taken again, and recorded once.
    """
    import dataclasses
    import os

    from mailer.bounces.fetch import fetch_bounces
    from mailer.bounces.imap import open_mailbox
    from mailer.bounces.ingest import bounce_domain
    from mailer.bounces.policy import BouncePolicy

    services = ctx.services
    config = services.config
    settings = config.bounces.imap
    if folder:
        settings = dataclasses.replace(settings, folder=folder)
    sessions = services.database.sessions  # the schema is checked before the server is asked
    mailbox = open_mailbox(settings, os.environ.get(settings.password_env))
    try:
        with Progress(
            TextColumn(f"[bold]{settings.host} {settings.folder}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=console(stderr=True),
            disable=quiet,
        ) as progress:  # fmt: skip
            task = progress.add_task("fetch", total=None)
            summary = fetch_bounces(
                sessions,
                services.signer(),
                mailbox,
                settings,
                domain=bounce_domain(config),
                policy=BouncePolicy.from_config(config.bounces),
                dry_run=dry_run,
                limit=limit,
                on_start=lambda total: progress.update(task, total=total),
                on_message=lambda _result: progress.advance(task),
            )
    finally:
        mailbox.close()
    moved = [(f"moved to {name}", count) for name, count in sorted(summary.moved.items())]
    title = f"Bounces fetched from {settings.host} {settings.folder}"
    if dry_run:
        title += " (dry run: nothing stored or moved)"
    extra = [*moved, ("left in the folder", summary.left)]
    _print_summary(title, summary, extra, unattributed="unattributed (not ours)")


@bounces.command("list")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign's bounces.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@pass_context
def bounces_list(ctx: Context, campaign_id: int | None, limit: int) -> None:
    """The latest recorded bounces, newest first."""
    from mailer.bounces.policy import list_bounces

    with ctx.session() as session:
        items = list_bounces(session, campaign_id=campaign_id, limit=limit)
    table = Table(title=f"{len(items)} bounce(s)", title_justify="left")
    for column in ("received", "email", "kind", "status", "reason", "source", "campaign"):
        table.add_column(column, no_wrap=True)
    table.add_column("diagnostic", ratio=1, min_width=20)
    for b in items:
        cells = (f"{b.received_at:%Y-%m-%d %H:%M}", b.email, b.kind, b.status or "-", b.reason,
                 b.source, str(b.campaign_id or "-"), _short(b.diagnostic, 80))  # fmt: skip
        table.add_row(*cells, style=_STYLE.get(b.kind))
    console().print(table)


@bounces.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=2525, show_default=True)
@click.option("--quiet", is_flag=True, help="Print nothing per message.")
@pass_context
def bounces_serve(ctx: Context, host: str, port: int, quiet: bool) -> None:
    """Receive bounces by SMTP for the bounce domain, until Ctrl-C or SIGTERM.

    Only our VERP addresses (bounces+<token>@<bounce domain>, with a genuine token) are
    accepted; each message is recorded as `bounces ingest` would.
    """
    import signal
    import threading

    from mailer.bounces.ingest import bounce_domain
    from mailer.bounces.policy import BouncePolicy
    from mailer.bounces.server import BounceHandler, Received, make_controller

    services = ctx.services
    config = services.config

    def show(received: Received) -> None:
        result = received.result
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.recorded.items()))
        detail = kinds or result.outcome
        if result.duplicates:
            detail += f" ({result.duplicates} already recorded)"
        if received.quarantined is not None:
            detail += f" → {received.quarantined}"
        who = ", ".join(result.recipients) or "-"
        click.echo(f"{received.peer} {result.outcome}: {who}: {detail}")

    handler = BounceHandler(
        services.database.sessions,
        services.signer(),
        domain=bounce_domain(config),
        policy=BouncePolicy.from_config(config.bounces),
        quarantine_dir=Path(config.bounces.quarantine_dir),
        on_message=None if quiet else show,
    )
    controller = make_controller(handler, host=host, port=port)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        from mailer.errors import MailerError

        raise MailerError(f"cannot listen on {host}:{port}: {exc}") from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Receiving bounces for {handler.domain} on {host}:{port} (Ctrl-C to stop)")
    try:
        while not stop.wait(1.0):  # a timeout: signals are handled at least once a second
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
