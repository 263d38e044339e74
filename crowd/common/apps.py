from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "crowd.common"
    label = "common"
