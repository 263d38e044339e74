"""COCO import as model pre-labels or as gold: matching, conversion, validation, all or nothing."""

import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from crowd.labeling.models import Annotation
from tests import factories
from workflows.golden.imports import coco_import
from workflows.projects.models import Item

pytestmark = pytest.mark.urls("tests.golden.urls")


def _coco(items, annotations, categories=(("cat", 7), ("dog", 9)), *, prefix="train/"):
    return {
        "images": [
            {
                "id": 100 + i,
                "file_name": f"{prefix}{item.original_name}",
                "width": item.width,
                "height": item.height,
            }
            for i, item in enumerate(items)
        ],  # fmt: skip
        "categories": [{"id": cid, "name": name} for name, cid in categories],
        "annotations": [
            {"id": n + 1, "image_id": 100 + index, "iscrowd": 0, **ann}
            for n, (index, ann) in enumerate(annotations)
        ],
    }


@pytest.fixture
def items(project):
    return [factories.make_item(project=project) for _ in range(2)]


@pytest.fixture
def cats(project):
    return {c.name: c.pk for c in project.label_schema.categories.all()}


def test_prelabels_become_one_model_annotation_per_image(project, alice, items, cats):
    coco = _coco(items, [(0, {"category_id": 9, "bbox": [1, 2, 10, 20]}),
                         (0, {"category_id": 7, "bbox": [5, 5, 3, 3]})])  # fmt: skip
    report = coco_import(project=project, coco=coco, as_="prelabels", actor=alice,
                         model_name="detector-v2")  # fmt: skip
    assert report.matched == 2 and len(report.created) == 2
    first = Annotation.objects.get(item=items[0])
    assert (first.source, first.model_name, first.worker, first.assignment) == (
        "model", "detector-v2", None, None,
    )  # fmt: skip
    assert first.kind == "bbox"
    assert first.payload == {"regions": [
        {"category_id": cats["dog"], "bbox": [1, 2, 10, 20]},
        {"category_id": cats["cat"], "bbox": [5, 5, 3, 3]},
    ]}  # fmt: skip
    # An image without annotations is the model saying "nothing here".
    assert Annotation.objects.get(item=items[1]).payload == {"regions": []}


def test_importing_the_same_prelabels_again_adds_nothing(project, alice, items):
    coco = _coco(items, [(0, {"category_id": 9, "bbox": [1, 2, 10, 20]})])
    coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    again = coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    assert again.created == [] and sorted(again.existing) == sorted(i.original_name for i in items)
    assert Annotation.objects.count() == 2


def test_unknown_categories_and_unmatched_images_refuse_the_import_and_name_them(
    project, alice, items
):
    coco = _coco(items, [(0, {"category_id": 9, "bbox": [1, 2, 10, 20]}),
                         (1, {"category_id": 5, "bbox": [1, 1, 4, 4]})],
                 categories=(("dog", 9), ("zebra", 5)))  # fmt: skip
    coco["images"].append({"id": 999, "file_name": "nowhere.png", "width": 64, "height": 48})
    with pytest.raises(InvalidInput) as refused:
        coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    assert "zebra" in refused.value.message and "nowhere.png" in refused.value.message
    assert refused.value.details["unknown_categories"] == ["zebra"]
    assert not Annotation.objects.exists()

    report = coco_import(project=project, coco=coco, as_="prelabels", actor=alice,
                         skip_unmatched=True)  # fmt: skip
    assert report.matched == 2 and report.skipped_annotations == 1
    assert report.unmatched_images == ["nowhere.png"] and report.unknown_categories == ["zebra"]
    assert Annotation.objects.get(item=items[1]).payload == {"regions": []}


def test_one_invalid_region_refuses_every_image(project, alice, items):
    coco = _coco(items, [(0, {"category_id": 9, "bbox": [1, 2, 10, 20]}),
                         (1, {"category_id": 9, "bbox": [50, 40, 30, 30]})])  # fmt: skip
    with pytest.raises(InvalidInput, match=items[1].original_name + ".*outside"):
        coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    assert not Annotation.objects.exists()


