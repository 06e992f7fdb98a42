"""The README's subscriber walkthrough, command by command, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
from pathlib import Path

from tests.conftest import ROOT

README = ROOT / "README.md"


def _walkthrough() -> list[str]:
    """The `mailer …` lines of the block that follows "**Try it**" in the README."""
    text = README.read_text(encoding="utf-8")
    block = text.split("**Try it**", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [
        line.split("  #", 1)[0].strip() for line in block.splitlines() if line.startswith("mailer")
    ]


def test_readme_walkthrough(mailer_bin: str, db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "MAILER_DATABASE_URL": db_url, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("MAILER_CONFIG", None)
    outputs = []
    for line in _walkthrough():
        args = shlex.split(line)[1:]
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
        result = subprocess.run(
            [mailer_bin, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            check=False, timeout=120,
        )  # fmt: skip
        assert "Traceback" not in result.stdout + result.stderr, line
        expected = 2 if args[:2] == ["subscribers", "import"] else 0
        assert result.returncode == expected, (line, result.stdout, result.stderr)
        outputs.append(result.stdout)

    imported = outputs[6]
    assert re.search(r"inserted\s*│\s*8", imported), imported
    assert re.search(r"rejected\s*│\s*3", imported), imported
    with (tmp_path / "members-excel.rejects.csv").open(encoding="utf-8") as stream:
        rejects = list(csv.DictReader(stream))
    assert [(r["line"], r["column"]) for r in rejects] == [
        ("11", "email"),
        ("12", "organisation"),
        ("13", "(row)"),
    ]
    counted = outputs[-1]
    assert ": 5 subscriber(s)" in counted, counted
    assert re.search(r"Fédération des centres de services sociaux\s*│\s*3", counted), counted
    assert re.search(r"Fédération des maisons médicales\s*│\s*2", counted), counted
