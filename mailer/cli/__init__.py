"""The `mailer` command line: parse arguments, call one service, present the result.

Each sub-module registers one family of commands on the `cli` group; `main` turns user
mistakes (`MailerError`) into one plain line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

# Importing a module registers its commands on `cli`.
from mailer.cli import audience, bounces, campaigns, db, render, suppressions  # noqa: F401
from mailer.cli.base import cli
from mailer.errors import MailerError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mailer` console script."""
    try:
        # Without standalone mode, click returns the code of a `click.exceptions.Exit`.
        code = cli.main(args=argv, prog_name="mailer", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MailerError as exc:
        # Plain text, never markup and never wrapped: the message may hold brackets, and
        # "file:line: message" must stay on one line for editors and scripts.
        click.echo(f"{click.style('error:', fg='red', bold=True)} {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
