"""``database_sync_to_async`` for the WebSocket consumers: the same as Channels' (stale or broken
connections are closed before and after each call), except that the connection is kept between
calls for up to ``SOCKET_CONN_MAX_AGE`` seconds.

Why: consumers' database calls all run in one shared thread (``thread_sensitive``), so a kept
connection is reused by every socket of the process. With ``CONN_MAX_AGE = 0`` (right for HTTP
under ASGI, where each request has a thread of its own) every chat message opened and closed a
connection: about a sixth of the server's CPU per message in bench/chat.py on SQLite, where
closing the last connection also checkpoints the WAL; on PostgreSQL it is a new backend per
message. HTTP requests run in other threads and keep ``CONN_MAX_AGE``.

Group sends made during such a call (after commit, see tickets.chat.broadcast) are queued in
``pending_group_sends`` and sent from the event loop, in order, once the call returns: sending
them from the database thread made it wait for the busy event loop twice per chat message,
and every socket's database work waits for that one thread.
"""

import logging
import threading
import time
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


class SocketDatabaseSyncToAsync(SyncToAsync):
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


def database_sync_to_async(func=None, thread_sensitive: bool = True):
    """Run ``func`` in the sockets' database thread (see the module docstring)."""
    if func is None:
        return lambda f: SocketDatabaseSyncToAsync(f, thread_sensitive=thread_sensitive)
    return SocketDatabaseSyncToAsync(func, thread_sensitive=thread_sensitive)


async def _send_all(sends: list) -> None:
    if not sends:
        return
    layer = get_channel_layer()
    for group, event in sends:
        try:
            await layer.group_send(group, event)
        except Exception:  # a lost doorbell: clients replay from the database on reconnect
            logger.exception("group_send to %s failed", group)
