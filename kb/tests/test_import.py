import json

import pytest
from django.core.management import CommandError, call_command

from kb.models import Article, Category
from kb.search import search


def write_jsonl(tmp_path, rows, name="articles.jsonl"):
    path = tmp_path / name
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows),
        encoding="utf-8",
    )
    return path


GOOD = {
    "slug": "gift-cards",
    "title": "Using gift cards",
    "language": "en",
    "category": "Payments",
    "body": "Enter the code at checkout.",
    "questions": ["redeem voucher"],
    "tags": ["gift card"],
    "colour": "ignored unknown key",
}


def test_import_creates_articles_categories_and_index(db, tmp_path, capsys):
    zh = {**GOOD, "slug": "gift-cards-zh", "language": "zh-hans", "title": "如何使用礼品卡",
          "body": "结账时输入卡号。", "translation_of": "gift-cards", "questions": ["礼品卡怎么用"]}  # fmt: skip
    path = write_jsonl(tmp_path, [zh, GOOD, ""])  # translation listed first, blank line ignored
    call_command("kb_import", str(path))
    assert "2 created" in capsys.readouterr().out
    article = Article.objects.get(slug="gift-cards")
    assert article.status == Article.Status.PUBLISHED
    assert article.category == Category.objects.get(slug="payments")
    assert Article.objects.get(slug="gift-cards-zh").translation_group == article.translation_group
    assert search("redeem voucher")[0].slug == "gift-cards"
    assert search("礼品卡怎么用")[0].slug == "gift-cards-zh"


def test_reimporting_a_slug_updates_it_and_unchanged_lines_are_skipped(db, tmp_path, capsys):
    call_command("kb_import", str(write_jsonl(tmp_path, [GOOD])))
    call_command("kb_import", str(write_jsonl(tmp_path, [GOOD])))
    assert "1 unchanged" in capsys.readouterr().out
    changed = {**GOOD, "title": "Gift cards and vouchers", "status": "draft"}
    call_command("kb_import", str(write_jsonl(tmp_path, [changed])))
    article = Article.objects.get()
    assert (article.title, article.status) == ("Gift cards and vouchers", "draft")
    assert article.revisions.count() == 2


def test_bad_lines_are_all_reported_and_nothing_is_imported(db, tmp_path, capsys):
    rows = [
        GOOD,
        "{not json",
        {**GOOD, "slug": "Bad Slug!"},
        {**GOOD, "slug": "no-title", "title": ""},
        {**GOOD, "slug": "fr", "language": "fr"},
        {**GOOD, "slug": "draftish", "status": "pending"},
        {**GOOD, "slug": "qs", "questions": "x" * 400},
        ["a", "list"],
        GOOD,  # duplicate slug
        {**GOOD, "slug": "orphan", "translation_of": "missing-article", "language": "zh-hans"},
    ]
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("kb_import", str(write_jsonl(tmp_path, rows)))
    err = capsys.readouterr().err
    for line in range(2, 10):
        assert f"line {line}:" in err
    assert not Article.objects.exists()


def test_a_line_rejected_at_save_time_rolls_back_the_whole_file(db, tmp_path, capsys):
    rows = [
        GOOD,
        {**GOOD, "slug": "orphan", "translation_of": "missing-article", "language": "zh-hans"},
    ]
    with pytest.raises(CommandError):
        call_command("kb_import", str(write_jsonl(tmp_path, rows)))
    assert "line 2: 'translation_of' names an unknown article" in capsys.readouterr().err
    assert not Article.objects.exists()
    assert not Category.objects.exists()


def test_missing_or_binary_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("kb_import", str(tmp_path / "nope.jsonl"))
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("kb_import", str(binary))


def test_export_then_import_round_trips(db, tmp_path, shop_kb):
    out = tmp_path / "export.jsonl"
    call_command("kb_export", "-o", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == Article.objects.count()
    zh = next(r for r in records if r["slug"] == "refund-time-zh")
    assert zh["translation_of"] == "refund-time"
    Article.objects.all().delete()
    call_command("kb_import", str(out))
    assert Article.objects.count() == len(records)
    assert (
        Article.objects.get(slug="refund-time-zh").translation_group
        == Article.objects.get(slug="refund-time").translation_group
    )


def test_kb_eval_prints_the_documented_json(db, tmp_path, shop_kb, capsys):
    path = write_jsonl(
        tmp_path,
        [
            {"q": "how long for my money back", "expected": "refund-time"},
            {"q": "退款多久到账", "expected": "refund-time-zh", "note": "ignored"},
            {"q": "forgot my password", "expected": "reset-password"},
            {"q": "do you sell garden furniture", "expected": None},
        ],
        name="eval.jsonl",
    )
    call_command("kb_eval", str(path), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 4
    assert report["top1"] == 1.0
    assert report["top3"] == 1.0
    assert report["declined_unanswerable"] == 1.0
    assert 0 <= report["confident_correct"] <= 1
    assert report["p50_ms"] > 0
    assert report["p95_ms"] >= report["p50_ms"]


def test_kb_eval_human_readable_output_and_bad_lines(db, tmp_path, shop_kb, capsys):
    path = write_jsonl(
        tmp_path, [{"q": "refund", "expected": "refund-time"}, "{oops", {"q": ""}], name="e.jsonl"
    )
    call_command("kb_eval", str(path))
    captured = capsys.readouterr()
    assert "top-1 accuracy:" in captured.out
    assert "line 2:" in captured.err
    assert "line 3:" in captured.err
