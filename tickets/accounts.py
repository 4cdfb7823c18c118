"""Customer accounts: sign up with email confirmation, sign in/out, password reset, profile.
Django's auth views with the help center's templates; the rules are in tickets.services.accounts
and core.signin."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core.client import client_key
from core.ratelimit import RateLimited
from core.signin import remember_device, signin_counters_clear, signin_succeeded, throttled
from tickets import selectors, services
from tickets.forms import (
    LoginForm,
    PasswordResetForm,
    ProfileForm,
    SignupForm,
    add_service_errors,
)
from tickets.services import accounts


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        data = form.cleaned_data
        try:
            accounts.account_signup(
                email=data["email"], password=data["password1"], name=data["name"],
                language=get_language(), client_key=client_key(request),
            )  # fmt: skip
        except RateLimited as exc:
            add_service_errors(form, exc)
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        # The same page whether the address was new, pending or registered.
        return redirect("accounts:signup-sent")
    return render(request, "accounts/signup.html", {"form": form})


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link shows a button; the POST activates. (Mail scanners that fetch links do
    not confirm anything, and the one-use token stays valid for the person.)"""
    user = accounts.user_for_confirmation(token)
    if user is not None and request.method == "POST":
        accounts.account_confirm(user=user, language=get_language())
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Your email is confirmed and you are signed in. Welcome!"))
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/confirm.html", {"valid": user is not None})


class LoginView(auth_views.LoginView):
    """Sign-in, with failed attempts limited by core.signin (the form refuses a blocked client
    without trying the password; the page says so with a 429). auth.login() rotates the
    session; a success makes the browser a known device of the account."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if throttled(form):
            response.status_code = 429
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        signin_succeeded(self.request, response, form.cleaned_data["username"])
        return response

    def get_default_redirect_url(self) -> str:
        if selectors.is_support_staff(self.request.user):
            return reverse("admin:index")
        return super().get_default_redirect_url()


login = LoginView.as_view()
logout = auth_views.LogoutView.as_view()  # POST only (Django 5); LOGOUT_REDIRECT_URL

password_reset = auth_views.PasswordResetView.as_view(
    form_class=PasswordResetForm,
    template_name="accounts/password_reset.html",
    success_url=reverse_lazy("accounts:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the mailed link proves the mailbox: the account's sign-in
    counters start afresh and this browser becomes its known device, so a reset always lets
    the owner in, whatever strangers tried."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        username = form.user.get_username()
        signin_counters_clear(username)
        remember_device(self.request, response, username)
        return response


password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    customer = services.customer_for_user(user=request.user)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            accounts.profile_update(user=request.user, **form.cleaned_data)
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:profile")
    else:
        form = ProfileForm(initial={"name": customer.name, "language": customer.language})
    return render(request, "accounts/profile.html", {"form": form, "customer": customer})
