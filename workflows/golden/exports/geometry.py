"""One region of a payload seen as a box, an area and an outline, whatever its kind.

Coordinates are continuous image pixels with the origin at the top-left corner (as in COCO).
A classification answer has no geometry and is written as a whole-image box.
"""

from pycocotools import mask as mask_utils

from workflows.consensus.masks import mask_to_polygons


def rle_of(region: dict) -> dict:
    """The region's mask as a pycocotools RLE (counts as bytes)."""
    rle = region["rle"]
    return {"size": list(rle["size"]), "counts": rle["counts"].encode()}


def visible_points(flat: list) -> list[tuple[float, float]]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 3) if flat[i + 2]]


def region_bbox(region: dict, width: int, height: int) -> list[float]:
    """``[x, y, w, h]`` of the region: its box, or the tight box of its outline or points."""
    if "bbox" in region:
        return [float(v) for v in region["bbox"]]
    if "polygon" in region:
        xs, ys = region["polygon"][0::2], region["polygon"][1::2]
        return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    if "rle" in region:
        return [float(v) for v in mask_utils.toBbox(rle_of(region))]
    if "keypoints" in region:
        points = visible_points(region["keypoints"])
        if not points:
            return [0.0, 0.0, 0.0, 0.0]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return [0.0, 0.0, float(width), float(height)]


def polygon_area(flat: list) -> float:
    xs, ys = flat[0::2], flat[1::2]
    return abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))) / 2.0


def region_area(region: dict, width: int, height: int) -> float:
    """Area in pixels: of the outline for polygons, of the mask for masks, else of the box."""
    if "polygon" in region:
        return polygon_area(region["polygon"])
    if "rle" in region:
        return float(mask_utils.area(rle_of(region)))
    _, _, w, h = region_bbox(region, width, height)
    return float(w * h)


def region_outlines(region: dict) -> list[list[float]]:
    """Outlines as flat ``[x1, y1, ...]`` lists: the polygon, or a mask's traced boundaries
    (largest first; holes are filled, as COCO polygons cannot express them)."""
    if "polygon" in region:
        return [[float(v) for v in region["polygon"]]]
    if "rle" in region:
        return [[float(v) for v in poly] for poly in mask_to_polygons(rle_of(region))]
    return []
