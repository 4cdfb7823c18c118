"""`manage.py serve`'s ASGI server, started with the command line serve uses: a client on
127.0.0.1 must not be able to set its own address with X-Forwarded-For (uvicorn trusts proxy
headers from 127.0.0.1 unless told not to), or it escapes every per-address limit."""

import asyncio
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from helpcenter.management.commands.serve import uvicorn_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "TEST_DATABASE_NAME", "REDIS_URL", "TRUSTED_PROXIES")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpcenter.settings",
        HELPCENTER_VAR_DIR=str(tmp_path),
        SECRET_KEY="test-serve",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="ERROR",
        KB_SEMANTIC="0",
        CHAT_SOCKETS_PER_ADDRESS="1",
    )
    process = subprocess.Popen(
        uvicorn_command(host="127.0.0.1", port=port, workers=1), cwd=ROOT, env=env
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def first_frame(ws, timeout: float = 1.0) -> dict | None:
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        return None


def test_a_local_client_cannot_forge_its_address_with_x_forwarded_for(server):
    url, origin = f"ws://127.0.0.1:{server}/ws/chat/", f"http://127.0.0.1:{server}"

    async def two_sockets():
        first = await connect(
            url, origin=origin, additional_headers={"X-Forwarded-For": "203.0.113.1"}
        )
        second = await connect(
            url, origin=origin, additional_headers={"X-Forwarded-For": "203.0.113.2"}
        )
        try:
            return await first_frame(first), await first_frame(second)
        finally:
            await first.close()
            await second.close()

    first, second = asyncio.run(two_sockets())
    assert first is None  # open and quiet
    assert second is not None
    assert second["code"] == "too_many_sockets"  # both came from 127.0.0.1
