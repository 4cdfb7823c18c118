import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets import services
from tickets.models import (
    AuthorKind,
    Channel,
    Event,
    EventKind,
    IdempotencyKey,
    Lane,
    Message,
    Priority,
    Status,
    Ticket,
)
from tickets.services import idempotency as api_services
from tickets.tests.factories import CustomerFactory, TeamFactory, ticket, tier

LIST = "/api/tickets/"


def detail(t) -> str:
    return f"/api/tickets/{t.reference}/"


def messages(t) -> str:
    return f"/api/tickets/{t.reference}/messages/"


def as_user(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert "detail" in body
    return body


@pytest.fixture
def customer_b(db, django_user_model):
    return django_user_model.objects.create_user(
        "customer2", email="customer2@example.com", password="pw-customer2"
    )


@pytest.fixture
def users(customer, customer_b, agent, manager):
    return {"customer_a": customer, "customer_b": customer_b, "agent": agent, "manager": manager}


@pytest.fixture
def ticket_a(customer):
    """A ticket of customer A (and, for noise, one of a guest)."""
    t = ticket(services.customer_for_user(user=customer), subject="Parcel missing")
    ticket(services.customer_for_email(email="x@example.com"), subject="Someone else's")
    return t


def guest_payload(**extra) -> dict:
    return {
        "name": "Ann Guest",
        "email": "Ann@Example.com",
        "subject": "Where is my order?",
        "body": "Order 42 has not arrived.",
        **extra,
    }


# --- Creating ----------------------------------------------------------------------------------


def test_guest_opens_a_ticket_and_gets_its_reference_and_private_link(db, settings):
    settings.SITE_URL = "https://help.example.com"
    response = as_user().post(LIST, guest_payload(), format="json")
    assert response.status_code == 201
    data = response.json()
    t = Ticket.objects.get()
    assert data["reference"] == t.reference
    assert data["guest_url"] == f"https://help.example.com{t.get_guest_url()}"
    assert t.access_key in data["guest_url"]
    assert response["Location"] == detail(t)
    assert t.channel == Channel.API
    assert (t.customer.email, t.customer.name) == ("ann@example.com", "Ann Guest")
    assert t.messages.get().body == "Order 42 has not arrived."


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"email": ""}, {"email"}),
        ({"subject": ""}, {"subject"}),
        ({"subject": "x" * 201}, {"subject"}),
        ({"body": "   "}, {"body"}),
        ({"subject": None, "body": None}, {"subject", "body"}),
    ],
)
def test_guest_ticket_with_invalid_fields_is_a_400_naming_them(db, payload, fields):
    response = as_user().post(LIST, guest_payload(**payload), format="json")
    body = assert_json_error(response, 400)
    assert set(body["errors"]) == fields
    assert not Ticket.objects.exists()


def test_guest_ticket_without_email_is_a_400(db):
    payload = guest_payload()
    del payload["email"]
    assert set(as_user().post(LIST, payload, format="json").json()["errors"]) == {"email"}


def test_a_body_that_is_not_an_object_is_a_400(db):
    response = as_user().post(LIST, ["subject"], format="json")
    assert_json_error(response, 400)
    assert_json_error(as_user().post(LIST, "{", content_type="application/json"), 400)


def test_signed_in_customer_opens_a_ticket_as_themselves(customer):
    response = as_user(customer).post(
        LIST, {"subject": "Refund", "body": "Where is my money?"}, format="json"
    )
    assert response.status_code == 201
    t = Ticket.objects.get(pk=response.json()["reference"].removeprefix("HC-"))
    assert t.customer.user == customer
    assert t.channel == Channel.API
    assert response.json()["guest_url"] is None
    assert Event.objects.get(ticket=t, kind=EventKind.CREATED).actor == customer


