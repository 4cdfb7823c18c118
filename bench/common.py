"""Shared set-up of the benchmarks: a throwaway database and var dir, Django, and tables.

Every benchmark gets a fresh temporary ``HELPCENTER_VAR_DIR`` (SQLite file, collected static
files, jieba cache, secret key), so the developer's ``var/`` database is never touched. When
``DATABASE_URL`` points at PostgreSQL, a throwaway database is created on that server
(``hc_bench_<random>``) and dropped at exit. When ``REDIS_URL`` is set, the cache key prefix is
made unique, and the benchmarks never clear the cache (they bump the page-cache generation).
"""

import atexit
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _drop_postgres(admin_url: str, name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001 - report and go on: nothing else to clean
        print(f"warning: could not drop the benchmark database {name}: {exc}", file=sys.stderr)


def _throwaway_postgres(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = f"hc_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    atexit.register(_drop_postgres, url, name)
    return urlunsplit(parts._replace(path="/" + name))


def prepare(name: str, *, settings_module: str = "bench.settings") -> Path:
    """Point the environment at a fresh var dir (and database); call before django.setup()."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"hc-bench-{name}-"))
    atexit.register(shutil.rmtree, var_dir, True)
    os.environ["HELPCENTER_VAR_DIR"] = str(var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ["DEBUG"] = "0"
    os.environ.pop("TEST_DATABASE_NAME", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if os.environ.get("REDIS_URL"):
        os.environ["CACHE_KEY_PREFIX"] = f"hcbench{secrets.token_hex(4)}"
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        os.environ["DATABASE_URL"] = _throwaway_postgres(url)
    elif url:
        sys.exit(f"bench: unsupported DATABASE_URL scheme {url.split(':')[0]!r}")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return var_dir


def setup_django(*, migrate: bool = True) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version} (file in a temp dir)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]} (throwaway database)"


def machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list], *, title: str | None = None) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/benchmarks.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))
    ]

    def line(row):
        return (
            "| "
            + " | ".join(
                c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(row)
            )
            + " |"
        )

    sep = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2)) for w, n in zip(widths, numeric, strict=True)) + "|"  # fmt: skip
    out = [f"\n{title}\n"] if title else []
    out += [line(cells[0]), sep] + [line(r) for r in cells[1:]]
    return "\n".join(out)


def _looks_numeric(value: str) -> bool:
    stripped = value.replace(",", "").replace("%", "").replace("ms", "").replace("s", "").strip()
    try:
        float(stripped)
    except ValueError:
        return stripped in ("", "-", "nan")
    return True
