"""Uploaded file names end in an extension of the type their content is (issue 9), through the
API and the portal form; downloads are named the same; storage paths never come from the name."""

import re
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tickets.attachments import name_for_type
from tickets.models import Attachment, Ticket

TEXT = b"just some plain text, honest\n"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# (name given, content, detected type, name stored and served)
CASES = [
    ("evil.exe", TEXT, "text/plain", "evil.txt"),
    ("invoice.pdf.exe", PDF, "application/pdf", "invoice.pdf"),
    ("y.html", b"hello <b>bold</b> and <i>italic</i>\n", "text/plain", "y.txt"),
    ("php.jpg", b"<?php echo 'hi'; ?>\n", "text/plain", "php.txt"),
    ("photo.png", JPEG, "image/jpeg", "photo.jpg"),
    ("shell.php.jpg", JPEG, "image/jpeg", "shell_php.jpg"),
    (".htaccess", TEXT, "text/plain", "file.txt"),
    (".pdf", PDF, "application/pdf", "file.pdf"),
    ("evil.exe.", TEXT, "text/plain", "evil.txt"),
    ("notes", TEXT, "text/plain", "notes.txt"),
    ("server.log", TEXT, "text/plain", "server.log"),
    ("orders.csv", b"id,total\n1,9.90\n", "text/plain", "orders.csv"),
    ("README.md", b"# Title\n", "text/plain", "README.md"),
    ("scan.JPEG", JPEG, "image/jpeg", "scan.JPEG"),
    ("shot.png", PNG, "image/png", "shot.png"),
]
IDS = [case[0] for case in CASES]
RANDOM_PATH = re.compile(r"attachments/[0-9a-f]{4}/[A-Za-z0-9_-]{32}")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def served_name(response) -> str:
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    return unquote(re.search(r"filename\*=UTF-8''([^;]+)", disposition).group(1))


def download(client, attachment: Attachment):
    key = attachment.ticket.access_key
    response = client.get(f"{attachment.get_absolute_url()}?key={key}")
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(("given", "content", "content_type", "expected"), CASES, ids=IDS)
def test_api_stores_and_serves_the_name_with_an_extension_of_the_detected_type(
    db, given, content, content_type, expected
):
    client = APIClient()
    response = client.post(
        "/api/tickets/",
        {
            "name": "Guest",
            "email": "guest@example.com",
            "subject": "A file",
            "body": "See the file.",
            "attachments": [SimpleUploadedFile(given, content, "application/octet-stream")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    attachment = Ticket.objects.get().attachments.get()
    assert (attachment.original_name, attachment.content_type) == (expected, content_type)
    served = download(client, attachment)
    assert served_name(served) == expected
    assert served["Content-Type"] == content_type
    assert b"".join(served.streaming_content) == content
    # The file in storage has a random name: nothing of the client's name reaches the disk.
    assert RANDOM_PATH.fullmatch(attachment.file.name)


@pytest.mark.parametrize(("given", "content", "content_type", "expected"), CASES, ids=IDS)
def test_portal_form_stores_the_name_with_an_extension_of_the_detected_type(
    client, db, given, content, content_type, expected
):
    response = client.post(
        "/en/requests/new/",
        {
            "subject": "A file",
            "body": "See the file.",
            "email": "guest@example.com",
            "attachments": [SimpleUploadedFile(given, content, "text/plain")],
        },
    )
    assert response.status_code == 302, response.content
    attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.content_type) == (expected, content_type)
    assert RANDOM_PATH.fullmatch(attachment.file.name)


def test_download_of_a_file_stored_with_a_misleading_name_is_named_for_its_type(client, db):
    """Files stored before names were fixed on upload are still served with the right one."""
    from tickets.tests.factories import ticket

    t = ticket()
    attachment = Attachment(
        ticket=t, message=t.messages.get(), original_name="invoice.pdf.exe",
        content_type="application/pdf", size=len(PDF),
    )  # fmt: skip
    attachment.file.save("upload", SimpleUploadedFile("x", PDF), save=False)
    attachment.save()
    response = download(client, attachment)
    assert served_name(response) == "invoice.pdf"
    assert 'filename="invoice.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        ("report.2024.final.pdf", "application/pdf", "report_2024_final.pdf"),
        ("invoice.exe.pdf", "application/pdf", "invoice_exe.pdf"),
        ("Mr. Smith letter", "text/plain", "Mr. Smith letter.txt"),
        ("x.ｅｘｅ", "text/plain", "x.txt"),
        ("fdp\u202e.exe", "text/plain", "fdp.txt"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("...", "image/png", "file.png"),
        ("a" * 300 + ".exe", "text/plain", "a" * 196 + ".txt"),
    ],
)
def test_names_get_exactly_one_extension_of_the_type_and_fixing_twice_changes_nothing(
    given, content_type, expected
):
    assert name_for_type(given, content_type) == expected
    assert name_for_type(expected, content_type) == expected
