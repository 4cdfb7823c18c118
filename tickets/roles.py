"""What the staff roles may do with tickets (granted by tickets/migrations/0003_roles.py)."""

from core.roles import AGENTS, MANAGERS

_MANAGED = (
    "ticket", "message", "attachment", "customer", "tier", "team", "skill", "agentprofile",
    "calendar", "businesshours", "holiday", "slapolicy", "cannedreply", "lexiconentry",
    "urgencyrule", "empatheticopening",
)  # fmt: skip

PERMISSIONS = {
    MANAGERS: dict.fromkeys(_MANAGED, ("view", "add", "change", "delete"))
    | {"event": ("view",), "notification": ("view",), "suggestionview": ("view",)},
    AGENTS: {
        "ticket": ("view", "change"),
        "message": ("view", "add"),
        "attachment": ("view", "add"),
        "event": ("view",),
        "customer": ("view", "change"),
        "cannedreply": ("view",),
        "team": ("view",),
        "skill": ("view",),
        "agentprofile": ("view",),
        "tier": ("view",),
        "slapolicy": ("view",),
    },
}
