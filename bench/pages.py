"""Benchmark 2: public pages under the production servers, next to a bare Django view.

    .venv/bin/python -m bench.pages

Serves the project (settings bench.settings = the real settings + /bench/bare/, DEBUG off,
static files collected into the temp var dir, demo data loaded) with
  * uvicorn, 2 ASGI workers (what `make run` / `manage.py serve` uses), CONN_MAX_AGE=0, and
  * gunicorn, 2 sync WSGI workers (HTTP could be split from WebSocket in production) with
    persistent database connections (CONN_MAX_AGE=60, as docs/deployment.md advises),
both running at once, and loads each URL with `wrk -t2 -c32 -d10s` (BENCH_WRK_DURATION) after
a 2 s warm-up. The runs are interleaved: BENCH_ROUNDS rounds (default 3); in each, every server
runs its bare view and then its pages (rotated order); the tables show medians over rounds,
and "% of bare" is the median of the per-round ratios page / bare view of the same round.
Goal: every page >= 60 % of the bare view's requests per second on the same server.

The machine is shared and req/s is noisy, so the servers' CPU time per request is measured too
(from /proc, over each run): "% of bare by CPU" = bare view's CPU/request ÷ the page's, the
throughput share the page would get on a machine where the server is CPU-bound.
"""

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import common

GOAL_SHARE = 0.60
THREADS, CONNECTIONS = 2, 32
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_wrk(output: str) -> dict:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        return float(match.group(1)) * UNIT[match.group(2)] if match else float("nan")

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "timeouts": int(errors.group(4)) if errors else 0,
        # read errors are connection closes: normal for gunicorn's sync workers (no keep-alive)
        "errors": (int(errors.group(1)) + int(errors.group(3)) + int(errors.group(4)))
        if errors
        else 0,
    }


def wrk(url: str, seconds: int, extra: tuple[str, ...] = ()) -> dict:
    """One wrk run; ``extra``: more arguments (``-H "Cookie: ..."``, ``-s script.lua``)."""
    result = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(result.stdout)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in a process group (a server and its
    workers), from /proc. Unlike req/s, it hardly depends on what else the machine runs."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is pgrp; utime, stime are fields 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


