"""Forms of the customer portal and accounts. They parse; the rules live in the services
(tickets.services) and tickets.attachments."""

import hashlib
import secrets

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.signin import SigninLimitMixin, device_or_address
from kb.models import Language
from tickets.attachments import check_uploads
from tickets.services import normalize_email
from tickets.services.accounts import account_mail_queue, normalize_login
from tickets.services.idempotency import request_fingerprint
from tickets.services.tickets import MAX_BODY


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleaned to a list of CheckedUpload (content-checked)."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault(
            "accept",
            "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,.txt,.log,.csv,.md",
        )

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        files = [super(MultipleFileField, self).clean(f, initial) for f in files if f]
        return check_uploads(files)


def attachments_help() -> str:
    return _("Up to %(count)d files, %(size)d MB each: images, PDF or plain text.") % {
        "count": settings.TICKETS_ATTACHMENTS_PER_MESSAGE,
        "size": settings.TICKETS_ATTACHMENT_MAX_BYTES // 2**20,
    }


class OnceForm(forms.Form):
    """A form that takes effect once however often one showing of it is posted (a double click,
    a resend after an error page): a hidden nonce, new each time the form is shown, names the
    posting (``submission_key``), and the service stores what it made under that name."""

    form_nonce = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["form_nonce"].initial = secrets.token_urlsafe(16)

    def submission_key(self) -> str:
        """``form:<hash>`` of the nonce and the posted fields (other fields under the same nonce
        are another posting); "" without a nonce. A client that posts only the fields it read
        (no nonce) is named by the form's CSRF token instead, which Django also makes new for
        each showing of the form. Hashed: the token would give away the CSRF secret."""
        nonce = self.cleaned_data.get("form_nonce") or self.data.get("csrfmiddlewaretoken", "")
        if not nonce:
            return ""
        fields = {name: value for name, value in self.cleaned_data.items() if name != "form_nonce"}
        digest = hashlib.sha256(f"{nonce}:{request_fingerprint(fields)}".encode()).hexdigest()
        return "form:" + digest[:40]


class RequestForm(OnceForm):
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        help_text=_("A few words about your question. We suggest articles as you type."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    body = forms.CharField(
        label=_("Description"),
        max_length=MAX_BODY,
        help_text=_("Please include your order number, if you have one."),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    attachments = MultipleFileField(label=_("Attachments (optional)"))
    name = forms.CharField(
        label=_("Your name (optional)"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Your email"),
        max_length=254,
        help_text=_("We send the link to your request and our replies to this address."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, guest: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()
        if not guest:
            del self.fields["name"], self.fields["email"]


class ReplyForm(OnceForm):
    body = forms.CharField(
        label=_("Your reply"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = MultipleFileField(label=_("Attachments (optional)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, else on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Accounts --------------------------------------------------------------------------------


class SignupForm(forms.Form):
    """Not a ModelForm: "this email is taken" would tell anyone who is registered."""

    name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"), max_length=150, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    def clean(self):
        data = super().clean()
        password, again = data.get("password1"), data.get("password2")
        if password and again and password != again:
            self.add_error("password2", _("The two passwords do not match."))
        elif password:
            candidate = get_user_model()(
                username=data.get("email", ""), email=data.get("email", ""),
                first_name=data.get("name", ""),
            )  # fmt: skip
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class LoginForm(SigninLimitMixin, auth_forms.AuthenticationForm):
    """Customers sign in with their email, staff with their username; failures are limited
    (core.signin)."""

    error_messages = {
        "invalid_login": _("The email or password is not correct."),
        # Never shown with the default backend (it refuses inactive users like wrong passwords).
        "inactive": _("The email or password is not correct."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.label = _("Email")
        username.help_text = _("Staff: your username.")
        username.widget.attrs.update({"autocomplete": "username", "inputmode": "email"})

    def clean_username(self) -> str:
        return normalize_login(self.cleaned_data["username"])


class PasswordResetForm(auth_forms.PasswordResetForm):
    def save(self, *args, request: HttpRequest, **kwargs) -> None:
        """Mail a reset link to every active account with this email, in the page's language,
        as a task (so the response takes as long whether or not the address is registered).
        Sign-in limits never apply here; the mails' own limits spare the account's devices."""
        for user in self.get_users(self.cleaned_data["email"]):
            key, known = device_or_address(request, user.get_username())
            account_mail_queue(
                user=user, kind="password_reset", language=get_language(),
                client_key=key, known_device=known,
            )  # fmt: skip


class ProfileForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=Language.choices,
        help_text=_("The language of our emails and replies to you."),
    )
