#!/usr/bin/env python3
# ruff: noqa: RUF028, C416, RUF059, SIM105, S110
"""Black-box probe for issue 8 (abuse, privacy and reliability defects) against a RUNNING
HelpCenter server.

    .venv/bin/python bench/security_probe.py \
        --base http://127.0.0.1:8765 --project /path/to/project [--only 1,4,12b]

Prints one line per check:  ``ITEM  PASS|FAIL|ERROR|SKIP  detail``.
PASS = the expected (fixed) behaviour was observed; FAIL = the defect is there; ERROR = the
check could not run (setup failed); SKIP = not tested here. Exit status 1 if any FAIL/ERROR.

Only HTTP / WebSocket behaviour is used, plus the project's SQLite file (--project DIR, for
items 6, 8c and 12) -- no imports of the project's code.

Client addresses. Every rate limit is per client address, so each item talks to the server from
its own loopback source address (127.0.0.1xx; Linux routes all of 127/8 to lo), giving every
item a budget of its own and making item 3's "owner from a different real address" testable.
The server must listen on 127.0.0.1 (the default). --no-bind sends everything from 127.0.0.1;
then run rate-limit items separately (--only) against a fresh server.

Usernames locked by the brute-force items: item 2 locks the admin username, item 3 the second
demo customer (dave). They run late; other items sign staff in first (--staff, default admin).
Re-running against the same server within 15 minutes may then refuse those sign-ins: restart
the server (the rate-limit state of the embedded setup is in process memory).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import secrets
import sqlite3
import string
import subprocess
import sys
import time
import traceback
import zlib
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

# Demo accounts (helpcenter/management/commands/load_demo.py).
ADMIN = ("admin", "admin")
VIP_CUSTOMER = ("carol", "carol", "carol@example.com")  # VIP tier
CUSTOMER = ("dave", "dave", "dave@example.com")

NONCE = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
TIMEOUT = httpx.Timeout(40.0, connect=5.0)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

ARGS: argparse.Namespace
RESULTS: list[tuple[str, str, str]] = []


# --- output ----------------------------------------------------------------------------------


def report(item: str, ok: bool | None, detail: str, status: str | None = None) -> None:
    if ONLY and not selected(item):
        return
    status = status or ("PASS" if ok else "FAIL")
    RESULTS.append((item, status, detail))
    print(f"{item:<5} {status:<5} {detail}", flush=True)


def letters(n: int) -> str:
    """A number as letters (search normalisation and tokenisation keep letters intact)."""
    out = ""
    for _ in range(3):
        n, r = divmod(n, 26)
        out = string.ascii_lowercase[r] + out
    return out


# --- HTTP helpers ----------------------------------------------------------------------------


def source(item: int, offset: int = 100) -> str | None:
    """The loopback source address item ``item`` talks from (None with --no-bind)."""
    if ARGS.no_bind:
        return None
    return f"127.0.0.{offset + item}"


def client(addr: str | None = None, **kw) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=addr) if addr else httpx.HTTPTransport()
    return httpx.Client(
        base_url=ARGS.base, transport=transport, timeout=kw.pop("timeout", TIMEOUT),
        follow_redirects=False, **kw,
    )  # fmt: skip


def csrf_of(resp: httpx.Response) -> str:
    m = CSRF_RE.search(resp.text)
    if not m:
        raise RuntimeError(f"no CSRF token in {resp.request.url} ({resp.status_code})")
    return m.group(1)


def is_json(resp: httpx.Response) -> bool:
    if "json" not in resp.headers.get("content-type", ""):
        return False
    try:
        resp.json()
    except ValueError:
        return False
    return True


def customer_login(
    c: httpx.Client, username: str, password: str, headers: dict | None = None
) -> httpx.Response:
    page = c.get("/en/account/login/")
    return c.post(
        "/en/account/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf_of(page)},
        headers=headers or {},
    )


def login_ok(resp: httpx.Response) -> bool:
    return resp.status_code in (301, 302, 303) and "login" not in resp.headers.get("location", "")


def admin_login(c: httpx.Client, username: str, password: str) -> httpx.Response:
    page = c.get("/admin/login/", params={"next": "/admin/"})
    return c.post(
        "/admin/login/?next=/admin/",
        data={
            "username": username, "password": password, "next": "/admin/",
            "csrfmiddlewaretoken": csrf_of(page),
        },
    )  # fmt: skip


_STAFF: httpx.Client | None = None


def staff() -> httpx.Client:
    """A signed-in staff session (admin by default), made once, from its own address."""
    global _STAFF
    if _STAFF is None:
        user, _, password = ARGS.staff.partition(":")
        c = client(source(99, 0) if not ARGS.no_bind else None)
        resp = admin_login(c, user, password)
        if not login_ok(resp):
            raise RuntimeError(f"staff sign-in as {user!r} failed ({resp.status_code})")
        _STAFF = c
    return _STAFF


def staff_ticket(reference: str) -> dict:
    resp = staff().get(f"/api/tickets/{reference}/")
    if resp.status_code != 200:
        raise RuntimeError(f"staff GET /api/tickets/{reference}/ -> {resp.status_code}")
    return resp.json()


def staff_search(q: str, **params) -> list[dict]:
    resp = staff().get("/api/tickets/", params={"q": q, "page_size": 100, **params})
    if resp.status_code != 200:
        raise RuntimeError(f"staff ticket search -> {resp.status_code} {resp.text[:200]}")
    return resp.json()["results"]


def guest_ticket(c: httpx.Client, tag: str, *, email: str | None = None, headers=None, **kw):
    data = {
        "name": f"Probe {tag}",
        "email": email or f"probe-{NONCE}-{tag}@example.com",
        "subject": f"probe {NONCE} {tag}",
        "body": f"Probe ticket {NONCE} {tag}.",
    }
    if kw.get("files"):
        return c.post("/api/tickets/", data=data, headers=headers or {}, **kw)
    return c.post("/api/tickets/", json=data, headers=headers or {}, **kw)


def db_path() -> Path | None:
    if not ARGS.project:
        return None
    path = Path(ARGS.project) / "var" / "helpcenter.sqlite3"
    return path if path.exists() else None


# --- WebSocket helpers -----------------------------------------------------------------------


def ws_url(path: str) -> str:
    parts = urlsplit(ARGS.base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path}"


def ws_open(path: str, *, origin: str | None = None, cookie: str | None = None, addr=None):
    headers = [("Cookie", cookie)] if cookie else None
    kw = {"local_addr": (addr, 0)} if addr else {}
    return ws_connect(
        ws_url(path), origin=origin if origin is not None else ARGS.base.rstrip("/"),
        additional_headers=headers, open_timeout=10, close_timeout=2, max_size=2**22, **kw,
    )  # fmt: skip


def closed_note(exc: ConnectionClosed) -> str:
    if exc.rcvd is not None:
        return f"closed {exc.rcvd.code}"
    return "dropped without a close frame"


async def frames_until(ws, stop, timeout: float) -> tuple[list[dict], str | None]:
    """Receive frames until ``stop(frame)`` is true or ``timeout``; returns (frames, closed)."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, None
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            return got, None
        except ConnectionClosed as exc:
            return got, closed_note(exc)
        frame = json.loads(raw)
        got.append(frame)
        if stop(frame):
            return got, None


