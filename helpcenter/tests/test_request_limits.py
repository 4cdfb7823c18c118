"""Requests over a size or count limit get a clear answer: JSON naming the limit under /api/
(413 too large, 400 too many fields or files), a page elsewhere; and over REQUEST_MAX_BYTES the
server stops reading the body (issue 11)."""

import json
from urllib.parse import urlencode

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import get_resolver
from rest_framework.test import APIClient

from helpcenter.asgi import application
from tickets.models import Ticket

GUEST = {"name": "Ann", "email": "ann@example.com", "subject": "Order", "body": "Where is it?"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()


# --- Under /api/ --------------------------------------------------------------------------------


def test_a_3_mb_json_body_is_a_413_json_error_naming_the_limit(db, settings):
    body = json.dumps({**GUEST, "body": "x" * (3 * 2**20)})
    response = APIClient().post("/api/tickets/", body, content_type="application/json")
    error = json_error(response, 413)
    assert error["code"] == "data_too_large"
    assert error["limit"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert "2.5\xa0MB" in error["detail"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_too_many_form_fields_are_a_400_json_error_naming_the_limit(db, encoding):
    fields = [*GUEST.items(), *((f"f{i}", "1") for i in range(1100))]
    client = APIClient()
    if encoding == "urlencoded":
        response = client.post(
            "/api/tickets/", urlencode(fields), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = client.post("/api/tickets/", dict(fields), format="multipart")
    error = json_error(response, 400)
    assert (error["code"], error["limit"]) == ("too_many_fields", 1000)
    assert error["detail"] == "The request has more than 1000 fields."


def test_too_many_files_are_a_400_json_error_naming_the_limit(db):
    files = [SimpleUploadedFile(f"{i}.txt", b"a") for i in range(101)]
    response = APIClient().post(
        "/api/tickets/", {**GUEST, "attachments": files}, format="multipart"
    )
    error = json_error(response, 400)
    assert (error["code"], error["limit"]) == ("too_many_files", 100)


def test_a_12_mb_attachment_is_a_400_json_error_naming_the_attachment_limit(db):
    big = SimpleUploadedFile("scan.txt", b"a" * (12 * 2**20))
    response = APIClient().post(
        "/api/tickets/", {**GUEST, "attachments": [big]}, format="multipart"
    )
    error = json_error(response, 400)
    assert error["errors"] == {"attachments": ["“scan.txt” is larger than 10 MB."]}
    assert not Ticket.objects.exists()


def test_a_body_declared_over_the_cap_is_refused_before_it_is_read(db, settings):
    settings.REQUEST_MAX_BYTES = 2**20
    response = APIClient().post(
        "/api/tickets/", b"{}", content_type="application/json", CONTENT_LENGTH=str(2**20 + 1)
    )
    error = json_error(response, 413)
    assert (error["code"], error["limit"]) == ("request_too_large", 2**20)
    assert error["detail"] == "The request is larger than 1.0\xa0MB, the most this site accepts."


def test_a_bad_host_under_the_api_is_a_400_json_error(db):
    response = APIClient().get("/api/kb/articles/", HTTP_HOST="evil.example")
    assert json_error(response, 400) == {"detail": "Bad request."}


def test_permission_denied_outside_drf_is_json_under_the_api_and_a_page_elsewhere(db):
    handler = get_resolver().resolve_error_handler(403)
    api = handler(RequestFactory().get("/api/tickets/"), exception=PermissionDenied())
    assert api.status_code == 403
    assert json.loads(api.content) == {
        "detail": "You do not have permission to perform this action."
    }
    page = handler(RequestFactory().get("/en/"), exception=PermissionDenied())
    assert page.status_code == 403
    assert not page["Content-Type"].startswith("application/json")


# --- The portal form ----------------------------------------------------------------------------


def test_a_12_mb_attachment_on_the_request_form_is_a_form_error(client, db):
    data = {**GUEST, "attachments": [SimpleUploadedFile("scan.txt", b"a" * (12 * 2**20))]}
    response = client.post("/en/requests/new/", data)
    assert response.status_code == 200
    assert "“scan.txt” is larger than 10 MB." in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_request_form_over_the_cap_gets_a_page_saying_the_limit_in_its_language(
    client, db, settings
):
    settings.REQUEST_MAX_BYTES = 2**20
    response = client.post(
        "/zh-hans/requests/new/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2**20 + 1),
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "请求大于 1.0\xa0MB" in html


def test_too_many_fields_on_the_request_form_get_a_page_not_an_error(client, db):
    fields = {**GUEST, **{f"f{i}": "1" for i in range(1100)}}
    response = client.post("/en/requests/new/", fields)
    assert response.status_code == 400
    assert "The request has more than 1000 fields." in response.content.decode()


# --- ASGI: the body is not read past the cap ----------------------------------------------------


def http_scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/tickets/", "raw_path": b"/api/tickets/",
        "query_string": b"", "root_path": "", "server": ("testserver", 80),
        "client": ("127.0.0.1", 40000),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
    }  # fmt: skip


async def response_of(communicator: ApplicationCommunicator) -> tuple[int, dict]:
    start = await communicator.receive_output(timeout=5)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return start["status"], json.loads(body)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_answers_a_body_declared_over_the_cap_without_waiting_for_it(settings):
    settings.REQUEST_MAX_BYTES = 2**20
    communicator = ApplicationCommunicator(
        application, http_scope([(b"content-length", str(10 * 2**30).encode())])
    )
    # Not a byte of the 10 GB is sent: the answer comes anyway.
    status, body = await response_of(communicator)
    assert (status, body["code"]) == (413, "request_too_large")
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_stops_reading_a_chunked_body_at_the_cap(settings):
    settings.REQUEST_MAX_BYTES = 2**20
    communicator = ApplicationCommunicator(application, http_scope([]))
    chunk = b"x" * 2**16
    for _ in range(17):  # 1 MB and one chunk more, and the body is not over yet
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
    status, body = await response_of(communicator)
    assert (status, body["limit"]) == (413, 2**20)
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_passes_a_body_within_the_cap_to_the_api(settings):
    settings.REQUEST_MAX_BYTES = 2**20
    payload = json.dumps({**GUEST, "surprise": 1}).encode()
    communicator = ApplicationCommunicator(
        application, http_scope([(b"content-length", str(len(payload)).encode())])
    )
    half = len(payload) // 2
    await communicator.send_input(
        {"type": "http.request", "body": payload[:half], "more_body": True}
    )
    await communicator.send_input({"type": "http.request", "body": payload[half:]})
    status, body = await response_of(communicator)
    # The whole body arrived: the unknown field is what the API complains about.
    assert status == 400
    assert "surprise" in body["errors"]
    await communicator.wait(timeout=5)
