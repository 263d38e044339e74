"""Masks and polygons: weighted pixel vote and STAPLE, on the members' union bounding box.

Members arrive as COCO RLEs; they are decoded only inside the union of their bounding boxes,
the one place where per-pixel work pays, and the fused mask is encoded back to RLE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from workflows.consensus.masks import decode, encode, rle_to_box
from workflows.consensus.types import MASK_METHODS, FloatArray, Rle

__all__ = ["MASK_METHODS", "fuse_masks", "pixel_vote", "Staple"]


def _crop_stack(rles: Sequence[Rle]) -> tuple[NDArray[np.bool_], tuple[int, int, int, int]]:
    """Decode members into a ``(s, h, w)`` stack cropped to their union box."""
    b = rle_to_box(rles)
    h, w = (int(v) for v in rles[0]["size"])
    x1, y1 = int(np.floor(b[:, 0].min())), int(np.floor(b[:, 1].min()))
    x2, y2 = int(np.ceil(b[:, 2].max())), int(np.ceil(b[:, 3].max()))
    x2, y2 = max(min(x2, w), x1 + 1), max(min(y2, h), y1 + 1)
    stack = np.stack([decode(r)[y1:y2, x1:x2] for r in rles])
    return stack, (x1, y1, x2, y2)


def _uncrop(crop: NDArray[np.bool_], window: tuple[int, int, int, int], size) -> Rle:
    h, w = (int(v) for v in size)
    full = np.zeros((h, w), dtype=bool)
    x1, y1, x2, y2 = window
    full[y1:y2, x1:x2] = crop
    return encode(full)


def pixel_vote(
    stack: NDArray[np.bool_], weights: ArrayLike | None = None, threshold: float = 0.5
) -> tuple[NDArray[np.bool_], FloatArray]:
    """Weighted vote per pixel over a ``(s, h, w)`` stack.

    Returns the fused ``(h, w)`` mask (weighted share ``>= threshold``) and the share itself.
    """
    s = stack.shape[0]
    w = np.ones(s) if weights is None else np.asarray(weights, dtype=np.float64)
    share = np.tensordot(w / w.sum(), stack.astype(np.float64), axes=1)
    return share >= threshold - 1e-12, share


@dataclass
class Staple:
    """STAPLE: simultaneous truth and performance level estimation for binary masks.

    EM over pixels: the latent truth per pixel, and per annotator a sensitivity ``p`` and a
    specificity ``q``. Initialised from the (weighted) pixel vote.

    Parameters
    ----------
    n_iter, tol
        EM stopping rule on the change in the mean posterior.
    prior
        Foreground prior; ``None`` estimates it from the vote on the cropped window.

    Attributes
    ----------
    sensitivity_, specificity_ : (s,) float64
    probabilities_ : (h, w) float64 — posterior of foreground per pixel
    mask_ : (h, w) bool — posterior >= 0.5
    loss_history_ : list[float] — mean absolute change of the posterior per iteration

    References
    ----------
    S. K. Warfield, K. H. Zou, W. M. Wells, "Simultaneous Truth and Performance Level
    Estimation (STAPLE)", IEEE Trans. Medical Imaging 23(7), 2004.
    """

    n_iter: int = 30
    tol: float = 1e-4
    prior: float | None = None

    def fit(self, stack: NDArray[np.bool_], weights: ArrayLike | None = None) -> Staple:
        """Fit on a ``(s, h, w)`` stack of member masks; returns ``self``."""
        d = stack.reshape(stack.shape[0], -1).astype(np.float64)
        _, share = pixel_vote(stack, weights)
        post = share.reshape(-1)
        f = float(np.clip(post.mean() if self.prior is None else self.prior, 1e-6, 1 - 1e-6))
        eps = 1e-6
        self.loss_history_: list[float] = []
        for _ in range(self.n_iter):
            p = np.clip((d @ post) / max(post.sum(), eps), eps, 1 - eps)
            q = np.clip(((1 - d) @ (1 - post)) / max((1 - post).sum(), eps), eps, 1 - eps)
            la = np.log(f) + np.log(p) @ d + np.log(1 - p) @ (1 - d)
            lb = np.log(1 - f) + np.log(q) @ (1 - d) + np.log(1 - q) @ d
            new = 1.0 / (1.0 + np.exp(np.clip(lb - la, -700, 700)))
            change = float(np.mean(np.abs(new - post)))
            post = new
            self.loss_history_.append(change)
            if change < self.tol:
                break
        self.sensitivity_, self.specificity_ = p, q
        self.probabilities_ = post.reshape(stack.shape[1:])
        self.mask_ = self.probabilities_ >= 0.5
        return self


def fuse_masks(
    rles: Sequence[Rle], weights: ArrayLike | None = None, method: str = "vote"
) -> tuple[Rle, dict[str, FloatArray]]:
    """Fuse one cluster's member masks.

    Returns the fused RLE and diagnostics (``sensitivity``/``specificity`` for STAPLE).
    """
    if not len(rles):
        raise ValueError("fuse_masks needs at least one mask")
    if method not in MASK_METHODS:
        raise ValueError(f"unknown mask method {method!r}; choose from {MASK_METHODS}")
    stack, window = _crop_stack(rles)
    if method == "vote":
        fused, _ = pixel_vote(stack, weights)
        info: dict[str, FloatArray] = {}
    else:
        st = Staple().fit(stack, weights)
        fused = st.mask_
        info = {"sensitivity": st.sensitivity_, "specificity": st.specificity_}
    return _uncrop(fused, window, rles[0]["size"]), info
