"""Benchmark 5: tickets at 1,000 and 100,000 — seeding, queries per list page, list and create
throughput under the production servers, and the SLA sweep.

    .venv/bin/python -m bench.tickets

1. Seeding: migrate (the data migrations create the tiers and SLA policies), then
   bench.ticket_seed.seed (bulk inserts: tickets, first messages, creation events, customers)
   up to each size of BENCH_TICKETS_SIZES (default 1000,100000); timed.
2. Queries per request, in-process (Django's test client, CaptureQueriesContext) at each size:
   the admin ticket list (/admin/tickets/ticket/) as a staff user in the Agents group, and
   GET /api/tickets/ as that agent and as a signed-in customer (Token header). Goal: the same
   number of queries at every size, and no COUNT that is not bounded by a LIMIT (every COUNT
   is printed). Also the admin list filtered, paged and searched, and a later API page.
   Times: median of 5 requests after one warm-up, with the SQL part timed separately.
   BENCH_QUERIES_VERBOSE=1 prints every query.
3. Under the servers of bench/pages.py (uvicorn 2 ASGI workers with CONN_MAX_AGE=0; gunicorn 2
   sync WSGI workers with CONN_MAX_AGE=60), at the largest size: the admin list (session
   cookie), GET /api/tickets/ (agent's token) and POST /api/tickets/ (a customer's token, JSON,
   a different subject for every request; wrk Lua script).
   `wrk -t2 -c32 -d10s --timeout 10s` (BENCH_WRK_DURATION; wrk leaves responses slower than
   its timeout out of its latency percentiles, and its default of 2 s is too short here),
   2 s warm-up, BENCH_TICKETS_ROUNDS interleaved rounds (default 2), medians shown. The
   tickets each create run made are counted in the database. SQLite takes one writer at a
   time: the creates queue on its write lock (busy_timeout).
   BENCH_TICKETS_SERVERS=0 skips this part.
4. SLA sweep (tickets.services.sla_sweep), in-process, with every seeded ticket open and its
   clock running: nothing due, then 1,000 and then 10,000 tickets (other ones each time) with
   a warning or deadline due (half each; sla_check_at in the past), with the environment's
   CONN_MAX_AGE (0 unless set, as in the task cluster); then 1,000 more with CONN_MAX_AGE=60.
   BENCH_TICKETS_SWEEP (default 1000,10000).
"""

import os
import random
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench import common, pages

REPEAT = 5
WARMUP_SECONDS = 2
WRK_TIMEOUT_SECONDS = 10


