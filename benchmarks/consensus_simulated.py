"""Benchmark: consensus on simulated crowds with spammers, ours against single workers and votes.

Ground truth is a synthetic COCO set (``make_synthetic_gt``); the crowd comes from
``workflows.consensus.simulate`` with a share of spammers and of experts. Every method's output is
scored with pycocotools ``COCOeval`` (bbox AP and AP50) against the truth. Baselines in the same
run: the best single worker (an oracle pick, on the images that worker labelled), the mean single
worker, WBF, and the CVAT and SageMaker majority-vote rules. Quality estimation is scored by the
Spearman correlation between the per-worker weights in our report and each worker's true quality
(``WorkerProfile.quality``) and measured quality (F1 x mean IoU against the truth).

    python -m benchmarks.consensus_simulated [--images 300] [--workers 5] [--pool 20]
        [--spammers 0.0 0.2 0.4] [--seed 0] [--shape box] [--two-pass]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy.stats import spearmanr

if __package__ in (None, ""):  # run as a file: put the repo root on sys.path first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._baselines import Fused, cvat_merge, sagemaker_merge, wbf_merge  # noqa: E402
from benchmarks._metrics import DetectionScore  # noqa: E402
from benchmarks._report import (  # noqa: E402
    best_times,
    machine_note,
    print_table,
    report_worker_estimates,
)
from workflows.consensus.simulate import (  # noqa: E402
    CrowdProfile,
    SimulatedCrowd,
    make_synthetic_gt,
    simulate_crowd,
)

Results = list[dict[str, Any]]


def coco_index(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_ap(
    truth: COCO, results: Results, img_ids: Sequence[int] | None = None
) -> tuple[float, float]:
    """bbox AP@[.5:.95] and AP50 of ``results`` (silenced pycocotools output)."""
    if not results:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        dets = truth.loadRes(copy.deepcopy(results))
        ev = COCOeval(truth, dets, "bbox")
        if img_ids is not None:
            ev.params.imgIds = list(img_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])


def _xyxy(bbox: Sequence[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def crowd_inputs(crowd: SimulatedCrowd):
    """Per image, in assignment order: each worker's xyxy boxes and category ids."""
    drawn: dict[tuple[int, int], list[dict]] = {}
    for ann in crowd.coco["annotations"]:
        drawn.setdefault((ann["image_id"], ann["annotator_id"]), []).append(ann)
    out = []
    for img in crowd.coco["images"]:
        boxes, labels = [], []
        for worker in img["annotator_ids"]:
            anns = drawn.get((img["id"], worker), [])
            boxes.append(np.array([_xyxy(a["bbox"]) for a in anns], dtype=float).reshape(-1, 4))
            labels.append(np.array([a["category_id"] for a in anns], dtype=np.int64))
        out.append((img, boxes, labels))
    return out


def fused_results(image_id: int, fused: Fused) -> Results:
    return [
        {
            "image_id": image_id,
            "category_id": int(c),
            "score": float(s),
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
        }
        for b, s, c in zip(fused.boxes, fused.scores, fused.labels, strict=True)
    ]


def baseline(name: str, inputs) -> Callable[[], Results]:
    def run() -> Results:
        out: Results = []
        for img, boxes, labels in inputs:
            if name == "WBF":
                fused = wbf_merge(boxes, img["width"], img["height"], labels=labels)
            elif name == "CVAT":
                fused = cvat_merge(boxes, labels=labels)
            else:
                fused = sagemaker_merge(boxes, labels=labels)
            out.extend(fused_results(img["id"], fused))
        return out

    return run


def worker_measured_quality(gt: dict, crowd: SimulatedCrowd) -> dict[int, float]:
    """Per worker: class-agnostic F1 at IoU 0.5 times mean matched IoU, against the truth."""
    truth: dict[int, list] = {}
    for ann in gt["annotations"]:
        truth.setdefault(ann["image_id"], []).append(_xyxy(ann["bbox"]))
    drawn: dict[tuple[int, int], list] = {}
    for ann in crowd.coco["annotations"]:
        drawn.setdefault((ann["image_id"], ann["annotator_id"]), []).append(_xyxy(ann["bbox"]))
    scores: dict[int, DetectionScore] = {}
    for img in crowd.coco["images"]:
        for worker in img["annotator_ids"]:
            scores.setdefault(worker, DetectionScore()).add(
                np.array(drawn.get((img["id"], worker), []), float).reshape(-1, 4),
                np.array(truth.get(img["id"], []), float).reshape(-1, 4),
            )
    return {w: s.f1 * s.mean_iou for w, s in scores.items()}


