"""The command line as a user runs it: a real subprocess of the installed `mailer` script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def _mailer(mailer_bin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mailer_bin, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("args", [["--help"], ["render", "--help"], ["demo", "--help"]])
def test_every_command_has_help(mailer_bin: str, tmp_path: Path, args: list[str]) -> None:
    result = _mailer(mailer_bin, *args, cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_demo_renders_the_bundled_issue_on_defaults(mailer_bin: str, tmp_path: Path) -> None:
    result = _mailer(mailer_bin, "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out" / "demo"
    for name in ("index.html", "index.txt", "preview.eml"):
        assert (out / name).stat().st_size > 1000
    assert "index.html" in result.stdout
    assert "checks passed" in result.stdout
    # and the whole job: members imported, a test copy and the campaign in the local mailbox
    mailbox = sorted((out / "mailbox").glob("*.eml"))
    assert len(mailbox) == 9, result.stdout
    assert b"Subject: =?utf-8?q?=5BTEST=5D" in mailbox[0].read_bytes()
    assert "is sent: 8 of 8 recipients sent" in " ".join(result.stdout.split())


def test_bad_config_is_one_clear_line(mailer_bin: str, tmp_path: Path, example_issue: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[brand]\nprimary_colour = "blue"\n', encoding="utf-8")
    result = _mailer(
        mailer_bin, "--config", str(config), "render", str(example_issue), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "brand.primary_colour" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_config_file_changes_the_brand(
    mailer_bin: str, tmp_path: Path, example_issue: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[brand]\nname = "Fédération test"\nprimary_colour = "#0a7d3b"\n'
        'postal_address = "Rue de la Loi 1, 1000 Bruxelles"\n'
        'contact_email = "info@federation.example"\ncontact_phone = "02/123.45.67"\n',
        encoding="utf-8",
    )
    out = tmp_path / "o"
    result = _mailer(
        mailer_bin, "--config", str(config), "render", str(example_issue), "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "#0a7d3b" in html
    assert "Rue de la Loi 1, 1000 Bruxelles" in html
    assert 'href="mailto:info@federation.example"' in html
    assert 'href="tel:+3221234567"' in html
    text = (out / "index.txt").read_text(encoding="utf-8")
    assert "info@federation.example, 02/123.45.67" in text


def test_unknown_command_is_a_usage_error(mailer_bin: str, tmp_path: Path) -> None:
    result = _mailer(mailer_bin, "rendr", cwd=tmp_path)
    assert result.returncode == 2
    assert "Did you mean 'render'" in result.stderr
