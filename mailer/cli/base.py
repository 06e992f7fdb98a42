"""The root command group and what every command shares: the lazily built services, the
console, and short helpers to present tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from mailer import __version__

if TYPE_CHECKING:  # the wiring (SQLAlchemy, Jinja2…) is imported when a command needs it
    from sqlalchemy.orm import Session

    from mailer.wiring import Services

__all__ = ["Context", "cli", "console", "pass_context", "print_table"]


class Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            from mailer.wiring import build_services

            self._services = build_services(self.config_path)
        return self._services

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self.services.database.sessions.begin() as session:
            yield session


pass_context = click.make_pass_decorator(Context)


def console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in _NUMERIC else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console().print(table)


_NUMERIC = {"subscribers", "organisations", "count", "confirmed", "pending", "unsubscribed",
            "rows", "share"}  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MAILER_CONFIG",
    help="Configuration file (TOML). Default: $MAILER_CONFIG, else built-in defaults.",
)
@click.version_option(__version__, prog_name="mailer")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Newsletter sender for federations: render issues, manage subscribers, send campaigns."""
    ctx.obj = Context(config_path)