def run_share(args: argparse.Namespace, share: float) -> tuple[list[list], list[list]]:
    rng = np.random.default_rng(args.seed)
    gt = make_synthetic_gt(args.images, rng, shape=args.shape)
    profile = CrowdProfile(
        n_workers=args.pool,
        workers_per_image=args.workers,
        spammer_share=share,
        expert_share=args.experts,
    )
    crowd = simulate_crowd(gt, profile, rng)
    truth = coco_index(gt)
    inputs = crowd_inputs(crowd)
    rows: list[list] = []
    tag = f"{share:.0%}"

    # Single workers: each worker scored on the images it labelled.
    per_worker: dict[int, Results] = {}
    for ann in crowd.coco["annotations"]:
        per_worker.setdefault(ann["annotator_id"], []).append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "bbox": ann["bbox"],
                "score": 1.0,
            }
        )
    labelled: dict[int, list[int]] = {}
    for img in crowd.coco["images"]:
        for worker in img["annotator_ids"]:
            labelled.setdefault(worker, []).append(img["id"])
    single = {w: coco_ap(truth, per_worker.get(w, []), labelled[w]) for w in labelled}
    best = max(single, key=lambda w: single[w][0])
    kind = {w.annotator_id: w.kind for w in crowd.workers}
    rows.append([tag, f"best single worker (#{best}, {kind[best]})", *single[best], "-"])
    rows.append(
        [
            tag,
            "mean single worker",
            float(np.mean([v[0] for v in single.values()])),
            float(np.mean([v[1] for v in single.values()])),
            "-",
        ]
    )

    methods: dict[str, Callable[[], Results]] = {}
    report: dict = {}
    if not args.skip_ours:
        from workflows.consensus.coco import merge_coco

        def ours() -> Results:
            result, rep = merge_coco(crowd.coco, iou=0.5, quorum=0.5, method=args.method)
            report.update(rep)
            return [dict(a) for a in result["annotations"]]

        methods["OURS"] = ours
        if args.two_pass:

            def ours_two_pass() -> Results:
                # Study variant: the report's own weights fed back as fixed weights, which also
                # weights the quorum (see README findings); not part of the contract.
                _, first = merge_coco(crowd.coco, iou=0.5, quorum=0.5, method=args.method)
                fed = {int(w["annotator_id"]): float(w["weight"]) for w in first["workers"]}
                result, _ = merge_coco(
                    crowd.coco, iou=0.5, quorum=0.5, method=args.method, weights=fed
                )
                return [dict(a) for a in result["annotations"]]

            methods["OURS two-pass (report weights fed back)"] = ours_two_pass
    for name in ("WBF", "CVAT", "SageMaker"):
        methods[name] = baseline(name, inputs)
    for name, (results, seconds) in best_times(methods, args.repeats).items():
        rows.append([tag, name, *coco_ap(truth, results), len(inputs) / seconds])

    corr_rows: list[list] = []
    if report:
        true_q = {w.annotator_id: w.quality for w in crowd.workers}
        measured = worker_measured_quality(gt, crowd)
        spammers = {w.annotator_id for w in crowd.workers if w.kind == "spammer"}
        for weight_name, weights in report_worker_estimates(report).items():
            ids = sorted(set(weights) & set(true_q))
            if len(ids) < 3:
                continue
            est = [weights[i] for i in ids]
            rho_true = spearmanr(est, [true_q[i] for i in ids]).statistic
            rho_meas = spearmanr(est, [measured[i] for i in ids]).statistic
            ranked = sorted(ids, key=lambda i: weights[i])
            caught = len(set(ranked[: len(spammers)]) & spammers)
            corr_rows.append(
                [
                    tag,
                    weight_name,
                    len(ids),
                    float(rho_true),
                    float(rho_meas),
                    f"{caught}/{len(spammers)}",
                ]
            )
    return rows, corr_rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--limit", type=int, default=None, help="alias of --images")
    parser.add_argument("--workers", type=int, default=5, help="workers per image")
    parser.add_argument("--pool", type=int, default=20, help="workers in the crowd")
    parser.add_argument("--spammers", type=float, nargs="+", default=[0.0, 0.2, 0.4])
    parser.add_argument("--experts", type=float, default=0.1)
    parser.add_argument("--shape", default="box", choices=["box", "polygon", "mixed"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (best)")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument(
        "--two-pass", action="store_true", help="also run ours with its report weights fed back"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.limit:
        args.images = args.limit
    print(
        f"Simulated crowds: {args.images} images, {args.workers} of {args.pool} workers per "
        f"image, {args.experts:.0%} experts, seed {args.seed}; {machine_note()}"
    )
    rows, corr = [], []
    for share in args.spammers:
        r, c = run_share(args, share)
        rows.extend(r)
        corr.extend(c)
    print_table(
        ["spammers", "method", "AP", "AP50", "items/s"],
        rows,
        title="COCO bbox AP against the synthetic truth",
    )
    by = {(r[0], r[1]): r for r in rows}
    ratio_rows = []
    for share in {r[0] for r in rows}:
        ours = by.get((share, "OURS"))
        if ours:
            for name in ("WBF", "CVAT", "SageMaker"):
                base = by[(share, name)]
                ratio_rows.append(
                    [share, name, ours[2] / base[2] if base[2] else float("inf"), ours[4] / base[4]]
                )
    if ratio_rows:
        print_table(
            ["spammers", "baseline", "AP ours/base", "speed ours/base"],
            sorted(ratio_rows),
            title="Ratios, ours over baseline, same run",
        )
    if corr:
        print_table(
            [
                "spammers",
                "report field",
                "workers",
                "Spearman vs true quality",
                "Spearman vs measured quality",
                "spammers ranked lowest",
            ],
            corr,
            title="Quality estimation: report weights against the simulator's truth",
        )
    if args.json:
        args.json.write_text(json.dumps({"ap": rows, "quality": corr}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
