"""When the database cannot serve: the errors that say so, the retry advice, the health probe.

"Unavailable" is a class of errors, not every database error: a write lock held past the lock
timeout (SQLite's busy timeout, PostgreSQL's ``lock_timeout``: a long migration, a backup, a
slow disk), a statement timeout, a lost or refused connection, a full disk. Callers answer those
with "try again later" (HTTP 503 + Retry-After, the sockets' ``unavailable`` error frame);
anything else (no such table, a syntax error, a constraint) is a bug and stays a server error.
"""

import logging
import sqlite3

from django.db import DatabaseError, connection, transaction
from django.db.utils import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# What a client is told to wait before retrying (HTTP Retry-After, the sockets' retry_after).
# Long enough not to hammer a locked database, short enough for a person to wait for.
RETRY_AFTER_SECONDS = 10
# The health probe's write-lock wait: a healthy write waits milliseconds for the lock, and load
# balancers give a probe a few seconds at most.
PROBE_TIMEOUT_MS = 1000

# SQLite primary result codes: SQLITE_BUSY (the busy timeout ran out), SQLITE_LOCKED (a lock
# within this process, shared cache), SQLITE_FULL (no room on the disk).
_SQLITE_UNAVAILABLE = {5, 6, 13}
# PostgreSQL SQLSTATE classes and codes: connection exceptions (08), insufficient resources (53),
# operator intervention (57: statement timeout, shutdown, "cannot connect now"); lock_timeout
# (55P03); serialization failure and deadlock (40001, 40P01: retrying is the documented cure);
# a read-only transaction (25006: a standby after a failover).
_PG_UNAVAILABLE_CLASSES = {"08", "53", "57"}
_PG_UNAVAILABLE_CODES = {"55P03", "40001", "40P01", "25006"}


def database_unavailable(exc: BaseException) -> bool:
    """True if ``exc`` says the database cannot serve now (retry later), False for bugs."""
    driver_error = exc.__cause__ if isinstance(exc, DatabaseError) else exc
    if isinstance(driver_error, sqlite3.Error):
        code = getattr(driver_error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_UNAVAILABLE
        return "database is locked" in str(driver_error)
    state = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if state:
        return state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_CODES
    # A server-based driver's error without a SQLSTATE comes from the connection itself
    # (refused, closed, timed out, pool exhausted): the server never answered.
    return isinstance(exc, OperationalError | InterfaceError) and connection.vendor != "sqlite"


def database_status(*, timeout_ms: int = PROBE_TIMEOUT_MS) -> str:
    """``ok`` when a write could start within ``timeout_ms``, else ``read_only`` or
    ``unavailable``.

    Cheap enough to probe often. SQLite: ``BEGIN IMMEDIATE`` (the write lock, as every write
    takes it) and ``ROLLBACK``; reads succeed while another process holds the write lock (WAL),
    so ``SELECT 1`` would report a locked database healthy. PostgreSQL has no database-wide
    write lock: ``SELECT 1`` under a short statement timeout, and whether writes are allowed
    (a standby after a failover, ``default_transaction_read_only``)."""
    try:
        if connection.vendor == "sqlite":
            return _sqlite_status(timeout_ms)
        return _server_status(timeout_ms)
    except DatabaseError as exc:
        logger.warning("Database health probe failed: %s", exc)
        return "unavailable"


def _sqlite_status(timeout_ms: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (configured,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        try:
            if connection.in_atomic_block:  # a transaction of IMMEDIATE mode holds it already
                cursor.execute("SELECT 1")
            else:  # in autocommit mode: this transaction is all there is on the connection
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute("ROLLBACK")
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(configured)}")
    return "ok"


def _server_status(timeout_ms: int) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # set_config(..., true) lasts until the end of this transaction only.
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
            [f"{int(timeout_ms)}ms", f"{int(timeout_ms)}ms"],
        )
        cursor.execute(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
        )
        (read_only,) = cursor.fetchone()
    return "read_only" if read_only else "ok"
