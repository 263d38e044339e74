"""Every invariant the database holds, proven at the database: the ORM write must fail there.

Each case bypasses services and validation (``save()`` / ``update()`` straight to SQL) to show
the constraint itself refuses the row, and that nothing was written.
"""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crowd.accounts.models import User
from crowd.assignment.models import Assignment, Block
from crowd.labeling.models import Annotation
from crowd.pay.models import LedgerAccount, LedgerEntry
from crowd.qualifications.models import QualificationGrant, QualificationRequirement
from tests import factories
from workflows.golden.models import ConsensusResult, GoldenAnnotation
from workflows.projects.models import Category, Item, Project

pytestmark = pytest.mark.django_db


def refused(model, action):
    """Assert ``action`` fails at the database and leaves the table's row count unchanged."""
    before = model.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        action()
    assert model.objects.count() == before


@pytest.fixture
def item(project):
    return factories.make_item(project=project)


def test_duplicate_assignment_for_same_worker_and_item_fails_at_database(item, wendy):
    first = factories.make_assignment(item=item, worker=wendy, status="expired")
    refused(Assignment, lambda: factories.make_assignment(item=item, worker=wendy))
    assert Assignment.objects.get() == first


def test_second_live_lease_on_same_project_fails(project, wendy):
    a, b = factories.make_item(project=project), factories.make_item(project=project)
    factories.make_assignment(item=a, worker=wendy)
    refused(Assignment, lambda: factories.make_assignment(item=b, worker=wendy))


def test_lease_must_end_after_it_starts(item, wendy):
    now = timezone.now()
    refused(
        Assignment,
        lambda: factories.make_assignment(
            item=item, worker=wendy, leased_at=now, lease_expires_at=now
        ),
    )


def test_submitted_assignment_needs_submit_time(item, wendy):
    refused(
        Assignment,
        lambda: factories.make_assignment(
            item=item, worker=wendy, status="submitted", submitted_at=None
        ),
    )


def test_rejection_needs_a_reason(item, wendy):
    refused(
        Assignment, lambda: factories.make_assignment(item=item, worker=wendy, status="rejected")
    )


def test_unknown_assignment_status_fails(item, wendy):
    refused(Assignment, lambda: factories.make_assignment(item=item, worker=wendy, status="lost"))


def test_item_slots_never_exceed_labels_wanted(item):
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(
            slots_taken=F("labels_wanted") + 1, slots_funded=F("labels_wanted") + 1
        )
    item.refresh_from_db()
    assert item.slots_taken == 0


def test_only_funded_slots_are_taken(item):
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(slots_taken=1)
    item.refresh_from_db()
    assert (item.slots_taken, item.slots_funded) == (0, 0)


