"""Customer accounts through the real stack: sign-up with confirmation, no disclosure of who is
registered, sign-in (email or staff username, rate-limited, session rotated), sign-out by POST,
password reset, profile."""

import re

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core import mail

from tickets import services
from tickets.models import Customer
from tickets.tests.factories import CustomerFactory, ticket

User = get_user_model()
PASSWORD = "correct horse 42"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/\S+)")


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _commit_each_post(client, django_capture_on_commit_callbacks, monkeypatch):
    """Account mails are queued once the request's transaction commits: run those callbacks
    at the end of each POST, as a real commit would."""
    post = client.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    monkeypatch.setattr(client, "post", post_and_commit)


def signup(client, email="new@example.com", password=PASSWORD, name="Nina", **extra):
    return client.post(
        "/en/account/signup/",
        {"name": name, "email": email, "password1": password, "password2": password},
        **extra,
    )


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def active_user(email="ann@example.com", password=PASSWORD):
    return User.objects.create_user(username=email, email=email, password=password)


def login(client, username, password=PASSWORD, **extra):
    return client.post("/en/account/login/", {"username": username, "password": password}, **extra)


# --- Sign-up and confirmation ------------------------------------------------------------------


def test_signup_mails_a_link_and_confirming_signs_in_and_keeps_earlier_guest_tickets(client, db):
    guest = CustomerFactory(email="new@example.com", name="")
    earlier = ticket(guest, subject="Sent as a guest")

    response = signup(client, email="New@Example.COM")
    assert response.status_code == 302
    assert response["Location"] == "/en/account/signup/sent/"
    user = User.objects.get()
    assert user.username == user.email == "new@example.com"
    assert not user.is_active
    assert login(client, "new@example.com").status_code == 200  # not before confirming

    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    confirm_url = link_in(message)
    assert confirm_url.startswith("/en/account/confirm/")
    shown = client.get(confirm_url)  # a mail scanner fetching the link confirms nothing
    assert "Confirm and sign in" in shown.content.decode()
    assert not User.objects.get().is_active

    response = client.post(confirm_url)
    assert response.status_code == 302
    assert response["Location"] == "/en/requests/"
    assert client.session[SESSION_KEY] == str(user.pk)
    assert User.objects.get().is_active
    customer = Customer.objects.get(user=user)
    assert customer.pk == guest.pk
    assert customer.name == "Nina"
    assert "Sent as a guest" in client.get("/en/requests/").content.decode()
    assert client.get(earlier.get_absolute_url()).status_code == 200

    client.logout()
    assert "invalid, expired or already used" in client.get(confirm_url).content.decode()
    assert client.post(confirm_url).status_code == 200  # used: no second sign-in
    assert SESSION_KEY not in client.session


def test_signup_looks_the_same_for_new_and_registered_emails_and_mails_the_owner_a_reset_link(
    client, db
):
    active_user("taken@example.com")
    new = signup(client, email="fresh@example.com")
    taken = signup(client, email="TAKEN@example.com")
    assert (new.status_code, new["Location"]) == (taken.status_code, taken["Location"])
    assert client.get(new["Location"]).content == client.get(taken["Location"]).content
    assert User.objects.filter(email="taken@example.com").count() == 1

    to_new, to_taken = mail.outbox
    assert to_new.to == ["fresh@example.com"]
    assert "confirm" in to_new.body
    assert to_taken.to == ["taken@example.com"]
    assert "already have one" in to_taken.body
    reset_url = next(url for url in LINK.findall(to_taken.body) if "/password/reset/" in url)
    form = client.get(reset_url, follow=True)
    assert "Choose a new password" in form.content.decode()
    assert "invalid" not in form.content.decode()
    assert User.objects.get(email="taken@example.com").check_password(PASSWORD)  # unchanged


def test_signing_up_again_before_confirming_replaces_the_password_and_the_old_link(client, db):
    signup(client, password="first pass 123")
    signup(client, password="second pass 456")
    first, second = (link_in(m) for m in mail.outbox)
    assert User.objects.count() == 1
    assert "invalid" in client.get(first).content.decode()
    client.post(second)
    assert User.objects.get().check_password("second pass 456")


