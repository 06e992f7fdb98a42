"""Language-specific typography applied to the editors' text at render time."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["typographer"]

_NBSP = "\u00a0"
# French puts a (non-breaking) space before : ; ? ! and inside « »; we make it non-breaking so
# that a colon never starts a line on a phone. A colon followed by // (a URL as text) is skipped.
_FR_BEFORE = re.compile(r"[ \u00a0\u202f]+([;?!»]|:(?!//))")
_FR_AFTER = re.compile(r"«[ \u00a0\u202f]+")


def _french(text: str) -> str:
    text = _FR_BEFORE.sub(lambda m: _NBSP + m.group(1), text)
    return _FR_AFTER.sub("«" + _NBSP, text)


def _keep(text: str) -> str:
    return text


def typographer(language: str) -> Callable[[str], str]:
    """The text filter for `language` (a BCP 47 tag)."""
    return _french if language.lower().split("-", 1)[0] == "fr" else _keep
