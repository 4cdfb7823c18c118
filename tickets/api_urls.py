"""Tickets REST API (being built)."""

app_name = "tickets-api"
urlpatterns = []
