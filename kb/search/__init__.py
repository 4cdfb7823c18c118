"""Knowledge-base search. ``from kb.search import search``."""

from kb.search.engine import CONFIDENT, WEAK, SearchHit, SearchResult, search

__all__ = ["CONFIDENT", "WEAK", "SearchHit", "SearchResult", "search"]
