"""The per-image noise model: how one simulated worker labels one image.

Misses, false objects, duplicates, one box over two touching objects and wrong classes are
decided per ground-truth object; each drawn object is the truth moved by one affine map, with
noisy polygon vertices (then simplified), a noisy RLE boundary and noisy keypoints. The rates
are the :class:`~workflows.consensus.simulate.workers.WorkerProfile` fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage

from workflows.consensus.simulate.shapes import (
    MIN_SIZE,
    as_rle,
    box_from_corners,
    clip_points,
    segmentation_box_area,
    simplify_polygon,
    star_polygon,
)
from workflows.consensus.simulate.workers import WorkerProfile

__all__ = ["ImageContext", "annotate_image"]


@dataclass(frozen=True)
class ImageContext:
    """One image as the noise model sees it: its size, its true objects, the category ids
    and the number of keypoints of each category."""

    width: int
    height: int
    objects: list[dict[str, Any]]
    cat_ids: list[int]
    n_kps: dict[int, int]


def annotate_image(
    ctx: ImageContext, worker: WorkerProfile, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """One worker's annotations of one image (without ids)."""
    if worker.kind == "spammer":
        n_random = int(rng.poisson(max(len(ctx.objects), 1)))
        return [_random_object(ctx, rng) for _ in range(n_random)]
    out: list[dict[str, Any]] = []
    merged_away: set[int] = set()
    for idx, obj in enumerate(ctx.objects):
        # Draw every decision up front, in a fixed order, to keep the stream reproducible.
        missed = rng.random() < worker.miss_rate
        duplicate = rng.random() < worker.duplicate_rate
        merge = rng.random() < worker.merge_rate
        if missed or idx in merged_away:
            continue
        ann = _noisy_object(obj, worker, ctx, rng)
        partner = _touching_partner(ctx.objects, idx, merged_away) if merge else None
        if partner is not None:
            merged_away.add(partner)
            ann = _merge_annotations(ann, _noisy_object(ctx.objects[partner], worker, ctx, rng))
        out.append(ann)
        if duplicate:
            out.append(_noisy_object(obj, worker, ctx, rng))
    for _ in range(int(rng.poisson(worker.extra_rate))):
        out.append(_random_object(ctx, rng))
    return out


def _noisy_object(
    obj: dict[str, Any], worker: WorkerProfile, ctx: ImageContext, rng: np.random.Generator
) -> dict[str, Any]:
    """A worker's version of one ground-truth object: moved, rescaled, noised, maybe relabelled."""
    x, y, w, h = (float(v) for v in obj["bbox"])
    w, h = max(w, MIN_SIZE), max(h, MIN_SIZE)
    # Independent edge noise sigma*w on x1 and x2 is a centre shift of sigma*w/sqrt(2) and a width
    # change of sigma*w*sqrt(2); one affine map applies it to every kind of geometry alike.
    shift = rng.normal(0.0, worker.jitter / math.sqrt(2.0), 2) * (w, h)
    scale = math.exp(worker.scale_bias) + rng.normal(0.0, worker.jitter * math.sqrt(2.0), 2)
    scale = np.maximum(scale, 0.2)
    centre = np.array([x + w / 2.0, y + h / 2.0])

    def move(points: np.ndarray) -> np.ndarray:
        return centre + shift + (points - centre) * scale

    size = math.sqrt(w * h)
    category = int(obj["category_id"])
    if len(ctx.cat_ids) > 1 and rng.random() < worker.confusion_rate:
        category = int(rng.choice([c for c in ctx.cat_ids if c != category]))
    ann: dict[str, Any] = {"category_id": category, "iscrowd": 0}
    seg = obj.get("segmentation")
    if isinstance(seg, list) and seg:
        polygons = []
        for poly in seg:
            pts = move(np.asarray(poly, dtype=float).reshape(-1, 2))
            pts = pts + rng.normal(0.0, worker.vertex_noise * size, pts.shape)
            pts = simplify_polygon(pts, worker.simplify * size)
            pts = clip_points(pts, ctx.width, ctx.height)
            if len(pts) >= 3:
                polygons.append([round(float(v), 2) for v in pts.ravel()])
        if polygons:
            ann["segmentation"] = polygons
    elif isinstance(seg, dict):
        ann["segmentation"] = _noisy_rle(seg, move, worker.vertex_noise * size, ctx, rng)
    if "segmentation" in ann:
        ann["bbox"], ann["area"] = segmentation_box_area(ann["segmentation"], ctx.width, ctx.height)
    else:
        corners = clip_points(move(np.array([[x, y], [x + w, y + h]])), ctx.width, ctx.height)
        ann["bbox"] = box_from_corners(corners, ctx.width, ctx.height)
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    kps = obj.get("keypoints")
    if kps and ctx.n_kps.get(category, 0) == len(kps) // 3:
        ann["keypoints"], ann["num_keypoints"] = _noisy_keypoints(
            kps, move, worker.keypoint_noise * size, worker.miss_rate, ctx, rng
        )
    return ann


