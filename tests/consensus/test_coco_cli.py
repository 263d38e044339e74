"""merge_coco and the command line round-trip through pycocotools COCO and COCOeval."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from workflows.consensus.coco import METHODS, merge_coco
from workflows.consensus.masks import mask_to_polygons

ROOT = Path(__file__).resolve().parents[2]


def synthetic(seed=0, n_images=25, n_workers=5, masks=False):
    """A ground truth and a crowd of noisy annotators (one spammer) for it."""
    rng = np.random.default_rng(seed)
    images, gt_anns, crowd = [], [], []
    for i in range(n_images):
        images.append(
            {
                "id": i + 1,
                "width": 640,
                "height": 480,
                "file_name": f"{i}.jpg",
                "annotator_ids": [f"w{w}" for w in range(n_workers)],
            }
        )
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(30, 120), rng.uniform(30, 120)
            cat = int(rng.integers(1, 3))
            gt_anns.append(
                {
                    "id": len(gt_anns) + 1,
                    "image_id": i + 1,
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
            for wk in range(n_workers):
                if wk == 4 and rng.random() < 0.7:  # the spammer misses most objects
                    continue
                b = np.array([x, y, x + w, y + h]) + rng.normal(0, 2.5, 4)
                ann = {
                    "id": len(crowd) + 1,
                    "image_id": i + 1,
                    "category_id": cat,
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    "annotator_id": f"w{wk}",
                }
                if masks:
                    m = np.zeros((480, 640), bool)
                    x1, y1, x2, y2 = np.clip(np.round(b), 0, [640, 480, 640, 480]).astype(int)
                    m[y1:y2, x1:x2] = True
                    ann["segmentation"] = [p.tolist() for p in mask_to_polygons(m)]
                crowd.append(ann)
        if rng.random() < 0.5:  # the spammer's junk box
            crowd.append(
                {
                    "id": len(crowd) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": [600, 440, 30, 30],
                    "annotator_id": "w4",
                }
            )
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    gt = {"images": images, "annotations": gt_anns, "categories": cats}
    return gt, {"images": images, "annotations": crowd, "categories": cats}


def evaluate(gt, result_anns, iou_type="bbox"):
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = json.loads(json.dumps(gt))
        cg.createIndex()
        cd = cg.loadRes(json.loads(json.dumps(result_anns)))
        ev = COCOeval(cg, cd, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_merge_coco_output_loads_and_scores_well():
    gt, ds = synthetic()
    result, report = merge_coco(ds)
    json.dumps(report)
    stats = evaluate(gt, result["annotations"])
    assert stats[1] > 0.9  # AP at IoU 0.5
    ann = result["annotations"][0]
    for key in ("score", "source_annotation_ids", "support", "uncertainty", "bbox"):
        assert key in ann
    assert {w["annotator_id"] for w in report["workers"]} == {f"w{k}" for k in range(5)}
    spam = next(w for w in report["workers"] if w["annotator_id"] == "w4")
    good = [w for w in report["workers"] if w["annotator_id"] != "w4"]
    assert spam["recall"] < min(w["recall"] for w in good)
    assert report["project"]["quality_rounds"] == 2


def test_masks_round_trip_with_segmentation():
    gt, ds = synthetic(1, n_images=6, masks=True)
    result, _ = merge_coco(ds, method="staple")
    assert result["annotations"] and all("segmentation" in a for a in result["annotations"])
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    assert evaluate(gt, result["annotations"], "segm")[1] > 0.9


def test_weights_and_errors():
    _, ds = synthetic(2, n_images=5)
    _, report = merge_coco(ds, weights={"w0": 2.0})
    assert report["project"]["quality_rounds"] == 0
    with pytest.raises(ValueError, match="method"):
        merge_coco(ds, method="nope")
    assert "auto" in METHODS and "robust" in METHODS and "staple" in METHODS


def test_cli_round_trip(tmp_path):
    gt, ds = synthetic(3)
    src, out, rep = tmp_path / "in.json", tmp_path / "out.json", tmp_path / "report.json"
    src.write_text(json.dumps(ds))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workflows.consensus",
            "merge",
            str(src),
            "-o",
            str(out),
            "--iou",
            "0.5",
            "--quorum",
            "0.5",
            "--method",
            "robust",
            "--report",
            str(rep),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = COCO(str(out))
    assert len(loaded.getAnnIds()) == len(json.loads(out.read_text())["annotations"])
    assert evaluate(gt, json.loads(out.read_text())["annotations"])[1] > 0.9
    assert "project" in json.loads(rep.read_text())


def test_box_fast_path_agrees_with_the_item_path_and_keeps_ids():
    """The array path of ``merge_coco`` (boxes) gives the annotations of ``coco_to_items`` +
    ``merge_items`` + ``fused_to_coco``, whatever the id types, with clear errors."""
    from workflows.consensus.coco import coco_to_items
    from workflows.consensus.merge import fused_to_coco, merge_items
    from workflows.consensus.types import MergeParams, ShapeKind

    _, ds = synthetic(3, n_images=12)
    result, _ = merge_coco(ds, quality_rounds=0)
    items = coco_to_items(ds["images"], ds["annotations"], ShapeKind.BOX)
    res = merge_items(items, MergeParams())
    slow = [a for r, it in zip(res, items, strict=True) for a in fused_to_coco(r, it)]
    fast = result["annotations"]
    assert len(fast) == len(slow) > 0
    for f, s in zip(fast, slow, strict=True):
        assert f["image_id"] == s["image_id"] and f["category_id"] == s["category_id"]
        assert np.allclose(f["bbox"], s["bbox"])
        assert f["source_annotation_ids"] == s["source_annotation_ids"]
    # Integer annotator ids (identity mapping) give the same boxes as the string ids.
    as_int = {
        **ds,
        "images": [
            {**im, "annotator_ids": [int(w[1:]) for w in im["annotator_ids"]]}
            for im in ds["images"]
        ],
        "annotations": [
            {**a, "annotator_id": int(a["annotator_id"][1:])} for a in ds["annotations"]
        ],
    }
    again, _ = merge_coco(as_int, quality_rounds=0)
    assert [a["bbox"] for a in again["annotations"]] == [a["bbox"] for a in fast]
    # Annotations without an id are numbered by position.
    no_ids = {
        **ds,
        "annotations": [{k: v for k, v in a.items() if k != "id"} for a in ds["annotations"]],
    }
    out, _ = merge_coco(no_ids, quality_rounds=0)
    first = out["annotations"][0]["source_annotation_ids"]
    assert first == [i - 1 for i in fast[0]["source_annotation_ids"]]
    bad = {**ds, "annotations": [*ds["annotations"], {"image_id": 1, "bbox": [0, 0, 1, 1]}]}
    with pytest.raises(ValueError, match="annotator_id"):
        merge_coco(bad)
    bad = {
        **ds,
        "annotations": [
            *ds["annotations"],
            {"image_id": 999, "bbox": [0, 0, 1, 1], "annotator_id": "w0"},
        ],
    }
    with pytest.raises(ValueError, match="unknown image"):
        merge_coco(bad)
