"""Routes of /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crowd.accounts.api import MeApi, TokenCreateApi
from crowd.assignment.api import AssignmentClaimNextApi, AssignmentViewSet, BlockViewSet
from crowd.labeling.api import AnnotationViewSet
from crowd.pay.payout_api import (
    BonusGrantApi,
    BonusRuleViewSet,
    MyEarningsApi,
    PayoutBatchViewSet,
    ProjectCostsApi,
)
from crowd.pay.review_api import (
    AppealAnswerApi,
    AssignmentAppealApi,
    AssignmentApproveApi,
    AssignmentRejectApi,
    AssignmentReverseApi,
    ProjectBudgetApi,
)
from crowd.qualifications.api import (
    QualificationEventViewSet,
    QualificationGrantViewSet,
    QualificationRequirementViewSet,
    QualificationTypeViewSet,
)
from workflows.golden.api import (
    ConsensusResultViewSet,
    GoldenAnnotationViewSet,
    ReviewDecideApi,
    ReviewQueueApi,
)
from workflows.golden.versions_api import (
    CocoImportApi,
    ExportJobViewSet,
    GoldenVersionFreezeApi,
    GoldenVersionViewSet,
)
from workflows.projects.api import DatasetViewSet, ItemViewSet, LabelSchemaViewSet, ProjectViewSet
from workflows.webhooks.api import WebhookEndpointViewSet

router = DefaultRouter()
router.register("label-schemas", LabelSchemaViewSet, basename="labelschema")
router.register("projects", ProjectViewSet, basename="project")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("items", ItemViewSet, basename="item")
router.register("qualification-types", QualificationTypeViewSet, basename="qualificationtype")
router.register(
    "qualification-requirements", QualificationRequirementViewSet, basename="requirement"
)
router.register("qualification-grants", QualificationGrantViewSet, basename="qualificationgrant")
router.register("qualification-events", QualificationEventViewSet, basename="qualificationevent")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("annotations", AnnotationViewSet, basename="annotation")
router.register("blocks", BlockViewSet, basename="block")
router.register("golden-annotations", GoldenAnnotationViewSet, basename="goldenannotation")
router.register("consensus-results", ConsensusResultViewSet, basename="consensusresult")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("payout-batches", PayoutBatchViewSet, basename="payoutbatch")
router.register("bonus-rules", BonusRuleViewSet, basename="bonusrule")
router.register("golden-versions", GoldenVersionViewSet, basename="goldenversion")
router.register("exports", ExportJobViewSet, basename="export")

urlpatterns = [
    path("auth/token/", TokenCreateApi.as_view(), name="auth-token"),
    path("me/", MeApi.as_view(), name="me"),
    path("me/earnings/", MyEarningsApi.as_view(), name="me-earnings"),
    path("projects/<int:project_id>/costs/", ProjectCostsApi.as_view(), name="project-costs"),
    path("bonuses/", BonusGrantApi.as_view(), name="bonus-grant"),
    # Before the router, so that "approve" is not read as an assignment id.
    path("assignments/approve/", AssignmentApproveApi.as_view(), name="assignment-approve"),
    path("assignments/reject/", AssignmentRejectApi.as_view(), name="assignment-reject"),
    path(
        "assignments/<int:assignment_id>/reverse/",
        AssignmentReverseApi.as_view(),
        name="assignment-reverse",
    ),
    path(
        "assignments/<int:assignment_id>/appeal/",
        AssignmentAppealApi.as_view(),
        name="assignment-appeal",
    ),
    path("appeals/<int:appeal_id>/answer/", AppealAnswerApi.as_view(), name="appeal-answer"),
    path("projects/<int:project_id>/budget/", ProjectBudgetApi.as_view(), name="project-budget"),
    path(
        "projects/<int:project_id>/assignments/next/",
        AssignmentClaimNextApi.as_view(),
        name="assignment-claim-next",
    ),
    path("projects/<int:project_id>/review-queue/", ReviewQueueApi.as_view(), name="review-queue"),
    path("items/<int:item_id>/review/", ReviewDecideApi.as_view(), name="item-review"),
    path(
        "projects/<int:project_id>/golden-versions/",
        GoldenVersionFreezeApi.as_view(),
        name="golden-version-freeze",
    ),
    path("projects/<int:project_id>/imports/coco/", CocoImportApi.as_view(), name="coco-import"),
    path("", include(router.urls)),
]