def _noisy_keypoints(
    kps: Sequence[float],
    move: Any,
    sigma: float,
    drop_rate: float,
    ctx: ImageContext,
    rng: np.random.Generator,
) -> tuple[list[float], int]:
    arr = np.asarray(kps, dtype=float).reshape(-1, 3)
    xy = move(arr[:, :2]) + rng.normal(0.0, sigma, (len(arr), 2))
    xy = clip_points(xy, ctx.width, ctx.height)
    dropped = rng.random(len(arr)) < drop_rate
    visible = (arr[:, 2] > 0) & ~dropped
    out = np.column_stack([xy, arr[:, 2]])
    out[~visible] = 0.0
    return [round(float(v), 2) for v in out.ravel()], int(visible.sum())


def _noisy_rle(
    seg: dict[str, Any],
    move: Any,
    boundary_sigma: float,
    ctx: ImageContext,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Apply the worker's affine map to a mask, then erode or dilate its boundary a little."""
    rle = seg
    if isinstance(seg.get("counts"), list):
        rle = mask_utils.frPyObjects(seg, *seg["size"])
    mask = mask_utils.decode(rle).astype(bool)
    # affine_transform maps output coordinates to input ones, so invert move(): p = c + s + (q-c)k
    # gives q = c + (p - c - s) / k. Arrays are (row, col), hence the (y, x) order below.
    probe = move(np.array([[0.0, 0.0], [1.0, 1.0]]))
    k = probe[1] - probe[0]
    offset_xy = probe[0]
    matrix = np.array([1.0 / k[1], 1.0 / k[0]])
    offset = np.array([-offset_xy[1] / k[1], -offset_xy[0] / k[0]])
    moved = ndimage.affine_transform(mask.astype(np.uint8), matrix, offset=offset, order=0) > 0
    steps = int(round(abs(rng.normal(0.0, boundary_sigma))))
    if steps and moved.any():
        op = ndimage.binary_dilation if rng.random() < 0.5 else ndimage.binary_erosion
        changed = op(moved, iterations=steps)
        moved = changed if changed.any() else moved
    encoded = mask_utils.encode(np.asfortranarray(moved.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def _random_object(ctx: ImageContext, rng: np.random.Generator) -> dict[str, Any]:
    """A false object: a random shape with a random class, sized like the image's real ones."""
    if ctx.objects:
        template = ctx.objects[int(rng.integers(len(ctx.objects)))]
        w, h = (max(float(v), 4.0) for v in template["bbox"][2:])
    else:
        template = None
        w = float(rng.uniform(0.05, 0.3)) * ctx.width
        h = float(rng.uniform(0.05, 0.3)) * ctx.height
    w, h = min(w, ctx.width), min(h, ctx.height)
    x = float(rng.uniform(0.0, ctx.width - w))
    y = float(rng.uniform(0.0, ctx.height - h))
    category = int(rng.choice(ctx.cat_ids))
    ann: dict[str, Any] = {"category_id": category, "iscrowd": 0}
    seg = template.get("segmentation") if template else None
    if seg:
        pts = star_polygon(x + w / 2, y + h / 2, w / 2, h / 2, rng)
        pts = clip_points(pts, ctx.width, ctx.height)
        ann["segmentation"] = [[round(float(v), 2) for v in pts.ravel()]]
        ann["bbox"], ann["area"] = segmentation_box_area(ann["segmentation"], ctx.width, ctx.height)
    else:
        ann["bbox"] = [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    n_kps = ctx.n_kps.get(category, 0)
    if n_kps:
        xy = rng.uniform((x, y), (x + w, y + h), (n_kps, 2))
        ann["keypoints"] = [
            round(float(v), 2) for v in np.column_stack([xy, np.full(n_kps, 2)]).ravel()
        ]
        ann["num_keypoints"] = n_kps
    return ann


def _touching_partner(objects: list[dict[str, Any]], idx: int, taken: set[int]) -> int | None:
    """The next object (after ``idx``) whose box overlaps or touches ``objects[idx]``'s box."""
    x, y, w, h = objects[idx]["bbox"]
    for j in range(idx + 1, len(objects)):
        if j in taken:
            continue
        ox, oy, ow, oh = objects[j]["bbox"]
        # A 5% margin counts boxes that nearly touch, as a hurried worker would lump them.
        mx, my = 0.05 * max(w, ow), 0.05 * max(h, oh)
        if x - mx <= ox + ow and ox - mx <= x + w and y - my <= oy + oh and oy - my <= y + h:
            return j
    return None


def _merge_annotations(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One annotation covering both: union box, both polygons (or both masks) as one object."""
    ax, ay, aw, ah = a["bbox"]
    bx, by, bw, bh = b["bbox"]
    x1, y1 = min(ax, bx), min(ay, by)
    x2, y2 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    merged = dict(a, bbox=[x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)])
    merged["area"] = merged["bbox"][2] * merged["bbox"][3]
    sa, sb = a.get("segmentation"), b.get("segmentation")
    if isinstance(sa, list) and isinstance(sb, list):
        merged["segmentation"] = sa + sb
        merged["area"] = a["area"] + b["area"]
    elif isinstance(sa, dict) and isinstance(sb, dict):
        rle = mask_utils.merge([as_rle(sa), as_rle(sb)])
        merged["segmentation"] = {"size": list(rle["size"]), "counts": rle["counts"].decode()}
        merged["area"] = float(mask_utils.area(rle))
    else:
        merged.pop("segmentation", None)
    merged.pop("keypoints", None)
    merged.pop("num_keypoints", None)
    return merged
