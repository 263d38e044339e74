"""Import existing COCO annotations into a project, as model pre-labels or as gold answers.

COCO images are matched to the project's items by file name (the item's original name, or
failing that the base names); categories by name. Every converted answer is validated like a
worker's submission. All or nothing: one refused image or category refuses the import and
writes nothing, unless ``skip_unmatched`` asks to skip images and categories that do not match.

Conversion into the payload of the project's kind:

- bbox: ``bbox`` (or the tight box of the segmentation when there is no ``bbox``)
- polygon: each part of a polygon ``segmentation`` is one region; an RLE is traced to polygons
- mask: RLE as is (uncompressed counts are compressed); polygons are rasterised
- keypoints: ``keypoints`` as is
- classification: the one category of the image's annotations

``iscrowd`` is not interpreted. Points up to one pixel outside the image (rounding in other
tools) are clipped to it; anything further out is refused by validation.
"""

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from pycocotools import mask as mask_utils

from crowd.accounts.access import can_manage_project
from crowd.common.exceptions import DomainError, Forbidden, InvalidInput
from crowd.labeling.models import Annotation, AnnotationSource
from workflows.consensus.masks import mask_to_polygons, polygon_to_rle
from workflows.projects.models import AnnotationKind, Item, Project
from workflows.projects.services import item_update
from workflows.projects.validation import ImageFrame, payload_validate

IMPORT_AS = ("prelabels", "gold")
CLIP_TOLERANCE = 1.0  # pixels


@dataclass
class CocoImportReport:
    as_: str
    matched: int = 0
    created: list[int] = field(default_factory=list)  # annotation ids, or gold item ids
    existing: list[str] = field(default_factory=list)  # already pre-labelled by this model
    unmatched_images: list[str] = field(default_factory=list)
    unknown_categories: list[str] = field(default_factory=list)
    skipped_annotations: int = 0

    def as_dict(self) -> dict:
        return {
            "as": self.as_,
            "matched": self.matched,
            "created": len(self.created),
            "ids": self.created,
            "existing": self.existing,
            "unmatched_images": self.unmatched_images,
            "unknown_categories": self.unknown_categories,
            "skipped_annotations": self.skipped_annotations,
        }


def _list(coco: dict, key: str) -> list[dict]:
    value = coco.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"COCO '{key}' must be a list of objects")
    return value


def _base(name: str) -> str:
    return posixpath.basename(str(name).replace("\\", "/"))


def _match_images(project: Project, images: list[dict]) -> tuple[dict, list[str]]:
    """COCO image id -> item, and the file names that match no item or several."""
    items = list(Item.objects.filter(project=project))
    exact, by_base = defaultdict(list), defaultdict(list)
    for item in items:
        exact[item.original_name].append(item)
        by_base[_base(item.original_name)].append(item)
    matched, unmatched = {}, []
    for image in images:
        name = str(image.get("file_name", ""))
        candidates = exact.get(name) or by_base.get(_base(name)) or []
        if len(candidates) != 1:
            unmatched.append(name if not candidates else f"{name} (matches several items)")
            continue
        matched[image.get("id")] = (image, candidates[0])
    return matched, unmatched


def _clip(value: float, limit: int) -> float:
    if -CLIP_TOLERANCE <= value < 0:
        return 0.0
    if limit < value <= limit + CLIP_TOLERANCE:
        return float(limit)
    return value


def _clip_flat(flat: list, width: int, height: int, stride: int = 2) -> list:
    out = list(flat)
    for i in range(0, len(out) - 1, stride):
        if isinstance(out[i], int | float) and isinstance(out[i + 1], int | float):
            out[i], out[i + 1] = _clip(out[i], width), _clip(out[i + 1], height)
    return out


def _rle(segmentation, width: int, height: int) -> dict:
    """A compressed COCO RLE with string counts, from any COCO segmentation."""
    if isinstance(segmentation, dict) and not isinstance(segmentation.get("counts"), list):
        return {"size": segmentation.get("size"), "counts": str(segmentation.get("counts"))}
    if isinstance(segmentation, dict):
        rle = mask_utils.frPyObjects(segmentation, *segmentation["size"])
    else:
        rle = polygon_to_rle(segmentation, height, width)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def _regions(kind: str, ann: dict, category_id: int, width: int, height: int) -> list[dict]:
    segmentation = ann.get("segmentation")
    if kind == AnnotationKind.BBOX:
        bbox = ann.get("bbox")
        if bbox is None and segmentation:
            bbox = [float(v) for v in mask_utils.toBbox(_rle_bytes(segmentation, width, height))]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise InvalidInput(f"annotation {ann.get('id')}: no bbox")
        x1, y1 = _clip(bbox[0], width), _clip(bbox[1], height)
        x2, y2 = _clip(bbox[0] + bbox[2], width), _clip(bbox[1] + bbox[3], height)
        return [{"category_id": category_id, "bbox": [x1, y1, x2 - x1, y2 - y1]}]
    if kind == AnnotationKind.POLYGON:
        if isinstance(segmentation, dict):
            parts = [list(p) for p in mask_to_polygons(_rle_bytes(segmentation, width, height))]
        elif isinstance(segmentation, list) and segmentation:
            parts = segmentation
        else:
            raise InvalidInput(f"annotation {ann.get('id')}: no segmentation")
        return [
            {
                "category_id": category_id,
                "polygon": _clip_flat([float(v) for v in p], width, height),
            }
            for p in parts
        ]
    if kind == AnnotationKind.MASK:
        if not segmentation:
            raise InvalidInput(f"annotation {ann.get('id')}: no segmentation")
        return [{"category_id": category_id, "rle": _rle(segmentation, width, height)}]
    if kind == AnnotationKind.KEYPOINTS:
        keypoints = ann.get("keypoints")
        if not isinstance(keypoints, list):
            raise InvalidInput(f"annotation {ann.get('id')}: no keypoints")
        flat = _clip_flat(keypoints, width, height, stride=3)
        return [{"category_id": category_id, "keypoints": flat}]
    raise InvalidInput(f"annotation kind {kind!r} takes no regions")