def staff_cookie() -> str:
    c = staff()
    return "; ".join(f"{name}={value}" for name, value in c.cookies.items())


# --- 1. X-Forwarded-For spoofing -------------------------------------------------------------


def check_1() -> None:
    def xff(i):
        return {"X-Forwarded-For": f"203.0.113.{i + 1}"}

    if selected("1a"):
        with client(source(1)) as c:
            codes = [guest_ticket(c, f"xff{i}", headers=xff(i)).status_code for i in range(13)]
        ok = all(code == 429 for code in codes[10:])
        report("1a", ok, f"13 guest tickets, rotating XFF, one real address: statuses {codes} "
               "(want 429 from the 11th)")  # fmt: skip
    if not selected("1b"):
        return
    with client(source(1, 150)) as c:
        page = c.get("/en/account/login/")
        token = csrf_of(page)
        codes = []
        for i in range(13):
            resp = c.post(
                "/en/account/login/",
                data={
                    "username": f"spray-{NONCE}-{i}@example.com",
                    "password": f"wrong-{i}",
                    "csrfmiddlewaretoken": token,
                },  # fmt: skip
                headers=xff(i + 50),
            )
            codes.append(resp.status_code)
    ok = all(code == 429 for code in codes[10:])
    report("1b", ok, f"13 failed sign-ins, sprayed usernames, rotating XFF: statuses {codes} "
           "(want 429 from the 11th)")  # fmt: skip


# --- 2. /admin/login/ brute force ------------------------------------------------------------


def check_2() -> None:
    user, password = ADMIN
    with client(source(2)) as c:
        codes = []
        for i in range(15):
            codes.append(admin_login(c, user, f"wrong-{NONCE}-{i}").status_code)
        final = admin_login(c, user, password)
    refused_after = all(code != 200 for code in codes[10:])
    final_ok = login_ok(final)
    ok = refused_after and not final_ok
    report("2", ok, f"15 wrong admin passwords from one address: statuses {codes}; then the "
           f"right one: {final.status_code} {'signed in' if final_ok else 'refused'} "
           "(want 429 from the 11th and the right password refused)")  # fmt: skip


# --- 3. lock-out by a stranger ---------------------------------------------------------------


