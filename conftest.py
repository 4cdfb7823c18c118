"""Project-wide pytest fixtures: clean cache per test, plain static storage, role users, a
database write lock held by another thread, and Chromium for the browser tests."""

import contextlib
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.utils import translation

from core.roles import AGENTS, MANAGERS
from tickets.limits import CHAT_SOCKETS


@pytest.fixture(autouse=True)
def _isolated_state(settings):
    # The manifest storage needs collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.KB_VIEW_FLUSH_SECONDS = 0  # write view counts at once, so tests can read them
    settings.TASKS_EAGER = True  # enqueued tasks run in-process (after commit, as in production)
    # A connection kept by the sockets' threads would outlive the test and keep PostgreSQL from
    # dropping the test database (test_chat_costs.py turns it on, and closes it).
    settings.SOCKET_CONN_MAX_AGE = 0
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        # The in-memory test database takes one writer at a time and fails a second at once
        # (shared cache: "database table is locked", no busy timeout), so the consumers' calls
        # share the one thread of the tests' own database calls (the pool is tested apart).
        settings.SOCKET_DB_THREADS = 0
    cache.clear()
    CHAT_SOCKETS.clear()  # a socket a failed test left open must not count against the next
    translation.activate(settings.LANGUAGE_CODE)  # a request in one test must not leak its language
    yield
    cache.clear()
    CHAT_SOCKETS.clear()
    translation.deactivate()


def _staff(django_user_model, username: str, group: str | None, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, email=f"{username}@example.com", **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager(db, django_user_model):
    return _staff(django_user_model, "manager1", MANAGERS, is_staff=True)


@pytest.fixture
def agent(db, django_user_model):
    return _staff(django_user_model, "agent1", AGENTS, is_staff=True)


@pytest.fixture
def customer(db, django_user_model):
    return _staff(django_user_model, "customer1", None)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


# What a long migration would lock on PostgreSQL: the tables a ticket, a reply, a sign-in
# write. EXCLUSIVE lets plain reads through, as SQLite's write lock does.
_LOCKED_TABLES = "tickets_ticket, tickets_customer, tickets_message, django_session, auth_user"


@pytest.fixture
def write_lock(transactional_db):
    """``with write_lock():`` another thread holds the database's write lock for real, as a long
    migration or a backup would: SQLite's (BEGIN IMMEDIATE; the in-memory test database then
    fails other writers at once, "database table is locked"), or on PostgreSQL the tables above.
    The test thread's statements give up on it after 300 ms (PostgreSQL's lock_timeout)."""

    @contextlib.contextmanager
    def hold():
        taken, release, failed = threading.Event(), threading.Event(), []

        def holder():
            try:
                with transaction.atomic():  # SQLite: BEGIN IMMEDIATE takes the lock
                    if connection.vendor == "postgresql":
                        with connection.cursor() as cursor:
                            cursor.execute(f"LOCK TABLE {_LOCKED_TABLES} IN EXCLUSIVE MODE")
                    taken.set()
                    release.wait(30)
            except Exception as exc:  # noqa: BLE001  reported by the test
                failed.append(exc)
                taken.set()
            finally:
                connections.close_all()

        thread = threading.Thread(target=holder, name="write-lock")
        thread.start()
        assert taken.wait(10)
        assert not failed, failed
        try:
            yield
        finally:
            release.set()
            thread.join(10)

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
    yield hold
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one per test module (browser tests only: bin/test runs them apart)."""
    playwright = pytest.importorskip("playwright.sync_api")
    from helpcenter.chromium import launch

    with playwright.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture
def browser_locale() -> str:
    """The browser's language for ``page``; a test module overrides it to test another."""
    return "en-US"


@pytest.fixture
def page(browser, browser_locale):
    """A page in a browser context of its own (cookies, storage), closed after the test."""
    context = browser.new_context(locale=browser_locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
