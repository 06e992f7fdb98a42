"""Files shipped with the project (templates, the example issue), found the same way whether
running from a source checkout or from an installed wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_issue", "examples_dir", "migrations_dir", "templates_dir"]


def _find(relative: str, packed: str) -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / relative, package / packed):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{relative} is missing from this installation")


def templates_dir() -> Path:
    return _find("templates", "_templates")


def examples_dir() -> Path:
    return _find("examples", "_examples")


def example_issue() -> Path:
    return examples_dir() / "issues" / "2020-01-actunipso.md"


def migrations_dir() -> Path:
    return _find("migrations", "_migrations")
