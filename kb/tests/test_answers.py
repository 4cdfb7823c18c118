"""The chat bot's decision (kb.answers) and its calibration (kb.calibration), with the real
sentence encoder (loaded once per test session)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from kb import answers, calibration, semantic, services
from kb.calibration import Trial
from kb.models import AnswerCalibration, Article, SearchDocument
from kb.tests.factories import ArticleFactory, CategoryFactory

SEMANTIC = AnswerCalibration.Ranker.SEMANTIC
FULLTEXT = AnswerCalibration.Ranker.FULLTEXT


def set_thresholds(language: str, ranker: str, answer: float, clarify: float) -> None:
    AnswerCalibration.objects.update_or_create(
        language=language,
        ranker=ranker,
        defaults={
            "answer_threshold": answer,
            "clarify_threshold": clarify,
            "method": "set by the test",
            "stamp": calibration.stamp(language),  # fresh for the articles there are now
            "computed_at": timezone.now(),
        },
    )


# Eight distinct topics, three customer phrasings each: 24 leave-one-out trials.
DISTINCT = [
    ("How do I reset my password?", ["forgot my password", "can't remember my login password", "change my password"]),
    ("How long does a refund take?", ["when will I get my money back", "refund not received", "how many days for a refund"]),
    ("How do I track my order?", ["where is my parcel", "has my order shipped", "tracking number"]),
    ("How do I get an invoice?", ["I need a receipt", "download my invoice", "company invoice with tax number"]),
    ("How do I use a coupon?", ["coupon code not working", "apply a discount code", "voucher"]),
    ("How do I delete my account?", ["close my account", "remove my data", "deactivate my profile"]),
    ("What payment methods do you accept?", ["can I pay by credit card", "do you take paypal", "cash on delivery"]),
    ("How much is shipping?", ["delivery fee", "free shipping minimum", "postage cost"]),
]  # fmt: skip
# The same topics asked in vague words that could belong to any of them.
VAGUE = [
    (title, ["I have a question", f"problem number {n}", "please help me with my order"])
    for n, (title, _) in enumerate(DISTINCT)
]


def make_kb(topics, prefix: str) -> None:
    category = CategoryFactory(slug=f"{prefix}-help")
    for n, (title, questions) in enumerate(topics):
        ArticleFactory(slug=f"{prefix}-{n}", title=title, questions=questions, category=category)


# --- Thresholds from trials --------------------------------------------------------------------


def trials(*rows) -> list[Trial]:
    return [Trial(score, top1, top3) for score, top1, top3 in rows]


def test_answer_threshold_is_the_lowest_score_with_ninety_percent_of_top_hits_right():
    rows = [(1.0 - i / 20, True, True) for i in range(9)]  # nine right, 1.00 down to 0.60
    rows += [(0.55, False, True), (0.3, False, True), (0.2, False, False)]
    # from 0.55 up: 9 of 10 right; from 0.3 up: 9 of 11
    assert calibration.answer_threshold(trials(*rows)) == pytest.approx(0.55)
    assert calibration.answer_threshold(trials((0.9, False, True), (0.8, True, True))) is None


def test_clarify_threshold_starts_where_the_right_article_is_in_the_top_three_locally():
    # 20 trials below the answer threshold: the lowest ten miss the top three, the rest hit
    rows = [(0.1 + i / 100, False, False) for i in range(10)]
    rows += [(0.3 + i / 100, True, True) for i in range(10)]
    threshold = calibration.clarify_threshold(trials(*rows), ceiling=0.9)
    # windows of ten: from 0.18 up, at least eight of ten have the right article in the top 3
    assert threshold == pytest.approx(0.18)
    assert calibration.clarify_threshold(trials((0.5, True, True)), ceiling=0.4) == 0.4


def test_the_decision_score_rewards_a_clear_lead():
    assert calibration.decision_score([0.7, 0.3]) == pytest.approx(1.1)
    assert calibration.decision_score([0.7, 0.69]) == pytest.approx(0.71)
    assert calibration.decision_score([0.5]) == pytest.approx(1.0)
    assert calibration.decision_score([]) == 0.0


# --- Calibration of a knowledge base -----------------------------------------------------------


def test_thresholds_come_from_the_knowledge_bases_own_questions(encoder, db):
    make_kb(DISTINCT, "distinct")
    clear = calibration.calibrate("en", SEMANTIC)
    assert clear.method.startswith("leave-one-out over 24 alternate questions")
    assert clear.figures["trials"] == 24
    assert clear.figures["answered_right"] >= 0.9
    assert clear.clarify_threshold <= clear.answer_threshold

    Article.objects.all().delete()
    make_kb(VAGUE, "vague")
    vague = calibration.calibrate("en", SEMANTIC)
    assert vague.figures["trials"] == 24
    # questions that could belong to any article: the bot must be surer before answering
    assert vague.answer_threshold > clear.answer_threshold
    assert vague.figures["top1"] < clear.figures["top1"]
    assert AnswerCalibration.objects.get(language="en", ranker=SEMANTIC) == vague


def test_too_few_questions_fall_back_to_the_documented_defaults(encoder, shop_kb):
    row = calibration.calibrate("en", SEMANTIC)
    assert (row.answer_threshold, row.clarify_threshold) == calibration.DEFAULTS[SEMANTIC, "en"]
    assert row.method.startswith("default: 7 alternate question(s)")


def test_full_text_calibration_measures_without_changing_the_index(shop_kb):
    make_kb(DISTINCT, "distinct")
    before = list(SearchDocument.objects.order_by("pk").values_list("questions", flat=True))
    row = calibration.calibrate("en", FULLTEXT)
    assert row.figures["trials"] == 31
    assert list(SearchDocument.objects.order_by("pk").values_list("questions", flat=True)) == before
    assert Article.objects.filter(status=Article.Status.DRAFT).count() == 1  # only the real draft


def test_a_transaction_schedules_one_recalibration_after_commit(
    encoder, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        make_kb(DISTINCT, "distinct")
    assert sum(c is calibration._enqueue_refresh for c in callbacks) == 1
    row = AnswerCalibration.objects.get(language="en", ranker=SEMANTIC)  # TASKS_EAGER: ran
    assert row.figures["trials"] == 24
    assert not AnswerCalibration.objects.filter(language="zh-hans").exists()  # no articles


def test_only_languages_whose_articles_changed_are_recalibrated(encoder, db):
    make_kb(DISTINCT, "distinct")
    first = calibration.calibrations_refresh()
    assert [(row.language, row.ranker) for row in first] == [("en", SEMANTIC)]
    assert calibration.calibrations_refresh() == []  # nothing changed since
    services.article_save(
        article=Article.objects.get(slug="distinct-0"), questions=["forgot my password"]
    )
    second = calibration.calibrations_refresh()
    assert second[0].figures["trials"] == 22
    assert second[0].stamp != first[0].stamp


def test_kb_calibrate_prints_the_thresholds(encoder, db, capsys):
    make_kb(DISTINCT, "distinct")
    call_command("kb_calibrate")
    out = capsys.readouterr().out
    assert "en       semantic answer >= " in out
    assert "leave-one-out over 24 alternate questions" in out


# --- Decisions ---------------------------------------------------------------------------------


@pytest.fixture
def calibrated(shop_kb):
    set_thresholds("en", SEMANTIC, answer=0.8, clarify=0.5)
    set_thresholds("zh-hans", SEMANTIC, answer=0.8, clarify=0.5)
    return shop_kb


def test_a_clear_question_is_answered_with_the_article(encoder, calibrated):
    decision = answers.decide("how long until I get my money back", language="en")
    assert decision.kind == answers.Kind.ANSWER
    assert [hit.slug for hit in decision.hits] == ["refund-time"]
    assert decision.ranker == SEMANTIC
    assert decision.score >= decision.thresholds.answer == 0.8


def test_an_ambiguous_question_offers_up_to_three_articles(encoder, calibrated):
    # "money back": returning the item or the refund itself?
    decision = answers.decide("money back", language="en")
    assert decision.kind == answers.Kind.CLARIFY
    assert 2 <= len(decision.hits) <= 3
    assert "refund-time" in [hit.slug for hit in decision.hits]


def test_an_unrelated_question_is_handed_over(encoder, calibrated):
    decision = answers.decide("write me a poem about the sea", language="en")
    assert decision.kind == answers.Kind.HANDOFF
    assert decision.hits == []


def test_chinese_questions_use_the_chinese_thresholds(encoder, calibrated):
    set_thresholds("zh-hans", SEMANTIC, answer=0.9, clarify=0.6)
    decision = answers.decide("登录不了", language=None)
    assert decision.language == "zh-hans"
    assert decision.thresholds.answer == 0.9
    assert decision.hits[0].slug == "reset-password-zh"


def test_without_the_encoder_the_bot_decides_with_full_text(without_encoder, calibrated):
    set_thresholds("en", FULLTEXT, answer=0.5, clarify=0.3)
    decision = answers.decide("how long does a refund take", language="en")
    assert decision.ranker == FULLTEXT
    assert decision.kind == answers.Kind.ANSWER
    assert decision.hits[0].slug == "refund-time"
    assert answers.decide("garden furniture", language="en").kind == answers.Kind.HANDOFF


def test_a_failing_encoder_never_fails_the_decision(encoder, calibrated, monkeypatch):
    set_thresholds("en", FULLTEXT, answer=0.5, clarify=0.3)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(semantic, "rank", broken)
    assert answers.decide("how long does a refund take", language="en").ranker == FULLTEXT
    assert answers.suggest("how long does a refund take", language="en").ranker == FULLTEXT


def test_an_uncalibrated_knowledge_base_is_calibrated_on_first_use(encoder, db):
    make_kb(DISTINCT, "distinct")
    AnswerCalibration.objects.all().delete()
    decision = answers.decide("I can't remember my password", language="en")
    assert decision.hits[0].slug == "distinct-0"
    assert decision.thresholds.method.startswith("leave-one-out")
    assert AnswerCalibration.objects.filter(language="en", ranker=SEMANTIC).exists()


# --- Suggestions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ranker"),
    [("money back", FULLTEXT), ("refu", FULLTEXT), ("still no money back", SEMANTIC),
     ("钱还没退", SEMANTIC), ("退款", SEMANTIC), ("退", FULLTEXT)],
)  # fmt: skip
def test_phrases_are_suggested_by_meaning_and_words_by_full_text(encoder, shop_kb, query, ranker):
    found = answers.suggest(query, language=None, limit=3, prefix=True)
    assert found.ranker == ranker
    assert found.hits[0].slug in ("refund-time", "refund-time-zh")


def test_search_as_you_type_ranks_phrases_by_meaning(encoder, client, shop_kb):
    data = client.get(
        "/api/kb/search/", {"q": "still no money back", "suggest": "1", "language": "en"}
    ).json()
    assert data["ranker"] == "semantic"
    assert data["results"][0]["slug"] == "refund-time"
    assert data["results"][0]["snippet"].startswith("Refunds reach Alipay")
    short = client.get("/api/kb/search/", {"q": "refu", "suggest": "1"}).json()
    assert short["ranker"] == "fulltext"
    assert short["results"][0]["slug"] == "refund-time"
    # a submitted search stays full-text (snippets with highlights, content gaps)
    full = client.get("/api/kb/search/", {"q": "still no money back"}).json()
    assert full["ranker"] == "fulltext"


def test_search_as_you_type_without_the_encoder_uses_full_text(without_encoder, client, shop_kb):
    response = client.get("/api/kb/search/", {"q": "still no money back", "suggest": "1"})
    assert response.status_code == 200
    assert response.json()["ranker"] == "fulltext"


# --- kb_eval -----------------------------------------------------------------------------------


@pytest.fixture
def eval_file(tmp_path):
    path = tmp_path / "eval.jsonl"
    cases = [
        {"q": "still no money back", "expected": "refund-time"},
        {"q": "钱怎么还没退回来", "expected": "refund-time-zh"},
        {"q": "I can't remember my password", "expected": "reset-password"},
        {"q": "write me a poem about the sea", "expected": None},
    ]
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
    return path


def test_kb_eval_compares_the_rankers_with_their_calibrated_thresholds(
    encoder, calibrated, eval_file, capsys
):
    set_thresholds("en", FULLTEXT, answer=0.5, clarify=0.3)
    set_thresholds("zh-hans", FULLTEXT, answer=0.6, clarify=0.3)
    for ranker in ("semantic", "fulltext"):
        call_command("kb_eval", str(eval_file), "--json", "--ranker", ranker)
        report = json.loads(capsys.readouterr().out)
        assert report["ranker"] == ranker
        for key in ("count", "top1", "top3", "declined_unanswerable", "confident_correct"):
            assert key in report
        assert report["count"] == 4
        assert set(report["thresholds"]) == {"en", "zh-hans"}
        assert report["decisions"]["unanswerable"] == {"handoff": 1.0}
    assert report["confidence_threshold"] == {"en": 0.5, "zh-hans": 0.6}
    call_command("kb_eval", str(eval_file), "--json", "--language", "en")
    assert json.loads(capsys.readouterr().out)["confidence_threshold"] == 0.8


def test_kb_eval_semantic_without_the_encoder_is_an_error(without_encoder, shop_kb, eval_file):
    with pytest.raises(CommandError, match="Semantic ranking is unavailable"):
        call_command("kb_eval", str(eval_file), "--ranker", "semantic")


@pytest.mark.parametrize(
    ("query", "phrase"),
    [("refund", False), ("money back", False), ("how do I get", True), ("退", False),
     ("退款", True), ("VAT 发", False), ("VAT 发票", True), ("", False)],
)  # fmt: skip
def test_a_phrase_is_three_words_or_two_chinese_characters(query, phrase):
    assert answers.is_phrase(query) is phrase
