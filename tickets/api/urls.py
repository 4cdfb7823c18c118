"""Tickets REST API, mounted at /api/tickets/. Views in tickets/api/views.py."""

from django.urls import path

from tickets.api import views as api

app_name = "tickets-api"

urlpatterns = [
    path("", api.TicketListCreateApi.as_view(), name="list"),
    path("<str:reference>/", api.TicketDetailApi.as_view(), name="detail"),
    path("<str:reference>/messages/", api.TicketMessageCreateApi.as_view(), name="messages"),
]
