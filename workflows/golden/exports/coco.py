"""COCO JSON of a version: images, categories and one annotation per region.

Boxes as ``bbox``; polygons as ``segmentation`` polygons; masks as ``segmentation`` RLE (string
counts, as pycocotools writes them); keypoints with ``num_keypoints`` and the schema's point
names and skeleton on the category. Every annotation has ``iscrowd: 0`` and names the golden
annotation it came from. Image and category ids are the item and category ids.
"""

from .geometry import region_area, region_bbox
from .snapshot import Snapshot, SnapshotImage


def _category(snapshot: Snapshot, category) -> dict:
    entry = {"id": category.id, "name": category.name, "supercategory": ""}
    if snapshot.kind == "keypoints":
        entry["keypoints"] = list(category.keypoint_names)
        entry["skeleton"] = [list(edge) for edge in category.skeleton]
    return entry


def _annotation(ann_id: int, image: SnapshotImage, index: int, region: dict) -> dict:
    bbox = region_bbox(region, image.width, image.height)
    ann = {
        "id": ann_id,
        "image_id": image.item_id,
        "category_id": region["category_id"],
        "bbox": bbox,
        "area": region_area(region, image.width, image.height),
        "iscrowd": 0,
        "golden_annotation_id": image.golden_id,
        "region_index": index,
    }
    if "polygon" in region:
        ann["segmentation"] = [list(region["polygon"])]
    elif "rle" in region:
        ann["segmentation"] = {
            "size": list(region["rle"]["size"]),
            "counts": region["rle"]["counts"],
        }
    elif "keypoints" in region:
        ann["keypoints"] = list(region["keypoints"])
        ann["num_keypoints"] = sum(1 for v in region["keypoints"][2::3] if v)
        # OKS divides by the object's area; a single visible point has a zero-area box.
        ann["area"] = max(ann["area"], 1.0)
    return ann


def coco_build(snapshot: Snapshot) -> dict:
    """The COCO dataset dict (``json.dumps`` it). Annotation ids count from 1: COCOeval reads
    a matched ground-truth id of 0 as "unmatched"."""
    annotations = []
    for image in snapshot.images:
        for index, region in enumerate(image.regions):
            annotations.append(_annotation(len(annotations) + 1, image, index, region))
    version = snapshot.version
    return {
        "info": {
            "description": f"{snapshot.project_name}: golden dataset version {version['number']}",
            "version": str(version["number"]),
            "content_hash": version["content_hash"],
            "date_created": version["created_at"],
        },
        "licenses": [],
        "images": [
            {
                "id": image.item_id,
                "file_name": image.file_name,
                "width": image.width,
                "height": image.height,
            }
            for image in snapshot.images
        ],
        "categories": [_category(snapshot, c) for c in snapshot.categories],
        "annotations": annotations,
    }
