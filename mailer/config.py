"""Typed configuration: a TOML file (optional) read into frozen dataclasses, validated once.

Every key has an embedded default, so `mailer` runs with no configuration file at all.
Errors name the file and the dotted key (`brand.primary_colour`), never a stack trace.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailer.errors import ConfigError

__all__ = ["BrandConfig", "Config", "DatabaseConfig", "SenderConfig", "WebConfig", "load_config"]

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")


@dataclass(frozen=True, slots=True)
class BrandConfig:
    """How the newsletter looks and who publishes it (the templates never hard-code it)."""

    name: str = "Our federation"
    website: str = "https://www.example.org"
    logo_url: str = ""
    logo_width: int = 180
    primary_colour: str = "#14527a"
    accent_colour: str = "#c8102e"
    text_colour: str = "#222222"
    background_colour: str = "#eef1f4"
    postal_address: str = ""
    contact_email: str = ""
    contact_phone: str = ""


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """Who the newsletter comes from."""

    from_name: str = "Our federation"
    from_address: str = "newsletter@example.org"
    reply_to: str = ""


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The public address that personal links (view online, preferences, …) point to."""

    base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Where subscribers, campaigns and deliveries are stored."""

    url: str = "sqlite:///var/mailer.db"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    brand: BrandConfig = field(default_factory=BrandConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    web: WebConfig = field(default_factory=WebConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    source: str = "embedded defaults"


_SECRET_BEARING = frozenset({"database.url"})  # may embed a password: never echoed
_VALIDATORS: dict[str, tuple[re.Pattern[str], str]] = {
    "brand.website": (_URL, "an absolute http(s) URL"),
    "brand.primary_colour": (_COLOUR, "a colour like #14527a"),
    "brand.accent_colour": (_COLOUR, "a colour like #c8102e"),
    "brand.text_colour": (_COLOUR, "a colour like #222222"),
    "brand.background_colour": (_COLOUR, "a colour like #eef1f4"),
    "brand.contact_email": (_EMAIL, "an e-mail address"),
    "brand.logo_url": (re.compile(r"^https://[^\s<>\"]+$"), "an absolute https URL"),
    "sender.from_address": (_EMAIL, "an e-mail address"),
    "sender.reply_to": (_EMAIL, "an e-mail address"),
    "web.base_url": (_URL, "an absolute http(s) URL without a trailing slash"),
    "database.url": (
        re.compile(r"^(sqlite|postgresql|postgres)(\+\w+)?://"),
        "a sqlite:/// or postgresql:// URL",
    ),
}


def load_config(
    path: Path | None = None, *, environ: typing.Mapping[str, str] | None = None
) -> Config:
    """Read `path` (or `$MAILER_CONFIG`, or nothing) and return a validated `Config`.

    `MAILER_DATABASE_URL` overrides `database.url` (it may hold a password).
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("MAILER_CONFIG"):
        path = Path(env["MAILER_CONFIG"])
    config = _load_file(path) if path is not None else Config()
    if env.get("MAILER_DATABASE_URL"):
        url = _check_scalar("database.url", str, env["MAILER_DATABASE_URL"], "MAILER_DATABASE_URL")
        config = dataclasses.replace(config, database=DatabaseConfig(url=url))
    return config


def _load_file(path: Path) -> Config:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read: {exc.strerror}", source=source) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("(file)", "not UTF-8 text", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(syntax)", str(exc), source=source) from None
    config: Config = _build(Config, data, "", source)
    return dataclasses.replace(config, source=source)


def _build(cls: type[Any], table: dict[str, Any], prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    for key in table:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = (
                f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(names)}"
            )
            raise ConfigError(prefix + key, f"unknown key{hint}", source=source)
    values: dict[str, Any] = {}
    for name in names:
        if name not in table:
            continue
        key = prefix + name
        hint = hints[name]
        value = table[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(key, f"expected a table [{key}]", source=source)
            values[name] = _build(typing.cast(type[Any], hint), value, key + ".", source)
            continue
        values[name] = _check_scalar(key, hint, value, source)
    return cls(**values)


def _check_scalar(key: str, hint: Any, value: Any, source: str) -> Any:
    expected = hint if isinstance(hint, type) else None
    if isinstance(hint, types.UnionType):
        expected = None
    if expected is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(key, f"expected an integer, got {value!r}", source=source)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}", source=source)
        if "\n" in value or "\r" in value:
            raise ConfigError(key, "must be a single line", source=source)
        rule = _VALIDATORS.get(key)
        if value and rule and not rule[0].match(value):
            shown = "" if key in _SECRET_BEARING else f", got {value!r}"
            raise ConfigError(key, f"expected {rule[1]}{shown}", source=source)
        if key == "web.base_url" and value.endswith("/"):
            raise ConfigError(key, "must not end with '/'", source=source)
    return value
