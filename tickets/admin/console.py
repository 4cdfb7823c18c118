"""The live-chat agent console: one admin page (waiting chats, my chats, the open conversation)
driven by the agent socket /ws/agent/ (docs/chat-protocol.md), plus a small JSON endpoint that
fills a canned reply's placeholders for a chat.

The page is not a ModelAdmin: it is added to the default admin site's URLs and, for the people
who may chat, to the Tickets entry of the app list (index, app page and navigation sidebar).
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tickets import selectors
from tickets.chat.services import can_chat
from tickets.models import AgentStatus, Channel, Team, Ticket
from tickets.replies import render_canned_reply

SOCKET_PATH = "/ws/agent/"
URL_NAME = "tickets_chat_console"
CANNED_URL_NAME = "tickets_chat_console_canned"


def _language(code: str | None) -> str:
    """A request language (zh-hans, zh-cn, en-us...) as a content language (en, zh-hans)."""
    code = (code or settings.LANGUAGE_CODE).lower()
    return "zh-hans" if code.startswith("zh") else "en"


def console_strings() -> dict[str, str]:
    """Every text the page's script shows, in the agent's language."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Connection lost. Reconnecting in %(seconds)s s…"),
        "signedOut": _("Your session ended. Sign in again to use the console."),
        "signIn": _("Sign in"),
        "noWaiting": _("No chats are waiting."),
        "noMine": _("You have no active chats."),
        "capacity": _("%(count)s of %(capacity)s chats"),
        "atCapacity": _("You are at your chat limit: end a chat before accepting another."),
        "accept": _("Accept"),
        "open": _("View"),
        "vip": _("VIP"),
        "waited": _("Waiting %(time)s"),
        "team": _("Team: %(team)s"),
        "noTeam": _("No team"),
        "taken": _("Another agent has already accepted this chat."),
        "unavailable": _("The help center is busy. Your messages are kept and sent again shortly."),
        "accepted": _("You accepted the chat with %(name)s."),
        "transferred": _("The chat was transferred."),
        "ended": _("The chat has ended."),
        "newWaiting": _("New chat waiting: %(name)s"),
        "newMessage": _("New message from %(name)s"),
        "typing": _("%(name)s is typing…"),
        "customer": _("Customer"),
        "bot": _("Bot"),
        "system": _("System"),
        "agent": _("Agent"),
        "internal": _("Internal note"),
        "publicReply": _("Public reply"),
        "sending": _("Sending…"),
        "phaseBot": _("With the bot"),
        "phaseQueued": _("Waiting for an agent"),
        "phaseAgent": _("With an agent"),
        "phaseEnded": _("Ended"),
        "acceptToReply": _("Accept this chat to reply."),
        "chatEnded": _("This chat has ended."),
        "notYours": _("This chat is with another agent: you can add internal notes."),
        "withBot": _("The bot is answering this chat: you can add internal notes."),
        "cannedInserted": _("Canned reply inserted."),
        "cannedFailed": _("Could not load the canned reply."),
        "cannedUnknown": _("No canned reply with that shortcut."),
        "linkInserted": _("Article link inserted."),
        "searchFailed": _("The search failed."),
        "noArticles": _("No articles found."),
        "insertLink": _("Insert link"),
        "endConfirm": _("End this chat?"),
        "error": _("Error: %(message)s"),
        "unread": _("%(count)s new"),
        "openTicket": _("Open the ticket"),
        "name": _("Name"),
        "email": _("Email"),
        "tier": _("Tier"),
        "segment": _("Segment"),
        "language": _("Language"),
        "organization": _("Organization"),
        "notes": _("Notes"),
        "noPrevious": _("No previous tickets."),
        "noDetected": _("Nothing detected."),
    }


def transfer_targets(user) -> tuple[list[dict], list[dict]]:
    """Other active agents who may take chats, and the teams."""
    User = get_user_model()
    may_change = (
        Q(is_superuser=True)
        | Q(
            groups__permissions__codename="change_ticket",
            groups__permissions__content_type__app_label="tickets",
        )
        | Q(
            user_permissions__codename="change_ticket",
            user_permissions__content_type__app_label="tickets",
        )
    )
    people = (
        User.objects.filter(may_change, is_active=True, is_staff=True)
        .exclude(pk=user.pk)
        .select_related("agent_profile")
        .distinct()
        .order_by("first_name", "username")
    )
    statuses = dict(AgentStatus.choices)
    agents = []
    for person in people[:500]:
        profile = getattr(person, "agent_profile", None)
        status = profile.status if profile else ""
        agents.append(
            {
                "id": person.pk,
                "name": person.get_full_name() or person.get_username(),
                "status": status,
                "status_label": str(statuses.get(status, "")),
            }
        )
    teams = [{"slug": t.slug, "name": t.name} for t in Team.objects.order_by("position", "name")]
    return agents, teams


