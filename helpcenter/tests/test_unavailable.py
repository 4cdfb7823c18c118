"""A database that cannot take a write now (another thread holds the write lock for real, as a
long migration or a backup would: the ``write_lock`` fixture of conftest.py) gets clear answers
over HTTP: 503 + Retry-After + JSON under /api/, the form again (filled in) or a short page on
the site, and /healthz fails; nothing is half-saved, and the same request works once the lock is
gone. A database error that is a bug stays a 500. The same through a real server and SQLite's
busy timeout: tickets/tests/test_chat_servers.py."""

import re

import pytest
from django.db import DatabaseError, connection
from django.test import Client

from core.database import RETRY_AFTER_SECONDS, database_unavailable
from tickets.models import Customer, Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

GUEST_TICKET = {
    "name": "Wen",
    "email": "wen@example.com",
    "subject": "Parcel not delivered",
    "body": "Order 4411 has not arrived.",
}


def nonce_of(response) -> str:
    return re.search(r'name="form_nonce" value="([^"]+)"', response.content.decode())[1]


def test_an_api_ticket_while_the_database_is_locked_is_a_503_with_retry_after(client, write_lock):
    with write_lock():
        response = client.post(
            "/api/tickets/", GUEST_TICKET, content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="order-4411",
        )  # fmt: skip
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": "The service is busy. Please try again in a moment."}
    assert not Ticket.objects.exists()
    assert not Customer.objects.exists()
    # The client retries as told, with the same key: one ticket.
    response = client.post(
        "/api/tickets/", GUEST_TICKET, content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="order-4411",
    )  # fmt: skip
    assert response.status_code == 201
    assert Ticket.objects.count() == 1


def test_the_request_form_while_the_database_is_locked_comes_back_filled_in_with_a_503(
    client, write_lock
):
    url = "/en/requests/new/"
    data = {**GUEST_TICKET, "form_nonce": nonce_of(client.get(url))}
    with write_lock():
        response = client.post(url, data)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert "the help center is busy" in page
    assert "Order 4411 has not arrived." in page  # what the customer typed is still there
    assert f'value="{data["form_nonce"]}"' in page  # and the same posting
    assert not Ticket.objects.exists()
    # Sent again once the lock is gone (twice: an impatient double click): one ticket.
    for _ in range(2):
        response = client.post(url, data)
        assert response.status_code == 302
    assert Ticket.objects.count() == 1


def test_a_reply_while_the_database_is_locked_comes_back_filled_in_with_a_503(client, write_lock):
    client.post("/en/requests/new/", {**GUEST_TICKET, "form_nonce": "first"})
    ticket = Ticket.objects.get()
    url = ticket.get_guest_url()
    data = {
        "action": "reply",
        "body": "It is the blue parcel.",
        "form_nonce": nonce_of(client.get(url)),
    }
    with write_lock():
        response = client.post(url, data)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "It is the blue parcel." in response.content.decode()
    assert ticket.messages.count() == 1
    assert client.post(url, data).status_code == 302
    assert ticket.messages.count() == 2


def test_another_page_that_cannot_write_is_a_503_page_not_a_500(write_lock, customer):
    client = Client()
    with write_lock():  # signing in writes the session and the last sign-in time
        response = client.post(
            "/en/account/login/", {"username": "customer1", "password": "pw-customer1"}
        )
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "We are busy right now" in response.content.decode()
    response = client.post(
        "/en/account/login/", {"username": "customer1", "password": "pw-customer1"}
    )
    assert response.status_code == 302


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL has no database-wide write lock"
)
def test_healthz_fails_while_the_database_cannot_be_written(client, write_lock):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    with write_lock():  # reads still work: SELECT 1 would say all is well
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}
    assert client.get("/healthz").status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_healthz_fails_while_postgresql_takes_no_writes(client):
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")  # as on a standby
    try:
        response = client.get("/healthz")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET default_transaction_read_only")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "read_only"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_postgresql_sessions_wait_for_locks_and_statements_only_so_long():
    connection.close()  # a new session, with the options of settings.py
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "5s"
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"


def test_only_errors_that_mean_try_again_later_count_as_unavailable(write_lock):
    with pytest.raises(DatabaseError) as bug, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert not database_unavailable(bug.value)
    with write_lock(), pytest.raises(DatabaseError) as locked:
        Customer.objects.create(email="late@example.com")
    assert database_unavailable(locked.value)
    assert not database_unavailable(ValueError("not the database"))
    assert not Message.objects.exists()
