import pytest
from rest_framework.settings import api_settings

from kb.feedback import FeedbackThrottle
from kb.models import Article, ArticleFeedback, SearchGap


def test_categories(client, shop_kb):
    data = client.get("/api/kb/categories/").json()
    assert {c["slug"] for c in data} >= {"refunds", "account", "invoices"}
    refunds = next(c for c in data if c["slug"] == "refunds")
    assert refunds["name_zh_hans"] == "退款与退货"


def test_article_list_filters_and_paginates(client, shop_kb):
    data = client.get("/api/kb/articles/", {"language": "zh-hans"}).json()
    assert data["count"] == 3
    assert {a["language"] for a in data["results"]} == {"zh-hans"}
    data = client.get("/api/kb/articles/", {"category": "refunds", "language": "en"}).json()
    # In the category's order (position, then creation).
    assert [a["slug"] for a in data["results"]] == ["refund-time", "return-item"]
    assert "secret-draft" not in str(client.get("/api/kb/articles/").json())
    page = client.get("/api/kb/articles/", {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]


@pytest.mark.parametrize(
    "params", [{"language": "fr"}, {"page": "x"}, {"page": 99}, {"category": "a b"}]
)
def test_article_list_bad_parameters_get_a_json_4xx(client, shop_kb, params):
    response = client.get("/api/kb/articles/", params)
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


def test_article_detail(client, shop_kb):
    data = client.get("/api/kb/articles/refund-time/").json()
    assert data["title"] == "How long does a refund take?"
    assert data["body_html"].startswith("<p>")
    assert data["questions"] == ["When will I get my money back?", "refund not received yet"]
    assert data["translations"] == [
        {
            "slug": "refund-time-zh",
            "title": "退款多久能到账？",
            "language": "zh-hans",
            "url": "/zh-hans/articles/refund-time-zh/",
        }
    ]
    assert data["tags"] == ["refund"]


def test_drafts_are_404_in_the_api(client, shop_kb):
    response = client.get("/api/kb/articles/secret-draft/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_search_returns_the_documented_shape(client, shop_kb):
    data = client.get("/api/kb/search/", {"q": "退款多久到账", "limit": 2}).json()
    hit = data["results"][0]
    assert set(hit) == {"slug", "title", "url", "snippet", "score", "confidence", "language"}
    assert hit["slug"] == "refund-time-zh"
    assert len(data["results"]) <= 2


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51},
     {"q": "a", "limit": "many"}, {"q": "a", "language": "de"}],
)  # fmt: skip
def test_search_bad_parameters_get_a_400_with_json(client, db, params):
    response = client.get("/api/kb/search/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid request."
    assert body["errors"]


def test_weak_searches_become_content_gaps_but_suggestions_do_not(client, shop_kb):
    client.get("/api/kb/search/", {"q": "garden furniture", "suggest": "1"})
    assert not SearchGap.objects.exists()
    client.get("/api/kb/search/", {"q": "garden furniture"})
    client.get("/api/kb/search/", {"q": "花园家具"})
    assert {(g.query, g.language) for g in SearchGap.objects.all()} == {
        ("garden furniture", "en"),
        ("花园家具", "zh-hans"),
    }
    client.get("/api/kb/search/", {"q": "how long does a refund take"})
    assert SearchGap.objects.count() == 2


def test_content_gaps_are_recorded_per_client_up_to_a_limit_and_searches_still_answer(
    client, customer, shop_kb, settings
):
    settings.KB_GAPS_PER_HOUR = 2
    queries = ["garden furniture", "lawn mower", "pool heater", "patio lights"]
    for i, q in enumerate(queries):  # a rotating X-Forwarded-For changes nothing
        response = client.get("/api/kb/search/", {"q": q}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        assert response.status_code == 200
        assert response.json()["query"] == q
    assert sorted(SearchGap.objects.values_list("query", flat=True)) == [
        "garden furniture",
        "lawn mower",
    ]
    client.get("/api/kb/search/", {"q": "garden furniture"})
    assert SearchGap.objects.get(query="garden furniture").count == 1  # no count inflation
    client.get("/api/kb/search/", {"q": "pool heater"}, REMOTE_ADDR="10.4.4.4")
    client.force_login(customer)  # a signed-in client is counted as itself
    client.get("/api/kb/search/", {"q": "patio lights"})
    assert SearchGap.objects.count() == 4


def test_rotating_x_forwarded_for_does_not_escape_the_feedback_limit(client, shop_kb, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"kb_feedback": "2/hour"},
    }
    codes = []
    for i in range(3):
        client.cookies.clear()  # a new visitor each time, too
        response = client.post(
            "/api/kb/articles/refund-time/feedback/",
            {"helpful": True},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 429]
    other = client.post(
        "/api/kb/articles/refund-time/feedback/",
        {"helpful": True},
        content_type="application/json",
        REMOTE_ADDR="10.5.5.5",
    )
    assert other.status_code == 201


def test_feedback_one_vote_per_visitor(client, shop_kb):
    url = "/api/kb/articles/refund-time/feedback/"
    first = client.post(
        url, {"helpful": False, "reason": "No bank details"}, content_type="application/json"
    )
    assert first.status_code == 201
    assert first.json() == {
        "helpful": False,
        "created": True,
        "helpful_count": 0,
        "not_helpful_count": 1,
    }
    second = client.post(url, {"helpful": True}, content_type="application/json")
    assert second.status_code == 200
    assert second.json()["helpful_count"] == 1
    assert second.json()["not_helpful_count"] == 0
    assert ArticleFeedback.objects.count() == 1


def test_feedback_from_another_visitor_counts_separately(client, shop_kb, django_user_model):
    url = "/api/kb/articles/refund-time/feedback/"
    client.post(url, {"helpful": True}, content_type="application/json")
    client.cookies.clear()
    client.post(url, {"helpful": True}, content_type="application/json")
    assert Article.objects.get(slug="refund-time").helpful_count == 2


def test_forged_visitor_cookie_is_ignored(client, shop_kb):
    client.cookies["hc_visitor"] = "forged-value"
    response = client.post(
        "/api/kb/articles/refund-time/feedback/", {"helpful": True}, content_type="application/json"
    )
    assert response.status_code == 201
    assert ArticleFeedback.objects.get().visitor_key != "visitor:forged-value"


@pytest.mark.parametrize(
    "body", [{}, {"helpful": "maybe"}, {"helpful": True, "reason": "x" * 1001}, "not json"]
)
def test_feedback_bad_input_gets_a_400(client, shop_kb, body):
    response = client.post(
        "/api/kb/articles/refund-time/feedback/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not ArticleFeedback.objects.exists()


def test_feedback_on_a_draft_is_404(client, shop_kb):
    response = client.post(
        "/api/kb/articles/secret-draft/feedback/",
        {"helpful": True},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_feedback_is_throttled(client, shop_kb, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"kb_feedback": "2/hour"},
    }
    api_settings.reload()
    FeedbackThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        codes = []
        for _ in range(3):
            client.cookies.clear()
            codes.append(
                client.post(
                    "/api/kb/articles/refund-time/feedback/",
                    {"helpful": True},
                    content_type="application/json",
                ).status_code
            )
        last = client.post(
            "/api/kb/articles/refund-time/feedback/",
            {"helpful": True},
            content_type="application/json",
        )
    finally:
        api_settings.reload()
        FeedbackThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert codes == [201, 201, 429]
    assert last.status_code == 429
    assert "detail" in last.json()
    assert Article.objects.get(slug="refund-time").helpful_count == 2


def test_signed_in_users_vote_as_themselves_with_csrf(customer, shop_kb):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    url = "/api/kb/articles/refund-time/feedback/"
    refused = browser.post(url, {"helpful": True}, content_type="application/json")
    assert refused.status_code == 403
    page = browser.get("/en/articles/refund-time/").content.decode()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    accepted = browser.post(
        url, {"helpful": True}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201
    assert ArticleFeedback.objects.get().visitor_key == f"user:{customer.pk}"


def test_openapi_schema_describes_the_kb_api(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/kb/categories/",
        "/api/kb/articles/",
        "/api/kb/articles/{slug}/",
        "/api/kb/articles/{slug}/feedback/",
        "/api/kb/search/",
    ):
        assert path in paths
    params = {p["name"] for p in paths["/api/kb/search/"]["get"]["parameters"]}
    assert {"q", "language", "limit"} <= params


def test_api_docs_are_served_without_a_cdn(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()


def test_unknown_api_urls_get_json_404(client, db):
    response = client.get("/api/kb/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_api_is_read_only_for_the_public(client, shop_kb):
    assert client.post("/api/kb/articles/", {}, content_type="application/json").status_code == 405
    assert client.delete("/api/kb/articles/refund-time/").status_code == 405


def test_repeated_searches_are_answered_from_cache_until_the_kb_changes(
    client, shop_kb, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kb import services

    params = {"q": "refund", "suggest": "1"}
    first = client.get("/api/kb/search/", params).json()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/kb/search/", params).json() == first
    assert len(queries) == 0
    article = shop_kb["refund-time"]
    article.title = "Refund timing"
    with django_capture_on_commit_callbacks(execute=True):
        services.article_save(article=article)
    assert client.get("/api/kb/search/", params).json()["results"][0]["title"] == "Refund timing"
