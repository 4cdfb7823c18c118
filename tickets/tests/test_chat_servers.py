"""Live chat against real servers (docs/chat-protocol.md, "Guarantees"): `uvicorn
helpcenter.asgi:application` subprocesses on free ports, driven with the `websockets` client.

* Two server processes sharing the Redis channel layer (both kinds: pub/sub, the default, and
  channels-redis' lists): the customer on one, the agent on the other; the agent sees the
  waiting chat, accepts, and messages flow both ways, once each.
  Redis: ``REDIS_URL`` when set (with a unique key prefix), else a ``redis-server`` started on
  a free port for the test, else the test is skipped.
* The Redis layer's pool: its read timeout is longer than its blocking pop (with redis-py 8's
  default a quiet server closed a socket every 5 s), and it has room for thousands of sockets
  (redis-py 8's default pool of 100 lost group_discard calls when 2,000 sockets closed).
* A server killed (SIGKILL) mid-conversation and restarted on the same port: every message the
  customer got an ``ack`` for is replayed exactly once after ``hello`` (and is in the database
  once); the unacknowledged ones, resent with the same ``client_id``, are stored once.
* SQLite's write lock held by another process (a migration, a backup): clear answers within
  the lock timeout over HTTP, on the socket and from /healthz; other sockets are not held up.

The servers always use their own SQLite file in a temp directory (``HELPCENTER_VAR_DIR``),
whatever ``DATABASE_URL`` says: these tests are about processes and the channel layer, and the
database guarantees behind them (unique client ids, commit before broadcast) are covered on
both databases by test_chat.py. Tasks run eagerly in the servers (``TASKS_EAGER``, email to
``locmem``), so nothing is left in a task queue. No test here touches the pytest database.
~30 s in all on 2 cores (the two pool tests start no server).
"""

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0  # seconds for any one frame, server start, etc.
# As `manage.py serve` runs it (one worker).
UVICORN = (
    "helpcenter.asgi:application", "--host", "127.0.0.1", "--lifespan", "off",
    "--no-proxy-headers", "--ws-per-message-deflate", "false", "--log-level", "warning",
)  # fmt: skip

SETUP = """
import json, os
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from core.roles import AGENTS
from tickets.models import AgentProfile, RoutingMode, Team

call_command("migrate", verbosity=0, interactive=False)
Team.objects.update(is_default=False)
desk, _ = Team.objects.update_or_create(
    slug="desk",
    defaults={"name": "Desk", "is_default": True, "routing_mode": RoutingMode.MANUAL},
)
user = get_user_model().objects.create_user(
    "alice", password="pw", is_staff=True, first_name="Alice"
)
user.groups.add(Group.objects.get(name=AGENTS))
profile, _ = AgentProfile.objects.get_or_create(user=user)
profile.chat_capacity = 10
profile.save()
profile.teams.add(desk)
client = Client()
client.force_login(user)
print(json.dumps({"sessionid": client.cookies["sessionid"].value}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(var_dir: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DATABASE_URL",
            "TEST_DATABASE_NAME",
            "REDIS_URL",
            "CACHE_KEY_PREFIX",
            "REDIS_CHANNEL_LAYER",
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpcenter.settings",
        HELPCENTER_VAR_DIR=str(var_dir),
        SECRET_KEY="test-chat-servers-" + var_dir.name,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        TASKS_EAGER="1",
        EMAIL_URL="locmem://",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CHAT_ALLOWED_ORIGINS", None)
    return env


class Site:
    """A migrated temp database with one agent (``alice``, team ``desk``, manual routing)."""

    def __init__(self, var_dir: Path, sessionid: str):
        self.var_dir, self.sessionid = var_dir, sessionid

    def query(self, sql: str, *params):
        with contextlib.closing(sqlite3.connect(self.var_dir / "helpcenter.sqlite3")) as db:
            return db.execute(sql, params).fetchall()

    def ticket_id(self, token: str) -> int:
        return self.query("SELECT id FROM tickets_ticket WHERE access_key = ?", token)[0][0]


@pytest.fixture(scope="module")
def site():
    var_dir = Path(tempfile.mkdtemp(prefix="hc-chat-servers-"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", SETUP],
            cwd=ROOT,
            env=base_env(var_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        yield Site(var_dir, json.loads(result.stdout.strip().splitlines()[-1])["sessionid"])
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


class Server:
    """``uvicorn helpcenter.asgi:application``, one worker, in its own process group."""

    def __init__(self, site: Site, port: int, extra_env: dict | None = None, name: str = "s"):
        self.site, self.port = site, port
        self.log_path = site.var_dir / f"server-{name}-{port}-{time.monotonic_ns()}.log"
        self.env = {**base_env(site.var_dir), **(extra_env or {})}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", *UVICORN, "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""

    async def ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT * 3
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                async with connect(self.url("/ws/ping/"), origin=self.origin, open_timeout=2):
                    return
            except (OSError, TimeoutError, ConnectionClosed):
                await asyncio.sleep(0.1)
            except Exception:  # noqa: BLE001 - a refused handshake: up but unhappy; report it
                break
        raise AssertionError(f"server on port {self.port} did not start:\n{self.log()}")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crash or an OOM kill looks like to the clients."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def servers():
    """Start servers with ``servers.append(Server(...).start())``; all stopped afterwards."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()


