"""Tickets admin: the agent workspace and what managers set up (one module per area)."""

from tickets.admin import console, customers, setup, tickets  # noqa: F401 - registers the ModelAdmins
