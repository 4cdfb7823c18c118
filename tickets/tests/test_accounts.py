"""Customer accounts through the real stack: sign-up with confirmation, no disclosure of who is
registered, sign-in (email or staff username, rate-limited, session rotated), sign-out by POST,
password reset, profile."""

import re

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core import mail
from django.test import Client

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
def _commit_each_post(django_capture_on_commit_callbacks, monkeypatch):
    """Account mails are queued once the request's transaction commits: run those callbacks
    at the end of each POST, as a real commit would (for every test client: some tests are
    several browsers)."""
    post = Client.post

    def post_and_commit(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(self, *args, **kwargs)

    monkeypatch.setattr(Client, "post", post_and_commit)


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


def test_sign_ups_are_limited_per_client_address_with_a_form_error(client, db, settings):
    settings.ACCOUNT_SIGNUPS_PER_HOUR = 2
    for i in range(2):
        assert signup(client, email=f"n{i}@example.com").status_code == 302
    refused = signup(client, email="n2@example.com", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert refused.status_code == 429
    html = refused.content.decode()
    assert 'role="alert"' in html
    assert "Too many accounts were created from your network" in html
    assert not User.objects.filter(username="n2@example.com").exists()
    assert len(mail.outbox) == 2
    assert signup(client, email="n2@example.com", REMOTE_ADDR="10.2.2.2").status_code == 302


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
    assert len(mail.outbox) == 5  # ACCOUNT_MAILS_PER_15_MINUTES


def test_a_stranger_cannot_use_up_the_owners_reset_mails(client, db, settings):
    settings.ACCOUNT_MAILS_PER_15_MINUTES = 2
    settings.ACCOUNT_MAILS_PER_EMAIL_PER_HOUR = 3
    active_user("ann@example.com")
    owner = Client()
    assert login(owner, "ann@example.com", REMOTE_ADDR="10.0.8.1").status_code == 302
    owner.post("/en/account/logout/")

    stranger = Client()
    for address in ("10.0.9.1", "10.0.9.2", "10.0.9.3"):
        for _ in range(3):
            asked = stranger.post(
                "/en/account/password/reset/", {"email": "ann@example.com"}, REMOTE_ADDR=address
            )
            assert asked.status_code == 302  # the page never changes
    assert len(mail.outbox) == 3  # 2 from the first address, then the mailbox's cap

    fresh = Client().post(
        "/en/account/password/reset/", {"email": "ann@example.com"}, REMOTE_ADDR="10.0.8.1"
    )
    assert fresh.status_code == 302
    assert len(mail.outbox) == 3  # an unknown browser, even at the owner's address
    owner.post("/en/account/password/reset/", {"email": "ann@example.com"}, REMOTE_ADDR="10.0.8.1")
    assert len(mail.outbox) == 4  # the owner's own browser still gets one
    assert mail.outbox[-1].to == ["ann@example.com"]


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
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    for i in range(3):  # spraying usernames
        assert login(client, f"guess{i}@example.com", "nope").status_code == 200
    blocked = login(client, "ann@example.com")  # even the right password
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert SESSION_KEY not in client.session
    assert login(client, "ann@example.com", REMOTE_ADDR="10.9.9.9").status_code == 302


def test_rotating_x_forwarded_for_does_not_escape_the_sign_in_limits(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    for i in range(3):
        login(client, f"guess{i}@example.com", "nope", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    spoofed = login(client, "ann@example.com", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert spoofed.status_code == 429


def test_behind_one_trusted_proxy_the_right_most_forwarded_address_is_the_client(
    client, db, settings
):
    settings.TRUSTED_PROXIES = 1
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from our proxy
    for i in range(3):  # the client forges left-most hops; the proxy appends its real address
        forwarded = f"192.0.2.{i}, 203.0.113.5"
        login(client, f"guess{i}@example.com", "nope", HTTP_X_FORWARDED_FOR=forwarded, **proxy)
    again = login(
        client, "ann@example.com", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.5", **proxy
    )
    assert again.status_code == 429
    other = login(client, "ann@example.com", HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)
    assert other.status_code == 302  # another client behind the same proxy


def test_a_strangers_failures_from_other_addresses_do_not_lock_the_owner_out(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MINUTES = 3
    active_user("ann@example.com")
    for i in range(6):  # a stranger, from one address and then from others
        login(client, "ANN@example.com", "nope", REMOTE_ADDR=f"10.0.0.{i // 3}")
    assert login(client, "ann@example.com", REMOTE_ADDR="10.0.0.0").status_code == 429
    assert login(client, "ann@example.com", REMOTE_ADDR="10.9.9.9").status_code == 302


def test_a_distributed_guesser_trips_the_per_username_limit(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR = 5
    active_user("ann@example.com")
    for i in range(5):
        assert (
            login(client, "ann@example.com", "nope", REMOTE_ADDR=f"10.0.1.{i}").status_code == 200
        )
    assert login(client, "ann@example.com", REMOTE_ADDR="10.0.1.99").status_code == 429
    other = login(client, "bob@example.com", "nope", REMOTE_ADDR="10.0.1.99")
    assert other.status_code == 200  # the address itself is not blocked


def test_the_owners_known_device_is_not_locked_out_by_strangers_but_has_its_own_limit(
    client, db, settings
):
    settings.LOGIN_ATTEMPTS_PER_15_MINUTES = 3
    settings.LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR = 5
    active_user("ann@example.com")
    shared = "10.0.2.1"  # the owner's address, shared with the stranger (one NAT)
    assert login(client, "ann@example.com", REMOTE_ADDR=shared).status_code == 302
    assert client.cookies["hc_device"]["httponly"]
    client.post("/en/account/logout/")

    stranger = Client()
    for i in range(8):  # from the shared address and from everywhere else
        login(stranger, "ann@example.com", "nope", REMOTE_ADDR=shared if i < 3 else f"10.0.3.{i}")
    assert login(stranger, "ann@example.com", REMOTE_ADDR=shared).status_code == 429
    assert login(Client(), "ann@example.com", REMOTE_ADDR="10.0.4.1").status_code == 429

    assert login(client, "ann@example.com", REMOTE_ADDR=shared).status_code == 302
    client.post("/en/account/logout/")
    for _ in range(3):  # the device is no way round: it has a limit of its own
        login(client, "ann@example.com", "nope", REMOTE_ADDR=shared)
    assert login(client, "ann@example.com", REMOTE_ADDR=shared).status_code == 429


def test_a_forged_device_cookie_counts_as_none(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR = 2
    active_user("ann@example.com")
    for i in range(2):
        login(client, "ann@example.com", "nope", REMOTE_ADDR=f"10.0.5.{i}")
    client.cookies["hc_device"] = "forged"
    assert login(client, "ann@example.com", REMOTE_ADDR="10.0.5.9").status_code == 429


def test_a_password_reset_is_never_blocked_and_clears_the_sign_in_limits(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_USERNAME_PER_HOUR = 3
    active_user("ann@example.com")
    for i in range(3):
        login(client, "ann@example.com", "nope", REMOTE_ADDR=f"10.0.6.{i}")
    assert login(client, "ann@example.com", REMOTE_ADDR="10.0.6.0").status_code == 429

    asked = client.post(
        "/en/account/password/reset/", {"email": "ann@example.com"}, REMOTE_ADDR="10.0.6.0"
    )
    assert asked["Location"] == "/en/account/password/reset/sent/"
    form_url = client.get(link_in(mail.outbox[0]))["Location"]
    new = {"new_password1": "brand new pw 9", "new_password2": "brand new pw 9"}
    assert client.post(form_url, new, REMOTE_ADDR="10.0.6.0").status_code == 302
    assert "hc_device" in client.cookies  # the browser that reset is now a known device

    elsewhere = login(Client(), "ann@example.com", "brand new pw 9", REMOTE_ADDR="10.0.7.1")
    assert elsewhere.status_code == 302


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