def test_signup_form_errors_are_shown_and_create_nothing(client, db):
    html = signup(client, email="not-an-email", password="123").content.decode()
    assert 'role="alert"' in html
    assert "Enter a valid email address." in html
    mismatch = client.post(
        "/en/account/signup/",
        {"email": "a@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    ).content.decode()
    assert "do not match" in mismatch
    weak = signup(client, email="b@example.com", password="password").content.decode()
    assert "too common" in weak
    assert User.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    "token", ["garbage", "MQ.bad-token", ".", "AAAAAAAAAAAAAAAAAAAAAAAAAA.x-y", "%00", "ZZZ.ZZZ"]
)
def test_malformed_confirmation_links_show_an_error_page(client, db, token):
    active_user()
    response = client.get(f"/en/account/confirm/{token}/")
    assert response.status_code == 200
    assert "invalid, expired or already used" in response.content.decode()
    assert client.post(f"/en/account/confirm/{token}/").status_code == 200


def test_an_unconfirmed_account_gets_the_same_sign_in_error_as_a_wrong_password(client, db):
    signup(client, email="pending@example.com")
    active_user("ann@example.com")
    pending = login(client, "pending@example.com").content.decode()
    wrong = login(client, "ann@example.com", "wrong password").content.decode()
    assert "The email or password is not correct." in pending
    assert "The email or password is not correct." in wrong
    assert "inactive" not in pending.lower()


# --- Password reset ----------------------------------------------------------------------------


def test_password_reset_looks_the_same_for_registered_and_unknown_emails(client, db):
    active_user("ann@example.com")
    known = client.post("/en/account/password/reset/", {"email": "ANN@example.com"})
    unknown = client.post("/en/account/password/reset/", {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known["Location"] == "/en/account/password/reset/sent/"
    assert client.get(known["Location"]).content == client.get(unknown["Location"]).content
    (message,) = mail.outbox
    assert message.to == ["ann@example.com"]


def test_password_reset_link_sets_a_new_password_once(client, db):
    active_user("ann@example.com")
    client.post("/en/account/password/reset/", {"email": "ann@example.com"})
    url = link_in(mail.outbox[0])
    form_url = client.get(url)["Location"]  # the token moves to the session
    response = client.post(
        form_url, {"new_password1": "brand new pw 9", "new_password2": "brand new pw 9"}
    )
    assert response["Location"] == "/en/account/password/reset/complete/"
    assert login(client, "ann@example.com", "brand new pw 9").status_code == 302
    client.post("/en/account/logout/")
    assert "invalid" in client.get(url, follow=True).content.decode()


def test_account_mails_to_one_address_are_capped(client, db):
    active_user("ann@example.com")
    for _ in range(8):
        client.post("/en/account/password/reset/", {"email": "ann@example.com"})
    assert len(mail.outbox) == 5


# --- Sign-in, session, sign-out ----------------------------------------------------------------


def test_customers_sign_in_with_their_email_in_any_case_and_staff_with_a_username(client, agent):
    agent.set_password(PASSWORD)
    agent.save()
    active_user("ann@example.com")
    response = login(client, "  Ann@Example.com ")
    assert response.status_code == 302
    assert response["Location"] == "/en/requests/"
    client.post("/en/account/logout/")
    staff = login(client, "agent1")
    assert staff["Location"] == "/admin/"


def test_sign_in_follows_a_safe_next_url_only(client, db):
    active_user()
    response = client.post(
        "/en/account/login/?next=/en/account/profile/",
        {"username": "ann@example.com", "password": PASSWORD, "next": "/en/account/profile/"},
    )
    assert response["Location"] == "/en/account/profile/"
    client.post("/en/account/logout/")
    evil = client.post(
        "/en/account/login/",
        {"username": "ann@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert evil["Location"] == "/en/requests/"


def test_signing_in_rotates_the_session_key(client, db):
    active_user()
    client.get("/en/requests/new/")
    session = client.session
    session["before"] = 1
    session.save()
    before = client.cookies["sessionid"].value
    assert login(client, "ann@example.com").status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert client.session[SESSION_KEY]


def test_failed_sign_ins_are_limited_per_client_address(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    for i in range(3):
        assert login(client, f"guess{i}@example.com", "nope").status_code == 200
    blocked = login(client, "ann@example.com")  # even the right password
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.content.decode()
    assert SESSION_KEY not in client.session
    assert login(client, "ann@example.com", REMOTE_ADDR="10.9.9.9").status_code == 302


def test_failed_sign_ins_are_limited_per_username_across_addresses(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    for i in range(3):
        login(client, "ANN@example.com", "nope", REMOTE_ADDR=f"10.0.0.{i}")
    assert login(client, "ann@example.com", REMOTE_ADDR="10.0.0.99").status_code == 429
    assert login(client, "nobody@example.com", "x", REMOTE_ADDR="10.0.0.99").status_code == 200


def test_sign_out_only_by_post(client, db):
    user = active_user()
    client.force_login(user)
    assert client.get("/en/account/logout/").status_code == 405
    assert client.session[SESSION_KEY] == str(user.pk)
    response = client.post("/en/account/logout/")
    assert response["Location"] == "/en/"
    assert SESSION_KEY not in client.session


def test_signed_in_visitors_are_sent_on_from_sign_in_and_sign_up(client, db):
    client.force_login(active_user())
    assert client.get("/en/account/login/")["Location"] == "/en/requests/"
    assert client.get("/en/account/signup/")["Location"] == "/en/requests/"


# --- Profile -----------------------------------------------------------------------------------


def test_profile_saves_name_and_preferred_language_but_not_the_site_language(client, db):
    user = active_user()
    client.force_login(user)
    html = client.get("/en/account/profile/").content.decode()
    assert "ann@example.com" in html
    response = client.post("/en/account/profile/", {"name": "Ann Lee", "language": "zh-hans"})
    assert response["Location"] == "/en/account/profile/"
    customer = Customer.objects.get(user=user)
    assert (customer.name, customer.language) == ("Ann Lee", "zh-hans")
    user.refresh_from_db()
    assert user.get_full_name() == "Ann Lee"
    page = client.get("/en/account/profile/").content.decode()
    assert '<html lang="en">' in page
    assert "Your profile was saved." in page


def test_profile_refuses_unknown_languages(client, db):
    client.force_login(active_user())
    html = client.post("/en/account/profile/", {"name": "A", "language": "xx"}).content.decode()
    assert 'role="alert"' in html
    assert Customer.objects.get().language == "en"


def test_profile_needs_signing_in(client, db):
    response = client.get("/en/account/profile/")
    assert response["Location"].startswith("/en/account/login/")


def test_preferred_language_is_used_for_ticket_mail(client, db, django_capture_on_commit_callbacks):
    user = active_user()
    client.force_login(user)
    client.post("/en/account/profile/", {"name": "Ann", "language": "zh-hans"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/en/requests/new/", {"subject": "Hi", "body": "Hello"})
    (message,) = mail.outbox
    assert "/zh-hans/requests/" in message.body
    assert services.customer_for_user(user=user).language == "zh-hans"
