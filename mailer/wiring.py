"""The one place where things are built from the configuration and handed to the services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from mailer.config import Config, load_config
from mailer.render.templates import make_environment
from mailer.resources import templates_dir

__all__ = ["Services", "build_services"]


@dataclass(frozen=True, slots=True)
class Services:
    """What the commands need, constructed once per process."""

    config: Config
    templates: jinja2.Environment


def build_services(config_path: Path | None = None) -> Services:
    config = load_config(config_path)
    return Services(config=config, templates=make_environment(templates_dir()))
