"""`make run`: the ASGI server (HTTP + WebSocket) and a django-q2 worker, stopped together."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from helpcenter.management.commands.load_demo import USERS


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
    help = "Serve the site with uvicorn and run a django-q2 worker; Ctrl-C stops both."

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
        processes = [subprocess.Popen(web), subprocess.Popen(worker)]  # noqa: S603
        self._banner(host, port)

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    self.stderr.write(f"{process.args[2]} exited with {process.returncode}.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.3)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(exit_code)

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
