"""Benchmark 6: live-chat sockets on one uvicorn worker, with the in-memory and the Redis
channel layer, next to a bare `websockets` echo server (the ceiling).

    .venv/bin/python -m bench.chat

Goals (from the issue): 2,000 concurrent sockets on one worker; customer → agent delivery p99
< 50 ms at 200 messages/s; bot reply p95 < 100 ms; memory per connection reported.

Set-up, in this process, on a throwaway database (bench.common: SQLite in a temp dir, or a
temporary PostgreSQL database when DATABASE_URL is set): migrate, `load_demo` (the knowledge
base the bot answers from), every team's routing set to manual, BENCH_CHAT_AGENTS agents (no
email address, so no per-message notification; see docs/benchmarks.md) with a signed-in
session each, BENCH_CHAT_RATE conversations handed off and accepted (spread over the agents),
and BENCH_CHAT_BOT_CHATS conversations with the bot (half English, half Chinese).

Then, for each server — uvicorn with the in-memory layer, uvicorn with the Redis layer, pub/sub
(the default with REDIS_URL) and lists (channels-redis' own default) (REDIS_URL when set, with
a unique key prefix; else a redis-server started here on a free port), and a bare `websockets`
echo server — started fresh on the same database, in two rounds (the second in the opposite
order):

1. **Sockets and memory.** Warm-up (a customer and an agent connect and say hello), then the
   server's RSS; then BENCH_CHAT_SOCKETS customer sockets are opened (64 at a time), each
   says `hello` and waits for `welcome`: the conversations' sockets resume their conversation
   (`after` = the last message id, so nothing is replayed), the others start fresh. Plus the
   agents' sockets (`hello` → `console`). RSS again: (after - before) / sockets opened.
2. **Delivery latency.** Each conversation's socket sends one `message` per second, staggered,
   so BENCH_CHAT_RATE messages/s in all (the protocol's rate limit is 20 frames per 10 s per
   socket), for BENCH_CHAT_WARMUP + BENCH_CHAT_SECONDS s; latency = customer `send` → the
   agent's socket receives the `message` frame (same process, one clock), over the measured
   seconds only. Also the customer's `ack` latency, lost and duplicated deliveries, and the
   server's CPU time per message (from /proc; for the Redis run, redis-server's too).
3. **Bot replies.** Each bot conversation's socket sends a question from
   bench/data/kb_eval.jsonl (answerable, in the conversation's language; never one that asks
   for a person or sounds urgent) every BENCH_CHAT_BOT_CHATS / BENCH_CHAT_BOT_RATE s, so
   BENCH_CHAT_BOT_RATE questions/s, for BENCH_CHAT_BOT_SECONDS s, with the other sockets
   still open; latency = `send` → the bot's `message` frame.
The echo server gets steps 1 and 2 (latency = send → the echo on the same socket).

The load generator (this process, uvloop when installed) shares the 2 cores with the server
(and redis-server): its garbage collector is frozen after the sockets are open and disabled
during the timed phases, so its own pauses do not show up as server latency. The servers run
`uvicorn bench.chat:application` (= helpcenter.asgi.application, plus a gc callback that logs
every full collection's duration), with `--lifespan on` as `manage.py serve` runs it: the
server warms up and calls `gc.freeze()` before it accepts connections (helpcenter/lifespan.py).

Knobs: BENCH_CHAT_SOCKETS (2000), BENCH_CHAT_RATE (200), BENCH_CHAT_SECONDS (20),
BENCH_CHAT_WARMUP (3), BENCH_CHAT_AGENTS (20), BENCH_CHAT_BOT_CHATS (20), BENCH_CHAT_BOT_RATE
(10), BENCH_CHAT_BOT_SECONDS (12), BENCH_CHAT_SERVERS (memory,pubsub,redis,echo),
BENCH_CHAT_ROUNDS (2: the second in the opposite order), BENCH_CHAT_UVICORN_ARGS,
BENCH_CHAT_LOW_RATE (25), BENCH_CHAT_LOW_SECONDS (10), BENCH_CHAT_VERBOSE, BENCH_CHAT_TIMELINE.
"""

import asyncio
import contextlib
import gc
import io
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench import common

