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
