"""The audience commands: federations, organisations, lists, subscribers and segments."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mailer.cli.base import Context, cli, console, pass_context, print_table
from mailer.domain import ImportReport, RowProblem
from mailer.errors import FilterError, OutputFileError
from mailer.subscribers.csvfile import CsvSource
from mailer.subscribers.filter_keys import BREAKDOWNS, FILTER_KEYS
from mailer.subscribers.geography import Location, describe

# The services (and SQLAlchemy with them) are imported inside the commands that use them, so
# that `mailer --help` or `mailer render` do not pay for them at start-up.

F = Callable[..., Any]


def filter_options(function: F) -> F:
    """--federation, --not-federation, … : the same flag repeated ORs, different flags AND."""
    for key in reversed(FILTER_KEYS):
        function = click.option(
            f"--not-{key}", f"not_{key}", multiple=True, metavar="VALUE",
            help=f"Exclude this {key} (repeatable).",
        )(function)  # fmt: skip
        function = click.option(
            f"--{key}", key, multiple=True, metavar="VALUE", help=f"Only this {key} (repeatable)."
        )(function)
    return function


def raw_filter(options: dict[str, Any]) -> dict[str, list[str]]:
    keys = [*FILTER_KEYS, *(f"not_{k}" for k in FILTER_KEYS)]
    return {key: list(options[key]) for key in keys if options.get(key)}


# ------------------------------------------------------------------ federations


@cli.group()
def federations() -> None:
    """Member federations."""


@federations.command("add")
@click.argument("slug")
@click.argument("name")
@pass_context
def federations_add(ctx: Context, slug: str, name: str) -> None:
    """Add the federation SLUG (lower-case letters, digits, '-') called NAME."""
    from mailer.subscribers import directory as directory_service

    with ctx.session() as session:
        info = directory_service.add_federation(session, slug, name)
    console().print(f"Added federation [bold]{info.slug}[/bold]: {info.name}")


@federations.command("list")
@pass_context
def federations_list(ctx: Context) -> None:
    """List the federations with their organisations and active subscribers."""
    from mailer.subscribers import directory as directory_service

    with ctx.session() as session:
        items = directory_service.list_federations(session)
    print_table(
        f"{len(items)} federation(s)",
        ("slug", "name", "organisations", "subscribers"),
        [(f.slug, f.name, f.organisations, f.subscribers) for f in items],
    )


# ------------------------------------------------------------------ organisations


@cli.group()
def organisations() -> None:
    """Member organisations."""


@organisations.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--create-missing", is_flag=True, help="Create unknown federations.")
@click.option("--dry-run", is_flag=True, help="Check and count, store nothing.")
@click.option("--strict", is_flag=True, help="Store nothing if any row is rejected.")
@click.option("--rejects", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write rejected rows (default: FILE.rejects.csv here).")  # fmt: skip
@pass_context
def organisations_import(
    ctx: Context, file: Path, create_missing: bool, dry_run: bool, strict: bool,
    rejects: Path | None,
) -> None:  # fmt: skip
    """Import organisations from FILE.csv (name, federation, sector, region, province,
    arrondissement, size_band)."""
    from mailer.subscribers.organisations import import_organisations, read_organisation_file

    source = read_organisation_file(file)
    rejects_path = rejects or Path(f"{file.stem}.rejects.csv")
    with _rejects_writer(rejects_path, source) as on_problem:
        session = ctx.services.database.sessions()
        try:
            report = import_organisations(
                session, source, create_missing=create_missing, on_problem=on_problem
            )
            if dry_run or (strict and report.rejected):
                session.rollback()
                report.stored = False
            else:
                session.commit()
        finally:
            session.close()
    _summary("organisations", report, rejects_path, dry_run)
    _exit_for(report)


@organisations.command("list")
@click.option("--federation", help="Only this federation's organisations.")
@pass_context
def organisations_list(ctx: Context, federation: str | None) -> None:
    """List the member organisations."""
    from mailer.subscribers import directory as directory_service

    with ctx.session() as session:
        items = directory_service.list_organisations(session, federation)
    rows = []
    for org in items:
        _, province, arrondissement = describe(
            Location(org.region or None, org.province or None, org.arrondissement or None)
        )
        rows.append((org.name, org.federation, org.sector, province, arrondissement,
                     org.size_band, org.subscribers))  # fmt: skip
    print_table(
        f"{len(items)} organisation(s)",
        ("name", "federation", "sector", "province", "arrondissement", "size", "subscribers"),
        rows,
    )


# ------------------------------------------------------------------ lists


@cli.group("lists")
def lists_group() -> None:
    """Mailing lists."""


@lists_group.command("create")
@click.argument("slug")
@click.argument("name")
@click.option("--double-opt-in", is_flag=True, help="New sign-ups must confirm by e-mail.")
@pass_context
def lists_create(ctx: Context, slug: str, name: str, double_opt_in: bool) -> None:
    """Create the list SLUG called NAME."""
    from mailer.subscribers import directory as directory_service

    with ctx.session() as session:
        info = directory_service.create_list(session, slug, name, double_opt_in=double_opt_in)
    mode = "double opt-in" if info.double_opt_in else "single opt-in"
    console().print(f"Created list [bold]{info.slug}[/bold]: {info.name} ({mode})")


@lists_group.command("list")
@pass_context
def lists_list(ctx: Context) -> None:
    """List the mailing lists and their subscriptions."""
    from mailer.subscribers import directory as directory_service

    with ctx.session() as session:
        items = directory_service.list_lists(session)
    print_table(
        f"{len(items)} list(s)",
        ("slug", "name", "opt-in", "confirmed", "pending", "unsubscribed"),
        [
            (
                i.slug,
                i.name,
                "double" if i.double_opt_in else "single",
                i.confirmed,
                i.pending,
                i.unsubscribed,
            )
            for i in items
        ],
    )


# ------------------------------------------------------------------ subscribers


@cli.group()
def subscribers() -> None:
    """Subscribers: import, export, personal data."""


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--list", "list_slug", metavar="SLUG", help="Subscribe every row to this list.")
@click.option("--strict", is_flag=True, help="Store nothing if any row is rejected.")
@click.option("--dry-run", is_flag=True, help="Check and count, store nothing.")
@click.option("--create-missing", is_flag=True,
              help="Create unknown federations, organisations and lists.")  # fmt: skip
@click.option("--rejects", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write rejected rows (default: FILE.rejects.csv here).")  # fmt: skip
@pass_context
def subscribers_import(
    ctx: Context, file: Path, list_slug: str | None, strict: bool, dry_run: bool,
    create_missing: bool, rejects: Path | None,
) -> None:  # fmt: skip
    """Import subscribers from FILE.csv.

    Columns: email (required), first_name, last_name, language, organisation, federation,
    sector, region, province, arrondissement, role, tags (;-separated), lists (;-separated
    slugs); other columns become attributes. UTF-8 or Windows-1252, ',' or ';'.
    """
    from mailer.subscribers.importer import ImportOptions, import_subscribers, read_subscriber_file

    source = read_subscriber_file(file)
    rejects_path = rejects or Path(f"{file.stem}.rejects.csv")
    options = ImportOptions(
        list_slug=list_slug, strict=strict, dry_run=dry_run, create_missing=create_missing
    )
    sessions = ctx.services.database.sessions
    with (
        _rejects_writer(rejects_path, source) as on_problem,
        _progress("importing", source.rows) as advance,
    ):
        report = import_subscribers(
            sessions, source, options, on_problem=on_problem, on_progress=advance
        )
    _summary("subscribers", report, rejects_path, dry_run)
    _exit_for(report)


@subscribers.command("export")
@click.option("--segment", metavar="NAME", help="Export a saved segment.")
@filter_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file (default: standard output).")  # fmt: skip
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True)
@pass_context
def subscribers_export(
    ctx: Context, /, segment: str | None, out: Path | None, delimiter: str, **options: Any
) -> None:
    """Export subscribers (all active ones, a segment, or filter flags) as CSV."""
    from mailer.subscribers.export import export_subscribers

    with ctx.session() as session, _progress("exporting", None) as advance:
        filter_ = _resolve_filter(session, segment, options)
        if out is None:
            count = export_subscribers(
                session, filter_, sys.stdout, delimiter=delimiter, on_progress=advance
            )
        else:
            with _open_for_writing(out) as stream:
                count = export_subscribers(
                    session, filter_, stream, delimiter=delimiter, on_progress=advance
                )
    console(stderr=True).print(f"Exported {count} subscriber(s).")


@subscribers.command("show")
@click.argument("email")
@pass_context
def subscribers_show(ctx: Context, email: str) -> None:
    """Print everything stored about EMAIL as JSON."""
    from mailer.subscribers.privacy import show_subscriber

    with ctx.session() as session:
        data = show_subscriber(session, email)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def subscribers_forget(ctx: Context, email: str, yes: bool) -> None:
    """Erase EMAIL's personal data; keep only a hash so it is never mailed again."""
    from mailer.subscribers.privacy import forget_subscriber

    if not yes:
        click.confirm(f"Erase everything about {email}? This cannot be undone", abort=True)
    with ctx.session() as session:
        erased = forget_subscriber(session, email)
    if erased:
        console().print(f"Erased {email}; a hashed suppression keeps it from being mailed again.")
    else:
        console().print(f"No subscriber {email}; a hashed suppression now blocks that address.")