SOCKETS = int(os.environ.get("BENCH_CHAT_SOCKETS", "2000"))
RATE = int(os.environ.get("BENCH_CHAT_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_CHAT_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_CHAT_WARMUP", "3"))
AGENT_SOCKETS = int(os.environ.get("BENCH_CHAT_AGENTS", "20"))
BOT_CHATS = int(os.environ.get("BENCH_CHAT_BOT_CHATS", "20"))
BOT_RATE = float(os.environ.get("BENCH_CHAT_BOT_RATE", "10"))
BOT_SECONDS = float(os.environ.get("BENCH_CHAT_BOT_SECONDS", "12"))
SERVERS = os.environ.get("BENCH_CHAT_SERVERS", "memory,pubsub,redis,echo").split(",")
ROUNDS = int(os.environ.get("BENCH_CHAT_ROUNDS", "2"))
LOW_RATE = float(os.environ.get("BENCH_CHAT_LOW_RATE", "25"))
LOW_SECONDS = float(os.environ.get("BENCH_CHAT_LOW_SECONDS", "10"))
BACKLOG_SECONDS = 2.0  # stop sending when this many seconds of messages wait for delivery
PER_SOCKET_RATE = 1.0  # messages per second per conversation (the rate limit allows 2)
CONNECT_CONCURRENCY = 64
DRAIN_SECONDS = 15.0
GOAL_SOCKETS, GOAL_DELIVERY_P99_MS, GOAL_BOT_P95_MS = 2000, 50.0, 100.0
SLOW_GC_MS = 5.0


# --- Inside the servers: the application, observed ------------------------------------------


_observed: list = []


def _log_full_collections(path: str) -> None:
    """Append "<unix time> <ms> <generation>" for each collection of generation 2 (and any
    slower than SLOW_GC_MS) to ``path``."""
    started = [0.0]

    def callback(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - started[0]) * 1000
        if info["generation"] == 2 or took >= SLOW_GC_MS:
            with open(path, "a") as log:
                log.write(f"{time.time():.3f} {took:.2f} {info['generation']}\n")

    gc.callbacks.append(callback)


def __getattr__(name: str):
    """``uvicorn bench.chat:application``: the project's ASGI application, with full garbage
    collections logged to BENCH_CHAT_GC_LOG."""
    if name != "application":
        raise AttributeError(name)
    from helpcenter.asgi import application

    if not _observed:  # uvicorn may look the attribute up more than once
        _observed.append(True)
        if interval := os.environ.get("BENCH_CHAT_SWITCH_INTERVAL"):
            sys.setswitchinterval(float(interval))
        if log := os.environ.get("BENCH_CHAT_GC_LOG"):
            _log_full_collections(log)
    return application


def echo_server(port: int) -> None:
    """The ceiling: a bare `websockets` server that sends every text frame back."""
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for message in ws:
            await ws.send(message)

    async def serve_forever():
        async with serve(handler, "127.0.0.1", port, compression=None, backlog=2048):
            await asyncio.get_running_loop().create_future()

    _run(serve_forever())


