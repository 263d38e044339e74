"""Every role against every route: the README's roles table as a test.

One row per route of ``crowd.api_v1`` (and per page), one column per persona. The cells come
from the README ("A resource you may not see is a 404; one you may see but not change is a
403"), not from what the code answered. A route added to the API without a row here fails
``test_every_route_has_a_row``.

The world is built once per module inside a transaction that is rolled back at the end; each
cell runs in a savepoint of it (pytest-django's ``db``), so a cell that deletes or pays
changes nothing for the next one.
"""

import io
import zipfile
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, reverse
from rest_framework.test import APIClient

from crowd import api_v1, pages_urls
from crowd.common import urls as common_urls
from tests import factories
from tests.api.access_world import access_world_build
from tests.pay.review_support import answer

PERSONAS = ("anonymous", "worker", "owner", "other_manager", "reviewer", "auditor", "operator")

# Expected answers. OK is any 2xx. PAST is "allowed past the access check": 2xx, or the domain
# refusing with 400/409 (a schema in use cannot be deleted, a type without a test cannot be
# taken); it appears only where a row says so. LOGIN is a redirect to the login page.
OK, PAST, LOGIN = "ok", "past", "login"


def row(expected: str) -> dict[str, str | int]:
    """``row("401 ok ok 404 403 403 ok")``: one expectation per persona, in PERSONAS order."""
    cells = expected.split()
    assert len(cells) == len(PERSONAS), expected
    return {p: (int(c) if c.isdigit() else c) for p, c in zip(PERSONAS, cells, strict=True)}


# Recurring columns: who may do what to a project's things.
READ_ALL = row("401 ok ok ok ok ok ok")  # lists (scoped) and public things
PROJECT_READ = row("401 ok ok 404 ok ok ok")  # the project and its requirements
DATA_READ = row("401 404 ok 404 ok ok ok")  # datasets, items, labels of the project
REPORTS_READ = row("401 404 ok 404 404 ok ok")  # money, versions, exports, webhooks
MANAGE_VISIBLE = row("401 403 ok 404 403 403 ok")  # change: everyone who sees it gets 403
MANAGE_DATA = row("401 404 ok 404 403 403 ok")  # change data: workers do not see it
MANAGE_REPORTS = row("401 404 ok 404 404 403 ok")  # change what only owner and auditor see
CREATE_OWN = row("401 403 ok ok 403 403 ok")  # managers create their own things
WORKER_ACT = row("401 ok 403 404 403 403 403")  # a worker on their own work
REVIEW_WORK = row("401 403 ok 404 403 403 ok")  # the manager approves (pays) the work
OPERATOR_ONLY = row("401 403 403 403 403 403 ok")
NOT_OFFERED = row("401 405 405 405 405 405 405")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expected: dict
    kwargs: object = None  # world -> URL kwargs
    body: object = None  # (world, user) -> request body
    query: str = ""
    multipart: bool = False
    headers: object = None


def png_upload(name="new.png"):
    return ContentFile(factories.png_bytes(), name=name)


def zip_upload():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("zipped.png", factories.png_bytes())
    return ContentFile(buffer.getvalue(), name="images.zip")


def _pk(attr):
    return lambda w: {"pk": getattr(w, attr).pk}


def _project(w):
    return {"project_id": w.project.pk}


def _schema_of(w, user):
    """Managers name a schema of their own when they create a project."""
    if user is None:
        return w.schema
    return {w.other_manager.pk: w.other_schema, w.operator.pk: w.operator_schema}.get(
        user.pk, w.schema
    )


