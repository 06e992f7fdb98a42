"""The audience commands as staff run them: the installed `mailer` script in a subprocess, on
SQLite and PostgreSQL. Each `mailer` process costs about a second to start, so the set-up is
done in-process (with the services) except in the one test that goes through every command."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailer.db.engine import make_engine
from mailer.db.models import Federation, Subscriber, Subscription, Suppression
from mailer.subscribers import directory
from mailer.subscribers.emails import email_hash
from mailer.subscribers.importer import ImportOptions, import_subscribers, read_subscriber_file
from mailer.subscribers.organisations import import_organisations, read_organisation_file
from mailer.subscribers.privacy import suppress
from mailer.wiring import Database

ORGANISATIONS = (
    "Nom;Fédération;Secteur;Province;Arrondissement\n"
    "ASBL Les Tilleuls;fed-a;santé;Namur;Dinant\n"
    "Maison médicale du Centre;fed-a;social;Hainaut;Tournai-Mouscron\n"
)

# What Excel writes on a Belgian Windows machine: Windows-1252, ';', CRLF, padded rows.
EXCEL_HEADER = (
    "E-mail;Prénom;Nom;Langue;Organisation;Fonction;Province;Etiquettes;Listes;Cotisation"
)
EXCEL_ROWS = [
    "jean.dupont@tilleuls.be;Jean;Dupont;fr;ASBL Les Tilleuls;Directeur;;ca;news;50 €;;",  # 2
    "Marie.Lefevre@Example.be;Marie-Hélène;Lefèvre;nl;;Coordinatrice;Liège;;news;;",  # 3
    "pas-une-adresse;Paul;Martin;fr;;;;;news;",  # 4: bad address
    "anne@example.be;Anne;Lambert;fr;ASBL Inconnue;;;;news;",  # 5: unknown organisation
    "bob@example.be;Bob;Smet;nl;;;Atlantide;;;",  # 6: unknown province
    ";;;;;;;;;",  # 7: an empty Excel row
    "chloe@example.be;Chloé;Dubois;fr;Maison médicale du Centre;Infirmière;;;news;25 €",  # 8
    "dan@example.be;Dan",  # 9: a cut row
]
EXCEL = "\r\n".join([EXCEL_HEADER, *EXCEL_ROWS]) + "\r\n"

CLEAN = (
    "email;first_name;last_name;organisation;province;tags;lists;membre depuis\n"
    "a@example.be;Anne;Martin;ASBL Les Tilleuls;;ca;news;2019\n"
    "b@example.be;Bob;Lee;;Liège;;news;\n"
    "c@example.be;Carl;;Maison médicale du Centre;;x;;2001\n"
    "d@example.be;Dan;;;;;news;\n"
)


# ------------------------------------------------------------------ helpers


def _mailer(
    mailer_bin: str, db_url: str, cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MAILER_CONFIG", None)
    env.update(MAILER_DATABASE_URL=db_url, NO_COLOR="1", COLUMNS="160")
    return subprocess.run(
        [mailer_bin, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _user_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2, one plain message, never a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    return output


def _summary(stdout: str) -> dict[str, int]:
    """The 'import of …' table: {'rows read': 7, 'inserted': 3, …}."""
    labels = "rows read|inserted|updated|unchanged|rejected|not re-subscribed|duplicates merged"
    found = dict(re.findall(rf"^\W*({labels})\W+(\d+)\W*$", stdout, flags=re.MULTILINE))
    assert "rows read" in found, stdout
    return {label: int(n) for label, n in found.items()}


def _setup(database: Database, tmp_path: Path) -> None:
    with database.sessions.begin() as session:
        directory.add_federation(session, "fed-a", "Fédération A")
        directory.add_federation(session, "fed-b", "Fédération B")
        directory.create_list(session, "news", "Newsletter", double_opt_in=False)
    path = tmp_path / "organisations-setup.csv"
    path.write_text(ORGANISATIONS, encoding="utf-8")
    with database.sessions.begin() as session:
        import_organisations(session, read_organisation_file(path))


def _import_in_process(database: Database, path: Path) -> None:
    report = import_subscribers(database.sessions, read_subscriber_file(path), ImportOptions())
    assert report.rejected == 0


def _count(database: Database, model: Any) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


# ------------------------------------------------------------------ the whole workflow


def test_every_set_up_command_then_an_excel_import(
    mailer_bin: str, db_url: str, tmp_path: Path
) -> None:
    """db upgrade, federations add, lists create, organisations import, subscribers import."""
    assert "upgraded from empty" in _ok(_mailer(mailer_bin, db_url, tmp_path, "db", "upgrade"))
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "federations", "add", "fed-a", "Fédération A"))
    assert "fed-a" in out
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "lists", "create", "news", "Newsletter"))
    assert "news" in out
    (tmp_path / "organisations.csv").write_bytes(ORGANISATIONS.encode("cp1252"))
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "organisations", "import", "organisations.csv"))
    assert _summary(out)["inserted"] == 2

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "Membres 2026.csv").write_bytes(EXCEL.encode("cp1252"))
    result = _mailer(
        mailer_bin, db_url, tmp_path, "subscribers", "import", "incoming/Membres 2026.csv"
    )
    output = _user_error(result)
    assert "import of subscribers" in result.stdout
    assert _summary(result.stdout) == {
        "rows read": 7, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 4,
        "not re-subscribed": 0, "duplicates merged": 0,
    }  # fmt: skip
    assert "Membres 2026.rejects.csv" in output

    rejects = tmp_path / "Membres 2026.rejects.csv"  # in the working directory, not the file's
    assert not (incoming / "Membres 2026.rejects.csv").exists()
    rows = _rejects(rejects)
    assert rows[0] == ["line", "column", "reason", "kind", *EXCEL_HEADER.split(";")]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("4", "email", "rejected"),
        ("5", "organisation", "rejected"),
        ("6", "province", "rejected"),
        ("9", "(row)", "rejected"),
    ]
    assert rows[2][4:] == EXCEL_ROWS[3].split(";")
    assert "ASBL Inconnue" in rows[2][2]
    assert rows[4][4:] == ["dan@example.be", "Dan"]

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            people = {
                row.email: row
                for row in connection.execute(
                    select(
                        Subscriber.email, Subscriber.first_name, Subscriber.attributes,
                        Subscriber.arrondissement, Federation.slug,
                    ).outerjoin(Federation, Federation.id == Subscriber.federation_id)
                )
            }  # fmt: skip
            subscriptions = connection.scalar(select(func.count()).select_from(Subscription))
    finally:
        engine.dispose()
    assert set(people) == {
        "jean.dupont@tilleuls.be", "marie.lefevre@example.be", "chloe@example.be",
    }  # fmt: skip
    assert people["marie.lefevre@example.be"].first_name == "Marie-Hélène"
    assert people["jean.dupont@tilleuls.be"].attributes == {"cotisation": "50 €"}
    assert people["jean.dupont@tilleuls.be"].slug == "fed-a"  # from its organisation
    assert people["chloe@example.be"].arrondissement == "57"  # Tournai-Mouscron
    assert subscriptions == 3


def test_a_clean_file_exits_0(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "clean.csv").write_text(CLEAN, encoding="utf-8")
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "subscribers", "import", "clean.csv"))
    assert _summary(out) == {
        "rows read": 4, "inserted": 4, "updated": 0, "unchanged": 0, "rejected": 0,
        "not re-subscribed": 0, "duplicates merged": 0,
    }  # fmt: skip
    assert not (tmp_path / "clean.rejects.csv").exists()
    assert "Nothing was stored" not in out
    assert _count(database, Subscriber) == 4
    assert _count(database, Subscription) == 3


def test_strict_with_a_bad_row_stores_nothing(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "strict.csv").write_text(CLEAN + "not-an-address;Bad;;;;;news;\n", encoding="utf-8")
    result = _mailer(
        mailer_bin, db_url, tmp_path, "subscribers", "import", "strict.csv", "--strict"
    )
    _user_error(result)
    assert "Nothing was stored" in result.stdout
    assert "--strict" in result.stdout
    assert _summary(result.stdout)["rejected"] == 1
    assert [r[:2] for r in _rejects(tmp_path / "strict.rejects.csv")[1:]] == [["6", "email"]]
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "segments", "count"))
    assert re.search(r"\b0 subscriber\(s\)", out), out
    assert _count(database, Subscriber) == 0


def test_export_then_import_changes_nothing(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "clean.csv").write_text(CLEAN, encoding="utf-8")
    _import_in_process(database, tmp_path / "clean.csv")
    result = _mailer(mailer_bin, db_url, tmp_path, "subscribers", "export", "--out", "f.csv")
    _ok(result)
    assert "Exported 4 subscriber(s)" in result.stderr
    assert (tmp_path / "f.csv").read_text(encoding="utf-8").count("\n") == 5
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "subscribers", "import", "f.csv"))
    summary = _summary(out)
    assert summary["unchanged"] == summary["rows read"] == 4
    assert (summary["inserted"], summary["updated"], summary["rejected"]) == (0, 0, 0)


def test_show_prints_json(mailer_bin: str, db_url: str, database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    (tmp_path / "clean.csv").write_text(CLEAN, encoding="utf-8")
    _import_in_process(database, tmp_path / "clean.csv")
    out = _ok(_mailer(mailer_bin, db_url, tmp_path, "subscribers", "show", "A@Example.be"))
    data = json.loads(out)
    assert data["email"] == "a@example.be"
    assert data["subscriber"]["first_name"] == "Anne"
    assert data["subscriber"]["federation"] == "fed-a"
    assert data["subscriber"]["attributes"] == {"membre_depuis": "2019"}
    assert data["subscriber"]["tags"] == ["ca"]
    [subscription] = data["subscriptions"]
    assert subscription["list"] == "news"
    assert subscription["status"] == "confirmed"
    assert subscription["consent_source"] == "import:clean.csv"
    assert subscription["consent_at"]
    assert "suppression" not in data


def test_forget_then_show_only_the_suppression(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "clean.csv").write_text(CLEAN, encoding="utf-8")
    _import_in_process(database, tmp_path / "clean.csv")
    out = _ok(
        _mailer(mailer_bin, db_url, tmp_path, "subscribers", "forget", "a@example.be", "--yes")
    )
    assert "Erased a@example.be" in out
    data = json.loads(
        _ok(_mailer(mailer_bin, db_url, tmp_path, "subscribers", "show", "a@example.be"))
    )
    assert set(data) == {"email", "suppression"}
    assert data["suppression"]["reason"] == "forgotten"
    assert _count(database, Subscriber) == 3
    with database.sessions() as session:
        [suppression] = session.scalars(select(Suppression)).all()
    assert (suppression.email, suppression.email_hash) == (None, email_hash("a@example.be"))


def test_not_resubscribed_rows_keep_their_columns_in_the_rejects_file(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    """The rejects file promises the row as it was, under the file's own header."""
    _setup(database, tmp_path)
    with database.sessions.begin() as session:
        suppress(session, "bounced@example.be", "hard_bounce")
    (tmp_path / "m.csv").write_text(
        "Nom;E-mail;Listes\nDubois;bounced@example.be;news\nDurand;ok@example.be;news\n",
        encoding="utf-8",
    )
    result = _mailer(mailer_bin, db_url, tmp_path, "subscribers", "import", "m.csv")
    _ok(result)  # nothing was rejected: exit 0
    assert _summary(result.stdout)["not re-subscribed"] == 1
    rows = _rejects(tmp_path / "m.rejects.csv")
    assert rows[0] == ["line", "column", "reason", "kind", "Nom", "E-mail", "Listes"]
    assert rows[1][:4] == ["2", "email", rows[1][2], "not re-subscribed"]
    assert rows[1][4:] == ["Dubois", "bounced@example.be", "news"]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "args",
    [
        ["federations", "list"],
        ["lists", "create", "news", "Newsletter"],
        ["subscribers", "import", "m.csv"],
        ["subscribers", "show", "a@example.be"],
        ["segments", "count"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_database_never_upgraded(
    mailer_bin: str, db_url: str, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "m.csv").write_text("email\na@example.be\n", encoding="utf-8")
    output = _user_error(_mailer(mailer_bin, db_url, tmp_path, *args))
    assert "mailer db upgrade" in output
    assert "empty" in output


FILE_ERRORS: dict[str, tuple[list[str], str]] = {
    "unknown file": (["subscribers", "import", "nothere.csv"], "cannot read the file"),
    "unbalanced quote": (["subscribers", "import", "quote.csv"], "quote.csv:3: a quoted field"),
    "binary file": (["subscribers", "import", "photo.csv"], "binary file"),
    "no email column": (
        ["subscribers", "import", "noemail.csv"],
        "missing required column 'email' (the header has 'Nom', 'Prénom')",
    ),
    "empty file": (["subscribers", "import", "empty.csv"], "the file is empty"),
    "unknown organisations file": (["organisations", "import", "nothere.csv"], "cannot read"),
    "organisations file without name": (["organisations", "import", "ok.csv"], "'name'"),
}


@pytest.mark.parametrize("case", list(FILE_ERRORS))
def test_bad_files_exit_2_before_the_database_is_opened(
    mailer_bin: str, tmp_path: Path, case: str
) -> None:
    """A file refused as a whole never reaches the database (so no backend matters here)."""
    (tmp_path / "ok.csv").write_text("email\na@example.be\n", encoding="utf-8")
    (tmp_path / "quote.csv").write_bytes(b'email;first_name\na@b.be;x\nc@d.be;"Jean\nd@e.be;y\n')
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "noemail.csv").write_text("Nom;Prénom\nDupont;Jean\n", encoding="utf-8")
    (tmp_path / "empty.csv").write_bytes(b"")
    never = tmp_path / "never.db"
    args, message = FILE_ERRORS[case]
    output = _user_error(_mailer(mailer_bin, f"sqlite:///{never}", tmp_path, *args))
    assert message in output
    assert output.startswith("error: ")
    assert not never.exists()


USER_ERRORS: dict[str, tuple[list[str], str]] = {
    "unknown --list": (["subscribers", "import", "ok.csv", "--list", "nowhere"], "'nowhere'"),
    "show an invalid address": (["subscribers", "show", "not-an-address"], "not a valid"),
    "show an unknown address": (["subscribers", "show", "x@example.be"], "nothing is stored"),
    "export an unknown federation": (
        ["subscribers", "export", "--federation", "nope"],
        "unknown federation 'nope'",
    ),
    "federation twice": (["federations", "add", "fed-a", "Again"], "already exists"),
    "bad list slug": (["lists", "create", "Ma Liste", "x"], "'ma-liste'"),
    "count an unknown list": (["segments", "count", "--list", "nowhere"], "unknown list"),
    "rejects in a missing folder": (
        ["subscribers", "import", "bad.csv", "--rejects", "missing/r.csv"],
        "missing/r.csv",
    ),
    "export to a missing folder": (["subscribers", "export", "--out", "missing/f.csv"], "missing"),
}


@pytest.mark.parametrize("case", list(USER_ERRORS))
def test_user_errors_exit_2_without_a_traceback(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path, case: str
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "ok.csv").write_text("email\na@example.be\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("email\nnot-an-address\nb@example.be\n", encoding="utf-8")
    args, message = USER_ERRORS[case]
    output = _user_error(_mailer(mailer_bin, db_url, tmp_path, *args))
    assert message in output
    assert _count(database, Subscriber) == 0


def test_dry_run_stores_nothing(
    mailer_bin: str, db_url: str, database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    (tmp_path / "clean.csv").write_text(CLEAN, encoding="utf-8")
    out = _ok(
        _mailer(mailer_bin, db_url, tmp_path, "subscribers", "import", "clean.csv", "--dry-run")
    )
    assert _summary(out)["inserted"] == 4
    assert "Nothing was stored" in out
    assert "--dry-run" in out
    assert _count(database, Subscriber) == 0
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Federation)) == 2
