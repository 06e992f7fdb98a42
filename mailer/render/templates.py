"""The Jinja2 environment for the e-mail templates: autoescape on (also for .mjml), strict."""

from __future__ import annotations

from pathlib import Path

import jinja2

__all__ = ["make_environment"]


def make_environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("mjml", "html", "xml", "css"), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