ROUTES = [
    Route("api-root", "get", READ_ALL),
    Route(
        "auth-token",
        "post",
        row("ok ok ok ok ok ok ok"),
        body=lambda w, u: {
            "username": (u or w.worker).username,
            "password": factories.PASSWORD,
        },
    ),
    Route("me", "get", READ_ALL),
    Route("me-earnings", "get", READ_ALL),
    Route("project-costs", "get", REPORTS_READ, kwargs=_project),
    Route("project-budget", "get", REPORTS_READ, kwargs=_project),
    Route(
        "project-budget",
        "post",
        MANAGE_REPORTS,
        kwargs=_project,
        body=lambda w, u: {"budget_minor": 2000},
    ),
    Route(
        "bonus-grant",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {
            "project": w.project.pk,
            "worker": w.worker.pk,
            "amount_minor": 5,
            "reason": "careful boxes",
        },
        headers={"HTTP_IDEMPOTENCY_KEY": "bonus-1"},
    ),
    Route("assignment-approve", "post", REVIEW_WORK, body=lambda w, u: {"ids": [w.submitted.pk]}),
    Route(
        "assignment-reject",
        "post",
        REVIEW_WORK,
        body=lambda w, u: {"ids": [w.submitted.pk], "reason": "boxes too loose"},
    ),
    Route(
        "assignment-reverse",
        "post",
        REVIEW_WORK,
        kwargs=lambda w: {"assignment_id": w.rejected.pk},
    ),
    Route(
        "assignment-appeal",
        "post",
        WORKER_ACT,
        kwargs=lambda w: {"assignment_id": w.rejected.pk},
        body=lambda w, u: {"message": "the boxes were tight"},
    ),
    Route(
        "appeal-answer",
        "post",
        REVIEW_WORK,
        kwargs=lambda w: {"appeal_id": w.appeal.pk},
        body=lambda w, u: {"outcome": "upheld", "answer": "still loose"},
    ),
    Route("assignment-claim-next", "post", WORKER_ACT, kwargs=_project),
    # Reviewers decide escalated items; the manager and auditors may watch the queue.
    Route("review-queue", "get", DATA_READ, kwargs=_project),
    Route(
        "item-review",
        "post",
        row("401 404 403 404 ok 403 ok"),
        kwargs=lambda w: {"item_id": w.escalated.pk},
        body=lambda w, u: {"action": "reject", "reason": "unreadable image"},
    ),
    Route("golden-version-freeze", "post", MANAGE_VISIBLE, kwargs=_project),
    Route(
        "coco-import",
        "post",
        MANAGE_VISIBLE,
        kwargs=_project,
        body=lambda w, u: {"coco": w.coco, "as_": "prelabels", "model_name": "detector"},
    ),
    # Label schemas: the owner's, seen by everyone who sees a project using it. This one is
    # in use, so its categories cannot change and it cannot be deleted (409, past the check).
    Route("labelschema-list", "get", READ_ALL),
    Route(
        "labelschema-list",
        "post",
        CREATE_OWN,
        body=lambda w, u: {"name": "fresh", "kind": "bbox", "categories": [{"name": "cat"}]},
    ),
    Route("labelschema-detail", "get", PROJECT_READ, kwargs=_pk("schema")),
    Route(
        "labelschema-detail",
        "put",
        row("401 403 past 404 403 403 past"),
        kwargs=_pk("schema"),
        body=lambda w, u: {"name": "renamed", "kind": "bbox", "categories": [{"name": "cat"}]},
    ),
    Route(
        "labelschema-detail",
        "patch",
        MANAGE_VISIBLE,
        kwargs=_pk("schema"),
        body=lambda w, u: {"name": "renamed"},
    ),
    Route("labelschema-detail", "delete", row("401 403 past 404 403 403 past"), _pk("schema")),
    Route("project-list", "get", READ_ALL),
    Route(
        "project-list",
        "post",
        CREATE_OWN,
        body=lambda w, u: {"name": "another", "label_schema": _schema_of(w, u).pk},
    ),
    Route("project-detail", "get", PROJECT_READ, kwargs=_pk("project")),
    Route(
        "project-detail",
        "put",
        MANAGE_VISIBLE,
        kwargs=_pk("project"),
        body=lambda w, u: {"name": "renamed", "label_schema": w.schema.pk},
    ),
    Route(
        "project-detail",
        "patch",
        MANAGE_VISIBLE,
        kwargs=_pk("project"),
        body=lambda w, u: {"description": "sharper boxes"},
    ),
    # A project with work cannot be deleted (409).
    Route("project-detail", "delete", row("401 403 past 404 403 403 past"), _pk("project")),
    Route("dataset-list", "get", READ_ALL),
    Route(
        "dataset-list",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {"project": w.project.pk, "name": "second batch"},
    ),
    Route("dataset-detail", "get", DATA_READ, kwargs=_pk("dataset")),
    # Its items have assignments: the dataset cannot be deleted (409).
    Route("dataset-detail", "delete", row("401 404 past 404 403 403 past"), _pk("dataset")),
    Route(
        "dataset-import-images",
        "post",
        MANAGE_DATA,
        kwargs=_pk("dataset"),
        body=lambda w, u: {"archive": zip_upload()},
        multipart=True,
    ),
    Route("item-list", "get", READ_ALL),
    Route(
        "item-list",
        "post",
        MANAGE_DATA,
        body=lambda w, u: {"dataset": w.dataset.pk, "image": png_upload()},
        multipart=True,
    ),
    Route("item-detail", "get", DATA_READ, kwargs=_pk("unworked")),
    Route("item-detail", "put", MANAGE_DATA, _pk("unworked"), lambda w, u: {"priority": 3}),
    Route("item-detail", "patch", MANAGE_DATA, _pk("unworked"), lambda w, u: {"priority": 3}),
    Route("item-detail", "delete", MANAGE_DATA, kwargs=_pk("unworked")),
    Route("item-image", "get", DATA_READ, kwargs=_pk("unworked")),
    # Qualification types: everyone reads them; their owner changes them.
    Route("qualificationtype-list", "get", READ_ALL),
    Route("qualificationtype-list", "post", CREATE_OWN, body=lambda w, u: {"name": "new skill"}),
    Route("qualificationtype-detail", "get", READ_ALL, kwargs=_pk("qualification_type")),
    Route(
        "qualificationtype-detail",
        "put",
        row("401 403 ok 403 403 403 ok"),
        kwargs=_pk("qualification_type"),
        body=lambda w, u: {"name": "skill", "description": "steady hands"},
    ),
    Route(
        "qualificationtype-detail",
        "patch",
        row("401 403 ok 403 403 403 ok"),
        kwargs=_pk("qualification_type"),
        body=lambda w, u: {"description": "steady hands"},
    ),
    # Held and required: deleting it is refused by the domain (409), past the check.
    Route(
        "qualificationtype-detail",
        "delete",
        row("401 403 past 403 403 403 past"),
        kwargs=_pk("qualification_type"),
    ),
    # Only workers take tests; this type has none (409 for the worker, past the check).
    Route(
        "qualificationtype-test-start",
        "post",
        row("401 past 403 403 403 403 403"),
        kwargs=_pk("qualification_type"),
    ),
    Route("requirement-list", "get", READ_ALL),
    Route(
        "requirement-list",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {
            "project": w.project.pk,
            "qualification_type": w.other_type.pk,
            "comparator": "exists",
        },
    ),
    Route("requirement-detail", "get", PROJECT_READ, kwargs=_pk("requirement")),
    Route(
        "requirement-detail",
        "put",
        MANAGE_VISIBLE,
        kwargs=_pk("requirement"),
        body=lambda w, u: {
            "project": w.project.pk,
            "qualification_type": w.qualification_type.pk,
            "comparator": "gte",
            "value": 1,
        },
    ),
    Route(
        "requirement-detail",
        "patch",
        MANAGE_VISIBLE,
        kwargs=_pk("requirement"),
        body=lambda w, u: {"comparator": "gte", "value": 1},
    ),
    Route("requirement-detail", "delete", MANAGE_VISIBLE, kwargs=_pk("requirement")),
    # Grants: a worker reads their own, the type's owner grants and revokes, auditors audit.
    Route("qualificationgrant-list", "get", READ_ALL),
    Route(
        "qualificationgrant-list",
        "post",
        row("401 403 ok 403 403 403 ok"),
        body=lambda w, u: {
            "qualification_type": w.qualification_type.pk,
            "worker": w.worker.pk,
            "value": 5,
        },
    ),
    Route(
        "qualificationgrant-revoke",
        "post",
        row("401 403 ok 403 403 403 ok"),
        body=lambda w, u: {
            "qualification_type": w.qualification_type.pk,
            "worker": w.worker.pk,
            "reason": "left the team",
        },
    ),
    Route("qualificationgrant-detail", "get", row("401 ok ok 404 404 ok ok"), _pk("grant")),
    Route("qualificationevent-list", "get", READ_ALL),
    Route("qualificationevent-detail", "get", row("401 ok ok 404 404 ok ok"), _pk("event")),
    # Assignments and annotations: the worker's own, and everyone who reads the project.
    Route("assignment-list", "get", READ_ALL),
    Route("assignment-detail", "get", PROJECT_READ, kwargs=_pk("submitted")),
    Route("assignment-image", "get", PROJECT_READ, kwargs=_pk("lease")),
    Route("assignment-extend", "post", WORKER_ACT, kwargs=_pk("lease")),
    Route("assignment-give-back", "post", WORKER_ACT, kwargs=_pk("lease")),
    Route(
        "assignment-submit",
        "post",
        WORKER_ACT,
        kwargs=_pk("lease"),
        body=lambda w, u: {"payload": answer(w.project)},
    ),
    Route("annotation-list", "get", READ_ALL),
    Route("annotation-detail", "get", PROJECT_READ, kwargs=_pk("annotation")),
    # Blocks are about people: not for reviewers, and a worker sees only blocks on them.
    Route("block-list", "get", READ_ALL),
    Route(
        "block-list",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {"worker": w.newcomer.pk, "project": w.project.pk, "reason": "spam"},
    ),
    Route("block-detail", "get", REPORTS_READ, kwargs=_pk("block")),
    Route("block-lift", "post", MANAGE_REPORTS, kwargs=_pk("block")),
    Route("goldenannotation-list", "get", READ_ALL),
    Route("goldenannotation-detail", "get", DATA_READ, kwargs=_pk("golden")),
    Route("consensusresult-list", "get", READ_ALL),
    Route("consensusresult-detail", "get", DATA_READ, kwargs=_pk("consensus")),
    # Webhooks: where a project's data goes; its manager changes them, auditors read them.
    Route("webhook-list", "get", READ_ALL),
    Route(
        "webhook-list",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {"project": w.project.pk, "url": "http://127.0.0.1:9/other"},
    ),
    Route("webhook-detail", "get", REPORTS_READ, kwargs=_pk("webhook")),
    Route(
        "webhook-detail",
        "put",
        MANAGE_REPORTS,
        kwargs=_pk("webhook"),
        body=lambda w, u: {"project": w.project.pk, "url": "http://127.0.0.1:9/moved"},
    ),
    Route(
        "webhook-detail",
        "patch",
        MANAGE_REPORTS,
        kwargs=_pk("webhook"),
        body=lambda w, u: {"is_active": False},
    ),
    Route("webhook-detail", "delete", MANAGE_REPORTS, kwargs=_pk("webhook")),
    Route("webhook-deliveries", "get", REPORTS_READ, kwargs=_pk("webhook")),
    Route("webhook-test", "post", MANAGE_REPORTS, kwargs=_pk("webhook")),
    # Payouts pay every worker of the platform: operators only.
    Route("payoutbatch-list", "get", OPERATOR_ONLY),
    Route(
        "payoutbatch-list",
        "post",
        OPERATOR_ONLY,
        body=lambda w, u: {"currency": "USD"},
        headers={"HTTP_IDEMPOTENCY_KEY": "batch-2"},
    ),
    Route("payoutbatch-detail", "get", OPERATOR_ONLY, kwargs=_pk("batch")),
    Route("payoutbatch-csv", "get", OPERATOR_ONLY, kwargs=_pk("batch")),
    Route(
        "payoutbatch-mark-paid",
        "post",
        OPERATOR_ONLY,
        kwargs=_pk("batch"),
        body=lambda w, u: {"external_reference": "transfer-1"},
    ),
    Route("bonusrule-list", "get", READ_ALL),
    Route(
        "bonusrule-list",
        "post",
        MANAGE_VISIBLE,
        body=lambda w, u: {
            "project": w.project.pk,
            "amount_minor": 5,
            "top_n": 3,
            "period": "week",
        },
    ),
    # Versions and exports are reports: the owner and auditors read them; an auditor changes
    # nothing, so asking for an export is the owner's (README: "auditor ... changes nothing").
    Route("goldenversion-list", "get", READ_ALL),
    Route("goldenversion-detail", "get", REPORTS_READ, kwargs=_pk("version")),
    Route(
        "goldenversion-diff",
        "get",
        REPORTS_READ,
        kwargs=_pk("version"),
        query="?against={version}",
    ),
    Route(
        "goldenversion-exports",
        "post",
        MANAGE_REPORTS,
        kwargs=_pk("version"),
        body=lambda w, u: {"format": "coco"},
    ),
    Route("export-list", "get", READ_ALL),
    Route("export-detail", "get", REPORTS_READ, kwargs=_pk("export")),
    Route("export-download", "get", REPORTS_READ, kwargs=_pk("export")),
]

