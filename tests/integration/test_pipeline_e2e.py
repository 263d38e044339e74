"""From upload to export on PostgreSQL, with a real Celery worker on Redis and real HTTP.

A manager loads generated images with known shapes; simulated workers claim and submit
through the API of a live server; consensus runs in the Celery worker; adaptive redundancy
buys extra labels only where the crowd disagrees; a reviewer settles what stays escalated; the
manager freezes a version and exports it (built by the worker); the exported COCO file,
scored with pycocotools against the known shapes, beats the best single worker.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from crowd.accounts.services import api_token_get_or_create, user_create
from crowd.celery import app as celery_app
from crowd.common.exceptions import NothingForYou
from workflows.demo.scenes import CLASSES, coco_ground_truth, scenes_generate
from workflows.demo.simulated_crowd import crowd_answers_simulate, crowd_work
from workflows.projects.models import Item

from .test_celery_worker import BROKERS, reachable, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 6
IMAGES = 18

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_broker,
    pytest.mark.django_db(transaction=True),
]


class Http:
    """A tiny JSON client over urllib: real sockets to the live server, token auth."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body=None, *, raw=None, content_type=None):
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        data = raw
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                return response.status, payload
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, body=None, **kwargs):
        status, payload = self.call(method, path, body, **kwargs)
        return status, (json.loads(payload) if payload else None)


@pytest.fixture
def celery_worker_on_redis(settings):
    host, port, url = BROKERS["redis"]
    if not reachable(host, port):
        pytest.skip(f"redis is not running on {host}:{port}")
    queue = f"quorum-e2e-{os.getpid()}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "CELERY_BROKER_URL": url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # The worker reads the images the live server stored (the test's media folder).
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crowd", "worker", "--pool=solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    # The web side (the live server in this process) sends tasks to the broker, not inline.
    saved = {
        k: celery_app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")
    }
    celery_app.conf.update(task_always_eager=False, broker_url=url, task_default_queue=queue)
    with contextlib.suppress(AttributeError):
        del celery_app.amqp  # rebuild the producer with the new broker and queue
    yield
    celery_app.conf.update(saved)
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


