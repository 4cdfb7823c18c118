"""`make run`: the ASGI server (HTTP + WebSocket) and a django-q2 worker, kept running together.

A process that exits on its own (a crash, the OOM killer) is started again after a pause that
doubles with each quick failure (1 s up to 30 s), and the restart is reported on stderr. One
that keeps failing right after starting (five times in a row, each within 30 s of its start: a
taken port, a broken database) is not retried forever: serve stops everything and exits.
Ctrl-C or SIGTERM stops both.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand

from helpcenter.management.commands.load_demo import USERS

# A run shorter than this counts as a quick failure (its restarts back off); a longer one
# resets the count.
QUICK_FAILURE_SECONDS = 30.0
MAX_QUICK_FAILURES = 5
FIRST_DELAY, MAX_DELAY = 1.0, 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Child:
    """One supervised process: its name, its command line, its current run."""

    name: str
    argv: Sequence[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None


class Supervisor:
    """Starts the children, restarts those that exit (with backoff), gives up on one that
    keeps failing quickly, and stops them all on request."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        say: Callable[[str], None],
        quick_failure_seconds: float = QUICK_FAILURE_SECONDS,
        max_quick_failures: int = MAX_QUICK_FAILURES,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        poll: float = 0.3,
    ):
        self.children = list(children)
        self.say = say
        self.quick_failure_seconds = quick_failure_seconds
        self.max_quick_failures = max_quick_failures
        self.first_delay, self.max_delay = first_delay, max_delay
        self.poll = poll
        self.stopping = False

    def stop(self, *_args) -> None:
        """Signal handler: stop at the next poll."""
        self.stopping = True

    def run(self) -> int:
        """Supervise until stopped (0) or until a child was given up on (its exit status, or 1
        if a signal ended it)."""
        for child in self.children:
            child.start()
        exit_code = 0
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                if self.stopping:  # a Ctrl-C reaches the children too: their exit is expected
                    break
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self.say(f"Restarting {child.name}.")
                        child.start()
                    continue
                returncode = child.process.poll()
                if returncode is None:
                    continue
                exit_code = self._exited(child, returncode, now)
                if exit_code:
                    self.stopping = True
                    break
            time.sleep(self.poll)
        self._stop_all()
        return exit_code

    def _exited(self, child: Child, returncode: int, now: float) -> int:
        """Schedule a restart; the exit status to stop with if the child keeps failing."""
        ran = now - child.started_at
        if ran < self.quick_failure_seconds:
            child.quick_failures += 1
        else:
            child.quick_failures = 1  # it had been running fine: this failure starts a new count
        if child.quick_failures >= self.max_quick_failures:
            self.say(
                f"{child.name} exited with {returncode} {child.quick_failures} times in a row, "
                f"each within {self.quick_failure_seconds:.0f} s of starting: giving up, "
                "stopping everything."
            )
            return returncode if returncode > 0 else 1
        delay = min(self.max_delay, self.first_delay * 2 ** (child.quick_failures - 1))
        self.say(
            f"{child.name} exited with {returncode} after {ran:.1f} s; restarting it in "
            f"{delay:.0f} s."
        )
        child.restart_at = now + delay
        return 0

    def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def uvicorn_command(*, host: str, port: int, workers: int) -> list[str]:
    """The ASGI server's command line (HTTP + WebSocket)."""
    # --no-proxy-headers: uvicorn would otherwise take the client address (and scheme) from
    # the X-Forwarded-* headers of any client on 127.0.0.1, which could then escape every
    # per-address limit. core/client.py trusts X-Forwarded-For as far as TRUSTED_PROXIES says;
    # X-Forwarded-Proto is Django's SECURE_PROXY_SSL_HEADER (SECURE_PROXY_SSL=1).
    return [
        sys.executable, "-m", "uvicorn", "helpcenter.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--lifespan", "on", "--no-proxy-headers", "--no-server-header",
        "--ws-per-message-deflate", "false", "--log-level", "warning",
    ]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Serve the site with uvicorn and run a django-q2 worker; a process that exits is "
        "restarted. Ctrl-C stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host: str, port: int, workers: int, **options):
        if workers > 1 and not settings.REDIS_URL:
            self.stderr.write(
                "Several workers need REDIS_URL (shared channel layer and cache); using 1."
            )
            workers = 1
        web = uvicorn_command(host=host, port=port, workers=workers)
        worker = [sys.executable, "manage.py", "qcluster"]
        supervisor = Supervisor(
            [Child("uvicorn (the web server)", web), Child("qcluster (the task worker)", worker)],
            say=self._say,
        )
        signal.signal(signal.SIGINT, supervisor.stop)
        signal.signal(signal.SIGTERM, supervisor.stop)
        self._banner(host, port)
        sys.exit(supervisor.run())

    def _say(self, text: str) -> None:
        self.stderr.write(text)
        self.stderr.flush()

    def _banner(self, host: str, port: int) -> None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        logins = "\n".join(
            f"    {role if role != 'superuser' else 'admin':<10} {name} / {password}"
            for name, password, _, _, _, role in USERS
        )
        self.stdout.write(
            f"\n  HelpCenter is running: http://{shown}:{port}/\n"
            f"  Admin:  http://{shown}:{port}/admin/    API docs: http://{shown}:{port}/api/docs/\n"
            f"  Demo logins (role, username / password):\n{logins}\n"
            f"  Press Ctrl-C to stop. (pid {os.getpid()})\n"
        )
        self.stdout.flush()
