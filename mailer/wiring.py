"""The one place where things are built from the configuration and handed to the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.config import Config, load_config
from mailer.resources import templates_dir

if TYPE_CHECKING:
    import jinja2
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from mailer.campaigns.runner import SendKit
    from mailer.tokens import Signer

__all__ = ["Database", "Services", "build_services", "open_database"]


@dataclass(frozen=True, slots=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(config: Config, *, check_schema: bool = True) -> Database:
    """An engine and session factory for `config.database.url`, checked to be up to date."""
    # Imported here: commands that never touch the database do not load SQLAlchemy.
    from mailer.db.engine import make_engine, make_sessionmaker
    from mailer.db.migrate import require_head

    engine = make_engine(config.database.url)
    if check_schema:
        require_head(engine)
    return Database(engine, make_sessionmaker(engine))


@dataclass(slots=True)
class Services:
    """What the commands need, constructed once per process (the database only when used)."""

    config: Config
    templates: jinja2.Environment
    _database: Database | None = field(default=None, repr=False)

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = open_database(self.config)
        return self._database

    def signer(self) -> Signer:
        """The signer of personal links and bounce addresses (the key from the configuration)."""
        from mailer.tokens import Signer, load_secret_key

        return Signer(load_secret_key(self.config.security))

    def send_kit(self) -> SendKit:
        """The signer, DKIM and a transport factory for the configured relays."""
        from mailer.campaigns.messages import DkimSigner
        from mailer.campaigns.runner import SendKit
        from mailer.transport.smtp import SmtpTransport

        config = self.config
        dkim = None
        if config.dkim.domain:
            dkim = DkimSigner(
                config.dkim.domain, config.dkim.selector, config.dkim.private_key_file
            )
        relays = config.relays
        return SendKit(
            config=config,
            sessions=self.database.sessions,
            templates=self.templates,
            signer=self.signer(),
            transport=lambda: SmtpTransport(relays),
            dkim=dkim,
        )


def build_services(config_path: Path | None = None) -> Services:
    from mailer.render.templates import make_environment

    config = load_config(config_path)
    return Services(config=config, templates=make_environment(templates_dir()))
