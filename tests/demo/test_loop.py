"""The demo's loop: a simulated crowd, a reviewer, a frozen version and an export."""

import pytest

from workflows.demo.loop import demo_pipeline_run
from workflows.demo.seed import demo_seed
from workflows.golden.models import ExportJob, GoldenDatasetVersion
from workflows.projects.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_loop_promotes_freezes_and_exports_once(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    demo = demo_seed(images=12, seed=3)
    project = Project.objects.get(pk=demo.project_id)
    loop = demo_pipeline_run(project=project, ground_truth=demo.ground_truth, seed=3)
    regular = project.items.filter(is_gold=False).count()
    assert loop.promoted == regular  # every regular item ended in the golden set
    assert loop.version == 1 and loop.export_status == "done"
    assert project.items.filter(is_gold=False).exclude(state="promoted").count() == 0
    again = demo_pipeline_run(project=project, ground_truth=demo.ground_truth, seed=3)
    assert again.version == 1 and again.labels == loop.labels
    assert GoldenDatasetVersion.objects.count() == 1 and ExportJob.objects.count() == 1