def check_3() -> None:
    username, password, email = CUSTOMER
    a = source(3)
    with client(a) as c:
        page = c.get("/en/account/login/")
        token = csrf_of(page)
        codes = []
        for i in range(10):
            resp = c.post(
                "/en/account/login/",
                data={"username": username, "password": f"bad-{i}", "csrfmiddlewaretoken": token},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            codes.append(resp.status_code)
    parts, ok = [f"10 failed sign-ins for {username!r} from A={a or '127.0.0.1'} with rotating "
                 f"XFF: {codes}"], True  # fmt: skip
    # The owner from a different real address.
    if not ARGS.no_bind:
        b = source(3, 200)
        with client(b) as c:
            resp = customer_login(c, username, password)
        owner_ok = login_ok(resp)
        ok &= owner_ok
        parts.append(f"owner from real address B={b}: {resp.status_code} "
                     f"{'signed in' if owner_ok else 'REFUSED'} (want signed in)")  # fmt: skip
    else:
        parts.append("owner from another real address: not testable with --no-bind")
    # Password reset from the same address must still be possible.
    with client(a) as c:
        page = c.get("/en/account/password/reset/")
        resp = c.post(
            "/en/account/password/reset/",
            data={"email": email, "csrfmiddlewaretoken": csrf_of(page)},
        )
    reset_ok = resp.status_code in (200, 302, 303)
    ok &= reset_ok
    parts.append(f"password reset from A: {resp.status_code} (want 200/302, not 429)")
    with client(a) as c:
        resp = customer_login(c, username, password)
    parts.append(f"[info] owner from A: {resp.status_code} "
                 f"{'signed in' if login_ok(resp) else 'refused'} (either is acceptable)")  # fmt: skip
    report("3", ok, "; ".join(parts))


# --- 4. guest ticket with a registered customer's email --------------------------------------


def check_4() -> None:
    username, password, email = VIP_CUSTOMER
    with client(source(4)) as c:
        resp = guest_ticket(c, "vipmail", email=email)
    if resp.status_code != 201:
        if resp.status_code == 400 and is_json(resp):
            report("4a", True, f"guest ticket with {email} refused: 400 {resp.text[:150]}")
            report("4b", True, "no ticket was created")
            return
        report("4a", None, f"guest create -> {resp.status_code} {resp.text[:150]}", "ERROR")
        return
    reference = resp.json()["reference"]
    with client(source(4, 150)) as c:
        login = customer_login(c, username, password)
        if not login_ok(login):
            report("4a", None, f"customer sign-in failed: {login.status_code}", "ERROR")
        else:
            listing = c.get("/api/tickets/", params={"page_size": 100})
            refs = [t["reference"] for t in listing.json().get("results", [])]
            detail = c.get(f"/api/tickets/{reference}/")
            visible = reference in refs or detail.status_code == 200
            report("4a", not visible, f"guest ticket {reference} opened with {email}: in "
                   f"{username}'s list: {reference in refs}; {username} GET detail: "
                   f"{detail.status_code} (want absent / 404)")  # fmt: skip
    ticket = staff_ticket(reference)
    lane, tier = ticket.get("lane"), (ticket.get("customer") or {}).get("tier")
    report(
        "4b",
        lane != "vip",
        f"guest ticket {reference}: lane={lane!r}, customer tier={tier!r} "
        f"customer email={(ticket.get('customer') or {}).get('email')!r} (want lane not vip)",
    )


# --- 5. chat token follows a merge into another customer's ticket ----------------------------


async def _chat_start(addr, text: str) -> tuple[str | None, list[dict]]:
    async with ws_open("/ws/chat/", addr=addr) as ws:
        await ws.send(json.dumps({"type": "hello", "conversation": None, "language": "en"}))
        await frames_until(ws, lambda f: f.get("type") in ("welcome", "error"), 5)
        await ws.send(json.dumps({"type": "message", "text": text, "client_id": "c1"}))
        frames, _closed = await frames_until(ws, lambda f: f.get("type") in ("ack", "error"), 15)
        more, _ = await frames_until(ws, lambda f: False, 2)  # the bot's answer
        frames += more
    token = next(
        (f["conversation"] for f in frames if f.get("type") == "welcome" and f.get("conversation")),
        None,
    )
    return token, frames


async def _chat_resume(addr, token: str, text: str) -> tuple[list[dict], list[dict], str | None]:
    async with ws_open("/ws/chat/", addr=addr) as ws:
        await ws.send(json.dumps({"type": "hello", "conversation": token, "after": None}))
        hello_frames, closed = await frames_until(ws, lambda f: False, 3)
        post_frames = []
        if not closed:
            await ws.send(json.dumps({"type": "message", "text": text, "client_id": "c2"}))
            post_frames, closed = await frames_until(
                ws, lambda f: f.get("type") in ("ack", "error"), 10
            )
    return hello_frames, post_frames, closed


def _merge(chat_pk: int, target_pk: int) -> str:
    s = staff()
    url = "/admin/tickets/ticket/?status=all"
    page = s.get(url)
    token = csrf_of(page)
    selected = [str(chat_pk), str(target_pk)]
    first = s.post(url, data={"csrfmiddlewaretoken": token, "action": "merge", "index": "0",
                              "_selected_action": selected})  # fmt: skip
    if m := CSRF_RE.search(first.text):
        token = m.group(1)
    # confirm_other_customers: the explicit confirmation a cross-customer merge asks for
    # (ignored by a server that does not ask).
    done = s.post(url, data={"csrfmiddlewaretoken": token, "action": "merge", "apply": "1",
                             "keep": str(target_pk), "_selected_action": selected,
                             "confirm_other_customers": "on"})  # fmt: skip
    return f"admin merge action: {first.status_code}/{done.status_code}"


def check_5() -> None:
    addr = source(5)
    text = f"hi {NONCE}"
    token, frames = asyncio.run(_chat_start(addr, text))
    if not token:
        report("5", None, f"no conversation token from /ws/chat/: {frames[:4]}", "ERROR")
        return
    chats = [t for t in staff_search(NONCE, channel="chat")]
    if not chats:
        report("5", None, "chat ticket not found through the staff API", "ERROR")
        return
    chat_ref = chats[0]["reference"]
    chat_pk = int(re.sub(r"\D", "", chat_ref))
    # Another customer's ticket (the second demo customer's), not merged, with public messages.
    target = None
    for t in staff_search(CUSTOMER[2]):
        if t.get("merged_into") or (t.get("customer") or {}).get("email") != CUSTOMER[2]:
            continue
        detail = staff_ticket(t["reference"])
        bodies = {m["body"] for m in detail["messages"] if not m["internal"] and m["body"]}
        if bodies:
            target = (t["reference"], int(re.sub(r"\D", "", t["reference"])), bodies)
            break
    if target is None:
        report("5", None, f"no ticket of {CUSTOMER[2]} with public messages to merge into", "ERROR")
        return
    target_ref, target_pk, target_bodies = target
    merge_note = _merge(chat_pk, target_pk)
    merged_into = staff_ticket(chat_ref).get("merged_into")
    after_text = f"after merge {NONCE}"
    hello_frames, post_frames, closed = asyncio.run(_chat_resume(addr, token, after_text))
    leaked = [
        f["text"][:40] for f in hello_frames
        if f.get("type") == "message" and f.get("text") in target_bodies
    ]  # fmt: skip
    other_token = any(
        f.get("type") == "welcome" and f.get("conversation") not in (None, token)
        for f in hello_frames
    )
    landed = any(after_text in (m["body"] or "") for m in staff_ticket(target_ref)["messages"])
    kinds = [f.get("type") + (f":{f.get('code')}" if f.get("code") else "") for f in hello_frames]
    ok = not leaked and not landed and not other_token
    report("5", ok, f"chat {chat_ref} merged into {CUSTOMER[0]}'s {target_ref} ({merge_note}, "
           f"merged_into={merged_into}); resume with old token -> frames {kinds[:8]}"
           f"{' +' + str(len(kinds) - 8) if len(kinds) > 8 else ''}; other customer's messages "
           f"replayed: {len(leaked)}; welcome handed another ticket's token: {other_token}; "
           f"message after resume landed in {target_ref}: {landed}"
           f"{'; ' + closed if closed else ''} (want none of these)")  # fmt: skip


# --- 6. password-reset link stored in task arguments -----------------------------------------


def _decoded_variants(value) -> list[bytes]:
    """The value, plus what base64 / Django signing / zlib / pickle wrappers hide."""
    if value is None:
        return []
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
    out = [raw]
    candidates = [raw]
    text = raw.decode("ascii", "ignore")
    if ":" in text:  # django.core.signing: [.]base64(payload):timestamp:signature
        candidates.append(text.split(":", 1)[0].lstrip(".").encode())
    for cand in candidates:
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                data = decode(cand + b"=" * (-len(cand) % 4))
            except (ValueError, TypeError):
                continue
            out.append(data)
            try:
                out.append(zlib.decompress(data))
            except zlib.error:
                pass
    try:
        out.append(zlib.decompress(raw))
    except zlib.error:
        pass
    return out


def _scan_task_tables(path: Path, needle: bytes) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        tables = [
            row[0] for row in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'django_q%'"
            )
        ]  # fmt: skip
        hits = []
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                for value in row:
                    if any(needle in v for v in _decoded_variants(value)):
                        hits.append(table)
                        break
        return hits
    finally:
        con.close()


