"""Synthetic ground truth: :func:`make_synthetic_gt` places random boxes and star-shaped polygons
(optionally with keypoints) on blank images and returns them as a COCO dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workflows.consensus.simulate.shapes import (
    box_iou_xywh,
    clip_points,
    segmentation_box_area,
    star_polygon,
)

__all__ = ["make_synthetic_gt"]


def make_synthetic_gt(
    n_images: int,
    rng: np.random.Generator,
    *,
    width: int = 640,
    height: int = 480,
    categories: Sequence[str] = ("person", "car", "dog"),
    objects_per_image: tuple[int, int] = (1, 6),
    shape: str = "mixed",
    n_keypoints: int = 0,
    max_overlap: float = 0.3,
) -> dict[str, Any]:
    """A ground-truth COCO dict of ``n_images`` images holding random boxes and polygons.

    Parameters
    ----------
    shape : {"box", "polygon", "mixed"}
        Boxes carry only ``bbox``; polygons carry a star-shaped ``segmentation`` too; "mixed"
        picks per object.
    n_keypoints : int
        When > 0, every category gets that many keypoints and every object keypoints inside it.
    max_overlap : float
        Objects are placed by rejection so that no two overlap by more than this IoU, which
        still leaves touching and overlapping neighbours for the matching to untangle.
    """
    if shape not in ("box", "polygon", "mixed"):
        raise ValueError("shape must be 'box', 'polygon' or 'mixed'")
    if n_images < 0 or not categories:
        raise ValueError("need n_images >= 0 and at least one category")
    lo, hi = objects_per_image
    cats = []
    for i, name in enumerate(categories, start=1):
        cat: dict[str, Any] = {"id": i, "name": name, "supercategory": "object"}
        if n_keypoints:
            cat["keypoints"] = [f"kp{j}" for j in range(n_keypoints)]
            cat["skeleton"] = []
        cats.append(cat)
    images, annotations = [], []
    for image_id in range(1, n_images + 1):
        images.append(
            {
                "id": image_id,
                "width": width,
                "height": height,
                "file_name": f"synthetic_{image_id:06d}.png",
            }
        )
        boxes: list[tuple[float, float, float, float]] = []
        for _ in range(int(rng.integers(lo, hi + 1))):
            for _attempt in range(20):
                w = float(rng.uniform(0.06, 0.3)) * width
                h = float(rng.uniform(0.06, 0.3)) * height
                x = float(rng.uniform(0.0, width - w))
                y = float(rng.uniform(0.0, height - h))
                if all(box_iou_xywh((x, y, w, h), b) <= max_overlap for b in boxes):
                    break
            else:
                continue
            boxes.append((x, y, w, h))
            ann: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(rng.integers(1, len(cats) + 1)),
                "iscrowd": 0,
            }
            is_polygon = shape == "polygon" or (shape == "mixed" and rng.random() < 0.5)
            if is_polygon:
                pts = clip_points(
                    star_polygon(x + w / 2, y + h / 2, w / 2, h / 2, rng), width, height
                )
                ann["segmentation"] = [[round(float(v), 2) for v in pts.ravel()]]
                ann["bbox"], ann["area"] = segmentation_box_area(ann["segmentation"], width, height)
            else:
                ann["bbox"] = [round(v, 2) for v in (x, y, w, h)]
                ann["area"] = ann["bbox"][2] * ann["bbox"][3]
            if n_keypoints:
                bx, by, bw, bh = ann["bbox"]
                xy = rng.uniform((bx, by), (bx + bw, by + bh), (n_keypoints, 2))
                kps = np.column_stack([xy, np.full(n_keypoints, 2.0)])
                ann["keypoints"] = [round(float(v), 2) for v in kps.ravel()]
                ann["num_keypoints"] = n_keypoints
            annotations.append(ann)
    return {
        "info": {"description": "Quorum synthetic ground truth", "version": "1"},
        "images": images,
        "annotations": annotations,
        "categories": cats,
    }
