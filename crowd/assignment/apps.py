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
    from .claim_sql import claim_functions_install

    try:
        claim_functions_install(connection, replace=True)
    except DatabaseError as exc:
        logger.warning("claim functions not re-created after migrate: %s", exc)


class AssignmentConfig(AppConfig):
    name = "crowd.assignment"
    label = "assignment"

    def ready(self) -> None:
        post_migrate.connect(_claim_functions_refresh, sender=self)