def _rle_bytes(segmentation, width: int, height: int) -> dict:
    rle = _rle(segmentation, width, height)
    return {"size": rle["size"], "counts": rle["counts"].encode()}


def _payload(kind: str, anns: list[dict], categories: dict, item: Item) -> dict:
    if kind == AnnotationKind.CLASSIFICATION:
        labels = {categories[a["category_id"]] for a in anns}
        if len(labels) != 1:
            raise InvalidInput(
                f"a classification answer needs exactly one category, found {len(labels)}"
            )
        return {"category_id": labels.pop()}
    regions = []
    for ann in anns:
        regions += _regions(kind, ann, categories[ann["category_id"]], item.width, item.height)
    return {"regions": regions}


def _check_size(image: dict, item: Item) -> None:
    width, height = image.get("width"), image.get("height")
    if width is not None and height is not None and (width, height) != (item.width, item.height):
        raise InvalidInput(
            f"the COCO image is {width}x{height} but the item is {item.width}x{item.height}"
        )


def _convert(project, coco, skip_unmatched, report) -> list[tuple[Item, dict]]:
    """Match and convert everything before anything is written; raise on the first refusal."""
    schema = project.label_schema
    by_name = {c.name: c for c in schema.categories.all()}
    keypoint_names = {c.pk: c.keypoint_names for c in by_name.values()}
    images, annotations = _list(coco, "images"), _list(coco, "annotations")
    coco_categories = {c.get("id"): str(c.get("name")) for c in _list(coco, "categories")}
    matched, report.unmatched_images = _match_images(project, images)
    anns_of = defaultdict(list)
    unknown = set()
    for ann in annotations:
        if ann.get("image_id") not in matched:
            continue
        name = coco_categories.get(ann.get("category_id"))
        if name not in by_name:
            unknown.add(name if name is not None else f"id {ann.get('category_id')}")
            report.skipped_annotations += 1
            continue
        anns_of[ann["image_id"]].append(ann)
    report.unknown_categories = sorted(unknown)
    if not skip_unmatched and (report.unmatched_images or unknown):
        problems = []
        if report.unmatched_images:
            problems.append(f"images matching no item: {', '.join(report.unmatched_images)}")
        if unknown:
            problems.append(f"categories not in the label schema: {', '.join(sorted(unknown))}")
        raise InvalidInput(
            "; ".join(problems),
            details={
                "unmatched_images": report.unmatched_images,
                "unknown_categories": sorted(unknown),
            },
        )
    category_ids = {
        cid: by_name[name].pk for cid, name in coco_categories.items() if name in by_name
    }
    converted = []
    for image_id, (image, item) in matched.items():
        where = str(image.get("file_name"))
        try:
            _check_size(image, item)
            payload = _payload(schema.kind, anns_of[image_id], category_ids, item)
            payload_validate(
                payload,
                kind=schema.kind,
                categories=keypoint_names,
                frame=ImageFrame(width=item.width, height=item.height),
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}", details={"image": where}) from None
        except DomainError:
            raise
        except Exception as exc:  # pycocotools raises bare exceptions on corrupt input
            raise InvalidInput(f"{where}: malformed COCO annotation ({exc})") from None
        converted.append((item, payload))
    report.matched = len(converted)
    return converted


def coco_import(
    *,
    project: Project,
    coco: dict,
    as_: str,
    actor,
    model_name: str = "import",
    skip_unmatched: bool = False,
) -> CocoImportReport:
    """Import a COCO dataset as pre-labels (one model annotation per matched image) or as gold
    answers (the matched items become gold). Only the project's manager or an operator may.

    Pre-labels already imported under the same ``model_name`` for an item are kept, not
    duplicated, and listed as ``existing``; gold answers go through ``item_update``, which
    refuses items that already have annotations.
    """
    if not can_manage_project(actor, project):
        raise Forbidden("only the project's manager or an operator may import annotations")
    if as_ not in IMPORT_AS:
        raise InvalidInput("as_ must be 'prelabels' or 'gold'")
    if not isinstance(coco, dict):
        raise InvalidInput("the COCO file must be a JSON object")
    model_name = (model_name or "").strip()
    if as_ == "prelabels" and not 0 < len(model_name) <= 120:
        raise InvalidInput("model_name must be 1 to 120 characters")
    report = CocoImportReport(as_=as_)
    converted = _convert(project, coco, skip_unmatched, report)
    with transaction.atomic():
        if as_ == "gold":
            for item, payload in converted:
                item_update(item=item, gold_answer=payload)
                report.created.append(item.pk)
            return report
        done = set(
            Annotation.objects.filter(
                item__in=[item for item, _ in converted],
                source=AnnotationSource.MODEL,
                model_name=model_name,
            ).values_list("item_id", flat=True)
        )
        for item, payload in converted:
            if item.pk in done:
                report.existing.append(item.original_name)
                continue
            if item.is_gold:
                raise InvalidInput(f"{item.original_name}: gold items take no pre-labels")
            annotation = Annotation.objects.create(
                item=item,
                source=AnnotationSource.MODEL,
                model_name=model_name,
                worker=None,
                assignment=None,
                kind=project.label_schema.kind,
                payload=payload,
            )
            report.created.append(annotation.pk)
    return report
