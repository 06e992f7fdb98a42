"""Configuration: embedded defaults, a full example file, and errors that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mailer.config import Config, RelayConfig, load_config
from mailer.errors import ConfigError
from tests.conftest import ROOT


def test_no_file_gives_embedded_defaults() -> None:
    config = load_config(None, environ={})
    assert config == Config()
    assert config.web.base_url.startswith("http")


def test_example_file_documents_and_sets_every_key() -> None:
    example = ROOT / "config.example.toml"
    config = load_config(example, environ={})
    text = example.read_text(encoding="utf-8")
    for section in (
        "brand",
        "sender",
        "web",
        "database",
        "sending",
        "bounces",
        "dkim",
        "security",
    ):
        table = getattr(Config(), section)
        for name in table.__dataclass_fields__:
            if dataclasses.is_dataclass(getattr(table, name)):  # a sub-table: [bounces.imap]
                assert f"\n[{section}.{name}]\n" in text, f"no [{section}.{name}] in the example"
                for inner in getattr(table, name).__dataclass_fields__:
                    assert f"\n{inner} = " in text, f"undocumented: {section}.{name}.{inner}"
                continue
            assert f"\n{name} = " in text, f"config.example.toml does not document {section}.{name}"
    for name in RelayConfig.__dataclass_fields__:
        assert f"\n{name} = " in text, f"config.example.toml does not document relays.{name}"
    assert config.brand.name != Config().brand.name
    assert config.relays[0].security == "starttls"
    assert config.sending.bounce_domain == "bounces.unipso.be"
    assert config.bounces.imap.host == "imap.unipso.be"


def test_environment_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[brand]\nname = "UNIPSO"\n', encoding="utf-8")
    assert load_config(None, environ={"MAILER_CONFIG": str(path)}).brand.name == "UNIPSO"


@pytest.mark.parametrize(
    ("content", "key", "fragment"),
    [
        ('[brand]\nnmae = "x"\n', "brand.nmae", "did you mean 'name'"),
        ('[brnad]\nname = "x"\n', "brnad", "did you mean 'brand'"),
        ('[brand]\nprimary_colour = "blue"\n', "brand.primary_colour", "a colour like"),
        ('[brand]\nlogo_width = "wide"\n', "brand.logo_width", "expected an integer"),
        ('[brand]\nlogo_url = "http://insecure.example/logo.png"\n', "brand.logo_url", "https"),
        ('[sender]\nfrom_address = "not-an-address"\n', "sender.from_address", "e-mail"),
        ('[sender]\nfrom_name = "a\\nBcc: x@evil.example"\n', "sender.from_name", "single line"),
        ('[web]\nbase_url = "https://news.example.org/"\n', "web.base_url", "must not end"),
        ("brand = 3\n", "brand", "expected a table"),
        ("[bounces]\nsoft_limit = 0\n", "bounces.soft_limit", "at least 1"),
        ('[bounces]\nquarantine_dir = ""\n', "bounces.quarantine_dir", "a folder"),
        ("[brand\n", "(syntax)", "line 1"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, content: str, key: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.key == key
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", environ={})
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[brand]\nname = "F\xe9d\xe9ration"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, environ={})


def test_several_relays_each_with_its_own_pool(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[relays]]\nname = "a"\nport = 25\nconnections = 2\n'
        '[[relays]]\nname = "b"\nhost = "10.0.0.2"\nper_second = 2.5\n',
        encoding="utf-8",
    )
    config = load_config(path, environ={})
    assert [(r.name, r.port, r.connections) for r in config.relays] == [
        ("a", 25, 2),
        ("b", 1025, 4),
    ]
    assert config.relays[1].per_second == 2.5


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[relays]]\nsecurity = "ssl"\n', "relays[0].security"),
        ("[[relays]]\nport = 70000\n", "relays[0].port"),
        ("[[relays]]\nconnections = 0\n", "relays[0].connections"),
        ('[[relays]]\nname = "x"\n[[relays]]\nname = "x"\n', "relays[1].name"),
        ('[[relays]]\npassword_env = "PW"\n', "relays[0].username"),
        ("[[relays]]\nprot = 25\n", "relays[0].prot"),
        ("relays = 3\n", "relays"),
        ("[sending]\nmax_attempts = 0\n", "sending.max_attempts"),
        ('[sending]\nretry_after = "soon"\n', "sending.retry_after"),
        ("[sending]\nretry_after = -1\n", "sending.retry_after"),
        ('[dkim]\ndomain = "example.org"\n', "dkim"),
    ],
)
def test_bad_sending_settings_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert f": {key}:" in str(caught.value), str(caught.value)
