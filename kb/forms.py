from django import forms
from django.utils.translation import gettext_lazy as _

from kb.search.engine import MAX_QUERY_LENGTH


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search the help center"),
        max_length=MAX_QUERY_LENGTH,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Search for answers, e.g. refund, invoice, 退款"),
                "autocomplete": "off",
                "enterkeyhint": "search",
            }
        ),
    )
    scope = forms.ChoiceField(
        label=_("Search in"),
        choices=[("lang", _("This language")), ("all", _("All languages"))],
        required=False,
    )

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())


class FeedbackForm(forms.Form):
    helpful = forms.ChoiceField(
        label=_("Was this article helpful?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("What was missing or wrong? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
