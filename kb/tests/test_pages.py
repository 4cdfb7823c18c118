import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kb import services
from kb.models import Article, ArticleFeedback, SearchGap
from kb.tests.factories import ArticleFactory, CategoryFactory


def test_root_redirects_to_a_language(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 302
    assert response["Location"] == "/zh-hans/"


def test_home_shows_search_categories_and_popular_articles(client, shop_kb):
    page = client.get("/en/").content.decode()
    assert 'role="search"' in page
    assert 'for="home-q"' in page  # the search box has a label
    assert "Refunds &amp; returns" in page
    assert "How long does a refund take?" in page
    assert "退款多久能到账" not in page  # only this language's articles


def test_home_in_chinese_uses_chinese_names_and_strings(client, shop_kb):
    page = client.get("/zh-hans/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "退款与退货" in page
    assert "退款多久能到账？" in page


def test_category_page_lists_published_articles_paginated(client, db):
    category = CategoryFactory(slug="many")
    for i in range(23):
        ArticleFactory(category=category, title=f"Question {i:02d}", position=i)
    ArticleFactory(category=category, title="Hidden draft", status=Article.Status.DRAFT)
    first = client.get("/en/categories/many/").content.decode()
    second = client.get("/en/categories/many/?page=2").content.decode()
    assert first.count("Question ") == 20
    assert second.count("Question ") == 3
    assert "Page 1 of 2" in first
    assert "Hidden draft" not in first + second
    assert client.get("/en/categories/many/?page=999").status_code == 200  # last page, not 500
    assert client.get("/en/categories/missing/").status_code == 404


def test_article_page_has_breadcrumbs_translation_related_and_feedback(client, shop_kb):
    page = client.get("/en/articles/refund-time/").content.decode()
    assert '<nav class="breadcrumbs"' in page
    assert "Refunds &amp; returns" in page
    assert 'href="/zh-hans/articles/refund-time-zh/"' in page  # the other language version
    assert "How do I return an item?" in page  # related (same category)
    assert "Was this article helpful?" in page
    assert "Still need help?" in page
    assert '<link rel="canonical" href="http://127.0.0.1:8000/en/articles/refund-time/">' in page
    assert "<title>How long does a refund take? · " in page


def test_language_switcher_on_an_article_goes_to_its_translation(client, shop_kb):
    page = client.get("/en/articles/refund-time/").content.decode()
    switcher = page[page.index('class="lang-switch"') :][:800]
    assert 'href="/zh-hans/articles/refund-time-zh/"' in switcher
    untranslated = client.get("/en/articles/return-item/").content.decode()
    switcher = untranslated[untranslated.index('class="lang-switch"') :][:800]
    assert 'href="/zh-hans/"' in switcher


def test_article_under_the_wrong_language_prefix_redirects_to_canonical(client, shop_kb):
    response = client.get("/en/articles/refund-time-zh/")
    assert response.status_code == 301
    assert response["Location"] == "/zh-hans/articles/refund-time-zh/"


@pytest.mark.parametrize("status", [Article.Status.DRAFT, Article.Status.ARCHIVED])
def test_unpublished_articles_are_404_for_the_public(client, customer, db, status):
    article = ArticleFactory(status=status)
    assert client.get(article.get_absolute_url()).status_code == 404
    client.force_login(customer)
    assert client.get(article.get_absolute_url()).status_code == 404


def test_staff_can_preview_a_draft_with_a_banner(agent_client, db):
    article = ArticleFactory(status=Article.Status.DRAFT, title="Coming soon")
    response = agent_client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert "Staff preview" in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex"


def test_unpublishing_takes_effect_at_once_despite_the_page_cache(
    client, shop_kb, django_capture_on_commit_callbacks
):
    url = "/en/articles/reset-password/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # served from cache
    with django_capture_on_commit_callbacks(execute=True):
        services.articles_set_status(
            articles=[shop_kb["reset-password"]], status=Article.Status.DRAFT
        )
    assert client.get(url).status_code == 404


def test_edits_show_at_once_despite_the_page_cache(
    client, shop_kb, django_capture_on_commit_callbacks
):
    client.get("/en/")
    article = shop_kb["refund-time"]
    article.title = "Refund timing, explained"
    with django_capture_on_commit_callbacks(execute=True):
        services.article_save(article=article)
    assert "Refund timing, explained" in client.get("/en/").content.decode()


def test_article_page_answers_conditional_gets(client, shop_kb):
    response = client.get("/en/articles/refund-time/")
    assert response.has_header("ETag")
    assert response.has_header("Last-Modified")
    again = client.get("/en/articles/refund-time/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    since = client.get(
        "/en/articles/refund-time/", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]
    )
    assert since.status_code == 304


def test_article_views_are_counted_on_cache_hits_too(client, shop_kb):
    for _ in range(3):
        client.get("/en/articles/e-invoice/")
    assert Article.objects.get(slug="e-invoice").view_count == 3


def test_view_counts_are_buffered_between_flushes(client, shop_kb, settings):
    settings.KB_VIEW_FLUSH_SECONDS = 3600
    services.article_views_flush()
    client.get("/en/articles/e-invoice/")
    client.get("/en/articles/e-invoice/")
    assert Article.objects.get(slug="e-invoice").view_count == 0
    assert services.article_views_flush() == 2
    assert Article.objects.get(slug="e-invoice").view_count == 2


@pytest.mark.parametrize("extra_articles", [0, 40])
def test_article_page_needs_at_most_five_queries_whatever_the_size(
    client, shop_kb, settings, extra_articles
):
    settings.KB_VIEW_FLUSH_SECONDS = 3600  # as in production: a view is not a write
    for i in range(extra_articles):
        ArticleFactory(category=shop_kb["refund-time"].category, title=f"Refund note {i}")
    shop_kb["refund-time"].related.add(shop_kb["e-invoice"])
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/en/articles/refund-time/")
    assert response.status_code == 200
    assert len(queries) <= 5, [q["sql"] for q in queries]


def test_cached_pages_need_no_queries(client, shop_kb):
    client.get("/en/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/en/").status_code == 200
    assert len(queries) == 0


def test_search_page_shows_highlighted_results(client, shop_kb):
    page = client.get("/en/search/", {"q": "refund money"}).content.decode()
    assert "How long does a refund take?" in page
    assert "<mark>" in page


def test_search_page_without_results_records_a_content_gap(client, shop_kb):
    page = client.get("/en/search/", {"q": "Garden furniture"}).content.decode()
    assert "We could not find an article for that" in page
    assert "Search in all languages" in page
    client.get("/en/search/", {"q": "garden   furniture"})
    gap = SearchGap.objects.get()
    assert (gap.query, gap.language, gap.count) == ("garden furniture", "en", 2)


def test_search_page_rejects_overlong_queries_with_a_form_error(client, db):
    response = client.get("/en/search/", {"q": "x" * 500})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_search_page_escapes_the_query(client, shop_kb):
    page = client.get("/en/search/", {"q": '<script>alert("x")</script>'}).content.decode()
    assert '<script>alert("x")</script>' not in page


def test_feedback_form_without_javascript_records_one_vote(client, shop_kb):
    url = "/en/articles/refund-time/feedback/"
    response = client.post(url, {"helpful": "no", "reason": "Too vague"})
    assert response.status_code == 302
    assert response["Location"] == "/en/articles/refund-time/?feedback=sent#feedback"
    client.post(url, {"helpful": "yes"})  # same visitor (cookie) changes the vote
    feedback = ArticleFeedback.objects.get()
    assert feedback.helpful is True
    assert feedback.reason == ""
    article = Article.objects.get(slug="refund-time")
    assert (article.helpful_count, article.not_helpful_count) == (1, 0)
    assert "Thank you for your feedback" in client.get(response["Location"]).content.decode()


def test_feedback_form_refuses_cross_site_posts(client, shop_kb):
    response = client.post(
        "/en/articles/refund-time/feedback/", {"helpful": "yes"}, HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    assert not ArticleFeedback.objects.exists()


def test_feedback_form_is_rate_limited(client, shop_kb, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"kb_feedback": "3/hour"},
    }
    from rest_framework.settings import api_settings

    api_settings.reload()
    from kb.feedback import FeedbackThrottle

    FeedbackThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        codes = [
            client.post("/en/articles/refund-time/feedback/", {"helpful": "yes"}).status_code
            for _ in range(5)
        ]
    finally:
        api_settings.reload()
        FeedbackThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert codes == [302, 302, 302, 429, 429]


def test_sitemap_lists_published_articles_and_categories(client, shop_kb):
    xml = client.get("/sitemap.xml").content.decode()
    assert "/en/articles/refund-time/" in xml
    assert "/zh-hans/articles/refund-time-zh/" in xml
    assert "/zh-hans/categories/refunds/" in xml
    assert "secret-draft" not in xml


def test_robots_txt_points_to_the_sitemap(client, db):
    text = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in text


def test_pages_have_landmarks_and_a_skip_link(client, shop_kb):
    page = client.get("/en/articles/refund-time/").content.decode()
    for landmark in ("<header", "<main", "<footer", '<nav class="site-nav"', 'href="#main"'):
        assert landmark in page
    assert len(re.findall(r"<h1[ >]", page)) == 1


def test_unknown_pages_get_a_friendly_404(client, db):
    response = client.get("/en/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_chosen_related_articles_come_before_same_category_ones(client, shop_kb):
    shop_kb["refund-time"].related.add(shop_kb["reset-password"])
    page = client.get("/en/articles/refund-time/").content.decode()
    aside = page[page.index('id="related-title"') :]
    assert aside.index("Reset your password") < aside.index("How do I return an item?")


def test_unknown_query_parameters_bypass_the_page_cache(client, shop_kb):
    def queries_for(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    queries_for("/en/?page=1")
    assert queries_for("/en/?page=1") == 0  # a known parameter: cached
    queries_for("/en/?utm=1")
    assert queries_for("/en/?utm=1") > 0  # anything else: rendered every time, never stored
