"""Schema migrations (Alembic), run from code: `mailer db upgrade`, and the head check."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from mailer.errors import MailerError
from mailer.resources import migrations_dir

__all__ = ["DatabaseNotReady", "alembic_config", "current_revision", "head_revision", "upgrade"]


class DatabaseNotReady(MailerError):
    """The database schema is older than this version of the mailer."""


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; return the revisions before and after."""
    before = current_revision(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine)


def require_head(engine: Engine) -> None:
    """Refuse to work on a database that `mailer db upgrade` has not brought up to date."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise DatabaseNotReady(
            f"the database is {state}, this mailer needs {head}: run `mailer db upgrade`"
        )
