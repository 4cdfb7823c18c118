"""Customer accounts: sign up with email confirmation, sign in/out, password reset, profile.
Django's auth views with the help center's templates; the rules are in tickets.services.accounts and core.signin."""

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

from core.signin import signin_blocked, signin_failed
from tickets import selectors, services
from tickets.forms import LoginForm, PasswordResetForm, ProfileForm, SignupForm
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
        accounts.account_signup(
            email=data["email"], password=data["password1"], name=data["name"],
            language=get_language(),
        )  # fmt: skip
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
    """Sign-in, rate-limited per client address and per username
    (LOGIN_ATTEMPTS_PER_15_MINUTES failed attempts each). auth.login() rotates the session."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        if signin_blocked(request, accounts.normalize_login(username)):
            form = self.authentication_form(request, initial={"username": username[:150]})
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        signin_failed(self.request, accounts.normalize_login(self.request.POST.get("username", "")))
        return super().form_invalid(form)

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
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
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