def _run(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --- Processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SOCKETS * 2 + 1000
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid: int, key: str) -> float:
    """A /proc/<pid>/status figure in MiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "-" for c in label)


class Process:
    """A server subprocess in its own process group, its output in a log file."""

    def __init__(self, label: str, command: list[str], env: dict, log_dir: Path):
        self.label = label
        self.log_path = log_dir / f"{_file_name(label)}-{secrets.token_hex(3)}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=common.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def log_tail(self, size: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-size:]
        return ""

    def wait_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.label} did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_redis(log_dir: Path) -> tuple[str, Process | None]:
    """REDIS_URL when set, else a redis-server of our own on a free port."""
    if url := os.environ.get("REDIS_URL"):
        return url, None
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench.chat needs Redis: set REDIS_URL or apt-get install -y redis-server.")
    port = free_port()
    redis = Process(
        "redis-server",
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        dict(os.environ),
        log_dir,
    )
    redis.wait_port(port, timeout=10)
    return f"redis://127.0.0.1:{port}/0", redis


# --- Set-up (this process, before any server runs) --------------------------------------------


@dataclass
class Site:
    agent_cookies: list[str]
    chat_tokens: list[str]  # handed off and accepted: the delivery conversations
    bot_chats: list[tuple[str, str]]  # (token, language)
    questions: dict[str, list[str]]  # language -> bot questions
    warm_bot_chat: str = ""  # the warm-up's conversation
    ranker: str = ""


def prepare_site() -> Site:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from core.roles import AGENTS
    from tickets.chat import bot
    from tickets.chat import services as chat
    from tickets.models import AgentProfile, RoutingMode, Team

    call_command("load_demo", stdout=io.StringIO())
    Team.objects.update(routing_mode=RoutingMode.MANUAL)  # accepted here, one by one
    teams = list(Team.objects.all())
    chats = max(int(max(RATE, LOW_RATE) / PER_SOCKET_RATE), 1)
    User = get_user_model()
    agents, cookies = [], []
    for n in range(AGENT_SOCKETS):
        user = User.objects.create_user(
            f"bench-agent-{n:02d}", password=None, is_staff=True, first_name=f"Agent {n}"
        )
        user.groups.add(Group.objects.get(name=AGENTS))
        profile, _created = AgentProfile.objects.get_or_create(user=user)
        profile.chat_capacity = chats
        profile.save()
        profile.teams.set(teams)
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        agents.append(user)
    tokens = []
    for i in range(chats):
        customer = chat.chat_customer(user=None, visitor_key=f"bench-chat-{i}")
        posted = chat.customer_message(
            ticket=None, customer=customer, text="My parcel has not arrived yet",
            client_id=f"setup-{i}",
        )  # fmt: skip
        chat.handoff(ticket=posted.ticket, reason="asked")
        chat.accept(ticket_id=posted.ticket.pk, agent=agents[i % len(agents)])
        tokens.append(posted.ticket.access_key)
    bot_chats = []
    for j in range(BOT_CHATS + 1):
        language, text = ("en", "Hello") if j % 2 == 0 else ("zh-hans", "你好")
        customer = chat.chat_customer(user=None, visitor_key=f"bench-bot-{j}")
        posted = chat.customer_message(
            ticket=None, customer=customer, text=text, client_id=f"bot-setup-{j}"
        )
        bot_chats.append((posted.ticket.access_key, posted.ticket.language))
    questions: dict[str, list[str]] = defaultdict(list)
    lines = (common.ROOT / "bench" / "data" / "kb_eval.jsonl").read_text("utf-8").splitlines()
    for line in lines:
        item = json.loads(line)
        language = "zh-hans" if item["lang"].startswith("zh") else "en"
        text = item["q"]
        if not item.get("expected") or bot.wants_a_person(text):
            continue
        if bot.sounds_urgent(text, language=language):
            continue
        questions[language].append(text)
    warm = bot_chats.pop()[0] if len(bot_chats) > BOT_CHATS else ""
    from django.db import connection

    if connection.vendor == "sqlite":
        # Every server starts from a checkpointed database, not the set-up's WAL.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Site(cookies, tokens, bot_chats, dict(questions), warm, ranker=_ranker())


def _ranker() -> str:
    """Which ranking the bot's decisions use on this database (semantic, or full-text when
    the encoder cannot load)."""
    from kb.answers import decide

    decision = decide("How long does a refund take?", language="en")
    return f"kb.answers.decide, ranker {decision.ranker}"


def last_message_id() -> int:
    from django.db import connection
    from django.db.models import Max

    from tickets.models import Message

    value = Message.objects.aggregate(m=Max("pk"))["m"] or 0
    connection.close()
    return value


# --- The load generator -----------------------------------------------------------------------


@dataclass
class Phase:
    """One delivery measurement at an offered rate."""

    rate: float
    seconds: float
    sent: int = 0
    achieved: float = 0.0  # messages/s actually sent in the window
    throughput: float = 0.0  # messages/s delivered during the window
    capacity: float = float("nan")  # messages/s delivered from the backlog, once stopped
    latencies: list = field(default_factory=list)  # ms
    ack_latencies: list = field(default_factory=list)
    late: int = 0  # not delivered DRAIN_SECONDS after the last send
    duplicates: int = 0
    cpu_ms: float = float("nan")
    redis_cpu_ms: float = float("nan")
    stopped_at: float | None = None  # s after the first send, when the backlog grew too long
    window: tuple = (0.0, 0.0)  # unix times
    timeline: list = field(default_factory=list)
    slow: list = field(default_factory=list)
    full_gcs: list = field(default_factory=list)


@dataclass
class Run:
    label: str
    sockets: int = 0
    agents: int = 0
    connect_s: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    peak: float = 0.0
    phases: list = field(default_factory=list)
    bot_cold_ms: float = float("nan")
    bot_latencies: list = field(default_factory=list)
    bot_kinds: Counter = field(default_factory=Counter)
    bot_missing: int = 0
    gc_max_ms: float = 0.0
    gc_count: int = 0
    closed: int = 0  # sockets the server closed during the run
    errors: Counter = field(default_factory=Counter)
    note: str = ""


class Client:
    """One socket; after ``start_reading`` a task hands each frame to ``on_frame``."""

    def __init__(self, ws):
        self.ws, self.on_frame, self.reader = ws, None, None

    def start_reading(self, on_frame) -> None:
        self.stop_reading()
        self.on_frame = on_frame
        self.reader = asyncio.ensure_future(self._read())

    def stop_reading(self) -> None:
        if self.reader:
            self.reader.cancel()
            self.reader = None

    async def _read(self):
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                self.on_frame(time.perf_counter(), json.loads(raw))

    async def send(self, frame: dict) -> bool:
        """False when the server has closed the socket."""
        try:
            await self.ws.send(json.dumps(frame))
        except Exception:  # noqa: BLE001 - ConnectionClosed: counted by the caller
            return False
        return True

    @property
    def closed(self) -> bool:
        return self.ws.close_code is not None

    async def recv_until(self, predicate, timeout: float = 60) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.ws.recv())
                if predicate(frame):
                    return frame

    async def close(self) -> None:
        self.stop_reading()
        with contextlib.suppress(Exception):
            await self.ws.close()


def of_type(kind: str):
    return lambda frame: frame.get("type") == kind


async def open_client(port: int, path: str, cookie: str | None = None) -> Client:
    from websockets.asyncio.client import connect

    ws = await connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie} if cookie else None,
        compression=None,
        ping_interval=None,
        open_timeout=60,
        close_timeout=2,
    )
    return Client(ws)


async def gather_limited(count: int, job, limit: int = CONNECT_CONCURRENCY) -> float:
    semaphore = asyncio.Semaphore(limit)

    async def one(index):
        async with semaphore:
            await job(index)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started


async def paced(count: int, rate: float, send, stop=None) -> None:
    """``await send(k)`` for k in range(count), ``rate`` per second, until ``stop()``."""
    start = time.perf_counter() + 0.05
    for k in range(count):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if stop is not None and stop(k):
            return
        await send(k)


async def delivery(run: Run, rate: float, seconds: float, senders: list, receivers: list, *,
                   echo: bool, server_pid: int, redis_pid: int | None) -> Phase:  # fmt: skip
    """``rate`` messages/s from ``senders`` (round robin); latency to the ``receivers`` (the
    agents; for the echo server, the sender itself). Sending stops early when more than
    BACKLOG_SECONDS of messages are waiting (the server cannot keep up)."""
    phase = Phase(rate, seconds)
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    own: dict[str, float] = {}  # the customer's own message, back through its group
    delivered: dict[str, list[float]] = defaultdict(list)
    tag = secrets.token_hex(3)

    def on_sender_frame(now, frame):
        kind, client_id = frame.get("type"), frame.get("client_id")
        if echo and client_id in sent:
            delivered[client_id].append(now)
        elif kind == "message" and client_id in sent:
            own.setdefault(client_id, now)
        elif kind == "ack":
            acked.setdefault(client_id, now)
        elif kind == "error":
            run.errors[frame.get("code")] += 1

    def on_receiver_frame(now, frame):
        kind, client_id = frame.get("type"), frame.get("client_id")
        if kind == "message" and client_id in sent:
            delivered[client_id].append(now)
        elif kind == "error":
            run.errors[frame.get("code")] += 1

    for client in senders:
        client.start_reading(on_sender_frame)
    if not echo:
        for client in receivers:
            client.start_reading(on_receiver_frame)
    warmup = min(WARMUP, seconds)
    total = int(rate * (warmup + seconds))
    first = int(rate * warmup)
    marks = {}

    def stop(k):
        if k in (0, first):
            marks[k] = (cpu_seconds(server_pid), cpu_seconds(redis_pid), time.time())
        if k and k % 10 == 0 and len(sent) - len(delivered) > rate * BACKLOG_SECONDS:
            phase.stopped_at = k / rate
            return True
        return False

    async def send(k):
        client_id = f"{tag}-{k}"
        sent[client_id] = time.perf_counter()
        if not await senders[k % len(senders)].send(
            {"type": "message", "text": f"Bench message {k}: where is my parcel?",
             "client_id": client_id}
        ):  # fmt: skip
            run.errors["send on a closed socket"] += 1

    await paced(total, rate, send, stop)
    last_send = time.perf_counter()
    # The window: the messages sent after the warm-up; all of them when the backlog stopped
    # the sending during the warm-up already.
    ids = [f"{tag}-{k}" for k in range(first, total) if f"{tag}-{k}" in sent]
    start = marks.get(first)
    if not ids:
        ids, start = [f"{tag}-{k}" for k in range(total) if f"{tag}-{k}" in sent], marks[0]
    deadline = time.perf_counter() + DRAIN_SECONDS
    while time.perf_counter() < deadline and not all(delivered.get(i) for i in ids):
        if all(c.closed for c in receivers):
            break
        await asyncio.sleep(0.05)
    # CPU until the backlog is delivered: per message of the window, whatever the backlog.
    end = (cpu_seconds(server_pid), cpu_seconds(redis_pid), time.time())
    await asyncio.sleep(0.3)  # late duplicates
    for client in senders + receivers:
        client.stop_reading()
    window_start = sent[ids[0]]
    phase.sent = len(ids)
    phase.achieved = (len(ids) - 1) / max(sent[ids[-1]] - window_start, 1e-9)
    phase.throughput = sum(
        1 for i in ids if delivered.get(i) and delivered[i][0] <= last_send
    ) / max(last_send - window_start, 1e-9)
    if phase.stopped_at is not None:
        # How fast the server works through the backlog once nothing new comes: its capacity.
        after = [times[0] for times in delivered.values() if times[0] > last_send]
        if len(after) >= 20:
            phase.capacity = len(after) / (max(after) - last_send)
    samples = []
    for client_id in ids:
        times = delivered.get(client_id)
        if not times:
            phase.late += 1
            continue
        phase.duplicates += len(times) - 1
        latency = (times[0] - sent[client_id]) * 1000
        phase.latencies.append(latency)
        samples.append((sent[client_id] - window_start, latency))
        if client_id in acked:
            phase.ack_latencies.append((acked[client_id] - sent[client_id]) * 1000)
    if os.environ.get("BENCH_CHAT_VERBOSE") == "1":
        for client_id in ids[:: max(len(ids) // 8, 1)]:
            t0 = sent[client_id]
            print(
                f"    {client_id}: ack {(acked.get(client_id, t0) - t0) * 1000:.0f} ms, own echo "
                f"{(own.get(client_id, t0) - t0) * 1000:.0f} ms, agent "
                f"{((delivered.get(client_id) or [t0])[0] - t0) * 1000:.0f} ms"
            )
    phase.timeline = _timeline(samples)
    phase.slow = sorted(samples, key=lambda s: -s[1])[:5]
    phase.cpu_ms = (end[0] - start[0]) * 1000 / len(ids)
    if redis_pid:
        phase.redis_cpu_ms = (end[1] - start[1]) * 1000 / len(ids)
    phase.window = (start[2], end[2])
    return phase


def _timeline(samples: list[tuple[float, float]]) -> list[tuple[int, float, float]]:
    """(second of the window, p50 ms, max ms) of the messages sent in each second."""
    seconds: dict[int, list[float]] = defaultdict(list)
    for at, latency in samples:
        seconds[int(at)].append(latency)
    return [(s, common.median(v), max(v)) for s, v in sorted(seconds.items())]


def _bot_kind(frame: dict) -> str:
    if frame.get("articles"):
        return "answer"
    if any(o.get("type") == "article" for o in frame.get("options") or []):
        return "clarify"
    return "no answer"


async def bot_replies(run: Run, clients: list[tuple[Client, str]], questions: dict) -> None:
    """BOT_RATE questions/s spread over the bot conversations; latency to the bot's answer."""
    pending: dict[int, float] = {}

    def reader(index):
        def on_frame(now, frame):
            kind = frame.get("type")
            if kind == "message" and frame.get("author") == "bot":
                started = pending.pop(index, None)
                if started is not None:
                    run.bot_latencies.append((now - started) * 1000)
                    run.bot_kinds[_bot_kind(frame)] += 1
            elif kind == "error":
                run.errors[frame.get("code")] += 1
            elif kind in ("queue", "agent_joined"):
                run.bot_kinds["handed off"] += 1

        return on_frame

    for index, (client, _language) in enumerate(clients):
        client.start_reading(reader(index))
    asked = Counter()

    async def send(k):
        index = k % len(clients)
        client, language = clients[index]
        pool = questions[language]
        text = pool[asked[language] % len(pool)]
        asked[language] += 1
        if index in pending:  # the previous question was never answered
            run.bot_missing += 1
        pending[index] = time.perf_counter()
        frame = {"type": "message", "text": text, "client_id": secrets.token_hex(8)}
        if not await client.send(frame):
            run.errors["send on a closed socket"] += 1

    await paced(int(BOT_RATE * BOT_SECONDS), BOT_RATE, send)
    deadline = time.perf_counter() + DRAIN_SECONDS
    while pending and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    run.bot_missing += len(pending)
    for client, _language in clients:
        client.stop_reading()


