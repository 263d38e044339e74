"""Keypoints: weighted mean position with a weighted visibility vote, per keypoint."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from workflows.consensus.types import FloatArray

__all__ = ["fuse_keypoints"]


def fuse_keypoints(keypoints: ArrayLike, weights: ArrayLike | None = None) -> FloatArray:
    """Fuse one cluster's poses ``(s, k, 3)`` (``x, y, v``) into one pose ``(k, 3)``.

    A keypoint is labelled in the result when members holding at least half of the weight
    labelled it (``v > 0``); its position is then the weighted mean over those members, and
    ``v`` is 2 (visible) when the labelling members that said visible hold at least half of
    their weight, else 1. Unlabelled keypoints are ``(0, 0, 0)`` as in COCO.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 3 or not len(kp):
        raise ValueError(f"keypoints must have shape (s, k, 3) with s >= 1, got {kp.shape}")
    w = np.ones(len(kp)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    labelled = kp[:, :, 2] > 0
    lw = w[:, None] * labelled  # (s, k)
    share = lw.sum(0)
    keep = share >= 0.5 - 1e-12
    pos = np.einsum("sk,skd->kd", lw, kp[:, :, :2]) / np.maximum(share, 1e-12)[:, None]
    visible = (w[:, None] * (kp[:, :, 2] == 2)).sum(0) >= share / 2 - 1e-12
    out = np.zeros((kp.shape[1], 3))
    out[keep, :2] = pos[keep]
    out[keep, 2] = np.where(visible[keep], 2.0, 1.0)
    return out