def check_6() -> None:
    path = db_path()
    if path is None:
        report("6", None, "needs --project DIR (var/helpcenter.sqlite3)", "SKIP")
        return
    email = VIP_CUSTOMER[2]
    with client(source(6)) as c:
        page = c.get("/en/account/password/reset/")
        resp = c.post("/en/account/password/reset/",
                      data={"email": email, "csrfmiddlewaretoken": csrf_of(page)})  # fmt: skip
    needle = b"password/reset/"
    hits: list[str] = []
    deadline = time.monotonic() + 8  # enqueued, then picked up by the worker (polls every 1 s)
    while time.monotonic() < deadline:
        hits = _scan_task_tables(path, needle)
        if hits:
            break
        time.sleep(1)
    report(
        "6",
        not hits,
        f"reset requested for {email} ({resp.status_code}); 'password/reset/' "
        f"in django_q tables (decoded): {sorted(set(hits)) or 'not found'} (want not found)",
    )


# --- 7. WebSocket Origin check ---------------------------------------------------------------


async def _agent_socket(origin: str, cookie: str, addr) -> str:
    try:
        async with ws_open("/ws/agent/", origin=origin, cookie=cookie, addr=addr) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            frames, closed = await frames_until(ws, lambda f: f.get("type") == "console", 5)
            if any(f.get("type") == "console" for f in frames):
                return "accepted"
            return f"refused ({closed or 'no console frame'})"
    except InvalidStatus as exc:
        return f"refused (HTTP {exc.response.status_code})"
    except (InvalidHandshake, ConnectionClosed, OSError) as exc:
        return f"refused ({type(exc).__name__})"


