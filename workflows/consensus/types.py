"""Data conventions of the consensus package: frozen, validated dataclasses over numpy arrays.

Conventions, written once here and assumed everywhere else in ``workflows.consensus``:

* **Boxes** are ``float64`` arrays of shape ``(n, 4)`` in pixel ``x1, y1, x2, y2``. Coordinates
  are *continuous*: ``(0, 0)`` is the top-left corner of the top-left pixel, and ``x2``/``y2`` are
  *exclusive* edges, so a box covering exactly pixel column 0 is ``[0, y1, 1, y2]`` and the
  area is ``(x2 - x1) * (y2 - y1)`` with no ``+ 1``. This is the COCO convention
  (``bbox = [x, y, w, h]`` with ``x2 = x + w``).
* **Workers and categories** are parallel ``int64`` arrays ``worker_idx`` and ``category_idx`` of
  shape ``(n,)``: the numpy form of crowd-kit's long format (``task``, ``worker``, ``label``).
  Indices are dense ids chosen by the caller (the COCO adapter maps annotator ids to them).
* **Masks** are COCO run-length encodings as produced by ``pycocotools.mask.encode`` (dicts with
  ``size = [h, w]`` and ``counts``); dense ``bool`` arrays ``(h, w)`` are only used inside
  functions where per-pixel work pays (STAPLE).
* **Polygons**: one object is a tuple of parts, each a flat ``float64`` array
  ``[x0, y0, x1, y1, ...]`` in the same continuous pixel coordinates (COCO ``segmentation``).
* **Keypoints** are ``float64`` arrays ``(k, 3)`` of ``x, y, v`` per object, ``v`` in {0, 1, 2}
  as in COCO (0 = not labelled, 1 = labelled but occluded, 2 = visible); stacked ``(n, k, 3)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BOX_METHODS",
    "LABEL_METHODS",
    "MASK_METHODS",
    "BoxMethod",
    "FloatArray",
    "IntArray",
    "Rle",
    "ShapeKind",
    "ItemAnnotations",
    "MergeParams",
    "FusedObject",
    "ItemResult",
    "LabelMethod",
    "MaskMethod",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Rle = dict[str, Any]

#: Fusion method names, defined once here; :mod:`workflows.consensus.fusion` documents them and
#: :class:`MergeParams` rejects any other name.
BoxMethod = Literal["robust", "median", "weighted_mean", "mean", "nearest_mean"]
MaskMethod = Literal["vote", "staple"]
LabelMethod = Literal["vote", "dawid_skene"]
BOX_METHODS: tuple[BoxMethod, ...] = get_args(BoxMethod)
MASK_METHODS: tuple[MaskMethod, ...] = get_args(MaskMethod)
LABEL_METHODS: tuple[LabelMethod, ...] = get_args(LabelMethod)

#: Every method-name field of :class:`MergeParams` and the names it accepts.
_METHOD_FIELDS = {
    "box_method": BOX_METHODS,
    "mask_method": MASK_METHODS,
    "label_method": LABEL_METHODS,
}


class ShapeKind(StrEnum):
    """What geometry an item's annotations carry; decides the IoU and the fusion used."""

    BOX = "box"
    POLYGON = "polygon"
    MASK = "mask"
    KEYPOINTS = "keypoints"


