"""Crowd simulator: realistic multi-annotator COCO labels made from a ground-truth COCO set.

Benchmarks, tests and the demo use it when they need to know the truth behind a crowd. Every
simulated annotation carries ``annotator_id``, every image lists its ``annotator_ids`` (so that a
worker who drew nothing still counts as a "nothing here" vote), and the :class:`WorkerProfile` that
generated each annotator is returned beside the data so quality estimates can be checked.

Error model, per worker (all rates are probabilities per ground-truth object unless stated):

- localisation: each box edge moves by ``N(0, jitter * size)``; the object is scaled about its
  centre by ``exp(scale_bias)`` (loose or tight boxes), applied as one affine map so boxes,
  polygons, masks and keypoints of an object move together;
- polygons: vertex noise ``N(0, vertex_noise * sqrt(w * h))`` and Douglas-Peucker simplification
  with tolerance ``simplify * sqrt(w * h)`` (workers click fewer points than the truth has);
- masks (RLE): the same affine map plus a random erosion or dilation of the boundary;
- missed objects (``miss_rate``), extra objects (Poisson with mean ``extra_rate`` per image),
  a second box on one object (``duplicate_rate``), one box over two touching objects
  (``merge_rate``) and a wrong class (``confusion_rate``);
- spammers draw random shapes with random classes, about as many as the image holds;
  experts are careful workers with small noise and almost no misses.

Example
-------
>>> rng = np.random.default_rng(0)
>>> gt = make_synthetic_gt(4, rng)
>>> crowd = simulate_crowd(gt, CrowdProfile(n_workers=6, workers_per_image=3), rng)
>>> len(crowd.workers), len(crowd.coco["images"][0]["annotator_ids"])
(6, 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage

__all__ = [
    "WORKER_KINDS",
    "CrowdProfile",
    "SimulatedCrowd",
    "WorkerProfile",
    "make_synthetic_gt",
    "make_workers",
    "simulate_crowd",
]

WORKER_KINDS = ("normal", "expert", "spammer")

# Rates that must be probabilities; the other float fields only need to be finite and >= 0.
_PROBABILITY_FIELDS = ("miss_rate", "duplicate_rate", "merge_rate", "confusion_rate")
_MIN_SIZE = 1.0  # px: a simulated box never collapses below one pixel


@dataclass(frozen=True)
class WorkerProfile:
    """How one simulated annotator labels; the simulator's ground truth about that worker.

    Parameters
    ----------
    annotator_id : int
        Written as ``annotator_id`` on every annotation this worker makes.
    kind : {"normal", "expert", "spammer"}
        Spammers ignore the image and draw random shapes with random classes; the other
        fields then only describe what such a worker's shapes look like.
    jitter : float
        Standard deviation of each box edge, as a fraction of the object's width or height.
    scale_bias : float
        Log of the systematic size factor: ``0.1`` draws boxes about 10% too large.
    miss_rate, duplicate_rate, merge_rate, confusion_rate : float
        Probabilities per ground-truth object of skipping it, drawing it twice, drawing one box
        over it and a touching neighbour, and giving it a wrong class.
    extra_rate : float
        Mean number of false objects per image (Poisson).
    vertex_noise, simplify, keypoint_noise : float
        Polygon vertex noise, Douglas-Peucker tolerance and keypoint noise, as fractions of
        ``sqrt(w * h)`` of the object.
    """

    annotator_id: int
    kind: str = "normal"
    jitter: float = 0.04
    scale_bias: float = 0.0
    miss_rate: float = 0.05
    extra_rate: float = 0.05
    duplicate_rate: float = 0.0
    merge_rate: float = 0.0
    confusion_rate: float = 0.0
    vertex_noise: float = 0.02
    simplify: float = 0.0
    keypoint_noise: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in WORKER_KINDS:
            raise ValueError(f"kind must be one of {WORKER_KINDS}, got {self.kind!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("annotator_id", "kind", "scale_bias"):
                continue
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be finite and >= 0, got {value!r}")
            if f.name in _PROBABILITY_FIELDS and value > 1:
                raise ValueError(f"{f.name} is a probability, got {value!r}")
        if not math.isfinite(self.scale_bias):
            raise ValueError("scale_bias must be finite")

    @property
    def quality(self) -> float:
        """A number in [0, 1] that orders workers by how good their labels are.

        The expected share of objects found with the right class, divided by the false-object
        load and discounted for localisation error; spammers score 0. It is a ranking summary
        (for rank correlations with estimated weights), not a calibrated probability.
        """
        if self.kind == "spammer":
            return 0.0
        found = (1.0 - self.miss_rate) * (1.0 - self.confusion_rate)
        noise = found / (1.0 + self.extra_rate + self.duplicate_rate + self.merge_rate)
        return float(noise * math.exp(-(2.5 * self.jitter + 2.0 * abs(self.scale_bias))))


@dataclass(frozen=True)
class CrowdProfile:
    """A crowd: its size, its mix of worker kinds and the ranges normal workers are drawn from.

    Each normal worker draws every parameter uniformly from its ``(low, high)`` range, so two
    normal workers differ the way real ones do. Experts use ``expert`` (a template whose
    ``annotator_id`` is replaced). ``workers_per_image`` distinct workers label each image.
    """

    n_workers: int = 20
    workers_per_image: int = 5
    spammer_share: float = 0.1
    expert_share: float = 0.1
    jitter: tuple[float, float] = (0.02, 0.08)
    scale_bias: tuple[float, float] = (-0.08, 0.08)
    miss_rate: tuple[float, float] = (0.02, 0.15)
    extra_rate: tuple[float, float] = (0.0, 0.15)
    duplicate_rate: tuple[float, float] = (0.0, 0.04)
    merge_rate: tuple[float, float] = (0.0, 0.1)
    confusion_rate: tuple[float, float] = (0.0, 0.1)
    vertex_noise: tuple[float, float] = (0.01, 0.04)
    simplify: tuple[float, float] = (0.0, 0.03)
    keypoint_noise: tuple[float, float] = (0.01, 0.05)
    expert: WorkerProfile = WorkerProfile(
        annotator_id=0,
        kind="expert",
        jitter=0.01,
        miss_rate=0.01,
        extra_rate=0.0,
        vertex_noise=0.005,
        keypoint_noise=0.005,
    )

    def __post_init__(self) -> None:
        if self.n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        if not 1 <= self.workers_per_image <= self.n_workers:
            raise ValueError("workers_per_image must be between 1 and n_workers")
        if not (0 <= self.spammer_share <= 1 and 0 <= self.expert_share <= 1):
            raise ValueError("spammer_share and expert_share must be in [0, 1]")
        if self.spammer_share + self.expert_share > 1:
            raise ValueError("spammer_share + expert_share must not exceed 1")
        for name in _NORMAL_RANGES:
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} range must be (low, high), got {(low, high)}")


_NORMAL_RANGES = (
    "jitter",
    "scale_bias",
    "miss_rate",
    "extra_rate",
    "duplicate_rate",
    "merge_rate",
    "confusion_rate",
    "vertex_noise",
    "simplify",
    "keypoint_noise",
)


class SimulatedCrowd(NamedTuple):
    """What :func:`simulate_crowd` returns: the crowd's COCO dict and each worker's profile."""

    coco: dict[str, Any]
    workers: tuple[WorkerProfile, ...]


def make_workers(
    profile: CrowdProfile, rng: np.random.Generator, *, first_id: int = 1
) -> tuple[WorkerProfile, ...]:
    """Draw ``profile.n_workers`` workers with ids ``first_id, first_id + 1, ...``.

    Kinds are shuffled, so an id says nothing about whether its worker is a spammer.
    """
    n = profile.n_workers
    n_spam = round(profile.spammer_share * n)
    n_expert = min(round(profile.expert_share * n), n - n_spam)
    kinds = ["spammer"] * n_spam + ["expert"] * n_expert + ["normal"] * (n - n_spam - n_expert)
    kinds = [kinds[i] for i in rng.permutation(n)]
    workers = []
    for offset, kind in enumerate(kinds):
        # Draw the normal parameters for every worker, whatever its kind, so that changing the
        # share of spammers does not shift the random stream of the others.
        drawn = {name: float(rng.uniform(*getattr(profile, name))) for name in _NORMAL_RANGES}
        wid = first_id + offset
        if kind == "expert":
            values = {f.name: getattr(profile.expert, f.name) for f in fields(WorkerProfile)}
            values.update(annotator_id=wid, kind="expert")
            workers.append(WorkerProfile(**values))
        else:
            workers.append(WorkerProfile(annotator_id=wid, kind=kind, **drawn))
    return tuple(workers)


def simulate_crowd(
    gt: dict[str, Any],
    profile: CrowdProfile,
    rng: np.random.Generator,
    *,
    workers: Sequence[WorkerProfile] | None = None,
) -> SimulatedCrowd:
    """Make crowd annotations for every image of a ground-truth COCO dict.

    Parameters
    ----------
    gt : dict
        COCO with ``images`` (``width``, ``height``), ``annotations`` (``bbox``; optional
        ``segmentation`` as polygons or RLE, ``keypoints``) and ``categories``.
    profile : CrowdProfile
        Crowd size and worker mix; ignored for drawing workers when ``workers`` is given.
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives the same output.
    workers : sequence of WorkerProfile, optional
        Use these workers instead of drawing them with :func:`make_workers`.

    Returns
    -------
    SimulatedCrowd
        ``coco``: the crowd's COCO dict (images gain ``annotator_ids`` in assignment order;
        annotations gain ``annotator_id``; ids are renumbered from 1). ``workers``: profiles.
    """
    pool = tuple(workers) if workers is not None else make_workers(profile, rng)
    if not pool:
        raise ValueError("the crowd needs at least one worker")
    per_image = min(profile.workers_per_image, len(pool))
    categories = gt.get("categories", [])
    if not categories:
        raise ValueError("ground truth needs at least one category")
    cat_ids = [int(c["id"]) for c in categories]
    n_kps = {int(c["id"]): len(c.get("keypoints", [])) for c in categories}
    by_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in gt["images"]}
    for ann in gt.get("annotations", []):
        if ann["image_id"] not in by_image:
            raise ValueError(f"annotation {ann.get('id')} refers to an unknown image")
        by_image[ann["image_id"]].append(ann)

    images, annotations = [], []
    for img in gt["images"]:
        chosen = rng.choice(len(pool), size=per_image, replace=False)
        image = dict(img, annotator_ids=[pool[i].annotator_id for i in chosen])
        images.append(image)
        ctx = _ImageContext(img["width"], img["height"], by_image[img["id"]], cat_ids, n_kps)
        for i in chosen:
            for ann in _annotate_image(ctx, pool[i], rng):
                ann.update(id=len(annotations) + 1, image_id=img["id"])
                ann["annotator_id"] = pool[i].annotator_id
                annotations.append(ann)
    coco = {key: value for key, value in gt.items() if key not in ("images", "annotations")}
    coco.update(images=images, annotations=annotations, categories=categories)
    return SimulatedCrowd(coco=coco, workers=pool)


# --------------------------------------------------------------------------- one image


@dataclass(frozen=True)
class _ImageContext:
    width: int
    height: int
    objects: list[dict[str, Any]]
    cat_ids: list[int]
    n_kps: dict[int, int]


def _annotate_image(
    ctx: _ImageContext, worker: WorkerProfile, rng: np.random.Generator
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
    obj: dict[str, Any], worker: WorkerProfile, ctx: _ImageContext, rng: np.random.Generator
) -> dict[str, Any]:
    """A worker's version of one ground-truth object: moved, rescaled, noised, maybe relabelled."""
    x, y, w, h = (float(v) for v in obj["bbox"])
    w, h = max(w, _MIN_SIZE), max(h, _MIN_SIZE)
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
            pts = _simplify(pts, worker.simplify * size)
            pts = _clip_points(pts, ctx.width, ctx.height)
            if len(pts) >= 3:
                polygons.append([round(float(v), 2) for v in pts.ravel()])
        if polygons:
            ann["segmentation"] = polygons
    elif isinstance(seg, dict):
        ann["segmentation"] = _noisy_rle(seg, move, worker.vertex_noise * size, ctx, rng)
    if "segmentation" in ann:
        ann["bbox"], ann["area"] = _segmentation_box_area(ann["segmentation"], ctx)
    else:
        corners = _clip_points(move(np.array([[x, y], [x + w, y + h]])), ctx.width, ctx.height)
        ann["bbox"] = _box_from_corners(corners, ctx.width, ctx.height)
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
    ctx: _ImageContext,
    rng: np.random.Generator,
) -> tuple[list[float], int]:
    arr = np.asarray(kps, dtype=float).reshape(-1, 3)
    xy = move(arr[:, :2]) + rng.normal(0.0, sigma, (len(arr), 2))
    xy = _clip_points(xy, ctx.width, ctx.height)
    dropped = rng.random(len(arr)) < drop_rate
    visible = (arr[:, 2] > 0) & ~dropped
    out = np.column_stack([xy, arr[:, 2]])
    out[~visible] = 0.0
    return [round(float(v), 2) for v in out.ravel()], int(visible.sum())


