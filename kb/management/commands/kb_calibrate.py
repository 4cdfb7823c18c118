from django.core.management.base import BaseCommand

from kb import calibration
from kb.models import AnswerCalibration


class Command(BaseCommand):
    help = (
        "Derive the chat bot's answer and clarify thresholds per language from the knowledge "
        "base's own alternate questions (leave-one-out), after filling in missing vectors."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ranker",
            choices=AnswerCalibration.Ranker.values,
            action="append",
            help="calibrate this ranker (repeatable); default: the one in use, and any "
            "already calibrated, when their articles changed",
        )
        parser.add_argument("--force", action="store_true", help="even when nothing changed")

    def handle(self, *args, ranker=None, force: bool = False, **options):
        if ranker:
            done = [
                calibration.calibrate(language, name)
                for name in ranker
                for language in calibration.published_languages()
            ]
        else:
            done = calibration.calibrations_refresh(force=force)
        for row in AnswerCalibration.objects.all():
            figures = row.figures
            fresh = "" if row in done else " (unchanged)"
            self.stdout.write(
                f"{row.language:8} {row.ranker:8} answer >= {row.answer_threshold:.3f}  "
                f"clarify >= {row.clarify_threshold:.3f}  trials {figures.get('trials', 0)}  "
                f"top-1 {figures.get('top1', 0):.1%}  top-3 {figures.get('top3', 0):.1%}  "
                f"answered {figures.get('answered', 0):.1%} "
                f"({figures.get('answered_right', 0):.1%} right){fresh}"
            )
            self.stdout.write(f"         {row.method}")
