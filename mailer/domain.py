"""Plain data shared between layers: what a recipient is, what a compiled issue is."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PersonalLinks", "Recipient"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a message is for, as the renderer needs it (never an ORM row)."""

    email: str
    first_name: str = ""
    last_name: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(x for x in (self.first_name, self.last_name) if x)


@dataclass(frozen=True, slots=True)
class PersonalLinks:
    """The personal links of one message (their tokens are made by the caller)."""

    view_online_url: str
    preferences_url: str
    unsubscribe_url: str