def test_boxes_a_rounding_error_outside_the_image_are_clipped(project, alice, items, cats):
    coco = _coco(items[:1], [(0, {"category_id": 9, "bbox": [-0.4, 10, 64.6, 38.5]})])
    coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    payload = Annotation.objects.get(item=items[0]).payload
    assert payload["regions"][0]["bbox"] == [0.0, 10, 64.0, 38]


def test_an_image_of_another_size_is_refused(project, alice, items):
    coco = _coco(items[:1], [])
    coco["images"][0]["width"] = 640
    with pytest.raises(InvalidInput, match="640x48"):
        coco_import(project=project, coco=coco, as_="gold", actor=alice)


def test_gold_import_makes_items_gold_with_validated_answers(project, alice, items, cats):
    coco = _coco(items, [(0, {"category_id": 7, "bbox": [1, 2, 10, 20]})])
    report = coco_import(project=project, coco=coco, as_="gold", actor=alice)
    assert sorted(report.created) == sorted(i.pk for i in items)
    first = Item.objects.get(pk=items[0].pk)
    assert first.is_gold
    assert first.gold_answer == {"regions": [{"category_id": cats["cat"], "bbox": [1, 2, 10, 20]}]}
    assert Item.objects.get(pk=items[1].pk).gold_answer == {"regions": []}
    assert not Annotation.objects.exists()


def test_gold_import_onto_an_annotated_item_is_refused_and_writes_nothing(
    project, alice, wendy, items
):
    assignment = factories.make_assignment(item=items[1], worker=wendy, status="submitted")
    factories.make_annotation(assignment=assignment)
    coco = _coco(items, [(0, {"category_id": 7, "bbox": [1, 2, 10, 20]})])
    with pytest.raises(Conflict):
        coco_import(project=project, coco=coco, as_="gold", actor=alice)
    assert not Item.objects.filter(is_gold=True).exists()


def test_bad_gold_geometry_is_refused_and_writes_nothing(project, alice, items):
    coco = _coco(items, [(0, {"category_id": 7, "bbox": [1, 2, 10, 20]}),
                         (1, {"category_id": 7, "bbox": [1, 2, 0, 20]})])  # fmt: skip
    with pytest.raises(InvalidInput, match="zero or negative"):
        coco_import(project=project, coco=coco, as_="gold", actor=alice)
    assert not Item.objects.filter(is_gold=True).exists()


@pytest.mark.parametrize("persona", ["bob", "wendy", "rita", "aldo"])
def test_only_the_manager_or_an_operator_may_import(project, items, persona, request):
    with pytest.raises(Forbidden):
        coco_import(project=project, coco=_coco(items, []), as_="gold",
                    actor=request.getfixturevalue(persona))  # fmt: skip


def test_polygons_and_masks_convert_to_the_project_kind(alice):
    triangle = [10, 10, 40, 10, 10, 30]
    poly_project = factories.make_project(owner=alice,
                                          schema=factories.make_schema(owner=alice, kind="polygon"))  # fmt: skip
    poly_item = factories.make_item(project=poly_project)
    coco = _coco(
        [poly_item], [(0, {"category_id": 7, "segmentation": [triangle, [50, 5, 60, 5, 55, 15]]})]
    )
    coco_import(project=poly_project, coco=coco, as_="prelabels", actor=alice)
    regions = Annotation.objects.get(item=poly_item).payload["regions"]
    assert [r["polygon"] for r in regions] == [triangle, [50, 5, 60, 5, 55, 15]]

    mask_project = factories.make_project(owner=alice,
                                          schema=factories.make_schema(owner=alice, kind="mask"))  # fmt: skip
    from_polygon, from_rle = (factories.make_item(project=mask_project) for _ in range(2))
    dense = np.zeros((48, 64), dtype=np.uint8)
    dense[8:20, 4:16] = 1
    flat = dense.flatten(order="F")
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [2]])) != 0)
    uncompressed = {"size": [48, 64], "counts": np.diff(np.concatenate([[0], changes])).tolist()}
    coco = _coco([from_polygon, from_rle], [(0, {"category_id": 7, "segmentation": [triangle]}),
                                            (1, {"category_id": 9, "segmentation": uncompressed})])  # fmt: skip
    coco_import(project=mask_project, coco=coco, as_="prelabels", actor=alice)
    rle = Annotation.objects.get(item=from_rle).payload["regions"][0]["rle"]
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    np.testing.assert_array_equal(decoded, dense)
    poly_rle = Annotation.objects.get(item=from_polygon).payload["regions"][0]["rle"]
    assert mask_utils.area({"size": [48, 64], "counts": poly_rle["counts"].encode()}) > 250


