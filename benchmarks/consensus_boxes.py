"""Benchmark: box consensus on real MTurk pedestrian boxes, ours against WBF, CVAT and SageMaker.

Data: Lean Crowdsourcing pedestrians (7 workers per image, expert truth on 938 images), read from
``shared/bench-data``. For k workers per image (the first k in file order) every method fuses the
boxes of the 938 expert-labelled images; the fused boxes are Hungarian-matched to the expert boxes
at IoU >= 0.5 and scored by precision, recall, F1 and mean matched IoU; speed is images per second
(best of ``--repeats`` rounds, methods interleaved), from the same in-memory input, in the same run.

    python -m benchmarks.consensus_boxes [--workers 3 5 7] [--limit N] [--repeats 5] [--failures]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

if __package__ in (None, ""):  # run as a file: put the repo root on sys.path first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._baselines import cvat_merge, sagemaker_merge, wbf_merge  # noqa: E402
from benchmarks._data import PedestrianImage, load_pedestrians, pedestrian_coco  # noqa: E402
from benchmarks._failures import classify, failure_rows  # noqa: E402
from benchmarks._metrics import DetectionScore, score_detections  # noqa: E402
from benchmarks._report import (  # noqa: E402
    best_times,
    machine_note,
    print_table,
    report_worker_estimates,
    verdict,
)

Boxes = list[np.ndarray]


@dataclass
class Row:
    method: str
    k: int | str
    score: DetectionScore
    seconds: float | None
    n_images: int

    @property
    def items_per_second(self) -> float | None:
        return self.n_images / self.seconds if self.seconds else None

    def as_dict(self) -> dict:
        s = self.score
        return {
            "method": self.method,
            "k": self.k,
            "precision": s.precision,
            "recall": s.recall,
            "f1": s.f1,
            "mean_iou": s.mean_iou,
            "items_per_second": self.items_per_second,
        }


def run_ours(
    images: Sequence[PedestrianImage],
    k: int,
    iou: float,
    quorum: float,
    report_sink: dict | None = None,
    **params: object,
) -> Callable[[], Boxes]:
    """A closure that fuses all images with ``merge_coco`` and returns xyxy boxes per image.

    The last report is copied into ``report_sink`` for the quality-estimation check.
    """
    from workflows.consensus.coco import merge_coco

    coco = pedestrian_coco(images, k)
    order = {img.image_id: i for i, img in enumerate(images)}

    def run() -> Boxes:
        result, report = merge_coco(coco, iou=iou, quorum=quorum, **params)
        if report_sink is not None:
            report_sink.clear()
            report_sink.update(report)
        out: list[list[list[float]]] = [[] for _ in images]
        for ann in result["annotations"]:
            x, y, w, h = ann["bbox"]
            out[order[ann["image_id"]]].append([x, y, x + w, y + h])
        return [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in out]

    return run


def run_baseline(
    images: Sequence[PedestrianImage], k: int, name: str, iou: float, quorum: float
) -> Callable[[], Boxes]:
    def run() -> Boxes:
        out = []
        for img in images:
            boxes = list(img.boxes[:k])
            if name == "WBF":
                fused = wbf_merge(boxes, img.width, img.height, iou_thr=iou, quorum=quorum)
            elif name == "CVAT":
                fused = cvat_merge(boxes, iou_thr=iou, quorum=quorum)
            else:
                fused = sagemaker_merge(boxes, iou_thr=iou, quorum=quorum)
            out.append(fused.boxes)
        return out

    return run


def single_worker_rows(images: Sequence[PedestrianImage], min_images: int) -> list[Row]:
    """The mean worker (every answer pooled) and the best worker with ``min_images`` answers."""
    pooled = DetectionScore()
    per_worker: dict[int, DetectionScore] = {}
    counts: dict[int, int] = {}
    for img in images:
        for worker, boxes in zip(img.workers, img.boxes, strict=True):
            pooled.add(boxes, img.expert)
            per_worker.setdefault(worker, DetectionScore()).add(boxes, img.expert)
            counts[worker] = counts.get(worker, 0) + 1
    eligible = [w for w in per_worker if counts[w] >= min_images]
    best = max(eligible, key=lambda w: per_worker[w].f1)
    return [
        Row("mean single worker", "1", pooled, None, len(images)),
        Row(
            f"best single worker (w{best:02d}, {counts[best]} imgs)",
            "1",
            per_worker[best],
            None,
            counts[best],
        ),
    ]


def quality_check(images: Sequence[PedestrianImage], k: int, report: dict) -> list[list]:
    """Spearman between the report's per-worker estimates and the worker's measured quality.

    Measured quality is F1 x mean matched IoU of the worker's own boxes against the experts,
    over the images where it is among the first ``k``; workers with under 10 such images are
    left out (their measurement is noise).
    """
    if not report:
        return []
    measured: dict[int, DetectionScore] = {}
    seen: dict[int, int] = {}
    for img in images:
        for worker, boxes in zip(img.workers[:k], img.boxes[:k], strict=True):
            measured.setdefault(worker, DetectionScore()).add(boxes, img.expert)
            seen[worker] = seen.get(worker, 0) + 1
    truth = {w: s.f1 * s.mean_iou for w, s in measured.items() if seen[w] >= 10}
    rows = []
    for field, estimate in report_worker_estimates(report).items():
        ids = sorted(set(estimate) & set(truth))
        if len(ids) >= 3:
            rho = spearmanr([estimate[i] for i in ids], [truth[i] for i in ids]).statistic
            rows.append([k, field, len(ids), float(rho)])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[3, 5, 7])
    parser.add_argument("--limit", type=int, default=None, help="first N expert images only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--quorum", type=float, default=0.5)
    parser.add_argument("--method", default="auto", help="merge_coco method for ours")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--skip-ours", action="store_true", help="baselines only")
    parser.add_argument("--failures", action="store_true", help="why ours misses, per k")
    args = parser.parse_args(argv)

    images = [img for img in load_pedestrians() if img.expert is not None][: args.limit]
    truth = [img.expert for img in images]
    print(
        f"Lean pedestrians: {len(images)} images with expert boxes "
        f"({sum(len(t) for t in truth)} boxes); {machine_note()}"
    )
    rows = single_worker_rows(images, min_images=30)
    quality_rows: list[list] = []
    for k in args.workers:
        methods: dict[str, Callable[[], Boxes]] = {}
        report: dict = {}
        if not args.skip_ours:
            methods["OURS"] = run_ours(
                images, k, args.iou, args.quorum, report_sink=report, method=args.method
            )
        for name in ("WBF", "CVAT", "SageMaker"):
            methods[name] = run_baseline(images, k, name, args.iou, args.quorum)
        for name, (preds, seconds) in best_times(methods, args.repeats).items():
            rows.append(Row(name, k, score_detections(preds, truth), seconds, len(images)))
            if name == "OURS" and args.failures:
                missed, extra = classify(images, preds, k, args.quorum)
                print_table(
                    ["kind", "cause", "h<50px", "h 50-100px", "h>=100px", "total"],
                    failure_rows(missed, "missed") + failure_rows(extra, "extra"),
                    title=f"OURS failures at k={k}",
                )

        quality_rows.extend(quality_check(images, k, report))

    headers = ["method", "k", "precision", "recall", "F1@0.5", "mean IoU", "items/s"]
    print_table(
        headers,
        [
            [
                r.method,
                r.k,
                r.score.precision,
                r.score.recall,
                r.score.f1,
                r.score.mean_iou,
                r.items_per_second if r.items_per_second else "-",
            ]
            for r in rows
        ],
        title=f"Box consensus vs expert boxes (IoU {args.iou}, quorum {args.quorum})",
    )
    report_ratios(rows, args.workers)
    if quality_rows:
        print_table(
            ["k", "report field", "workers", "Spearman vs measured F1 x IoU"],
            quality_rows,
            title="Quality estimation: report estimates vs each worker's score against experts",
        )
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    return 0


def report_ratios(rows: list[Row], workers: Sequence[int]) -> None:
    by = {(r.method, r.k): r for r in rows}
    ratio_rows = []
    for k in workers:
        ours = by.get(("OURS", k))
        if ours is None:
            continue
        for name in ("WBF", "CVAT", "SageMaker"):
            base = by[(name, k)]
            ratio_rows.append(
                [
                    k,
                    name,
                    ours.score.f1 / base.score.f1,
                    ours.score.mean_iou / base.score.mean_iou,
                    (ours.items_per_second or 0) / (base.items_per_second or 1),
                ]
            )
    if ratio_rows:
        print_table(
            ["k", "baseline", "F1 ours/base", "mIoU ours/base", "speed ours/base"],
            ratio_rows,
            title="Ratios, ours over baseline, same run",
        )
    checks = []
    if ("OURS", 5) in by:
        o5 = by[("OURS", 5)]
        checks.append((f"ours k=5 F1 {o5.score.f1:.4f} >= 0.92", o5.score.f1 >= 0.92))
        checks.append(
            (f"ours k=5 mean IoU {o5.score.mean_iou:.4f} >= 0.835", o5.score.mean_iou >= 0.835)
        )
        w5 = by[("WBF", 5)]
        speed = (o5.items_per_second or 0) / (w5.items_per_second or 1)
        checks.append((f"ours k=5 speed {speed:.1f}x WBF >= 5x", speed >= 5))
        if ("OURS", 3) in by:
            o3 = by[("OURS", 3)]
            checks.append(
                (
                    f"ours k=3 F1 {o3.score.f1:.4f} >= WBF k=5 F1 {w5.score.f1:.4f}",
                    o3.score.f1 >= w5.score.f1,
                )
            )
    if checks:
        print("\nTargets (issue 3):")
        for text, ok in checks:
            print(f"  {verdict(ok):7s} {text}")


if __name__ == "__main__":
    raise SystemExit(main())
