"""Customer accounts: sign up with email confirmation, sign in/out, password reset, profile."""

from django.urls import path

from tickets import accounts

app_name = "accounts"

urlpatterns = [
    path("signup/", accounts.signup, name="signup"),
    path("signup/sent/", accounts.signup_sent, name="signup-sent"),
    path("confirm/<str:token>/", accounts.confirm_email, name="confirm"),
    path("login/", accounts.login, name="login"),
    path("logout/", accounts.logout, name="logout"),
    path("password/reset/", accounts.password_reset, name="password_reset"),
    path("password/reset/sent/", accounts.password_reset_done, name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/", accounts.password_reset_complete, name="password_reset_complete"
    ),
    path("profile/", accounts.profile, name="profile"),
]
