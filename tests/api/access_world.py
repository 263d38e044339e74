"""The world of the access matrix (tests/api/test_access_matrix.py): one project with one of
everything the API serves, built through the services as the app builds it."""

from types import SimpleNamespace

from django.core.files.base import ContentFile

from crowd.accounts.models import Role
from crowd.pay import payouts, review
from crowd.qualifications import services as qualification_services
from tests import factories
from tests.golden.golden_factories import boxes, make_consensus, make_golden
from tests.pay.review_support import claim, paid_project, submitted
from workflows.golden.models import ExportJob, ExportStatus
from workflows.golden.versions import golden_version_freeze
from workflows.pipeline.leases import block_create
from workflows.projects.models import ItemState
from workflows.webhooks import services as webhook_services


def access_world_build() -> SimpleNamespace:
    """Alice's active, funded project (reviewed by Rita, audited by Aldo) with one thing of each
    kind the API serves, and the seven personas with their tokens."""
    w = SimpleNamespace()
    make = factories.make_user
    w.worker, w.bystander, w.newcomer = make("wendy"), make("walt"), make("nina")
    w.owner, w.other_manager = make("alice", role=Role.MANAGER), make("bob", role=Role.MANAGER)
    w.reviewer, w.auditor = make("rita", role=Role.REVIEWER), make("aldo", role=Role.AUDITOR)
    w.operator = make("olga", role=Role.MANAGER, is_staff=True, is_superuser=True)
    w.other_schema = factories.make_schema(owner=w.other_manager)
    w.operator_schema = factories.make_schema(owner=w.operator)

    w.project = paid_project(
        w.owner, reward=10, budget=1000, items=6, reviewers=[w.reviewer], auditors=[w.auditor]
    )
    w.schema, w.dataset = w.project.label_schema, w.project.datasets.get()

    # Wendy's work: paid (and paid out), submitted, rejected, rejected and appealed, leased.
    paid, payable, w.submitted, w.rejected, appealed = (
        submitted(w.worker, w.project) for _ in range(5)
    )
    review.assignment_approve(ids=[paid.pk], actor=w.owner)
    w.batch = payouts.payout_batch_close(currency="USD", actor=w.operator)
    review.assignment_approve(ids=[payable.pk], actor=w.owner)
    review.assignment_reject(ids=[w.rejected.pk, appealed.pk], actor=w.owner, reason="loose")
    w.appeal = review.appeal_create(
        worker=w.worker, assignment_id=appealed.pk, message="they were tight"
    )
    w.lease = claim(w.worker, w.project)
    w.annotation = w.submitted.annotation
    w.unworked = factories.make_item(project=w.project, dataset=w.dataset)

    # Qualifications: Alice's type, held by Wendy and required by the project.
    w.qualification_type = qualification_services.qualification_type_create(
        owner=w.owner, name="skill"
    )
    w.other_type = qualification_services.qualification_type_create(owner=w.owner, name="other")
    w.grant = qualification_services.qualification_grant(
        qualification_type=w.qualification_type, worker=w.worker, value=3, actor=w.owner
    )
    w.event = w.grant.events.get()
    w.requirement = qualification_services.requirement_create(
        project=w.project, qualification_type=w.qualification_type, comparator="exists"
    )

    # Golden data: a promoted label, a frozen version, one label promoted since, an export.
    category = w.schema.categories.first().pk
    promoted, later = (factories.make_item(project=w.project) for _ in range(2))
    w.consensus, _ = make_consensus(
        item=promoted, payload=boxes((category, 1, 1, 9, 9)), workers=[w.bystander]
    )
    w.golden = make_golden(
        item=promoted, payload=boxes((category, 1, 1, 9, 9)), consensus_result=w.consensus
    )
    w.version = golden_version_freeze(project=w.project, actor=w.owner)
    make_golden(item=later, payload=boxes((category, 2, 2, 8, 8)), reviewer=w.reviewer)
    w.export = ExportJob.objects.create(
        project=w.project,
        version=w.version,
        format="coco",
        status=ExportStatus.DONE,
        progress=1.0,
        file=ContentFile(b"PK\x05\x06" + bytes(18), name="v1-coco.zip"),
        created_by=w.owner,
    )
    w.escalated = factories.make_item(project=w.project)
    w.escalated.state = ItemState.ESCALATED
    w.escalated.save(update_fields=["state"])
    w.coco = {
        "images": [{"id": 1, "file_name": w.unworked.original_name, "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
    }

    w.block = block_create(worker=w.bystander, project=w.project, reason="spam", actor=w.owner)
    w.webhook = webhook_services.webhook_endpoint_create(
        project=w.project, url="http://127.0.0.1:9/hooks", created_by=w.owner
    )
    webhook_services.webhook_ping(endpoint=w.webhook)
    w.personas = {
        "anonymous": None,
        "worker": w.worker,
        "owner": w.owner,
        "other_manager": w.other_manager,
        "reviewer": w.reviewer,
        "auditor": w.auditor,
        "operator": w.operator,
    }
    w.tokens = {p: factories.token_for(u) for p, u in w.personas.items() if u is not None}
    return w
