"""The words the templates add around the editors' text, and dates, in the issue's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.issues.model import Article, Event

__all__ = ["Labels", "labels_for"]


@dataclass(frozen=True, slots=True)
class Labels:
    language: str
    toc: str
    view_online: str
    preferences: str
    unsubscribe: str
    editors: str
    publisher: str
    notes: str
    sent_to: str
    more_info: str
    map: str
    when: str
    where: str
    practical: str
    links: str
    contact: str
    number: str
    months: tuple[str, ...]
    weekdays: tuple[str, ...]
    hour_style: str  # "h" → 9h30 / 10h, "colon" → 9:30

    @property
    def colon(self) -> str:
        """The separator after a label: French puts a non-breaking space before the colon."""
        return self.colon_end + " "

    @property
    def colon_end(self) -> str:
        """The colon alone, for a label followed by a line break or markup."""
        return "\u00a0:" if self.language == "fr" else ":"

    def month_year(self, day: dt.date) -> str:
        return f"{self.months[day.month - 1]} {day.year}"

    def long_date(self, day: dt.date) -> str:
        weekday = self.weekdays[day.weekday()]
        if self.language == "en":
            return f"{weekday} {day.day} {self.months[day.month - 1]} {day.year}"
        suffix = "er" if self.language == "fr" and day.day == 1 else ""
        dot = "." if self.language == "de" else ""
        return f"{weekday} {day.day}{suffix}{dot} {self.months[day.month - 1]} {day.year}"

    def short_date(self, day: dt.date) -> str:
        return f"{day.day:02d}/{day.month:02d}"

    def day_month(self, day: dt.date) -> str:
        return f"{day.day} {self.months[day.month - 1][:4].rstrip('.')}"

    def article_label(self, article: Article) -> str:
        """What stands above an article's title: its rubric, or an agenda item's date."""
        if article.rubric:
            return article.rubric
        return self.short_date(article.event.date) if article.event else ""

    def event_when(self, event: Event) -> str:
        """'vendredi 21 février 2020, 9h–16h30', with the last day of a multi-day event."""
        when = self.long_date(event.date)
        if event.start:
            when += ", " + self.time(event.start)
            if event.end:
                when += "–" + self.time(event.end)
        if event.end_date:
            when += " → " + self.long_date(event.end_date)
        return when

    def time(self, moment: dt.time) -> str:
        if self.hour_style == "h":
            return f"{moment.hour}h{moment.minute:02d}" if moment.minute else f"{moment.hour}h"
        return f"{moment.hour}:{moment.minute:02d}"


_FR = Labels(
    language="fr",
    toc="Au sommaire",
    view_online="Voir cette lettre dans votre navigateur",
    preferences="Gérer mes préférences",
    unsubscribe="Se désabonner",
    editors="Rédacteurs",
    publisher="Éditeur responsable",
    notes="Notes",
    sent_to="Cet e-mail a été envoyé à {email}.",
    more_info="Plus d'infos",
    map="Voir sur la carte",
    when="Quand",
    where="Où",
    practical="Infos pratiques",
    links="Liens",
    contact="Contact",
    number="n°",
    months=(
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    hour_style="h",
)
_NL = Labels(
    language="nl",
    toc="In dit nummer",
    view_online="Deze nieuwsbrief in uw browser bekijken",
    preferences="Mijn voorkeuren beheren",
    unsubscribe="Uitschrijven",
    editors="Redactie",
    publisher="Verantwoordelijke uitgever",
    notes="Noten",
    sent_to="Deze e-mail werd verzonden naar {email}.",
    more_info="Meer info",
    map="Op de kaart bekijken",
    when="Wanneer",
    where="Waar",
    practical="Praktische info",
    links="Links",
    contact="Contact",
    number="nr.",
    months=(
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    weekdays=("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    hour_style="colon",
)
_DE = Labels(
    language="de",
    toc="In dieser Ausgabe",
    view_online="Diesen Newsletter im Browser ansehen",
    preferences="Einstellungen verwalten",
    unsubscribe="Abmelden",
    editors="Redaktion",
    publisher="Verantwortlicher Herausgeber",
    notes="Anmerkungen",
    sent_to="Diese E-Mail wurde an {email} gesendet.",
    more_info="Mehr erfahren",
    map="Auf der Karte ansehen",
    when="Wann",
    where="Wo",
    practical="Praktische Infos",
    links="Links",
    contact="Kontakt",
    number="Nr.",
    months=(
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    weekdays=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    hour_style="colon",
)
_EN = Labels(
    language="en",
    toc="In this issue",
    view_online="View this newsletter in your browser",
    preferences="Manage preferences",
    unsubscribe="Unsubscribe",
    editors="Editors",
    publisher="Publisher",
    notes="Notes",
    sent_to="This e-mail was sent to {email}.",
    more_info="More information",
    map="See on the map",
    when="When",
    where="Where",
    practical="Practical information",
    links="Links",
    contact="Contact",
    number="no.",
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    hour_style="colon",
)
_BY_LANGUAGE = {"fr": _FR, "nl": _NL, "de": _DE, "en": _EN}


def labels_for(language: str) -> Labels:
    """Labels for a BCP 47 tag (`fr-BE` uses `fr`); English for languages without a translation."""
    return _BY_LANGUAGE.get(language.split("-", 1)[0].lower(), _EN)