def _noisy_rle(
    seg: dict[str, Any],
    move: Any,
    boundary_sigma: float,
    ctx: _ImageContext,
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


def _random_object(ctx: _ImageContext, rng: np.random.Generator) -> dict[str, Any]:
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
        pts = _star_polygon(x + w / 2, y + h / 2, w / 2, h / 2, rng)
        pts = _clip_points(pts, ctx.width, ctx.height)
        ann["segmentation"] = [[round(float(v), 2) for v in pts.ravel()]]
        ann["bbox"], ann["area"] = _segmentation_box_area(ann["segmentation"], ctx)
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
        rle = mask_utils.merge([_as_rle(sa), _as_rle(sb)])
        merged["segmentation"] = {"size": list(rle["size"]), "counts": rle["counts"].decode()}
        merged["area"] = float(mask_utils.area(rle))
    else:
        merged.pop("segmentation", None)
    merged.pop("keypoints", None)
    merged.pop("num_keypoints", None)
    return merged


# --------------------------------------------------------------------------- geometry helpers


def _as_rle(seg: dict[str, Any]) -> dict[str, Any]:
    counts = seg["counts"]
    return {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def _segmentation_box_area(seg: Any, ctx: _ImageContext) -> tuple[list[float], float]:
    """COCO ``bbox`` and ``area`` of a polygon list or an RLE dict."""
    if isinstance(seg, dict):
        rle = _as_rle(seg)
    else:
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, ctx.height, ctx.width))
    area = float(mask_utils.area(rle))
    if isinstance(seg, list):
        # The polygon's own extent, not the rasterised one, so sub-pixel shapes keep a box.
        pts = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in seg])
        corners = np.array([pts.min(axis=0), pts.max(axis=0)])
        return _box_from_corners(corners, ctx.width, ctx.height), area
    box = [round(float(v), 2) for v in mask_utils.toBbox(rle)]
    return box, area


