"""Alembic migrations on SQLite and PostgreSQL: reach head, match the models, go back down."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from mailer.db.engine import make_engine
from mailer.db.migrate import (
    DatabaseNotReady,
    alembic_config,
    current_revision,
    head_revision,
    require_head,
    upgrade,
)
from mailer.db.models import Base
from mailer.errors import MailerError

TABLES = {
    "federation", "organisation", "subscriber", "subscriber_tag", "mailing_list",
    "subscription", "segment", "suppression", "campaign", "delivery", "bounce",
}  # fmt: skip


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the empty database of `db_url`."""
    made = make_engine(db_url)
    yield made
    made.dispose()


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _schema(engine: Engine) -> dict[str, object]:
    """Tables, columns, indexes and constraints as reflected: to compare two states."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted(i["name"] or "" for i in inspector.get_indexes(table)),
                sorted(u["name"] or "" for u in inspector.get_unique_constraints(table)),
                sorted(f["name"] or "" for f in inspector.get_foreign_keys(table)),
            )
            for table in sorted(inspector.get_table_names())
        }


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_there_is_one_head() -> None:
    assert head_revision() == "0002"


def test_upgrade_reaches_head_on_an_empty_database(engine: Engine) -> None:
    assert current_revision(engine) is None
    before, after = upgrade(engine)
    assert before is None
    assert after == head_revision()
    assert current_revision(engine) == head_revision()
    assert _tables(engine) == {*TABLES, "alembic_version"}


def test_autogenerate_finds_nothing_left_to_change(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    schema = _schema(engine)
    before, after = upgrade(engine)
    assert before == after == head_revision()
    assert _schema(engine) == schema


def test_require_head_refuses_an_empty_database(engine: Engine) -> None:
    with pytest.raises(DatabaseNotReady) as caught:
        require_head(engine)
    assert isinstance(caught.value, MailerError)
    message = str(caught.value)
    assert "mailer db upgrade" in message
    assert "empty" in message
    assert str(head_revision()) in message


def test_require_head_accepts_an_upgraded_database(engine: Engine) -> None:
    upgrade(engine)
    require_head(engine)  # no exception


def test_downgrade_to_base_drops_every_table(engine: Engine) -> None:
    upgrade(engine)
    _downgrade(engine, "base")
    assert current_revision(engine) is None
    # Alembic keeps its (now empty) version table; every table of the mailer is gone.
    assert _tables(engine) <= {"alembic_version"}
    with pytest.raises(DatabaseNotReady):
        require_head(engine)
    # and back up again: the round trip leaves a usable database
    assert upgrade(engine) == (None, head_revision())
    assert _tables(engine) == {*TABLES, "alembic_version"}


def test_the_naming_convention_names_every_constraint(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        inspector = inspect(connection)
        unique = {u["name"] for u in inspector.get_unique_constraints("subscriber")}
        assert unique == {"uq_subscriber_email"}
        for table in TABLES:
            pk = inspector.get_pk_constraint(table)
            assert pk["name"] == f"pk_{table}", table
            for uq in inspector.get_unique_constraints(table):
                assert uq["name"] == f"uq_{table}_{uq['column_names'][0]}", (table, uq)
            for fk in inspector.get_foreign_keys(table):
                expected = f"fk_{table}_{fk['constrained_columns'][0]}_{fk['referred_table']}"
                assert fk["name"] == expected, (table, fk)
            for ix in inspector.get_indexes(table):
                if ix.get("duplicates_constraint"):  # PostgreSQL's index behind a UNIQUE
                    continue
                assert str(ix["name"]).startswith(f"ix_{table}_"), (table, ix)
            for ck in inspector.get_check_constraints(table):
                assert str(ck["name"]).startswith(f"ck_{table}_"), (table, ck)
        checks = {c["name"] for c in inspector.get_check_constraints("subscriber")}
        assert "ck_subscriber_subscriber_status" in checks


# ------------------------------------------------------------------ the console script


def _mailer(
    mailer_bin: str, db_url: str, cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILER_CONFIG"}
    env["MAILER_DATABASE_URL"] = db_url
    return subprocess.run(
        [mailer_bin, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip


def test_db_status_and_upgrade_commands(mailer_bin: str, db_url: str, tmp_path: Path) -> None:
    head = str(head_revision())

    status = _mailer(mailer_bin, db_url, tmp_path, "db", "status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert "revision none" in status.stdout
    assert "mailer db upgrade" in status.stdout

    first = _mailer(mailer_bin, db_url, tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"upgraded from empty to {head}" in first.stdout

    again = _mailer(mailer_bin, db_url, tmp_path, "db", "upgrade")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"is up to date (revision {head})" in again.stdout

    status = _mailer(mailer_bin, db_url, tmp_path, "db", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"revision {head}" in status.stdout
    assert "up to date" in status.stdout

    for result in (first, again, status):
        assert "Traceback" not in result.stdout + result.stderr


def test_commands_refuse_a_database_that_was_not_upgraded(
    mailer_bin: str, db_url: str, tmp_path: Path
) -> None:
    result = _mailer(mailer_bin, db_url, tmp_path, "segments", "list")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "mailer db upgrade" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
