"""``database_sync_to_async`` for the WebSocket consumers: the same as Channels' (stale or broken
connections are closed before and after each call), except that the calls run on a small pool
of threads of their own, and each thread keeps its connection between calls for up to
``SOCKET_CONN_MAX_AGE`` seconds.

Why a pool of their own: Channels runs every such call on one shared thread (asgiref's single
thread-sensitive executor), so one call stuck on a database lock (a long migration, a backup:
up to the lock timeout) stalled every socket of the process, even the handshakes of new ones
(Channels' session and user lookup, and the close-old-connections hop before each event of a
consumer that does not skip it, use that same thread). Now a stuck call holds one of
``SOCKET_DB_THREADS`` threads; the shared thread is left to Channels' short reads. A thread is
started only when none is idle, so a lightly loaded server uses one.

Why kept connections: a kept connection is reused by every socket whose call lands on that
thread. With ``CONN_MAX_AGE = 0`` (right for HTTP under ASGI, where each request has a thread of
its own) every chat message opened and closed a connection: about a sixth of the server's CPU
per message in bench/chat.py on SQLite, where closing the last connection also checkpoints the
WAL; on PostgreSQL it is a new backend per message. HTTP requests run in other threads and keep
``CONN_MAX_AGE``. So on PostgreSQL a worker's sockets hold at most ``SOCKET_DB_THREADS``
connections.

Group sends made during such a call (after commit, see tickets.chat.broadcast) are queued in
``pending_group_sends`` and sent from the event loop, in order, once the call returns: sending
them from the database thread made it wait for the busy event loop twice per chat message.
Calls of one socket run one after the other (a consumer handles one event at a time), so its
sends keep their order. Calls of different sockets may overlap, and their sends go out as each
call returns, as they already did between two server processes: two messages saved at the same
moment by two sockets (a customer and an agent) may reach a third socket in either order, and a
reconnect replays them in id order from the database.
"""

import logging
import queue
import threading
import time
from concurrent.futures import Executor, Future
from contextvars import ContextVar

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)


class Outbox:
    """The (group, event) pairs a socket database call sends once it returns. Once the caller
    stops waiting (it returned, or was cancelled while the thread went on), the outbox is
    closed and later sends go out at once, from the thread, as they would without it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: list = []
        self._closed = False

    def add(self, group: str, event: dict) -> bool:
        """Queue a send; False when the outbox is closed (the caller must send it itself)."""
        with self._lock:
            if self._closed:
                return False
            self._items.append((group, event))
            return True

    def close(self) -> list:
        with self._lock:
            self._closed = True
            return self._items


# The current socket database call's outbox; None elsewhere (HTTP, tasks, shell).
pending_group_sends: ContextVar[Outbox | None] = ContextVar("pending_group_sends", default=None)


def _keep_connections() -> None:
    """Give this thread's connections the sockets' maximum age (each thread has its own
    connection objects; the settings dictionary is copied, never changed for the others)."""
    max_age = settings.SOCKET_CONN_MAX_AGE
    for alias in connections:
        connection = connections[alias]
        if connection.settings_dict.get("CONN_MAX_AGE") in (None, max_age):
            continue
        if connection.settings_dict.get("OPTIONS", {}).get("pool"):
            continue  # a pool keeps connections itself (and refuses a maximum age)
        connection.settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": max_age}
        if connection.connection is not None:  # opened under the old age: the new one counts
            connection.close_at = time.monotonic() + max_age


class _Pool(Executor):
    """At most ``size`` threads, started when none is idle (as ThreadPoolExecutor does); on
    shutdown each thread closes its database connections, so none outlives the pool."""

    def __init__(self, size: int):
        self.size = size
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("The sockets' database pool is shut down.")
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"socket-db-{len(self._threads) + 1}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return future

    def _run(self) -> None:
        try:
            while (item := self._work.get()) is not None:
                future, fn, args, kwargs = item
                del item
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as exc:  # noqa: BLE001  the caller gets it
                        future.set_exception(exc)
                del future, fn, args, kwargs
                self._idle.release()
        finally:
            connections.close_all()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._work.put(None)  # after the work already queued
        if wait:
            for thread in threads:
                thread.join()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _executor() -> Executor:
    size = settings.SOCKET_DB_THREADS
    if size == 0:  # Channels' one shared thread, as before the pool (see settings.py)
        return SyncToAsync.single_thread_executor
    global _pool
    if (pool := _pool) is not None and pool.size == size:
        return pool
    with _pool_lock:
        if _pool is None or _pool.size != size:
            old, _pool = _pool, _Pool(size)
            if old is not None:  # resized (tests): the old threads finish their calls and go
                old.shutdown(wait=False)
        return _pool


def close_pool() -> None:
    """Stop the pool's threads once their queued calls are done, closing their connections
    (server shutdown, tests); the next call starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


class _LazyExecutor(Executor):
    """The current pool, looked up at each call: functions are wrapped at import time, before
    settings are final (tests), and the pool may have been closed and started again."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return _executor().submit(fn, *args, **kwargs)


_socket_executor = _LazyExecutor()


class SocketDatabaseSyncToAsync(SyncToAsync):
    def __init__(self, func):
        super().__init__(func, thread_sensitive=False, executor=_socket_executor)

    async def __call__(self, *args, **kwargs):
        outbox = Outbox()
        token = pending_group_sends.set(outbox)  # the thread runs in a copy of this context
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            pending_group_sends.reset(token)
            await _send_all(outbox.close())  # what committed before an error is announced too

    def thread_handler(self, loop, *args, **kwargs):
        _keep_connections()
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def database_sync_to_async(func):
    """Run ``func`` on the sockets' database threads (see the module docstring)."""
    return SocketDatabaseSyncToAsync(func)


async def _send_all(sends: list) -> None:
    if not sends:
        return
    layer = get_channel_layer()
    for group, event in sends:
        try:
            await layer.group_send(group, event)
        except Exception:  # a lost doorbell: clients replay from the database on reconnect
            logger.exception("group_send to %s failed", group)
