"""Subscriber benchmark: CSV import throughput and memory, segment counts on a large population.

    .venv/bin/python bench/subscribers.py [--rows 100000] [--population 1000000]
                                          [--only sqlite|postgresql]

For SQLite (a temporary file) and PostgreSQL (a fresh schema on $MAILER_TEST_PG_URL or the local
server, dropped at the end):

(a) a synthetic member file of --rows rows is imported with `import_subscribers` into a fresh
    migrated database, in a child process (spawn) that reports its own peak RSS; the same is
    done for 10,000 rows, to show that memory does not grow with the size of the file;
(b) --population subscribers are bulk-loaded (Core executemany on SQLite, COPY on PostgreSQL),
    ANALYZEd, and `count_segment` is timed on the issue's example: two federations, one
    province, one language (median of 7 runs after a warm-up).

Prints figures beside their targets; never asserts (a slow machine is not a failure).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    peak_rss_mib,
    plain_url,
    postgres_database,
    postgres_unreachable,
    say,
    sqlite_database,
    vm_hwm_mib,
)
from sqlalchemy import insert, select, text

from mailer.config import Config, DatabaseConfig
from mailer.db.engine import make_engine, make_sessionmaker
from mailer.db.migrate import upgrade
from mailer.db.models import Federation, MailingList, Organisation, Subscriber
from mailer.subscribers.directory import add_federation, create_list, slugify
from mailer.subscribers.geography import ARRONDISSEMENTS, PROVINCES
from mailer.subscribers.importer import ImportOptions, import_subscribers, read_subscriber_file
from mailer.subscribers.segments import count_segment, normalise_filter
from mailer.wiring import open_database

IMPORT_TARGET_ROWS_S = 20_000.0
COUNT_TARGET_MS = 200.0
COUNT_TARGET_POPULATION = 1_000_000
SMALL_FILE_ROWS = 10_000
FLAT_MEMORY_GROWTH = 0.25  # "flat": the big file's peak RSS within 25 % of the small one's
CHUNK = 50_000
RUNS = 7
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# The example: members of two federations in the province of Namur, French-speaking.
EXAMPLE_FILTER = {"federation": ["cpas", "fmm"], "province": ["Namur"], "language": ["fr"]}

FEDERATIONS = (
    ("fcss", "Fédération des Centres de Service Social"),
    ("fdss", "Fédération des Services Sociaux"),
    ("fmm", "Fédération des maisons médicales"),
    ("ajeu", "Fédération de l'Aide à la Jeunesse"),
    ("fcc", "Fédération des Centres Culturels"),
    ("fmj", "Fédération des Maisons de Jeunes"),
    ("ssm", "Ligue des Services de Santé Mentale"),
    ("creches", "Fédération des Crèches"),
    ("ep", "Fédération de l'Éducation Permanente"),
    ("welzijn", "Federatie Welzijnswerk"),
    ("cpas", "Fédération des CPAS"),
    ("vvsg", "Vereniging van Vlaamse Steden en Gemeenten"),
)
# (name prefix, sector, federation): one organisation of each kind in every arrondissement.
KINDS = (
    ("CPAS de", "Action sociale", "cpas"),
    ("Maison médicale de", "Santé", "fmm"),
    ("AMO de", "Aide à la jeunesse", "ajeu"),
    ("Centre culturel de", "Culture", "fcc"),
    ("Maison de jeunes de", "Jeunesse", "fmj"),
    ("Service de santé mentale de", "Santé mentale", "ssm"),
    ("Crèche de", "Petite enfance", "creches"),
    ("Centre de service social de", "Action sociale", "fcss"),
    ("OCMW", "Welzijn", "welzijn"),
    ("Régionale d'éducation permanente de", "Éducation permanente", "ep"),
)
LISTS = (
    ("mensuel", "Newsletter mensuelle"),
    ("conseil", "Conseil d'administration"),
    ("formations", "Agenda des formations"),
)
# Share of the population by province (Brussels-Capital: no province), roughly Belgium's.
PROVINCE_WEIGHTS = {
    "BE-VAN": 16.0, "BE-VOV": 13.5, "BE-VWV": 10.5, "BE-VBR": 10.0, "BE-VLI": 8.0,
    "BE-WHT": 12.0, "BE-WLG": 10.0, "BE-WBR": 3.5, "BE-WNA": 4.3, "BE-WLX": 2.5, None: 11.0,
}  # fmt: skip
LANGUAGE_WEIGHTS = {
    "BE-VLG": {"nl": 92, "fr": 4, "en": 4},
    "BE-WAL": {"fr": 93, "de": 3, "nl": 2, "en": 2},
    "BE-BRU": {"fr": 75, "nl": 15, "en": 10},
}
LANGUAGE_SPELLINGS = {
    "fr": ("fr", "FR", "French"), "nl": ("nl", "NL", "Dutch"), "de": ("de", "Deutsch"),
    "en": ("en", "English"),
}  # fmt: skip
ROLES = (
    "Directeur", "Directrice", "Coordinateur", "Travailleur social", "Assistante sociale",
    "Administrateur", "Président", "Secrétaire", "Comptable", "Animateur", "Médecin",
    "Infirmière", "Educateur", "Coördinator", "Maatschappelijk werker", "", "", "",
)  # fmt: skip
TAGS = ("élu", "ca", "presse", "formation", "ag", "bénévole", "partenaire", "réseau-2025")
FIRST_NAMES = ("Anne", "Zoë", "Jean", "Frédéric", "Anne-Sophie", "Mathieu", "Cécile", "Pieter",
               "Lien", "Jonas", "Fatima", "Mehmet", "Ørjan", "Núria", "Léa", "Bram")  # fmt: skip
LAST_NAMES = ("Lefèvre", "Dupont", "Clerbaux", "de Poorter", "Janssens", "Peeters", "Maes",
              "El Amrani", "Yilmaz", "Núñez", "Van den Broeck", "Lambert", "Dubois")  # fmt: skip


def _verdict(ok: bool) -> str:
    return "ok" if ok else "OVER TARGET"


# ------------------------------------------------------------------ reference data


@dataclass(frozen=True, slots=True)
class Place:
    region: str
    province: str  # "" for Brussels-Capital
    arrondissement: str
    name: str  # in the local language


@dataclass(frozen=True, slots=True)
class Org:
    slug: str
    name: str
    federation: str | None
    sector: str
    place: Place


def _places() -> list[Place]:
    places = []
    for arr in ARRONDISSEMENTS:
        local = arr.name_nl if arr.region == "BE-VLG" else arr.name_fr
        places.append(Place(arr.region, arr.province or "", arr.code, local))
    return places


PLACES = _places()


def _organisations() -> list[Org]:
    orgs = []
    for index, (place, (prefix, sector, federation)) in enumerate(
        (p, k) for p in PLACES for k in KINDS
    ):
        name = f"{prefix} {place.name}"
        orgs.append(Org(slugify(name), name, None if index % 9 == 0 else federation, sector, place))
    return orgs


ORGS = _organisations()


_PLACES_BY_PROVINCE = {
    province: [p for p in PLACES if (p.province or None) == province]
    for province in PROVINCE_WEIGHTS
}
_PROVINCE_KEYS = list(PROVINCE_WEIGHTS)
_PROVINCE_CUMULATIVE = list(itertools.accumulate(PROVINCE_WEIGHTS.values()))


def _weighted_place(rng: random.Random) -> Place:
    province = rng.choices(_PROVINCE_KEYS, cum_weights=_PROVINCE_CUMULATIVE)[0]
    return rng.choice(_PLACES_BY_PROVINCE[province])


def _language(rng: random.Random, region: str) -> str:
    weights = LANGUAGE_WEIGHTS[region]
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _orgs_by_place() -> dict[str, list[Org]]:
    found: dict[str, list[Org]] = {}
    for org in ORGS:
        found.setdefault(org.place.arrondissement, []).append(org)
    return found


def create_reference_data(url: str) -> dict[str, int]:
    """Federations, organisations and lists, as staff create them before an import."""
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            for slug, name in FEDERATIONS:
                add_federation(session, slug, name)
            for slug, name in LISTS:
                create_list(session, slug, name, double_opt_in=False)
            federations = dict(session.execute(select(Federation.slug, Federation.id)).all())
            session.add_all(
                Organisation(
                    slug=org.slug,
                    name=org.name,
                    federation_id=federations[org.federation] if org.federation else None,
                    sector=org.sector,
                    region=org.place.region,
                    province=org.place.province,
                    arrondissement=org.place.arrondissement,
                )
                for org in ORGS
            )
        with sessions() as session:
            return {
                "federations": len(session.scalars(select(Federation.id)).all()),
                "organisations": len(session.scalars(select(Organisation.id)).all()),
                "lists": len(session.scalars(select(MailingList.id)).all()),
            }
    finally:
        engine.dispose()


# ------------------------------------------------------------------ (a) the member file


def write_member_file(path: Path, rows: int, seed: int = 2026) -> None:
    """A realistic staff export: `;`-separated, French headers, names and codes mixed, a few
    duplicates (1 %) and invalid addresses (0.2 %)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
    written: list[str] = []
    by_place = _orgs_by_place()
    provinces = {p.code: p for p in PROVINCES}
    header = ["E-mail", "Prénom", "Nom", "Langue", "Organisation", "Fédération", "Région",
              "Province", "Arrondissement", "Fonction", "Tags", "Listes"]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter=";")
        writer.writerow(header)
        for i in range(rows):
            place = _weighted_place(rng)
            language = _language(rng, place.region)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{slugify(first)}.{slugify(last)}.{i}@member{i % 997}.example.be"
            if rng.random() < 0.01 and written:  # the same person twice, near or far
                email = written[rng.randrange(max(0, len(written) - 500), len(written))]
                if rng.random() < 0.5:
                    email = written[rng.randrange(len(written))]
            written.append(email)
            if rng.random() < 0.002:
                email = f"{slugify(first)} at example.be"  # invalid: rejected
            org = rng.choice(by_place[place.arrondissement]) if rng.random() < 0.85 else None
            federation = ""
            if org is not None and org.federation and rng.random() < 0.5:
                federation = org.federation
            elif org is None and rng.random() < 0.7:
                federation = rng.choice(FEDERATIONS)[rng.randrange(2)]  # slug or name
            region = province = arrondissement = ""
            if org is None or rng.random() < 0.3:  # a location of their own
                if place.province:
                    named = provinces[place.province]
                    province = named.name_nl if place.region == "BE-VLG" else named.name_fr
                    if rng.random() < 0.3:
                        arrondissement = place.arrondissement
                else:
                    region = rng.choice(("Bruxelles", "Brussel", "BE-BRU"))
            tags = ";".join(rng.sample(TAGS, rng.choice((0, 0, 0, 1, 1, 2, 3))))
            lists = "mensuel" if rng.random() < 0.8 else "mensuel;formations"
            if rng.random() < 0.05:
                lists = "conseil"
            writer.writerow([
                email, first, last, rng.choice(LANGUAGE_SPELLINGS[language]),
                org.name if org else "", federation, region, province, arrondissement,
                rng.choice(ROLES), tags, lists,
            ])  # fmt: skip


