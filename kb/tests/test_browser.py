"""End-to-end in Debian's Chromium: search in Chinese from the home page, open the article,
vote. Run by `make test` in a pytest process of its own (see bin/test)."""

import os

import pytest
from django.core.management import call_command

from kb.models import Article, ArticleFeedback

pytestmark = pytest.mark.browser
# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser_locale():
    return "zh-CN"  # the site picks its language from the browser's


@pytest.fixture
def demo_site(live_server, transactional_db):
    call_command("load_demo", verbosity=0)
    return live_server


def test_search_in_chinese_open_the_article_and_vote(page, demo_site):
    page.goto(demo_site.url + "/")
    assert page.url.endswith("/zh-hans/")  # the browser's language picks the site's
    page.get_by_role("combobox").first.fill("退款多久到账")
    first = page.locator(".suggestions [role=option]").first
    first.wait_for()
    assert "退款多久能到账" in first.inner_text()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url("**/zh-hans/articles/refund-processing-time-zh/")
    assert page.locator("h1").inner_text() == "退款多久能到账？"

    page.locator("#feedback button[value=no]").first.click()
    reason = page.locator("#feedback-reason")
    reason.wait_for()
    reason.fill("没有说花呗退款多久到账")
    page.locator("[data-reason] button[value=no]").click()
    page.locator("[data-feedback-status]").wait_for()
    assert page.locator("[data-feedback-status]").is_visible()

    feedback = ArticleFeedback.objects.get()
    assert feedback.article.slug == "refund-processing-time-zh"
    assert feedback.helpful is False
    assert feedback.reason == "没有说花呗退款多久到账"
    assert Article.objects.get(slug="refund-processing-time-zh").not_helpful_count == 1


def test_search_form_works_without_javascript(browser, demo_site):
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.goto(demo_site.url + "/en/")
    page.fill("#home-q", "how long does a refund take")
    page.press("#home-q", "Enter")
    page.wait_for_url("**/en/search/?q=*")
    page.locator(".search-results a").first.click()
    assert page.locator("h1").inner_text() == "How long does a refund take?"
    page.locator("#feedback button[value=yes]").first.click()
    assert "Thank you for your feedback" in page.content()
    assert ArticleFeedback.objects.get().helpful is True
    context.close()
