from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "workflows.demo"
    label = "demo"
