"""Staff roles as Django groups. Each app declares what its roles may do in its own
``<app>/roles.py`` (``PERMISSIONS = {role: {model: actions}}``) and grants it from a data
migration with ``grant_from_migration``; ``ensure_roles`` grants every app's (after a test
database flush, or from load_demo)."""

from importlib import import_module

MANAGERS = "Managers"
AGENTS = "Agents"
ROLES = (MANAGERS, AGENTS)


def _declared(app_config) -> dict:
    try:
        module = import_module(f"{app_config.name}.roles")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app_config.name}.roles":
            raise
        return {}
    return getattr(module, "PERMISSIONS", {})


def _grant(apps, app_label: str, grants: dict) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are normally created after migrate; make sure this app's exist now.
    app_config = apps.get_app_config(app_label)
    if apps is global_apps:
        create_permissions(app_config, verbosity=0)
    else:  # a migration's historical registry: its app configs have no models module
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    for role, models in grants.items():
        group, _created = Group.objects.get_or_create(name=role)
        codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )


def grant_from_migration(app_label: str):
    """A RunPython function granting the permissions ``app_label`` declares."""

    def grant(apps, schema_editor=None) -> None:
        from django.apps import apps as global_apps

        _grant(apps, app_label, _declared(global_apps.get_app_config(app_label)))

    return grant


def ensure_roles(apps=None) -> None:
    """Create the groups and grant what every installed app declares (idempotent)."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    for app_config in global_apps.get_app_configs():
        if grants := _declared(app_config):
            _grant(apps, app_config.label, grants)
