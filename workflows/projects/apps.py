from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "workflows.projects"
    label = "projects"
