import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.models import Article, ArticleQuestion, Revision, SearchGap
from kb.search import search
from kb.tests.factories import ArticleFactory, CategoryFactory


def article_form(category, **overrides):
    data = {
        "title": "How to use gift cards",
        "slug": "gift-cards",
        "language": "en",
        "category": category.pk,
        "status": "published",
        "summary": "Enter the card code at checkout.",
        "body": "## Steps\n\n1. Open checkout\n2. Enter the code",
        "tag_names": "gift card, payment",
        "position": 0,
        "questions-TOTAL_FORMS": "2",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-text": "redeem a voucher",
        "questions-0-position": "0",
        "questions-1-text": "",
        "questions-1-position": "0",
    }
    data.update(overrides)
    return data


def test_manager_creates_an_article_with_questions_and_tags(manager_client, manager, db):
    category = CategoryFactory()
    response = manager_client.post(reverse("admin:kb_article_add"), article_form(category))
    assert response.status_code == 302, response.context["adminform"].form.errors
    article = Article.objects.get(slug="gift-cards")
    assert article.author == manager
    assert [q.text for q in article.questions.all()] == ["redeem a voucher"]
    assert sorted(t.name for t in article.tags.all()) == ["gift card", "payment"]
    assert "<ol>" in article.body_html
    assert article.published_at is not None
    assert article.revisions.count() == 1
    assert search("redeem voucher")[0].slug == "gift-cards"


def test_manager_links_a_translation(manager_client, db):
    original = ArticleFactory(title="Gift cards")
    data = article_form(
        original.category, slug="gift-cards-zh", language="zh-hans", title="礼品卡",
        translation_of=original.pk,
    )  # fmt: skip
    assert manager_client.post(reverse("admin:kb_article_add"), data).status_code == 302
    assert Article.objects.get(slug="gift-cards-zh").translation_group == original.translation_group


def test_a_second_translation_in_the_same_language_is_a_form_error(manager_client, db):
    original = ArticleFactory()
    ArticleFactory(language="zh-hans", translation_of=original)
    data = article_form(
        original.category, slug="dup-zh", language="zh-hans", translation_of=original.pk
    )
    response = manager_client.post(reverse("admin:kb_article_add"), data)
    assert response.status_code == 200
    assert "already has a translation" in response.content.decode()
    assert not Article.objects.filter(slug="dup-zh").exists()


def test_every_save_keeps_a_revision_and_one_can_be_restored(manager_client, db):
    article = ArticleFactory(title="First title", body="First body", questions=["q one"])
    question = article.questions.get()
    change_url = reverse("admin:kb_article_change", args=[article.pk])
    data = article_form(
        article.category, slug=article.slug, title="Second title", body="Second body",
        **{
            "questions-TOTAL_FORMS": "1", "questions-INITIAL_FORMS": "1",
            "questions-0-id": str(question.pk), "questions-0-article": str(article.pk),
            "questions-0-text": "q two",
        },
    )  # fmt: skip
    assert manager_client.post(change_url, data).status_code == 302
    assert manager_client.post(change_url, data).status_code == 302  # identical: no revision
    assert list(article.revisions.values_list("number", "title")) == [
        (2, "Second title"),
        (1, "First title"),
    ]
    history = manager_client.get(reverse("admin:kb_article_revisions", args=[article.pk]))
    assert "First title" in history.content.decode()
    detail = manager_client.get(reverse("admin:kb_article_revision", args=[article.pk, 1]))
    assert "-First body" in detail.content.decode()
    restore = reverse("admin:kb_article_revision_restore", args=[article.pk, 1])
    assert manager_client.get(restore).status_code == 405
    assert manager_client.post(restore).status_code == 302
    article.refresh_from_db()
    assert (article.title, article.body) == ("First title", "First body")
    assert [q.text for q in article.questions.all()] == ["q one"]
    assert article.revisions.first().note == "Restored revision 1"
    assert search("first title")[0].slug == article.slug


def test_bulk_publish_and_unpublish(manager_client, db):
    drafts = [ArticleFactory(status=Article.Status.DRAFT) for _ in range(2)]
    url = reverse("admin:kb_article_changelist")
    ids = [str(a.pk) for a in drafts]
    manager_client.post(url, {"action": "publish", "_selected_action": ids})
    assert set(Article.objects.values_list("status", flat=True)) == {"published"}
    assert all(a.published_at for a in Article.objects.all())
    manager_client.post(url, {"action": "unpublish", "_selected_action": ids})
    assert set(Article.objects.values_list("status", flat=True)) == {"draft"}
    assert Revision.objects.filter(note="Draft").count() == 2


def test_live_preview_renders_sanitized_markdown(manager_client, db):
    response = manager_client.post(
        reverse("admin:kb_article_preview"),
        {"body": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
    )
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "javascript:" not in html


def test_agent_reads_articles_but_cannot_change_them(agent_client, db):
    article = ArticleFactory(title="Read only")
    change_url = reverse("admin:kb_article_change", args=[article.pk])
    page = agent_client.get(change_url)
    assert page.status_code == 200
    assert 'name="title"' not in page.content.decode()  # no editable field
    response = agent_client.post(change_url, article_form(article.category, slug=article.slug))
    assert response.status_code == 403
    assert agent_client.get(reverse("admin:kb_article_add")).status_code == 403
    assert agent_client.post(reverse("admin:kb_article_preview"), {"body": "x"}).status_code == 403
    restore = reverse("admin:kb_article_revision_restore", args=[article.pk, 1])
    assert agent_client.post(restore).status_code == 403
    assert Article.objects.get().title == "Read only"


def test_agent_cannot_bulk_publish(agent_client, db):
    draft = ArticleFactory(status=Article.Status.DRAFT)
    agent_client.post(
        reverse("admin:kb_article_changelist"),
        {"action": "publish", "_selected_action": [str(draft.pk)]},
    )
    assert Article.objects.get().status == "draft"


def test_customers_have_no_admin_access(client, customer, db):
    client.force_login(customer)
    response = client.get(reverse("admin:kb_article_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_content_gaps_are_listed_most_frequent_first(manager_client, db):
    from django.utils import timezone

    SearchGap.objects.create(query="rare", language="en", count=1, last_seen=timezone.now())
    SearchGap.objects.create(query="frequent", language="en", count=9, last_seen=timezone.now())
    page = manager_client.get(reverse("admin:kb_searchgap_changelist")).content.decode()
    assert page.index("frequent") < page.index("rare")


@pytest.mark.parametrize("count", [5, 40])
def test_article_changelist_query_count_is_flat(manager_client, db, count):
    category = CategoryFactory()
    for _ in range(count):
        ArticleFactory(category=category)
    with CaptureQueriesContext(connection) as queries:
        assert manager_client.get(reverse("admin:kb_article_changelist")).status_code == 200
    assert len(queries) <= 12


def test_xss_in_titles_and_questions_is_escaped_on_every_page(client, db):
    payload = '<img src=x onerror="alert(1)">'
    ArticleFactory(
        slug="xss", title=f"Title {payload}", summary=payload, questions=[payload],
        body=f"{payload}\n\n<a href=\"javascript:alert(1)\">x</a> <svg onload=alert(1)>",
    )  # fmt: skip
    for url in ("/en/", "/en/articles/xss/", "/en/search/?q=title", "/en/categories/category-0/"):
        html = client.get(url).content.decode()
        assert "onerror=" not in html.replace("onerror=&quot;", "")
        assert "<svg" not in html
        assert 'href="javascript:' not in html
    assert ArticleQuestion.objects.get().text == payload  # stored as typed, escaped on output