def _import_child(url: str, path: str) -> dict[str, Any]:
    """Runs in a spawned process: import `path` into `url`, report time and peak RSS."""
    baseline = peak_rss_mib()
    started = time.perf_counter()
    database = open_database(Config(database=DatabaseConfig(url=url)))
    source = read_subscriber_file(Path(path))
    report = import_subscribers(database.sessions, source, ImportOptions())
    elapsed = time.perf_counter() - started
    database.engine.dispose()
    return {
        "rows": report.rows,
        "inserted": report.inserted,
        "rejected": report.rejected,
        "merged": report.merged_duplicates,
        "seconds": elapsed,
        "baseline_mib": baseline,
        "peak_mib": peak_rss_mib(),
        "hwm_mib": vm_hwm_mib(),
    }


def run_import(url: str, path: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_import_child, url, str(path)).result()


# ------------------------------------------------------------------ (b) the population

_COLUMNS = (
    "email", "first_name", "last_name", "language", "organisation_id", "federation_id",
    "sector", "region", "province", "arrondissement", "role", "attributes", "status",
    "created_at", "updated_at",
)  # fmt: skip


def _profiles(url: str, rng: random.Random, size: int = 20_000) -> list[tuple[Any, ...]]:
    """Typical (language, org id, federation id, sector, region, province, arrondissement,
    role) combinations; each subscriber picks one at random."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            org_ids = dict(connection.execute(select(Organisation.slug, Organisation.id)).all())
            fed_ids = dict(connection.execute(select(Federation.slug, Federation.id)).all())
    finally:
        engine.dispose()
    by_place = _orgs_by_place()
    profiles = []
    for _ in range(size):
        place = _weighted_place(rng)
        language = _language(rng, place.region)
        role = rng.choice(ROLES)
        if rng.random() < 0.85:
            org = rng.choice(by_place[place.arrondissement])
            federation = fed_ids[org.federation] if org.federation else None
            profiles.append((language, org_ids[org.slug], federation, org.sector, place.region,
                             place.province, place.arrondissement, role))  # fmt: skip
        else:
            federation = fed_ids[rng.choice(FEDERATIONS)[0]] if rng.random() < 0.7 else None
            profiles.append((language, None, federation, "", place.region, place.province,
                             place.arrondissement, role))  # fmt: skip
    return profiles


def _population_rows(
    profiles: list[tuple[Any, ...]], start: int, stop: int, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    moment = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    count = len(profiles)
    for i in range(start, stop):
        language, org, fed, sector, region, province, arr, role = profiles[rng.randrange(count)]
        status = "active" if rng.random() < 0.95 else "unsubscribed"
        email = f"p{i}@m{i % 991}.example.be"
        yield (email, FIRST_NAMES[i % 16], LAST_NAMES[i % 13], language, org, fed, sector,
               region, province, arr, role, "{}", status, moment, moment)  # fmt: skip


def load_population(url: str, population: int, progress: Callable[[int], None]) -> None:
    rng = random.Random(1)  # noqa: S311 - synthetic data, reproducible by design
    profiles = _profiles(url, rng)
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            columns = ", ".join(_COLUMNS)
            for start in range(0, population, CHUNK * 4):
                stop = min(population, start + CHUNK * 4)
                with engine.begin() as connection:
                    raw = connection.connection.driver_connection
                    with (
                        raw.cursor() as cursor,
                        cursor.copy(f"COPY subscriber ({columns}) FROM STDIN") as copy,
                    ):
                        for row in _population_rows(profiles, start, stop, rng):
                            copy.write_row(row)
                progress(stop)
        else:
            statement = insert(Subscriber.__table__)
            for start in range(0, population, CHUNK):
                stop = min(population, start + CHUNK)
                rows = [
                    dict(zip(_COLUMNS, row, strict=True))
                    for row in _population_rows(profiles, start, stop, rng)
                ]
                for row in rows:
                    row["attributes"] = {}
                with engine.begin() as connection:
                    connection.execute(statement, rows)
                if stop % (CHUNK * 4) == 0 or stop == population:
                    progress(stop)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def time_counts(url: str) -> dict[str, Any]:
    database = open_database(Config(database=DatabaseConfig(url=url)))
    try:
        with database.sessions() as session:
            filter_ = normalise_filter(session, EXAMPLE_FILTER)
            timings: dict[str, list[float]] = {"count": [], "by federation": []}
            results: dict[str, Any] = {}
            for label, by in (("count", None), ("by federation", "federation")):
                results[label] = count_segment(session, filter_, by)  # warm-up
                for _ in range(RUNS):
                    started = time.perf_counter()
                    count_segment(session, filter_, by)
                    timings[label].append((time.perf_counter() - started) * 1000)
        return {
            "filter": filter_,
            "total": results["count"].total,
            "rows": results["by federation"].rows,
            "count_ms": statistics.median(timings["count"]),
            "count_max_ms": max(timings["count"]),
            "by_ms": statistics.median(timings["by federation"]),
        }
    finally:
        database.engine.dispose()


# ------------------------------------------------------------------ databases


def fresh_database(kind: str, folder: Path, name: str, pg_url: str) -> Any:
    return sqlite_database(folder, name) if kind == "sqlite" else postgres_database(pg_url)


def prepare(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return create_reference_data(url)


# ------------------------------------------------------------------ main


def bench_import(
    kind: str, folder: Path, files: dict[int, Path], pg_url: str
) -> dict[int, dict[str, Any]]:
    """(a): each file into a fresh database, in a spawned child that reports its peak RSS."""
    imports: dict[int, dict[str, Any]] = {}
    for rows, path in files.items():
        with fresh_database(kind, folder, f"import{rows}", pg_url) as url:
            reference = prepare(url)
            say(f"[{kind}] importing {rows:,} rows into a fresh database "
                 f"({reference['federations']} federations, {reference['organisations']} "
                 f"organisations, {reference['lists']} lists) …")  # fmt: skip
            imports[rows] = run_import(url, path)
            result = imports[rows]
            say(f"[{kind}]   {result['seconds']:.1f} s, "
                 f"{result['rows'] / result['seconds']:,.0f} rows/s")  # fmt: skip
    return imports


def bench_segments(kind: str, folder: Path, population: int, pg_url: str) -> dict[str, Any]:
    """(b): a bulk-loaded population, ANALYZEd, then the issue's example counted."""
    with fresh_database(kind, folder, "population", pg_url) as url:
        prepare(url)
        started = time.perf_counter()
        say(f"[{kind}] loading {population:,} subscribers …")
        load_population(
            url, population,
            lambda done: say(f"[{kind}]   {done:,} rows ({time.perf_counter() - started:.0f} s)"),
        )  # fmt: skip
        load_s = time.perf_counter() - started
        say(f"[{kind}] timing count_segment ({RUNS} runs after a warm-up) …")
        counts = time_counts(url)
    counts["load_s"] = load_s
    return counts


