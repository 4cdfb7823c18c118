"""What the staff roles may do in the knowledge base (granted by kb/migrations/0005_roles.py)."""

from core.roles import AGENTS, MANAGERS

PERMISSIONS = {
    MANAGERS: {
        "category": ("view", "add", "change", "delete"),
        "tag": ("view", "add", "change", "delete"),
        "article": ("view", "add", "change", "delete"),
        "articlequestion": ("view", "add", "change", "delete"),
        "revision": ("view",),
        "articlefeedback": ("view", "delete"),
        "searchgap": ("view", "change", "delete"),
    },
    AGENTS: {
        "category": ("view",),
        "tag": ("view",),
        "article": ("view",),
        "articlequestion": ("view",),
        "revision": ("view",),
    },
}