def check_7() -> None:
    cookie, addr = staff_cookie(), source(7)
    bad = ["http://127.0.0.1:9999", "https://localhost", "http://localhost:1"]
    good = ARGS.base.rstrip("/")
    outcome = {o: asyncio.run(_agent_socket(o, cookie, addr)) for o in [*bad, good]}
    ok = all(outcome[o] != "accepted" for o in bad) and outcome[good] == "accepted"
    report(
        "7",
        ok,
        "; ".join(f"{o} -> {r}" for o, r in outcome.items())
        + " (want the three foreign origins refused, the site's own accepted)",
    )


# --- 8. cheap abuse caps ---------------------------------------------------------------------


async def _many_chats(addr, n: int) -> tuple[int, list[str]]:
    sockets, notes = [], []
    created = 0
    try:
        for i in range(n):
            try:
                ws = await ws_open("/ws/chat/", addr=addr)
            except (InvalidHandshake, OSError) as exc:
                notes.append(f"#{i + 1} handshake refused ({type(exc).__name__})")
                continue
            sockets.append(ws)
            try:
                await ws.send(json.dumps({"type": "hello", "conversation": None, "language": "en"}))
                await frames_until(ws, lambda f: f.get("type") in ("welcome", "error"), 5)
                await ws.send(json.dumps({"type": "message", "text": f"hello {NONCE} {i}",
                                          "client_id": f"m{i}"}))  # fmt: skip
                frames, closed = await frames_until(
                    ws, lambda f: f.get("type") in ("ack", "error"), 20
                )
            except ConnectionClosed as exc:
                frames, closed = [], closed_note(exc)
            if any(f.get("type") == "ack" for f in frames):
                created += 1
            else:
                errs = [f.get("code") for f in frames if f.get("type") == "error"]
                notes.append(f"#{i + 1} {errs or closed or 'no ack'}")
    finally:
        for ws in sockets:
            try:
                await ws.close()
            except Exception:  # noqa: BLE001
                pass
    return created, notes


def check_8() -> None:
    if selected("8a"):
        created, notes = asyncio.run(_many_chats(source(8), 25))
        report("8a", created <= 20, f"25 chat sockets from one address, each sending a first "
               f"message: {created} conversations created{'; ' + ', '.join(notes[:3]) if notes else ''}"
               " (want well below 25; threshold <= 20)")  # fmt: skip
    if selected("8b"):
        with client(source(8, 150)) as c:
            token = csrf_of(c.get("/en/account/signup/"))
            codes = []
            for i in range(30):
                resp = c.post("/en/account/signup/", data={
                    "name": f"Probe {i}", "email": f"signup-{NONCE}-{i}@example.com",
                    "password1": f"Pr0be-{NONCE}-pass!", "password2": f"Pr0be-{NONCE}-pass!",
                    "csrfmiddlewaretoken": token,
                })  # fmt: skip
                codes.append(resp.status_code)
        first = codes.index(429) + 1 if 429 in codes else None
        report(
            "8b",
            first is not None,
            f"30 sign-ups from one address: statuses "
            f"{compact(codes)}; first 429 at #{first} (want a 429 at some point)",
        )
    if selected("8c"):
        path = db_path()
        codes = []
        with client(source(8, 200)) as c:
            for i in range(200):
                q = f"qzv{NONCE}{letters(i)} wxkj"
                codes.append(c.get("/api/kb/search/", params={"q": q}).status_code)
        if path is None:
            report("8c", None, f"200 weak searches: statuses {compact(codes)}; rows not counted "
                   "(needs --project)", "SKIP")  # fmt: skip
            return
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%gap%' "
                "AND name NOT LIKE '%fts%'")]  # fmt: skip
            rows = 0
            for table in tables:
                cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
                if "query" in cols:
                    rows += con.execute(
                        f'SELECT count(*) FROM "{table}" WHERE query LIKE ?',  # noqa: S608
                        (f"%qzv{NONCE}%",),
                    ).fetchone()[0]
        finally:
            con.close()
        report("8c", rows <= 100, f"200 distinct unanswerable API searches from one address: "
               f"statuses {compact(codes)}; content-gap rows recorded: {rows} in {tables} "
               "(want capped per client; threshold <= 100)")  # fmt: skip


