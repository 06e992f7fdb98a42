"""Render benchmark: compile time per issue and personalisation time per recipient.

    .venv/bin/python bench/render.py [--issue PATH] [--rounds N] [--recipients N]

Prints figures beside their targets; never asserts (a slow machine is not a failure).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import time
from pathlib import Path

from mailer.domain import PersonalLinks, Recipient
from mailer.issues.format import read_issue
from mailer.render.pipeline import CompiledIssue, compile_issue, personalise
from mailer.resources import example_issue
from mailer.wiring import build_services

COMPILE_TARGET_MS = 50.0
PERSONALISE_TARGET_US = 100.0
FIRST_NAMES = ("Zoë", "Jean", "Frédéric", "Anne-Sophie", "Mathieu", "Cécile", "Li", "Ørjan")
LAST_NAMES = ("Lefèvre", "Dupont", "Clerbaux", "de Poorter", "Jansen", "Morbois", "Núñez")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _verdict(value: float, target: float) -> str:
    return "ok" if value < target else "OVER TARGET"


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issue", type=Path, default=None, help="issue source (default: example)")
    parser.add_argument("--rounds", type=int, default=20, help="warm compile rounds (default 20)")
    parser.add_argument(
        "--recipients", type=int, default=20_000, help="messages to personalise (default 20000)"
    )
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    count = max(1, args.recipients)
    issue_path: Path = args.issue or example_issue()

    services = build_services(None)
    config = services.config

    start = time.perf_counter()
    issue = read_issue(issue_path)
    parse_ms = (time.perf_counter() - start) * 1000

    def compile_once() -> tuple[float, CompiledIssue]:
        start = time.perf_counter()
        compiled = compile_issue(
            issue, brand=config.brand, sender=config.sender, templates=services.templates
        )
        return (time.perf_counter() - start) * 1000, compiled

    cold_ms, compiled = compile_once()
    warm: list[float] = []
    for _ in range(rounds):
        elapsed, compiled = compile_once()
        warm.append(elapsed)

    domain = config.sender.from_address.rpartition("@")[2]
    base = config.web.base_url
    recipients = [
        (
            Recipient(
                f"reader{i}@example.org",
                FIRST_NAMES[i % len(FIRST_NAMES)],
                f"{LAST_NAMES[i % len(LAST_NAMES)]} {i}",
            ),
            PersonalLinks(
                view_online_url=f"{base}/issues/{issue_path.stem}?t=v{i:08x}",
                preferences_url=f"{base}/preferences?t=p{i:08x}",
                unsubscribe_url=f"{base}/unsubscribe?t=u{i:08x}",
            ),
            f"<{compiled.digest[:16]}.{i}@{domain}>",
        )
        for i in range(count)
    ]
    date = dt.datetime.now(dt.UTC)
    total_bytes = 0
    start = time.perf_counter()
    for recipient, links, message_id in recipients:
        total_bytes += len(
            personalise(compiled, recipient, links, message_id=message_id, date=date)
        )
    personalise_s = time.perf_counter() - start
    per_call_us = personalise_s / count * 1e6
    one = personalise(compiled, *recipients[0][:2], message_id=recipients[0][2], date=date)

    median_ms = statistics.median(warm)
    p95_ms = _percentile(warm, 0.95)
    print(f"issue                 {issue_path}")
    print(f"parse issue           {parse_ms:8.1f} ms   (read_issue, not counted in compile)")
    print(f"compile, cold         {cold_ms:8.1f} ms   (first compile_issue: template load, caches)")
    print(
        f"compile, warm median  {median_ms:8.1f} ms   target < {COMPILE_TARGET_MS:.0f} ms"
        f"   {_verdict(median_ms, COMPILE_TARGET_MS)}   ({rounds} rounds)"
    )
    print(
        f"compile, warm p95     {p95_ms:8.1f} ms   target < {COMPILE_TARGET_MS:.0f} ms"
        f"   {_verdict(p95_ms, COMPILE_TARGET_MS)}"
    )
    print(
        f"personalise           {per_call_us:8.1f} µs   target < {PERSONALISE_TARGET_US:.0f} µs"
        f"   {_verdict(per_call_us, PERSONALISE_TARGET_US)}"
        f"   ({count} recipients in {personalise_s:.2f} s, per call = total / count)"
    )
    print(f"message size          {len(one) / 1000:8.1f} KB   (one recipient, {len(one)} bytes)")
    print(f"personalised volume   {total_bytes / 1e6:8.1f} MB")
    print(f"peak RSS              {_peak_rss_mib():8.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
