from django.apps import AppConfig


class GoldenConfig(AppConfig):
    name = "workflows.golden"
    label = "golden"
