from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "workflows.webhooks"
    label = "webhooks"
