"""gunicorn config for the claims benchmark: the deployed config, without the access log.

``deploy/gunicorn.conf.py`` logs every request to stdout; at thousands of requests a second
that is a formatted line and a write per request in the measured path, and noise in the
terminal. Everything else (threads, GUNICORN_WORKERS, preload, max_requests) stays as deployed.
"""

from pathlib import Path

_deployed = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
exec(compile(_deployed.read_text(), str(_deployed), "exec"))  # noqa: S102 - our own config file

accesslog = None