# ------------------------------------------------------------------ segments


@cli.group()
def segments() -> None:
    """Segments: saved audiences defined by filters."""


@segments.command("create")
@click.argument("name")
@filter_options
@pass_context
def segments_create(ctx: Context, /, name: str, **options: Any) -> None:
    """Save the filter flags as segment NAME."""
    from mailer.subscribers.segments import create_segment, describe_filter, normalise_filter

    with ctx.session() as session:
        filter_ = normalise_filter(session, raw_filter(options))
        info = create_segment(session, name, filter_)
    console().print(
        f"Created segment [bold]{info.name}[/bold]: {describe_filter(info.filter)} "
        f"→ {info.count} subscriber(s)"
    )


@segments.command("list")
@pass_context
def segments_list(ctx: Context) -> None:
    """List the saved segments with their current counts."""
    from mailer.subscribers.segments import describe_filter, list_segments

    with ctx.session() as session:
        items = list_segments(session)
    print_table(
        f"{len(items)} segment(s)",
        ("name", "filter", "count"),
        [
            (s.name, describe_filter(s.filter), s.count if s.count >= 0 else f"error: {s.problem}")
            for s in items
        ],
    )


@segments.command("delete")
@click.argument("name")
@pass_context
def segments_delete(ctx: Context, name: str) -> None:
    """Delete the saved segment NAME (subscribers are not touched)."""
    from mailer.subscribers.segments import delete_segment

    with ctx.session() as session:
        delete_segment(session, name)
    console().print(f"Deleted segment [bold]{name}[/bold].")


