"""Pure consensus engine: geometry, matching, fusion, agreement and worker quality.

Imports only the standard library, numpy, scipy and pycocotools, so it runs (and is tested)
without Django. See :mod:`workflows.consensus.types` for the data conventions.
"""

from workflows.consensus.types import (
    FusedObject,
    ItemAnnotations,
    ItemResult,
    MergeParams,
    ShapeKind,
)

__all__ = ["FusedObject", "ItemAnnotations", "ItemResult", "MergeParams", "ShapeKind"]
