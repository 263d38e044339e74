"""Validation in the frozen dataclasses of workflows.consensus.types."""

import numpy as np
import pytest

from workflows.consensus.fusion.boxes import BOX_METHODS
from workflows.consensus.fusion.labels import LABEL_METHODS
from workflows.consensus.fusion.masks import MASK_METHODS
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


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("label_method", "dawid-skene"),
        ("label_method", "Vote"),
        ("box_method", "weighted-mean"),
        ("box_method", "staple"),
        ("mask_method", "robust"),
        ("mask_method", ""),
    ],
)
def test_unknown_method_names_are_rejected_naming_the_field_and_the_choices(field, name):
    with pytest.raises(ValueError, match=field) as info:
        MergeParams(**{field: name})
    assert name == "" or repr(name) in str(info.value)
    allowed = {"label_method": LABEL_METHODS, "box_method": BOX_METHODS}.get(field, MASK_METHODS)
    assert all(repr(choice) in str(info.value) for choice in allowed)


@pytest.mark.parametrize(
    ("field", "name"),
    [
        *(("box_method", n) for n in ("robust", "median", "weighted_mean", "mean", "nearest_mean")),
        *(("mask_method", n) for n in ("vote", "staple")),
        *(("label_method", n) for n in ("vote", "dawid_skene")),
    ],
)
def test_every_known_method_name_is_accepted(field, name):
    assert getattr(MergeParams(**{field: name}), field) == name
