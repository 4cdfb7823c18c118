"""The admin's sign-in through the real stack: the same limits as the portal's (core/signin.py),
answered with the admin login page and a 429; the site keeps the chat console."""

import pytest
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from helpcenter.admin_site import AdminSite


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def boss(db, django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "right pw 1")


def admin_login(client, password, username="boss", **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        **extra,
    )


def test_wrong_admin_passwords_are_limited_and_then_even_the_right_one_is_refused(
    client, boss, settings
):
    settings.LOGIN_ATTEMPTS_PER_15_MINUTES = 3
    for i in range(3):
        assert admin_login(client, f"wrong {i}").status_code == 200
    refused = admin_login(client, "right pw 1")
    assert refused.status_code == 429
    html = refused.content.decode()
    assert 'name="username"' in html  # the admin login page again
    assert "Too many failed sign-in attempts" in html
    assert SESSION_KEY not in client.session
    assert admin_login(client, "right pw 1", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429

    other = Client()
    signed_in = admin_login(other, "right pw 1", REMOTE_ADDR="10.3.3.3")
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"
    assert "hc_device" in other.cookies  # a known device of "boss" from now on


def test_admin_and_portal_sign_ins_share_their_limits(client, boss, settings):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES = 3
    for i in range(3):
        admin_login(client, f"wrong {i}", username=f"guess{i}")
    portal = client.post("/en/account/login/", {"username": "boss", "password": "right pw 1"})
    assert portal.status_code == 429


def test_the_admin_site_is_ours_and_keeps_the_chat_console(admin_client):
    assert isinstance(admin.site, AdminSite)
    url = reverse("admin:tickets_chat_console")
    assert admin_client.get(url).status_code == 200
    assert url in admin_client.get("/admin/").content.decode()