def zip_of(scenes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for scene in scenes:
            archive.writestr(scene.name, scene.png)
    return buffer.getvalue()


def multipart(field: str, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "quorum-e2e-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def average_precision(truth: dict, detections: list[dict], image_ids: list[int]) -> float:
    if not detections:
        return 0.0
    gt = COCO()
    gt.dataset = truth
    gt.createIndex()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(gt, gt.loadRes(detections), "bbox")
        evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[1])  # AP at IoU 0.5


def test_upload_to_export_beats_the_best_single_worker(live_server, celery_worker_on_redis):
    manager = user_create(username="e2e-manager", password="x-long-password-1", role="manager")
    reviewer = user_create(username="e2e-reviewer", password="x-long-password-1", role="reviewer")
    site = Http(live_server.url, api_token_get_or_create(user=manager))

    status, schema = site.json(
        "POST",
        "/api/v1/label-schemas/",
        {"name": "shapes", "kind": "bbox", "categories": [{"name": n} for n, _ in CLASSES]},
    )
    assert status == 201, schema
    status, project = site.json(
        "POST",
        "/api/v1/projects/",
        {
            "name": "E2E shapes",
            "label_schema": schema["id"],
            "status": "active",
            "min_redundancy": 2,
            "max_redundancy": 5,
            "reviewers": [reviewer.pk],
        },
    )
    assert status == 201, project
    status, dataset = site.json(
        "POST", "/api/v1/datasets/", {"project": project["id"], "name": "batch"}
    )
    scenes = [s for s in scenes_generate(images=IMAGES, seed=11) if not s.is_gold]
    body, content_type = multipart("archive", "batch.zip", zip_of(scenes))
    status, report = site.json(
        "POST", f"/api/v1/datasets/{dataset['id']}/import/", raw=body, content_type=content_type
    )
    assert status == 201 and report["created"] == len(scenes), report

    items = {i.content_hash: i.pk for i in Item.objects.filter(project_id=project["id"])}
    category_ids = {c["name"]: c["id"] for c in schema["categories"]}
    truth = coco_ground_truth(scenes, items, category_ids, seed=11)
    answers = crowd_answers_simulate(
        ground_truth=truth, workers=WORKERS, seed=5, spammer_share=1 / 6
    )
    crowd = [Http(live_server.url, api_token_get_or_create(user=user_create(
        username=f"e2e-worker-{i}", password=None, role="worker"))) for i in range(WORKERS)]  # fmt: skip

    def claim(client, project_id):
        status, lease = client.json("POST", f"/api/v1/projects/{project_id}/assignments/next/")
        if status == 409:
            raise NothingForYou(lease["error"]["details"]["reason"], lease["error"]["message"])
        assert status in (200, 201), lease
        return lease["id"], lease["item"]

    def submit(client, assignment_id, payload):
        status, body = client.json(
            "POST", f"/api/v1/assignments/{assignment_id}/submit/", {"payload": payload}
        )
        assert status == 201, body

    def settled():
        return not Item.objects.filter(
            project_id=project["id"], state__in=["open", "consensus"]
        ).exists()

    deadline = time.monotonic() + 240
    while not settled() and time.monotonic() < deadline:
        crowd_work(
            project_id=project["id"], workers=crowd, answers=answers, claim=claim, submit=submit
        )
        wait_for(
            lambda: not Item.objects.filter(project_id=project["id"], state="consensus").exists(),
            30,
        )
    assert settled(), "consensus did not settle every item"

    wanted = list(
        Item.objects.filter(project_id=project["id"]).values_list("labels_wanted", flat=True)
    )
    assert min(wanted) == 2 and max(wanted) > 2  # extra labels only where needed
    assert sum(wanted) < 5 * len(wanted)

    reviewer_site = Http(live_server.url, api_token_get_or_create(user=reviewer))
    status, queue = reviewer_site.json("GET", f"/api/v1/projects/{project['id']}/review-queue/")
    truth_by_item = {}
    for ann in truth["annotations"]:
        truth_by_item.setdefault(ann["image_id"], []).append(
            {"category_id": ann["category_id"], "bbox": ann["bbox"]}
        )
    for entry in queue:  # the expert draws the truth
        status, body = reviewer_site.json(
            "POST",
            f"/api/v1/items/{entry['item']}/review/",
            {"action": "edit", "payload": {"regions": truth_by_item.get(entry["item"], [])}},
        )
        assert status == 201, body

    status, version = site.json("POST", f"/api/v1/projects/{project['id']}/golden-versions/")
    assert status == 201, version
    status, job = site.json(
        "POST", f"/api/v1/golden-versions/{version['id']}/exports/", {"format": "coco"}
    )
    assert status == 202, job
    assert wait_for(
        lambda: site.json("GET", f"/api/v1/exports/{job['id']}/")[1]["status"] == "done", 60
    )
    status, archive = site.call("GET", f"/api/v1/exports/{job['id']}/download/")
    assert status == 200
    exported = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("annotations.json"))
    ids = [im["id"] for im in truth["images"]]
    golden = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
               "score": a.get("score", 1.0)} for a in exported["annotations"]]  # fmt: skip
    golden_ap = average_precision(truth, golden, ids)
    singles = [
        average_precision(truth, [
            {"image_id": item_id, "category_id": r["category_id"], "bbox": r["bbox"], "score": 1.0}
            for item_id, payload in worker_answers.items() for r in payload["regions"]], ids)
        for worker_answers in answers.values()
    ]  # fmt: skip
    print(f"golden AP50 {golden_ap:.3f}; single workers {sorted(round(s, 3) for s in singles)}")
    assert golden_ap > max(singles), (golden_ap, singles)
