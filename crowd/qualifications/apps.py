from django.apps import AppConfig


class QualificationsConfig(AppConfig):
    name = "crowd.qualifications"
    label = "qualifications"
