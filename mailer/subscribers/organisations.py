"""`mailer organisations import`: member organisations from a CSV file, matched by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from mailer.db.models import Organisation
from mailer.domain import ImportReport, RowProblem
from mailer.subscribers.csvfile import CsvSource, open_csv
from mailer.subscribers.directory import Directory, name_key, slugify
from mailer.subscribers.rows import RowRejected, check_new_name, row_location, row_values

__all__ = ["ORGANISATION_ALIASES", "import_organisations", "read_organisation_file"]

ORGANISATION_ALIASES = {
    "nom": "name", "organisation": "name", "organization": "name", "organisme": "name",
    "naam": "name", "organisatie": "name", "association": "name",
    "federatie": "federation", "secteur": "sector", "sektor": "sector", "gewest": "region",
    "provincie": "province", "taille": "size_band", "size": "size_band", "grootte": "size_band",
    "tranche_de_taille": "size_band", "effectif": "size_band",
}  # fmt: skip


def read_organisation_file(path: Path) -> CsvSource:
    return open_csv(path, aliases=ORGANISATION_ALIASES, required=("name",))


def import_organisations(
    session: Session,
    source: CsvSource,
    *,
    create_missing: bool = False,
    on_problem: Callable[[RowProblem], None] = lambda _: None,
) -> ImportReport:
    """Insert or update organisations; the caller commits (or rolls back for --dry-run)."""
    report = ImportReport()
    directory = Directory.load(session)
    for line, fields in source.records():
        report.rows += 1
        try:
            values = {k: v.strip() for k, v in row_values(source.columns, fields).items()}
            name, values_for_row = _validate(values, directory, session, create_missing)
        except RowRejected as exc:
            report.rejected += 1
            on_problem(RowProblem(line, exc.column, exc.reason, tuple(fields)))
            continue
        known = directory.organisation(name)  # also those inserted earlier in this file
        if known is None:
            org = Organisation(slug=name_key(name, 200), name=name, **values_for_row)
            session.add(org)
            session.flush()
            directory.remember_organisation(org)
            report.inserted += 1
            continue
        existing = session.get_one(Organisation, known.id)
        changed = False
        for key, value in values_for_row.items():
            if value not in ("", None) and getattr(existing, key) != value:
                setattr(existing, key, value)
                changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    report.created = list(directory.created)
    return report


def _validate(
    values: dict[str, str], directory: Directory, session: Session, create_missing: bool
) -> tuple[str, dict[str, object]]:
    name = " ".join(values.get("name", "").split())
    if not name or not slugify(name):
        raise RowRejected("name", "no organisation name")
    if len(name) > 200:
        raise RowRejected("name", "longer than 200 characters")
    federation_id: int | None = None
    if values.get("federation"):
        federation_id = directory.federation(values["federation"])
        if federation_id is None:
            if not create_missing:
                raise RowRejected("federation", f"unknown federation {values['federation']!r}")
            check_new_name("federation", values["federation"])
            federation_id = directory.create_federation(session, values["federation"])
    location = row_location(
        values.get("region", ""), values.get("province", ""), values.get("arrondissement", "")
    )
    for key, limit in (("sector", 100), ("size_band", 32)):
        if len(values.get(key, "")) > limit:
            raise RowRejected(key, f"longer than {limit} characters")
    return name, {
        "federation_id": federation_id,
        "sector": values.get("sector", ""),
        "region": location.region or "",
        "province": location.province or "",
        "arrondissement": location.arrondissement or "",
        "size_band": values.get("size_band", ""),
    }
