"""`mailer render` and `mailer demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from mailer.cli.base import Context, cli, console, pass_context
from mailer.resources import example_issue

if TYPE_CHECKING:  # the render stack (MJML, premailer, lxml) is imported when used
    from mailer.render.preview import RenderReport

_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@cli.command()
@click.argument("issue", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (default: out/<issue file name>).",
)
@click.option("--check", is_flag=True, help="Exit with code 1 when a check fails.")
@pass_context
def render(ctx: Context, issue: Path, out_dir: Path | None, check: bool) -> None:
    """Render ISSUE.md to DIR/index.html, DIR/index.txt and DIR/preview.eml, and check them."""
    report = render_and_report(ctx, issue, out_dir or Path("out") / issue.stem)
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
@pass_context
def demo(ctx: Context, out_dir: Path) -> None:
    """The whole job on built-in defaults, in OUT (default out/demo): render the example
    issue, create a database with the example members, send a test copy and the campaign
    through a local SMTP sink that keeps every message in OUT/mailbox/."""
    from mailer.demo import run_demo

    out = console()
    out.print(f"[bold]Demo[/bold]: rendering the bundled example issue {example_issue()}")
    report = render_and_report(ctx, example_issue(), out_dir)
    if report.failed:
        sys.exit(1)
    out.print("\n[bold]Demo[/bold]: a campaign of that issue to the example members")
    services = ctx.services
    result = run_demo(
        out_dir, services.config, services.templates, say=lambda s: out.print(f"  {s}")
    )
    info = result.campaign
    out.print(
        f"  campaign {info.id} is [bold]{info.status}[/bold]: "
        f"{info.deliveries.get('sent', 0)} of {info.total} recipients sent; "
        f"{result.messages} messages (with the test copy) are in {result.mailbox}"
    )
    out.print(
        f"\nOpen [bold]{(report.out_dir / 'index.html').resolve()}[/bold] in a browser, "
        f"or any .eml of [bold]{result.mailbox}[/bold] in a mail client."
    )


def render_and_report(ctx: Context, issue: Path, out_dir: Path) -> RenderReport:
    from mailer.render.checks import Status
    from mailer.render.preview import render_to_directory

    out = console()
    with out.status(f"Rendering {issue} …"):
        report = render_to_directory(
            issue, out_dir, config=ctx.services.config, templates=ctx.services.templates
        )
    table = Table(title=f"Checks for {issue.name}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for result in report.checks:
        style = _STATUS_STYLE[result.status.value]
        table.add_row(result.name, f"[{style}]{result.status.value}[/{style}]", result.detail)
    out.print(table)
    for name, size in report.files:
        out.print(f"  wrote {report.out_dir / name}  ({size / 1000:.1f} KB)")
    failed = sum(1 for c in report.checks if c.status is Status.FAIL)
    warned = sum(1 for c in report.checks if c.status is Status.WARN)
    summary = f"{len(report.checks) - failed - warned} checks passed"
    if warned:
        summary += f", {warned} warning(s)"
    if failed:
        summary += f", [bold red]{failed} failed[/bold red]"
    out.print(summary)
    return report