class Socket:
    """A JSON WebSocket client that keeps every frame it received."""

    def __init__(self, ws):
        self.ws, self.frames = ws, []

    @classmethod
    async def open(cls, server: Server, path: str, cookie: str | None = None) -> "Socket":
        headers = {"Cookie": cookie} if cookie else None
        ws = await connect(
            server.url(path),
            origin=server.origin,
            additional_headers=headers,
            open_timeout=TIMEOUT,
            compression=None,
        )
        return cls(ws)

    async def send(self, **frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = TIMEOUT) -> dict:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def until(self, predicate, what: str, timeout: float = TIMEOUT) -> dict:
        """Read frames until one satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            try:
                frame = await self.recv(max(left, 0.01))
            except TimeoutError:
                raise AssertionError(f"no {what} within {timeout} s; got {seen}") from None
            seen.append(frame)
            if predicate(frame):
                return frame

    async def quiet(self, seconds: float = 0.5) -> list[dict]:
        """Whatever else arrives within ``seconds``."""
        extra = []
        with contextlib.suppress(TimeoutError):
            while True:
                extra.append(await self.recv(seconds))
        return extra

    def messages(self) -> list[dict]:
        return [f for f in self.frames if f["type"] == "message"]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


def of_type(kind: str, **fields):
    return lambda f: f["type"] == kind and all(f.get(k) == v for k, v in fields.items())


async def start_conversation(customer: Socket, text: str, client_id: str) -> tuple[str, int]:
    """hello + the first message; returns (conversation token, id of the stored message)."""
    await customer.send(type="hello", conversation=None, after=None)
    await customer.until(of_type("welcome"), "welcome")
    await customer.send(type="message", text=text, client_id=client_id)
    ack = await customer.until(of_type("ack", client_id=client_id), "ack")
    welcome = [f for f in customer.frames if f["type"] == "welcome" and f["conversation"]]
    assert welcome, customer.frames
    return welcome[-1]["conversation"], ack["id"]


# --- Two server processes, one Redis channel layer ------------------------------------------


@pytest.fixture
def redis_url():
    """REDIS_URL from the environment, or a redis-server of our own; else skip."""
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "needs Redis: set REDIS_URL or install redis-server (apt-get install redis-server)"
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["pubsub", "lists"])
async def test_customer_and_agent_on_two_server_processes_with_redis(
    site, servers, redis_url, kind
):
    shared = {
        "REDIS_URL": redis_url,
        "REDIS_CHANNEL_LAYER": kind,
        "CACHE_KEY_PREFIX": f"hctest{secrets.token_hex(4)}",
    }
    a = Server(site, free_port(), shared, name="a").start()
    servers.append(a)
    b = Server(site, free_port(), shared, name="b").start()
    servers.append(b)
    await asyncio.gather(a.ready(), b.ready())

    agent = await Socket.open(b, "/ws/agent/", cookie=f"sessionid={site.sessionid}")
    customer = await Socket.open(a, "/ws/chat/")
    try:
        await agent.send(type="hello")
        await agent.until(of_type("console"), "console")

        # Customer on A asks for a person: the chat waits in the queue, the agent on B sees it.
        token, first_id = await start_conversation(customer, "I want a human please", "c1")
        await customer.until(of_type("queue"), "queue position")
        ticket_id = site.ticket_id(token)
        snapshot = await agent.until(
            lambda f: (
                f["type"] == "console" and ticket_id in [w["conversation"] for w in f["waiting"]]
            ),
            "console listing the waiting chat (sent from server A)",
        )
        assert snapshot["status"] == "available"

        await agent.send(type="accept", conversation=ticket_id)
        await agent.until(of_type("accepted", conversation=ticket_id), "accepted")
        joined = await customer.until(of_type("agent_joined"), "agent_joined (from server B)")
        assert joined["name"] == "Alice"

        # Agent (B) → customer (A).
        await agent.send(
            type="message", conversation=ticket_id, text="Hi, Alice here", client_id="a1"
        )
        agent_ack = await agent.until(of_type("ack", client_id="a1"), "agent ack")
        got = await customer.until(of_type("message", id=agent_ack["id"]), "agent's message on A")
        assert (got["author"], got["text"], got["name"]) == ("agent", "Hi, Alice here", "Alice")

        # A reply saved by a third process, in sync code without an event loop (as the admin's
        # ticket page under WSGI or a task sends it), reaches the customer on A through Redis.
        outside = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", AGENT_REPLY, str(ticket_id)],
            cwd=ROOT,
            env={**base_env(site.var_dir), **shared},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert outside.returncode == 0, outside.stderr[-2000:]
        outside_id = int(outside.stdout.split()[-1])
        got = await customer.until(
            of_type("message", id=outside_id), "a reply from another process"
        )
        assert got["text"] == "Replied from the ticket page"

        # Customer (A) → agent (B), twice; a resend of c2 is stored and delivered once.
        acks = {}
        for client_id, text in (("c2", "My parcel is late"), ("c3", "Order 42")):
            await customer.send(type="message", text=text, client_id=client_id)
            ack = await customer.until(of_type("ack", client_id=client_id), "ack")
            acks[client_id] = ack["id"]
        await customer.send(type="message", text="My parcel is late", client_id="c2")
        resent = await customer.until(of_type("ack", client_id="c2"), "ack of the resend")
        assert resent["id"] == acks["c2"]
        for client_id, message_id in acks.items():
            got = await agent.until(of_type("message", id=message_id), f"{client_id} on B")
            assert got["author"] == "customer"
            assert got["client_id"] == client_id

        await asyncio.gather(customer.quiet(0.6), agent.quiet(0.1))
        for side in (customer, agent):
            ids = [m["id"] for m in side.messages()]
            assert len(ids) == len(set(ids)), f"duplicate message frames: {side.messages()}"
        assert {m["id"] for m in agent.messages()} >= set(acks.values())
        assert agent_ack["id"] in {m["id"] for m in customer.messages()}
        assert first_id in {m["id"] for m in customer.messages()}

        # The database holds each message once, in the one conversation.
        rows = site.query(
            "SELECT client_id, count(*) FROM tickets_message WHERE ticket_id = ? AND client_id != ''"
            " GROUP BY client_id",
            ticket_id,
        )
        assert dict(rows) == {"c1": 1, "c2": 1, "c3": 1, "a1": 1}
        assert site.query(
            "SELECT chat_phase, assignee_id IS NOT NULL FROM tickets_ticket WHERE id = ?", ticket_id
        ) == [("agent", 1)]
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}\n--- server A log:\n{a.log()}\n--- server B log:\n{b.log()}"
        ) from None
    finally:
        await customer.close()
        await agent.close()


AGENT_REPLY = """
import sys
import django
django.setup()
from django.contrib.auth import get_user_model
from tickets.chat import services as chat
from tickets.models import Ticket
ticket = Ticket.objects.get(pk=int(sys.argv[1]))
agent = get_user_model().objects.get(username="alice")
posted = chat.agent_message(ticket=ticket, agent=agent, text="Replied from the ticket page")
print(posted.message.pk)
"""


LAYER_POOL = """
import django
django.setup()
from channels.layers import get_channel_layer
from channels_redis.utils import create_pool
from django.conf import settings
backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[1]
# (The pub/sub layer builds itself inside a running event loop: only its class is read.)
blocks = get_channel_layer().brpop_timeout if backend == "RedisChannelLayer" else 0
pool = create_pool(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0])
print(backend, blocks, pool.make_connection().socket_timeout, pool.max_connections)
"""


def redis_layer_pool(tmp_path, kind: str) -> tuple[str, float, float | None, int]:
    """(layer class, seconds it blocks in BZPOPMIN (0: pub/sub), the pool's read timeout, its
    size) as the settings configure them with REDIS_URL and REDIS_CHANNEL_LAYER=``kind``.
    No Redis needed: the pool is built, not used."""
    env = {**base_env(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_CHANNEL_LAYER": kind}
    result = subprocess.run(
        [sys.executable, "-c", LAYER_POOL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    backend, blocks, reads, size = result.stdout.split()
    return backend, float(blocks), None if reads == "None" else float(reads), int(size)


@pytest.mark.parametrize(
    ("kind", "backend"),
    [("pubsub", "RedisPubSubChannelLayer"), ("lists", "RedisChannelLayer")],
)
def test_the_redis_layer_reads_longer_than_it_blocks_and_has_room(tmp_path, kind, backend):
    """redis-py 8 reads with socket_timeout=5 s by default, and channels-redis (lists) blocks
    5 s in BZPOPMIN: when a server's channel stayed quiet for 5 s, the consumer running the
    receive loop got redis TimeoutError and its socket was closed (4 idle sockets on one
    server: closed after 5, 10 and 15 s). And its asyncio pool holds at most 100 connections
    by default: 2,000 sockets closing at once lost 118 group_discard calls in bench/chat.py.
    helpcenter/settings.py passes socket_timeout=None and max_connections=5,000."""
    layer, blocks, reads, size = redis_layer_pool(tmp_path, kind)
    assert layer == backend
    assert reads is None or reads >= 2 * blocks, (blocks, reads)
    assert size >= 2_000, size


# --- A server killed mid-conversation ------------------------------------------------------

BURST = 12  # customer messages sent without waiting (the rate limit is 20 frames in 10 s)
KILL_AFTER_ACKS = 4


def stored_count(site: Site, ticket_id: int) -> int:
    return site.query(
        "SELECT count(*) FROM tickets_message WHERE ticket_id = ? AND client_id != ''", ticket_id
    )[0][0]


@pytest.mark.asyncio
async def test_every_acked_message_survives_a_server_killed_mid_conversation(site, servers):
    port = free_port()
    first = Server(site, port, name="before").start()
    servers.append(first)
    await first.ready()

    customer = await Socket.open(first, "/ws/chat/")
    # Asking for a person first keeps the bot (and the knowledge base) out of this test: while
    # the chat waits in the queue, customer messages are only stored and broadcast.
    token, first_id = await start_conversation(customer, "转人工", "k0")
    await customer.until(of_type("queue"), "queue position")

    sent = {f"k{n}": f"message {n} of the burst" for n in range(1, BURST + 1)}
    for client_id, text in sent.items():
        await customer.send(type="message", text=text, client_id=client_id)
    acked = {"k0": first_id}
    while len(acked) < KILL_AFTER_ACKS + 1:
        frame = await customer.until(of_type("ack"), "ack")
        acked[frame["client_id"]] = frame["id"]
    # Kill once the server has stored at least two messages more than the client has read
    # acks for: those acks are lost with the connection (the client stops reading here), so
    # the resends below include messages already stored and, usually, messages never stored.
    ticket_id = site.ticket_id(token)
    deadline = time.monotonic() + TIMEOUT
    while stored_count(site, ticket_id) < len(acked) + 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    first.kill()
    stored_at_kill = stored_count(site, ticket_id)
    await customer.close()
    assert stored_at_kill >= len(acked) + 2, first.log()

    second = Server(site, port, name="after").start()  # same port, same database, empty layer
    servers.append(second)
    await second.ready()
    again = await Socket.open(second, "/ws/chat/")
    try:
        await again.send(type="hello", conversation=token, after=0)
        welcome = await again.until(of_type("welcome"), "welcome")
        assert welcome["conversation"] == token
        # Resend what was never acknowledged, with the same client ids. Frames are handled in
        # order, so the whole replay has arrived before the first of these acks.
        unacked = [client_id for client_id in sent if client_id not in acked]
        for client_id in unacked:
            await again.send(type="message", text=sent[client_id], client_id=client_id)
        resent = {}
        for client_id in unacked:
            resent[client_id] = (
                await again.until(of_type("ack", client_id=client_id), f"ack of {client_id}")
            )["id"]
        first_ack = (
            next(i for i, f in enumerate(again.frames) if f["type"] == "ack")
            if unacked
            else len(again.frames)
        )
        replayed = [f for f in again.frames[:first_ack] if f["type"] == "message"]

        # Every acked message is in the replay exactly once, with the id its ack carried.
        replay_ids = [m["id"] for m in replayed]
        assert len(replay_ids) == len(set(replay_ids)), replayed
        by_client = {}
        for m in replayed:
            if m.get("client_id"):
                assert m["client_id"] not in by_client, f"{m['client_id']} replayed twice"
                by_client[m["client_id"]] = m["id"]
        for client_id, message_id in acked.items():
            assert by_client.get(client_id) == message_id, (client_id, message_id, replayed)
        # A resent message that had been stored before the kill gets its stored id back (there
        # are at least two such messages: see the kill above).
        already = {c: i for c, i in resent.items() if c in by_client}
        assert len(already) >= 2, (resent, by_client)
        for client_id, message_id in already.items():
            assert by_client[client_id] == message_id
        assert len(set(resent.values())) == len(resent)
        assert not set(resent.values()) & set(acked.values())

        # The database: each client id once, every one of them stored, ids as acknowledged.
        rows = site.query(
            "SELECT client_id, id FROM tickets_message WHERE ticket_id = ? AND client_id != ''",
            site.ticket_id(token),
        )
        stored = {}
        for client_id, message_id in rows:
            assert client_id not in stored, f"{client_id} stored twice"
            stored[client_id] = message_id
        assert set(stored) == {"k0", *sent}
        assert {c: stored[c] for c in acked} == acked
        assert {c: stored[c] for c in resent} == resent

        # A second reconnect replays the whole conversation once more, still without duplicates.
        await again.close()
        last = await Socket.open(second, "/ws/chat/")
        try:
            await last.send(type="hello", conversation=token, after=0)
            await last.until(of_type("welcome"), "welcome")
            await last.quiet(0.5)
            final = [m.get("client_id") for m in last.messages() if m.get("client_id")]
            assert sorted(final) == sorted(stored), final
        finally:
            await last.close()
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}\nacked before the kill: {sorted(acked)}; stored: {stored_at_kill}\n"
            f"--- server before the kill:\n{first.log()}\n--- after:\n{second.log()}"
        ) from None
    finally:
        await again.close()


# --- A write lock held by another process (a long migration, a backup) -------------------------

LOCK_TIMEOUT = 3.0  # the server's DATABASE_LOCK_TIMEOUT_MS, in seconds


@pytest.mark.asyncio
async def test_a_write_lock_held_by_another_process_gets_clear_answers_in_time(site, servers):
    """What the server says while another process holds SQLite's write lock, with its busy
    timeout and its sockets' thread pool as configured in production: HTTP 503 + Retry-After +
    JSON after the lock timeout (not a 500 after 20 s); /healthz 503 at once; a chat message an
    ``unavailable`` error naming it, the socket open; meanwhile other sockets open and resume
    without waiting for the stuck call. Once the lock is gone, the same message is stored once."""
    server = Server(
        site, free_port(), {"DATABASE_LOCK_TIMEOUT_MS": str(int(LOCK_TIMEOUT * 1000))}, name="lock"
    ).start()
    servers.append(server)
    await server.ready()
    customer = await Socket.open(server, "/ws/chat/")
    http = httpx.AsyncClient(base_url=server.origin, timeout=30)
    locker = sqlite3.connect(site.var_dir / "helpcenter.sqlite3", isolation_level=None)
    try:
        token, _ = await start_conversation(customer, "转人工", "before-lock")
        await customer.until(of_type("queue"), "queue position")
        locker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()

        async def guest_ticket():
            response = await http.post(
                "/api/tickets/",
                json={"email": "lock@example.com", "subject": "Locked", "body": "Now?"},
            )
            return response, time.monotonic() - started

        async def health():
            response = await http.get("/healthz")
            return response, time.monotonic() - started

        async def another_socket():
            await asyncio.sleep(0.5)  # the customer's message below is stuck on the lock by now
            opened = time.monotonic()
            other = await Socket.open(server, "/ws/chat/")
            await other.send(type="hello", conversation=token, after=None)  # a resume: a read
            await other.until(of_type("welcome"), "welcome")
            await other.close()
            return time.monotonic() - opened

        await customer.send(type="message", text="Still there?", client_id="during-lock")
        (ticket, ticket_took), (healthz, health_took), other_took = await asyncio.gather(
            guest_ticket(), health(), another_socket()
        )
        error = await customer.until(of_type("error"), "error frame")
        stuck_for = time.monotonic() - started
        await customer.send(type="typing")  # still open: a frame it takes without answering
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
    try:
        assert ticket.status_code == 503, ticket.text
        assert ticket.headers["retry-after"] == "10"
        assert ticket.json() == {"detail": "The service is busy. Please try again in a moment."}
        assert LOCK_TIMEOUT - 0.5 < ticket_took < LOCK_TIMEOUT + 3
        assert healthz.status_code == 503
        assert healthz.json() == {"status": "unavailable", "database": "unavailable"}
        assert health_took < 2.5
        assert other_took < 1.5, "a new socket waited for the stuck call"
        assert (error["code"], error["client_id"]) == ("unavailable", "during-lock")
        assert LOCK_TIMEOUT - 0.5 < stuck_for < LOCK_TIMEOUT + 3
        # The client sends it again later, with the same client_id: stored once.
        await customer.send(type="message", text="Still there?", client_id="during-lock")
        await customer.until(of_type("ack", client_id="during-lock"), "ack after the lock")
        assert (await http.get("/healthz")).status_code == 200
        assert site.query(
            "SELECT count(*) FROM tickets_message WHERE client_id = 'during-lock'"
        ) == [(1,)]
        assert site.query("SELECT count(*) FROM tickets_ticket WHERE subject = 'Locked'") == [(0,)]
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n--- server log:\n{server.log()}") from None
    finally:
        await customer.close()
        await http.aclose()
