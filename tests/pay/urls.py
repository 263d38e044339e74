"""The site's URLs plus the pay routes, as crowd/api_v1.py and crowd/pages_urls.py wire them.

Pay tests use this urlconf (``pytest.mark.urls``) so they do not depend on those files."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from crowd.pay.payout_api import (
    BonusGrantApi,
    BonusRuleViewSet,
    MyEarningsApi,
    PayoutBatchViewSet,
    ProjectCostsApi,
)
from crowd.pay.views import costs_page, earnings_page
from crowd.urls import urlpatterns as site

router = SimpleRouter()
router.register("payout-batches", PayoutBatchViewSet, basename="payoutbatch")
router.register("bonus-rules", BonusRuleViewSet, basename="bonusrule")

api = [
    path("me/earnings/", MyEarningsApi.as_view(), name="me-earnings"),
    path("projects/<int:project_id>/costs/", ProjectCostsApi.as_view(), name="project-costs"),
    path("bonuses/", BonusGrantApi.as_view(), name="bonus-grant"),
    *router.urls,
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("earnings/", earnings_page, name="earnings-page"),
    path("costs/", costs_page, name="costs-page"),
    *site,
]
