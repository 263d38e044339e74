"""Consensus results, promotion, golden dataset versions and exports (COCO, VOC, YOLO)."""
