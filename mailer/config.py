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

__all__ = [
    "BouncesConfig",
    "BrandConfig",
    "Config",
    "DatabaseConfig",
    "DkimConfig",
    "RelayConfig",
    "SecurityConfig",
    "SenderConfig",
    "SendingConfig",
    "WebConfig",
    "load_config",
]

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
class RelayConfig:
    """An SMTP relay the campaigns are handed to (`[[relays]]`, one table per relay)."""

    name: str = "local"
    host: str = "127.0.0.1"
    port: int = 1025
    security: str = "none"  # none | starttls | tls
    username: str = ""
    password_env: str = ""  # the environment variable that holds the password
    connections: int = 4  # one message at a time per connection
    per_second: float = 0.0  # 0: no limit
    per_hour: int = 0  # 0: no limit
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class SendingConfig:
    """How a campaign is sent: batches, retries, leases and when to stop trying."""

    batch_size: int = 100  # deliveries claimed at a time by a worker
    lease_seconds: int = 300  # a claimed delivery not settled by then is claimed again
    max_attempts: int = 5  # temporary failures (4xx) before a delivery is `failed`
    retry_after: float = 60.0  # first wait after a 4xx, doubled each time, with jitter
    retry_max: float = 3600.0
    pause_after_connection_failures: int = 10  # in a row: the campaign pauses
    pause_after_rejections: int = 20  # 5xx at MAIL FROM or DATA in a row: the campaign pauses
    test_max_recipients: int = 20
    bounce_domain: str = ""  # VERP Return-Path domain; "" uses the sender address's domain
    unsubscribe_mailbox: str = "unsubscribe"  # local part for mailto: unsubscribes; "" for none


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """The mailbox `mailer bounces fetch` reads (`[bounces.imap]`).

    `MAILER_IMAP_HOST` and `MAILER_IMAP_USER` override host and username; the password is only
    ever read from the environment variable `password_env` names."""

    host: str = ""
    port: int = 0  # 0: 993 with tls, 143 otherwise
    security: str = "tls"  # tls | starttls | none (none only to a loopback address)
    username: str = ""
    password_env: str = "MAILER_IMAP_PASSWORD"  # noqa: S105 (a variable's name, not a secret)
    folder: str = "INBOX"  # where the bounces arrive
    processed_folder: str = "Processed"  # bounces recorded (or already recorded, or delays)
    unparseable_folder: str = "Unparseable"  # no failed recipient or complaint found in it
    unattributed_folder: str = "Unattributed"  # bounces that match none of our deliveries
    timeout: float = 60.0  # seconds without an answer from the server


@dataclass(frozen=True, slots=True)
class BouncesConfig:
    """What a bounce does to an address (the policy), and where unmatched bounces are kept."""

    soft_limit: int = 3  # soft bounces from distinct campaigns that suppress an address
    soft_days: int = 30  # ... within this many days
    quarantine_dir: str = "var/quarantine"  # bounce messages no delivery could be matched to
    imap: ImapConfig = field(default_factory=ImapConfig)


@dataclass(frozen=True, slots=True)
class DkimConfig:
    """Optional DKIM signing: all three set, or none."""

    domain: str = ""
    selector: str = ""
    private_key_file: str = ""


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Where the key that signs personal links and bounce addresses is kept.

    `MAILER_SECRET_KEY` overrides the file; without either, a key is created in the file."""

    secret_key_file: str = "var/secret.key"  # noqa: S105 (a path, not a secret)


def _default_relays() -> tuple[RelayConfig, ...]:
    return (RelayConfig(),)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    brand: BrandConfig = field(default_factory=BrandConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    web: WebConfig = field(default_factory=WebConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    relays: tuple[RelayConfig, ...] = field(default_factory=_default_relays)
    sending: SendingConfig = field(default_factory=SendingConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
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
    "relays.security": (re.compile(r"^(none|starttls|tls)$"), "none, starttls or tls"),
    "relays.password_env": (re.compile(r"^[A-Z_][A-Z0-9_]*$"), "an environment variable name"),
    "bounces.imap.security": (re.compile(r"^(none|starttls|tls)$"), "none, starttls or tls"),
    "bounces.imap.password_env": (
        re.compile(r"^[A-Z_][A-Z0-9_]*$"),
        "an environment variable name",
    ),
    "bounces.imap.host": (re.compile(r"^[A-Za-z0-9.:\[\]-]+$"), "a host name or IP address"),
    "sending.bounce_domain": (re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"), "a domain name"),
    "sending.unsubscribe_mailbox": (
        re.compile(r"^[A-Za-z0-9._-]+$"),
        "a local part like unsubscribe",
    ),
    "dkim.domain": (re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"), "a domain name"),
    "dkim.selector": (re.compile(r"^[A-Za-z0-9._-]+$"), "a DKIM selector"),
    "database.url": (
        re.compile(r"^(sqlite|postgresql|postgres)(\+\w+)?://"),
        "a sqlite:/// or postgresql:// URL",
    ),
}


def load_config(
    path: Path | None = None, *, environ: typing.Mapping[str, str] | None = None
) -> Config:
    """Read `path` (or `$MAILER_CONFIG`, or nothing) and return a validated `Config`.

    `MAILER_DATABASE_URL` overrides `database.url` (it may hold a password);
    `MAILER_IMAP_HOST` and `MAILER_IMAP_USER` override `bounces.imap.host` and `.username`.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("MAILER_CONFIG"):
        path = Path(env["MAILER_CONFIG"])
    config = _load_file(path) if path is not None else Config()
    if env.get("MAILER_DATABASE_URL"):
        url = _check_scalar("database.url", str, env["MAILER_DATABASE_URL"], "MAILER_DATABASE_URL")
        config = dataclasses.replace(config, database=DatabaseConfig(url=url))
    imap = config.bounces.imap
    for variable, key in (("MAILER_IMAP_HOST", "host"), ("MAILER_IMAP_USER", "username")):
        if env.get(variable):
            value = _check_scalar(f"bounces.imap.{key}", str, env[variable], variable)
            imap = dataclasses.replace(imap, **{key: value})
    if imap is not config.bounces.imap:
        config = dataclasses.replace(config, bounces=dataclasses.replace(config.bounces, imap=imap))
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
    _check_whole(config, source)
    return dataclasses.replace(config, source=source)


