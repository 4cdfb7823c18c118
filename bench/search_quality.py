"""Search quality on the demo knowledge base: `kb_eval` over bench/data/kb_eval.jsonl.

    .venv/bin/python -m bench.search_quality

The demo articles (helpcenter/demo/articles.jsonl, 30 topics x English and Chinese) are
loaded into a throwaway database, and every question is asked across all languages.

1. Full-text search with each Chinese segmentation the index supports (jieba words, character
   bigrams), "confident" at kb.search.CONFIDENT: the tokenizer with the better top-3 and
   confident-correct figures is the default (KB_CHINESE_TOKENIZER).
2. Full-text vs semantic ranking (kb.answers.rank), side by side, each with its own
   thresholds calibrated by leave-one-out over the demo's alternate questions, and what the
   chat bot would do (answer / clarify / hand off).
3. The calibrations themselves (kb.calibration): thresholds and leave-one-out figures.
4. Search-as-you-type: every prefix of every answerable question, as typed, ranked by
   full-text prefix search, by meaning, and by the rule kb.answers.suggest applies.
"""

import json
import time

from bench import common

EVAL_FILE = common.ROOT / "bench" / "data" / "kb_eval.jsonl"
SUGGEST_LIMIT = 5  # the request form shows five, the search box six


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def main() -> int:
    common.prepare("quality")
    common.setup_django()

    from django.conf import settings
    from django.core.management import call_command

    from kb import answers, calibration, semantic
    from kb.evaluation import evaluate, parse_cases
    from kb.models import AnswerCalibration
    from kb.search import CONFIDENT, search
    from kb.search.index import reindex

    call_command("load_demo", verbosity=0)
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    cases, errors = parse_cases(lines)
    assert not errors, errors
    languages = {"en": [], "zh-hans": []}
    for line, case in zip(lines, cases, strict=False):
        languages[json.loads(line).get("lang", "en")].append(case)
    subsets = (("all", cases), ("English", languages["en"]), ("Chinese", languages["zh-hans"]))
    print(f"# Search quality — {common.database_label()}; {len(cases)} questions\n")

    rows = []
    for tokenizer in ("jieba", "bigram"):
        settings.KB_CHINESE_TOKENIZER = tokenizer
        reindex()
        for label, subset in subsets:
            report = evaluate(subset, ranker="fulltext", confident=CONFIDENT)
            rows.append(
                [tokenizer, label, report["count"], _pct(report["top1"]), _pct(report["top3"]),
                 _pct(report["confident_correct"]), _pct(report["declined_unanswerable"]),
                 f"{report['p50_ms']:.1f}", f"{report['p95_ms']:.1f}"]
            )  # fmt: skip
    print(
        common.table(
            ["Chinese tokenizer", "questions", "n", "top-1", "top-3", "confident & correct",
             "unanswerable declined", "p50 ms", "p95 ms"],
            rows,
            title=f"## Full-text search by Chinese tokenizer (confident: >= {CONFIDENT})",
        )
    )  # fmt: skip

    settings.KB_CHINESE_TOKENIZER = "jieba"
    reindex()
    started = time.perf_counter()
    for language in ("en", "zh-hans"):
        for ranker in AnswerCalibration.Ranker.values:
            calibration.calibrate(language, ranker)
    calibrate_s = time.perf_counter() - started

    rows = []
    for ranker in ("fulltext", "semantic"):
        for label, subset in subsets:
            report = evaluate(subset, ranker=ranker)
            good, bad = report["decisions"]["answerable"], report["decisions"]["unanswerable"]
            rows.append(
                [ranker, label, report["count"], _pct(report["top1"]), _pct(report["top3"]),
                 _pct(report["confident_correct"]), _pct(good.get("answer_wrong", 0)),
                 _pct(good.get("clarify_right", 0)), _pct(good.get("handoff", 0)),
                 _pct(report["declined_unanswerable"]), _pct(bad.get("handoff", 0)),
                 f"{report['p50_ms']:.1f}", f"{report['p95_ms']:.1f}"]
            )  # fmt: skip
    print(
        common.table(
            ["ranker", "questions", "n", "top-1", "top-3", "answered right", "answered wrong",
             "clarified (right among options)", "handed off", "unanswerable declined",
             "unanswerable handed off", "p50 ms", "p95 ms"],
            rows,
            title="## Full-text vs semantic, each with its calibrated thresholds (the chat bot)",
        )
    )  # fmt: skip
    print(
        "\nanswered / clarified / handed off: shares of the answerable questions (the rest of "
        "the clarified ones had the right article outside the options)."
    )

    rows = []
    for row in AnswerCalibration.objects.order_by("ranker", "language"):
        f = row.figures
        rows.append(
            [row.ranker, row.language, f"{row.answer_threshold:.3f}",
             f"{row.clarify_threshold:.3f}", f.get("trials", 0), _pct(f.get("top1", 0)),
             _pct(f.get("top3", 0)), f"{_pct(f.get('answered', 0))} ({_pct(f.get('answered_right', 0))})",
             f"{_pct(f.get('clarified', 0))} ({_pct(f.get('clarified_with_right_in_top3', 0))})",
             _pct(f.get("handed_off", 0)), _pct(f.get("missing_article_answered", 0)),
             _pct(f.get("missing_article_handed_off", 0))]
        )  # fmt: skip
    print(
        common.table(
            ["ranker", "language", "answer >=", "clarify >=", "trials", "top-1", "top-3",
             "answered (right)", "clarified (right in top 3)", "handed off",
             "article missing: answered", "article missing: handed off"],
            rows,
            title=f"## Leave-one-out calibration over the alternate questions ({calibrate_s:.1f} s)",
        )
    )  # fmt: skip

    rows = []
    for label, subset in subsets[1:]:
        language = "en" if label == "English" else "zh-hans"
        counts = {name: [0, 0] for name in ("fulltext", "semantic", "rule")}
        by_length: dict[str, dict[str, list[int]]] = {}
        typed = 0
        for case in subset:
            if not case.expected:
                continue
            for end in range(1, len(case.question) + 1):
                prefix = case.question[:end]
                if not prefix.strip() or (end < len(case.question) and prefix.endswith(" ")):
                    continue
                typed += 1
                unfinished = end < len(case.question)
                full = [h.slug for h in search(prefix, limit=SUGGEST_LIMIT, prefix=unfinished)]
                meaning = [h.slug for h in semantic.rank(prefix, limit=SUGGEST_LIMIT)]
                rule = meaning if answers.is_phrase(prefix) else full
                units = len(answers._WORD_RE.findall(prefix) + answers._CJK_RE.findall(prefix))
                bucket = "1" if units <= 1 else "2" if units == 2 else "3-4" if units <= 4 else "5+"
                for name, slugs in (("fulltext", full), ("semantic", meaning), ("rule", rule)):
                    counts[name][0] += slugs[:1] == [case.expected]
                    counts[name][1] += case.expected in slugs
                    stats = by_length.setdefault(bucket, {}).setdefault(name, [0, 0, 0])
                    stats[0] += 1
                    stats[1] += case.expected in slugs
        for name, (top1, top5) in counts.items():
            rows.append(
                [label, "all prefixes", name, typed, _pct(top1 / typed), _pct(top5 / typed)]
            )
        unit = "word(s)" if language == "en" else "character(s)"
        for bucket in ("1", "2", "3-4", "5+"):
            for name in ("fulltext", "semantic"):
                seen, found, _ = by_length[bucket][name]
                rows.append([label, f"{bucket} {unit}", name, seen, "", _pct(found / seen)])
    print(
        common.table(
            ["questions", "typed so far", "ranking", "prefixes", "top-1", f"top-{SUGGEST_LIMIT}"],
            rows,
            title=(
                "## Search-as-you-type: every prefix of the answerable questions (rule: semantic "
                f"from {answers.PHRASE_WORDS} words or {answers.PHRASE_CJK_CHARACTERS} Chinese "
                "characters)"
            ),
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
