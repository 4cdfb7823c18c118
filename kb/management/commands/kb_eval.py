import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kb.evaluation import evaluate, parse_cases
from kb.models import Language


class Command(BaseCommand):
    help = (
        'Measure search quality on a JSON Lines file of {"q": ..., "expected": <slug or null>}: '
        "top-1/top-3 accuracy, unanswerable questions declined, latency."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--language", choices=Language.values, help="search one language only")
        parser.add_argument(
            "--misses", action="store_true", help="list the questions answered wrong"
        )

    def handle(self, *args, file: str, json: bool = False, language=None, misses=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        cases, errors = parse_cases(path.read_text(encoding="utf-8").splitlines())
        for number, message in errors:
            self.stderr.write(f"line {number}: {message}")
        if not cases:
            raise CommandError("No questions to evaluate.")
        report = evaluate(cases, language=language)
        wrong = report.pop("misses")
        if json:
            self.stdout.write(_dumps(report))
            return
        pct = lambda value: f"{100 * value:.1f}%"  # noqa: E731
        self.stdout.write(
            f"questions: {report['count']} ({report['answerable']} answerable, "
            f"{report['unanswerable']} unanswerable)\n"
            f"top-1 accuracy:        {pct(report['top1'])}\n"
            f"top-3 accuracy:        {pct(report['top3'])}\n"
            f"confident and correct: {pct(report['confident_correct'])} "
            f"(confidence >= {report['confidence_threshold']})\n"
            f"unanswerable declined: {pct(report['declined_unanswerable'])}\n"
            f"latency p50 / p95:     {report['p50_ms']} ms / {report['p95_ms']} ms"
        )
        if misses:
            for miss in wrong:
                self.stdout.write(_dumps(miss))


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False)