# Methods a route does not offer: 405 for everyone signed in (read-only resources stay so).
UNOFFERED = [
    Route("annotation-detail", "delete", NOT_OFFERED, kwargs=_pk("annotation")),
    Route("assignment-detail", "patch", NOT_OFFERED, kwargs=_pk("submitted")),
    Route("goldenversion-detail", "put", NOT_OFFERED, kwargs=_pk("version")),
    Route("goldenannotation-detail", "delete", NOT_OFFERED, kwargs=_pk("golden")),
    Route("export-detail", "delete", NOT_OFFERED, kwargs=_pk("export")),
    Route("me", "post", NOT_OFFERED),
]

PAGES = [
    Route("home", "get", row("200 ok ok ok ok ok ok")),
    # Workers annotate; anyone else who sees the project gets a 403.
    Route("work-annotate", "get", row("login ok 403 404 403 403 403"), kwargs=_project),
    # Reviewers decide; the manager and auditors read the items but do not decide (403).
    Route("review-page", "get", row("login 404 403 404 ok 403 ok"), kwargs=_project),
    Route("earnings-page", "get", row("login ok ok ok ok ok ok")),
    Route("costs-page", "get", row("login 404 ok ok 404 ok ok")),
]

HTTP_METHODS = ("get", "post", "put", "patch", "delete")  # HEAD and OPTIONS follow GET


