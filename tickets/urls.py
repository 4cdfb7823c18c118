"""Customer portal: requests (tickets) on the site. Views in tickets/views.py."""

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("new/suggested/<slug:slug>/", views.suggestion_open, name="suggestion-open"),
    path("claim/<str:token>/", views.request_claim, name="claim"),
    path("<str:reference>/", views.request_detail, name="detail"),
    path("<str:reference>/guest/<str:key>/", views.request_guest, name="guest"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
