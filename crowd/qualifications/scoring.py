"""Score one answer against a gold answer (0-1), with the consensus package's geometry.

Pure: no Django, no database. Payloads are those of :mod:`workflows.projects.validation`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from workflows.consensus.geometry import COCO_PERSON_SIGMAS, box_iou_xywh, keypoint_oks
from workflows.consensus.masks import mask_iou, polygon_iou

#: Per-keypoint OKS sigma for skeletons that are not the 17 COCO person keypoints (as in
#: ``workflows.consensus.merge``).
DEFAULT_OKS_SIGMA = 0.05


def answer_score(*, kind: str, answer: dict, gold: dict, iou_threshold: float) -> float:
    """How well ``answer`` agrees with ``gold``, in ``[0, 1]``.

    classification
        1.0 if the category is the gold one, else 0.0.
    bbox, polygon, mask, keypoints
        Regions are matched one-to-one to gold regions of the same category by Hungarian
        matching (``scipy.optimize.linear_sum_assignment``) on IoU (OKS for keypoints); a pair
        counts as a match when its similarity is at least ``iou_threshold``. The score is the F1
        of the matching, ``2 * matches / (n_answer + n_gold)``; two empty answers score 1.0
        (both say "nothing here").

    The matching maximises the number of matches first and the summed similarity second, so
    a single very good pair never costs two acceptable ones.

    Examples
    --------
    >>> gold = {"regions": [{"category_id": 1, "bbox": [0, 0, 10, 10]}]}
    >>> answer_score(kind="bbox", answer=gold, gold=gold, iou_threshold=0.5)
    1.0
    """
    if kind == "classification":
        return 1.0 if answer.get("category_id") == gold.get("category_id") else 0.0
    similarity = _SIMILARITY.get(kind)
    if similarity is None:
        raise ValueError(f"unknown annotation kind {kind!r}")
    mine, theirs = answer.get("regions") or [], gold.get("regions") or []
    if not mine and not theirs:
        return 1.0
    matches = 0
    for category in {r["category_id"] for r in mine} & {r["category_id"] for r in theirs}:
        a = [r for r in mine if r["category_id"] == category]
        g = [r for r in theirs if r["category_id"] == category]
        matches += count_matches(similarity(a, g), iou_threshold)
    return 2.0 * matches / (len(mine) + len(theirs))


def count_matches(similarity: np.ndarray, threshold: float) -> int:
    """Size of the best one-to-one matching of a ``(n, m)`` similarity matrix whose pairs all
    reach ``threshold``; ties between matchings of equal size go to the higher total."""
    if similarity.size == 0:
        return 0
    ok = similarity >= threshold
    # Each accepted pair weighs 1 plus a tie-breaker; the tie-breakers of a whole matching sum
    # to less than 1, so no trade of one match for better similarity can win.
    k = min(similarity.shape)
    weight = np.where(ok, 1.0 + similarity / (k + 1), 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return int(ok[rows, cols].sum())


def _bbox_similarity(a: list[dict], g: list[dict]) -> np.ndarray:
    return box_iou_xywh([r["bbox"] for r in a], [r["bbox"] for r in g])


def _polygon_similarity(a: list[dict], g: list[dict]) -> np.ndarray:
    # Rasterise on a canvas that holds every vertex; IoU does not depend on the canvas size.
    coords = [r["polygon"] for r in a + g]
    width = max(math.ceil(max(p[0::2])) for p in coords) + 1
    height = max(math.ceil(max(p[1::2])) for p in coords) + 1
    return polygon_iou([r["polygon"] for r in a], [r["polygon"] for r in g], height, width)


def _rle(region: dict) -> dict:
    counts = region["rle"]["counts"]
    return {
        "size": list(region["rle"]["size"]),
        "counts": counts.encode() if isinstance(counts, str) else counts,
    }


def _mask_similarity(a: list[dict], g: list[dict]) -> np.ndarray:
    return mask_iou([_rle(r) for r in a], [_rle(r) for r in g])


def pose_area(pose: np.ndarray) -> float:
    """OKS scale of a ``(k, 3)`` pose: the area of the tight box of its labelled keypoints,
    each side at least half the longer one (a pose along a line is not judged on a zero
    scale), and at least one square pixel."""
    labelled = pose[pose[:, 2] > 0, :2]
    if not len(labelled):
        return 1.0
    w, h = np.ptp(labelled[:, 0]), np.ptp(labelled[:, 1])
    longer = max(w, h)
    return max(float(max(w, longer / 2) * max(h, longer / 2)), 1.0)


def _keypoint_similarity(a: list[dict], g: list[dict]) -> np.ndarray:
    pa = np.asarray([r["keypoints"] for r in a], dtype=np.float64).reshape(len(a), -1, 3)
    pg = np.asarray([r["keypoints"] for r in g], dtype=np.float64).reshape(len(g), -1, 3)
    k = pg.shape[1]
    sigmas = COCO_PERSON_SIGMAS if k == 17 else np.full(k, DEFAULT_OKS_SIGMA)
    areas_a = [pose_area(p) for p in pa]
    areas_g = [pose_area(p) for p in pg]
    return keypoint_oks(pa, pg, areas_a, areas_g, sigmas)


_SIMILARITY = {
    "bbox": _bbox_similarity,
    "polygon": _polygon_similarity,
    "mask": _mask_similarity,
    "keypoints": _keypoint_similarity,
}
