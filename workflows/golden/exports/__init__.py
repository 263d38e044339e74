"""Exports of golden dataset versions: COCO, Pascal VOC and YOLO archives with a manifest."""
