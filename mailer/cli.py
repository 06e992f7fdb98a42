"""The `mailer` command line: parse arguments, call one service, present the result."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mailer import __version__
from mailer.errors import MailerError
from mailer.render.checks import Status
from mailer.render.preview import RenderReport, render_to_directory
from mailer.resources import example_issue
from mailer.wiring import Services, build_services

__all__ = ["main"]

_STATUS_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


class _Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.config_path)
        return self._services


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
    ctx.obj = _Context(config_path)


@cli.command()
@click.argument("issue", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (default: out/<issue file name>).",
)
@click.option("--check", is_flag=True, help="Exit with code 1 when a check fails.")
@click.pass_obj
def render(obj: _Context, issue: Path, out_dir: Path | None, check: bool) -> None:
    """Render ISSUE.md to DIR/index.html, DIR/index.txt and DIR/preview.eml, and check them."""
    target = out_dir or Path("out") / issue.stem
    report = _render(obj, issue, target)
    if check and report.failed:
        sys.exit(1)


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("out/demo"),
    show_default=True,
    help="Output folder.",
)
@click.pass_obj
def demo(obj: _Context, out_dir: Path) -> None:
    """Show what the mailer does on built-in defaults: render the bundled example issue."""
    console = Console()
    console.print(f"[bold]Demo[/bold]: rendering the bundled example issue {example_issue()}")
    report = _render(obj, example_issue(), out_dir)
    console.print(
        f"\nOpen [bold]{(report.out_dir / 'index.html').resolve()}[/bold] in a browser, "
        f"or [bold]{report.out_dir / 'preview.eml'}[/bold] in a mail client."
    )
    if report.failed:
        sys.exit(1)


def _render(obj: _Context, issue: Path, out_dir: Path) -> RenderReport:
    console = Console()
    with console.status(f"Rendering {issue} …"):
        report = render_to_directory(
            issue, out_dir, config=obj.services.config, templates=obj.services.templates
        )
    table = Table(title=f"Checks for {issue.name}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for result in report.checks:
        style = _STATUS_STYLE[result.status]
        table.add_row(result.name, f"[{style}]{result.status.value}[/{style}]", result.detail)
    console.print(table)
    for name, size in report.files:
        console.print(f"  wrote {report.out_dir / name}  ({size / 1000:.1f} KB)")
    failed = sum(1 for c in report.checks if c.status is Status.FAIL)
    warned = sum(1 for c in report.checks if c.status is Status.WARN)
    summary = f"{len(report.checks) - failed - warned} checks passed"
    if warned:
        summary += f", {warned} warning(s)"
    if failed:
        summary += f", [bold red]{failed} failed[/bold red]"
    console.print(summary)
    return report


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become a one-line message and exit code 2, never a traceback."""
    try:
        cli.main(args=argv, prog_name="mailer", standalone_mode=False)
    except click.exceptions.Abort:
        Console(stderr=True).print("aborted")
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