class Server:
    def __init__(self, label: str, command: list[str], port: int, env: dict):
        self.label, self.port = label, port
        self.log = open(Path(env["HELPCENTER_VAR_DIR"]) / f"{port}.log", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=common.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped together with its workers
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.log.seek(0)
        raise RuntimeError(f"{self.label} did not start:\n{self.log.read()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# Persistent database connections for the WSGI workers only (docs/deployment.md): under ASGI
# every request runs on a new thread, so a kept connection would never be reused.
SERVERS = (
    ("uvicorn, 2 ASGI workers", "0", lambda python, port: [
        python, "-m", "uvicorn", "helpcenter.asgi:application", "--workers", "2",
        "--lifespan", "off", "--log-level", "warning",
        "--host", "127.0.0.1", "--port", str(port)]),
    ("gunicorn, 2 sync WSGI workers", "60", lambda python, port: [
        python, "-m", "gunicorn", "helpcenter.wsgi", "-w", "2",
        "-b", f"127.0.0.1:{port}", "--log-level", "warning"]),
)  # fmt: skip


def start_servers() -> list[Server]:
    """Both servers on the benchmark's database (bench.settings, DEBUG off), ready to load.
    The caller stops them (``server.stop()``), also when this raises."""
    python = str(Path(sys.executable))
    servers = []
    try:
        for label, conn_max_age, command in SERVERS:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "DEBUG": "0",
                "CONN_MAX_AGE": conn_max_age,
            }
            port = free_port()
            servers.append(Server(label, command(python, port), port, env))
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def server_note() -> str:
    return "; ".join(f"{label}: CONN_MAX_AGE={age}" for label, age, _ in SERVERS)


def prepare_site() -> str:
    """Migrate, load the demo data, collect static files; return an English article's slug."""
    from django.core.management import call_command
    from django.db import connection

    from kb.models import Article

    call_command("collectstatic", interactive=False, verbosity=0)
    demo = common.ROOT / "helpcenter" / "demo" / "articles.jsonl"
    if demo.exists():
        call_command("load_demo", verbosity=0, stdout=io.StringIO())
    else:  # a clone without the demo file: a few synthetic articles instead
        from bench import corpus
        from kb.importing import import_records
        from kb.search.index import reindex

        corpus.create_categories()
        import_records(corpus.records(60))
        reindex()
    article = (
        Article.objects.published()
        .filter(language="en")
        .order_by("-view_count", "pk")
        .only("slug")
        .first()
    )
    connection.close()
    return article.slug


def main() -> int:
    if not shutil.which("wrk"):
        sys.exit("bench.pages needs wrk (apt-get install -y wrk); bench/run installs it.")
    var_dir = common.prepare("pages")
    common.setup_django()
    from django.conf import settings

    duration = int(os.environ.get("BENCH_WRK_DURATION", "10"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    slug = prepare_site()
    print(f"# Pages under production servers — {common.database_label()}; {common.machine()}")
    print(
        f"wrk -t{THREADS} -c{CONNECTIONS} -d{duration}s, {rounds} interleaved rounds (median "
        f"shown), 2 s warm-up per URL; DEBUG={settings.DEBUG}; cache: "
        f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, "
        f"KB_PAGE_CACHE_SECONDS={settings.KB_PAGE_CACHE_SECONDS}; {server_note()}\n"
    )
    urls = [
        ("bare Django view", "/bench/bare/"),
        ("home", "/en/"),
        ("article", f"/en/articles/{slug}/"),
        ("search API", "/api/kb/search/?q=refund"),
    ]
    servers = []
    try:
        servers = start_servers()
        sizes = {}
        for server in servers:
            for name, path in urls:
                with urllib.request.urlopen(server.url(path), timeout=10) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{server.url(path)} answered {response.status}")
                    sizes[name] = len(response.read())
                wrk(server.url(path), 2)  # warm-up: caches, jieba, connections, JIT-free paths

        results: dict[tuple[str, str], list[dict]] = {}
        for round_number in range(rounds):
            # Alternate the servers' order; each server's bare view runs just before its pages
            # (in a rotated order), so a page is compared with a bare run close in time.
            shift = round_number % (len(urls) - 1)
            pages_order = urls[1:][shift:] + urls[1:][:shift]
            for server in servers[::-1] if round_number % 2 else servers:
                for name, path in [urls[0], *pages_order]:
                    cpu_before = group_cpu_seconds(server.process.pid)
                    result = wrk(server.url(path), duration)
                    cpu = group_cpu_seconds(server.process.pid) - cpu_before
                    result["cpu_ms"] = cpu * 1000 / result["requests"] if result["requests"] else 0
                    results.setdefault((server.label, name), []).append(result)
                    print(
                        f"  round {round_number + 1}: {server.label:<30} {name:<17} "
                        f"{result['rps']:>8.0f} req/s  p50 {result['p50']:.1f} ms  "
                        f"p99 {result['p99']:.1f} ms  server CPU {result['cpu_ms']:.2f} ms/req  "
                        f"(load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()

    for server in servers:
        bare_runs = results[(server.label, urls[0][0])]
        rows = []
        for name, path in urls:
            runs = results[(server.label, name)]
            rps = common.median([r["rps"] for r in runs])
            # the median of the per-round ratios: each round's page against that round's bare run
            share = common.median(
                [
                    r["rps"] / b["rps"] if b["rps"] else float("nan")
                    for r, b in zip(runs, bare_runs, strict=True)
                ]
            )
            cpu_ms = common.median([r["cpu_ms"] for r in runs])
            bare_cpu_ms = common.median([b["cpu_ms"] for b in bare_runs])
            goal = "-" if name == urls[0][0] else ("yes" if share >= GOAL_SHARE else "**no**")
            rows.append(
                [
                    name,
                    f"`{path}`",
                    f"{sizes[name] / 1024:.1f} KB",
                    f"{rps:,.0f}",
                    f"{common.median([r['p50'] for r in runs]):.1f}",
                    f"{common.median([r['p99'] for r in runs]):.1f}",
                    f"{share:.0%}",
                    goal,
                    f"{cpu_ms:.2f}",
                    f"{bare_cpu_ms / cpu_ms:.0%}" if cpu_ms else "-",
                    " / ".join(f"{r['rps']:,.0f}" for r in runs),
                    sum(r["non2xx"] + r["errors"] for r in runs),
                ]
            )
        print(
            common.table(
                [
                    "page",
                    "URL",
                    "body",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "% of bare",
                    "≥ 60 %",
                    "server CPU ms/req",
                    "% of bare by CPU",
                    "req/s per round",
                    "errors",
                ],
                rows,
                title=f"## {server.label}",
            )
        )
    print(f"\n(server logs were in {var_dir}, removed at exit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
