import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kb.importing import ImportFailed, import_records, parse_lines


class Command(BaseCommand):
    help = (
        "Import articles from a JSON Lines file (slug, title, language, category, body; optional "
        "summary, questions, tags, status, translation_of). Re-importing a slug updates it. "
        "All or nothing: any bad line is reported and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to a .jsonl file, or - for standard input")

    def handle(self, *args, file: str, **options):
        if file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as exc:
                raise CommandError(f"{file} is not UTF-8 text ({exc.reason}).") from None
        records, errors = parse_lines(lines)
        if not errors:
            try:
                report = import_records(records, progress=self._progress_bar(len(records)))
            except ImportFailed as failed:
                errors = failed.report.errors
        self.stderr.write("")
        if errors:
            for number, message in errors:
                self.stderr.write(f"line {number}: {message}")
            raise CommandError(f"{len(errors)} bad line(s); nothing was imported.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {len(records)} article(s): {report.created} created, "
                f"{report.updated} updated, {report.unchanged} unchanged."
            )
        )

    def _progress_bar(self, total: int):
        interactive = self.stderr.isatty()
        step = max(total // 20, 1)

        def progress(done: int) -> None:
            if not (interactive or done % step == 0 or done == total):
                return
            width = 30
            filled = width * done // max(total, 1)
            bar = "#" * filled + "-" * (width - filled)
            self.stderr.write(f"\r[{bar}] {done}/{total}", ending="" if interactive else "\n")
            self.stderr.flush()

        return progress