def _users():
    """An agent (staff, Agents group) with a session and a token; a customer with a token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from core.roles import AGENTS
    from tickets.models import AgentProfile

    User = get_user_model()
    agent = User.objects.create_user(
        "bench-list-agent", "list-agent@example.com", "x", is_staff=True
    )
    agent.groups.add(Group.objects.get(name=AGENTS))
    AgentProfile.objects.get_or_create(user=agent)
    customer_user = User.objects.create_user("bench-customer", "customer@example.com", "x")
    client = Client()
    client.force_login(agent)
    from django.conf import settings

    return {
        "agent": agent,
        "customer_user": customer_user,
        "agent_token": Token.objects.create(user=agent).key,
        "customer_token": Token.objects.create(user=customer_user).key,
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "client": client,
    }


def _link_customer(user, rng):
    """Give the customer login one of the seeded customers (with its tickets)."""
    from tickets.models import Customer

    if Customer.objects.filter(user=user).exists():
        return
    ids = list(
        Customer.objects.filter(user__isnull=True, tickets__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    Customer.objects.filter(pk=rng.choice(ids)).update(user=user, email=user.email)


def _is_bounded_count(sql: str) -> bool:
    """A COUNT over a LIMITed subquery (the admin's capped paginator) reads at most that many
    rows; any other COUNT over tickets reads the whole (filtered) table."""
    upper = sql.upper()
    return "LIMIT" in upper.split("COUNT", 1)[1]


def count_queries(users: dict, rows: list, count_sql: list, verbose: bool) -> dict:
    """Queries, SQL time and total time of each list request, in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Ticket

    agent_client = users["client"]
    api = Client()
    agent = {"HTTP_AUTHORIZATION": f"Token {users['agent_token']}"}
    customer = {"HTTP_AUTHORIZATION": f"Token {users['customer_token']}"}
    requests = [
        ("admin list (agent)", agent_client, "/admin/tickets/ticket/", {}),
        ("admin list, all statuses", agent_client, "/admin/tickets/ticket/?status=all", {}),
        ("admin list, page 10", agent_client, "/admin/tickets/ticket/?p=10", {}),
        ("admin list, search", agent_client, "/admin/tickets/ticket/?q=parcel", {}),
        ("API list (agent)", api, "/api/tickets/", agent),
        ("API list (agent), page 20", api, "/api/tickets/?page=20", agent),
        ("API list (customer)", api, "/api/tickets/", customer),
    ]
    total = Ticket.objects.count()
    counts = {}
    for name, client, url, headers in requests:
        response = client.get(url, **headers)  # warm-up (and a check)
        if response.status_code != 200:
            raise RuntimeError(
                f"{url} answered {response.status_code}: {response.content[:2000]!r}"
            )
        times, sql_times = [], []
        for attempt in range(REPEAT):
            sql_time = [0.0]

            def timer(execute, sql, params, many, context, sql_time=sql_time):
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    sql_time[0] += time.perf_counter() - started

            with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = client.get(url, **headers)
                times.append(time.perf_counter() - started)
            sql_times.append(sql_time[0])
            assert response.status_code == 200, (url, response.status_code)
            if attempt == 0:
                queries = captured.captured_queries
                counts[name] = len(queries)
                counted = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
                count_sql.extend((total, name, _is_bounded_count(sql), sql) for sql in counted)
                if verbose:
                    print(f"\n-- {name} at {total:,} tickets: {len(queries)} queries")
                    for query in queries:
                        print(f"   {float(query['time']) * 1000:5.1f} ms  {query['sql'][:300]}")
        rows.append(
            [
                f"{total:,}",
                name,
                f"`{url}`",
                counts[name],
                len(counted),
                f"{common.median(times) * 1000:.1f}",
                f"{common.median(sql_times) * 1000:.1f}",
            ]
        )
    return counts


LUA_CREATE = """
-- POST /api/tickets/ as a signed-in customer: JSON, a different subject every request.
local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end
local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"subject": "Bench ticket %d-%d: parcel not delivered", '
    .. '"body": "My order %d%06d has not arrived yet. Could you check where it is?"}',
    tid, n, tid, n)
  return wrk.format("POST", nil, nil, body)
end
"""


def run_servers(users: dict, var_dir: Path) -> list[str]:
    """List and create throughput under both servers; returns the printed tables."""
    from django.db import connection

    from tickets.models import Ticket

    duration = int(os.environ.get("BENCH_WRK_DURATION", "10"))
    rounds = int(os.environ.get("BENCH_TICKETS_ROUNDS", "2"))
    script = var_dir / "create.lua"
    script.write_text(LUA_CREATE)
    # wrk leaves responses slower than its timeout (2 s by default) out of the latency
    # percentiles; these pages can be that slow under load, so give them 10 s.
    timeout = ("--timeout", f"{WRK_TIMEOUT_SECONDS}s")
    session = (*timeout, "-H", f"Cookie: sessionid={users['session']}")
    agent_token = (*timeout, "-H", f"Authorization: Token {users['agent_token']}")
    runs = [
        ("admin ticket list", "/admin/tickets/ticket/", session),
        ("API list (agent)", "/api/tickets/", agent_token),
        ("API create (customer)", "/api/tickets/", (
            *timeout, "-s", str(script), "-H", "Content-Type: application/json",
            "-H", f"Authorization: Token {users['customer_token']}")),
    ]  # fmt: skip

    def last_pk() -> int:
        return Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    before = last_pk()
    connection.close()  # the servers write; do not hold the file open in between
    print(
        f"\nServers: {pages.server_note()}; wrk -t{pages.THREADS} -c{pages.CONNECTIONS} "
        f"-d{duration}s --timeout {WRK_TIMEOUT_SECONDS}s, {rounds} interleaved rounds, "
        f"{WARMUP_SECONDS} s warm-up per URL",
        flush=True,
    )
    servers = []
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        servers = pages.start_servers()
        for server in servers:
            for _name, path, extra in runs:
                pages.wrk(server.url(path), WARMUP_SECONDS, extra)
        for round_number in range(rounds):
            for server in servers[::-1] if round_number % 2 else servers:
                for name, path, extra in runs:
                    first_pk = last_pk()
                    cpu_before = pages.group_cpu_seconds(server.process.pid)
                    result = pages.wrk(server.url(path), duration, extra)
                    cpu = pages.group_cpu_seconds(server.process.pid) - cpu_before
                    result["cpu_ms"] = cpu * 1000 / result["requests"] if result["requests"] else 0
                    time.sleep(0.5)  # requests still in flight when wrk stopped
                    result["created"] = Ticket.objects.filter(
                        pk__gt=first_pk, subject__startswith="Bench ticket"
                    ).count()
                    connection.close()
                    results.setdefault((server.label, name), []).append(result)
                    print(
                        f"  round {round_number + 1}: {server.label:<30} {name:<22} "
                        f"{result['rps']:>8.0f} req/s  p50 {result['p50']:.1f} ms  "
                        f"p99 {result['p99']:.1f} ms  server CPU {result['cpu_ms']:.2f} ms/req  "
                        f"non-2xx {result['non2xx']}  (load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()

    created_all = Ticket.objects.filter(pk__gt=before, subject__startswith="Bench ticket").count()
    creates = [
        r for (_label, name), measured in results.items() if "create" in name for r in measured
    ]
    tables = []
    for server in servers:
        rows = []
        for name, path, _extra in runs:
            measured = results[(server.label, name)]
            rows.append(
                [
                    name,
                    f"{'POST' if 'create' in name else 'GET'} `{path}`",
                    f"{common.median([r['rps'] for r in measured]):,.0f}",
                    f"{common.median([r['p50'] for r in measured]):.1f}",
                    f"{common.median([r['p99'] for r in measured]):.1f}",
                    f"{common.median([r['cpu_ms'] for r in measured]):.2f}",
                    " / ".join(f"{r['rps']:,.0f}" for r in measured),
                    sum(r["requests"] for r in measured),
                    sum(r["non2xx"] for r in measured),
                    f"{sum(r['errors'] for r in measured)} "
                    f"({sum(r['timeouts'] for r in measured)})",
                    sum(r["created"] for r in measured) if "create" in name else "-",
                ]
            )
        tables.append(
            common.table(
                [
                    "request",
                    "URL",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "server CPU ms/req",
                    "req/s per round",
                    "requests",
                    "non-2xx",
                    "socket errors (of which timeouts)",
                    "tickets created (database)",
                ],
                rows,
                title=f"## {server.label} (at {Ticket.objects.count():,} tickets after the runs)",
            )
        )
    answered = sum(r["requests"] - r["non2xx"] for r in creates)
    tables.append(
        f"\nPOST /api/tickets/, measured runs: wrk counted {answered:,} 2xx answers; the "
        f"database holds {sum(r['created'] for r in creates):,} new tickets from those runs "
        f"(requests that timed out in wrk, or were in flight when it stopped, still complete); "
        f"{created_all:,} with the warm-ups."
    )
    return tables


def sweep(rng: random.Random, seeded_max_pk: int) -> str:
    """SLA sweep with every seeded ticket open and its resolution clock running."""
    from django.db import connection
    from django.utils import timezone

    from tickets.models import Event, EventKind, Notification, Ticket
    from tickets.services import sla_sweep

    def clocks(due):
        warn = due - timedelta(minutes=30)
        return [{"name": "resolution", "due": due.isoformat(), "warn": warn.isoformat()}], warn

    now = timezone.now()
    started = time.perf_counter()
    future_clocks, future_warn = clocks(now + timedelta(days=3))
    seeded = Ticket.objects.filter(pk__lte=seeded_max_pk)
    seeded.update(
        status="open",
        solved_at=None,
        merged_into=None,
        sla_clocks=future_clocks,
        sla_check_at=future_warn,
        next_due_at=now + timedelta(days=3),
        resolution_due=now + timedelta(days=3),
        sla_breached=False,
    )
    # Tickets created by the API benchmark keep their own (future) clocks.
    setup_s = time.perf_counter() - started
    open_count = Ticket.objects.filter(status="open", sla_check_at__isnull=False).count()
    total = Ticket.objects.count()
    rows = []

    def timed(label: str, due_count: int, repeat: int = 1) -> None:
        sla_events = Event.objects.filter(kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACH])
        events_before, notifications_before = sla_events.count(), Notification.objects.count()
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        times = []
        for _ in range(repeat):
            with connection.execute_wrapper(count):
                started = time.perf_counter()
                report = sla_sweep(now=timezone.now())
                times.append(time.perf_counter() - started)
        elapsed = common.median(times)
        rows.append(
            [
                label,
                f"{due_count:,}",
                f"{report.checked:,}",
                f"{len(report.warnings):,}",
                f"{len(report.breaches):,}",
                f"{sla_events.count() - events_before:,}",
                f"{Notification.objects.count() - notifications_before:,}",
                f"{queries[0] // repeat:,}",
                f"{elapsed * 1000:,.1f}",
                f"{elapsed * 1000 / report.checked:.2f}" if report.checked else "-",
            ]
        )
        print(f"  sweep, {label}: {elapsed * 1000:,.1f} ms", flush=True)

    def make_due(chosen: list[int]) -> int:
        now = timezone.now()
        # Half warnings (warn passed, deadline ahead), half breaches (deadline passed).
        warn_clocks, warn_at = clocks(now + timedelta(minutes=25))
        breach_clocks, _ = clocks(now - timedelta(minutes=5))
        half = len(chosen) // 2
        for start in range(0, len(chosen), 5000):
            chunk = chosen[start : start + 5000]
            warn_ids = [pk for i, pk in enumerate(chunk, start) if i < half]
            breach_ids = [pk for i, pk in enumerate(chunk, start) if i >= half]
            Ticket.objects.filter(pk__in=warn_ids).update(
                sla_clocks=warn_clocks,
                sla_check_at=warn_at,
                next_due_at=now + timedelta(minutes=25),
            )
            Ticket.objects.filter(pk__in=breach_ids).update(
                sla_clocks=breach_clocks,
                sla_check_at=now - timedelta(minutes=5),
                next_due_at=now - timedelta(minutes=5),
            )
        return Ticket.objects.filter(sla_check_at__lte=timezone.now()).count()

    def persistent_connection(seconds: int) -> None:
        # CONN_MAX_AGE is read when the connection opens; the sweep's default is the
        # environment's (0 unless set), as in the django-q2 cluster that runs it.
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = seconds

    conn_max_age = connection.settings_dict["CONN_MAX_AGE"]
    timed("nothing due (median of 5)", 0, repeat=5)
    candidates = list(seeded.values_list("pk", flat=True))
    rng.shuffle(candidates)
    sizes = [int(s) for s in os.environ.get("BENCH_TICKETS_SWEEP", "1000,10000").split(",")]
    used = 0
    for size in sizes:
        due_now = make_due(candidates[used : used + size])
        used += size
        timed(f"{size:,} due, CONN_MAX_AGE={conn_max_age}", due_now)
    if conn_max_age == 0:
        persistent_connection(60)
        due_now = make_due(candidates[used : used + sizes[0]])
        used += sizes[0]
        timed(f"{sizes[0]:,} due, CONN_MAX_AGE=60", due_now)
        persistent_connection(conn_max_age)
    timed("nothing due (after)", 0, repeat=5)
    return (
        f"\n{open_count:,} open tickets with a running clock ({total:,} tickets in all); "
        f"setting them up took {setup_s:.1f} s (one UPDATE).\n"
        + common.table(
            [
                "sweep",
                "due",
                "checked",
                "warnings",
                "breaches",
                "events",
                "notifications",
                "queries",
                "ms",
                "ms per due ticket",
            ],
            rows,
            title="## SLA sweep (tickets.services.sla_sweep), in-process",
        )
    )


def main() -> int:
    var_dir = common.prepare("tickets")
    started = time.perf_counter()
    common.setup_django()
    migrate_s = time.perf_counter() - started

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench.ticket_seed import seed
    from tickets.models import Ticket

    setup_test_environment()  # the test client's host name
    call_command("collectstatic", interactive=False, verbosity=0)  # the admin's static manifest
    sizes = [int(s) for s in os.environ.get("BENCH_TICKETS_SIZES", "1000,100000").split(",") if s]
    print(f"# Tickets — {common.database_label()}; {common.machine()}")
    print(f"migrate (with the default tiers, SLA policies and roles): {migrate_s:.1f} s\n")
    verbose = os.environ.get("BENCH_QUERIES_VERBOSE") == "1"
    rng = random.Random(11)
    users = _users()
    seed_rows, query_rows, count_sql, counts = [], [], [], {}
    loaded = 0
    for size in sizes:
        started = time.perf_counter()
        seed(size - loaded, seed_value=size)
        seed_s = time.perf_counter() - started
        seed_rows.append(
            [
                f"{size:,}",
                f"{size - loaded:,}",
                f"{seed_s:.1f} s",
                f"{(size - loaded) / seed_s:,.0f}",
                f"{Path(connection.settings_dict['NAME']).stat().st_size / 2**20:,.0f} MiB"
                if connection.vendor == "sqlite"
                else "-",
            ]
        )
        print(f"  seeded {size:,} tickets ({seed_s:.1f} s)", flush=True)
        loaded = size
        _link_customer(users["customer_user"], rng)
        counts[size] = count_queries(users, query_rows, count_sql, verbose)
    seeded_max_pk = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first()

    print(
        common.table(
            ["tickets", "added", "time", "tickets/s", "database file"],
            seed_rows,
            title="## Seeding (bench/ticket_seed.py: tickets + first message + creation event)",
        )
    )
    print(
        common.table(
            [
                "tickets",
                "request",
                "URL",
                "queries",
                "COUNT queries",
                "ms (median)",
                "of which SQL ms",
            ],
            query_rows,
            title="## Queries per request, in-process",
        )
    )
    flat = {name: len({counts[size][name] for size in sizes}) == 1 for name in counts[sizes[0]]}
    for name, is_flat in flat.items():
        by_size = ", ".join(f"{counts[s][name]} at {s:,}" for s in sizes)
        print(f"{name}: {by_size} -> {'flat' if is_flat else '**grows**'}")
    print(
        f"Goal (query counts flat in the table size): "
        f"{'met' if all(flat.values()) else '**missed**'}"
    )
    if count_sql:
        print("\nEvery COUNT query:")
        for total, name, bounded, sql in count_sql:
            print(
                f"  [{total:,} tickets] {name}: "
                f"{'bounded (LIMIT)' if bounded else '**UNBOUNDED**'}: {sql[:400]}"
            )
    else:
        print("\nNo COUNT query in any of these requests.")
    unbounded = [c for c in count_sql if not c[2]]
    print(f"Unbounded COUNT queries: {len(unbounded)}")
    sys.stdout.flush()

    if os.environ.get("BENCH_TICKETS_SERVERS", "1") != "0":
        if not shutil.which("wrk"):
            sys.exit("bench.tickets needs wrk (apt-get install -y wrk); bench/run installs it.")
        for table in run_servers(users, var_dir):
            print(table)

    print(sweep(rng, seeded_max_pk))
    connection.close()
    print(f"\n(server logs were in {var_dir}, removed at exit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
