from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class HelpCenterConfig(AppConfig):
    name = "helpcenter"
    verbose_name = "HelpCenter"
    default = True


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with our admin site (helpcenter/admin_site.py) as ``admin.site``."""

    default = False  # named in INSTALLED_APPS; not the helpcenter app's own config
    default_site = "helpcenter.admin_site.AdminSite"
