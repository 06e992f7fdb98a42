"""`mailer render`: compile an issue, personalise it for a sample reader, write and check it."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import jinja2

from mailer.config import Config
from mailer.domain import PersonalLinks, Recipient
from mailer.issues.format import read_issue
from mailer.render.checks import CheckResult, Status, run_checks
from mailer.render.pipeline import CompiledIssue, compile_issue, personal_html, personal_text

__all__ = ["RenderReport", "render_to_directory", "sample_links", "sample_reader"]

SAMPLE_READER = Recipient("reader@example.org", "Sample", "Reader")


@dataclass(frozen=True, slots=True)
class RenderReport:
    out_dir: Path
    files: tuple[tuple[str, int], ...]
    checks: tuple[CheckResult, ...]
    compiled: CompiledIssue

    @property
    def failed(self) -> bool:
        return any(check.status is Status.FAIL for check in self.checks)


def sample_reader() -> Recipient:
    return SAMPLE_READER


def sample_links(base_url: str, slug: str) -> PersonalLinks:
    return PersonalLinks(
        view_online_url=f"{base_url}/issues/{slug}",
        preferences_url=f"{base_url}/preferences/preview",
        unsubscribe_url=f"{base_url}/unsubscribe/preview",
    )


def render_to_directory(
    issue_path: Path, out_dir: Path, *, config: Config, templates: jinja2.Environment
) -> RenderReport:
    """Parse, compile and write `index.html`, `index.txt`, `preview.eml` into `out_dir`.

    The issue is parsed and compiled before anything is written, so a bad issue leaves
    `out_dir` untouched; each file is written to a temporary name and renamed into place.
    """
    issue = read_issue(issue_path)
    compiled = compile_issue(issue, brand=config.brand, sender=config.sender, templates=templates)
    slug = re.sub(r"[^a-z0-9-]+", "-", issue_path.stem.lower()).strip("-") or "issue"
    reader = sample_reader()
    links = sample_links(config.web.base_url, slug)
    html = personal_html(compiled, reader, links)
    text = personal_text(compiled, reader, links)
    domain = config.sender.from_address.rpartition("@")[2]
    eml = compiled.message.render(
        reader, links, message_id=f"<preview.{compiled.digest[:20]}@{domain}>"
    )
    checks = run_checks(
        html=html,
        encoded_html_size=_encoded_html_size(eml),
        text=text,
        language=issue.front.language,
    )
    outputs = {
        "index.html": html.encode("utf-8"),
        "index.txt": text.encode("utf-8"),
        "preview.eml": eml,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        _write_atomically(out_dir / name, data)
    return RenderReport(
        out_dir=out_dir,
        files=tuple((name, len(data)) for name, data in outputs.items()),
        checks=tuple(checks),
        compiled=compiled,
    )


def _encoded_html_size(eml: bytes) -> int:
    """Size of the HTML part as transmitted (quoted-printable), which is what Gmail counts."""
    message = message_from_bytes(eml, policy=policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=False)
            return len(str(payload).encode("ascii", "replace"))
    return 0


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