def _methods(pattern: URLPattern) -> set[str]:
    actions = getattr(pattern.callback, "actions", None)
    if actions:  # a router's viewset route: the methods it maps
        return set(actions) & set(HTTP_METHODS)
    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    return {m for m in HTTP_METHODS if view is not None and hasattr(view, m)}


def _routes(patterns) -> set[tuple[str, str]]:
    """(URL name, method) of every route; the router's format-suffix twins share a name."""
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= _routes(pattern.url_patterns)
        else:
            found |= {(pattern.name, method) for method in _methods(pattern)}
    return found


def test_every_route_has_a_row():
    table = {(r.name, r.method) for r in ROUTES}
    assert len(table) == len(ROUTES), "a route has two rows"
    assert table == _routes(api_v1.urlpatterns)


def test_every_page_has_a_row():
    names = {p.name for p in [*common_urls.urlpatterns, *pages_urls.urlpatterns]}
    assert {p.name for p in PAGES} == names


# -- the world ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once; everything it writes is rolled back when the module is done."""
    media = tmp_path_factory.mktemp("media")
    with (
        override_settings(MEDIA_ROOT=str(media), QUORUM_WEBHOOKS_ALLOW_PRIVATE=True),
        django_db_blocker.unblock(),
    ):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield access_world_build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """The module's media folder (set by ``world``) holds the world's images for every cell."""


