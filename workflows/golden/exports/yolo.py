"""YOLO (Ultralytics) text labels of a version: ``labels/<stem>.txt`` per image.

One line per object, coordinates normalised to [0, 1] by the image size:

- boxes (and classification answers, as whole-image boxes): ``class cx cy w h``
- polygons: ``class x1 y1 x2 y2 ...`` (YOLO segmentation)
- masks: traced outer boundaries, one line per connected component (holes filled)
- keypoints: ``class cx cy w h px1 py1 v1 ...`` (YOLO pose, box of the visible points)

``class`` is the category's 0-based position in the schema, as listed in ``classes.txt`` and
``data.yaml``. An image without objects gets an empty file (a background image for YOLO).
"""

import json

from .geometry import region_bbox, region_outlines
from .snapshot import Snapshot, SnapshotImage


def _n(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}"


def _box(region: dict, image: SnapshotImage) -> list[str]:
    x, y, w, h = region_bbox(region, image.width, image.height)
    W, H = image.width, image.height
    return [_n((x + w / 2) / W), _n((y + h / 2) / H), _n(w / W), _n(h / H)]


def yolo_lines(snapshot: Snapshot, image: SnapshotImage) -> list[str]:
    W, H = image.width, image.height
    lines = []
    for region in image.regions:
        cls = str(snapshot.category(region["category_id"]).index)
        if "polygon" in region or "rle" in region:
            for outline in region_outlines(region):
                coords = [_n(v / (W if i % 2 == 0 else H)) for i, v in enumerate(outline)]
                lines.append(" ".join([cls, *coords]))
        elif "keypoints" in region:
            flat = region["keypoints"]
            points = []
            for i in range(0, len(flat), 3):
                visible = int(flat[i + 2])
                x, y = (flat[i] / W, flat[i + 1] / H) if visible else (0.0, 0.0)
                points += [_n(x), _n(y), str(visible)]
            lines.append(" ".join([cls, *_box(region, image), *points]))
        else:
            lines.append(" ".join([cls, *_box(region, image)]))
    return lines


def yolo_label_file(snapshot: Snapshot, image: SnapshotImage) -> bytes:
    lines = yolo_lines(snapshot, image)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def yolo_classes(snapshot: Snapshot) -> bytes:
    return "".join(f"{c.name}\n" for c in snapshot.categories).encode()


def yolo_data_yaml(snapshot: Snapshot) -> bytes:
    """Ultralytics dataset file; names are JSON strings, which YAML reads as quoted scalars."""
    lines = ["path: .", "train: images", "val: images", f"nc: {len(snapshot.categories)}"]
    if snapshot.kind == "keypoints" and snapshot.categories:
        lines.append(f"kpt_shape: [{len(snapshot.categories[0].keypoint_names)}, 3]")
    lines.append("names:")
    lines += [f"  {c.index}: {json.dumps(c.name)}" for c in snapshot.categories]
    return ("\n".join(lines) + "\n").encode()
