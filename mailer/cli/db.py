"""`mailer db`: the database schema."""

from __future__ import annotations

import click

from mailer.cli.base import Context, cli, console, pass_context


@cli.group("db")
def db_group() -> None:
    """Database schema: create or upgrade it."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create the tables, or bring an existing database up to this version."""
    from mailer.db.engine import make_engine
    from mailer.db.migrate import upgrade

    engine = make_engine(ctx.services.config.database.url)
    with console().status("Upgrading the database …"):
        before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console().print(f"{where} is up to date (revision {after}).")
    else:
        console().print(f"{where}: upgraded from {before or 'empty'} to {after}.")


@db_group.command("status")
@pass_context
def db_status(ctx: Context) -> None:
    """Show the database's revision and the one this version needs."""
    from mailer.db.engine import make_engine
    from mailer.db.migrate import current_revision, head_revision

    engine = make_engine(ctx.services.config.database.url)
    current, head = current_revision(engine), head_revision()
    where = engine.url.render_as_string(hide_password=True)
    state = "up to date" if current == head else "needs `mailer db upgrade`"
    console().print(f"{where}: revision {current or 'none'}, this mailer needs {head}: {state}.")
    if current != head:
        raise click.exceptions.Exit(1)
