"""Pages where people do the work in a browser: workers annotate and see their earnings,
reviewers decide escalated items, managers see costs. Included at the site root."""

from django.urls import path

from crowd.labeling.views import annotate
from crowd.pay.views import costs_page, earnings_page
from workflows.golden.views import review_queue

urlpatterns = [
    path("work/projects/<int:project_id>/", annotate, name="work-annotate"),
    path("review/projects/<int:project_id>/", review_queue, name="review-page"),
    path("earnings/", earnings_page, name="earnings-page"),
    path("costs/", costs_page, name="costs-page"),
]
