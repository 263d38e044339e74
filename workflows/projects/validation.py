"""Validate an annotation payload (or a gold answer) against a label schema and an image.

Payloads, by the schema's kind (coordinates in image pixels, origin top-left)::

    classification  {"category_id": 3}
    bbox            {"regions": [{"category_id": 3, "bbox": [x, y, w, h]}]}
    polygon         {"regions": [{"category_id": 3, "polygon": [x1, y1, x2, y2, ...]}]}
    mask            {"regions": [{"category_id": 3, "rle": {"size": [h, w], "counts": "..."}}]}
    keypoints       {"regions": [{"category_id": 3, "keypoints": [x1, y1, v1, ...]}]}

An empty ``regions`` list is a valid answer: "nothing of these classes here".
Errors are raised as one InvalidInput naming the region and what is wrong with it.
"""

import math
from dataclasses import dataclass

from crowd.common.exceptions import InvalidInput, PayloadTooLarge
from workflows.consensus.validation import polygon_self_intersects
from workflows.projects.models import AnnotationKind

MAX_REGIONS = 500
MAX_POLYGON_VERTICES = 2_000
MAX_RLE_CHARS = 2_000_000


@dataclass(frozen=True)
class ImageFrame:
    width: int
    height: int


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}: coordinates must be finite numbers")
    return float(value)


def _category(region: dict, where: str, category_ids: set[int]) -> int:
    cid = region.get("category_id")
    if isinstance(cid, bool) or not isinstance(cid, int):
        raise InvalidInput(f"{where}: category_id must be an integer")
    if cid not in category_ids:
        raise InvalidInput(f"{where}: category_id {cid} is not in this project's label schema")
    return cid


def _inside(x: float, y: float, frame: ImageFrame, where: str) -> None:
    if not (0 <= x <= frame.width and 0 <= y <= frame.height):
        raise InvalidInput(
            f"{where}: point ({x:g}, {y:g}) lies outside the {frame.width}x{frame.height} image"
        )


def _check_bbox(region: dict, where: str, frame: ImageFrame) -> None:
    bbox = region.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise InvalidInput(f"{where}: bbox must be [x, y, width, height]")
    x, y, w, h = (_number(v, where) for v in bbox)
    if w <= 0 or h <= 0:
        raise InvalidInput(f"{where}: bbox has zero or negative width or height")
    _inside(x, y, frame, where)
    _inside(x + w, y + h, frame, where)


def _check_polygon(region: dict, where: str, frame: ImageFrame) -> None:
    flat = region.get("polygon")
    if not isinstance(flat, list) or len(flat) % 2:
        raise InvalidInput(f"{where}: polygon must be a flat list [x1, y1, x2, y2, ...]")
    if len(flat) // 2 > MAX_POLYGON_VERTICES:
        raise PayloadTooLarge(f"{where}: polygon has more than {MAX_POLYGON_VERTICES} vertices")
    coords = [_number(v, where) for v in flat]
    if len(coords) < 6:
        raise InvalidInput(f"{where}: a polygon needs at least 3 vertices")
    for i in range(0, len(coords), 2):
        _inside(coords[i], coords[i + 1], frame, where)
    if polygon_self_intersects(coords):
        raise InvalidInput(f"{where}: polygon edges cross each other (self-intersecting)")
    xs, ys = coords[0::2], coords[1::2]
    twice_area = sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))
    if abs(twice_area) < 1e-9:
        raise InvalidInput(f"{where}: polygon has zero area")


def _check_mask(region: dict, where: str, frame: ImageFrame) -> None:
    rle = region.get("rle")
    if not isinstance(rle, dict) or not isinstance(rle.get("counts"), str):
        raise InvalidInput(f"{where}: rle must be a COCO RLE {{'size': [h, w], 'counts': '...'}}")
    if rle.get("size") != [frame.height, frame.width]:
        raise InvalidInput(
            f"{where}: rle size {rle.get('size')} does not match the image "
            f"[{frame.height}, {frame.width}]"
        )
    if len(rle["counts"]) > MAX_RLE_CHARS:
        raise PayloadTooLarge(f"{where}: rle counts exceed {MAX_RLE_CHARS} characters")
    from pycocotools import mask as mask_utils

    try:
        area = float(mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode()}))
    except Exception as exc:  # pycocotools raises bare exceptions on corrupt counts
        raise InvalidInput(f"{where}: rle counts are not valid COCO RLE ({exc})") from None
    if area <= 0:
        raise InvalidInput(f"{where}: mask is empty")


def _check_keypoints(region: dict, where: str, frame: ImageFrame, n_points: int) -> None:
    flat = region.get("keypoints")
    if not isinstance(flat, list) or len(flat) != 3 * n_points:
        raise InvalidInput(
            f"{where}: keypoints must list x, y, visibility for each of the {n_points} points"
        )
    for i in range(0, len(flat), 3):
        x, y = _number(flat[i], where), _number(flat[i + 1], where)
        visibility = flat[i + 2]
        if visibility not in (0, 1, 2):
            raise InvalidInput(f"{where}: keypoint visibility must be 0, 1 or 2")
        if visibility:
            _inside(x, y, frame, where)


def payload_validate(
    payload, *, kind: str, categories: dict[int, list[str]], frame: ImageFrame
) -> dict:
    """Check a payload; return it unchanged if valid, else raise InvalidInput/PayloadTooLarge.

    ``categories`` maps each category id of the schema to its keypoint names (empty if none).
    """
    if not isinstance(payload, dict):
        raise InvalidInput("the answer must be a JSON object")
    ids = set(categories)
    if kind == AnnotationKind.CLASSIFICATION:
        _category(payload, "answer", ids)
        return payload
    regions = payload.get("regions")
    if not isinstance(regions, list):
        raise InvalidInput("the answer must have a 'regions' list (empty for 'nothing here')")
    if len(regions) > MAX_REGIONS:
        raise PayloadTooLarge(f"an answer may hold at most {MAX_REGIONS} regions")
    for index, region in enumerate(regions):
        where = f"region {index}"
        if not isinstance(region, dict):
            raise InvalidInput(f"{where}: must be an object")
        cid = _category(region, where, ids)
        if kind == AnnotationKind.BBOX:
            _check_bbox(region, where, frame)
        elif kind == AnnotationKind.POLYGON:
            _check_polygon(region, where, frame)
        elif kind == AnnotationKind.MASK:
            _check_mask(region, where, frame)
        elif kind == AnnotationKind.KEYPOINTS:
            _check_keypoints(region, where, frame, len(categories[cid]))
        else:
            raise InvalidInput(f"unknown annotation kind {kind!r}")
    return payload