def test_staff_open_a_ticket_on_a_customers_behalf_with_a_priority(agent):
    existing = CustomerFactory(email="bo@example.com")
    response = as_user(agent).post(
        LIST,
        {
            "customer_email": "BO@example.com",
            "customer_name": "Bo",
            "subject": "Called about a refund",
            "body": "Customer called: refund not received.",
            "priority": "high",
        },
        format="json",
    )
    assert response.status_code == 201
    t = Ticket.objects.get()
    assert t.customer == existing
    assert t.priority == Priority.HIGH
    assert t.channel == Channel.API
    assert Event.objects.get(ticket=t, kind=EventKind.CREATED).actor == agent


def test_staff_create_a_customer_when_the_email_is_new(manager):
    response = as_user(manager).post(
        LIST,
        {"customer_email": "new@example.com", "subject": "Hi", "body": "Hello", "priority": 1},
        format="json",
    )
    assert response.status_code == 201
    t = Ticket.objects.get()
    assert (t.customer.email, t.priority) == ("new@example.com", Priority.URGENT)


def test_staff_must_name_the_customer_and_a_known_priority(agent):
    response = as_user(agent).post(
        LIST, {"subject": "Hi", "body": "Hello", "priority": 9}, format="json"
    )
    body = assert_json_error(response, 400)
    assert set(body["errors"]) == {"customer_email", "priority"}
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", 1),
        ("lane", 1),
        ("assignee", 1),
        ("team", "vip"),
        ("internal", True),
        ("status", "solved"),
        ("channel", "phone"),
        ("customer_email", "someone@example.com"),
    ],
)
def test_fields_a_customer_may_not_set_are_a_400_and_nothing_is_created(customer, field, value):
    payload = {"subject": "Help", "body": "Please", field: value}
    for client, data in ((as_user(customer), payload), (as_user(), guest_payload(**payload))):
        body = assert_json_error(client.post(LIST, data, format="json"), 400)
        assert body["errors"] == {field: ["You may not set this field."]}
    assert not Ticket.objects.exists()


def test_a_forbidden_field_is_reported_with_the_other_errors(customer):
    response = as_user(customer).post(LIST, {"priority": 1, "body": "x"}, format="json")
    assert set(assert_json_error(response, 400)["errors"]) == {"priority", "subject"}


# --- Idempotency -------------------------------------------------------------------------------


def test_a_retried_post_with_the_same_key_creates_one_ticket(customer):
    client = as_user(customer)
    payload = {"subject": "Refund", "body": "Where is my money?"}
    first = client.post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Ticket.objects.count() == 1
    stored = IdempotencyKey.objects.get()
    assert (stored.scope, stored.key) == (f"user:{customer.pk}", "k-1")
    assert stored.ticket.reference == first.json()["reference"]