def report(
    kind: str, args: argparse.Namespace, imports: dict[int, dict[str, Any]],
    counts: dict[str, Any],
) -> None:  # fmt: skip
    big, small = imports[args.rows], imports[min(imports)]
    rate = big["rows"] / big["seconds"]
    growth = (big["peak_mib"] - small["peak_mib"]) / small["peak_mib"]
    at_scale = "" if args.population >= COUNT_TARGET_POPULATION else (
        f"   (population {args.population:,}: the target is for {COUNT_TARGET_POPULATION:,})"
    )  # fmt: skip
    say(f"\n--- {kind}: results ---")
    say(f"import {args.rows:>9,} rows   {big['seconds']:8.2f} s   {rate:10,.0f} rows/s   "
         f"target >= {IMPORT_TARGET_ROWS_S:,.0f} rows/s   "
         f"{_verdict(rate >= IMPORT_TARGET_ROWS_S)}")  # fmt: skip
    say(f"   inserted {big['inserted']:,}, duplicates merged {big['merged']:,}, "
         f"rejected {big['rejected']:,} (open_csv check + import, in the child)")  # fmt: skip
    for rows, result in sorted(imports.items()):
        say(f"peak RSS, import of {rows:>9,} rows   {result['peak_mib']:7.1f} MiB ru_maxrss   "
             f"({result['hwm_mib']:.1f} MiB VmHWM; {result['baseline_mib']:.1f} MiB before "
             f"the import; {result['rows'] / result['seconds']:,.0f} rows/s)")  # fmt: skip
    say(f"memory growth {min(imports):,} → {args.rows:,} rows   {100 * growth:+6.1f} %   "
         f"target: flat (< {100 * FLAT_MEMORY_GROWTH:.0f} %)   "
         f"{_verdict(growth < FLAT_MEMORY_GROWTH)}")  # fmt: skip
    say(f"population load   {args.population:,} subscribers in {counts['load_s']:.1f} s "
         f"({args.population / counts['load_s']:,.0f} rows/s), then ANALYZE")  # fmt: skip
    say(f"segment           {counts['filter']}")
    say(f"count_segment     {counts['count_ms']:8.1f} ms median (max {counts['count_max_ms']:.1f})"
         f"   target <= {COUNT_TARGET_MS:.0f} ms at {COUNT_TARGET_POPULATION:,}   "
         f"{_verdict(counts['count_ms'] <= COUNT_TARGET_MS)}   → {counts['total']:,} subscribers"
         f"{at_scale}")  # fmt: skip
    say(f"  --by federation {counts['by_ms']:8.1f} ms median   "
         + ", ".join(f"{label}: {n:,}" for label, n in counts["rows"]))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the member file")
    parser.add_argument(
        "--population", type=int, default=1_000_000, help="subscribers for the segment counts"
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    args = parser.parse_args(argv)
    args.rows = max(SMALL_FILE_ROWS + 1, args.rows)
    args.population = max(1000, args.population)
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    pg_url = os.environ.get("MAILER_TEST_PG_URL", DEFAULT_PG_URL)
    started = time.perf_counter()
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); "
         f"rows {args.rows:,}, population {args.population:,}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="mailer-bench-") as tmp:
        folder = Path(tmp)
        files: dict[int, Path] = {}
        for rows in (SMALL_FILE_ROWS, args.rows):
            path = folder / f"members-{rows}.csv"
            begun = time.perf_counter()
            write_member_file(path, rows)
            files[rows] = path
            say(f"wrote {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.1f} MB "
                 f"in {time.perf_counter() - begun:.1f} s")  # fmt: skip
        # Imports first, while this process is small: Linux carries the parent's peak RSS
        # over to a spawned child's ru_maxrss, so a big parent would hide the child's figure.
        imports: dict[str, dict[int, dict[str, Any]]] = {}
        for kind in list(kinds):
            if kind == "postgresql" and (reason := postgres_unreachable(pg_url)):
                say(f"\n[postgresql] skipped: not reachable at {plain_url(pg_url)} ({reason})")
                kinds.remove(kind)
                continue
            imports[kind] = bench_import(kind, folder, files, pg_url)
        counts = {kind: bench_segments(kind, folder, args.population, pg_url) for kind in kinds}
        for kind in kinds:
            report(kind, args, imports[kind], counts[kind])
    say(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
