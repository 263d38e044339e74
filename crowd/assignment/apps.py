from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _claim_functions_refresh(sender, using, **kwargs) -> None:
    """A migration may change a column the claim functions return: re-create them."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        from .claim_sql import claim_functions_install

        claim_functions_install(connection, replace=True)


class AssignmentConfig(AppConfig):
    name = "crowd.assignment"
    label = "assignment"

    def ready(self) -> None:
        post_migrate.connect(_claim_functions_refresh, sender=self)
