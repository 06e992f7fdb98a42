"""Configuration: embedded defaults, a full example file, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.config import Config, load_config
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
    for section in ("brand", "sender", "web", "database"):
        for name in getattr(Config(), section).__dataclass_fields__:
            assert f"\n{name} = " in text, f"config.example.toml does not document {section}.{name}"
    assert config.brand.name != Config().brand.name


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
