"""`manage.py serve` (`make run`) keeps the site up: the web server killed (a crash, the OOM
killer) is started again and says so; SIGTERM stops everything; a process that keeps failing
right after it starts is given up on. The first test runs the real command on a migrated
temporary database and a free port (~15 s); the others run the supervisor on short-lived
commands."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from helpcenter.management.commands.serve import Child, Supervisor

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0  # a cold start warms up the search on a loaded machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> dict[int, str]:
    """pid -> command line of the running processes ``pid`` started (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def web_pid(pid: int) -> int | None:
    return next((c for c, cmd in children(pid).items() if "uvicorn" in cmd), None)


def wait_for(predicate, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_serve_restarts_the_web_server_when_it_dies_and_sigterm_stops_everything():
    var_dir = Path(tempfile.mkdtemp(prefix="hc-serve-"))
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME")
        },
        "DJANGO_SETTINGS_MODULE": "helpcenter.settings",
        "HELPCENTER_VAR_DIR": str(var_dir),
        "SECRET_KEY": "test-serve",
        "LOG_LEVEL": "WARNING",
        "Q_WORKERS": "1",
        "KB_SEMANTIC": "0",  # a faster warm-up: the sentence encoder is not loaded
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    stderr_path = var_dir / "serve.err"
    with open(stderr_path, "w") as stderr:
        serve = subprocess.Popen(
            [*manage, "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_for(lambda: healthy(port), "the site")
        first = web_pid(serve.pid)
        assert first is not None, children(serve.pid)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: (web_pid(serve.pid) or first) != first, "a new web server")
        wait_for(lambda: healthy(port), "the site again")
        said = stderr_path.read_text()
        assert "uvicorn (the web server) exited with -9" in said
        assert "restarting it in 1 s" in said
        assert "Restarting uvicorn (the web server)." in said
        assert serve.poll() is None

        running = children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        assert len(running) == 2
        assert all(not Path(f"/proc/{pid}").exists() for pid in running)
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        shutil.rmtree(var_dir, ignore_errors=True)


def test_a_process_that_keeps_failing_right_after_starting_is_given_up_on():
    said = []
    failing = Child("The broken one", [sys.executable, "-c", "import sys; sys.exit(3)"])
    steady = Child("The steady one", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor(
        [failing, steady], say=said.append, first_delay=0.05, max_delay=0.2, poll=0.02,
        max_quick_failures=3,
    )  # fmt: skip
    started = time.monotonic()
    assert supervisor.run() == 3
    assert time.monotonic() - started < 10
    assert [line.split(" after ")[0] for line in said[:1]] == ["The broken one exited with 3"]
    assert sum("Restarting The broken one." in line for line in said) == 2
    assert "3 times in a row" in said[-1]
    assert "giving up" in said[-1]
    assert steady.process.poll() is not None  # stopped with the rest


def test_a_process_that_ran_for_a_while_before_dying_is_restarted_after_the_shortest_pause():
    said = []
    child = Child("The worker", [sys.executable, "-c", "import time; time.sleep(0.3)"])
    supervisor = Supervisor(
        [child], say=said.append, quick_failure_seconds=0.1, first_delay=0.05, poll=0.02,
        max_quick_failures=2,
    )  # fmt: skip
    restarts = []

    def stop_after_three_restarts(text: str) -> None:
        said.append(text)
        restarts.append(text)
        if len(restarts) >= 6:
            supervisor.stop()

    supervisor.say = stop_after_three_restarts
    assert supervisor.run() == 0  # stopped, never given up on: each run lasted 0.3 s
    assert all("giving up" not in line for line in said)
    assert sum("restarting it in 0 s" in line for line in said) == 3
