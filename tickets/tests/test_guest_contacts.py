"""Guests who give a registered customer's email (web form and API): the request goes to an
unverified contact, not to the account or its lane; the guest link does not show the answers;
the owner claims it from the mailed link; agents are warned. Through the real stack."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from tickets import selectors, services
from tickets.models import AuthorKind, Customer, EventKind, Lane, Ticket
from tickets.tests.factories import CustomerFactory, StaffFactory, tier

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CLAIM_RE = re.compile(r"http://127\.0\.0\.1:8000(/en/requests/claim/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def carol(db):
    """A registered VIP customer with a dedicated agent."""
    user = get_user_model().objects.create_user(
        username="carol@example.com", email="carol@example.com", password="pw", first_name="Carol"
    )
    customer = services.customer_for_user(user=user)
    customer.tier = tier("vip")
    customer.notes = "Prefers the phone"
    customer.save()
    return customer


def guest_api(email: str, subject: str = "Refund", **extra):
    return APIClient().post(
        "/api/tickets/",
        {"name": "Mallory", "email": email, "subject": subject, "body": "Where is it?", **extra},
        format="json",
    )


def guest_form(client, email: str, subject: str = "Refund", name: str = "Mallory"):
    return client.post(
        "/en/requests/new/",
        {"subject": subject, "body": "Where is it?", "email": email, "name": name},
    )


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- Where a guest's request goes ------------------------------------------------------------------


def test_api_guest_with_a_registered_vip_email_gets_neither_the_account_nor_its_lane(carol, client):
    response = guest_api("Carol@Example.com")
    assert response.status_code == 201
    t = Ticket.objects.get(subject="Refund")
    contact = t.customer
    assert contact != carol
    assert (contact.unverified_email, contact.email, contact.user) == (
        "carol@example.com",
        None,
        None,
    )
    assert not contact.tier.is_vip
    assert t.lane == Lane.STANDARD
    assert t.sla_policy.name == "Standard"
    # The answer has the shape of any guest's: nothing tells that the address is registered.
    other = guest_api("nobody@example.com", subject="Other")
    assert set(response.json()) == set(other.json())
    assert response.json()["guest_url"].endswith(t.get_guest_url())

    owner = APIClient()
    owner.force_login(carol.user)
    listed = [row["reference"] for row in owner.get("/api/tickets/").json()["results"]]
    assert t.reference not in listed
    assert owner.get(f"/api/tickets/{t.reference}/").status_code == 404
    client.force_login(carol.user)
    assert "Refund" not in page(client.get("/en/requests/"))

    guest_api("carol@example.com", subject="Again")  # one contact per address
    assert Ticket.objects.get(subject="Again").customer == contact


def test_web_form_guest_with_a_registered_email_sees_the_same_page_as_with_any_email(carol, client):
    sent = {}
    for email in ("carol@example.com", "new@example.com"):
        response = guest_form(client, email, subject=f"Help {email}")
        html = page(client.get(response["Location"]))
        t = Ticket.objects.get(subject=f"Help {email}")
        sent[email] = html.replace(t.reference, "REF").replace(t.access_key, "KEY")
        sent[email] = re.sub(r"Help \S+", "SUBJECT", sent[email])
        sent[email] = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", sent[email])
    assert sent["carol@example.com"] == sent["new@example.com"]
    assert "Thank you, Mallory" in sent["new@example.com"]  # what was typed, not Carol's name
    t = Ticket.objects.get(subject="Help carol@example.com")
    assert (t.customer.unverified_email, t.lane) == ("carol@example.com", Lane.STANDARD)


@pytest.mark.parametrize(
    "existing",
    [
        {"tier": "vip"},
        {"dedicated_agent": True},
        {"login": True},
    ],
)
def test_only_a_customer_who_is_itself_a_guest_is_joined(db, existing):
    customer = CustomerFactory(
        email="known@example.com", tier=tier(existing.get("tier", "standard"))
    )
    if existing.get("dedicated_agent"):
        customer.dedicated_agent = StaffFactory()
    if existing.get("login"):
        customer.user = get_user_model().objects.create_user(
            "known@example.com", "known@example.com"
        )
    customer.save()
    guest_api("known@example.com")
    assert Ticket.objects.get().customer.unverified_email == "known@example.com"


def test_a_plain_guest_customer_is_joined_as_before(db):
    guest = CustomerFactory(email="guest@example.com")
    guest_api("guest@example.com")
    assert Ticket.objects.get().customer == guest


def test_staff_opening_a_ticket_for_a_registered_customer_keep_it_in_their_account(carol):
    staff = APIClient()
    staff.force_login(StaffFactory(is_superuser=True))
    response = staff.post(
        "/api/tickets/",
        {"customer_email": "carol@example.com", "subject": "Phone call", "body": "Called us."},
        format="json",
    )
    assert response.status_code == 201
    t = Ticket.objects.get()
    assert (t.customer, t.lane) == (carol, Lane.VIP)


# --- What the guest link shows ---------------------------------------------------------------------


def test_the_guest_link_of_an_unverified_contacts_request_hides_the_answers(
    carol, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = guest_api("carol@example.com")
    t = Ticket.objects.get()
    guest_url = t.get_guest_url()
    assert response.json()["guest_url"].endswith(guest_url)
    before = page(client.get(guest_url))
    assert "Where is it?" in before
    assert "sent by email" not in before  # no answer yet: the page of any guest request

    agent = StaffFactory(is_superuser=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.message_post(
            ticket=t, author_kind=AuthorKind.AGENT, author=agent,
            body="Carol, your VIP refund for order 77 went to card 4242.",
        )  # fmt: skip
    (answered,) = mail.outbox
    assert answered.to == ["carol@example.com"]  # the mailbox owner gets the answer
    assert "order 77" in answered.body

    html = page(client.get(guest_url))
    assert "order 77" not in html
    assert "Where is it?" in html
    assert "Our replies to this request are sent by email" in html
    assert reply.pk not in [m.pk for m in selectors.guest_thread(t)[0]]

    # The guest's own files download with the key; the agents' do not.
    own = client.post(
        guest_url,
        {"body": "Receipt", "attachments": [SimpleUploadedFile("r.png", PNG, "image/png")]},
    )
    assert own.status_code == 302
    theirs = _agent_attachment(t, agent)
    own_file = t.messages.get(body="Receipt").attachments.get()
    assert client.get(f"{own_file.get_absolute_url()}?key={t.access_key}").status_code == 200
    assert client.get(f"{theirs.get_absolute_url()}?key={t.access_key}").status_code == 404


def _agent_attachment(t, agent):
    from tickets.attachments import check_uploads

    (upload,) = check_uploads([SimpleUploadedFile("label.png", PNG, "image/png")])
    message = services.message_post(
        ticket=t,
        author_kind=AuthorKind.AGENT,
        author=agent,
        body="Your label",
        attachments=[upload],
    )
    return message.attachments.get()


def test_a_guest_link_of_any_other_request_still_shows_the_answers(client, db):
    guest_api("someone@example.com")
    t = Ticket.objects.get()
    services.message_post(
        ticket=t, author_kind=AuthorKind.AGENT, author=StaffFactory(), body="It is on its way."
    )
    html = page(client.get(t.get_guest_url()))
    assert "It is on its way." in html
    assert "sent by email" not in html


# --- Claiming ----------------------------------------------------------------------------------


def _claim_path(django_capture_on_commit_callbacks) -> str:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert guest_api("carol@example.com").status_code == 201
    (received,) = mail.outbox
    assert received.to == ["carol@example.com"]
    assert "without signing in" in received.body
    html = received.alternatives[0][0]
    (path,) = CLAIM_RE.findall(received.body)
    assert path in html
    return path


def test_the_owner_claims_the_request_with_a_post_and_it_takes_their_lane_and_sla(
    carol, client, django_capture_on_commit_callbacks
):
    path = _claim_path(django_capture_on_commit_callbacks)
    t = Ticket.objects.get()
    old_guest_url = t.get_guest_url()

    assert client.get(path).status_code == 302  # sign in first
    client.force_login(carol.user)
    button = page(client.get(path))  # a mail scanner's GET changes nothing
    assert t.reference in button
    assert 'method="post"' in button
    t.refresh_from_db()
    assert t.customer.unverified_email == "carol@example.com"

    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == t.get_absolute_url()
    t.refresh_from_db()
    assert (t.customer, t.lane, t.sla_policy.name) == (carol, Lane.VIP, "VIP")
    event = t.events.get(kind=EventKind.CLAIMED)
    assert (event.actor, event.data["customer_to"]) == (carol.user, carol.pk)
    assert "Refund" in page(client.get("/en/requests/"))
    assert page(client.get(t.get_absolute_url()))
    # The link the guest got stops working: the account now shows the answers.
    assert client.get(old_guest_url).status_code == 404
    assert client.post(path).status_code == 404  # claimed once


def test_somebody_else_signed_in_cannot_claim_and_sees_nothing_of_the_request(
    carol, client, django_capture_on_commit_callbacks
):
    path = _claim_path(django_capture_on_commit_callbacks)
    mallory = get_user_model().objects.create_user(
        "mallory@example.com", "mallory@example.com", "pw"
    )
    client.force_login(mallory)
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 403
        assert "Refund" not in response.content.decode()
    t = Ticket.objects.get()
    assert t.customer.unverified_email == "carol@example.com"
    assert not t.events.filter(kind=EventKind.CLAIMED).exists()


@pytest.mark.parametrize("token", ["nonsense", "x" * 700, "eyJ0IjoxLCJlIjoiYUBiLmMifQ:1:bad"])
def test_a_bad_claim_link_is_a_404_page_not_an_error(carol, client, token):
    client.force_login(carol.user)
    response = client.get(reverse("tickets:claim", kwargs={"token": token}))
    assert response.status_code == 404
    assert "invalid or expired" in response.content.decode()


def test_the_claim_link_names_one_request_and_one_address(carol, db):
    guest_api("carol@example.com")
    t = Ticket.objects.get()
    token = selectors.claim_token(t)
    assert selectors.claim_for_token(token).ticket == t
    Customer.objects.filter(pk=t.customer_id).update(unverified_email="other@example.com")
    assert selectors.claim_for_token(token) is None


# --- Agents are warned ---------------------------------------------------------------------------


def test_agents_see_an_unverified_contact_badge_on_its_tickets_only(carol, agent_client):
    guest_api("carol@example.com")
    t = Ticket.objects.get()
    html = page(agent_client.get(reverse("admin:tickets_ticket_change", args=[t.pk])))
    assert 'id="hc-unverified"' in html
    assert "Do not disclose account details" in html
    assert "carol@example.com" in html
    assert "Prefers the phone" not in html  # the account's notes are not the contact's
    queue = page(agent_client.get(reverse("admin:tickets_ticket_changelist") + "?status=all"))
    assert "hc-tier--unverified" in queue

    own = services.ticket_create(customer=carol, subject="Mine", body="Hello")
    html = page(agent_client.get(reverse("admin:tickets_ticket_change", args=[own.pk])))
    assert 'id="hc-unverified"' not in html
