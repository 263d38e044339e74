from django.apps import AppConfig


class AssignmentConfig(AppConfig):
    name = "crowd.assignment"
    label = "assignment"
