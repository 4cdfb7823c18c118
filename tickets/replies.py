"""Canned replies: placeholders filled for one ticket and agent."""

import re

from django.conf import settings

from kb.models import Article
from tickets.models import CannedReply, Ticket

_ARTICLE = re.compile(r"\{article:([-a-z0-9_]+)\}")


def render_canned_reply(reply: CannedReply, *, ticket: Ticket, agent) -> str:
    """The reply's text for this ticket: {customer_name}, {ticket_reference}, {agent_name} and
    {article:<slug>} (the article's title and link). Unknown placeholders stay as typed, and the
    result is plain text, escaped wherever it is shown."""
    values = {
        "{customer_name}": ticket.customer.display_name,
        "{ticket_reference}": ticket.reference,
        "{agent_name}": (agent.get_full_name() or agent.get_username()) if agent else "",
    }
    text = reply.body
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    slugs = set(_ARTICLE.findall(text))
    articles = {a.slug: a for a in Article.objects.published().filter(slug__in=slugs)}

    def link(match: re.Match) -> str:
        article = articles.get(match.group(1))
        if article is None:
            return match.group(0)
        return f"{article.title} ({settings.SITE_URL}{article.get_absolute_url()})"

    return _ARTICLE.sub(link, text)
