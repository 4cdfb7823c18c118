"""The chat bot: answers from the knowledge base, never invents.

For each customer message, in this order:
1. asking for a person ("人工", "转人工", "agent", "human"...) or an urgent / upset message (the
   ticket lexicon reaches an urgency rule, or a strong negative term) → hand over at once;
2. otherwise ``kb.answers.decide`` (the one place where the answer / clarify / hand-off
   thresholds live, calibrated per knowledge base) → answer with the article's summary and a
   link, or "Did you mean…?" with up to three options, or say so honestly, offer a person and
   record the question as a content gap.
"""

import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from tickets import detection
from tickets.models import Ticket

HANDOFF_PHRASES_EN = (
    "agent", "human", "real person", "a person", "representative", "operator", "live agent",
    "talk to someone", "speak to someone", "customer service", "customer support", "staff",
)  # fmt: skip
HANDOFF_PHRASES_ZH = ("人工", "转人工", "人工客服", "真人", "找客服", "客服")
_HANDOFF_EN = re.compile(r"\b(" + "|".join(map(re.escape, HANDOFF_PHRASES_EN)) + r")\b", re.I)
STRONG_NEGATIVE_WEIGHT = 1.5
MAX_OPTIONS = 3


@dataclass
class BotTurn:
    """What the bot does with one customer message."""

    action: str  # "answer" | "clarify" | "handoff" | "decline"
    text: str = ""
    articles: list[dict] = field(default_factory=list)
    options: list[dict] = field(default_factory=list)
    reason: str = ""


def wants_a_person(text: str) -> bool:
    return bool(_HANDOFF_EN.search(text or "")) or any(
        p in (text or "") for p in HANDOFF_PHRASES_ZH
    )


def sounds_urgent(text: str, *, language: str) -> bool:
    found = detection.detect(text, language=language)
    strong_negative = any(
        m.kind == "negative" and m.weight >= STRONG_NEGATIVE_WEIGHT for m in found.matches
    )
    return found.priority is not None or strong_negative


def _decide(text: str, *, language: str):
    from kb.answers import decide

    return decide(text, language=language)


def _article_card(hit) -> dict:
    return {"slug": hit.slug, "title": hit.title, "url": hit.url}


def reply(ticket: Ticket, text: str) -> BotTurn:
    """Decide the bot's turn for ``text`` in ``ticket``'s language (no database writes)."""
    language = ticket.language
    with translation.override(language):
        if wants_a_person(text):
            return BotTurn("handoff", reason="asked")
        if sounds_urgent(text, language=language):
            return BotTurn("handoff", reason="urgent")
        decision = _decide(text, language=language)
        hits = list(decision.hits)
        if decision.kind == "answer" and hits:
            best = hits[0]
            summary = getattr(best, "summary", "") or best.title
            return BotTurn(
                "answer",
                text=summary,
                articles=[_article_card(best)],
                options=[{"type": "handoff", "label": _("Talk to a person")}],
            )
        if decision.kind == "clarify" and hits:
            cards = [_article_card(hit) for hit in hits[:MAX_OPTIONS]]
            options = [{"type": "article", "slug": c["slug"], "label": c["title"]} for c in cards]
            options.append({"type": "handoff", "label": _("None of these: talk to a person")})
            return BotTurn("clarify", text=_("Did you mean one of these?"), options=options)
        return BotTurn(
            "decline",
            text=_(
                "I'm sorry, I couldn't find an answer to that in our help center. "
                "Would you like to talk to a person?"
            ),
            options=[{"type": "handoff", "label": _("Talk to a person")}],
            reason="no_answer",
        )


def article_turn(ticket: Ticket, article) -> BotTurn:
    """The customer picked an article among the options."""
    with translation.override(ticket.language):
        return BotTurn(
            "answer",
            text=article.summary or article.title,
            articles=[
                {"slug": article.slug, "title": article.title, "url": article.get_absolute_url()}
            ],
            options=[{"type": "handoff", "label": _("Talk to a person")}],
        )


def greeting(language: str) -> str:
    with translation.override(language):
        return _("Hi! I'm the virtual assistant. Ask me anything, or ask for a person at any time.")
