"""The names of segment filters and breakdowns (no SQLAlchemy here: the CLI builds its flags
from them at start-up)."""

from __future__ import annotations

__all__ = ["BREAKDOWNS", "FILTER_KEYS"]

FILTER_KEYS = (
    "federation", "organisation", "sector", "region", "province", "arrondissement",
    "language", "role", "tag", "list",
)  # fmt: skip
BREAKDOWNS = FILTER_KEYS
