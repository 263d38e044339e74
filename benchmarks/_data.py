"""Loaders for the real crowd data sets under ``shared/bench-data`` (read in place, never copied).

Set ``QUORUM_BENCH_DATA`` to point elsewhere; the default is ``../shared/bench-data`` next to the
repository, as DESIGN.md and the data README describe.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DATA = Path(
    os.environ.get(
        "QUORUM_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "bench-data"
    )
)
PEDESTRIAN_FILE = BENCH_DATA / "lean_pedestrian_boxes" / "boxes.json.gz"
CROWDSEG_DIR = BENCH_DATA / "crowdseg_coco_polygons"
PEDESTRIAN_CATEGORY = 1


@dataclass(frozen=True)
class PedestrianImage:
    """One image of the Lean Crowdsourcing pedestrian set: its workers in file order and truth."""

    image_id: int
    width: int
    height: int
    workers: tuple[int, ...]  # annotator ids ("w06" -> 6), in the order the file gives them
    boxes: tuple[np.ndarray, ...]  # one (n, 4) float64 x1, y1, x2, y2 array per worker
    expert: np.ndarray | None  # (m, 4) x1, y1, x2, y2, or None when no expert labelled it


@cache
def load_pedestrians(path: Path = PEDESTRIAN_FILE) -> tuple[PedestrianImage, ...]:
    """All 1,448 images, in ascending id order; worker answers keep the file's order."""
    with gzip.open(path, "rt") as fh:
        raw = json.load(fh)
    answers: dict[str, list[tuple[int, np.ndarray]]] = {}
    for row in raw["worker_annotations"]:
        boxes = np.asarray(row["boxes"], dtype=np.float64).reshape(-1, 4)
        answers.setdefault(row["image_id"], []).append((int(row["worker"].lstrip("w")), boxes))
    images = []
    for key in sorted(raw["images"], key=int):
        meta = raw["images"][key]
        expert = raw["expert_gt"].get(key)
        rows = answers.get(key, [])
        images.append(
            PedestrianImage(
                image_id=int(key),
                width=int(meta["width"]),
                height=int(meta["height"]),
                workers=tuple(w for w, _ in rows),
                boxes=tuple(b for _, b in rows),
                expert=None if expert is None else np.asarray(expert, float).reshape(-1, 4),
            )
        )
    return tuple(images)


def pedestrian_coco(images: tuple[PedestrianImage, ...] | list[PedestrianImage], k: int) -> dict:
    """Crowd COCO of the first ``k`` workers of each image, as ``merge_coco`` takes it.

    Every image lists its ``annotator_ids``, so a worker who drew no box votes "no pedestrian".
    """
    coco_images, annotations = [], []
    for img in images:
        workers = img.workers[:k]
        coco_images.append(
            {
                "id": img.image_id,
                "width": img.width,
                "height": img.height,
                "annotator_ids": list(workers),
            }
        )
        for worker, boxes in zip(workers, img.boxes[:k], strict=True):
            for x1, y1, x2, y2 in boxes.tolist():
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": img.image_id,
                        "category_id": PEDESTRIAN_CATEGORY,
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "area": (x2 - x1) * (y2 - y1),
                        "iscrowd": 0,
                        "annotator_id": worker,
                    }
                )
    return {
        "images": coco_images,
        "annotations": annotations,
        "categories": [{"id": PEDESTRIAN_CATEGORY, "name": "pedestrian"}],
    }


# --------------------------------------------------------------------------- CrowdSeg polygons


@dataclass(frozen=True)
class SegObject:
    """One CrowdSeg object: its image size, its truth polygon and every worker polygon."""

    object_id: int
    name: str
    width: int
    height: int
    gt: list[float]  # flat COCO polygon x0, y0, x1, y1, ...
    workers: tuple[int, ...]  # in file order
    polygons: tuple[list[float], ...]


def _flat_polygon(x_locs: str, y_locs: str) -> list[float] | None:
    xs, ys = json.loads(x_locs.replace("None", "null")), json.loads(y_locs.replace("None", "null"))
    if any(v is None for v in xs + ys) or len(xs) != len(ys) or len(xs) < 3:
        return None
    return [float(v) for pair in zip(xs, ys, strict=True) for v in pair]


def _read_csv(name: str, root: Path) -> list[dict[str, str]]:
    with open(root / name, newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def load_crowdseg(root: Path = CROWDSEG_DIR) -> tuple[tuple[SegObject, ...], int]:
    """All objects with truth, in id order, and the number of worker rows skipped.

    Rows with ``None`` vertices (and polygons under three vertices) are skipped, as the data
    README asks; the count is returned so a benchmark can print it.
    """
    images = {r["image_id"]: r for r in _read_csv("images.csv", root)}
    objects = {r["object_id"]: r for r in _read_csv("objects.csv", root)}
    gt = {
        r["object_id"]: _flat_polygon(r["x_locs"], r["y_locs"])
        for r in _read_csv("gt_polygons.csv", root)
    }
    per_object: dict[str, list[tuple[int, list[float]]]] = {}
    skipped = 0
    for row in _read_csv("worker_polygons.csv", root):
        poly = _flat_polygon(row["x_locs"], row["y_locs"])
        if poly is None:
            skipped += 1
            continue
        per_object.setdefault(row["object_id"], []).append((int(row["worker_id"]), poly))
    out = []
    for oid in sorted(objects, key=int):
        if gt.get(oid) is None or oid not in per_object:
            continue
        image = images[objects[oid]["image_id"]]
        rows = per_object[oid]
        out.append(
            SegObject(
                object_id=int(oid),
                name=objects[oid]["name"],
                width=int(image["width"]),
                height=int(image["height"]),
                gt=gt[oid],
                workers=tuple(w for w, _ in rows),
                polygons=tuple(p for _, p in rows),
            )
        )
    return tuple(out), skipped


def crowdseg_coco(objects: list[tuple[SegObject, list[int]]]) -> dict[str, Any]:
    """Crowd COCO with one image per object (the task a CrowdSeg worker saw), from chosen rows.

    ``objects`` pairs each object with the indices of the worker polygons to use.
    """
    images, annotations = [], []
    for obj, rows in objects:
        workers = [obj.workers[i] for i in rows]
        images.append(
            {
                "id": obj.object_id,
                "width": obj.width,
                "height": obj.height,
                "annotator_ids": workers,
            }
        )
        for i in rows:
            xs, ys = obj.polygons[i][0::2], obj.polygons[i][1::2]
            x1, y1 = min(xs), min(ys)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": obj.object_id,
                    "category_id": 1,
                    "segmentation": [obj.polygons[i]],
                    "bbox": [x1, y1, max(xs) - x1, max(ys) - y1],
                    "area": (max(xs) - x1) * (max(ys) - y1),
                    "iscrowd": 0,
                    "annotator_id": obj.workers[i],
                }
            )
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}],
    }
