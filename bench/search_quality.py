"""Search quality on the demo knowledge base: `kb_eval` over bench/data/kb_eval.jsonl, with
each Chinese segmentation the index supports (jieba words, character bigrams), side by side.

    .venv/bin/python -m bench.search_quality

The demo articles (helpcenter/demo/articles.jsonl, 30 topics x English and Chinese) are
loaded into a throwaway database; for each tokenizer the index is rebuilt and every question
asked across all languages. The tokenizer with the better top-3 and confident-correct figures
is the default (KB_CHINESE_TOKENIZER).
"""

import json

from bench import common

EVAL_FILE = common.ROOT / "bench" / "data" / "kb_eval.jsonl"


def main() -> int:
    common.prepare("quality")
    common.setup_django()

    from django.conf import settings
    from django.core.management import call_command

    from kb.evaluation import evaluate, parse_cases
    from kb.search.index import reindex

    call_command("load_demo", verbosity=0)
    cases, errors = parse_cases(EVAL_FILE.read_text(encoding="utf-8").splitlines())
    assert not errors, errors
    languages = {"en": [], "zh-hans": []}
    for line, case in zip(EVAL_FILE.read_text(encoding="utf-8").splitlines(), cases, strict=False):
        languages[json.loads(line).get("lang", "en")].append(case)
    print(f"# Search quality — {common.database_label()}; {len(cases)} questions\n")
    rows = []
    for tokenizer in ("jieba", "bigram"):
        settings.KB_CHINESE_TOKENIZER = tokenizer
        reindex()
        for label, subset in (
            ("all", cases),
            ("English", languages["en"]),
            ("Chinese", languages["zh-hans"]),
        ):
            report = evaluate(subset)
            rows.append(
                [tokenizer, label, report["count"], f"{100 * report['top1']:.1f}%",
                 f"{100 * report['top3']:.1f}%", f"{100 * report['confident_correct']:.1f}%",
                 f"{100 * report['declined_unanswerable']:.1f}%", f"{report['p50_ms']:.1f}",
                 f"{report['p95_ms']:.1f}"]
            )  # fmt: skip
    print(
        common.table(
            ["Chinese tokenizer", "questions", "n", "top-1", "top-3", "confident & correct",
             "unanswerable declined", "p50 ms", "p95 ms"],
            rows,
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
