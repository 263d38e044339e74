import logging

from django.apps import AppConfig
from django.db import DatabaseError, connections
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


def _claim_functions_refresh(sender, using, **kwargs) -> None:
    """A migration may change a column the claim functions return: re-create them. A
    schema the statement does not fit (migrated back, or part way) is left without them; the
    first claim on the full schema creates them."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    from .claim_sql import claim_functions_install  # the app registry is not ready at import

    try:
        claim_functions_install(connection, replace=True)
    except DatabaseError as exc:
        logger.warning("claim functions not re-created after migrate: %s", exc)


class PipelineConfig(AppConfig):
    name = "workflows.pipeline"
    label = "pipeline"

    def ready(self) -> None:
        # post_migrate is sent once per app with models, after the whole migration; this app
        # has none, so it listens for the app whose rows the claim inserts.
        post_migrate.connect(
            _claim_functions_refresh, sender=self.apps.get_app_config("assignment")
        )
