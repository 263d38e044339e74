"""Exports of golden versions: COCO (pycocotools loads and scores it), VOC, YOLO, the manifest,
idempotent requests and builds, gold items kept out, and the API."""

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from crowd.common.exceptions import Forbidden, InvalidInput
from tests import factories
from tests.golden.golden_factories import boxes, make_consensus, make_golden
from workflows.golden.exports.services import export_build, export_request
from workflows.golden.models import ExportJob, ExportStatus
from workflows.golden.tasks import export_build_task
from workflows.golden.versions import golden_version_freeze

pytestmark = pytest.mark.urls("tests.golden.urls")


@pytest.fixture
def emitted(monkeypatch):
    """Webhook events emitted, instead of deliveries (the webhooks app has its own tests)."""
    calls = []
    for emitter in ("golden.services", "golden.versions", "golden.exports.services"):
        monkeypatch.setattr(
            f"workflows.{emitter}.webhook_emit", lambda **kwargs: calls.append(kwargs)
        )
    return calls


def _coco_quiet(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    return coco


def _build(version, fmt, actor, capture, *, include_images=True):
    with capture(execute=True):
        job = export_request(
            version=version, format=fmt, actor=actor, include_images=include_images
        )
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE, job.error
    with job.file.open("rb") as handle:
        return job, zipfile.ZipFile(io.BytesIO(handle.read()))


def _labelled_project(owner, reviewer, *, kind="bbox"):
    project = factories.make_project(
        owner=owner, schema=factories.make_schema(owner=owner, kind=kind), reviewers=[reviewer]
    )
    cats = {c.name: c.pk for c in project.label_schema.categories.all()}
    return project, cats


@pytest.fixture
def box_version(project, alice, rita, emitted):
    """Two labelled items (one with a consensus result) and a gold item; version 1."""
    cats = {c.name: c.pk for c in project.label_schema.categories.all()}
    first, second = factories.make_item(project=project), factories.make_item(project=project)
    gold = factories.make_item(project=project, gold_answer=boxes((cats["cat"], 1, 1, 5, 5)))
    make_golden(item=gold, payload=boxes((cats["cat"], 1, 1, 5, 5)), reviewer=rita)
    make_golden(
        item=first,
        payload=boxes((cats["cat"], 2, 3, 20, 10), (cats["dog"], 30, 20, 12.5, 14)),
        reviewer=rita,
    )
    make_golden(item=second, payload=boxes((cats["dog"], 0, 0, 64, 48)), reviewer=rita)
    version = golden_version_freeze(project=project, actor=alice)
    return version, (first, second, gold), cats


def test_coco_export_loads_in_pycocotools_and_scores_itself_at_ap_one(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, (first, second, gold), cats = box_version
    job, archive = _build(version, "coco", alice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("annotations.json"))
    gt = _coco_quiet(data)
    assert sorted(gt.getImgIds()) == sorted([first.pk, second.pk])
    assert {c["name"] for c in data["categories"]} == {"cat", "dog"}
    ann = gt.loadAnns(gt.getAnnIds(imgIds=[first.pk], catIds=[cats["dog"]]))[0]
    assert ann["bbox"] == [30, 20, 12.5, 14] and ann["area"] == 12.5 * 14 and ann["iscrowd"] == 0
    image = gt.loadImgs([first.pk])[0]
    assert (image["width"], image["height"]) == (64, 48)
    assert f"images/{image['file_name']}" in archive.namelist()

    results = [{**a, "score": 1.0} for a in data["annotations"]]
    evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    assert job.progress == 1.0


def test_gold_items_are_absent_from_every_format(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, (_, _, gold), _ = box_version
    for fmt in ("coco", "voc", "yolo"):
        _, archive = _build(version, fmt, alice, django_capture_on_commit_callbacks)
        manifest = json.loads(archive.read("manifest.json"))
        assert gold.pk not in {a["item_id"] for a in manifest["annotations"]}
        assert gold.original_name not in " ".join(archive.namelist())
        assert len([n for n in archive.namelist() if n.endswith(".png")]) == 2
        assert gold.content_hash not in archive.read("manifest.json").decode()


def test_voc_export_writes_one_xml_per_image_with_matching_boxes(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, (first, _, _), _ = box_version
    _, archive = _build(version, "voc", alice, django_capture_on_commit_callbacks)
    stem = first.original_name.rsplit(".", 1)[0]
    root = ET.fromstring(archive.read(f"Annotations/{stem}.xml"))
    assert root.findtext("filename") == first.original_name
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("64", "48")
    found = [
        (o.findtext("name"), *(float(o.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")))
        for o in root.findall("object")
    ]  # fmt: skip
    assert found == [("cat", 2, 3, 22, 13), ("dog", 30, 20, 42.5, 34)]
    assert f"JPEGImages/{first.original_name}" in archive.namelist()
    assert archive.read("labelmap.txt").decode().split() == ["cat", "dog"]
    assert len(archive.read("ImageSets/Main/default.txt").decode().split()) == 2


def test_yolo_export_normalises_boxes_and_lists_classes(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, (first, second, _), _ = box_version
    _, archive = _build(version, "yolo", alice, django_capture_on_commit_callbacks)
    lines = archive.read(f"labels/{first.original_name.rsplit('.', 1)[0]}.txt").decode().split("\n")
    cat_line = [float(v) for v in lines[0].split()]
    assert cat_line[0] == 0
    np.testing.assert_allclose(cat_line[1:], [12 / 64, 8 / 48, 20 / 64, 10 / 48], atol=1e-6)
    dog_line = [float(v) for v in lines[1].split()]
    np.testing.assert_allclose(dog_line, [1, 36.25 / 64, 27 / 48, 12.5 / 64, 14 / 48], atol=1e-6)
    whole = archive.read(f"labels/{second.original_name.rsplit('.', 1)[0]}.txt").decode()
    assert whole.split() == ["1", "0.500000", "0.500000", "1.000000", "1.000000"]
    assert archive.read("classes.txt").decode().split() == ["cat", "dog"]
    data_yaml = archive.read("data.yaml").decode()
    assert "nc: 2" in data_yaml and '0: "cat"' in data_yaml and '1: "dog"' in data_yaml


def test_export_without_images_holds_labels_and_manifest_only(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, _, _ = box_version
    _, archive = _build(version, "yolo", alice, django_capture_on_commit_callbacks,
                        include_images=False)  # fmt: skip
    assert not [n for n in archive.namelist() if n.startswith("images/")]
    assert "manifest.json" in archive.namelist()


def test_manifest_traces_every_annotation_to_its_consensus_workers_and_reviewer(
    project, alice, wendy, rita, emitted, django_capture_on_commit_callbacks
):
    cat = project.label_schema.categories.first().pk
    crowd_item, reviewed_item = (factories.make_item(project=project) for _ in range(2))
    payload = boxes((cat, 1, 1, 10, 10))
    other = factories.make_user("walter", role="worker")
    result, sources = make_consensus(item=crowd_item, payload=payload, workers=[wendy, other])
    crowd_golden = make_golden(item=crowd_item, payload=payload, consensus_result=result)
    reviewed_golden = make_golden(item=reviewed_item, payload=payload, reviewer=rita)
    version = golden_version_freeze(project=project, actor=alice)
    _, archive = _build(version, "coco", alice, django_capture_on_commit_callbacks)

    manifest = json.loads(archive.read("manifest.json"))
    entries = {e["golden_annotation_id"]: e for e in manifest["annotations"]}
    crowd = entries[crowd_golden.pk]
    assert crowd["item_id"] == crowd_item.pk
    assert crowd["item_content_hash"] == crowd_item.content_hash
    assert crowd["reviewed_by"] is None
    consensus = crowd["consensus"]
    assert consensus["result_id"] == result.pk and consensus["round"] == 1
    assert consensus["method"] == "bbox:auto" and consensus["package_version"] == "1"
    assert consensus["parameters"] == {"iou_threshold": 0.5, "quorum": 0.5}
    assert consensus["worker_weights"] == {f"worker:{wendy.pk}": 1.0, f"worker:{other.pk}": 1.0}
    assert [(s["annotation_id"], s["worker_id"]) for s in consensus["source_annotations"]] == [
        (sources[0].pk, wendy.pk),
        (sources[1].pk, other.pk),
    ]
    assert entries[reviewed_golden.pk]["reviewed_by"] == rita.pk
    assert entries[reviewed_golden.pk]["consensus"] is None
    assert manifest["version"]["number"] == 1
    assert manifest["version"]["content_hash"] == version.content_hash
    # Every other member of the archive is listed with its checksum.
    assert set(manifest["files"]) == set(archive.namelist()) - {"manifest.json"}
    coco = json.loads(archive.read("annotations.json"))
    assert {a["golden_annotation_id"] for a in coco["annotations"]} == set(entries)


def test_polygon_export_writes_coco_polygons_voc_boxes_and_yolo_segments(
    alice, rita, emitted, django_capture_on_commit_callbacks
):
    project, cats = _labelled_project(alice, rita, kind="polygon")
    item = factories.make_item(project=project)
    triangle = [10, 10, 40, 10, 10, 30]
    make_golden(item=item, payload={"regions": [{"category_id": cats["dog"], "polygon": triangle}]},
                reviewer=rita)  # fmt: skip
    version = golden_version_freeze(project=project, actor=alice)

    _, archive = _build(version, "coco", alice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("annotations.json"))
    gt = _coco_quiet(data)
    ann = data["annotations"][0]
    assert ann["segmentation"] == [triangle] and ann["area"] == pytest.approx(300)
    assert ann["bbox"] == [10, 10, 30, 20]
    assert gt.annToMask(gt.loadAnns(ann["id"])[0]).sum() > 250
    evaluation = COCOeval(gt, gt.loadRes([{**ann, "score": 1.0}]), "segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)

    _, voc_archive = _build(version, "voc", alice, django_capture_on_commit_callbacks)
    root = ET.fromstring(
        voc_archive.read(f"Annotations/{item.original_name.rsplit('.', 1)[0]}.xml")
    )
    box = [float(root.findtext(f"object/bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
    assert box == [10, 10, 40, 30]

    _, yolo_archive = _build(version, "yolo", alice, django_capture_on_commit_callbacks)
    line = yolo_archive.read(f"labels/{item.original_name.rsplit('.', 1)[0]}.txt").decode().split()
    assert line[0] == "1"
    expected = [v / (64 if i % 2 == 0 else 48) for i, v in enumerate(triangle)]
    np.testing.assert_allclose([float(v) for v in line[1:]], expected, atol=1e-6)


def test_mask_export_writes_rle_that_pycocotools_decodes_and_yolo_outlines(
    alice, rita, emitted, django_capture_on_commit_callbacks
):
    project, cats = _labelled_project(alice, rita, kind="mask")
    item = factories.make_item(project=project)
    dense = np.zeros((48, 64), dtype=np.uint8)
    dense[8:20, 4:16] = 1
    rle = mask_utils.encode(np.asfortranarray(dense))
    region = {
        "category_id": cats["cat"],
        "rle": {"size": [48, 64], "counts": rle["counts"].decode()},
    }
    make_golden(item=item, payload={"regions": [region]}, reviewer=rita)
    version = golden_version_freeze(project=project, actor=alice)

    _, archive = _build(version, "coco", alice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("annotations.json"))
    gt = _coco_quiet(data)
    ann = data["annotations"][0]
    assert ann["area"] == 144 and ann["bbox"] == [4, 8, 12, 12]
    np.testing.assert_array_equal(gt.annToMask(ann), dense)
    evaluation = COCOeval(gt, gt.loadRes([{**ann, "score": 1.0}]), "segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)

    _, yolo_archive = _build(version, "yolo", alice, django_capture_on_commit_callbacks)
    line = yolo_archive.read(f"labels/{item.original_name.rsplit('.', 1)[0]}.txt").decode().split()
    xs, ys = [float(v) * 64 for v in line[1::2]], [float(v) * 48 for v in line[2::2]]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((4, 16, 8, 20), abs=1e-3)


def test_keypoint_export_carries_points_names_and_skeleton(
    alice, rita, emitted, django_capture_on_commit_callbacks
):
    project, cats = _labelled_project(alice, rita, kind="keypoints")
    item = factories.make_item(project=project)
    points = [10, 12, 2, 30, 20, 1]
    make_golden(item=item, payload={"regions": [{"category_id": cats["cat"], "keypoints": points}]},
                reviewer=rita)  # fmt: skip
    version = golden_version_freeze(project=project, actor=alice)
    _, archive = _build(version, "coco", alice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("annotations.json"))
    ann = data["annotations"][0]
    assert ann["keypoints"] == points and ann["num_keypoints"] == 2
    assert ann["bbox"] == [10, 12, 20, 8]
    assert data["categories"][0]["keypoints"] == ["head", "tail"]
    gt = _coco_quiet(data)
    evaluation = COCOeval(gt, gt.loadRes([{**ann, "score": 1.0}]), "keypoints")
    evaluation.params.kpt_oks_sigmas = np.array([0.05, 0.05])
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)

    _, yolo_archive = _build(version, "yolo", alice, django_capture_on_commit_callbacks)
    line = yolo_archive.read(f"labels/{item.original_name.rsplit('.', 1)[0]}.txt").decode().split()
    assert len(line) == 1 + 4 + 6 and line[7] == "2" and line[10] == "1"
    assert "kpt_shape: [2, 3]" in yolo_archive.read("data.yaml").decode()


# -- jobs: idempotent requests and builds ----------------------------------------------------


def test_request_is_idempotent_and_queues_one_build_on_commit(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, _, _ = box_version
    with django_capture_on_commit_callbacks() as callbacks:
        job = export_request(version=version, format="coco", actor=alice)
        again = export_request(version=version, format="coco", actor=alice)
    assert again.pk == job.pk and job.status == ExportStatus.QUEUED
    assert len(callbacks) == 1
    other = export_request(version=version, format="coco", actor=alice, include_images=False)
    assert other.pk != job.pk
    assert ExportJob.objects.filter(version=version).count() == 2


def test_a_done_job_is_returned_and_a_failed_one_is_replaced(
    box_version, alice, django_capture_on_commit_callbacks
):
    version, _, _ = box_version
    done, _ = _build(version, "voc", alice, django_capture_on_commit_callbacks)
    assert export_request(version=version, format="voc", actor=alice).pk == done.pk
    failed = ExportJob.objects.create(project=version.project, version=version, format="yolo",
                                      status=ExportStatus.FAILED, created_by=alice)  # fmt: skip
    fresh = export_request(version=version, format="yolo", actor=alice)
    assert fresh.pk != failed.pk and fresh.status == ExportStatus.QUEUED


def test_running_the_task_twice_builds_once_and_leaves_the_done_job_alone(
    box_version, alice, emitted
):
    version, _, _ = box_version
    job = export_request(version=version, format="coco", actor=alice)  # not committed: not run
    assert export_build_task(job.pk) == "done"
    job.refresh_from_db()
    name, finished_at = job.file.name, job.finished_at
    assert export_build_task(job.pk) == "done"
    job.refresh_from_db()
    assert (job.file.name, job.finished_at) == (name, finished_at)
    assert [e["event"] for e in emitted if e["event"] == "export.ready"] == ["export.ready"]
    assert emitted[-1]["payload"]["export_id"] == job.pk
    assert export_build_task(10**9) is None


def test_a_running_job_is_left_to_its_worker_until_its_heartbeat_goes_stale(
    box_version, alice, emitted
):
    version, _, _ = box_version
    job = export_request(version=version, format="yolo", actor=alice)
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(status="running", started_at=now, heartbeat_at=now)
    assert export_build(job_id=job.pk).status == ExportStatus.RUNNING
    stale = now - timedelta(hours=1)
    ExportJob.objects.filter(pk=job.pk).update(started_at=stale, heartbeat_at=stale)
    assert export_build(job_id=job.pk).status == ExportStatus.DONE


def test_a_build_error_marks_the_job_failed_with_the_reason(
    box_version, alice, emitted, monkeypatch
):
    version, _, _ = box_version
    job = export_request(version=version, format="coco", actor=alice)

    def broken(snapshot):
        raise ValueError("disk on fire")

    monkeypatch.setattr("workflows.golden.exports.coco.coco_build", broken)
    job = export_build(job_id=job.pk)
    assert job.status == ExportStatus.FAILED and "disk on fire" in job.error
    assert "export.ready" not in [e["event"] for e in emitted]


def test_request_refuses_unknown_formats_and_people_who_cannot_read_the_version(
    box_version, bob, wendy, rita
):
    version, _, _ = box_version
    with pytest.raises(InvalidInput):
        export_request(version=version, format="tfrecord", actor=version.created_by)
    for user in (bob, wendy, rita):
        with pytest.raises(Forbidden):
            export_request(version=version, format="coco", actor=user)


# -- API -------------------------------------------------------------------------------------


def test_api_export_request_status_and_download(api, box_version, aldo, alice):
    """The manager asks for an export; the auditor, who changes nothing, follows and reads it."""
    version, _, _ = box_version
    response = api(alice).post(f"/api/v1/golden-versions/{version.pk}/exports/",
                               {"format": "coco", "include_images": False}, format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued" and job["download_url"] is None
    assert api(aldo).get(f"/api/v1/exports/{job['id']}/download/").status_code == 409
    export_build_task(job["id"])
    status = api(aldo).get(f"/api/v1/exports/{job['id']}/").json()
    assert status["status"] == "done" and status["progress"] == 1.0
    assert status["download_url"].endswith(f"/api/v1/exports/{job['id']}/download/")
    download = api(alice).get(f"/api/v1/exports/{job['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert {"annotations.json", "manifest.json"} == set(archive.namelist())


def test_api_exports_are_hidden_from_workers_reviewers_and_other_managers(
    api, box_version, alice, bob, wendy, rita
):
    version, _, _ = box_version
    job = export_request(version=version, format="voc", actor=alice)
    export_build_task(job.pk)
    for user in (bob, wendy, rita):
        assert api(user).get(f"/api/v1/exports/{job.pk}/").status_code == 404
        assert api(user).get(f"/api/v1/exports/{job.pk}/download/").status_code == 404
        url = f"/api/v1/golden-versions/{version.pk}/exports/"
        assert api(user).post(url, {"format": "coco"}, format="json").status_code == 404


def test_api_an_auditor_reads_versions_but_asks_for_no_export(api, box_version, aldo):
    version, _, _ = box_version
    assert api(aldo).get(f"/api/v1/golden-versions/{version.pk}/").status_code == 200
    url = f"/api/v1/golden-versions/{version.pk}/exports/"
    assert api(aldo).post(url, {"format": "coco"}, format="json").status_code == 403
    assert not ExportJob.objects.exists()


def test_api_refuses_an_unknown_format(api, box_version, alice):
    version, _, _ = box_version
    response = api(alice).post(f"/api/v1/golden-versions/{version.pk}/exports/",
                               {"format": "tfrecord"}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_the_same_export_share_one_job(alice, rita):
    import threading

    from django.db import connection

    project = factories.make_project(owner=alice, reviewers=[rita])
    cat = project.label_schema.categories.first().pk
    make_golden(item=factories.make_item(project=project), payload=boxes((cat, 1, 1, 4, 4)),
                reviewer=rita)  # fmt: skip
    version = golden_version_freeze(project=project, actor=alice)
    jobs, barrier = [], threading.Barrier(4)

    def ask():
        barrier.wait()
        try:
            jobs.append(export_request(version=version, format="coco", actor=alice).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(jobs) == 4 and len(set(jobs)) == 1
    assert ExportJob.objects.get().status == ExportStatus.DONE
