"""Subscriber import through the service layer, on SQLite and PostgreSQL.

Files are written as staff have them (Excel's encodings, delimiters and column names), imported
with `import_subscribers`, and the stored rows are read back with plain SQLAlchemy selects.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, cast, delete, func, select, update

from mailer.db.models import (
    Federation,
    MailingList,
    Organisation,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from mailer.domain import ImportReport, RowProblem
from mailer.errors import CsvFileError, NotFound
from mailer.subscribers import directory
from mailer.subscribers.emails import email_hash
from mailer.subscribers.export import export_subscribers
from mailer.subscribers.importer import ImportOptions, import_subscribers, read_subscriber_file
from mailer.subscribers.organisations import import_organisations, read_organisation_file
from mailer.subscribers.privacy import forget_subscriber, show_subscriber, suppress
from mailer.wiring import Database

MOMENT = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)

ORGANISATIONS = (
    "Nom;Fédération;Secteur;Province;Arrondissement\n"
    "ASBL Les Tilleuls;fed-a;santé;Namur;Dinant\n"
    "Maison médicale du Centre;fed-b;social;Hainaut;Tournai-Mouscron\n"
    "Collectif sans fédération;;culture;;\n"
)


# ------------------------------------------------------------------ helpers


def _file(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def _setup(database: Database, tmp_path: Path) -> None:
    """Two federations, two lists, three organisations (one without federation)."""
    with database.sessions.begin() as session:
        directory.add_federation(session, "fed-a", "Fédération A")
        directory.add_federation(session, "fed-b", "Fédération B")
        directory.create_list(session, "news", "Newsletter", double_opt_in=False)
        directory.create_list(session, "board", "Conseil", double_opt_in=True)
    source = read_organisation_file(_file(tmp_path, "organisations.csv", ORGANISATIONS))
    with database.sessions.begin() as session:
        report = import_organisations(session, source)
    assert (report.inserted, report.rejected) == (3, 0)


def _import(
    database: Database, path: Path, **options: Any
) -> tuple[ImportReport, list[RowProblem]]:
    problems: list[RowProblem] = []
    report = import_subscribers(
        database.sessions,
        read_subscriber_file(path),
        ImportOptions(**options),
        on_problem=problems.append,
        now=MOMENT,
    )
    return report, problems


def _count(database: Database, model: Any) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _counts(database: Database) -> dict[str, int]:
    models = (
        Subscriber, SubscriberTag, Subscription, Federation, Organisation, MailingList,
        Suppression,
    )  # fmt: skip
    return {model.__tablename__: _count(database, model) for model in models}


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes stored as UTC
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _people(database: Database) -> dict[str, dict[str, Any]]:
    """Everything stored per subscriber, keyed by address, with names instead of ids."""
    with database.sessions() as session:
        federations = dict(session.execute(select(Federation.id, Federation.slug)).all())
        organisations = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        lists = dict(session.execute(select(MailingList.id, MailingList.slug)).all())
        tags: dict[int, set[str]] = {}
        for subscriber_id, tag in session.execute(
            select(SubscriberTag.subscriber_id, SubscriberTag.tag)
        ).all():
            tags.setdefault(subscriber_id, set()).add(tag)
        subscriptions: dict[int, dict[str, dict[str, Any]]] = {}
        for sub in session.scalars(select(Subscription)):
            subscriptions.setdefault(sub.subscriber_id, {})[lists[sub.list_id]] = {
                "status": str(sub.status),
                "consent_source": sub.consent_source,
                "consent_at": _utc(sub.consent_at),
            }
        people: dict[str, dict[str, Any]] = {}
        for person in session.scalars(select(Subscriber)):
            people[person.email] = {
                "first_name": person.first_name,
                "last_name": person.last_name,
                "language": person.language,
                "organisation": organisations.get(person.organisation_id or 0),
                "federation": federations.get(person.federation_id or 0),
                "sector": person.sector,
                "region": person.region,
                "province": person.province,
                "arrondissement": person.arrondissement,
                "role": person.role,
                "attributes": dict(person.attributes or {}),
                "status": str(person.status),
                "tags": tags.get(person.id, set()),
                "lists": subscriptions.get(person.id, {}),
            }
        return people


def _list_status(database: Database, email: str) -> dict[str, str]:
    return {slug: item["status"] for slug, item in _people(database)[email]["lists"].items()}


def _add_person(
    database: Database,
    email: str,
    *,
    status: SubscriberStatus = SubscriberStatus.ACTIVE,
    subscriptions: Sequence[tuple[str, SubscriptionStatus]] = (),
) -> None:
    with database.sessions.begin() as session:
        person = Subscriber(email=email, first_name="Anne", status=status, attributes={})
        session.add(person)
        session.flush()
        for slug, state in subscriptions:
            list_id = session.scalar(select(MailingList.id).where(MailingList.slug == slug))
            assert list_id is not None
            session.add(
                Subscription(
                    subscriber_id=person.id,
                    list_id=list_id,
                    status=state,
                    consent_source="web form",
                    consent_at=None,
                    unsubscribed_at=MOMENT if state == SubscriptionStatus.UNSUBSCRIBED else None,
                )
            )


# ------------------------------------------------------------------ files as staff have them


def test_utf8_with_bom_french_headers_and_crlf(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    text = (
        "\ufeffE-mail;Prénom;Nom;Langue;Organisation;Fonction;Listes\r\n"
        "Jean.Dupont@Example.be;Jean;Dupont;FR;ASBL Les Tilleuls;Directeur;news\r\n"
        'marie@example.be;Marie-Hélène;Lefèvre;nl;;Coordinatrice;"news; board"\r\n'
    )
    path = _file(tmp_path, "membres.csv", text)
    source = read_subscriber_file(path)
    assert source.encoding == "utf-8-sig"
    assert source.delimiter == ";"
    assert source.columns == (
        "email", "first_name", "last_name", "language", "organisation", "role", "lists",
    )  # fmt: skip
    assert source.raw_columns[1] == "Prénom"
    assert source.rows == 2

    report, problems = _import(database, path)
    assert problems == []
    assert (report.rows, report.inserted, report.rejected) == (2, 2, 0)
    people = _people(database)
    jean = people["jean.dupont@example.be"]
    assert (jean["first_name"], jean["last_name"], jean["language"]) == ("Jean", "Dupont", "fr")
    assert (jean["organisation"], jean["role"]) == ("ASBL Les Tilleuls", "Directeur")
    assert _list_status(database, "jean.dupont@example.be") == {"news": "confirmed"}
    marie = people["marie@example.be"]
    assert (marie["first_name"], marie["last_name"]) == ("Marie-Hélène", "Lefèvre")
    assert marie["organisation"] is None
    assert set(marie["lists"]) == {"news", "board"}


def test_utf8_without_bom_comma_separated(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "plain.csv",
        "email,first_name,last_name\nzoe@example.be,Zoé,Çelik\nnoel@example.be,Noël,Ødegård\n",
    )
    source = read_subscriber_file(path)
    assert (source.encoding, source.delimiter) == ("utf-8-sig", ",")
    report, _ = _import(database, path)
    assert report.inserted == 2
    people = _people(database)
    assert (people["zoe@example.be"]["first_name"], people["zoe@example.be"]["last_name"]) == (
        "Zoé",
        "Çelik",
    )
    assert people["noel@example.be"]["last_name"] == "Ødegård"


def test_windows_1252_from_excel(database: Database, tmp_path: Path) -> None:
    content = (
        b"Courriel;Pr\xe9nom;Nom;Cotisation\r\n"
        b"helene@example.be;H\xe9l\xe8ne;Dupr\xe9;50 \x80\r\n"
        b"francois@example.be;Fran\xe7ois;No\xebl;\r\n"
    )
    path = _file(tmp_path, "excel.csv", content)
    source = read_subscriber_file(path)
    assert (source.encoding, source.delimiter) == ("cp1252", ";")
    assert source.raw_columns == ("Courriel", "Prénom", "Nom", "Cotisation")
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 2
    people = _people(database)
    assert people["helene@example.be"]["first_name"] == "Hélène"
    assert people["helene@example.be"]["last_name"] == "Dupré"
    assert people["helene@example.be"]["attributes"] == {"cotisation": "50 €"}
    assert people["francois@example.be"]["first_name"] == "François"
    assert people["francois@example.be"]["attributes"] == {}


def test_utf16_with_bom_and_tabs(database: Database, tmp_path: Path) -> None:
    text = (
        "Adresse e-mail\tPrénom\tNom\tLangue\r\n"
        "anne@example.be\tAnne-Ségolène\tVan den Brœck\tNL\r\n"
        "luc@example.be\tLuc\tMüller\tDeutsch\r\n"
    )
    path = _file(tmp_path, "unicode.txt", text.encode("utf-16"))
    assert path.read_bytes().startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    source = read_subscriber_file(path)
    assert (source.encoding, source.delimiter) == ("utf-16", "\t")
    assert source.columns == ("email", "first_name", "last_name", "language")
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 2
    people = _people(database)
    assert people["anne@example.be"]["first_name"] == "Anne-Ségolène"
    assert people["anne@example.be"]["last_name"] == "Van den Brœck"
    assert people["anne@example.be"]["language"] == "nl"
    assert people["luc@example.be"]["language"] == "de"


def test_semicolon_file_with_commas_in_values(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "semi.csv",
        "email;first_name;role;tags\n"
        "a@example.be;Anne;Directrice, administratrice, trésorière;santé, social\n"
        "b@example.be;Bob;Président, fondateur;culture\n",
    )
    source = read_subscriber_file(path)
    assert source.delimiter == ";"
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 2
    anne = _people(database)["a@example.be"]
    assert anne["role"] == "Directrice, administratrice, trésorière"
    assert anne["tags"] == {"santé", "social"}


def test_comma_file_with_quoted_semicolons(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "comma.csv",
        "email,first_name,last_name,tags\n"
        'b@example.be,"Dupont; Jean","de la Tour; Marie","a;b"\n'
        'c@example.be,Carl,"Smith, Jr.",c\n',
    )
    source = read_subscriber_file(path)
    assert source.delimiter == ","
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 2
    people = _people(database)
    assert people["b@example.be"]["first_name"] == "Dupont; Jean"
    assert people["b@example.be"]["last_name"] == "de la Tour; Marie"
    assert people["b@example.be"]["tags"] == {"a", "b"}
    assert people["c@example.be"]["last_name"] == "Smith, Jr."


def test_crlf_and_trailing_empty_excel_columns(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "padded.csv",
        b"email;first_name\r\na@b.be;x;;;\r\n\r\nc@d.be;y\r\ne@f.be;z;  ;\r\n",
    )
    report, problems = _import(database, path)
    assert problems == []
    assert (report.rows, report.inserted, report.rejected) == (3, 3, 0)
    people = _people(database)
    assert {email: p["first_name"] for email, p in people.items()} == {
        "a@b.be": "x", "c@d.be": "y", "e@f.be": "z",
    }  # fmt: skip
    assert all(p["attributes"] == {} for p in people.values())


def test_header_padded_with_empty_columns(database: Database, tmp_path: Path) -> None:
    path = _file(tmp_path, "padded.csv", b"email;first_name;;;\r\na@b.be;x;;;\r\nc@d.be;y;;;\r\n")
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 2
    assert _people(database)["a@b.be"]["attributes"] == {}


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("FR", "fr"),
        ("fr-BE", "fr-be"),
        ("english", "en"),
        ("Deutsch", "de"),
        ("Nederlands", "nl"),
        ("Néerlandais", "nl"),
        ("Français", "fr"),
        ("FRANÇAIS", "fr"),
    ],
)
def test_language_names_as_staff_type_them(
    database: Database, tmp_path: Path, typed: str, code: str
) -> None:
    """rows.py lists 'nederlands' and 'neerlandais' among the language names, and staff write
    'Français' with its cedilla: all of them must be understood."""
    path = _file(tmp_path, "lang.csv", f"email;Langue\na@example.be;{typed}\n")
    _, problems = _import(database, path)
    assert problems == []
    assert _people(database)["a@example.be"]["language"] == code


def test_addresses_are_normalised(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "emails.csv",
        "email;first_name\n"
        "  Jean.Dupont@Example.BE  ;trimmed\n"
        "mailto:Marie@Example.be;mailto\n"
        "MAILTO:<Paul@example.be>;angle\n"
        "anne@exämple.be;idn\n"
        "Bob@BÜCHER.de;idn upper\n",
    )
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 5
    assert set(_people(database)) == {
        "jean.dupont@example.be",
        "marie@example.be",
        "paul@example.be",
        "anne@xn--exmple-cua.be",
        "bob@xn--bcher-kva.de",
    }


def test_invalid_addresses_are_rejected_with_the_email_column(
    database: Database, tmp_path: Path
) -> None:
    bad = [
        "not-an-address",
        "jean@",
        "@example.be",
        "a@b@example.be",
        "jean dupont@example.be",
        "jean@example",
        "jean@-example.be",
        "",
    ]
    lines = "".join(f"{address};Bad\n" for address in bad)
    path = _file(tmp_path, "bad.csv", f"email;first_name\ngood@example.be;Good\n{lines}")
    report, problems = _import(database, path)
    assert (report.rows, report.inserted, report.rejected) == (1 + len(bad), 1, len(bad))
    assert [p.line for p in problems] == list(range(3, 3 + len(bad)))
    assert {p.column for p in problems} == {"email"}
    assert all(p.rejected for p in problems)
    assert "'not-an-address'" in problems[0].reason
    assert problems[-1].reason == "no e-mail address"
    assert problems[0].fields == ("not-an-address", "Bad")
    assert set(_people(database)) == {"good@example.be"}


def test_duplicates_in_the_file_are_merged(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "dups.csv",
        "email;first_name;last_name;language;tags;lists\n"
        "a@example.be;Anne;;fr;Tag1;news\n"
        "b@example.be;Bob;Martin;;;\n"
        "A@Example.be;Annie;Dupont;;tag2;board\n"
        "a@example.be;;;;tag3;\n",
    )
    report, problems = _import(database, path)
    assert problems == []
    assert (report.rows, report.inserted, report.merged_duplicates) == (4, 2, 2)
    people = _people(database)
    assert len(people) == 2
    anne = people["a@example.be"]
    assert (anne["first_name"], anne["last_name"], anne["language"]) == ("Annie", "Dupont", "fr")
    assert anne["tags"] == {"tag1", "tag2", "tag3"}
    assert set(anne["lists"]) == {"news", "board"}


def test_existing_subscribers_are_updated_not_duplicated(
    database: Database, tmp_path: Path
) -> None:
    first = _file(
        tmp_path,
        "first.csv",
        "email;first_name;last_name;tags\na@example.be;Anne;Martin;x\nb@example.be;Bob;Lee;\n",
    )
    report, _ = _import(database, first)
    assert report.inserted == 2
    second = _file(
        tmp_path,
        "second.csv",
        "email;first_name;last_name;tags\nA@example.be;Annie;;x\nb@example.be;Bob;Lee;\n",
    )
    report, problems = _import(database, second)
    assert problems == []
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    assert _count(database, Subscriber) == 2
    anne = _people(database)["a@example.be"]
    assert (anne["first_name"], anne["last_name"]) == ("Annie", "Martin")  # empty keeps the value
    assert anne["tags"] == {"x"}
    assert _count(database, SubscriberTag) == 1


def test_reimporting_the_same_file_changes_nothing(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "members.csv",
        "email;first_name;organisation;province;tags;lists;membre depuis\n"
        "a@example.be;Anne;ASBL Les Tilleuls;;x;news;2019\n"
        'b@example.be;Bob;;Liège;y;"news;board";\n'
        "c@example.be;Carl;Maison médicale du Centre;;;;2001\n",
    )
    first, _ = _import(database, path)
    assert first.inserted == 3
    before = _people(database)
    report, problems = _import(database, path)
    assert problems == []
    assert (report.rows, report.unchanged) == (3, 3)
    assert (report.inserted, report.updated, report.rejected, report.not_resubscribed) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert _people(database) == before


@pytest.mark.parametrize("how", ["second import", "duplicate in the file"])
def test_a_new_province_replaces_the_whole_location(
    database: Database, tmp_path: Path, how: str
) -> None:
    """A location is one place: a later row giving only a province must not keep the earlier
    arrondissement (Dinant is in Namur, not in Luxembourg)."""
    first = "a@example.be;Namur;Dinant\n"
    later = "a@example.be;Luxembourg;\n"
    header = "email;province;arrondissement\n"
    if how == "second import":
        _import(database, _file(tmp_path, "first.csv", header + first))
        report, problems = _import(database, _file(tmp_path, "later.csv", header + later))
        assert report.updated == 1
    else:
        report, problems = _import(database, _file(tmp_path, "both.csv", header + first + later))
        assert report.merged_duplicates == 1
    assert problems == []
    person = _people(database)["a@example.be"]
    assert (person["region"], person["province"], person["arrondissement"]) == (
        "BE-WAL", "BE-WLX", "",
    )  # fmt: skip


@pytest.mark.parametrize("how", ["second import", "duplicate in the file"])
def test_a_later_federation_never_contradicts_the_organisation(
    database: Database, tmp_path: Path, how: str
) -> None:
    """One row with ASBL Les Tilleuls (fed-a) and fed-b is rejected; the same two facts in two
    rows must not store a subscriber of fed-b in an organisation of fed-a."""
    _setup(database, tmp_path)
    first = "a@example.be;ASBL Les Tilleuls;\n"
    later = "a@example.be;;fed-b\n"
    header = "email;organisation;federation\n"
    if how == "second import":
        _import(database, _file(tmp_path, "first.csv", header + first))
        _import(database, _file(tmp_path, "later.csv", header + later))
    else:
        _import(database, _file(tmp_path, "both.csv", header + first + later))
    person = _people(database)["a@example.be"]
    if person["organisation"] == "ASBL Les Tilleuls":
        assert person["federation"] == "fed-a"


# ------------------------------------------------------------------ organisations and references


def test_subscriber_takes_the_organisations_federation_and_location(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "org.csv",
        "email;organisation;federation;province;sector\n"
        "a@example.be;ASBL Les Tilleuls;;;\n"
        "b@example.be;asbl les tilleuls;fed-a;Liège;\n"
        "c@example.be;ASBL Les Tilleuls;Fédération A;;éducation\n"
        "d@example.be;Collectif sans fédération;fed-b;;\n",
    )
    report, problems = _import(database, path)
    assert problems == []
    assert report.inserted == 4
    people = _people(database)
    a = people["a@example.be"]
    assert (a["organisation"], a["federation"], a["sector"]) == (
        "ASBL Les Tilleuls", "fed-a", "santé",
    )  # fmt: skip
    assert (a["region"], a["province"], a["arrondissement"]) == ("BE-WAL", "BE-WNA", "91")
    b = people["b@example.be"]  # the row's location wins over the organisation's
    assert (b["federation"], b["region"], b["province"], b["arrondissement"]) == (
        "fed-a", "BE-WAL", "BE-WLG", "",
    )  # fmt: skip
    c = people["c@example.be"]
    assert (c["federation"], c["sector"]) == ("fed-a", "éducation")
    d = people["d@example.be"]  # an organisation without federation keeps the row's
    assert (d["organisation"], d["federation"], d["province"]) == (
        "Collectif sans fédération", "fed-b", "",
    )  # fmt: skip


def test_organisation_of_another_federation_is_rejected(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "mismatch.csv",
        "email;organisation;federation\n"
        "ok@example.be;ASBL Les Tilleuls;fed-a\n"
        "bad@example.be;ASBL Les Tilleuls;fed-b\n",
    )
    report, problems = _import(database, path)
    assert (report.inserted, report.rejected) == (1, 1)
    [problem] = problems
    assert (problem.line, problem.column) == (3, "federation")
    assert "fed-a" in problem.reason
    assert "fed-b" in problem.reason
    assert set(_people(database)) == {"ok@example.be"}


@pytest.mark.parametrize(
    ("header", "value", "column"),
    [
        ("Fédération", "fed-z", "federation"),
        ("Organisation", "ASBL Inconnue", "organisation"),
        ("Listes", "nowhere", "lists"),
        ("Province", "Atlantide", "province"),
        ("Arrondissement", "Gotham", "arrondissement"),
        ("Langue", "fr_BE9", "language"),
    ],
)
def test_unknown_references_are_rejected_with_the_column(
    database: Database, tmp_path: Path, header: str, value: str, column: str
) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "unknown.csv",
        f"E-mail;{header}\nbad@example.be;{value}\nok@example.be;\n",
    )
    before = _counts(database)
    report, problems = _import(database, path)
    assert (report.inserted, report.rejected) == (1, 1)
    [problem] = problems
    assert (problem.line, problem.column, problem.rejected) == (2, column, True)
    assert value in problem.reason
    assert problem.fields == ("bad@example.be", value)
    after = _counts(database)
    assert after == {**before, "subscriber": before["subscriber"] + 1}


def test_create_missing_creates_federation_organisation_and_list(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "new.csv",
        "email;federation;organisation;lists\n"
        "a@example.be;Fédération Nouvelle;ASBL Neuve;Liste Neuve\n"
        "b@example.be;federation-nouvelle;asbl neuve;liste-neuve\n"
        "c@example.be;;;news\n",
    )
    report, problems = _import(database, path, create_missing=True)
    assert problems == []
    assert report.inserted == 3
    assert report.created == [
        "federation 'federation-nouvelle' (Fédération Nouvelle)",
        "organisation 'ASBL Neuve'",
        "list 'liste-neuve'",
    ]
    with database.sessions() as session:
        federation = session.scalar(
            select(Federation).where(Federation.slug == "federation-nouvelle")
        )
        assert federation is not None
        assert federation.name == "Fédération Nouvelle"
        organisation = session.scalar(select(Organisation).where(Organisation.name == "ASBL Neuve"))
        assert organisation is not None
        assert organisation.federation_id == federation.id
        assert session.scalar(
            select(MailingList.name).where(MailingList.slug == "liste-neuve")
        ) == ("Liste Neuve")
    people = _people(database)
    for email in ("a@example.be", "b@example.be"):
        assert people[email]["federation"] == "federation-nouvelle"
        assert people[email]["organisation"] == "ASBL Neuve"
        assert _list_status(database, email) == {"liste-neuve": "confirmed"}


def test_create_missing_never_invents_a_place(database: Database, tmp_path: Path) -> None:
    path = _file(tmp_path, "place.csv", "email;province\na@example.be;Atlantide\n")
    report, problems = _import(database, path, create_missing=True)
    assert (report.inserted, report.rejected) == (0, 1)
    assert problems[0].column == "province"


def test_create_missing_with_a_long_federation_name_on_two_rows(
    database: Database, tmp_path: Path
) -> None:
    """The created slug is cut to 63 characters, but the next row looks the full slug up."""
    name = "Fédération des associations de santé mentale et d'aide aux personnes de la région"
    path = _file(
        tmp_path,
        "long.csv",
        f"email;federation\na@example.be;{name}\nb@example.be;{name}\n",
    )
    report, problems = _import(database, path, create_missing=True)
    assert problems == []
    assert report.inserted == 2
    assert len(report.created) == 1
    assert _count(database, Federation) == 1
    people = _people(database)
    assert people["a@example.be"]["federation"] == people["b@example.be"]["federation"]


def test_create_missing_with_a_long_list_name_on_two_rows(
    database: Database, tmp_path: Path
) -> None:
    name = "Liste " * 15
    path = _file(tmp_path, "long.csv", f"email;lists\na@example.be;{name}\nb@example.be;{name}\n")
    report, problems = _import(database, path, create_missing=True)
    assert problems == []
    assert report.inserted == 2
    assert _count(database, MailingList) == 1


def test_create_missing_with_an_organisation_name_too_long_rejects_the_row(
    database: Database, tmp_path: Path
) -> None:
    """organisation.name is VARCHAR(200): a longer name must be a rejected row, not a crash."""
    name = "ASBL " + "x" * 250
    path = _file(tmp_path, "long.csv", f"email;organisation\na@example.be;{name}\nok@x.be;\n")
    report, problems = _import(database, path, create_missing=True)
    assert (report.inserted, report.rejected) == (1, 1)
    assert problems[0].column == "organisation"
    with database.sessions() as session:
        assert all(len(n) <= 200 for n in session.scalars(select(Organisation.name)))


def test_create_missing_refuses_a_name_without_letters_or_digits(
    database: Database, tmp_path: Path
) -> None:
    """'???' slugifies to '': it must not create a federation with an empty slug."""
    path = _file(tmp_path, "empty.csv", "email;federation\na@example.be;???\nb@example.be;!!!\n")
    report, problems = _import(database, path, create_missing=True)
    assert report.rejected == 2
    assert {p.column for p in problems} == {"federation"}
    with database.sessions() as session:
        assert list(session.scalars(select(Federation.slug))) == []


# ------------------------------------------------------------------ consent


def test_rows_imported_into_a_list_are_confirmed_with_the_file_as_consent(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "AG 2026.csv",
        "email;lists\na@example.be;news\nb@example.be;\n",
    )
    report, problems = _import(database, path, list_slug="board")
    assert problems == []
    assert report.inserted == 2
    people = _people(database)
    assert set(people["a@example.be"]["lists"]) == {"news", "board"}
    assert set(people["b@example.be"]["lists"]) == {"board"}
    for person in people.values():
        for item in person["lists"].values():
            assert item["status"] == "confirmed"
            assert item["consent_source"] == "import:AG 2026.csv"
            assert item["consent_at"] == MOMENT
    with database.sessions() as session:
        assert set(session.scalars(select(Subscription.consent_ip))) == {""}
        assert set(session.scalars(select(Subscription.unsubscribed_at))) == {None}


def test_imported_dates_are_stored_like_the_orms(database: Database, tmp_path: Path) -> None:
    """Bulk inserts convert dates with the dialect's own type, not the driver's adapters (on
    SQLite those wrote another text format, and Python 3.12 deprecates them)."""
    _setup(database, tmp_path)
    _add_person(database, "orm@example.be", subscriptions=[("news", SubscriptionStatus.PENDING)])
    with database.sessions.begin() as session:
        session.execute(update(Subscription).values(consent_at=MOMENT))
    path = _file(tmp_path, "dates.csv", "email;lists\nbulk@example.be;news\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _import(database, path)
    with database.sessions() as session:
        stored = (
            session.execute(
                select(cast(Subscription.consent_at, String())).order_by(Subscription.subscriber_id)
            )
            .scalars()
            .all()
        )
    assert len(stored) == 2
    assert stored[0] == stored[1]


def test_unknown_list_option_stores_nothing(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(tmp_path, "x.csv", "email\na@example.be\n")
    with pytest.raises(NotFound, match="nowhere"):
        _import(database, path, list_slug="nowhere")
    assert _count(database, Subscriber) == 0


def test_a_pending_subscription_becomes_confirmed(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    _add_person(database, "p@example.be", subscriptions=[("board", SubscriptionStatus.PENDING)])
    path = _file(tmp_path, "confirm.csv", "email;lists\np@example.be;board\n")
    report, problems = _import(database, path)
    assert problems == []
    assert (report.inserted, report.updated) == (0, 1)
    board = _people(database)["p@example.be"]["lists"]["board"]
    assert board == {
        "status": "confirmed", "consent_source": "import:confirm.csv", "consent_at": MOMENT,
    }  # fmt: skip
    assert _count(database, Subscription) == 1


# ------------------------------------------------------------------ never re-subscribe


def test_an_unsubscribed_subscription_stays_unsubscribed(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    _add_person(database, "u@example.be", subscriptions=[("news", SubscriptionStatus.UNSUBSCRIBED)])
    path = _file(tmp_path, "again.csv", "email;first_name;lists\nU@example.be;Anne;news\n")
    report, problems = _import(database, path)
    assert _list_status(database, "u@example.be") == {"news": "unsubscribed"}
    assert (report.not_resubscribed, report.rejected, report.inserted) == (1, 0, 0)
    [problem] = problems
    assert problem.rejected is False
    assert (problem.line, problem.column) == (2, "email")
    with database.sessions() as session:
        sub = session.scalar(select(Subscription))
        assert sub is not None
        assert sub.consent_source == "web form"
        assert _utc(sub.unsubscribed_at) == MOMENT


def test_an_unsubscribed_subscription_stays_with_the_list_option(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    _add_person(database, "u@example.be", subscriptions=[("news", SubscriptionStatus.UNSUBSCRIBED)])
    path = _file(tmp_path, "again.csv", "email\nu@example.be\nnew@example.be\n")
    report, problems = _import(database, path, list_slug="news")
    assert (report.inserted, report.not_resubscribed) == (1, 1)
    assert [p.rejected for p in problems] == [False]
    assert _list_status(database, "u@example.be") == {"news": "unsubscribed"}
    assert _list_status(database, "new@example.be") == {"news": "confirmed"}


@pytest.mark.parametrize("status", [SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BLOCKLISTED])
def test_an_inactive_subscriber_is_not_resubscribed(
    database: Database, tmp_path: Path, status: SubscriberStatus
) -> None:
    _setup(database, tmp_path)
    _add_person(database, "gone@example.be", status=status)
    path = _file(
        tmp_path, "again.csv", 'email;first_name;lists\ngone@example.be;Anne;"news;board"\n'
    )
    report, problems = _import(database, path)
    assert (report.not_resubscribed, report.rejected) == (1, 0)
    assert [(p.line, p.rejected) for p in problems] == [(2, False)]
    assert str(status) in problems[0].reason
    assert _count(database, Subscription) == 0
    assert _people(database)["gone@example.be"]["status"] == str(status)


def test_a_suppressed_address_is_not_inserted(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    with database.sessions.begin() as session:
        suppress(session, "bounced@example.be", "hard_bounce")
    path = _file(
        tmp_path,
        "bounced.csv",
        "email;first_name;lists\nBounced@Example.be;Bea;news\nfine@example.be;Fin;news\n",
    )
    report, problems = _import(database, path)
    assert (report.inserted, report.not_resubscribed, report.rejected) == (1, 1, 0)
    assert [(p.line, p.rejected) for p in problems] == [(2, False)]
    assert "suppressed" in problems[0].reason
    assert set(_people(database)) == {"fine@example.be"}


def test_a_not_resubscribed_problem_keeps_the_original_row(
    database: Database, tmp_path: Path
) -> None:
    """The rejects file writes `fields` under the file's own header: they must be the row."""
    _setup(database, tmp_path)
    with database.sessions.begin() as session:
        suppress(session, "bounced@example.be", "hard_bounce")
    path = _file(tmp_path, "bounced.csv", "Nom;E-mail;Listes\nDubois;bounced@example.be;news\n")
    _, problems = _import(database, path)
    [problem] = problems
    assert problem.fields == ("Dubois", "bounced@example.be", "news")