async def warm_up(port: int, site: Site | None, run: Run, after: int) -> None:
    """The code paths the sockets take, before the first RSS reading; for the bot, its first
    (cold) reply is timed here and left out of the measured ones."""
    if site is None:
        warm = await open_client(port, "/")
        await warm.send({"type": "hello"})
        await warm.recv_until(of_type("hello"))
        await warm.close()
        return
    warm = await open_client(port, "/ws/agent/", site.agent_cookies[0])
    await warm.send({"type": "hello"})
    await warm.recv_until(of_type("console"))
    await warm.close()
    warm = await open_client(port, "/ws/chat/")
    await warm.send({"type": "hello", "conversation": site.warm_bot_chat, "after": after})
    await warm.recv_until(of_type("welcome"))
    started = time.perf_counter()
    await warm.send(
        {"type": "message", "text": site.questions["en"][0], "client_id": secrets.token_hex(8)}
    )
    try:
        await warm.recv_until(lambda f: f.get("type") == "message" and f.get("author") == "bot")
        run.bot_cold_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:  # noqa: BLE001 - reported, the run goes on
        run.errors[f"warm-up bot reply: {type(exc).__name__}"] += 1
    await warm.close()


async def drive(run: Run, port: int, server_pid: int, redis_pid: int | None, site: Site | None,
                after: int) -> None:  # fmt: skip
    """Steps 1-3 against one server (``site`` None: the echo server)."""
    echo = site is None
    clients: list[Client] = []
    chat_clients: list[Client] = []
    bot_clients: list[tuple[Client, str]] = []
    agent_clients: list[Client] = []
    chats = len(site.chat_tokens) if site else max(int(max(RATE, LOW_RATE) / PER_SOCKET_RATE), 1)
    bots = len(site.bot_chats) if site else 0
    customers = max(SOCKETS, chats + bots)

    async def customer(index):
        client = await open_client(port, "/" if echo else "/ws/chat/")
        clients.append(client)
        if echo:
            await client.send({"type": "hello", "client_id": f"hello-{index}"})
            await client.recv_until(of_type("hello"))
        else:
            token = None
            if index < chats:
                token = site.chat_tokens[index]
            elif index < chats + bots:
                token = site.bot_chats[index - chats][0]
            await client.send({"type": "hello", "conversation": token, "after": after})
            await client.recv_until(of_type("welcome"))
        if index < chats:
            chat_clients.append(client)
        elif index < chats + bots:
            bot_clients.append((client, site.bot_chats[index - chats][1]))

    async def agent(index):
        client = await open_client(port, "/ws/agent/", site.agent_cookies[index])
        clients.append(client)
        await client.send({"type": "hello"})
        await client.recv_until(of_type("console"))
        agent_clients.append(client)

    try:
        await warm_up(port, site, run, after)
        await asyncio.sleep(0.5)
        run.rss_before = proc_status(server_pid, "VmRSS")
        run.connect_s = await gather_limited(customers, customer)
        if not echo:
            run.connect_s += await gather_limited(len(site.agent_cookies), agent)
        run.sockets, run.agents = customers, len(agent_clients)
        await asyncio.sleep(1.0)  # the agents join their chats' groups after their console frame
        run.rss_after = proc_status(server_pid, "VmRSS")
        print(
            f"  {run.label}: {run.sockets:,} customer + {run.agents} agent sockets open in "
            f"{run.connect_s:.1f} s; RSS {run.rss_before:.0f} → {run.rss_after:.0f} MiB",
            flush=True,
        )
        # The load generator's own collector must not pause the clock (see the docstring).
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            for rate, seconds in ((LOW_RATE, LOW_SECONDS), (RATE, SECONDS)):
                if rate <= 0 or seconds <= 0:
                    continue
                phase = await delivery(
                    run, rate, seconds, chat_clients, chat_clients if echo else agent_clients,
                    echo=echo, server_pid=server_pid, redis_pid=redis_pid,
                )  # fmt: skip
                run.phases.append(phase)
                print(
                    f"  {run.label}: {rate:g} msg/s offered, {phase.throughput:.0f} delivered/s: "
                    f"p50 {_ms(phase.latencies, 50)} ms, p99 {_ms(phase.latencies, 99)} ms"
                    + (
                        ""
                        if phase.stopped_at is None
                        else f" (stopped after {phase.stopped_at:.1f} s; backlog drained at "
                        f"{phase.capacity:.0f} msg/s)"
                    ),
                    flush=True,
                )
            if bot_clients:
                await bot_replies(run, bot_clients, site.questions)
                print(
                    f"  {run.label}: bot p95 {_ms(run.bot_latencies, 95)} ms "
                    f"({len(run.bot_latencies)} replies; first, cold: {run.bot_cold_ms:.0f} ms)",
                    flush=True,
                )
        finally:
            gc.enable()
            gc.unfreeze()
        run.peak = proc_status(server_pid, "VmHWM")
        run.closed = sum(1 for c in clients if c.closed)
    finally:
        await gather_limited(len(clients), lambda i: clients[i].close(), limit=256)


