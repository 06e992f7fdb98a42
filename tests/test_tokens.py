"""Signed tokens (personal links, VERP) and the secret key they are signed with."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from mailer.config import SecurityConfig
from mailer.errors import ConfigError, TokenError
from mailer.tokens import Signer, load_secret_key

KEY = b"k" * 32


def test_a_token_round_trips_and_is_bound_to_its_purpose() -> None:
    signer = Signer(KEY)
    token = signer.sign("unsubscribe", 12, 3, 4567)
    assert signer.verify("unsubscribe", token) == [12, 3, 4567]
    assert set(token) <= set("0123456789abcdefghijklmnopqrstuvwxyz.-")
    with pytest.raises(TokenError):
        signer.verify("preferences", token)


def test_upper_case_survives_a_mail_server_that_changes_it() -> None:
    signer = Signer(KEY)
    token = signer.sign("verp", 987654321)
    assert signer.verify("verp", token.upper()) == [987654321]


@pytest.mark.parametrize(
    "change",
    [
        lambda t: "1" + t,  # another field
        lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"),  # the MAC
        lambda t: t.replace(".", ""),
        lambda t: "",
        lambda t: "not a token at all",
        lambda t: "x" * 500,
    ],
)
def test_forged_or_altered_tokens_are_refused(change: object) -> None:
    signer = Signer(KEY)
    token = signer.sign("verp", 42)
    assert callable(change)
    with pytest.raises(TokenError):
        signer.verify("verp", change(token))


def test_another_key_refuses_the_token() -> None:
    token = Signer(KEY).sign("verp", 42)
    with pytest.raises(TokenError):
        Signer(b"z" * 32).verify("verp", token)


def test_expiry() -> None:
    signer = Signer(KEY)
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    token = signer.sign("confirm", 5, expires=now + dt.timedelta(days=2))
    assert signer.verify("confirm", token, now=now) == [5]
    with pytest.raises(TokenError, match="expired"):
        signer.verify("confirm", token, now=now + dt.timedelta(days=3))


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        Signer(b"short")


def test_the_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    config = SecurityConfig(secret_key_file=str(tmp_path / "var" / "secret.key"))
    first = load_secret_key(config, environ={})
    assert load_secret_key(config, environ={}) == first
    mode = stat.S_IMODE(os.stat(config.secret_key_file).st_mode)
    assert mode == 0o600


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = SecurityConfig(secret_key_file=str(tmp_path / "secret.key"))
    assert load_secret_key(config, environ={"MAILER_SECRET_KEY": "e" * 40}) == b"e" * 40
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ConfigError, match="MAILER_SECRET_KEY"):
        load_secret_key(config, environ={"MAILER_SECRET_KEY": "short"})


def test_a_truncated_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("abc\n", encoding="ascii")
    with pytest.raises(ConfigError, match=r"security\.secret_key_file"):
        load_secret_key(SecurityConfig(secret_key_file=str(path)), environ={})
