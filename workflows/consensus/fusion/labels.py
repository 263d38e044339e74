"""Class labels: weighted majority vote and Dawid-Skene EM, over many tasks at once.

Input is crowd-kit's long format as parallel arrays: ``task`` (a cluster or an item),
``worker`` and ``label``, one row per answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from workflows.consensus.types import LABEL_METHODS, FloatArray, IntArray

__all__ = ["LABEL_METHODS", "majority_vote", "DawidSkene"]


def majority_vote(
    task: ArrayLike, label: ArrayLike, weights: ArrayLike | None = None, n_tasks: int | None = None
) -> tuple[IntArray, FloatArray, IntArray]:
    """Weighted majority label per task.

    Parameters
    ----------
    task : (n,) int, ``0..t-1``
    label : (n,) int
    weights : (n,) float, optional
    n_tasks
        Number of tasks ``t`` (default ``max(task) + 1``).

    Returns
    -------
    labels : (t,) int64
        Winning label; ties go to the smallest label, so the result does not depend on the order
        of answers. Tasks without answers get -1.
    probs : (t, k) float64
        Share of the weight per label, columns in the order of ``classes``.
    classes : (k,) int64
        Sorted distinct labels.
    """
    task = np.asarray(task, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    w = np.ones(len(task)) if weights is None else np.asarray(weights, dtype=np.float64)
    t = int(task.max(initial=-1)) + 1 if n_tasks is None else n_tasks
    classes, lab = np.unique(label, return_inverse=True)
    k = len(classes)
    votes = np.zeros((t, max(k, 1)))
    np.add.at(votes, (task, lab), w)
    total = votes.sum(1, keepdims=True)
    probs = np.divide(votes, total, out=np.zeros_like(votes), where=total > 0)
    winner = np.where(total[:, 0] > 0, classes[np.argmax(votes, axis=1)] if k else -1, -1)
    return winner.astype(np.int64), probs[:, :k], classes.astype(np.int64)


@dataclass
class DawidSkene:
    """Dawid-Skene EM: each worker has a confusion matrix; true labels are latent.

    Initialised from the (unweighted) majority vote, then alternates the M-step (class
    priors and per-worker confusion matrices, with ``smoothing`` pseudo-counts on every cell
    plus extra on the diagonal so thin workers start near "mostly right") and the E-step
    (posterior over the true label of each task).

    Parameters
    ----------
    n_iter
        Maximum EM iterations.
    tol
        Stop when the log-likelihood improves by less than this.
    smoothing
        Pseudo-count added to every confusion cell.

    Attributes
    ----------
    classes_ : (k,) int64
    labels_ : (t,) int64
        Most probable label per task.
    probas_ : (t, k) float64
        Posterior over labels.
    errors_ : (w, k, k) float64
        Confusion matrix of each worker: ``errors_[j, true, given]``.
    workers_ : (w,) int64
    priors_ : (k,) float64
    loss_history_ : list[float]
        Negative log-likelihood per iteration.

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using
    the EM Algorithm", Applied Statistics 28(1), 1979.
    """

    n_iter: int = 50
    tol: float = 1e-6
    smoothing: float = 0.01

    def fit(self, task: ArrayLike, worker: ArrayLike, label: ArrayLike) -> DawidSkene:
        """Fit on long-format answers ``(n,)`` each; returns ``self``."""
        task = np.asarray(task, dtype=np.int64)
        workers, w = np.unique(np.asarray(worker, dtype=np.int64), return_inverse=True)
        classes, y = np.unique(np.asarray(label, dtype=np.int64), return_inverse=True)
        t = int(task.max(initial=-1)) + 1
        k, nw = len(classes), len(workers)
        _, probs, _ = majority_vote(task, y, n_tasks=t)
        probs = np.pad(probs, ((0, 0), (0, k - probs.shape[1])))
        empty = probs.sum(1) == 0
        probs[empty] = 1.0 / max(k, 1)
        self.loss_history_: list[float] = []
        for _ in range(self.n_iter):
            priors = (probs.sum(0) + self.smoothing) / (t + k * self.smoothing)
            errors = np.full((nw, k, k), self.smoothing) + np.eye(k)[None] * self.smoothing * k
            np.add.at(errors, (w, slice(None), y), probs[task])
            errors /= errors.sum(2, keepdims=True)
            log_post = np.tile(np.log(priors), (t, 1))
            np.add.at(log_post, task, np.log(errors[w, :, y]))
            mx = log_post.max(1, keepdims=True)
            post = np.exp(log_post - mx)
            norm = post.sum(1, keepdims=True)
            probs = post / norm
            nll = -float(np.sum(mx + np.log(norm)))
            done = bool(self.loss_history_) and self.loss_history_[-1] - nll < self.tol
            self.loss_history_.append(nll)
            if done:
                break
        self.classes_ = classes.astype(np.int64)
        self.workers_ = workers.astype(np.int64)
        self.priors_ = priors
        self.errors_ = errors
        self.probas_ = probs
        self.labels_ = classes[np.argmax(probs, axis=1)].astype(np.int64)
        return self