def _check_whole(config: Config, source: str) -> None:
    """Rules that involve more than one key."""
    names: set[str] = set()
    for index, relay in enumerate(config.relays):
        key = f"relays[{index}]"
        if relay.name in names:
            raise ConfigError(f"{key}.name", f"two relays are named {relay.name!r}", source=source)
        names.add(relay.name)
        if not 1 <= relay.port <= 65535:
            raise ConfigError(
                f"{key}.port", f"expected a port 1-65535, got {relay.port}", source=source
            )
        if relay.connections < 1:
            raise ConfigError(f"{key}.connections", "at least 1", source=source)
        if relay.timeout <= 0:
            raise ConfigError(f"{key}.timeout", "must be more than 0 seconds", source=source)
        if relay.password_env and not relay.username:
            raise ConfigError(f"{key}.username", "needed with password_env", source=source)
    sending = config.sending
    for name in ("batch_size", "lease_seconds", "max_attempts", "test_max_recipients"):
        if getattr(sending, name) < 1:
            raise ConfigError(f"sending.{name}", "at least 1", source=source)
    for name in ("soft_limit", "soft_days"):
        if getattr(config.bounces, name) < 1:
            raise ConfigError(f"bounces.{name}", "at least 1", source=source)
    if not config.bounces.quarantine_dir:
        raise ConfigError("bounces.quarantine_dir", "a folder is needed", source=source)
    _check_imap(config.bounces.imap, source)
    dkim = (config.dkim.domain, config.dkim.selector, config.dkim.private_key_file)
    if any(dkim) and not all(dkim):
        raise ConfigError(
            "dkim", "set domain, selector and private_key_file together (or none)", source=source
        )


def _check_imap(imap: ImapConfig, source: str) -> None:
    key = "bounces.imap"
    if imap.port > 65535:
        raise ConfigError(f"{key}.port", f"expected a port 1-65535, got {imap.port}", source=source)
    if imap.timeout <= 0:
        raise ConfigError(f"{key}.timeout", "must be more than 0 seconds", source=source)
    names = ("folder", "processed_folder", "unparseable_folder", "unattributed_folder")
    for name in names:
        if not getattr(imap, name).strip():
            raise ConfigError(f"{key}.{name}", "a folder name is needed", source=source)
    for name in names[1:]:
        if getattr(imap, name) == imap.folder:
            raise ConfigError(
                f"{key}.{name}", "must differ from the folder the bounces arrive in", source=source
            )


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
        item = _table_list_item(hint)
        if item is not None:
            if not isinstance(value, list) or not value:
                raise ConfigError(key, f"expected one or more [[{key}]] tables", source=source)
            built = []
            for index, entry in enumerate(value):
                if not isinstance(entry, dict):
                    raise ConfigError(
                        f"{key}[{index}]", f"expected a [[{key}]] table", source=source
                    )
                built.append(_build(item, entry, f"{key}[{index}].", source))
            values[name] = tuple(built)
            continue
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(key, f"expected a table [{key}]", source=source)
            values[name] = _build(typing.cast(type[Any], hint), value, key + ".", source)
            continue
        values[name] = _check_scalar(key, hint, value, source)
    return cls(**values)


def _table_list_item(hint: Any) -> type[Any] | None:
    """`tuple[RelayConfig, ...]` → RelayConfig: a TOML array of tables."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0]):
            return typing.cast(type[Any], args[0])
    return None


def _check_scalar(key: str, hint: Any, value: Any, source: str) -> Any:
    expected = hint if isinstance(hint, type) else None
    if isinstance(hint, types.UnionType):
        expected = None
    rule_key = re.sub(r"\[\d+\]", "", key)  # relays[1].port → relays.port
    if expected is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(key, f"expected an integer, got {value!r}", source=source)
    if expected in (int, float):
        if expected is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(key, f"expected a number, got {value!r}", source=source)
            value = float(value)
        if value < 0:
            raise ConfigError(key, f"must not be negative, got {value!r}", source=source)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}", source=source)
        if "\n" in value or "\r" in value:
            raise ConfigError(key, "must be a single line", source=source)
        rule = _VALIDATORS.get(rule_key)
        if value and rule and not rule[0].match(value):
            shown = "" if key in _SECRET_BEARING else f", got {value!r}"
            raise ConfigError(key, f"expected {rule[1]}{shown}", source=source)
        if key == "web.base_url" and value.endswith("/"):
            raise ConfigError(key, "must not end with '/'", source=source)
    return value
