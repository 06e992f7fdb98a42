"""`mailer suppressions`: the addresses never to be mailed again."""

from __future__ import annotations

import click
from rich.table import Table

from mailer.cli.base import Context, cli, console, pass_context


@cli.group()
def suppressions() -> None:
    """Suppressed addresses (hard bounces, complaints, repeated soft bounces, staff)."""


@suppressions.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N, newest first.")
@pass_context
def suppressions_list(ctx: Context, limit: int | None) -> None:
    """The suppressed addresses, newest first."""
    from mailer.subscribers.suppressions import list_suppressions

    with ctx.session() as session:
        items = list_suppressions(session, limit=limit)
    table = Table(title=f"{len(items)} suppressed address(es)", title_justify="left")
    for column in ("email", "reason", "since"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", ratio=1, min_width=20)
    for s in items:
        since = f"{s.since:%Y-%m-%d %H:%M}" if s.since else "-"
        table.add_row(s.email, s.reason, since, s.detail)
    console().print(table)


@suppressions.command("add")
@click.argument("email")
@click.option("--reason", default="staff", show_default=True, help="Why (at most 32 characters).")
@pass_context
def suppressions_add(ctx: Context, email: str, reason: str) -> None:
    """Never mail EMAIL again (its subscriber, if any, is blocklisted)."""
    from mailer.subscribers.suppressions import add_suppression

    with ctx.session() as session:
        added = add_suppression(session, email, reason)
    message = "Suppressed" if added else "Already suppressed (reason kept):"
    console().print(f"{message} {email.strip().lower()}", markup=False)


@suppressions.command("remove")
@click.argument("email")
@pass_context
def suppressions_remove(ctx: Context, email: str) -> None:
    """Mail EMAIL again: its suppression is removed and a blocklisted subscriber is active
    again, but not re-subscribed to the lists they left."""
    from mailer.subscribers.suppressions import remove_suppression

    with ctx.session() as session:
        reactivated = remove_suppression(session, email)
    note = " (subscriber active again; lists unchanged)" if reactivated else ""
    console().print(f"Removed the suppression of {email.strip().lower()}{note}", markup=False)