# -- the cells ---------------------------------------------------------------------------------


def _matches(expected, response) -> bool:
    code = response.status_code
    if expected == OK:
        return 200 <= code < 300
    if expected == PAST:
        return 200 <= code < 300 or code in (400, 409)
    if expected == LOGIN:
        return code == 302 and response["Location"].startswith(settings.LOGIN_URL)
    return code == expected


def _describe(response) -> str:
    body = getattr(response, "content", b"")[:300]
    return f"{response.status_code} {body!r}"


def _cells(routes):
    return [
        pytest.param(route, persona, id=f"{route.method}-{route.name}-{persona}")
        for route in routes
        for persona in PERSONAS
    ]


@pytest.mark.parametrize(("route", "persona"), _cells(ROUTES + UNOFFERED))
def test_api(world, db, route, persona):
    user = world.personas[persona]
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[persona]}")
    if route.name == "auth-token":
        cache.clear()  # the token endpoint's throttle counts every test's requests
    url = reverse(route.name, kwargs=route.kwargs(world) if route.kwargs else None)
    url += route.query.format(version=world.version.pk)
    body = route.body(world, user) if route.body else None
    response = getattr(client, route.method)(
        url,
        body,
        format="multipart" if route.multipart else "json",
        **(route.headers or {}),
    )
    expected = route.expected[persona]
    assert _matches(expected, response), f"expected {expected}, got {_describe(response)}"


@pytest.mark.parametrize(("route", "persona"), _cells(PAGES))
def test_page(world, db, client, route, persona):
    user = world.personas[persona]
    if user is not None:
        client.force_login(user)
    response = client.get(reverse(route.name, kwargs=route.kwargs(world) if route.kwargs else None))
    expected = route.expected[persona]
    assert _matches(expected, response), f"expected {expected}, got {_describe(response)}"
