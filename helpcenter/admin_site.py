"""The admin site: Django's, with the portal's sign-in limits (core/signin.py) on its login.

Set as ``admin.site`` by helpcenter.apps.AdminConfig, so every ModelAdmin registration and
tickets.admin.console's additions land on it unchanged."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse

from core.signin import SigninLimitMixin, signin_succeeded, throttled


class AdminLoginForm(SigninLimitMixin, AdminAuthenticationForm):
    pass


class AdminSite(admin.AdminSite):
    login_form = AdminLoginForm

    @login_not_required
    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if request.method != "POST":
            return response
        form = (getattr(response, "context_data", None) or {}).get("form")
        if form is not None and throttled(form):
            # The login page again, with the form's error saying why and when to retry.
            response.status_code = 429
        elif response.status_code == 302 and request.user.is_authenticated:
            # Django's LoginView redirects a POST only after auth.login().
            signin_succeeded(request, response, request.user.get_username())
        return response
