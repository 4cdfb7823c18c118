"""End-to-end in Debian's Chromium: a customer types a subject, sees a suggested article, opens
it, comes back and submits the request anyway; and the form without JavaScript. Run by
`make test` in a pytest process of its own (see bin/test)."""

import os
import re

import pytest

from kb.tests.factories import ArticleFactory
from tickets.models import SuggestionView, Ticket

pytestmark = pytest.mark.browser
# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def site(live_server, transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    ArticleFactory(
        slug="refund-time",
        title="How long does a refund take?",
        summary="Refunds reach your card in 3-7 business days.",
        questions=["When will I get my money back?"],
    )
    ArticleFactory(slug="reset-password", title="Reset your password")
    return live_server


def test_customer_sees_a_suggested_article_while_typing_and_submits_anyway(page, site):
    context = page.context
    page.goto(site.url + "/en/requests/new/")

    page.get_by_label("Subject").press_sequentially("refund take", delay=20)
    suggestion = page.locator("[data-suggestion-list] a").first
    suggestion.wait_for()
    assert "How long does a refund take?" in suggestion.inner_text()
    assert "/en/requests/new/suggested/refund-time/?q=refund%20take" in suggestion.get_attribute(
        "href"
    )
    assert page.locator("[data-suggestion-status]").inner_text().startswith("1 article")

    with context.expect_page() as opened:  # opens in a new tab, the form keeps its content
        suggestion.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.url.endswith("/en/articles/refund-time/")
    assert article.locator("h1").inner_text() == "How long does a refund take?"
    article.close()
    assert SuggestionView.objects.get().ticket is None

    page.get_by_label("Description").fill("My refund for order 42 has not arrived after 10 days.")
    page.get_by_label("Your email").fill("shopper@example.com")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/en/requests/new/\?sent=1$"))

    ticket = Ticket.objects.get()
    assert ticket.customer.email == "shopper@example.com"
    assert ticket.reference in page.locator("main").inner_text()
    assert page.locator(".guest-link a").get_attribute("href").endswith(ticket.get_guest_url())
    assert SuggestionView.objects.get().ticket == ticket  # not a deflection after all


def test_request_form_works_without_javascript_and_errors_are_shown(browser, site):
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(site.url + "/en/requests/new/")
    page.fill("#id_subject", "refund take")
    page.fill("#id_body", "Where is my refund?")
    page.fill("#id_email", "nojs@example.com")
    page.set_input_files(
        "#id_attachments",
        files=[{"name": "page.png", "mimeType": "image/png", "buffer": b"<html>not png</html>"}],
    )
    page.click("button[type=submit]")
    assert page.title().startswith("Error:")
    assert "not an allowed file type" in page.locator("[role=alert]").inner_text()
    assert (
        page.locator("[data-suggestion-list] a")
        .first.inner_text()
        .startswith("How long does a refund take?")
    )
    page.fill("#id_body", "Where is my refund?")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/en/requests/new/\?sent=1$"))
    assert Ticket.objects.get().customer.email == "nojs@example.com"
    context.close()
