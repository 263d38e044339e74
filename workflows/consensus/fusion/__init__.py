"""Fusion of matched objects: boxes, masks and polygons, class labels and keypoints."""
