"""Staff roles as Django groups. A data migration creates them; apps that add models extend
ROLE_PERMISSIONS and call ensure_roles() from a migration of their own."""

MANAGERS = "Managers"
AGENTS = "Agents"

# app label -> model -> actions, per role.
ROLE_PERMISSIONS = {
    MANAGERS: {
        "tickets": dict.fromkeys(
            (
                "ticket",
                "message",
                "attachment",
                "customer",
                "tier",
                "team",
                "skill",
                "agentprofile",
                "calendar",
                "businesshours",
                "holiday",
                "slapolicy",
                "cannedreply",
                "lexiconentry",
                "urgencyrule",
                "empatheticopening",
            ),
            ("view", "add", "change", "delete"),
        )
        | {"event": ("view",), "notification": ("view",), "suggestionview": ("view",)},
        "kb": {
            "category": ("view", "add", "change", "delete"),
            "tag": ("view", "add", "change", "delete"),
            "article": ("view", "add", "change", "delete"),
            "articlequestion": ("view", "add", "change", "delete"),
            "revision": ("view",),
            "articlefeedback": ("view", "delete"),
            "searchgap": ("view", "change", "delete"),
        },
    },
    AGENTS: {
        "tickets": {
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
        "kb": {
            "category": ("view",),
            "tag": ("view",),
            "article": ("view",),
            "articlequestion": ("view",),
            "revision": ("view",),
        },
    },
}


def ensure_roles(apps, schema_editor=None) -> None:
    """Create the groups and grant exactly the permissions listed (idempotent)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are normally created after migrate; make sure they exist now.
    for app_config in apps.get_app_configs():
        if apps is global_apps:
            create_permissions(app_config, verbosity=0)
        else:  # a migration's historical registry: its app configs have no models module
            app_config.models_module = True
            create_permissions(app_config, verbosity=0, apps=apps)
            app_config.models_module = None
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [
            (app_label, f"{action}_{model}")
            for app_label, models in grants.items()
            for model, actions in models.items()
            for action in actions
        ]
        # An app migrated later grants its permissions from a migration of its own; skip
        # what does not exist yet.
        permissions = [
            permission
            for app_label, codename in codenames
            for permission in Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        ]
        group.permissions.add(*permissions)
