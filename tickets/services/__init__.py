"""Writes to tickets and customers (see the modules for the rules)."""

from tickets.services.clocks import sla_recompute, sla_sweep, ticket_apply_sla
from tickets.services.customers import (
    customer_for_email,
    customer_for_guest,
    customer_for_user,
    customers_merge,
    default_tier,
    normalize_email,
)
from tickets.services.tickets import (
    message_post,
    suggestion_view_record,
    suggestions_convert,
    take_next_queue,
    ticket_auto_assign,
    ticket_create,
    ticket_take_next,
    ticket_update,
    tickets_close_solved,
    tickets_merge,
)

__all__ = [
    "customer_for_email", "customer_for_guest", "customer_for_user", "customers_merge",
    "default_tier", "message_post", "normalize_email", "sla_recompute", "sla_sweep",
    "suggestion_view_record", "suggestions_convert", "take_next_queue", "ticket_apply_sla",
    "ticket_auto_assign", "ticket_create", "ticket_take_next", "ticket_update",
    "tickets_close_solved", "tickets_merge",
]  # fmt: skip
