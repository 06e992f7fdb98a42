"""What the benchmarks share: printing, peak memory, and scratch databases (a SQLite file, or
a fresh schema on a PostgreSQL server, dropped at the end)."""

from __future__ import annotations

import resource
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


def say(message: str) -> None:
    print(message, flush=True)


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # KiB on Linux


def vm_hwm_mib() -> float:
    """This address space's own peak (Linux VmHWM: reset by exec, unlike ru_maxrss, which a
    spawned child inherits from its parent at fork time)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def plain_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_unreachable(url: str) -> str | None:
    """Why the server of `url` cannot be used, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(plain_url(url), connect_timeout=3, autocommit=True) as connection:
            connection.execute("select 1")
    except Exception as exc:  # any failure means "not reachable from here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


@contextmanager
def sqlite_database(folder: Path, name: str) -> Iterator[str]:
    path = folder / f"{name}.db"
    yield f"sqlite:///{path}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_database(url: str, prefix: str = "bench") -> Iterator[str]:
    """A fresh schema on the server of `url`, dropped at the end."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain_url(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(plain_url(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
