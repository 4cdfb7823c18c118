import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kb.evaluation import evaluate, parse_cases
from kb.models import Language


class Command(BaseCommand):
    help = (
        'Measure search quality on a JSON Lines file of {"q": ..., "expected": <slug or null>}: '
        "top-1/top-3 accuracy, unanswerable questions declined, the chat bot's decisions, "
        "latency."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--language", choices=Language.values, help="search one language only")
        parser.add_argument(
            "--ranker",
            choices=["auto", "semantic", "fulltext"],
            default="auto",
            help="rank by meaning, by full-text search, or as the chat bot does (auto: "
            "semantic when the encoder and vectors are available)",
        )
        parser.add_argument(
            "--misses", action="store_true", help="list the questions answered wrong"
        )

    def handle(
        self, *args, file: str, json: bool = False, language=None, ranker="auto", misses=False,
        **options,
    ):  # fmt: skip
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        cases, errors = parse_cases(path.read_text(encoding="utf-8").splitlines())
        for number, message in errors:
            self.stderr.write(f"line {number}: {message}")
        if not cases:
            raise CommandError("No questions to evaluate.")
        try:
            report = evaluate(cases, language=language, ranker=ranker)
        except LookupError as exc:
            raise CommandError(f"{exc} Run manage.py kb_embed first.") from None
        wrong = report.pop("misses")
        if json:
            self.stdout.write(_dumps(report))
            return
        pct = lambda value: f"{100 * value:.1f}%"  # noqa: E731
        thresholds = report["confidence_threshold"]
        if isinstance(thresholds, dict):
            thresholds = ", ".join(f"{lang} {value}" for lang, value in thresholds.items())
        self.stdout.write(
            f"ranker:                {report['ranker']}\n"
            f"questions: {report['count']} ({report['answerable']} answerable, "
            f"{report['unanswerable']} unanswerable)\n"
            f"top-1 accuracy:        {pct(report['top1'])}\n"
            f"top-3 accuracy:        {pct(report['top3'])}\n"
            f"confident and correct: {pct(report['confident_correct'])} "
            f"(score >= {thresholds})\n"
            f"unanswerable declined: {pct(report['declined_unanswerable'])}\n"
            f"latency p50 / p95:     {report['p50_ms']} ms / {report['p95_ms']} ms"
        )
        for lang, row in report["thresholds"].items():
            self.stdout.write(
                f"thresholds {lang}: answer >= {row['answer']}, clarify >= {row['clarify']} "
                f"({row['method']})"
            )
        for group, shares in report["decisions"].items():
            described = ", ".join(f"{kind} {pct(value)}" for kind, value in shares.items())
            self.stdout.write(f"bot on {group} questions: {described}")
        if misses:
            for miss in wrong:
                self.stdout.write(_dumps(miss))


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False)
