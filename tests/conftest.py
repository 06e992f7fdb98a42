"""Shared fixtures. Under CI=true, tests that need Chromium must run: a skip becomes a failure."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.wiring import Services, build_services

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ISSUE = ROOT / "examples" / "issues" / "2020-01-actunipso.md"
SHARED = ROOT.parent / "shared"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false, except under CI=true where it fails."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def services() -> Services:
    return build_services(None)


@pytest.fixture(scope="session")
def example_issue() -> Path:
    return EXAMPLE_ISSUE


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    need(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        need(False, "playwright is not installed (pip install -e '.[test]')")
        raise
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def mailer_bin() -> str:
    found = shutil.which("mailer", path=str(Path(sys.executable).parent))
    assert found, "the mailer console script is not installed in this environment"
    return found


# ---------------------------------------------------------------- databases

PG_URL = os.environ.get("MAILER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            PG_URL.replace("+psycopg", ""), connect_timeout=3, autocommit=True
        ) as connection:
            connection.execute("select 1")
    except Exception:  # any failure means "not reachable from here"
        return False
    return True


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh schema on the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailer.db'}"
        return
    need(
        request.getfixturevalue("postgres_available"),
        f"PostgreSQL is not reachable at {PG_URL} (set MAILER_TEST_PG_URL)",
    )
    import uuid

    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def database(db_url: str) -> Iterator[object]:
    """A migrated database (`mailer db upgrade`), as the commands get it from the wiring."""
    from mailer.config import Config, DatabaseConfig
    from mailer.db.engine import make_engine
    from mailer.db.migrate import upgrade
    from mailer.wiring import open_database

    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    opened = open_database(Config(database=DatabaseConfig(url=db_url)))
    yield opened
    opened.engine.dispose()