def compact(codes: list[int]) -> str:
    out, prev, run = [], None, 0
    for code in [*codes, None]:
        if code == prev:
            run += 1
            continue
        if prev is not None:
            out.append(f"{prev}x{run}" if run > 1 else str(prev))
        prev, run = code, 1
    return ",".join(out)


# --- 9. uploads ------------------------------------------------------------------------------

UPLOADS = [
    ("evil.exe", b"just some plain text, honest\n"),
    ("invoice.pdf.exe", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"),
    ("y.html", b"hello <b>bold</b> and <i>italic</i>\n"),
    ("php.jpg", b"<?php echo 'hi'; ?>\n"),
]
EXTENSIONS = {
    "text/plain": (".txt",),
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
}


def _disposition_name(value: str) -> str:
    m = re.search(r"filename\*=UTF-8''([^;]+)", value) or re.search(r'filename="([^"]*)"', value)
    if not m:
        return ""
    return unquote(m.group(1))


def check_9() -> None:
    results, ok = [], True
    with client(source(9)) as c:
        for name, content in UPLOADS:
            resp = guest_ticket(
                c,
                f"up-{name}",
                files=[("attachments", (name, content, "application/octet-stream"))],
            )
            if resp.status_code == 400 and is_json(resp):
                results.append(f"{name}: refused 400 JSON")
                continue
            if resp.status_code != 201:
                ok = False
                results.append(
                    f"{name}: {resp.status_code} {'JSON' if is_json(resp) else 'non-JSON'}"
                )
                continue
            ticket = staff_ticket(resp.json()["reference"])
            atts = [a for m in ticket["messages"] for a in m["attachments"]]
            if not atts:
                results.append(f"{name}: accepted, no attachment stored")
                continue
            a = atts[0]
            served = ""
            download = staff().get(a["url"]) if a.get("url") else None
            if download is not None and download.status_code == 200:
                served = _disposition_name(download.headers.get("content-disposition", ""))
            wanted = EXTENSIONS.get(a["content_type"], ())
            good = all(
                n.lower().endswith(wanted) for n in (a["name"], served) if n
            ) if wanted else False  # fmt: skip
            ok &= good
            results.append(f"{name}: stored {a['name']!r} served {served!r} as {a['content_type']}"
                           f"{'' if good else ' MISMATCH'}")  # fmt: skip
    report(
        "9",
        ok,
        "; ".join(results) + " (want the name's extension to match the detected type, or 400 JSON)",
    )


# --- 10. check --deploy ----------------------------------------------------------------------


def check_10() -> None:
    report(
        "10",
        None,
        "manage.py check --deploy with a production .env: tested by the engineer",
        "SKIP",
    )


# --- 11. huge ids and oversize requests ------------------------------------------------------


async def _agent_frame(frame: dict, cookie: str, addr) -> str:
    try:
        async with ws_open("/ws/agent/", cookie=cookie, addr=addr) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            frames, closed = await frames_until(ws, lambda f: f.get("type") == "console", 5)
            if closed or not any(f.get("type") == "console" for f in frames):
                return f"ERROR no console at start ({closed})"
            await ws.send(json.dumps(frame))
            answer, closed = await frames_until(ws, lambda f: False, 1.5)
            if closed:
                return f"socket {closed} after the frame"
            await ws.send(json.dumps({"type": "hello"}))
            after, closed = await frames_until(ws, lambda f: f.get("type") == "console", 5)
            if any(f.get("type") == "console" for f in after):
                errs = [f.get("code") for f in answer if f.get("type") == "error"]
                return f"alive{' (error ' + ','.join(map(str, errs)) + ')' if errs else ''}"
            return f"dead ({closed or 'no console frame after hello'})"
    except (InvalidHandshake, OSError) as exc:
        return f"ERROR {type(exc).__name__}: {exc}"


def check_11() -> None:
    if selected("11a"):
        cookie, addr = staff_cookie(), source(11)
        outcome = {
            kind: asyncio.run(_agent_frame({"type": kind, "conversation": 10**30}, cookie, addr))
            for kind in ("typing", "open")
        }
        outcome["typing 10**100"] = asyncio.run(
            _agent_frame({"type": "typing", "conversation": 10**100}, cookie, addr)
        )
        ok = all(v.startswith("alive") for v in outcome.values())
        report(
            "11a",
            ok,
            "agent socket, conversation 10**30: "
            + "; ".join(f"{k} -> {v}" for k, v in outcome.items())
            + " (want the socket alive: hello answered with console)",
        )
    if selected("11b"):
        with client(source(11, 150)) as c:
            big = {"name": "Probe", "email": f"big-{NONCE}@example.com",
                   "subject": f"big {NONCE}", "body": "x" * (3 * 1024 * 1024)}  # fmt: skip
            resp = c.post("/api/tickets/", json=big)
        ok = 400 <= resp.status_code < 500 and is_json(resp)
        report(
            "11b",
            ok,
            f"3 MB JSON guest ticket: {resp.status_code} "
            f"{resp.headers.get('content-type')!r} {resp.text[:80]!r} (want JSON 4xx)",
        )
    if selected("11c"):
        with client(source(11, 200)) as c:
            fields = [("name", "Probe"), ("email", f"fields-{NONCE}@example.com"),
                      ("subject", f"fields {NONCE}"), ("body", "many fields")]  # fmt: skip
            fields += [(f"f{i}", "1") for i in range(1100)]
            resp = c.post(
                "/api/tickets/",
                content=urlencode(fields),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        ok = 400 <= resp.status_code < 500 and is_json(resp)
        report(
            "11c",
            ok,
            f"1,104 urlencoded fields: {resp.status_code} "
            f"{resp.headers.get('content-type')!r} {resp.text[:60]!r} (want JSON 4xx)",
        )


# --- 12. reliability under a held SQLite write lock ------------------------------------------

LOCKER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
print("released", flush=True)
"""


async def _under_lock(path: Path, hold: float) -> dict:
    addr = source(12)
    out: dict = {}
    loop = asyncio.get_running_loop()
    # A chat conversation made before the lock, so that the locked write is a plain message.
    ws = await ws_open("/ws/chat/", addr=addr)
    await ws.send(json.dumps({"type": "hello", "conversation": None, "language": "en"}))
    await frames_until(ws, lambda f: f.get("type") == "welcome", 5)
    await ws.send(json.dumps({"type": "message", "text": f"lock test {NONCE}", "client_id": "l1"}))
    await frames_until(ws, lambda f: f.get("type") in ("ack", "error"), 15)
    await frames_until(ws, lambda f: False, 3)  # let the bot finish its turn

    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), str(hold)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = await loop.run_in_executor(None, locker.stdout.readline)
    if "locked" not in line:
        raise RuntimeError("could not take the SQLite write lock")
    t0 = time.monotonic()

    def http(method, url, **kw):
        with client(addr, timeout=httpx.Timeout(hold + 15, connect=5)) as c:
            start = time.monotonic()
            try:
                resp = c.request(method, url, **kw)
            except httpx.HTTPError as exc:
                return None, time.monotonic() - start, type(exc).__name__
            return resp, time.monotonic() - start, None

    async def ticket():
        data = {
            "name": "Probe",
            "email": f"lock-{NONCE}@example.com",
            "subject": f"lock {NONCE}",
            "body": "written while the database is locked",
        }
        out["ticket"] = await loop.run_in_executor(None, lambda: http("POST", "/api/tickets/",
                                                                      json=data))  # fmt: skip

    async def health():
        await asyncio.sleep(0.5)
        out["healthz"] = await loop.run_in_executor(None, lambda: http("GET", "/healthz"))

    async def chat():
        await asyncio.sleep(0.5)
        start = time.monotonic()
        try:
            await ws.send(json.dumps({"type": "message", "text": f"locked {NONCE}",
                                      "client_id": "l2"}))  # fmt: skip
            frames, closed = await frames_until(
                ws, lambda f: f.get("type") in ("ack", "error"), hold + 10
            )
        except ConnectionClosed as exc:
            frames, closed = [], closed_note(exc)
        alive = closed is None
        if alive:
            try:
                await ws.send(json.dumps({"type": "typing"}))
                await ws.ping()
            except ConnectionClosed as exc:
                alive, closed = False, closed_note(exc)
        out["chat"] = (frames, closed, alive, time.monotonic() - start)

    async def ping():
        await asyncio.sleep(3)  # the chat message is stuck on the lock by now
        start = time.monotonic()
        try:
            async with ws_open("/ws/ping/", addr=addr) as p:
                shake = time.monotonic() - start
                await p.send(json.dumps({"type": "ping"}))
                frames, _ = await frames_until(p, lambda f: f.get("type") == "pong", 10)
                out["ping"] = (shake, time.monotonic() - start, bool(frames))
        except Exception as exc:  # noqa: BLE001
            out["ping"] = (None, time.monotonic() - start, f"{type(exc).__name__}")

    try:
        await asyncio.gather(ticket(), health(), chat(), ping())
    finally:
        await loop.run_in_executor(None, locker.wait)
        try:
            await ws.close()
        except Exception:  # noqa: BLE001
            pass
    out["held"] = time.monotonic() - t0
    return out


def check_12() -> None:
    path = db_path()
    if path is None:
        for sub in ("12a", "12b", "12c", "12d"):
            if selected(sub):
                report(sub, None, "needs --project DIR (var/helpcenter.sqlite3)", "SKIP")
        return
    hold = 25.0
    out = asyncio.run(_under_lock(path, hold))
    resp, took, err = out["ticket"]
    if resp is None:
        report("12a", False, f"guest ticket while locked: {err} after {took:.1f}s")
    else:
        ok = (resp.status_code == 503 and bool(resp.headers.get("retry-after")) and is_json(resp)
              and took < hold)  # fmt: skip
        report("12a", ok, f"guest ticket while the write lock is held {hold:.0f}s: "
               f"{resp.status_code} after {took:.1f}s, Retry-After={resp.headers.get('retry-after')!r}, "
               f"{resp.headers.get('content-type')!r} {resp.text[:60]!r} "
               "(want 503 + Retry-After + JSON within the busy timeout)")  # fmt: skip
    resp, took, err = out["healthz"]
    if resp is None:
        report("12b", False, f"/healthz while locked: {err} after {took:.1f}s")
    else:
        report(
            "12b",
            resp.status_code == 503,
            f"/healthz while locked: {resp.status_code} "
            f"after {took:.1f}s {resp.text[:60]!r} (want 503: the database cannot be written)",
        )
    frames, closed, alive, took = out["chat"]
    kinds = [f.get("type") + (f":{f.get('code')}" if f.get("code") else "") for f in frames]
    unavailable = any(f.get("type") == "error" and f.get("code") == "unavailable" for f in frames)
    report("12c", unavailable and alive, f"chat message while locked: frames {kinds} after "
           f"{took:.1f}s; socket {'open' if alive else 'dropped (' + str(closed) + ')'} "
           "(want error 'unavailable' and the socket open)")  # fmt: skip
    shake, total, pong = out["ping"]
    ok = shake is not None and shake < 2 and pong is True
    shown = (
        f"no handshake ({pong}) after {total:.1f}s"
        if shake is None
        else (f"handshake {shake:.2f}s, pong {'received' if pong else 'missing'}")
    )
    report("12d", ok, f"/ws/ping/ opened 3 s into the lock: {shown} (want a handshake in < 2 s)")


# --- 13. double submit of the portal form ----------------------------------------------------


def check_13() -> None:
    with client(source(13)) as c:
        page = c.get("/en/requests/new/")
        data = {
            "csrfmiddlewaretoken": csrf_of(page),
            "subject": f"double {NONCE}",
            "body": f"Submitted twice {NONCE}.",
            "name": "Probe",
            "email": f"double-{NONCE}@example.com",
        }
        codes = [c.post("/en/requests/new/", data=data).status_code for _ in range(2)]
    found = staff_search(f"double {NONCE}")
    report(
        "13",
        len(found) == 1,
        f"portal form posted twice with one CSRF token: statuses "
        f"{codes}; tickets created: {len(found)} (want 1)",
    )


# --- main ------------------------------------------------------------------------------------

ORDER = ["10", "4", "5", "6", "7", "9", "11", "13", "8", "1", "3", "2", "12"]
CHECKS = {name: globals()[f"check_{name}"] for name in ORDER}
ONLY: set[str] = set()


def selected(sub: str) -> bool:
    """Whether sub-check ``sub`` (e.g. 8b) is selected: by itself, its item, or everything."""
    if not ONLY:
        return True
    item = re.match(r"\d+", sub).group(0)
    return sub in ONLY or item in ONLY


def main() -> int:
    global ARGS, ONLY
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8765")
    parser.add_argument("--project", help="project dir (its var/helpcenter.sqlite3 is read)")
    parser.add_argument("--only", default="", help="items, e.g. 1,4,8c,12")
    parser.add_argument("--staff", default=":".join(ADMIN), help="staff USER:PASSWORD")
    parser.add_argument(
        "--verbose", dest="verbose_errors", action="store_true", help="print tracebacks of ERRORs"
    )
    parser.add_argument(
        "--no-bind",
        action="store_true",
        help="send everything from 127.0.0.1 (no per-item source addresses)",
    )
    ARGS = parser.parse_args()
    ARGS.base = ARGS.base.rstrip("/")
    ONLY = {part.strip() for part in ARGS.only.split(",") if part.strip()}
    items = {re.match(r"\d+", o).group(0) for o in ONLY}
    print(
        f"# probe_issue8 against {ARGS.base} (nonce {NONCE}; per-item source addresses: "
        f"{'off' if ARGS.no_bind else '127.0.0.1xx/1xx+50/2xx'})",
        flush=True,
    )
    try:
        health = httpx.get(ARGS.base + "/healthz", timeout=10)
        if health.status_code != 200:
            print(f"# warning: /healthz -> {health.status_code}")
    except httpx.HTTPError as exc:
        print(f"# server not reachable: {exc}")
        return 2
    started = time.monotonic()
    for name in ORDER:
        if ONLY and name not in items:
            continue
        try:
            CHECKS[name]()
        except Exception as exc:  # noqa: BLE001
            report(name, None, f"{type(exc).__name__}: {exc}", "ERROR")
            if ARGS.verbose_errors:
                traceback.print_exc()
    try:
        alive = httpx.get(ARGS.base + "/healthz", timeout=10).status_code
    except httpx.HTTPError as exc:
        alive = type(exc).__name__
    print(f"# done in {time.monotonic() - started:.0f}s; server /healthz now: {alive}")
    return 1 if any(status in ("FAIL", "ERROR") for _, status, _ in RESULTS) else 0


if __name__ == "__main__":
    sys.exit(main())
