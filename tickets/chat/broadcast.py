"""Channel-layer groups and what is sent to them. The database is the truth; a group message
is only a doorbell carrying a copy, sent after the transaction that saved the fact commits.

Group names are built from database ids only, never from client input:
- ``chat.<ticket id>``: the customer's sockets on that conversation (public messages only);
- ``chat.<ticket id>.staff``: agents watching it (everything, internal notes included);
- ``chat.agents``: every agent console (the waiting queue changed);
- ``agent.<user id>``: one agent's consoles (a chat was assigned to them, or they must go).
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from core.socket_db import pending_group_sends
from tickets.chat.frames import message_frame
from tickets.chat.selectors import waiting_positions
from tickets.models import Message

logger = logging.getLogger(__name__)
AGENTS_GROUP = "chat.agents"


def customer_group(ticket_id: int) -> str:
    return f"chat.{int(ticket_id)}"


def staff_group(ticket_id: int) -> str:
    return f"chat.{int(ticket_id)}.staff"


def agent_group(user_id: int) -> str:
    return f"agent.{int(user_id)}"


def _send(group: str, event: dict) -> None:
    outbox = pending_group_sends.get()
    if outbox is not None and outbox.add(group, event):
        return  # in a socket's database call: sent from the event loop after it
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # a lost doorbell is recovered by the client's replay from the database
        logger.exception("group_send to %s failed", group)


def after_commit(group: str, event: dict) -> None:
    """Send ``event`` to ``group`` once the current transaction has committed."""
    transaction.on_commit(lambda: _send(group, event), robust=True)


def message_saved(message: Message) -> None:
    frame = message_frame(message)
    event = {"type": "chat.frame", "frame": frame, "ticket": message.ticket_id}
    after_commit(staff_group(message.ticket_id), event)
    if not message.is_internal:  # internal notes never reach the customer's group
        after_commit(customer_group(message.ticket_id), event)


def to_customer(ticket_id: int, frame: dict) -> None:
    after_commit(
        customer_group(ticket_id), {"type": "chat.frame", "frame": frame, "ticket": ticket_id}
    )


def to_staff(ticket_id: int, frame: dict) -> None:
    after_commit(
        staff_group(ticket_id), {"type": "chat.frame", "frame": frame, "ticket": ticket_id}
    )


def queue_changed() -> None:
    """Agents refresh their waiting list; waiting customers get their new positions."""
    after_commit(AGENTS_GROUP, {"type": "queue.changed"})
    transaction.on_commit(_push_positions, robust=True)


def _push_positions() -> None:
    for ticket_id, (position, eta) in waiting_positions().items():
        _send(
            customer_group(ticket_id),
            {
                "type": "chat.frame",
                "frame": {"type": "queue", "position": position, "eta_seconds": eta},
                "ticket": ticket_id,
            },
        )


def to_agent(user_id: int, event: dict) -> None:
    after_commit(agent_group(user_id), event)


def close_agent_consoles(sender=None, user=None, instance=None, **kwargs) -> None:
    """An agent signed out or was deactivated: their open consoles close (signal receiver)."""
    user = user or instance
    if user is None or user.pk is None:
        return
    if instance is not None and user.is_active:
        return  # a save that did not deactivate
    _send(agent_group(user.pk), {"type": "agent.disconnect"})
