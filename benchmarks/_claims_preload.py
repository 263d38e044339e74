"""What the benchmark's fork server imports before it forks the client processes.

Django set up and the services imported once, as gunicorn's ``preload_app`` and Celery's
prefork pool do: the clients share those pages instead of each importing its own copy. It
opens no connection and starts no thread (forking would copy them).
"""

import django

django.setup()

import crowd.assignment.services  # noqa: E402,F401
import crowd.labeling.services  # noqa: E402,F401