def read_gc_log(path: Path, run: Run) -> None:
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        stamp, took, generation = line.split()
        stamp, took = float(stamp), float(took)
        if generation == "2":
            run.gc_count += 1
            run.gc_max_ms = max(run.gc_max_ms, took)
        for phase in run.phases:
            if phase.window[0] <= stamp <= phase.window[1]:
                phase.full_gcs.append((stamp - phase.window[0], took, generation))


def run_server(label: str, layer: str | None, site: Site | None, redis_url: str | None,
               var_dir: Path, redis_pid: int | None) -> Run:  # fmt: skip
    run = Run(label)
    port = free_port()
    python = sys.executable
    gc_log = var_dir / f"gc-{_file_name(label)}.log"
    env = {**os.environ, "LOG_LEVEL": "WARNING", "BENCH_CHAT_GC_LOG": str(gc_log)}
    # Every simulated customer comes from 127.0.0.1: lift the per-address socket cap.
    env.setdefault("CHAT_SOCKETS_PER_ADDRESS", "1000000")
    if layer is None:
        command = [python, "-m", "bench.chat", "echo-server", str(port)]
    else:
        env.pop("REDIS_URL", None)
        if layer in ("redis", "pubsub"):
            env["REDIS_URL"] = redis_url
            env["REDIS_CHANNEL_LAYER"] = "lists" if layer == "redis" else "pubsub"
            env["CACHE_KEY_PREFIX"] = f"hcbench{secrets.token_hex(4)}"
        command = [
            python, "-m", "uvicorn", "bench.chat:application", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--lifespan", "on", "--no-server-header",
            "--ws-per-message-deflate", "false", "--log-level", "warning",
            *os.environ.get("BENCH_CHAT_UVICORN_ARGS", "").split(),
        ]  # fmt: skip
    server = Process(label, command, env, var_dir)
    try:
        server.wait_port(port)
        after = last_message_id() if site else 0
        redis_pid = redis_pid if layer in ("redis", "pubsub") else None
        _run(drive(run, port, server.pid, redis_pid, site, after))
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
    read_gc_log(gc_log, run)
    errors = [
        line
        for line in server.log_tail(10**7).splitlines()
        if "Error" in line or "Traceback" in line
    ]
    if errors:
        run.note = f"{len(errors)} error line(s) in the server log, e.g. {errors[0][:200]}"
        if os.environ.get("BENCH_CHAT_VERBOSE") == "1":
            kept = Path(tempfile.gettempdir()) / f"hc-bench-chat-{server.log_path.name}"
            shutil.copy(server.log_path, kept)
            print(f"--- {label}: server log kept in {kept}", file=sys.stderr)
    return run


