"""An agent's own availability: the one writer of AgentProfile.status, from the ticket list,
the chat console or anywhere else. Who is available changes the chat queue (positions, the
estimated wait, who may be offered a chat), so every change is announced after commit."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tickets.chat import broadcast
from tickets.models import AgentProfile, AgentStatus


@transaction.atomic
def agent_status_set(*, user: AbstractBaseUser, status: str) -> AgentProfile:
    """Set an agent available, away or offline (the profile is created on first use)."""
    if status not in AgentStatus.values:
        raise ValidationError(_("Unknown status."))
    profile, _created = AgentProfile.objects.get_or_create(user=user)
    if profile.status != status:
        profile.status = status
        profile.save(update_fields=["status"])
        broadcast.queue_changed()
    return profile
