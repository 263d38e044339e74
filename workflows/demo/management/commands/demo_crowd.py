"""manage.py demo_crowd: run the demo's simulated crowd, review, freeze and export."""

from django.core.management.base import BaseCommand

from workflows.demo.loop import demo_pipeline_run
from workflows.demo.seed import demo_seed
from workflows.projects.models import Project


class Command(BaseCommand):
    help = "Let a simulated crowd label the demo project, then freeze and export a version."

    def handle(self, *args, **options):
        demo = demo_seed()
        project = Project.objects.get(pk=demo.project_id)
        demo_pipeline_run(project=project, ground_truth=demo.ground_truth, stdout=self.stdout)
