from django.core.management.base import BaseCommand

from kb import page_cache
from kb.search.index import reindex


class Command(BaseCommand):
    help = "Rebuild the full-text search index of every article."

    def handle(self, *args, **options):
        count = reindex(progress=lambda n: self.stderr.write(f"\r{n} indexed", ending=""))
        self.stderr.write("")
        page_cache.invalidate()
        self.stdout.write(self.style.SUCCESS(f"Reindexed {count} article(s)."))
