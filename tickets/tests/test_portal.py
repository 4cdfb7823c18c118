"""The customer portal through the real stack: request form, suggestions and deflection, my
requests, the conversation (signed in and guest), attachments, isolation between customers."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.settings import api_settings

from kb.models import Article
from kb.tests.factories import ArticleFactory
from tickets import services
from tickets.models import Attachment, AuthorKind, Customer, Status, SuggestionView, Ticket
from tickets.tests.factories import CustomerFactory, agent, ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
XSS = "<script>alert('x')</script>"


@pytest.fixture(autouse=True)
def _portal_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def customer_login(client, email="ann@example.com", name="Ann"):
    user = get_user_model().objects.create_user(
        username=email, email=email, password="pw", first_name=name
    )
    client.force_login(user)
    return services.customer_for_user(user=user)


def png(name="shot.png", content=PNG):
    return SimpleUploadedFile(name, content, content_type="image/png")


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- Submitting a request ----------------------------------------------------------------------


def test_guest_submits_a_request_sees_the_reference_and_guest_link_and_gets_it_by_email(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/en/requests/new/",
            {
                "subject": "Parcel missing",
                "body": "Order 123 never came.",
                "email": "Guest@Example.com",
                "name": "Gus",
                "attachments": [png()],
            },
        )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.customer.email == "guest@example.com"
    assert ticket.customer.name == "Gus"
    assert ticket.customer.user is None
    assert ticket.channel == "web"
    assert ticket.attachments.get().original_name == "shot.png"

    confirmation = page(client.get(response["Location"]))
    assert ticket.reference in confirmation
    assert "http://127.0.0.1:8000" + ticket.get_guest_url() in confirmation  # SITE_URL

    (received,) = mail.outbox
    assert received.to == ["guest@example.com"]
    assert ticket.get_guest_url() in received.body
    assert page(client.get(ticket.get_guest_url())).count("Order 123 never came.") == 1


def test_signed_in_customer_submits_a_request_that_is_in_my_requests(client, db):
    customer = customer_login(client)
    response = client.post("/en/requests/new/", {"subject": "Refund", "body": "Where is it?"})
    ticket = Ticket.objects.get()
    assert ticket.customer == customer
    assert ticket.events.get().actor == customer.user
    confirmation = page(client.get(response["Location"]))
    assert ticket.get_absolute_url() in confirmation
    assert ticket.access_key not in confirmation  # no guest link when it is their account
    assert "Refund" in page(client.get("/en/requests/"))


def test_signed_in_form_does_not_ask_for_email_but_the_guest_form_does(client, db):
    guest_form = page(client.get("/en/requests/new/"))
    assert 'name="email"' in guest_form
    assert 'for="id_subject"' in guest_form
    customer_login(client)
    assert 'name="email"' not in page(client.get("/en/requests/new/"))


def test_missing_fields_show_announced_form_errors_and_create_nothing(client, db):
    response = client.post("/en/requests/new/", {"subject": "", "body": "", "email": "nope"})
    html = page(response)
    assert Ticket.objects.count() == 0
    assert 'role="alert"' in html
    assert "<title>Error:" in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_subject_helptext id_subject_error"' in html
    assert 'href="#id_email"' in html  # the summary links to the field


def test_blank_after_cleaning_is_a_form_error_not_a_500(client, db):
    response = client.post(
        "/en/requests/new/", {"subject": "\x01\x02", "body": "text", "email": "a@example.com"}
    )
    assert response.status_code == 200
    assert Ticket.objects.count() == 0
    assert "This field may not be blank." in response.content.decode()


def test_guest_requests_are_throttled_per_client_address(client, db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **api_settings.DEFAULT_THROTTLE_RATES,
            "ticket_guest_create": "2/hour",
        },
    }
    data = {"subject": "Hi", "body": "Hello", "email": "g@example.com"}
    assert client.post("/en/requests/new/", data).status_code == 302
    assert client.post("/en/requests/new/", data).status_code == 302
    response = client.post("/en/requests/new/", data)
    assert response.status_code == 429
    assert "several requests in a short time" in response.content.decode()
    assert Ticket.objects.count() == 2
    other = client.post("/en/requests/new/", data, REMOTE_ADDR="10.1.1.1")
    assert other.status_code == 302  # another client is not affected


def test_rotating_x_forwarded_for_does_not_escape_the_guest_ticket_limit(client, db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **api_settings.DEFAULT_THROTTLE_RATES,
            "ticket_guest_create": "2/hour",
        },
    }
    data = {"subject": "Hi", "body": "Hello", "email": "g@example.com"}
    for i in range(2):  # the API and the form share one budget per address
        api = client.post(
            "/api/tickets/", data, content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )  # fmt: skip
        assert api.status_code == 201
    response = client.post("/en/requests/new/", data, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 429
    assert Ticket.objects.count() == 2


# --- A form posted twice (double click, resend): the one-time nonce ---------------------------


def nonce_of(response) -> str:
    return re.search(r'name="form_nonce" value="([^"]+)"', page(response))[1]


def test_the_request_form_posted_twice_makes_one_ticket_and_shows_it_both_times(client, db):
    url = "/en/requests/new/"
    data = {
        "subject": "Parcel missing", "body": "Order 123 never came.", "email": "g@example.com",
        "form_nonce": nonce_of(client.get(url)),
    }  # fmt: skip
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.reference in page(client.get(second["Location"]))
    # The form shown again is another request, even in the same words.
    again = nonce_of(client.get(url))
    assert again != data["form_nonce"]
    assert client.post(url, {**data, "form_nonce": again}).status_code == 302
    assert Ticket.objects.count() == 2


def test_other_words_posted_under_the_same_nonce_are_another_request(client, db):
    url = "/en/requests/new/"
    data = {"subject": "Hi", "body": "First", "email": "g@example.com", "form_nonce": "n1"}
    client.post(url, data)
    client.post(url, {**data, "body": "Second, after going back and changing it"})
    assert sorted(Ticket.objects.values_list("messages__body", flat=True)) == [
        "First", "Second, after going back and changing it",
    ]  # fmt: skip


def test_a_signed_in_customers_request_posted_twice_is_one_ticket(client, db):
    customer = customer_login(client)
    url = "/en/requests/new/"
    data = {"subject": "Hi", "body": "Hello", "form_nonce": nonce_of(client.get(url))}
    client.post(url, data)
    client.post(url, data)
    assert Ticket.objects.get().customer == customer


def test_a_form_posted_without_its_nonce_is_named_by_its_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    url = "/en/requests/new/"
    shown = page(client.get(url))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', shown)[1]
    data = {
        "subject": "Hi",
        "body": "Hello",
        "email": "g@example.com",
        "csrfmiddlewaretoken": token,
    }
    assert [client.post(url, data).status_code for _ in range(2)] == [302, 302]
    assert Ticket.objects.count() == 1
    other = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page(client.get(url)))[1]
    assert client.post(url, {**data, "csrfmiddlewaretoken": other}).status_code == 302
    assert Ticket.objects.count() == 2


def test_a_reply_posted_twice_is_stored_once(client, db):
    t = ticket(customer_login(client))
    data = {"body": "Still broken", "form_nonce": nonce_of(client.get(t.get_absolute_url()))}
    first, second = client.post(t.get_absolute_url(), data), client.post(t.get_absolute_url(), data)
    assert first["Location"] == second["Location"]
    assert t.messages.count() == 2
    assert t.messages.filter(body="Still broken").count() == 1


def test_a_reply_to_a_closed_request_posted_twice_opens_one_follow_up(client, db):
    t = ticket(customer_login(client))
    services.ticket_update(ticket=t, actor=None, status=Status.CLOSED)
    data = {"body": "It broke again", "form_nonce": nonce_of(client.get(t.get_absolute_url()))}
    first, second = client.post(t.get_absolute_url(), data), client.post(t.get_absolute_url(), data)
    follow_up = Ticket.objects.get(follow_up_of=t)
    assert first["Location"] == second["Location"] == follow_up.get_absolute_url()
    assert follow_up.messages.count() == 1


# --- Suggestions and deflection ------------------------------------------------------------------


@pytest.fixture
def refund_article(db):
    return ArticleFactory(
        slug="refund-time", title="How long does a refund take?", summary="Refunds take 3 days."
    )


def test_opening_a_suggestion_records_the_view_and_goes_to_the_article(client, refund_article):
    response = client.get("/en/requests/new/suggested/refund-time/?q=refund%00time")
    assert response.status_code == 302
    assert response["Location"] == refund_article.get_absolute_url()
    view = SuggestionView.objects.get()
    assert view.article == refund_article
    assert view.query == "refundtime"  # control characters dropped
    assert view.ticket is None  # a deflection so far
    assert view.visitor_key.startswith("visitor:")
    assert "hc_visitor" in response.cookies


def test_a_request_after_opening_suggestions_converts_them_other_visitors_stay_deflected(
    client, refund_article
):
    from django.test import Client

    other = Client()
    other.get("/en/requests/new/suggested/refund-time/?q=refund")  # never submits
    client.get("/en/requests/new/suggested/refund-time/?q=refund")
    client.post(
        "/en/requests/new/", {"subject": "Refund", "body": "Late", "email": "r@example.com"}
    )
    ticket = Ticket.objects.get()
    converted, deflected = (
        SuggestionView.objects.filter(ticket=ticket),
        SuggestionView.objects.filter(ticket__isnull=True),
    )
    assert converted.count() == 1
    assert deflected.count() == 1


def test_signed_in_visitors_suggestions_are_recorded_as_themselves(client, refund_article):
    customer = customer_login(client)
    client.get("/en/requests/new/suggested/refund-time/")
    assert SuggestionView.objects.get().visitor_key == f"user:{customer.user_id}"
    client.post("/en/requests/new/", {"subject": "Refund", "body": "Late"})
    assert SuggestionView.objects.get().ticket == Ticket.objects.get()


def test_suggestions_for_missing_or_unpublished_articles_are_404(client, db):
    ArticleFactory(slug="draft", status=Article.Status.DRAFT)
    assert client.get("/en/requests/new/suggested/nope/").status_code == 404
    assert client.get("/en/requests/new/suggested/draft/").status_code == 404
    assert SuggestionView.objects.count() == 0


def test_form_shown_again_without_javascript_lists_suggested_articles(client, refund_article):
    html = page(client.post("/en/requests/new/", {"subject": "refund take", "body": ""}))
    assert "These articles might answer your question" in html
    assert 'href="/en/requests/new/suggested/refund-time/?q=refund%20take"' in html


def test_request_form_wires_the_suggestion_script_to_the_search_api(client, db):
    html = page(client.get("/en/requests/new/"))
    assert 'data-suggest-url="/api/kb/search/"' in html
    assert 'data-open-url="/en/requests/new/suggested/SLUG/"' in html
    assert "js/request-form.js" in html


# --- My requests and the conversation -------------------------------------------------------------


def test_my_requests_needs_signing_in(client, db):
    response = client.get("/en/requests/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/account/login/?next=/en/requests/")


def test_my_requests_lists_only_own_tickets_in_a_fixed_number_of_queries(
    client, db, django_assert_max_num_queries
):
    customer = customer_login(client)
    ticket(customer, subject="Mine one")
    ticket(subject="Somebody else's")
    client.get("/en/requests/")  # warm up (content types, translations)
    with django_assert_max_num_queries(7) as few:
        html = page(client.get("/en/requests/"))
    assert "Mine one" in html
    assert "Somebody else" not in html
    for i in range(15):
        ticket(customer, subject=f"More {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert page(client.get("/en/requests/")).count("More ") == 15


def test_customer_replies_with_attachment_marks_solved_and_reopens(
    client, db, django_capture_on_commit_callbacks
):
    customer = customer_login(client)
    t = ticket(customer, subject="Broken zipper", body="The zipper broke.")
    services.message_post(ticket=t, author_kind=AuthorKind.AGENT, author=agent(), body="Sorry!")
    url = t.get_absolute_url()
    html = page(client.get(url))
    assert "The zipper broke." in html
    assert "Sorry!" in html
    assert "Mark as solved" in html

    response = client.post(url, {"body": "Photo attached", "attachments": [png()]})
    assert response.status_code == 302
    message = t.messages.get(body="Photo attached")
    assert message.author_kind == AuthorKind.CUSTOMER
    assert message.author == customer.user
    assert response["Location"] == f"{url}#message-{message.pk}"
    assert "shot.png" in page(client.get(url))

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "solve"}).status_code == 302
    t.refresh_from_db()
    assert t.status == Status.SOLVED
    assert "Reopen request" in page(client.get(url))

    client.post(url, {"action": "reopen"})
    t.refresh_from_db()
    assert t.status == Status.OPEN
    assert t.solved_at is None


def test_replying_to_a_closed_request_opens_a_follow_up(client, db):
    customer = customer_login(client)
    t = ticket(customer)
    services.ticket_update(ticket=t, actor=None, status=Status.CLOSED)
    html = page(client.get(t.get_absolute_url()))
    assert "Mark as solved" not in html
    assert "Reopen request" not in html
    assert client.post(t.get_absolute_url(), {"action": "reopen"}).status_code == 302
    t.refresh_from_db()
    assert t.status == Status.CLOSED  # refused, with a message

    response = client.post(t.get_absolute_url(), {"body": "It broke again"})
    follow_up = Ticket.objects.get(follow_up_of=t)
    assert response["Location"] == follow_up.get_absolute_url()
    assert follow_up.reference in page(client.get(response["Location"]))


def test_empty_reply_is_a_form_error(client, db):
    customer = customer_login(client)
    t = ticket(customer)
    html = page(client.post(t.get_absolute_url(), {"body": "   "}))
    assert 'role="alert"' in html
    assert t.messages.count() == 1


def test_conversation_page_query_count_does_not_grow_with_messages(
    client, db, django_assert_max_num_queries
):
    customer = customer_login(client)
    t = ticket(customer)
    staff = agent()
    client.get(t.get_absolute_url())
    with django_assert_max_num_queries(8) as few:
        page(client.get(t.get_absolute_url()))
    for i in range(10):
        m = services.message_post(
            ticket=t, author_kind=AuthorKind.AGENT, author=staff, body=f"Reply {i}"
        )
        services.message_post(
            ticket=t,
            author_kind=AuthorKind.CUSTOMER,
            body=f"Answer {i}",
            attachments=portal_uploads(),
        )
        assert m.pk
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert page(client.get(t.get_absolute_url())).count("Answer ") == 10


def portal_uploads():
    from tickets.attachments import check_uploads

    return check_uploads([png()])


def test_merged_request_redirects_its_owner_to_the_target(client, db):
    customer = customer_login(client)
    source, target = ticket(customer), ticket(customer)
    services.tickets_merge(source=source, target=target, actor=None)
    response = client.get(source.get_absolute_url())
    assert response["Location"] == target.get_absolute_url()
    guest = client.get(source.get_guest_url())
    assert guest["Location"] == target.get_guest_url()


# --- Guests ---------------------------------------------------------------------------------------


def test_guest_link_needs_the_exact_key(client, db):
    t, other = ticket(), ticket()
    assert client.get(t.get_guest_url()).status_code == 200
    base = f"/en/requests/{t.reference}/guest/"
    for key in ["wrong", other.access_key, t.access_key[:-1], t.access_key + "x", "ключ"]:
        assert client.get(base + key + "/").status_code == 404
    assert client.get(f"/en/requests/HC-999999/guest/{t.access_key}/").status_code == 404


def test_guest_replies_marks_solved_and_downloads_with_the_key(client, db):
    t = ticket(attachments=portal_uploads())
    url = t.get_guest_url()
    response = client.post(url, {"body": "More details", "attachments": [png("b.png")]})
    assert response.status_code == 302
    message = t.messages.get(body="More details")
    assert message.author is None
    html = page(client.get(url))
    link = f"{message.attachments.get().get_absolute_url()}?key={t.access_key}"
    assert link in html
    assert client.get(link).status_code == 200
    assert client.get(message.attachments.get().get_absolute_url()).status_code == 404
    client.post(url, {"action": "solve"})
    t.refresh_from_db()
    assert t.status == Status.SOLVED


# --- Isolation -------------------------------------------------------------------------------------


def _not_found(response) -> str:
    """The 404 page apart from what differs on every page anyway: the requested path (in the
    language switcher) and the per-render mask of the CSRF token."""
    assert response.status_code == 404
    path = response.wsgi_request.path.removeprefix("/en")
    html = response.content.decode().replace(path, "PATH")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)


def test_customer_a_gets_the_same_404_for_b_ticket_reply_and_attachment_as_for_missing_ones(
    client, db
):
    bob = CustomerFactory(email="bob@example.com")
    bobs = ticket(bob, subject="Bob's secret", attachments=portal_uploads())
    bobs_file = bobs.attachments.get()
    customer_login(client)

    missing_page = _not_found(client.get("/en/requests/HC-999999/"))
    assert _not_found(client.get(bobs.get_absolute_url())) == missing_page
    assert _not_found(client.post(bobs.get_absolute_url(), {"body": "hi"})) == _not_found(
        client.post("/en/requests/HC-999999/", {"body": "hi"})
    )
    assert _not_found(client.post(bobs.get_absolute_url(), {"action": "solve"}))
    missing_file = _not_found(client.get("/en/requests/attachments/999999/"))
    assert _not_found(client.get(bobs_file.get_absolute_url())) == missing_file
    assert bobs.messages.count() == 1
    bobs.refresh_from_db()
    assert bobs.status == Status.NEW
    assert "Bob&#x27;s secret" not in missing_page


def test_internal_notes_and_their_attachments_are_never_shown_to_customers(client, db):
    customer = customer_login(client)
    t = ticket(customer)
    staff = agent()
    note = services.message_post(
        ticket=t, author_kind=AuthorKind.AGENT, author=staff, body="Customer is a fraud risk",
        internal=True, attachments=portal_uploads(),
    )  # fmt: skip
    note_file = note.attachments.get()
    for url in (t.get_absolute_url(), t.get_guest_url()):
        html = page(client.get(url))
        assert "fraud risk" not in html
        assert note_file.get_absolute_url() not in html
    assert client.get(note_file.get_absolute_url()).status_code == 404
    assert client.get(f"{note_file.get_absolute_url()}?key={t.access_key}").status_code == 404

    # Staff who may view tickets get it; staff without the permission do not.
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(get_user_model().objects.get(pk=staff.pk))
    assert client.get(note_file.get_absolute_url()).status_code == 200
    client.force_login(agent("nobody"))
    assert client.get(note_file.get_absolute_url()).status_code == 404


# --- Attachments -----------------------------------------------------------------------------------


def test_download_is_an_attachment_with_a_safe_name_and_nosniff(client, db):
    customer = customer_login(client)
    t = ticket(customer)
    client.post(
        t.get_absolute_url(),
        {"body": "see file", "attachments": [png('rép"ort;\r\nX-Evil: 1.png')]},
    )
    attachment = Attachment.objects.get()
    response = client.get(attachment.get_absolute_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''" in disposition
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert re.search(r'filename="[^"\\]*";', disposition)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (SimpleUploadedFile("big.txt", b"a" * 2048), "larger than"),
        (SimpleUploadedFile("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00"), "not an allowed file type"),
        (
            SimpleUploadedFile(
                "logo.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                content_type="image/svg+xml",
            ),
            "not an allowed file type",
        ),
        (
            SimpleUploadedFile(
                "cat.png", b"<html><script>alert(1)</script></html>", content_type="image/png"
            ),
            "not an allowed file type",
        ),
        (SimpleUploadedFile("empty.png", b""), "empty"),
    ],
    ids=["oversize", "executable", "svg-with-script", "html-disguised-as-png", "empty"],
)
def test_dangerous_or_oversized_uploads_are_refused_with_a_form_error(
    client, db, settings, upload, error
):
    settings.TICKETS_ATTACHMENT_MAX_BYTES = 1024
    data = {"subject": "Files", "body": "See", "email": "f@example.com", "attachments": [upload]}
    html = page(client.post("/en/requests/new/", data))
    assert error in html
    assert 'role="alert"' in html
    assert Ticket.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_too_many_files_are_refused(client, db, settings):
    settings.TICKETS_ATTACHMENTS_PER_MESSAGE = 2
    data = {"subject": "F", "body": "B", "email": "f@example.com"}
    data["attachments"] = [png(f"{i}.png") for i in range(3)]
    assert "Attach at most 2 files." in page(client.post("/en/requests/new/", data))


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "....//passwd"]
)
def test_path_traversal_names_are_stored_under_random_names(client, db, settings, name):
    customer = customer_login(client)
    t = ticket(customer)
    upload = SimpleUploadedFile(name, b"root:x:0:0:root:/root:/bin/bash\n")
    response = client.post(t.get_absolute_url(), {"body": "x", "attachments": [upload]})
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert "/" not in attachment.original_name
    assert "\\" not in attachment.original_name
    assert not attachment.original_name.startswith(".")
    assert attachment.file.name.startswith("attachments/")
    assert ".." not in attachment.file.name
    assert "passwd" not in attachment.file.name
    stored = (settings.MEDIA_ROOT / attachment.file.name).resolve()
    assert stored.is_relative_to(settings.MEDIA_ROOT.resolve())
    assert attachment.content_type == "text/plain"


# --- Escaping and robustness ---------------------------------------------------------------------


def test_markup_in_subject_body_and_name_is_escaped_on_every_page(client, db):
    data = {"subject": f"S{XSS}", "body": f"B{XSS}", "name": f"N{XSS}", "email": "x@example.com"}
    sent = client.post("/en/requests/new/", data)
    t = Ticket.objects.get()
    user = get_user_model().objects.create_user(
        username="x@example.com", email="x@example.com", password="pw"
    )
    services.customer_for_user(user=user)
    pages = [client.get(sent["Location"]), client.get(t.get_guest_url())]
    client.force_login(user)
    pages += [
        client.get("/en/requests/"),
        client.get(t.get_absolute_url()),
        client.get("/en/account/profile/"),
        client.post("/en/requests/new/", {"subject": f"S{XSS}", "body": ""}),  # shown again
    ]
    for response in pages:
        html = page(response)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "url",
    [
        "/en/requests/attachments/99999999999999999999999999/",
        "/en/requests/../../etc/passwd/",
        "/en/requests/HC-0000000000000000000001/",
        "/en/requests/%00/",
        "/en/requests/HC-1/guest/%00/",
    ],
)
def test_strange_urls_are_not_found_not_errors(client, db, url):
    customer_login(client)
    assert client.get(url).status_code == 404


def test_header_shows_sign_in_to_visitors_and_a_sign_out_form_to_customers(client, db):
    visitor = page(client.get("/en/"))
    visitor_cached = page(client.get("/en/"))  # served from the anonymous page cache
    for html in (visitor, visitor_cached):
        assert 'href="/en/account/login/"' in html
        assert 'href="/en/requests/new/"' in html
        assert "Sign out" not in html
        assert 'class="lang-switch"' in html
    customer_login(client)
    html = page(client.get("/en/"))
    assert 'href="/en/account/login/"' not in html
    assert 'href="/en/requests/"' in html
    assert re.search(r'<form class="nav-form" method="post" action="/en/account/logout/">', html)
    assert 'name="csrfmiddlewaretoken"' in html


def test_still_need_help_points_at_the_request_form(client, refund_article):
    assert 'href="/en/requests/new/"' in page(client.get(refund_article.get_absolute_url()))
    assert 'href="/en/requests/new/"' in page(client.get("/en/contact/"))


def test_customer_without_customer_record_gets_one_linked_to_their_guest_tickets(client, db):
    guest = CustomerFactory(email="late@example.com")
    old = ticket(guest, subject="Before signing up")
    user = get_user_model().objects.create_user(
        username="late@example.com", email="late@example.com", password="pw"
    )
    client.force_login(user)
    assert "Before signing up" in page(client.get("/en/requests/"))
    assert Customer.objects.get(pk=guest.pk).user == user
    assert page(client.get(old.get_absolute_url()))


def test_every_portal_page_renders_in_chinese_and_a_guest_request_keeps_that_language(client, db):
    anonymous = ["requests/new/", "account/login/", "account/signup/", "account/signup/sent/",
                 "account/password/reset/", "account/password/reset/sent/",
                 "account/password/reset/complete/"]  # fmt: skip
    for path in anonymous:
        assert '<html lang="zh-hans">' in page(client.get(f"/zh-hans/{path}"))
    client.post(
        "/zh-hans/requests/new/", {"subject": "退款", "body": "没收到", "email": "z@example.com"}
    )
    t = Ticket.objects.get()
    assert t.customer.language == "zh-hans"
    assert page(client.get(t.get_guest_url()))
    customer_login(client)
    for path in ["requests/", "account/profile/", "requests/new/?sent=1"]:
        assert '<html lang="zh-hans">' in page(client.get(f"/zh-hans/{path}"))
