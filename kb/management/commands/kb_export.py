import json
import sys

from django.core.management.base import BaseCommand

from kb.importing import export_records
from kb.models import Article


class Command(BaseCommand):
    help = "Export articles as JSON Lines, in the format kb_import reads."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")
        parser.add_argument("--status", choices=[s.value for s in Article.Status])
        parser.add_argument("--language")

    def handle(self, *args, output=None, status=None, language=None, **options):
        articles = (
            Article.objects.select_related("category")
            .prefetch_related("questions", "tags")
            .order_by("pk")
        )
        if status:
            articles = articles.filter(status=status)
        if language:
            articles = articles.filter(language=language)
        stream = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
        try:
            count = 0
            for record in export_records(articles.iterator(chunk_size=500)):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                stream.close()
        self.stderr.write(f"Exported {count} article(s).")