def test_a_forgotten_address_does_not_come_back(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path, "members.csv", "email;first_name;tags;lists\nf@example.be;Fanny;x;news\n"
    )
    report, _ = _import(database, path)
    assert report.inserted == 1
    with database.sessions.begin() as session:
        assert forget_subscriber(session, "F@example.be") is True
    report, problems = _import(database, path)
    assert (report.inserted, report.not_resubscribed) == (0, 1)
    assert [p.rejected for p in problems] == [False]
    assert _count(database, Subscriber) == 0
    assert _count(database, SubscriberTag) == 0
    assert _count(database, Subscription) == 0


# ------------------------------------------------------------------ --strict and --dry-run

STRICT_FILE = (
    "email;first_name;federation;province;tags;lists\n"
    "a@example.be;Anne;Fédération Nouvelle;;x;news\n"
    "b@example.be;Bob;fed-a;Namur;y;board\n"
    "c@example.be;Carl;;;z;news\n"
    "not-an-address;Bad;;;;\n"
    "d@example.be;Dan;;;;news\n"
    "e@example.be;Eve;;Atlantide;;\n"
)


def test_strict_stores_nothing_when_a_row_is_rejected(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(tmp_path, "strict.csv", STRICT_FILE)
    before = _counts(database)
    report, problems = _import(database, path, strict=True, create_missing=True, batch_size=2)
    assert report.stored is False
    assert report.rejected == 2
    assert [(p.line, p.column) for p in problems] == [(5, "email"), (7, "province")]
    assert _counts(database) == before
    with database.sessions() as session:
        assert (
            session.scalar(select(Federation.id).where(Federation.slug == "federation-nouvelle"))
            is None
        )


def test_strict_stores_everything_when_every_row_is_valid(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    good = "".join(line + "\n" for line in STRICT_FILE.splitlines() if "Bad" not in line)
    good = good.replace("Atlantide", "Liège")
    report, problems = _import(
        database, _file(tmp_path, "ok.csv", good), strict=True, create_missing=True, batch_size=2
    )
    assert problems == []
    assert report.stored is True
    assert (report.inserted, report.rejected) == (5, 0)
    assert _count(database, Subscriber) == 5


def test_dry_run_stores_nothing_and_reports_like_a_real_run(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    _add_person(database, "u@example.be", subscriptions=[("news", SubscriptionStatus.UNSUBSCRIBED)])
    text = STRICT_FILE + "u@example.be;Ursula;;;;news\nA@example.be;;;;w;\nc@example.be;Carl;;;z;\n"
    path = _file(tmp_path, "dry.csv", text)
    before_counts, before_people = _counts(database), _people(database)
    dry, dry_problems = _import(database, path, dry_run=True, create_missing=True, batch_size=3)
    assert dry.stored is False
    assert _counts(database) == before_counts
    assert _people(database) == before_people
    real, real_problems = _import(database, path, create_missing=True, batch_size=3)
    assert real.stored is True
    assert real.inserted == 4
    assert real.rejected == 2
    assert real.not_resubscribed == 1
    assert (dry.rows, dry.inserted, dry.updated, dry.unchanged, dry.rejected) == (
        real.rows, real.inserted, real.updated, real.unchanged, real.rejected,
    )  # fmt: skip
    assert (dry.not_resubscribed, dry.merged_duplicates, dry.created) == (
        real.not_resubscribed, real.merged_duplicates, real.created,
    )  # fmt: skip
    assert dry_problems == real_problems


# ------------------------------------------------------------------ batches


def test_batches_store_the_same_as_one_batch(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    path = _file(
        tmp_path,
        "ten.csv",
        "email;first_name;last_name;organisation;province;tags;lists\n"
        "p1@example.be;Anne;;ASBL Les Tilleuls;;t1;news\n"
        "p2@example.be;Bob;B;;Liège;;\n"
        "p3@example.be;Carl;C;;;t3;board\n"
        "p4@example.be;Dan;D;;;;\n"
        "P1@example.be;;Martin;;;t2;board\n"
        "p5@example.be;Eve;E;;;;news\n"
        "p6@example.be;Fay;F;Maison médicale du Centre;;;\n"
        "p7@example.be;Guy;G;;;;\n"
        "p8@example.be;Hal;H;;;t8;\n"
        "p9@example.be;Ida;I;;;;news\n",
    )
    one, one_problems = _import(database, path)
    single = _people(database)
    assert one_problems == []
    assert (one.rows, one.inserted, one.merged_duplicates) == (10, 9, 1)
    assert len(single) == 9
    p1 = single["p1@example.be"]
    assert (p1["first_name"], p1["last_name"], p1["province"]) == ("Anne", "Martin", "BE-WNA")
    assert p1["tags"] == {"t1", "t2"}
    assert set(p1["lists"]) == {"news", "board"}

    with database.sessions.begin() as session:
        session.execute(delete(SubscriberTag))
        session.execute(delete(Subscription))
        session.execute(delete(Subscriber))
    batched, batched_problems = _import(database, path, batch_size=3)
    assert batched_problems == []
    assert (batched.rows, batched.inserted, batched.rejected) == (10, 9, 0)
    assert _count(database, Subscriber) == 9
    assert _people(database) == single


# ------------------------------------------------------------------ file-level errors

BAD_FILES: dict[str, tuple[bytes, int | None, str]] = {
    "empty": (b"", None, "the file is empty"),
    "whitespace": (b"  \r\n\t\n   \n", None, "the file is empty"),
    "bom only": (codecs.BOM_UTF8 + b"\r\n", None, "the file is empty"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", None, "binary file"),
    "nul bytes": (b"email;first_name\na@b.be;x\x00y\n", None, "binary file"),
    "no email column": (
        "Nom;Prénom;Téléphone\nDupont;Jean;02 123 45 67\n".encode(),
        1,
        "missing required column 'email' (the header has 'Nom', 'Prénom', 'Téléphone')",
    ),
    "duplicate column": (b"email;Nom;last_name\na@b.be;x;y\n", 1, "'last_name' appears twice"),
    "duplicate email alias": (b"E-mail;Courriel\na@b.be;c@d.be\n", 1, "'email' appears twice"),
    "unbalanced quote": (
        b'email;first_name\na@b.be;x\nc@d.be;"Jean\nd@e.be;y\nf@g.be;z\n',
        3,
        "never closed",
    ),
    "stray quote": (b'email;first_name\na@b.be;x\r\nc@d.be;"Jean" D\r\n', 3, "malformed CSV"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_file_level_errors(database: Database, tmp_path: Path, case: str) -> None:
    content, line, message = BAD_FILES[case]
    path = _file(tmp_path, "bad.csv", content)
    with pytest.raises(CsvFileError) as caught:
        read_subscriber_file(path)
    error = caught.value
    assert error.line == line
    assert message in error.message
    assert error.path == path
    assert str(error).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert error.hint
    assert _count(database, Subscriber) == 0


def test_a_10_mb_field_is_a_file_error_with_its_line(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as stream:
        stream.write(b"email;first_name\r\na@b.be;x\r\nc@d.be;y\r\ne@f.be;")
        stream.write(b"x" * 10_000_000)
        stream.write(b"\r\ng@h.be;z\r\n")
    with pytest.raises(CsvFileError) as caught:
        read_subscriber_file(path)
    assert caught.value.line == 4
    assert "larger than" in caught.value.message
    assert _count(database, Subscriber) == 0


def test_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="cannot read the file"):
        read_subscriber_file(tmp_path / "nothere.csv")


def test_a_utf16_file_without_content_is_a_file_error(tmp_path: Path) -> None:
    path = _file(tmp_path, "empty16.txt", "  \r\n".encode("utf-16"))
    with pytest.raises(CsvFileError):
        read_subscriber_file(path)


def test_wrong_column_count_is_a_rejected_row(database: Database, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "ragged.csv",
        "email;first_name;last_name\n"
        "a@b.be;Anne;A\n"
        "c@d.be;Carl\n"
        "e@f.be;Eve;E;extra\n"
        "g@h.be;Guy;G;;\n"
        '"i@j.be";"multi\nline";I\n'
        "k@l.be\n",
    )
    report, problems = _import(database, path)
    assert (report.rows, report.inserted, report.rejected) == (6, 3, 3)
    assert [(p.line, p.column) for p in problems] == [(3, "(row)"), (4, "(row)"), (8, "(row)")]
    assert "expected 3 columns" in problems[0].reason
    assert problems[1].fields == ("e@f.be", "Eve", "E", "extra")
    assert set(_people(database)) == {"a@b.be", "g@h.be", "i@j.be"}
    assert _people(database)["i@j.be"]["first_name"] == "multi line"


# ------------------------------------------------------------------ export


ROUND_TRIP = (
    "E-mail;Prénom;Nom;Langue;Organisation;Fédération;Secteur;Région;Province;Arrondissement;"
    "Fonction;Etiquettes;Listes;Membre depuis;Cotisation\n"
    "a@example.be;Anne;Martin;fr;ASBL Les Tilleuls;;;;;;Directrice;ca, bureau;news;2019;50 €\n"
    'b@example.be;Bob;"Lee; Jr";nl;;fed-b;culture;;Liège;;;;"news;board";;\n'
    "c@example.be;Carl;;de;Maison médicale du Centre;;;;;;;;;2001;\n"
    "d@example.be;Dan;;;;;;Bruxelles;;;;x;board;;10 €\n"
    "e@example.be;Eve;;fr-be;;fed-a;;;;Bruxelles-Capitale;trésorière;;;;\n"
    "f@example.be;;;;Collectif sans fédération;;;;Namur;Dinant;;;;;\n"
)


def test_export_then_reimport_changes_nothing(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    report, problems = _import(database, _file(tmp_path, "members.csv", ROUND_TRIP))
    assert problems == []
    assert report.inserted == 6
    _add_person(database, "p@example.be", subscriptions=[("board", SubscriptionStatus.PENDING)])
    before = _people(database)

    out = io.StringIO()
    with database.sessions() as session:
        written = export_subscribers(session, {}, out)
    assert written == 7
    exported = _file(tmp_path, "export.csv", out.getvalue())
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:13] == [
        "email", "first_name", "last_name", "language", "organisation", "federation", "sector",
        "region", "province", "arrondissement", "role", "tags", "lists",
    ]  # fmt: skip
    assert header[13:] == ["cotisation", "membre_depuis"]

    report, problems = _import(database, exported)
    assert problems == []
    assert (report.rows, report.inserted, report.updated, report.rejected) == (7, 0, 0, 0)
    assert report.unchanged == 7
    assert _people(database) == before
    anne = before["a@example.be"]
    assert anne["attributes"] == {"membre_depuis": "2019", "cotisation": "50 €"}
    assert anne["tags"] == {"ca", "bureau"}
    assert before["d@example.be"]["region"] == "BE-BRU"
    assert before["e@example.be"]["arrondissement"] == "21"


def test_export_with_a_filter_writes_only_the_selection(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    _import(database, _file(tmp_path, "members.csv", ROUND_TRIP))
    _add_person(database, "gone@example.be", status=SubscriberStatus.UNSUBSCRIBED)

    def exported(filter_: dict[str, list[str]], delimiter: str = ",") -> list[str]:
        out = io.StringIO()
        with database.sessions() as session:
            count = export_subscribers(session, filter_, out, delimiter=delimiter)
        lines = out.getvalue().splitlines()[1:]
        assert len(lines) == count
        return sorted(line.split(delimiter)[0] for line in lines)

    assert exported({"federation": ["fed-a"]}) == ["a@example.be", "e@example.be"]
    assert exported({"list": ["board"]}, ";") == ["b@example.be", "d@example.be"]
    assert exported({"tag": ["x"]}) == ["d@example.be"]
    assert exported({"province": ["BE-WLG"]}) == ["b@example.be"]
    assert "gone@example.be" not in exported({})
    assert len(exported({})) == 6


# ------------------------------------------------------------------ privacy


def test_show_subscriber_returns_everything_stored(database: Database, tmp_path: Path) -> None:
    _setup(database, tmp_path)
    _import(database, _file(tmp_path, "members.csv", ROUND_TRIP))
    with database.sessions() as session:
        data = show_subscriber(session, " A@Example.be ")
    json.dumps(data)  # JSON-ready
    assert data["email"] == "a@example.be"
    assert "suppression" not in data
    person = data["subscriber"]
    assert {k: person[k] for k in ("first_name", "last_name", "language", "role")} == {
        "first_name": "Anne", "last_name": "Martin", "language": "fr", "role": "Directrice",
    }  # fmt: skip
    assert (person["organisation"], person["federation"], person["sector"]) == (
        "ASBL Les Tilleuls", "fed-a", "santé",
    )  # fmt: skip
    assert (person["region"], person["province"], person["arrondissement"]) == (
        "BE-WAL", "BE-WNA", "91",
    )  # fmt: skip
    assert person["tags"] == ["bureau", "ca"]
    assert person["attributes"] == {"membre_depuis": "2019", "cotisation": "50 €"}
    assert person["status"] == "active"
    assert person["created_at"] is not None
    [subscription] = data["subscriptions"]
    assert subscription == {
        "list": "news",
        "status": "confirmed",
        "consent_at": MOMENT.isoformat(),
        "consent_source": "import:members.csv",
        "consent_ip": None,
        "unsubscribed_at": None,
    }


def test_show_subscriber_of_an_unknown_address(database: Database) -> None:
    with database.sessions() as session, pytest.raises(NotFound, match="nothing is stored"):
        show_subscriber(session, "nobody@example.be")
    with database.sessions() as session, pytest.raises(NotFound, match="not a valid"):
        show_subscriber(session, "nobody")


def test_forget_subscriber_keeps_only_a_hashed_suppression(
    database: Database, tmp_path: Path
) -> None:
    _setup(database, tmp_path)
    _import(database, _file(tmp_path, "members.csv", ROUND_TRIP))
    before = _people(database)
    with database.sessions() as session:
        anne_id = session.scalar(select(Subscriber.id).where(Subscriber.email == "a@example.be"))
    with database.sessions.begin() as session:
        assert forget_subscriber(session, "a@example.be") is True
    with database.sessions() as session:
        assert session.scalar(select(Subscriber).where(Subscriber.id == anne_id)) is None
        assert (
            session.scalar(select(func.count()).where(SubscriberTag.subscriber_id == anne_id)) == 0
        )
        assert (
            session.scalar(select(func.count()).where(Subscription.subscriber_id == anne_id)) == 0
        )
        [suppression] = session.scalars(select(Suppression)).all()
        assert suppression.email is None
        assert suppression.email_hash == email_hash("a@example.be")
        assert suppression.reason == "forgotten"
    after = _people(database)
    del before["a@example.be"]
    assert after == before

    with database.sessions() as session:
        data = show_subscriber(session, "a@example.be")
    assert set(data) == {"email", "suppression"}
    assert data["suppression"]["reason"] == "forgotten"
    assert data["suppression"]["since"] is not None


def test_forget_erases_the_address_of_an_earlier_suppression(database: Database) -> None:
    with database.sessions.begin() as session:
        suppress(session, "bounced@example.be", "hard_bounce", "550 no such user")
    with database.sessions.begin() as session:
        assert forget_subscriber(session, "bounced@example.be") is False
    with database.sessions() as session:
        [suppression] = session.scalars(select(Suppression)).all()
        assert suppression.email is None
        assert suppression.email_hash == email_hash("bounced@example.be")
        data = show_subscriber(session, "bounced@example.be")
    assert set(data) == {"email", "suppression"}
    assert "bounced@example.be" not in json.dumps(data["suppression"])


def test_no_deprecated_sqlalchemy_api(database: Database, tmp_path: Path) -> None:
    """pyproject.toml allows SQLAlchemy 2.1, where `Result.tuples()` warns: import, export and
    show must run without a warning. (A `filterwarnings("error")` mark would lose against the
    module's ignore, so the filter is set here.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _setup(database, tmp_path)
        _import(database, _file(tmp_path, "members.csv", ROUND_TRIP))
        with database.sessions() as session:
            export_subscribers(session, {}, io.StringIO())
            show_subscriber(session, "a@example.be")


def test_organisation_import_checks_the_federations_it_creates(
    database: Database, tmp_path: Path
) -> None:
    """The same name checks as the subscriber import: a federation with no letter or digit,
    or a name too long for its column, is a rejected row, never a database error."""
    path = _file(
        tmp_path,
        "orgs.csv",
        "name;federation\nGood;New federation\nBad;???\nLong;" + "x" * 201 + "\nGood;\n",
    )
    problems: list[RowProblem] = []
    with database.sessions.begin() as session:
        report = import_organisations(
            session, read_organisation_file(path), create_missing=True, on_problem=problems.append
        )
    assert (report.inserted, report.unchanged, report.rejected) == (1, 1, 2)
    assert [(p.line, p.column) for p in problems] == [(3, "federation"), (4, "federation")]
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Federation)) == 1
