"""Validation in the frozen dataclasses of workflows.consensus.types."""

import numpy as np
import pytest

from workflows.consensus.types import ItemAnnotations, MergeParams, ShapeKind


def test_defaults_and_immutability():
    item = ItemAnnotations("img", [[0, 0, 2, 2], [1, 1, 3, 3]], [4, 2], [1, 1])
    assert item.boxes.dtype == np.float64
    assert item.worker_idx.dtype == np.int64
    assert item.annotators.tolist() == [2, 4]
    assert item.ann_ids.tolist() == [0, 1]
    with pytest.raises(ValueError):
        item.boxes[0, 0] = 5.0
    with pytest.raises(AttributeError):
        item.kind = ShapeKind.MASK  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"boxes": [[0, 0, 1]]}, ValueError),
        ({"boxes": [[0, 0, np.nan, 1]]}, ValueError),
        ({"boxes": [[2, 0, 1, 1]]}, ValueError),
        ({"worker_idx": [0, 1]}, ValueError),
        ({"worker_idx": [0.5]}, TypeError),
        ({"annotators": [7]}, ValueError),
        ({"kind": "mask"}, ValueError),
        ({"kind": "keypoints"}, ValueError),
        ({"kind": "hexagon"}, ValueError),
    ],
)
def test_invalid_items_are_rejected(kwargs, error):
    base = {"item_id": 1, "boxes": [[0, 0, 1, 1]], "worker_idx": [0], "category_idx": [0]}
    with pytest.raises(error):
        ItemAnnotations(**{**base, **kwargs})


def test_empty_item_is_valid_and_keeps_silent_annotators():
    item = ItemAnnotations(1, [], [], [], annotators=[3, 1])
    assert len(item) == 0 and item.annotators.tolist() == [1, 3]


@pytest.mark.parametrize("quorum", [0.0, 1.5, 0, True])
def test_bad_quorum(quorum):
    with pytest.raises((ValueError, TypeError)):
        MergeParams(quorum=quorum)


def test_params_round_trip_to_dict():
    p = MergeParams(quorum=3, oks_sigmas=[0.1, 0.2])
    assert p.to_dict()["quorum"] == 3 and p.to_dict()["oks_sigmas"] == [0.1, 0.2]