def _as_array(name: str, value: Any, dtype: type, ndim: int) -> NDArray[Any]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if (dtype is np.int64 and arr.dtype.kind == "f") and (
        not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))
    ):
        raise TypeError(f"{name} must hold integers")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class ItemAnnotations:
    """Every annotator's objects on one item (image), in long format.

    Parameters
    ----------
    item_id
        Caller's id of the item (a COCO ``image_id``); carried through to the result.
    boxes : (n, 4) float64
        One box per object, ``x1, y1, x2, y2`` (see module docstring). For polygons, masks and
        keypoints it is the object's bounding box, used for cheap pre-filtering and for output.
    worker_idx : (n,) int64
        Annotator of each object.
    category_idx : (n,) int64
        Class of each object.
    kind
        Shape kind of every object of the item.
    annotators : (m,) int64, optional
        Everyone who labelled the item, including those who drew nothing (a vote for
        "nothing here"). Defaults to the distinct values of ``worker_idx``.
    masks : tuple of n RLE dicts, optional
        Required for ``kind`` ``MASK`` and ``POLYGON`` (polygons are rasterised once, here or by
        the caller, because every mask operation runs on RLE).
    polygons : tuple of n tuples of flat float64 arrays, optional
        The original polygons, kept so output can stay in polygon form.
    keypoints : (n, k, 3) float64, optional
        Required for ``kind`` ``KEYPOINTS``.
    image_size : (height, width), optional
        Required for masks and polygons.
    ann_ids : (n,) int64, optional
        Caller's annotation ids, for provenance. Defaults to ``0..n-1``.
    """

    item_id: Any
    boxes: FloatArray
    worker_idx: IntArray
    category_idx: IntArray
    kind: ShapeKind = ShapeKind.BOX
    annotators: IntArray | None = None
    masks: tuple[Rle, ...] | None = None
    polygons: tuple[tuple[FloatArray, ...], ...] | None = None
    keypoints: FloatArray | None = None
    image_size: tuple[int, int] | None = None
    ann_ids: IntArray | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "kind", ShapeKind(self.kind))
        boxes = np.asarray(self.boxes, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must have shape (n, 4), got {boxes.shape}")
        if not np.all(np.isfinite(boxes)):
            raise ValueError("boxes contain NaN or infinite coordinates")
        if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
            raise ValueError("boxes must satisfy x2 >= x1 and y2 >= y1")
        boxes = np.ascontiguousarray(boxes)
        boxes.setflags(write=False)
        put(self, "boxes", boxes)
        n = len(boxes)
        for name in ("worker_idx", "category_idx"):
            arr = _as_array(name, getattr(self, name), np.int64, 1)
            if len(arr) != n:
                raise ValueError(f"{name} has length {len(arr)}, boxes has {n}")
            put(self, name, arr)
        seen = np.unique(self.worker_idx)
        if self.annotators is None:
            put(self, "annotators", _frozen(seen))
        else:
            annotators = np.unique(_as_array("annotators", self.annotators, np.int64, 1))
            if not np.all(np.isin(seen, annotators)):
                raise ValueError("annotators must include every worker in worker_idx")
            put(self, "annotators", _frozen(annotators))
        if self.ann_ids is None:
            put(self, "ann_ids", _frozen(np.arange(n, dtype=np.int64)))
        else:
            ids = _as_array("ann_ids", self.ann_ids, np.int64, 1)
            if len(ids) != n:
                raise ValueError(f"ann_ids has length {len(ids)}, boxes has {n}")
            put(self, "ann_ids", ids)
        if self.image_size is not None:
            h, w = (int(v) for v in self.image_size)
            if h <= 0 or w <= 0:
                raise ValueError(f"image_size must be positive (height, width), got {(h, w)}")
            put(self, "image_size", (h, w))
        self._check_shapes(n)

    def _check_shapes(self, n: int) -> None:
        put = object.__setattr__
        if self.masks is not None:
            masks = tuple(self.masks)
            if len(masks) != n or not all(isinstance(m, dict) and "counts" in m for m in masks):
                raise ValueError(f"masks must be {n} COCO RLE dicts")
            put(self, "masks", masks)
        if self.polygons is not None:
            if len(self.polygons) != n:
                raise ValueError(f"polygons must have {n} entries, got {len(self.polygons)}")
            polys = tuple(
                tuple(_frozen(np.asarray(p, dtype=np.float64).ravel()) for p in parts)
                for parts in self.polygons
            )
            for parts in polys:
                if any(len(p) % 2 for p in parts):
                    raise ValueError("polygon parts must hold an even number of coordinates")
            put(self, "polygons", polys)
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, dtype=np.float64)
            if kp.size == 0:
                kp = kp.reshape(0, kp.shape[1] if kp.ndim == 3 else 0, 3)
            if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 3:
                raise ValueError(f"keypoints must have shape ({n}, k, 3), got {kp.shape}")
            put(self, "keypoints", _frozen(np.ascontiguousarray(kp)))
        if self.kind in (ShapeKind.MASK, ShapeKind.POLYGON):
            if self.masks is None:
                raise ValueError(f"kind {self.kind.value!r} needs masks (RLE)")
            if self.image_size is None:
                raise ValueError(f"kind {self.kind.value!r} needs image_size")
        if self.kind is ShapeKind.KEYPOINTS and self.keypoints is None:
            raise ValueError("kind 'keypoints' needs keypoints")

    def __len__(self) -> int:
        return len(self.boxes)


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class MergeParams:
    """Parameters of one consensus run; stored beside every result for provenance.

    Parameters
    ----------
    iou_threshold
        Minimum average-linkage similarity (IoU, or OKS for keypoints) for two clusters to merge.
    quorum
        A ``float`` in ``(0, 1]`` is a fraction of the item's annotators (weighted by worker
        quality when weights are given); an ``int >= 1`` is a count of distinct annotators.
    class_agnostic
        Match objects of different categories (the fused category is then voted).
    box_method, mask_method, label_method
        Fusion method names, one of :data:`BOX_METHODS`, :data:`MASK_METHODS` and
        :data:`LABEL_METHODS`; see :mod:`workflows.consensus.fusion`. Any other name raises
        ``ValueError`` (names are case-sensitive and use underscores: ``"dawid_skene"``).
    oks_sigmas
        Per-keypoint OKS sigmas; ``None`` uses the 17 COCO person sigmas.
    """

    iou_threshold: float = 0.5
    quorum: float | int = 0.5
    class_agnostic: bool = False
    box_method: BoxMethod = "robust"
    mask_method: MaskMethod = "vote"
    label_method: LabelMethod = "vote"
    oks_sigmas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if isinstance(self.quorum, bool):
            raise TypeError("quorum must be a float fraction or an int count, not bool")
        if isinstance(self.quorum, int | np.integer):
            if self.quorum < 1:
                raise ValueError(f"a quorum count must be >= 1, got {self.quorum}")
        elif not 0.0 < float(self.quorum) <= 1.0:
            raise ValueError(f"a quorum fraction must be in (0, 1], got {self.quorum}")
        for name, allowed in _METHOD_FIELDS.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.oks_sigmas is not None:
            object.__setattr__(self, "oks_sigmas", tuple(float(s) for s in self.oks_sigmas))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy of the parameters."""
        return {
            "iou_threshold": self.iou_threshold,
            "quorum": self.quorum,
            "class_agnostic": self.class_agnostic,
            "box_method": self.box_method,
            "mask_method": self.mask_method,
            "label_method": self.label_method,
            "oks_sigmas": list(self.oks_sigmas) if self.oks_sigmas else None,
        }


@dataclass(frozen=True)
class FusedObject:
    """One cluster of matched objects and its fused shape.

    Attributes
    ----------
    box : (4,) float64
        Fused box ``x1, y1, x2, y2`` (for masks and polygons, the fused mask's bounding box).
    category_idx
        Fused category.
    members : (s,) int64
        Row indices, into the item's arrays, of the objects in the cluster (one per worker).
    workers : (s,) int64
        Their workers.
    support
        Number of distinct annotators in the cluster.
    support_fraction
        ``support`` over the item's annotators (quality-weighted when weights were given).
    agreement
        Mean IoU (OKS for keypoints) of members to the fused shape.
    uncertainty : (4,) float64
        For boxes, the weighted standard deviation of each member edge in pixels; for
        other kinds, the same spread of the members' bounding boxes.
    accepted
        Whether the cluster reached the quorum.
    mask, polygon, keypoints, category_probs
        Fused mask (RLE), polygon parts, keypoints ``(k, 3)`` and class posterior, when relevant.
    """

    box: FloatArray
    category_idx: int
    members: IntArray
    workers: IntArray
    support: int
    support_fraction: float
    agreement: float
    uncertainty: FloatArray
    accepted: bool
    mask: Rle | None = None
    polygon: tuple[FloatArray, ...] | None = None
    keypoints: FloatArray | None = None
    category_probs: dict[int, float] | None = field(default=None)

    @property
    def score(self) -> float:
        """Support times agreement: the confidence written to COCO output."""
        return float(self.support_fraction * self.agreement)


@dataclass(frozen=True)
class ItemResult:
    """Consensus for one item: every cluster, accepted or not, in a deterministic order.

    ``objects`` are sorted by descending score, then by the smallest member row index, so the
    order depends only on the input content and order of rows.
    """

    item_id: Any
    kind: ShapeKind
    objects: tuple[FusedObject, ...]
    n_annotators: int
    params: MergeParams

    @property
    def accepted(self) -> tuple[FusedObject, ...]:
        """The clusters that reached the quorum: the consensus objects."""
        return tuple(o for o in self.objects if o.accepted)
