from django.core.management.base import BaseCommand

from kb import page_cache, services
from kb.search.index import reindex


class Command(BaseCommand):
    help = "Rebuild the full-text search index of every article."

    def add_arguments(self, parser):
        parser.add_argument(
            "--render",
            action="store_true",
            help="also render every article's Markdown again (after a renderer change)",
        )

    def handle(self, *args, render: bool = False, **options):
        if render:
            self.stdout.write(f"Rendered {services.articles_rerender()} article(s).")
        count = reindex(progress=lambda n: self.stderr.write(f"\r{n} indexed", ending=""))
        self.stderr.write("")
        page_cache.invalidate()
        self.stdout.write(self.style.SUCCESS(f"Reindexed {count} article(s)."))
