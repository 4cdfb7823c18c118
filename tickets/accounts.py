"""Customer account views (being built)."""

from tickets.views import _todo

signup = signup_sent = confirm_email = login = logout = password_reset = _todo
password_reset_done = password_reset_confirm = password_reset_complete = profile = _todo
