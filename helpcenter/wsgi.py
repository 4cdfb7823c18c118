"""WSGI entry point, for serving the HTTP pages from WSGI workers (see docs/deployment.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpcenter.settings")
application = get_wsgi_application()
