"""Customer portal pages: submit a request (with suggested articles), my requests, a request's
conversation (signed in or through the guest link), claiming a request sent with one's address,
attachment downloads. Thin: parse, call tickets.selectors / tickets.services, render."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from core.database import RETRY_AFTER_SECONDS, database_unavailable
from kb.answers import suggest
from kb.feedback import remember_visitor, visitor_key
from kb.models import Article
from tickets import selectors, services
from tickets.attachments import content_disposition
from tickets.forms import OnceForm, ReplyForm, RequestForm, add_service_errors
from tickets.limits import GuestCreateThrottle
from tickets.models import AuthorKind, Ticket
from tickets.services import portal

logger = logging.getLogger(__name__)
LIST_PAGE_SIZE = 20
SUGGESTIONS = 5
SENT_SESSION_KEY = "tickets:sent"
SENT_NAME_SESSION_KEY = "tickets:sent-name"


def _customer(request: HttpRequest):
    return services.customer_for_user(user=request.user)


@never_cache
@login_required
@require_safe
def request_list(request: HttpRequest) -> HttpResponse:
    tickets = selectors.customer_tickets(_customer(request))
    page = Paginator(tickets, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "tickets/list.html", {"page": page, "crumbs": [{"name": _("My requests")}]}
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST" and request.GET.get("sent"):
        sent = _sent_ticket(request)
        if sent is not None:
            return render(request, "tickets/sent.html", sent)
    guest = not request.user.is_authenticated
    posted = request.method == "POST"
    form = RequestForm(
        request.POST if posted else None, request.FILES if posted else None, guest=guest
    )
    status = 200
    if posted and form.is_valid():
        if guest and not GuestCreateThrottle().allow_request(request, None):
            form.add_error(
                None,
                _("You have sent several requests in a short time. Please try again later."),
            )
            status = 429
        else:
            key, new_cookie = visitor_key(request)
            data = form.cleaned_data
            try:
                # A second post of this form (same nonce) gets the ticket the first one made.
                ticket, _created = portal.request_submit(
                    user=request.user, subject=data["subject"], body=data["body"],
                    attachments=data["attachments"], email=data.get("email", ""),
                    name=data.get("name", ""), language=get_language(), visitor_key=key,
                    submission=form.submission_key(),
                )  # fmt: skip
            except ValidationError as exc:
                add_service_errors(form, exc)
            except DatabaseError as exc:
                status = _busy(form, exc)
            else:
                request.session[SENT_SESSION_KEY] = ticket.pk
                # Greet the guest with what they typed: the name stored for that address (a
                # customer's, if it is theirs) is not for whoever merely knows the address.
                typed = data.get("name", "") or data.get("email", "").split("@")[0]
                request.session[SENT_NAME_SESSION_KEY] = typed
                response = redirect(reverse("tickets:new") + "?sent=1")
                remember_visitor(response, new_cookie)
                return response
    suggestions = []
    if form.is_bound and form.data.get("subject", "").strip():
        # Without JavaScript, the suggestions come with the form shown again.
        query = "".join(ch for ch in form.data["subject"] if ch.isprintable()).strip()[:200]
        suggestions = suggest(query, language=get_language(), limit=SUGGESTIONS).hits
    return _with_retry_after(
        render(
            request,
            "tickets/new.html",
            {
                "form": form,
                "guest": guest,
                "suggestions": suggestions,
                "crumbs": [{"name": _("Submit a request")}],
            },
            status=status,
        )
    )


def _busy(form: OnceForm, exc: DatabaseError) -> int:
    """The database cannot take the write now: show the form again, filled in, with a 503
    (posting it again later does it once: the nonce). Any other database error is a bug."""
    if not database_unavailable(exc):
        raise exc
    logger.warning("Portal form: database unavailable: %s", exc)
    form.add_error(
        None,
        _(
            "We could not send this just now because the help center is busy. Nothing was "
            "lost: please send it again in a moment."
        ),
    )
    return 503


def _with_retry_after(response: HttpResponse) -> HttpResponse:
    if response.status_code == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _sent_ticket(request: HttpRequest) -> dict | None:
    """The confirmation of the request this browser just submitted."""
    pk = request.session.get(SENT_SESSION_KEY)
    ticket = Ticket.objects.filter(pk=pk).select_related("customer").first() if pk else None
    if ticket is None:
        return None
    owner = request.user.is_authenticated and ticket.customer.user_id == request.user.pk
    # The same page whatever the email (a registered customer's or not), so the form does not
    # tell which addresses have an account.
    typed = request.session.get(SENT_NAME_SESSION_KEY) or _("Customer")
    return {
        "ticket": ticket,
        "name": ticket.customer.display_name if owner else typed,
        "ticket_url": ticket.get_absolute_url() if owner else None,
        "guest_url": None if owner else settings.SITE_URL + ticket.get_guest_url(),
    }


@require_GET
def suggestion_open(request: HttpRequest, slug: str) -> HttpResponse:
    """A suggested article opened from the request form: recorded (a deflection unless a
    request follows), then the article."""
    article = get_object_or_404(
        Article.objects.published().only("pk", "slug", "language"), slug=slug
    )
    key, new_cookie = visitor_key(request)
    portal.suggestion_open(
        visitor_key=key, article_id=article.pk, query=request.GET.get("q", "")[:200]
    )
    response = redirect(article.get_absolute_url())
    remember_visitor(response, new_cookie)
    return response


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    customer = _customer(request)
    ticket = selectors.customer_ticket(customer, reference)
    if ticket is None:
        target = selectors.customer_merged_ticket(customer, reference)
        if target is None:
            raise Http404
        return redirect(target)
    return _conversation(request, ticket, guest_key="")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def request_guest(request: HttpRequest, reference: str, key: str) -> HttpResponse:
    ticket = selectors.guest_ticket(reference, key)
    if ticket is None:
        raise Http404
    if ticket.merged_into_id:
        target = selectors.merged_target(ticket)
        if target is None:
            raise Http404
        return redirect(target.get_guest_url())
    return _conversation(request, ticket, guest_key=key)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def request_claim(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed to the address a guest gave, when it is a registered customer's: the
    owner, signed in, adds the request to their account. GET only shows the button (mail
    scanners follow links); the POST claims."""
    claim = selectors.claim_for_token(token)
    if claim is None:
        return render(request, "tickets/claim.html", {"claim": None}, status=404)
    if services.normalize_email(request.user.email) != claim.email:
        # Nothing of the request is shown: this account is not the address's.
        return render(request, "tickets/claim.html", {"claim": claim, "yours": False}, status=403)
    if request.method == "POST":
        try:
            ticket = portal.request_claim(ticket=claim.ticket, email=claim.email, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(request.path)
        messages.success(
            request,
            _("%(ref)s is now in your requests.") % {"ref": ticket.reference},
        )
        return redirect(ticket.get_absolute_url())
    return render(
        request, "tickets/claim.html", {"claim": claim, "yours": True, "ticket": claim.ticket}
    )


def _conversation(request: HttpRequest, ticket: Ticket, *, guest_key: str) -> HttpResponse:
    """The thread, the reply form and the solve/reopen buttons, for its owner or a guest."""
    here = ticket.get_guest_url() if guest_key else ticket.get_absolute_url()
    crumbs = [{"name": ticket.reference}]
    if not guest_key:
        crumbs.insert(0, {"name": _("My requests"), "url": reverse("tickets:list")})
    form = ReplyForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "reply")
        if action in ("solve", "reopen"):
            change = portal.request_mark_solved if action == "solve" else portal.request_reopen
            try:
                change(ticket=ticket, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("Marked as solved. Thank you!")
                    if action == "solve"
                    else _("Reopened. Tell us what is still wrong below."),
                )
            return redirect(here)
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                # A second post of this form (same nonce) gets the message the first one stored.
                message = services.message_post(
                    ticket=ticket, author_kind=AuthorKind.CUSTOMER, body=form.cleaned_data["body"],
                    author=request.user if request.user.is_authenticated else None,
                    attachments=form.cleaned_data["attachments"],
                    client_id=form.submission_key(),
                )  # fmt: skip
            except ValidationError as exc:
                add_service_errors(form, exc)
            except DatabaseError as exc:
                status = _busy(form, exc)
            else:
                if message.ticket_id != ticket.pk:  # closed: the reply opened a follow-up
                    follow_up = message.ticket
                    messages.success(
                        request,
                        _("This request was closed, so your reply opened a new one: %(ref)s.")
                        % {"ref": follow_up.reference},
                    )
                    return redirect(
                        follow_up.get_guest_url() if guest_key else follow_up.get_absolute_url()
                    )
                messages.success(request, _("Your reply was sent."))
                return redirect(f"{here}#message-{message.pk}")
    if guest_key:
        thread, replies_hidden = selectors.guest_thread(ticket)
    else:
        thread, replies_hidden = selectors.thread(ticket, include_internal=False), False
    return _with_retry_after(
        render(
            request,
            "tickets/detail.html",
            {
                "ticket": ticket,
                "thread": thread,
                "replies_hidden": replies_hidden,
                "form": form,
                "guest_key": guest_key,
                "here": here,
                "crumbs": crumbs,
                "can_solve": portal.can_solve(ticket),
                "can_reopen": portal.can_reopen(ticket),
            },
            status=status,
        )
    )


@require_safe
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = selectors.attachment_for_download(
        pk=pk, user=request.user, key=request.GET.get("key", "")
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (OSError, ValueError):  # the file is gone from storage
        raise Http404 from None
    response = FileResponse(handle, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition(
        attachment.original_name, attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
