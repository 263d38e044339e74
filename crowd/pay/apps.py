from django.apps import AppConfig


class PayConfig(AppConfig):
    name = "crowd.pay"
    label = "pay"
