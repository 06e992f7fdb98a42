"""`mailer bounces parse`: what a saved bounce message says, without touching the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from mailer.cli.base import cli, console

if TYPE_CHECKING:  # the parser (and flufl.bounce with it) is imported when a command runs
    from mailer.bounces import BounceReport

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
