"""Benchmark: adaptive redundancy (the production policy) against fixed redundancy 3, 5 and 7.

Issue 5's "Done when": replay the real Lean Crowdsourcing pedestrian boxes (7 MTurk workers per
image, expert boxes on 938 images; Branson, Van Horn, Perona, CVPR 2017), workers taken in the
file's order, each image stopping when the policy is satisfied, and report labels bought per image
and the golden set's F1 against the experts. Target: the F1 of fixed 5 at no more than 3 labels
per image on average (Lean Crowdsourcing reports 2-4x fewer labels at equal error).

Policies, all on the same consensus (``merge_items``, IoU 0.5, quorum 0.5, no worker weights: a
consensus job on one item has no cross-image quality estimate to lean on):

* ADAPTIVE(min, accept): buy ``min`` labels; merge them; ``item_agreement_score`` of the result
  goes to ``redundancy_decision`` (the exact production functions); MORE_LABELS buys the next
  worker's answer; stop at PROMOTE or ESCALATE (``max`` labels without agreement).
* FIXED k: consensus over the first k workers, always promoted.

Escalated images go to an expert in production. Two F1 figures are printed for them:
``F1 (consensus)``, the HEADLINE, scores them as the consensus of every label bought (what the
crowd alone produced, the conservative figure), and ``F1 (expert fix)`` replaces them by the expert
boxes (an upper bound: it assumes the reviewer is as good as the ground truth).

Simulated crowds (``workflows.consensus.simulate``: synthetic boxes, 20-worker pool with a share of
spammers, 7 workers per image in assignment order) show the same policies with spammers.

    python -m benchmarks.redundancy [--min 2 3] [--max 7] [--accept 0.7 0.75 0.8 0.85]
        [--limit N] [--spammers 0.0 0.2] [--sim-images 300] [--seed 0] [--analysis]

``replay`` (one adaptive policy) and ``replay_fixed`` are importable, as is ``run_replay`` (the
pedestrian replay for given parameters, returning a :class:`PolicyResult`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: put the repo root on sys.path first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._data import load_pedestrians  # noqa: E402
from benchmarks._metrics import DetectionScore  # noqa: E402
from benchmarks._report import machine_note, print_table, verdict  # noqa: E402
from workflows.consensus.decision import (  # noqa: E402
    Decision,
    item_agreement_score,
    redundancy_decision,
)
from workflows.consensus.merge import merge_items  # noqa: E402
from workflows.consensus.simulate import (  # noqa: E402
    CrowdProfile,
    make_synthetic_gt,
    simulate_crowd,
)
from workflows.consensus.types import ItemAnnotations, ItemResult, MergeParams  # noqa: E402

TARGET_LABELS = 3.0  # issue 5: at most 3 labels per image on average ...
TARGET_REFERENCE_K = 5  # ... for at least the F1 of fixed redundancy 5


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ReplayImage:
    """One image to replay: each worker's answer in the order they would be bought, and truth.

    ``answers[j]`` is worker j's ``(boxes (n, 4), categories (n,))``; an empty answer is a vote for
    "nothing here". ``gt`` is the expert's ``(boxes, categories)``.
    """

    image_id: int
    answers: tuple[tuple[np.ndarray, np.ndarray], ...]
    gt: tuple[np.ndarray, np.ndarray]


def pedestrian_images(limit: int | None = None) -> list[ReplayImage]:
    """The 938 pedestrian images with expert boxes, workers in file order (one class)."""
    out = []
    for img in load_pedestrians():
        if img.expert is None:
            continue
        answers = tuple((b, np.ones(len(b), np.int64)) for b in img.boxes)
        out.append(
            ReplayImage(img.image_id, answers, (img.expert, np.ones(len(img.expert), np.int64)))
        )
    return out[:limit] if limit else out


def simulated_images(
    n_images: int, spammer_share: float, seed: int, workers_per_image: int = 7
) -> list[ReplayImage]:
    """Synthetic boxes (3 classes) and a simulated 20-worker crowd, workers in assignment order.

    The truth is drawn from its own seed so every spammer share replays the same images.
    """
    gt = make_synthetic_gt(n_images, np.random.default_rng(seed), shape="box")
    profile = CrowdProfile(
        n_workers=20, workers_per_image=workers_per_image, spammer_share=spammer_share
    )
    crowd = simulate_crowd(gt, profile, np.random.default_rng(seed + 1)).coco
    by_key: dict[tuple[int, int], list[dict]] = {}
    for a in crowd["annotations"]:
        by_key.setdefault((a["image_id"], a["annotator_id"]), []).append(a)
    truth: dict[int, list[dict]] = {}
    for a in gt["annotations"]:
        truth.setdefault(a["image_id"], []).append(a)
    out = []
    for img in crowd["images"]:
        answers = tuple(_boxes_cats(by_key.get((img["id"], w), [])) for w in img["annotator_ids"])
        out.append(ReplayImage(img["id"], answers, _boxes_cats(truth.get(img["id"], []))))
    return out


def _boxes_cats(anns: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.array(
        [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], dtype=np.float64
    ).reshape(-1, 4)
    return boxes, np.array([a["category_id"] for a in anns], dtype=np.int64)


def item_of(img: ReplayImage, k: int) -> ItemAnnotations:
    """The item a consensus job would see after ``k`` labels: worker indices 0..k-1 in order.

    ``annotators`` lists all k, so a worker who drew nothing still votes "no object".
    """
    answers = img.answers[:k]
    boxes = np.concatenate([b for b, _ in answers]) if answers else np.zeros((0, 4))
    cats = np.concatenate([c for _, c in answers]) if answers else np.zeros(0, np.int64)
    workers = np.repeat(np.arange(len(answers)), [len(b) for b, _ in answers])
    return ItemAnnotations(
        item_id=img.image_id,
        boxes=boxes.reshape(-1, 4),
        worker_idx=workers,
        category_idx=cats,
        annotators=np.arange(len(answers)),
    )


def consensus_boxes(result: ItemResult) -> tuple[np.ndarray, np.ndarray]:
    """Accepted objects of a merge result as ``(boxes, categories)``."""
    acc = result.accepted
    boxes = np.array([o.box for o in acc], dtype=np.float64).reshape(-1, 4)
    return boxes, np.array([o.category_idx for o in acc], dtype=np.int64)


def score_image(score: DetectionScore, pred: tuple, gt: tuple, threshold: float = 0.5) -> None:
    """Hungarian F1 at IoU ``threshold``, matched within each class (one class for pedestrians)."""
    for c in np.union1d(pred[1], gt[1]):
        score.add(pred[0][pred[1] == c], gt[0][gt[1] == c], threshold)


# --------------------------------------------------------------------------- policies

# accept may be one number (the production policy) or a per-label-count schedule {labels: accept}
# (the proposal studied below); a schedule is evaluated with the same redundancy_decision by
# passing it the threshold for the current number of labels.
Accept = float | dict[int, float]


def accept_at(accept: Accept, labels: int) -> float:
    if isinstance(accept, dict):
        return accept[labels] if labels in accept else accept[max(k for k in accept if k <= labels)]
    return float(accept)


@dataclass
class PolicyResult:
    """Outcome of one policy on a set of images; per-image arrays in image order."""

    name: str
    labels: np.ndarray  # labels bought per image
    decision: list[Decision]  # PROMOTE or ESCALATE (fixed policies: always PROMOTE)
    pred: list[tuple[np.ndarray, np.ndarray]]  # consensus of the labels bought
    agreement: np.ndarray  # agreement score at the stop
    trace: list[list[float]] = field(default_factory=list)  # agreement after each label count
    score: DetectionScore = field(default_factory=DetectionScore)  # consensus-only (headline)
    score_fixed: DetectionScore = field(default_factory=DetectionScore)  # escalations -> truth
    per_image_f1: np.ndarray | None = None

    @property
    def mean_labels(self) -> float:
        return float(self.labels.mean()) if len(self.labels) else 0.0

    @property
    def promoted(self) -> np.ndarray:
        return np.array([d is Decision.PROMOTE for d in self.decision], bool)

    @property
    def labels_per_promoted(self) -> float:
        p = self.promoted
        return float(self.labels[p].mean()) if p.any() else float("nan")


def _finish(res: PolicyResult, images: Sequence[ReplayImage]) -> PolicyResult:
    f1 = []
    for img, pred, dec in zip(images, res.pred, res.decision, strict=True):
        one = DetectionScore()
        score_image(one, pred, img.gt)
        f1.append(one.f1)
        score_image(res.score, pred, img.gt)
        score_image(res.score_fixed, img.gt if dec is Decision.ESCALATE else pred, img.gt)
    res.per_image_f1 = np.array(f1)
    return res


def replay(
    images: Sequence[ReplayImage],
    *,
    min_labels: int = 2,
    max_labels: int = 7,
    accept: Accept = 0.8,
    params: MergeParams | None = None,
    name: str | None = None,
    agreement_fn: Callable[[ItemResult, np.ndarray], float] = item_agreement_score,
) -> PolicyResult:
    """Adaptive redundancy, replayed: the production merge, agreement score and decision.

    Every image that is still open after a round gets its next worker's answer; open images are
    merged together in one ``merge_items`` call per round (the function is per item, batching
    only saves Python overhead), so the replay is at most ``max - min + 1`` calls.
    ``agreement_fn`` swaps the score, to measure a proposed change before it lands.
    """
    params = params or MergeParams(iou_threshold=0.5, quorum=0.5)
    n = len(images)
    labels = np.full(n, min_labels)
    decision: list[Decision | None] = [None] * n
    pred: list = [None] * n
    agreement = np.zeros(n)
    trace: list[list[float]] = [[] for _ in range(n)]
    open_ = list(range(n))
    while open_:
        items = [item_of(images[i], int(labels[i])) for i in open_]
        results = merge_items(items, params)
        still = []
        for i, item, res in zip(open_, items, results, strict=True):
            k = int(labels[i])
            # an image with fewer workers than max_labels escalates when it runs out of them
            cap = min(max_labels, len(images[i].answers))
            score = agreement_fn(res, item.worker_idx)
            trace[i].append(score)
            d = redundancy_decision(
                agreement=score,
                labels=k,
                min_labels=min_labels,
                max_labels=cap,
                accept=accept_at(accept, k),
            )
            if d is Decision.MORE_LABELS:
                labels[i] += 1
                still.append(i)
            else:
                decision[i], pred[i], agreement[i] = d, consensus_boxes(res), score
        open_ = still
    res = PolicyResult(
        name or policy_name(min_labels, accept), labels, decision, pred, agreement, trace
    )  # type: ignore[arg-type]
    return _finish(res, images)


def policy_name(min_labels: int, accept: Accept) -> str:
    if isinstance(accept, dict):
        acc = ", ".join(f"{k}+: {v:g}" for k, v in sorted(accept.items()))
        return f"adaptive min={min_labels} accept={{{acc}}}"
    return f"adaptive min={min_labels} accept={accept:g}"


def replay_fixed(
    images: Sequence[ReplayImage], k: int, params: MergeParams | None = None
) -> PolicyResult:
    """Fixed redundancy: consensus over the first ``k`` workers of every image."""
    params = params or MergeParams(iou_threshold=0.5, quorum=0.5)
    items = [item_of(img, k) for img in images]
    results = merge_items(items, params)
    agreement = np.array(
        [item_agreement_score(r, it.worker_idx) for r, it in zip(results, items, strict=True)]
    )
    res = PolicyResult(
        f"fixed {k}",
        np.array([len(it.annotators) for it in items]),
        [Decision.PROMOTE] * len(items),
        [consensus_boxes(r) for r in results],
        agreement,
    )
    return _finish(res, images)


def run_replay(
    *,
    min_labels: int = 2,
    max_labels: int = 7,
    accept: Accept = 0.8,
    iou: float = 0.5,
    quorum: float = 0.5,
    limit: int | None = None,
) -> PolicyResult:
    """The pedestrian replay of one adaptive setting, for reuse (e.g. by the pipeline's lead).

    >>> r = run_replay(min_labels=2, accept=0.8)          # doctest: +SKIP
    >>> r.mean_labels, r.score.f1, r.score_fixed.f1, (~r.promoted).sum()  # doctest: +SKIP
    """
    return replay(
        pedestrian_images(limit),
        min_labels=min_labels,
        max_labels=max_labels,
        accept=accept,
        params=MergeParams(iou_threshold=iou, quorum=quorum),
    )


# --------------------------------------------------------------------------- report


def policy_rows(results: Sequence[PolicyResult], ref: PolicyResult) -> list[list]:
    rows = []
    for r in results:
        n = len(r.labels)
        rows.append(
            [
                r.name,
                r.mean_labels,
                r.labels_per_promoted,
                r.promoted.sum() / n,
                1 - r.promoted.sum() / n,
                r.score.precision,
                r.score.recall,
                r.score.f1,
                r.score_fixed.f1,
                r.score.mean_iou,
                r.mean_labels / ref.mean_labels,
                r.score.f1 / ref.score.f1,
            ]
        )
    return rows


POLICY_HEADERS = [
    "policy",
    "labels/img",
    "labels/promoted",
    "promoted",
    "escalated",
    "precision",
    "recall",
    "F1 (consensus)",
    "F1 (expert fix)",
    "mean IoU",
    "labels / fixed 5",
    "F1 / fixed 5",
]


def frontier(results: Sequence[PolicyResult]) -> list[PolicyResult]:
    """Settings no other setting beats on both labels (fewer) and headline F1 (higher)."""
    out = []
    for r in results:
        dominated = any(
            o.mean_labels <= r.mean_labels
            and o.score.f1 >= r.score.f1
            and (o.mean_labels < r.mean_labels or o.score.f1 > r.score.f1)
            for o in results
        )
        if not dominated:
            out.append(r)
    return sorted(out, key=lambda r: r.mean_labels)


def recommend(results: Sequence[PolicyResult], ref: PolicyResult) -> PolicyResult:
    """Best headline F1 within the label budget; if none reaches fixed 5, still the best F1."""
    within = [r for r in results if r.mean_labels <= TARGET_LABELS + 1e-9]
    pool = within or list(results)
    return max(pool, key=lambda r: (r.score.f1, -r.mean_labels))


def target_met(r: PolicyResult, ref: PolicyResult) -> bool:
    return r.mean_labels <= TARGET_LABELS + 1e-9 and r.score.f1 >= ref.score.f1


def run_policies(
    images: Sequence[ReplayImage],
    mins: Sequence[int],
    accepts: Sequence[Accept],
    max_labels: int,
    fixed: Sequence[int] = (3, 5, 7),
) -> tuple[list[PolicyResult], list[PolicyResult]]:
    fixed_res = [replay_fixed(images, k) for k in fixed]
    adaptive = [
        replay(images, min_labels=m, max_labels=max_labels, accept=a) for m in mins for a in accepts
    ]
    return fixed_res, adaptive


def _ref(fixed_res: Sequence[PolicyResult]) -> PolicyResult:
    return next(r for r in fixed_res if r.name == f"fixed {TARGET_REFERENCE_K}")


def print_policies(title: str, fixed_res, adaptive) -> PolicyResult:
    ref = _ref(fixed_res)
    print_table(POLICY_HEADERS, policy_rows([*fixed_res, *adaptive], ref), title)
    print_frontier(title, [*fixed_res, *adaptive], ref)
    best = recommend(adaptive, ref)
    print(
        f"\nbest adaptive within {TARGET_LABELS:g} labels/img: {best.name}: "
        f"{best.mean_labels:.3f} labels/img, F1 {best.score.f1:.4f} vs fixed 5 "
        f"{ref.score.f1:.4f} -> target {verdict(target_met(best, ref))}"
    )
    parity = [r for r in adaptive if r.score.f1 >= ref.score.f1]
    if parity:
        cheap = min(parity, key=lambda r: r.mean_labels)
        print(
            f"cheapest adaptive at F1 >= fixed 5: {cheap.name}: {cheap.mean_labels:.3f} "
            f"labels/img ({cheap.mean_labels / ref.mean_labels:.2f}x fixed 5), F1 "
            f"{cheap.score.f1:.4f}, escalated {1 - cheap.promoted.mean():.1%}"
        )
    return best


def print_frontier(title: str, results: Sequence[PolicyResult], ref: PolicyResult) -> None:
    print_table(
        ["policy", "labels/img", "F1 (consensus)", "escalated", "labels / fixed 5", "F1 / fixed 5"],
        [
            [
                r.name,
                r.mean_labels,
                r.score.f1,
                1 - r.promoted.mean(),
                r.mean_labels / ref.mean_labels,
                r.score.f1 / ref.score.f1,
            ]
            for r in frontier(results)
        ],
        f"{title}: frontier (no other setting has fewer labels and higher F1)",
    )


# --------------------------------------------------------------------------- analysis


def calibration_rows(
    images: Sequence[ReplayImage], ks: Sequence[int], bins: Sequence[float]
) -> list[list]:
    """Is the agreement score calibrated? For k labels, bin images by score and show how good
    the k-label consensus is against the experts (share with per-image F1 = 1, pooled F1)."""
    rows = []
    for k in ks:
        res = replay_fixed(images, k)
        edges = [*bins, 1.0 + 1e-9]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (res.agreement >= lo) & (res.agreement < hi)
            if not sel.any():
                continue
            pooled = DetectionScore()
            for i in np.flatnonzero(sel):
                score_image(pooled, res.pred[i], images[i].gt)
            rows.append(
                [
                    k,
                    f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}",
                    int(sel.sum()),
                    float(sel.mean()),
                    float((res.per_image_f1[sel] == 1).mean()),
                    pooled.f1,
                ]
            )
    return rows


def cost_rows(res: PolicyResult, images: Sequence[ReplayImage]) -> list[list]:
    """Which images buy many labels: by labels bought, their truth size and final quality."""
    rows = []
    n_gt = np.array([len(img.gt[0]) for img in images])
    for k in np.unique(res.labels):
        sel = res.labels == k
        esc = np.array([d is Decision.ESCALATE for d in res.decision])[sel]
        rows.append(
            [
                int(k),
                int(sel.sum()),
                float(sel.mean()),
                float(esc.mean()),
                float(n_gt[sel].mean()),
                float((n_gt[sel] == 0).mean()),
                float(res.per_image_f1[sel].mean()),
            ]
        )
    return rows


def schedules(base: Sequence[float]) -> list[dict[int, float]]:
    """Per-label-count thresholds to try: stricter at few labels, laxer later (and the reverse,
    as a control). Each is keyed by the label count from which it applies."""
    out = []
    for a in base:
        out.append({2: min(a + 0.10, 0.99), 3: a, 4: a - 0.05, 5: a - 0.10})
        out.append({2: min(a + 0.05, 0.99), 3: a, 4: a - 0.05, 5: a - 0.10})
        out.append({2: a - 0.05, 3: a, 4: a + 0.05})  # control: laxer first
    return out


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min", type=int, nargs="+", default=[2, 3], dest="mins")
    ap.add_argument("--max", type=int, default=7, dest="max_labels")
    ap.add_argument(
        "--accept", type=float, nargs="+", default=[0.6, 0.7, 0.75, 0.78, 0.8, 0.85, 0.9]
    )
    ap.add_argument("--limit", type=int, default=None, help="first N expert-labelled images")
    ap.add_argument("--spammers", type=float, nargs="*", default=[0.0, 0.2])
    ap.add_argument("--sim-images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--analysis",
        action="store_true",
        help="calibration, per-image cost and per-label-count schedules",
    )
    args = ap.parse_args(argv)

    print(f"# Adaptive redundancy benchmark ({machine_note()})")
    images = pedestrian_images(args.limit)
    n_boxes = sum(len(img.gt[0]) for img in images)
    print(
        f"\nReal pedestrians: {len(images)} images with expert boxes ({n_boxes} boxes), "
        f"workers in file order, max {args.max_labels} labels; consensus IoU 0.5, quorum 0.5; "
        "F1 at IoU 0.5 (Hungarian). HEADLINE = F1 (consensus): escalated images scored as "
        "the crowd's consensus; F1 (expert fix) replaces them by the expert boxes."
    )
    fixed_res, adaptive = run_policies(images, args.mins, args.accept, args.max_labels)
    best = print_policies("Pedestrians: fixed vs adaptive (min, accept)", fixed_res, adaptive)

    if args.analysis:
        _analysis(images, fixed_res, adaptive, best, args)

    for share in args.spammers:
        sim = simulated_images(args.sim_images, share, args.seed)
        print(
            f"\nSimulated crowd: {len(sim)} synthetic images (3 classes, "
            f"{sum(len(i.gt[0]) for i in sim)} boxes), 20-worker pool, {share:.0%} spammers, "
            "7 workers per image in assignment order, seed "
            f"{args.seed}; F1 per class at IoU 0.5."
        )
        f, a = run_policies(sim, args.mins, args.accept, args.max_labels)
        if args.analysis:
            a += proposal_runs(sim, args.max_labels)
        print_policies(f"Simulated, {share:.0%} spammers", f, a)
    return 0


def _analysis(images, fixed_res, adaptive, best, args) -> None:
    ref = _ref(fixed_res)
    print_table(
        ["labels", "agreement bin", "images", "share", "images with F1 = 1", "pooled F1"],
        calibration_rows(
            images, range(2, args.max_labels + 1), [0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
        ),
        "Calibration: k-label consensus quality by its agreement score",
    )
    print_table(
        [
            "labels bought",
            "images",
            "share",
            "escalated",
            "expert boxes/img",
            "empty (no pedestrian)",
            "mean per-image F1",
        ],
        cost_rows(best, images),
        f"Where the labels go ({best.name})",
    )
    sched = [
        replay(images, min_labels=2, max_labels=args.max_labels, accept=s)
        for s in schedules([0.8, 0.85, 0.9])
    ]
    proposal = proposal_runs(images, args.max_labels)
    print_table(
        POLICY_HEADERS,
        policy_rows([*sched, *proposal], ref),
        "Per-label-count accept schedules ({k+: accept} applies from k labels on; min 2) and the proposal",
    )
    print_frontier("All settings incl. schedules", [*fixed_res, *adaptive, *sched, *proposal], ref)


def proposal_runs(images: Sequence[ReplayImage], max_labels: int) -> list[PolicyResult]:
    """The proposal for decision.py (see the README): a laxer threshold from the 4th label on,
    and no agreement credit for objects only one annotator drew."""
    return [
        replay(images, min_labels=2, max_labels=max_labels, accept=s) for s in PROPOSED_SCHEDULES
    ] + [
        replay(
            images,
            min_labels=2,
            max_labels=max_labels,
            accept=s,
            agreement_fn=agreement_without_singletons,
            name=f"{policy_name(2, s)} + no singleton credit",
        )
        for s in (0.75, 0.8, *PROPOSED_SCHEDULES)
    ]


PROPOSED_SCHEDULES: tuple[dict[int, float], ...] = ({2: 0.8, 4: 0.65}, {2: 0.8, 4: 0.7})


def agreement_without_singletons(result: ItemResult, worker_idx: np.ndarray) -> float:
    """``item_agreement_score`` where an accepted object drawn by one annotator earns nothing.

    A singleton's "agreement" (mean IoU of its members to the fused box) is 1.0 by construction,
    so in the production score a lone false box raises its author's F1 as if everyone agreed;
    with 2 labels and quorum 0.5 such boxes are accepted, and the item gets promoted with them.
    """
    if result.n_annotators == 0:
        return 0.0
    n = result.n_annotators
    accepted = result.accepted
    counts = np.bincount(np.asarray(worker_idx, dtype=np.int64), minlength=n)[:n]
    tp = np.zeros(n, dtype=np.float64)
    for obj in accepted:
        if obj.support >= 2:
            np.add.at(tp, np.asarray(obj.workers, dtype=np.int64), obj.agreement)
    den = counts + len(accepted)
    return float(np.clip(np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0).mean(), 0, 1))


if __name__ == "__main__":
    raise SystemExit(main())