# --- Report -----------------------------------------------------------------------------------


def _ms(values: list, p: float) -> str:
    return f"{common.percentile(values, p):,.1f}" if values else "-"


def report(runs: list[Run], site: Site, redis_label: str) -> None:
    rows = []
    for run in runs:
        per_socket = (run.rss_after - run.rss_before) * 1024 / max(run.sockets + run.agents, 1)
        rows.append(
            [
                run.label,
                f"{run.sockets:,} + {run.agents}",
                f"{run.connect_s:.1f} s",
                f"{(run.sockets + run.agents) / run.connect_s:,.0f}" if run.connect_s else "-",
                f"{run.rss_before:.0f} MiB",
                f"{run.rss_after:.0f} MiB",
                f"{per_socket:.1f} KiB",
                f"{run.peak:.0f} MiB",
                run.closed,
            ]
        )
    headers = ["server", "customer + agent sockets", "open + hello", "sockets/s", "RSS before",
               "RSS after", "per socket", "peak RSS", "closed by the server"]  # fmt: skip
    title = f"## Sockets and memory (goal: {GOAL_SOCKETS:,} sockets on one worker)"
    print(common.table(headers, rows, title=title))
    rows = []
    for run in runs:
        for phase in run.phases:
            p99 = common.percentile(phase.latencies, 99) if phase.latencies else float("inf")
            met = p99 < GOAL_DELIVERY_P99_MS and not phase.late and phase.stopped_at is None
            redis_cpu = phase.redis_cpu_ms
            rows.append(
                [
                    run.label,
                    f"{phase.rate:g}",
                    f"{phase.achieved:.0f}",
                    f"{phase.throughput:.0f}",
                    "-" if phase.capacity != phase.capacity else f"{phase.capacity:.0f}",
                    f"{phase.sent:,}",
                    "-" if phase.stopped_at is None else f"{phase.stopped_at:.1f} s",
                    phase.late,
                    phase.duplicates,
                    _ms(phase.latencies, 50),
                    _ms(phase.latencies, 99),
                    f"{max(phase.latencies):,.1f}" if phase.latencies else "-",
                    "yes" if met else "**no**",
                    f"{_ms(phase.ack_latencies, 50)} / {_ms(phase.ack_latencies, 99)}",
                    f"{phase.cpu_ms:.2f}",
                    "-" if redis_cpu != redis_cpu else f"{redis_cpu:.2f}",
                    len([g for g in phase.full_gcs if g[2] == "2"]),
                ]
            )
    headers = ["server", "offered msg/s", "sent msg/s", "delivered msg/s",
               "backlog drained at msg/s", "messages", "stopped (backlog > 2 s) after", "late", "dup", "p50 ms", "p99 ms", "max ms",
               f"p99 < {GOAL_DELIVERY_P99_MS:.0f} ms", "ack p50 / p99 ms", "server CPU ms/msg",
               "redis CPU ms/msg", "full GCs"]  # fmt: skip
    title = (
        f"## Delivery customer → agent (echo: send → echo), measured after {WARMUP:g} s; "
        f"{LOW_SECONDS:g} s at {LOW_RATE:g} msg/s, {SECONDS:g} s at {RATE:g} msg/s"
    )
    print(common.table(headers, rows, title=title))
    rows = []
    for run in runs:
        if not run.bot_latencies and not run.bot_missing:
            continue
        p95 = common.percentile(run.bot_latencies, 95)
        rows.append(
            [
                run.label,
                f"{BOT_RATE:g}",
                len(run.bot_latencies),
                run.bot_missing,
                _ms(run.bot_latencies, 50),
                _ms(run.bot_latencies, 95),
                _ms(run.bot_latencies, 99),
                "yes" if p95 < GOAL_BOT_P95_MS and not run.bot_missing else "**no**",
                f"{run.bot_cold_ms:,.0f}",
                ", ".join(f"{k} {v}" for k, v in sorted(run.bot_kinds.items())),
            ]
        )
    if rows:
        headers = ["server", "questions/s", "replies", "missing", "p50 ms", "p95 ms", "p99 ms",
                   f"p95 < {GOAL_BOT_P95_MS:.0f} ms", "first reply (cold) ms",
                   "replies by kind"]  # fmt: skip
        title = f"## Bot replies (send → the bot's message); {site.ranker}"
        print(common.table(headers, rows, title=title))
    print("\nSlowest deliveries (s into the window: ms) and full collections in the server:")
    timeline = os.environ.get("BENCH_CHAT_TIMELINE") == "1"
    for run in runs:
        print(f"- {run.label}: {run.gc_count} full collections in the run, longest "
              f"{run.gc_max_ms:.0f} ms")  # fmt: skip
        for phase in run.phases:
            slow = ", ".join(f"{at:.1f}: {ms:,.0f}" for at, ms in phase.slow)
            gcs = ", ".join(f"{at:.1f}: {ms:.0f} ms" for at, ms, g in phase.full_gcs if g == "2")
            slow_young = ", ".join(
                f"{at:.1f}: {ms:.0f} ms (gen {g})" for at, ms, g in phase.full_gcs if g != "2"
            )
            print(
                f"  - {phase.rate:g} msg/s: slowest {slow or '-'}; full GCs {gcs or 'none'}; "
                f"younger collections over {SLOW_GC_MS:g} ms: {slow_young or 'none'}"
            )
            if timeline:
                print("    per second (p50/max ms): " + ", ".join(
                    f"{s}: {p50:.0f}/{top:.0f}" for s, p50, top in phase.timeline))  # fmt: skip
        if run.errors:
            print(f"  error frames: {dict(run.errors)}")
        if run.note:
            print(f"  {run.note}")
    pool = "as helpcenter/settings.py configures it (socket_timeout None, max_connections 5,000)"
    print(
        f"\nRedis: {redis_label}; channel layer pool: {pool}. "
        "The servers run with --lifespan on: warm-up, then gc.freeze() (helpcenter/lifespan.py)."
    )


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "echo-server":
        echo_server(int(sys.argv[2]))
        return 0
    limit = raise_open_files_limit()
    var_dir = common.prepare("chat")
    # Tasks run in-process and mail goes nowhere: nothing is left in a (shared) task queue.
    os.environ["TASKS_EAGER"] = "1"
    os.environ["EMAIL_URL"] = "locmem://"
    started = time.perf_counter()
    common.setup_django()
    site = prepare_site()
    from django.db import connection

    database = common.database_label()
    connection.close()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    import uvicorn
    import websockets

    print(f"# Live-chat sockets — {database}; {common.machine()}")
    print(
        f"uvicorn {uvicorn.__version__} (1 worker, --ws-per-message-deflate false), websockets "
        f"{websockets.__version__}, load generator on {loop}; open files limit {limit}; "
        f"set-up (migrate, demo data, {len(site.chat_tokens)} accepted chats, "
        f"{len(site.bot_chats)} bot chats, {AGENT_SOCKETS} agents) {time.perf_counter() - started:.1f} s\n"
    )
    redis_url, redis = (None, None)
    if {"redis", "pubsub"} & set(SERVERS):
        redis_url, redis = start_redis(var_dir)
    redis_label = (
        "none"
        if redis_url is None
        else ("REDIS_URL (unique key prefix)" if redis is None else "redis-server started here")
    )
    runs = []
    try:
        # Round 2 runs the servers in the opposite order: on a shared machine a slow spell
        # then hits a different server, and each server's figures come from two moments.
        for round_number in range(1, ROUNDS + 1):
            order = SERVERS if round_number % 2 else SERVERS[::-1]
            for name in order:
                label = {
                    "memory": "uvicorn, in-memory layer",
                    "redis": "uvicorn, Redis layer (lists)",
                    "pubsub": "uvicorn, Redis layer (pub/sub)",
                    "echo": "bare websockets echo",
                }[name]
                if ROUNDS > 1:
                    label += f", round {round_number}"
                runs.append(
                    run_server(
                        label,
                        None if name == "echo" else name,
                        None if name == "echo" else site,
                        redis_url,
                        var_dir,
                        redis.pid if redis else None,
                    )
                )
    finally:
        if redis:
            redis.stop()
    report(runs, site, redis_label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
