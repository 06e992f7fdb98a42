"""The parser against flufl.bounce's corpus of 118 real bounces (shared/, read in place).

A file counts as right when the failing addresses found equal the expected ones (case
ignored) and, when there are some, temporary/permanent agrees. The mapping: the corpus says
`temporary: true` ⇔ every report we return is temporary (`BounceReport.temporary`: the
action is "delayed", or, without an action, the status class is 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mailer.bounces.parse as parse_module
from mailer.bounces import BounceReport, parse_message
from mailer.bounces.model import KINDS, REASONS

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "flufl-bounce"
MESSAGES = CORPUS / "messages"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected.json").is_file(), reason=f"the bounce corpus is not at {CORPUS}"
)

# Where we disagree with the corpus on purpose (see docs/bounces.md).
KNOWN_DIFFERENT = {
    # A real Exim DSN whose Final-Recipient the corpus anonymised into an invalid address
    # (david...@gmail.com); flufl's own test expects its generic detector to find nothing, but
    # the DSN names that recipient, and so do we.
    "simple_42.txt",
}


def _expected() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())
    return data


def _agrees(reports: list[BounceReport], expected: dict[str, object]) -> bool:
    addresses = expected["addresses"]
    assert isinstance(addresses, list)
    if {r.recipient.lower() for r in reports} != {str(a).lower() for a in addresses}:
        return False
    temporary = bool(reports) and all(r.temporary for r in reports)
    return not reports or temporary == expected["temporary"]


def _score() -> tuple[int, int, list[str]]:
    expected = _expected()
    wrong = [
        name
        for name, want in sorted(expected.items())
        if not _agrees(parse_message((MESSAGES / name).read_bytes()), want)
    ]
    return len(expected) - len(wrong), len(expected), wrong


def test_corpus_agreement() -> None:
    ok, n, wrong = _score()
    pct = 100 * ok / n
    print(f"corpus: {ok}/{n} = {pct:.1f}%")
    assert pct >= 95, f"corpus: {ok}/{n} = {pct:.1f}%; wrong: {wrong}"
    assert set(wrong) <= KNOWN_DIFFERENT, f"newly wrong: {sorted(set(wrong) - KNOWN_DIFFERENT)}"


def test_corpus_with_our_own_heuristics_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without flufl.bounce, DSN parsing and our text heuristics still get most of it: the
    fallback layer stands on its own for the formats flufl does not know."""
    monkeypatch.setattr(parse_module, "flufl_failures", lambda msg: ([], []))
    ok, n, wrong = _score()
    pct = 100 * ok / n
    print(f"corpus without flufl.bounce: {ok}/{n} = {pct:.1f}%")
    assert pct >= 85, f"without flufl.bounce: {ok}/{n} = {pct:.1f}%; wrong: {wrong}"


@pytest.mark.parametrize(
    "path", sorted(MESSAGES.glob("*")) if MESSAGES.is_dir() else [], ids=lambda p: p.name
)
def test_every_file_parses_without_error(path: Path) -> None:
    """Every file, those in expected.json and the odd ones (non-bounces, malformed)."""
    for report in parse_message(path.read_bytes()):
        assert report.kind in KINDS
        assert report.reason in REASONS
        assert report.source in ("dsn", "arf", "heuristic")
        assert len(report.diagnostic) <= 1000
        assert report.recipient == report.recipient.lower()
