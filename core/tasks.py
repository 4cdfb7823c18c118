"""Handing work to the django-q2 cluster."""

import logging
from importlib import import_module

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(func_path: str, *args) -> None:
    """Hand a task to the django-q2 cluster (or run it now when TASKS_EAGER). Never raises: a
    lost enqueue is picked up by the periodic sweeps. Pass ids, never secrets: arguments are
    stored in the broker's table (and in backups) until the task has run."""
    try:
        if settings.TASKS_EAGER:
            module, name = func_path.rsplit(".", 1)
            getattr(import_module(module), name)(*args)
        else:
            from django_q.tasks import async_task

            # Inside atomic(), django-q2's ORM broker cannot close this request's database
            # connection behind its back (which would cost a reconnect per enqueued task).
            with transaction.atomic():
                async_task(func_path, *args)
    except Exception:
        logger.exception("Could not run or enqueue %s%r", func_path, args)