def _box_from_corners(corners: np.ndarray, width: int, height: int) -> list[float]:
    (x1, y1), (x2, y2) = np.sort(corners, axis=0)
    # Keep at least one pixel, shifted back inside the image when the object hugs a border.
    x2, y2 = max(x2, x1 + _MIN_SIZE), max(y2, y1 + _MIN_SIZE)
    x1, y1 = min(x1, width - _MIN_SIZE), min(y1, height - _MIN_SIZE)
    x2, y2 = min(x2, width), min(y2, height)
    return [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)]


def _clip_points(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(points, 0.0, [float(width), float(height)])


def _simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Ramer-Douglas-Peucker on a closed polygon, keeping at least three vertices."""
    if tolerance <= 0 or len(points) <= 3:
        return points
    # Split the ring at the vertex farthest from the first so both halves are open chains.
    far = int(np.argmax(np.linalg.norm(points - points[0], axis=1)))
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, far]] = True
    _rdp_mark(points, 0, far, tolerance, keep)
    ring = np.vstack([points, points[:1]])
    tail = np.zeros(len(ring), dtype=bool)
    _rdp_mark(ring, far, len(points), tolerance, tail)
    keep |= tail[:-1]
    if keep.sum() < 3:
        extra = np.argsort(-np.linalg.norm(points - points.mean(axis=0), axis=1))
        keep[extra[:3]] = True
    return points[keep]


def _rdp_mark(points: np.ndarray, start: int, end: int, tol: float, keep: np.ndarray) -> None:
    stack = [(start, end)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        a, b = points[i], points[j]
        seg = b - a
        rel = points[i + 1 : j] - a
        norm = float(np.hypot(*seg))
        if norm == 0.0:
            dist = np.linalg.norm(rel, axis=1)
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
        k = int(np.argmax(dist))
        if dist[k] > tol:
            keep[i + 1 + k] = True
            stack.extend([(i, i + 1 + k), (i + 1 + k, j)])


def _star_polygon(
    cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator
) -> np.ndarray:
    """A random star-shaped (hence simple) polygon inscribed in the given ellipse."""
    n = int(rng.integers(8, 21))
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    radii = rng.uniform(0.6, 1.0, n)
    return np.column_stack([cx + rx * radii * np.cos(angles), cy + ry * radii * np.sin(angles)])


# --------------------------------------------------------------------------- synthetic truth


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
    ctx = _ImageContext(width, height, [], [], {})
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
                if all(_box_iou((x, y, w, h), b) <= max_overlap for b in boxes):
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
                pts = _clip_points(
                    _star_polygon(x + w / 2, y + h / 2, w / 2, h / 2, rng), width, height
                )
                ann["segmentation"] = [[round(float(v), 2) for v in pts.ravel()]]
                ann["bbox"], ann["area"] = _segmentation_box_area(ann["segmentation"], ctx)
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


def _box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes (the simulator's only geometry need)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