def test_gold_item_needs_answer_and_plain_item_has_none(item):
    for changes in ({"is_gold": True}, {"gold_answer": {"regions": []}}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Item.objects.filter(pk=item.pk).update(**changes)
    item.refresh_from_db()
    assert not item.is_gold and item.gold_answer is None


def test_same_image_twice_in_a_dataset_fails(item):
    clone = Item(
        project=item.project,
        dataset=item.dataset,
        image=item.image.name,
        width=item.width,
        height=item.height,
        content_hash=item.content_hash,
    )
    refused(Item, clone.save)


def test_content_hash_must_be_sha256_hex(item):
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(content_hash="not-a-hash")


@pytest.mark.parametrize(
    "changes",
    [
        {"min_redundancy": 0},
        {"min_redundancy": 4, "max_redundancy": 3},
        {"max_redundancy": 51},
        {"currency": "usd"},
        {"lease_seconds": 5},
        {"accept_agreement": 1.5},
        {"iou_threshold": 0},
        {"quorum": 0},
        {"gold_rate": 1.0},
        {"status": "deleted"},
    ],
)
def test_project_settings_out_of_range_fail(project, changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(**changes)


def test_user_role_must_be_known(wendy):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=wendy.pk).update(role="admin")


def test_category_name_unique_in_schema_and_colour_is_hex(project):
    schema = project.label_schema
    refused(Category, lambda: Category.objects.create(schema=schema, name="cat"))
    refused(Category, lambda: Category.objects.create(schema=schema, name="x", color="red"))


def test_one_annotation_per_assignment(item, wendy):
    assignment = factories.make_assignment(item=item, worker=wendy, status="submitted")
    factories.make_annotation(assignment=assignment)
    refused(Annotation, lambda: factories.make_annotation(assignment=assignment))


def test_crowd_annotation_needs_an_assignment_and_model_one_a_name(item):
    refused(Annotation, lambda: Annotation.objects.create(item=item, kind="bbox", payload={}))
    refused(
        Annotation,
        lambda: Annotation.objects.create(item=item, kind="bbox", payload={}, source="model"),
    )


def test_one_current_golden_annotation_per_item_with_provenance(item, rita):
    now = timezone.now()
    GoldenAnnotation.objects.create(
        project=item.project, item=item, payload={}, reviewed_by=rita, promoted_at=now
    )
    refused(
        GoldenAnnotation,
        lambda: GoldenAnnotation.objects.create(
            project=item.project, item=item, payload={}, reviewed_by=rita, promoted_at=now
        ),
    )
    GoldenAnnotation.objects.update(superseded_at=now)
    refused(
        GoldenAnnotation,
        lambda: GoldenAnnotation.objects.create(
            project=item.project, item=item, payload={}, promoted_at=now
        ),
    )


def test_consensus_result_unique_per_round_and_per_inputs(item):
    def result(round_, digest):
        return ConsensusResult.objects.create(
            item=item, round=round_, method="m", package_version="1", inputs_digest=digest,
            result={}, agreement=0.5, decision="promote",
        )  # fmt: skip

    result(1, "a")
    refused(ConsensusResult, lambda: result(1, "b"))
    refused(ConsensusResult, lambda: result(2, "a"))
    refused(ConsensusResult, lambda: result(3, "c").__class__.objects.filter(round=3).update(
        agreement=1.5))  # fmt: skip


def test_ledger_idempotency_key_is_unique_and_amounts_positive(project, wendy):
    budget = LedgerAccount.objects.create(kind="project_budget", currency="USD", project=project)
    payable = LedgerAccount.objects.create(kind="worker_payable", currency="USD", worker=wendy)

    def entry(key, amount=5, debit=payable, credit=budget):
        return LedgerEntry.objects.create(
            idempotency_key=key, kind="reward", debit=debit, credit=credit, amount_minor=amount
        )

    entry("reward:1")
    refused(LedgerEntry, lambda: entry("reward:1"))
    refused(LedgerEntry, lambda: entry("reward:2", amount=0))
    refused(LedgerEntry, lambda: entry("reward:3", amount=-5))
    refused(LedgerEntry, lambda: entry("reward:4", debit=budget, credit=budget))


def test_ledger_accounts_match_their_owner_and_are_unique(project, wendy):
    LedgerAccount.objects.create(kind="project_budget", currency="USD", project=project)
    LedgerAccount.objects.create(kind="funding", currency="USD")
    cases = [
        {"kind": "project_budget", "currency": "USD", "project": project},
        {"kind": "funding", "currency": "USD"},
        {"kind": "worker_payable", "currency": "USD", "project": project},
        {"kind": "project_budget", "currency": "USD", "worker": wendy},
        {"kind": "funding", "currency": "usd"},
    ]
    for fields in cases:
        refused(LedgerAccount, lambda fields=fields: LedgerAccount.objects.create(**fields))


def test_requirement_operands_must_match_comparator(project):
    from crowd.qualifications.services import qualification_type_create

    qtype = qualification_type_create(owner=project.owner, name="skill")
    cases = [
        {"comparator": "gte"},
        {"comparator": "in", "value": 3},
        {"comparator": "exists", "value": 1},
        {"comparator": "in", "value": None, "values": None},
    ]
    for fields in cases:
        refused(
            QualificationRequirement,
            lambda fields=fields: QualificationRequirement.objects.create(
                project=project, qualification_type=qtype, **fields
            ),
        )
    QualificationRequirement.objects.create(
        project=project, qualification_type=qtype, comparator="gte", value=1
    )
    refused(
        QualificationRequirement,
        lambda: QualificationRequirement.objects.create(
            project=project, qualification_type=qtype, comparator="exists"
        ),
    )


def test_one_grant_per_worker_and_type_expiring_after_grant(project, wendy):
    from crowd.qualifications.services import qualification_type_create

    qtype = qualification_type_create(owner=project.owner, name="skill")
    now = timezone.now()
    QualificationGrant.objects.create(
        qualification_type=qtype, worker=wendy, value=1, granted_at=now
    )
    refused(
        QualificationGrant,
        lambda: QualificationGrant.objects.create(
            qualification_type=qtype, worker=wendy, value=2, granted_at=now
        ),
    )
    other = factories.make_user()
    refused(
        QualificationGrant,
        lambda: QualificationGrant.objects.create(
            qualification_type=qtype, worker=other, value=2, granted_at=now, expires_at=now
        ),
    )


def test_one_active_block_per_scope(project, wendy, alice):
    Block.objects.create(worker=wendy, project=project, reason="spam", created_by=alice)
    Block.objects.create(worker=wendy, reason="fraud", created_by=alice)
    refused(
        Block,
        lambda: Block.objects.create(worker=wendy, project=project, reason="x", created_by=alice),
    )
    refused(Block, lambda: Block.objects.create(worker=wendy, reason="again", created_by=alice))
    refused(Block, lambda: Block.objects.create(worker=wendy, reason="", created_by=alice))
    Block.objects.update(lifted_at=timezone.now())
    Block.objects.create(worker=wendy, project=project, reason="again", created_by=alice)