@segments.command("show")
@click.argument("name")
@pass_context
def segments_show(ctx: Context, name: str) -> None:
    """Show a segment's filter (as JSON) and its current count."""
    from mailer.subscribers.segments import get_segment

    with ctx.session() as session:
        info = get_segment(session, name)
    click.echo(json.dumps({"name": info.name, "filter": info.filter, "count": info.count},
                          ensure_ascii=False, indent=2))  # fmt: skip


@segments.command("count")
@click.argument("name", required=False)
@filter_options
@click.option("--by", type=click.Choice(BREAKDOWNS), help="Break the count down by this.")
@pass_context
def segments_count(ctx: Context, /, name: str | None, by: str | None, **options: Any) -> None:
    """Count a saved segment NAME, or the subscribers the filter flags select."""
    from mailer.subscribers.segments import count_segment, describe_filter

    with ctx.session() as session:
        filter_ = _resolve_filter(session, name, options)
        result = count_segment(session, filter_, by)
    out = console()
    out.print(f"{describe_filter(filter_)}: [bold]{result.total}[/bold] subscriber(s)")
    if by:
        print_table(
            f"by {by}",
            (by, "count", "share"),
            [(label, n, f"{100 * n / result.total:.1f}%" if result.total else "-")
             for label, n in result.rows],
        )  # fmt: skip


def _resolve_filter(
    session: Any, segment: str | None, options: dict[str, Any]
) -> dict[str, list[str]]:
    from mailer.subscribers.segments import get_segment, normalise_filter

    flags = raw_filter(options)
    if segment and flags:
        raise FilterError("--segment", "give either a segment or filter flags, not both")
    if segment:
        return get_segment(session, segment).filter
    return normalise_filter(session, flags)


# ------------------------------------------------------------------ import helpers


@contextmanager
def _rejects_writer(path: Path, source: CsvSource) -> Iterator[Callable[[RowProblem], None]]:
    """Rejected rows go to a CSV file (line, column, reason, then the row as it was)."""
    stream: TextIO | None = None
    writer: Any = None
    shown: list[RowProblem] = []
    if not path.parent.is_dir():  # found out before the import, not at its first bad row
        raise OutputFileError(path, f"the folder {path.parent} does not exist")

    def on_problem(problem: RowProblem) -> None:
        nonlocal stream, writer
        if stream is None:
            stream = _open_for_writing(path)
            writer = csv.writer(stream)
            writer.writerow(["line", "column", "reason", "kind", *source.raw_columns])
        kind = "rejected" if problem.rejected else "not re-subscribed"
        writer.writerow([problem.line, problem.column, problem.reason, kind, *problem.fields])
        if len(shown) < 10:
            shown.append(problem)

    try:
        yield on_problem
    finally:
        if stream is not None:
            stream.close()
        if shown:
            print_table(
                "first problems (all of them are in the rejects file)",
                ("line", "column", "reason"),
                [(p.line, p.column, p.reason) for p in shown],
            )


def _open_for_writing(path: Path) -> TextIO:
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputFileError(path, exc.strerror or str(exc)) from None


@contextmanager
def _progress(what: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr (so that an export to stdout stays clean); call it with
    (done) or (done, total)."""
    with Progress(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console(stderr=True), transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(what, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                progress.update(task, total=new_total)
            progress.update(task, completed=done)

        yield advance


def _summary(what: str, report: ImportReport, rejects: Path, dry_run: bool) -> None:
    rows = [
        ("rows read", report.rows),
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("rejected", report.rejected),
    ]
    if what == "subscribers":
        rows.append(("not re-subscribed", report.not_resubscribed))
        rows.append(("duplicates merged", report.merged_duplicates))
    print_table(f"import of {what}", ("", "rows"), rows)
    for created in report.created:
        console().print(f"  created {created}")
    if report.rejected or report.not_resubscribed:
        console().print(f"Problem rows are listed in [bold]{rejects}[/bold].")
    if not report.stored:
        reason = "--dry-run" if dry_run else "--strict and some rows were rejected"
        console().print(f"[bold]Nothing was stored[/bold] ({reason}).")


def _exit_for(report: ImportReport) -> None:
    if report.rejected:
        raise click.exceptions.Exit(2)
