from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "crowd.accounts"
    label = "accounts"
