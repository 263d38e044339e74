"""The seam between the database and the pure consensus package.

The only module that knows both worlds: it turns annotation payloads into the package's
arrays, runs it, and turns the fused objects back into a payload. Nothing here touches the
database; the service loads rows, calls :func:`consensus_compute`, and writes the result.
"""

from dataclasses import dataclass, field

import numpy as np

from workflows.consensus.coco import coco_to_items
from workflows.consensus.decision import item_agreement_score
from workflows.consensus.fusion.labels import majority_vote
from workflows.consensus.merge import fused_to_coco, merge_items
from workflows.consensus.types import MergeParams, ShapeKind

# Bump when what the package computes for the same input changes: results then differ in
# provenance and a re-run writes a new round instead of matching the old digest.
PACKAGE_VERSION = "1"
SHAPES = {
    "bbox": ShapeKind.BOX,
    "polygon": ShapeKind.POLYGON,
    "mask": ShapeKind.MASK,
    "keypoints": ShapeKind.KEYPOINTS,
}


@dataclass(frozen=True)
class Answer:
    annotation_id: int
    annotator: str  # "worker:<id>" or "model:<name>"
    payload: dict


@dataclass(frozen=True)
class ConsensusInput:
    kind: str
    width: int
    height: int
    answers: tuple[Answer, ...]
    weights: dict[str, float] = field(default_factory=dict)
    iou_threshold: float = 0.5
    quorum: float = 0.5

    @property
    def method(self) -> str:
        return "weighted_vote" if self.kind == "classification" else f"{self.kind}:auto"

    @property
    def parameters(self) -> dict:
        return {"iou_threshold": self.iou_threshold, "quorum": self.quorum}


@dataclass(frozen=True)
class ConsensusOutput:
    payload: dict
    agreement: float


def _keypoint_box(flat: list) -> list[float]:
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    seen = pts[pts[:, 2] > 0]
    if not len(seen):
        return [0.0, 0.0, 0.0, 0.0]
    x1, y1 = seen[:, :2].min(0)
    x2, y2 = seen[:, :2].max(0)
    return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]


def _region_to_coco(kind: str, region: dict) -> dict:
    ann = {"category_id": region["category_id"]}
    if kind == "bbox":
        ann["bbox"] = region["bbox"]
    elif kind == "polygon":
        ann["segmentation"] = [region["polygon"]]
    elif kind == "mask":
        ann["segmentation"] = region["rle"]
    else:
        ann["keypoints"] = region["keypoints"]
        ann["bbox"] = _keypoint_box(region["keypoints"])
    return ann


def _coco_to_region(kind: str, ann: dict) -> dict:
    region = {
        "category_id": int(ann["category_id"]),
        "score": round(float(ann["score"]), 6),
        "support": int(ann["support"]),
        "agreement": round(float(ann["agreement"]), 6),
    }
    if kind == "bbox":
        region["bbox"] = [round(float(v), 3) for v in ann["bbox"]]
        region["uncertainty"] = [round(float(v), 3) for v in ann["uncertainty"]]
    elif kind == "polygon":
        parts = ann["segmentation"]
        # Our payload holds one ring per region; the fused shape's largest part is kept.
        region["polygon"] = max(parts, key=len) if isinstance(parts, list) else []
    elif kind == "mask":
        region["rle"] = ann["segmentation"]
    else:
        region["keypoints"] = [round(float(v), 3) for v in ann["keypoints"]]
    return region


def _classification(inp: ConsensusInput) -> ConsensusOutput:
    labels = [a.payload["category_id"] for a in inp.answers]
    weights = [inp.weights.get(a.annotator, 1.0) for a in inp.answers]
    winner, probs, classes = majority_vote(np.zeros(len(labels), dtype=np.int64), labels, weights)
    share = float(probs[0][list(classes).index(winner[0])]) if len(labels) else 0.0
    return ConsensusOutput(
        payload={"category_id": int(winner[0]), "support": share}, agreement=share
    )


def consensus_compute(inp: ConsensusInput) -> ConsensusOutput:
    """Merge one item's answers into one payload and score their agreement in [0, 1]."""
    if inp.kind == "classification":
        return _classification(inp)
    annotators = sorted({a.annotator for a in inp.answers})
    index = {name: i for i, name in enumerate(annotators)}
    image = {
        "id": 0,
        "width": inp.width,
        "height": inp.height,
        "annotator_ids": list(range(len(annotators))),
    }
    anns = [
        {**_region_to_coco(inp.kind, region), "id": a.annotation_id, "image_id": 0,
         "annotator_id": index[a.annotator]}
        for a in inp.answers
        for region in a.payload["regions"]
    ]  # fmt: skip
    (item,) = coco_to_items([image], anns, SHAPES[inp.kind])
    params = MergeParams(iou_threshold=inp.iou_threshold, quorum=inp.quorum)
    weights = {index[name]: w for name, w in inp.weights.items() if name in index}
    (result,) = merge_items([item], params, weights or None)
    regions = [_coco_to_region(inp.kind, ann) for ann in fused_to_coco(result, item)]
    return ConsensusOutput(
        payload={"regions": regions}, agreement=item_agreement_score(result, item.worker_idx)
    )
