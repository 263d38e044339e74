from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "crowd.labeling"
    label = "labeling"
