"""Pascal VOC XML of a version: one ``Annotations/<stem>.xml`` per image, boxes only.

VOC has boxes only, so polygons, masks and keypoints are written as their tight bounding
boxes (``segmented`` stays 0). Coordinates are continuous pixels from the top-left corner,
as in the COCO export (``xmax = x + w``), rounded to 1/100 pixel; a classification answer is
a whole-image box. ``ImageSets/Main/default.txt`` lists the stems and ``labelmap.txt`` the
classes in schema order.
"""

import xml.etree.ElementTree as ET

from .geometry import region_bbox
from .snapshot import Snapshot, SnapshotImage


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _sub(parent: ET.Element, tag: str, text) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(text)
    return element


def voc_xml(snapshot: Snapshot, image: SnapshotImage, folder: str = "JPEGImages") -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", folder)
    _sub(root, "filename", image.file_name)
    source = ET.SubElement(root, "source")
    _sub(source, "database", snapshot.project_name)
    _sub(source, "annotation", f"golden version {snapshot.version['number']}")
    size = ET.SubElement(root, "size")
    _sub(size, "width", image.width)
    _sub(size, "height", image.height)
    _sub(size, "depth", 3)
    _sub(root, "segmented", 0)
    for region in image.regions:
        x, y, w, h = region_bbox(region, image.width, image.height)
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", snapshot.category(region["category_id"]).name)
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", 0)
        _sub(obj, "difficult", 0)
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w), ("ymax", y + h)):
            _sub(box, tag, _num(value))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def voc_labelmap(snapshot: Snapshot) -> bytes:
    return "".join(f"{c.name}\n" for c in snapshot.categories).encode()


def voc_image_set(snapshot: Snapshot) -> bytes:
    return "".join(f"{image.stem}\n" for image in snapshot.images).encode()
