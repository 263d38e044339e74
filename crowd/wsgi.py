"""WSGI entry point (gunicorn crowd.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crowd.settings")
application = get_wsgi_application()