def canned_choices(language: str) -> list[dict]:
    """Active canned replies, the agent's language first (the page offers the conversation's
    language first once one is open). Only titles: the text is filled in by the server."""
    replies = list(selectors.canned_replies())
    replies.sort(key=lambda r: (r.language != language, r.language, r.title.lower()))
    return [
        {"id": r.pk, "title": r.title, "shortcut": r.shortcut, "language": r.language}
        for r in replies
    ]


def _require_chat_agent(request: HttpRequest) -> None:
    if not can_chat(request.user):
        raise PermissionDenied


def console_view(request: HttpRequest) -> HttpResponse:
    _require_chat_agent(request)
    site = admin.site
    language = _language(translation.get_language())
    agents, teams = transfer_targets(request.user)
    user = request.user
    config = {
        "socketPath": SOCKET_PATH,
        "cannedUrl": reverse(f"admin:{CANNED_URL_NAME}"),
        "searchUrl": reverse("kb-api:search"),
        "ticketListUrl": reverse("admin:tickets_ticket_changelist"),
        "siteUrl": settings.SITE_URL,
        "loginUrl": reverse("admin:login") + "?next=" + request.path,
        "me": {"id": user.pk, "name": user.first_name or user.get_username()},
        "language": language,
        "statusLabels": {value: str(label) for value, label in AgentStatus.choices},
        "canned": canned_choices(language),
        "agents": agents,
        "teams": teams,
        "strings": console_strings(),
    }
    context = {
        **site.each_context(request),
        "title": _("Live chat console"),
        "is_nav_sidebar_enabled": False,  # the console needs the whole width
        "config": config,
        "agent_statuses": [
            (AgentStatus.AVAILABLE, AgentStatus.AVAILABLE.label),
            (AgentStatus.AWAY, AgentStatus.AWAY.label),
        ],
        "canned": config["canned"],
        "agents": agents,
        "teams": teams,
        "language": language,
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/tickets/chat_console.html", context)


@require_GET
def canned_view(request: HttpRequest) -> JsonResponse:
    """A canned reply (``reply`` id or ``shortcut``) filled in for the chat ``ticket`` and this
    agent, as plain text: the page puts it into the message box's value, never into HTML."""
    _require_chat_agent(request)
    ticket_id = request.GET.get("ticket", "")
    if not ticket_id.isdigit() or len(ticket_id) > 18:
        return JsonResponse({"detail": _("Which chat?")}, status=400)
    ticket = get_object_or_404(
        Ticket.objects.select_related("customer"), pk=int(ticket_id), channel=Channel.CHAT
    )
    reply = selectors.canned_reply_for(
        ticket=ticket, pk=request.GET.get("reply"), shortcut=request.GET.get("shortcut", "")
    )
    if reply is None:
        return JsonResponse({"detail": _("No such canned reply.")}, status=404)
    return JsonResponse(
        {
            "id": reply.pk,
            "title": reply.title,
            "text": render_canned_reply(reply, ticket=ticket, agent=request.user),
        }
    )


def console_urls(site: admin.AdminSite) -> list:
    return [
        path("tickets/chat-console/", site.admin_view(console_view), name=URL_NAME),
        path(
            "tickets/chat-console/canned/",
            site.admin_view(canned_view),
            name=CANNED_URL_NAME,
        ),
    ]


CONSOLE_LABEL = gettext_lazy("Live chat console")


def _with_console(app_list: list[dict], request: HttpRequest, site: admin.AdminSite) -> list:
    if not can_chat(request.user):
        return app_list
    try:
        url = reverse(f"{site.name}:{URL_NAME}", current_app=site.name)
    except NoReverseMatch:
        return app_list
    for app in app_list:
        if app["app_label"] == "tickets":
            app["models"].insert(
                0,
                {
                    "name": CONSOLE_LABEL,
                    "object_name": "ChatConsole",
                    "perms": {"add": False, "change": False, "delete": False, "view": True},
                    "admin_url": url,
                    "add_url": None,
                    "view_only": True,
                },
            )
    return app_list


def install(site: admin.AdminSite) -> None:
    """Add the console's URLs to ``site`` and its entry to the site's app list."""
    if getattr(site, "_hc_chat_console", False):
        return
    site._hc_chat_console = True
    site_urls, site_app_list = site.get_urls, site.get_app_list

    def get_urls():
        return console_urls(site) + site_urls()

    def get_app_list(request, app_label=None):
        return _with_console(site_app_list(request, app_label), request, site)

    site.get_urls = get_urls
    site.get_app_list = get_app_list


install(admin.site)