def test_a_replay_matches_the_body_whatever_its_key_order_or_encoding(customer):
    client = as_user(customer)
    client.post(
        LIST, {"subject": "Refund", "body": "Money?"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    retry = client.post(
        LIST, {"body": "Money?", "subject": "Refund"}, format="multipart", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert retry["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1


def test_the_same_key_with_a_different_body_is_a_409(customer):
    client = as_user(customer)
    client.post(LIST, {"subject": "A", "body": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = client.post(
        LIST, {"subject": "B", "body": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert "Idempotency-Key" in assert_json_error(response, 409)["detail"]
    assert Ticket.objects.count() == 1


def test_keys_are_per_caller(customer, customer_b):
    payload = {"subject": "A", "body": "a"}
    as_user(customer).post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = as_user(customer_b).post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert "Idempotent-Replayed" not in other
    assert Ticket.objects.count() == 2


def test_guest_retries_are_matched_by_email_and_get_the_link_again(db):
    first = as_user().post(LIST, guest_payload(), format="json", HTTP_IDEMPOTENCY_KEY="g")
    retry = as_user().post(LIST, guest_payload(), format="json", HTTP_IDEMPOTENCY_KEY="g")
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["guest_url"] == first.json()["guest_url"]
    assert IdempotencyKey.objects.get().scope == "guest:ann@example.com"
    assert Ticket.objects.count() == 1


def test_a_very_long_guest_email_gets_a_fixed_size_scope(db):
    email = "a" * 64 + "@" + "b" * 60 + ".example.com"
    response = as_user().post(
        LIST, guest_payload(email=email), format="json", HTTP_IDEMPOTENCY_KEY="g"
    )
    assert response.status_code == 201
    assert IdempotencyKey.objects.get().scope.startswith("guest:sha256:")


def test_an_idempotency_key_longer_than_120_characters_is_a_400(customer):
    response = as_user(customer).post(
        LIST, {"subject": "A", "body": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 121
    )
    assert set(assert_json_error(response, 400)["errors"]) == {"Idempotency-Key"}
    assert not Ticket.objects.exists()


def test_a_duplicate_that_loses_the_race_returns_the_winners_ticket(customer, monkeypatch):
    """The retry looked for the key before the original committed, then hit the unique
    constraint: it answers with the original's ticket, and its own ticket is rolled back."""
    payload = {"subject": "Refund", "body": "Where is my money?"}
    winner = ticket(services.customer_for_user(user=customer))
    IdempotencyKey.objects.create(
        scope=f"user:{customer.pk}",
        key="race",
        request_hash=api_services.request_fingerprint(payload),
        ticket=winner,
    )
    real_replay = api_services._replay
    calls = []

    def replay_missing_the_first_time(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real_replay(**kwargs)

    monkeypatch.setattr(api_services, "_replay", replay_missing_the_first_time)
    response = as_user(customer).post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"
    assert response.json()["reference"] == winner.reference
    assert list(Ticket.objects.all()) == [winner]
    assert Message.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_ticket(django_user_model):
    from tickets.models import Tier

    Tier.objects.get_or_create(slug="standard", defaults={"name": "Standard"})
    user = django_user_model.objects.create_user("racer", email="racer@example.com")
    services.customer_for_user(user=user)
    barrier = threading.Barrier(4)
    responses = []

    def post():
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            responses.append(
                client.post(
                    LIST,
                    {"subject": "Race", "body": "Same request"},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY="same",
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["reference"] for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 3
    assert Ticket.objects.count() == 1


# --- Throttling --------------------------------------------------------------------------------


def test_anonymous_creation_is_throttled_with_a_json_429(db, settings, customer):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "ticket_guest_create": "2/hour",
        },
    }
    codes = [as_user().post(LIST, guest_payload(), format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    throttled = as_user().post(LIST, guest_payload(), format="json")
    assert "detail" in assert_json_error(throttled, 429)
    assert int(throttled["Retry-After"]) > 0
    assert Ticket.objects.count() == 2
    # Signed-in customers are not held back by the guests' limit.
    signed_in = as_user(customer).post(LIST, {"subject": "A", "body": "a"}, format="json")
    assert signed_in.status_code == 201


# --- Listing -----------------------------------------------------------------------------------


def test_customers_list_only_their_own_tickets_newest_first(customer, customer_b, ticket_a):
    now = timezone.now()
    newer = ticket(ticket_a.customer, subject="Second", now=now + timedelta(minutes=1))
    theirs = ticket(services.customer_for_user(user=customer_b), subject="B's")
    data = as_user(customer).get(LIST).json()
    assert [t["reference"] for t in data["results"]] == [newer.reference, ticket_a.reference]
    assert "priority" not in data["results"][0]
    assert "customer" not in data["results"][0]
    b_refs = [t["reference"] for t in as_user(customer_b).get(LIST).json()["results"]]
    assert b_refs == [theirs.reference]


def test_customers_can_filter_their_list_by_status(customer, ticket_a):
    solved = ticket(ticket_a.customer, subject="Done")
    services.ticket_update(ticket=solved, actor=None, status=Status.SOLVED)
    data = as_user(customer).get(LIST, {"status": "solved"}).json()
    assert [t["reference"] for t in data["results"]] == [solved.reference]


def test_staff_list_every_ticket_in_queue_order(agent):
    vip = ticket(CustomerFactory(tier=tier("vip")), subject="VIP")
    standard = ticket(subject="Standard")
    urgent = ticket(subject="Urgent", priority=Priority.URGENT)
    data = as_user(agent).get(LIST).json()
    expected = list(Ticket.objects.in_queue_order())
    assert [t["reference"] for t in data["results"]] == [t.reference for t in expected]
    assert {t.pk for t in expected} == {vip.pk, standard.pk, urgent.pk}
    assert data["results"][0]["reference"] == vip.reference  # the tighter VIP deadline
    first = data["results"][0]
    assert first["lane"] == "vip"
    assert first["customer"]["vip"] is True
    assert {"priority", "assignee", "team", "next_due_at", "sla_breached"} <= set(first)


@pytest.fixture
def queue(agent, manager):
    team = TeamFactory(slug="billing")
    vip = ticket(CustomerFactory(tier=tier("vip"), email="vip@example.com"), subject="VIP order")
    mine = ticket(subject="Invoice copy", channel=Channel.EMAIL)
    managers = ticket(subject="Broken zipper", priority=Priority.URGENT)
    breached = ticket(subject="Late parcel")
    services.ticket_update(ticket=mine, actor=None, assignee=agent, team=team)
    services.ticket_update(ticket=managers, actor=None, assignee=manager, status=Status.PENDING)
    Ticket.objects.filter(pk=breached.pk).update(sla_breached=True)
    return {"vip": vip, "mine": mine, "managers": managers, "breached": breached}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "pending"}, {"managers"}),
        ({"status": ["pending", "new"]}, {"vip", "mine", "managers", "breached"}),
        ({"priority": "urgent"}, {"managers"}),
        ({"priority": "1"}, {"managers"}),
        ({"lane": "vip"}, {"vip"}),
        ({"lane": "2"}, {"mine", "managers", "breached"}),
        ({"channel": "email"}, {"mine"}),
        ({"team": "billing"}, {"mine"}),
        ({"team": "nobody"}, set()),
        ({"assignee": "me"}, {"mine"}),
        ({"assignee": "none"}, {"vip", "breached"}),
        ({"breached": "true"}, {"breached"}),
        ({"breached": "false"}, {"vip", "mine", "managers"}),
        ({"q": "zipper"}, {"managers"}),
        ({"q": "vip@example"}, {"vip"}),
        ({"assignee": "me", "team": "billing", "channel": "email"}, {"mine"}),
        (
            {"channel": "", "q": "", "priority": "", "breached": ""},
            {"vip", "mine", "managers", "breached"},
        ),
    ],
)
def test_staff_filter_the_queue(agent, queue, params, expected):
    data = as_user(agent).get(LIST, params).json()
    assert {t["reference"] for t in data["results"]} == {queue[k].reference for k in expected}


def test_staff_find_a_ticket_by_reference_and_by_assignee_id(agent, manager, queue):
    client = as_user(agent)
    by_ref = client.get(LIST, {"q": queue["vip"].reference}).json()["results"]
    assert [t["reference"] for t in by_ref] == [queue["vip"].reference]
    by_id = client.get(LIST, {"assignee": manager.pk}).json()["results"]
    assert [t["reference"] for t in by_id] == [queue["managers"].reference]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"priority": "meh"},
        {"lane": "fast"},
        {"channel": "fax"},
        {"assignee": "someone"},
        {"assignee": "9" * 30},
        {"breached": "maybe"},
        {"q": "x" * 201},
    ],
)
def test_bad_filters_are_a_400(agent, params):
    body = assert_json_error(as_user(agent).get(LIST, params), 400)
    assert set(body["errors"]) == set(params)


def test_the_list_pages_without_counting(agent):
    for i in range(5):
        ticket(subject=f"T{i}")
    client = as_user(agent)
    first = client.get(LIST, {"page_size": 2}).json()
    assert set(first) == {"next", "previous", "results"}
    assert len(first["results"]) == 2
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert len(third["results"]) == 1
    assert third["next"] is None
    seen = [t["reference"] for page in (first, second, third) for t in page["results"]]
    assert seen == [t.reference for t in Ticket.objects.in_queue_order()]
    assert client.get(second["previous"]).json() == first
    assert_json_error(client.get(LIST, {"page": 4, "page_size": 2}), 404)
    assert_json_error(client.get(LIST, {"page": "x"}), 404)
    assert_json_error(client.get(LIST, {"page": 10**30}), 404)
    assert len(client.get(LIST, {"page_size": 1000}).json()["results"]) == 5


@pytest.mark.parametrize("who", ["agent", "customer_a"])
def test_list_query_count_does_not_grow_with_tickets_and_never_counts(who, users, agent):
    user = users[who]
    owner = services.customer_for_user(user=users["customer_a"])
    team = TeamFactory()
    client = as_user(user)

    def list_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST, {"page_size": 100})
        assert response.status_code == 200
        return [q["sql"] for q in queries.captured_queries]

    def add(n: int) -> None:
        for i in range(n):
            t = ticket(owner if i % 2 else CustomerFactory(tier=tier("vip")), subject=f"T{i}")
            Ticket.objects.filter(pk=t.pk).update(assignee=agent, team=team)

    add(5)
    list_queries()  # warm: the customer record is linked on first use
    few = list_queries()
    add(45)
    many = list_queries()
    assert len(many) == len(few) <= 5
    assert not [sql for sql in many if "COUNT(" in sql.upper()]


# --- Reading -----------------------------------------------------------------------------------


@pytest.fixture
def conversation(ticket_a, agent):
    services.message_post(
        ticket=ticket_a, author_kind=AuthorKind.AGENT, author=agent, body="On its way."
    )
    services.message_post(
        ticket=ticket_a,
        author_kind=AuthorKind.AGENT,
        author=agent,
        body="Warehouse says lost.",
        internal=True,
    )
    message = ticket_a.messages.first()
    upload = SimpleUploadedFile("receipt.txt", b"order 42", content_type="text/plain")
    attachment = message.attachments.create(
        ticket=ticket_a, original_name="receipt.txt", content_type="text/plain", size=8
    )
    attachment.file.save("upload", upload)
    return ticket_a


def test_customers_read_the_public_conversation(customer, conversation):
    data = as_user(customer).get(detail(conversation)).json()
    assert data["reference"] == conversation.reference
    assert [(m["author_kind"], m["body"]) for m in data["messages"]] == [
        ("customer", conversation.messages.first().body),
        ("agent", "On its way."),
    ]
    assert not any(m["internal"] for m in data["messages"])
    assert data["messages"][0]["author_name"] == conversation.customer.display_name
    assert data["messages"][1]["author_name"] == "agent1"
    attachment = data["messages"][0]["attachments"][0]
    assert attachment["name"] == "receipt.txt"
    assert attachment["size"] == 8
    assert attachment["url"].endswith(f"/requests/attachments/{conversation.attachments.get().pk}/")
    assert "priority" not in data


def test_staff_read_internal_notes_flagged(agent, conversation):
    data = as_user(agent).get(detail(conversation)).json()
    assert [(m["body"], m["internal"]) for m in data["messages"]][1:] == [
        ("On its way.", False),
        ("Warehouse says lost.", True),
    ]
    assert data["customer"]["email"] == conversation.customer.email


@pytest.mark.parametrize("reference", ["HC-999999", "nonsense", "HC-", "0", "99999999999999"])
def test_unknown_or_malformed_references_are_the_same_json_404(customer, agent, reference):
    for client in (as_user(customer), as_user(agent)):
        response = client.get(f"/api/tickets/{reference}/")
        assert assert_json_error(response, 404) == {"detail": "Not found."}


def test_another_customers_ticket_is_the_same_404_as_a_missing_one(customer_b, ticket_a):
    missing = as_user(customer_b).get("/api/tickets/HC-999999/")
    theirs = as_user(customer_b).get(detail(ticket_a))
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())


def test_references_are_read_loosely(customer, ticket_a):
    client = as_user(customer)
    for reference in (f"hc{ticket_a.pk}", str(ticket_a.pk), f"HC-{ticket_a.pk:06d}"):
        assert client.get(f"/api/tickets/{reference}/").json()["reference"] == ticket_a.reference


def test_a_merged_ticket_stands_for_its_target_only_when_that_is_the_customers(
    customer, ticket_a, agent
):
    own_target = ticket(ticket_a.customer, subject="Same problem")
    services.tickets_merge(source=ticket_a, target=own_target, actor=agent)
    data = as_user(customer).get(detail(ticket_a)).json()
    assert data["reference"] == own_target.reference
    reply = as_user(customer).post(messages(ticket_a), {"body": "Any news?"}, format="json")
    assert reply.json()["ticket"] == own_target.reference

    other = ticket(ticket_a.customer, subject="Another")
    foreign_target = ticket(subject="Somebody else's")
    services.tickets_merge(source=other, target=foreign_target, actor=agent, across_customers=True)
    assert_json_error(as_user(customer).get(detail(other)), 404)
    reply = as_user(customer).post(messages(other), {"body": "Hello?"}, format="json")
    assert_json_error(reply, 404)
    assert foreign_target.messages.filter(body="Hello?").count() == 0


def test_detail_query_count_does_not_grow_with_messages(agent, ticket_a):
    client = as_user(agent)

    def detail_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail(ticket_a)).status_code == 200
        return len(queries)

    few = detail_queries()
    for i in range(10):
        services.message_post(
            ticket=ticket_a, author_kind=AuthorKind.AGENT, author=agent, body=f"Reply {i}"
        )
    assert detail_queries() == few


# --- Replying ----------------------------------------------------------------------------------


def test_customer_replies_and_the_pending_ticket_reopens(customer, ticket_a):
    services.ticket_update(ticket=ticket_a, actor=None, status=Status.PENDING)
    response = as_user(customer).post(messages(ticket_a), {"body": "Still waiting."}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["ticket"], data["author_kind"], data["internal"]) == (
        ticket_a.reference,
        "customer",
        False,
    )
    ticket_a.refresh_from_db()
    assert ticket_a.status == Status.OPEN


@pytest.mark.parametrize(("field", "value"), [("internal", True), ("status", "solved")])
def test_customers_may_not_post_notes_or_set_the_status(customer, ticket_a, field, value):
    response = as_user(customer).post(
        messages(ticket_a), {"body": "Psst", field: value}, format="json"
    )
    assert assert_json_error(response, 400)["errors"] == {field: ["You may not set this field."]}
    assert not ticket_a.messages.filter(body="Psst").exists()


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(customer, ticket_a):
    services.ticket_update(ticket=ticket_a, actor=None, status=Status.CLOSED)
    response = as_user(customer).post(
        messages(ticket_a), {"body": "It broke again."}, format="json"
    )
    assert response.status_code == 201
    follow_up = Ticket.objects.get(follow_up_of=ticket_a)
    assert response.json()["ticket"] == follow_up.reference
    assert follow_up.messages.get().body == "It broke again."


def test_staff_post_internal_notes_and_set_the_status(agent, ticket_a):
    client = as_user(agent)
    note = client.post(messages(ticket_a), {"body": "Check stock", "internal": True}, format="json")
    assert (note.status_code, note.json()["internal"]) == (201, True)
    reply = client.post(messages(ticket_a), {"body": "Sent.", "status": "pending"}, format="json")
    assert reply.json()["author_name"] == "agent1"
    ticket_a.refresh_from_db()
    assert ticket_a.status == Status.PENDING
    assert ticket_a.first_responded_at is not None


def test_replies_carry_attachments_checked_by_content(customer, ticket_a):
    client = as_user(customer)
    ok = client.post(
        messages(ticket_a),
        {"body": "Photo", "attachments": [SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\nrest")]},
        format="multipart",
    )
    assert ok.status_code == 201
    assert ok.json()["attachments"][0]["name"] == "a.png"
    assert ticket_a.attachments.get().content_type == "image/png"
    bad = client.post(
        messages(ticket_a),
        {"body": "Script", "attachments": [SimpleUploadedFile("x.svg", b"<svg onload=1>")]},
        format="multipart",
    )
    assert set(assert_json_error(bad, 400)["errors"]) == {"attachments"}


def test_a_new_ticket_can_carry_attachments(db):
    response = as_user().post(
        LIST,
        {**guest_payload(), "attachments": [SimpleUploadedFile("note.txt", b"hello")]},
        format="multipart",
    )
    assert response.status_code == 201
    assert Ticket.objects.get().attachments.get().original_name == "note.txt"


# --- Staff changes -----------------------------------------------------------------------------


def test_staff_change_status_priority_assignee_and_team(agent, manager, ticket_a):
    team = TeamFactory(slug="returns")
    response = as_user(agent).patch(
        detail(ticket_a),
        {"status": "open", "priority": "urgent", "assignee": "manager1", "team": "returns"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["priority"], data["assignee"]["id"], data["team"]["slug"]) == (
        "open",
        "urgent",
        manager.pk,
        "returns",
    )
    ticket_a.refresh_from_db()
    assert (ticket_a.assignee, ticket_a.team, ticket_a.priority) == (manager, team, 1)
    kinds = set(ticket_a.events.values_list("kind", flat=True))
    assert {EventKind.STATUS, EventKind.PRIORITY, EventKind.ASSIGNEE, EventKind.TEAM} <= kinds

    cleared = as_user(agent).patch(
        detail(ticket_a), {"assignee": None, "team": None, "priority": 4}, format="json"
    )
    assert (cleared.json()["assignee"], cleared.json()["team"]) == (None, None)
    by_id = as_user(agent).patch(detail(ticket_a), {"assignee": agent.pk}, format="json")
    assert by_id.json()["assignee"]["username"] == "agent1"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"priority": 0}, "priority"),
        ({"priority": "soon"}, "priority"),
        ({"assignee": "nobody"}, "assignee"),
        ({"assignee": 987654}, "assignee"),
        ({"assignee": True}, "assignee"),
        ({"assignee": 10**30}, "assignee"),
        ({"assignee": "²"}, "assignee"),
        ({"priority": "²"}, "priority"),
        ({"team": "no-such-team"}, "team"),
        ({"tags": ["x"]}, "tags"),
        ({"lane": 1}, "lane"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_changes_are_a_400_naming_the_field(agent, ticket_a, payload, field):
    response = as_user(agent).patch(detail(ticket_a), payload, format="json")
    assert field in assert_json_error(response, 400)["errors"]


def test_tickets_are_only_assigned_to_active_staff(agent, customer_b, ticket_a):
    response = as_user(agent).patch(detail(ticket_a), {"assignee": "customer2"}, format="json")
    assert set(assert_json_error(response, 400)["errors"]) == {"assignee"}
    ticket_a.refresh_from_db()
    assert ticket_a.assignee is None


# --- Every endpoint by role --------------------------------------------------------------------

ROLES = ["anonymous", "customer_a", "customer_b", "agent", "manager"]


def _create_payload(role: str) -> dict:
    if role == "anonymous":
        return guest_payload()
    if role in ("agent", "manager"):
        return {"customer_email": "c@example.com", "subject": "Call", "body": "Phoned in"}
    return {"subject": "Help", "body": "Please"}


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("list", [401, 200, 200, 200, 200]),
        ("create", [201, 201, 201, 201, 201]),
        ("detail", [401, 200, 404, 200, 200]),
        ("reply", [401, 201, 404, 201, 201]),
        ("change", [401, 403, 404, 200, 200]),
    ],
)
def test_every_endpoint_answers_each_role_as_expected(users, ticket_a, endpoint, expected):
    codes = []
    for role in ROLES:
        client = as_user(users.get(role))
        response = {
            "list": lambda c, r: c.get(LIST),
            "create": lambda c, r: c.post(LIST, _create_payload(r), format="json"),
            "detail": lambda c, r: c.get(detail(ticket_a)),
            "reply": lambda c, r: c.post(messages(ticket_a), {"body": "Hi"}, format="json"),
            "change": lambda c, r: c.patch(detail(ticket_a), {"status": "open"}, format="json"),
        }[endpoint](client, role)
        codes.append(response.status_code)
        assert response["Content-Type"] == "application/json"
        if response.status_code >= 400:
            assert "detail" in response.json()
    assert codes == expected


def test_anonymous_callers_are_asked_to_authenticate(ticket_a):
    response = as_user().get(LIST)
    assert assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_staff_without_ticket_permissions_are_treated_as_customers(
    django_user_model, ticket_a, customer
):
    editor = django_user_model.objects.create_user("editor", is_staff=True)
    client = as_user(editor)
    assert client.get(LIST).json()["results"] == []
    assert_json_error(client.get(detail(ticket_a)), 404)
    assert_json_error(client.patch(detail(ticket_a), {"status": "open"}, format="json"), 404)


def test_session_writes_need_the_csrf_token(customer, ticket_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer)
    response = client.post(messages(ticket_a), {"body": "Hi"}, format="json")
    assert "CSRF" in assert_json_error(response, 403)["detail"]


# --- Token authentication ----------------------------------------------------------------------


def test_token_authentication_works(customer, agent, ticket_a):
    token = Token.objects.create(user=customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(detail(ticket_a)).status_code == 200
    assert client.post(messages(ticket_a), {"body": "Via token"}, format="json").status_code == 201
    created = client.post(LIST, {"subject": "Token", "body": "ticket"}, format="json")
    assert Ticket.objects.get(pk=created.json()["reference"][3:]).customer == ticket_a.customer
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    assert staff.patch(detail(ticket_a), {"priority": 2}, format="json").status_code == 200


def test_a_bad_token_is_a_401_even_for_creation(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert_json_error(client.get(LIST), 401)
    assert_json_error(client.post(LIST, guest_payload(), format="json"), 401)
    assert not Ticket.objects.exists()


# --- Schema ------------------------------------------------------------------------------------


def test_openapi_schema_documents_every_ticket_endpoint(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/tickets/"]) >= {"get", "post"}
    assert set(paths["/api/tickets/{reference}/"]) >= {"get", "patch"}
    assert "post" in paths["/api/tickets/{reference}/messages/"]
    create = paths["/api/tickets/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert {"201", "400", "409", "429"} <= set(create["responses"])
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    listing = paths["/api/tickets/"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert {"status", "priority", "lane", "channel", "team", "assignee", "breached", "q"} <= params
    assert {"page", "page_size"} <= params
    assert {"401", "404"} <= set(paths["/api/tickets/{reference}/"]["get"]["responses"])
    assert {"403", "404"} <= set(paths["/api/tickets/{reference}/"]["patch"]["responses"])
    schemas = response.json()["components"]["schemas"]
    page = schemas["PaginatedTicketListItemList"]
    assert set(page["properties"]) == {"next", "previous", "results"}  # no count


def test_the_queue_filters_use_the_models_vocabulary(agent, queue):
    """Names in and out match: what a ticket says it is, a filter finds it by."""
    data = as_user(agent).get(detail(queue["vip"])).json()
    found = as_user(agent).get(LIST, {"priority": data["priority"], "lane": data["lane"]}).json()
    assert queue["vip"].reference in {t["reference"] for t in found["results"]}
    assert data["lane"] == Lane.VIP.name.lower()