def test_keypoints_import_keeps_points_and_refuses_a_wrong_count(alice):
    project = factories.make_project(owner=alice,
                                     schema=factories.make_schema(owner=alice, kind="keypoints"))  # fmt: skip
    item = factories.make_item(project=project)
    coco = _coco([item], [(0, {"category_id": 7, "keypoints": [10, 12, 2, 0, 0, 0]})])
    coco_import(project=project, coco=coco, as_="prelabels", actor=alice)
    assert Annotation.objects.get(item=item).payload["regions"][0]["keypoints"] == [
        10, 12, 2, 0, 0, 0,
    ]  # fmt: skip
    other = factories.make_item(project=project)
    coco = _coco([other], [(0, {"category_id": 7, "keypoints": [10, 12, 2]})])
    with pytest.raises(InvalidInput, match="each of the 2 points"):
        coco_import(project=project, coco=coco, as_="prelabels", actor=alice, model_name="m2")


def test_export_then_import_round_trips_a_golden_version_as_prelabels(
    project, alice, rita, items, cats, django_capture_on_commit_callbacks, monkeypatch
):
    from tests.golden.golden_factories import boxes, make_golden
    from workflows.golden.exports.services import export_request
    from workflows.golden.versions import golden_version_freeze

    for emitter in ("versions", "exports.services"):
        monkeypatch.setattr(f"workflows.golden.{emitter}.webhook_emit", lambda **kwargs: None)
    payload = boxes((cats["dog"], 1.5, 2, 10, 20), (cats["cat"], 30, 10, 5, 5))
    make_golden(item=items[0], payload=payload, reviewer=rita)
    version = golden_version_freeze(project=project, actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_request(version=version, format="coco", actor=alice, include_images=False)
    job.refresh_from_db()
    import zipfile

    with job.file.open("rb") as handle:
        coco = json.loads(zipfile.ZipFile(io.BytesIO(handle.read())).read("annotations.json"))
    coco_import(project=project, coco=coco, as_="prelabels", actor=alice, model_name="roundtrip")
    assert Annotation.objects.get(item=items[0], model_name="roundtrip").payload == payload


# -- API -------------------------------------------------------------------------------------


def test_api_imports_a_json_body_and_a_multipart_file(api, project, alice, items):
    url = f"/api/v1/projects/{project.pk}/imports/coco/"
    coco = _coco(items[:1], [(0, {"category_id": 9, "bbox": [1, 2, 10, 20]})])
    response = api(alice).post(url, {"coco": coco, "as_": "prelabels", "model_name": "m1"},
                               format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    upload = io.BytesIO(json.dumps(_coco(items[1:], [])).encode())
    upload.name = "instances.json"
    response = api(alice).post(url, {"file": upload, "as_": "gold"}, format="multipart")
    assert response.status_code == 201, response.content
    assert Item.objects.get(pk=items[1].pk).is_gold


def test_api_import_refusals(api, project, alice, aldo, items):
    url = f"/api/v1/projects/{project.pk}/imports/coco/"
    coco = _coco(
        items[:1], [(0, {"category_id": 5, "bbox": [1, 2, 10, 20]})], categories=(("zebra", 5),)
    )
    refused = api(alice).post(url, {"coco": coco, "as_": "gold"}, format="json")
    assert refused.status_code == 400 and "zebra" in refused.json()["error"]["message"]
    assert api(alice).post(url, {"as_": "gold"}, format="json").status_code == 400
    bad_file = io.BytesIO(b"not json")
    bad_file.name = "x.json"
    assert api(alice).post(url, {"file": bad_file, "as_": "gold"}).status_code == 400
    assert api(aldo).post(url, {"coco": coco, "as_": "gold"}, format="json").status_code == 403
    assert not Item.objects.filter(is_gold=True).exists()
