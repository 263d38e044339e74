"""Benchmark: polygon/mask consensus on real CrowdSeg MTurk polygons, ours against Crowd-Kit.

Data: CrowdSeg (47 objects in 9 COCO images, about 41 worker polygons each, an author-drawn truth
polygon per object), read from ``shared/bench-data``. Each object is one item. For 5 workers (the
first 5 in file order, and seeded random draws of 5) and for all workers, every method builds one
consensus mask per object; the score is the mean over objects of its IoU with the rasterised truth
polygon (an object with no consensus output scores 0). Speed is objects per second from the same
polygons, rasterisation included, after an untimed warm-up call (imports, numba JIT).

    python -m benchmarks.consensus_masks [--seeds 0 1 2 3 4] [--limit N] [--repeats 1] [--per-object]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

if __package__ in (None, ""):  # run as a file: put the repo root on sys.path first
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._baselines import CROWDKIT_METHODS, crowdkit_segment  # noqa: E402
from benchmarks._data import SegObject, crowdseg_coco, load_crowdseg  # noqa: E402
from benchmarks._metrics import polygon_rle, rle_iou, segmentation_rle  # noqa: E402
from benchmarks._report import best_time, machine_note, print_table, verdict  # noqa: E402

Selection = list[tuple[SegObject, list[int]]]
SHORT = {
    "SegmentationMajorityVote": "Crowd-Kit MV",
    "SegmentationEM": "Crowd-Kit EM",
    "SegmentationRASA": "Crowd-Kit RASA",
}


def selections(objects: Sequence[SegObject], seeds: Sequence[int]) -> dict[str, Selection]:
    """Which worker rows each configuration uses, per object."""
    out = {"5 first": [(o, list(range(min(5, len(o.workers))))) for o in objects]}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        out[f"5 random (seed {seed})"] = [
            (
                o,
                sorted(
                    rng.choice(len(o.workers), size=min(5, len(o.workers)), replace=False).tolist()
                ),
            )
            for o in objects
        ]
    out["all"] = [(o, list(range(len(o.workers)))) for o in objects]
    return out


def run_ours(selection: Selection, **params: object) -> Callable[[], dict[int, dict | None]]:
    """Closure fusing every object with ``merge_coco``; keeps each object's best-scored output."""
    from workflows.consensus.coco import merge_coco

    coco = crowdseg_coco(selection)
    sizes = {o.object_id: (o.height, o.width) for o, _ in selection}

    def run() -> dict[int, dict | None]:
        result, _report = merge_coco(coco, **params)
        best: dict[int, dict] = {}
        for ann in result["annotations"]:
            if "segmentation" not in ann:
                continue
            current = best.get(ann["image_id"])
            if current is None or ann.get("score", 0) > current.get("score", 0):
                best[ann["image_id"]] = ann
        return {
            oid: segmentation_rle(best[oid]["segmentation"], *sizes[oid]) if oid in best else None
            for oid in sizes
        }

    return run


def run_crowdkit(selection: Selection, method: str) -> Callable[[], dict[int, dict | None]]:
    def run() -> dict[int, dict | None]:
        tasks = []
        for obj, rows in selection:
            rles = mask_utils.frPyObjects([obj.polygons[i] for i in rows], obj.height, obj.width)
            masks = mask_utils.decode(rles).astype(bool)  # (h, w, n)
            tasks.append(
                (
                    obj.object_id,
                    [obj.workers[i] for i in rows],
                    [masks[:, :, j] for j in range(masks.shape[2])],
                )
            )
        fused = crowdkit_segment(method, tasks)
        return {
            oid: mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            for oid, m in fused.items()
        }

    return run


def warm_up(name: str, selection: Selection, args: argparse.Namespace) -> None:
    """One untimed call on two objects, so imports and JIT compilation are not timed."""
    small = selection[:2]
    if name.startswith("OURS"):
        method = name[6:-1] if "(" in name else args.method[0]
        run_ours(small, iou=args.iou, quorum=args.quorum, method=method)()
    else:
        full = {v: k for k, v in SHORT.items()}[name]
        run_crowdkit(small, full)()


def per_object_iou(objects: Sequence[SegObject], fused: dict[int, dict | None]) -> list[float]:
    """IoU to truth of each object's consensus mask (0 where there is none)."""
    return [
        0.0
        if fused.get(o.object_id) is None
        else rle_iou(fused[o.object_id], polygon_rle([o.gt], o.height, o.width))
        for o in objects
    ]


def score(objects: Sequence[SegObject], fused: dict[int, dict | None]) -> tuple[float, int]:
    """Mean IoU to truth over objects, and how many objects got no consensus mask."""
    ious, empty = [], 0
    for obj in objects:
        rle = fused.get(obj.object_id)
        if rle is None:
            empty += 1
            ious.append(0.0)
            continue
        ious.append(rle_iou(rle, polygon_rle([obj.gt], obj.height, obj.width)))
    return float(np.mean(ious)), empty


def single_worker_rows(objects: Sequence[SegObject], min_objects: int) -> list[list]:
    per_worker: dict[int, list[float]] = {}
    pooled = []
    for obj in objects:
        truth = polygon_rle([obj.gt], obj.height, obj.width)
        for worker, poly in zip(obj.workers, obj.polygons, strict=True):
            iou = rle_iou(polygon_rle([poly], obj.height, obj.width), truth)
            pooled.append(iou)
            per_worker.setdefault(worker, []).append(iou)
    eligible = {w: float(np.mean(v)) for w, v in per_worker.items() if len(v) >= min_objects}
    best = max(eligible, key=eligible.get)
    return [
        ["1 (any)", "mean single worker", float(np.mean(pooled)), "-", 0],
        [
            "1 (any)",
            f"best single worker (#{best}, {len(per_worker[best])} objs)",
            eligible[best],
            "-",
            0,
        ],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--limit", type=int, default=None, help="first N objects only")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per method (best)")
    parser.add_argument("--method", nargs="+", default=["auto"], help="merge_coco method(s)")
    parser.add_argument("--quorum", type=float, default=0.5)
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--crowdkit", nargs="*", default=list(CROWDKIT_METHODS))
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--per-object", action="store_true", help="list objects where ours and MV differ"
    )
    args = parser.parse_args(argv)

    objects, skipped = load_crowdseg()
    objects = list(objects[: args.limit])
    n_polys = sum(len(o.workers) for o in objects)
    print(
        f"CrowdSeg: {len(objects)} objects, {n_polys} worker polygons "
        f"({skipped} rows with None vertices skipped); {machine_note()}"
    )
    rows = single_worker_rows(objects, min_objects=5)
    summary: dict[tuple[str, str], list[tuple[float, float]]] = {}
    per_object: dict[str, dict[str, list[float]]] = {}
    for config, selection in selections(objects, args.seeds).items():
        methods: dict[str, Callable[[], dict[int, dict | None]]] = {}
        if not args.skip_ours:
            for m in args.method:
                label = "OURS" if len(args.method) == 1 else f"OURS ({m})"
                methods[label] = run_ours(selection, iou=args.iou, quorum=args.quorum, method=m)
        for m in args.crowdkit:
            methods[SHORT[m]] = run_crowdkit(selection, m)
        for name, fn in methods.items():
            if config == "5 first":
                warm_up(name, selection, args)
            fused, seconds = best_time(fn, args.repeats)
            miou, empty = score(objects, fused)
            per_object.setdefault(config, {})[name] = per_object_iou(objects, fused)
            rows.append([config, name, miou, len(objects) / seconds, empty])
            group = "5 random" if config.startswith("5 random") else config
            summary.setdefault((group, name), []).append((miou, len(objects) / seconds))

    print_table(
        ["workers", "method", "mean IoU", "objects/s", "no output"], rows, title="Per configuration"
    )
    agg = [
        [
            g,
            n,
            float(np.mean([v[0] for v in vals])),
            float(np.std([v[0] for v in vals])),
            float(np.mean([v[1] for v in vals])),
            len(vals),
        ]
        for (g, n), vals in summary.items()
    ]
    print_table(
        ["workers", "method", "mean IoU", "std over draws", "objects/s", "draws"],
        agg,
        title="Summary (random draws averaged)",
    )
    report_targets(summary)
    if args.per_object:
        print_per_object(objects, per_object)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": agg}, indent=2, default=str))
    return 0


def print_per_object(
    objects: Sequence[SegObject], per_object: dict[str, dict[str, list[float]]]
) -> None:
    """Objects where any method is under 0.75 or ours and Crowd-Kit MV differ by > 0.02."""
    for config in ("5 first", "all"):
        by = per_object.get(config, {})
        names = [n for n in by if n.startswith("OURS")] + [n for n in by if n in SHORT.values()]
        mv = by.get("Crowd-Kit MV")
        rows = []
        for i, obj in enumerate(objects):
            values = [by[n][i] for n in names]
            ours = [by[n][i] for n in names if n.startswith("OURS")]
            differs = mv is not None and any(abs(o - mv[i]) > 0.02 for o in ours)
            if min(values) < 0.75 or differs:
                rows.append([obj.object_id, obj.name, *values])
        if rows:
            print_table(["object", "name", *names], rows, title=f"Per object, {config}")


def report_targets(summary: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    mean = {
        key: (float(np.mean([v[0] for v in vals])), float(np.mean([v[1] for v in vals])))
        for key, vals in summary.items()
    }
    ours_names = sorted({n for _, n in mean if n.startswith("OURS")})
    ratio_rows = []
    for group in ("5 first", "5 random", "all"):
        for ours in ours_names:
            if (group, ours) not in mean:
                continue
            for base in SHORT.values():
                if (group, base) in mean:
                    o, b = mean[(group, ours)], mean[(group, base)]
                    ratio_rows.append([group, ours, base, o[0] / b[0], o[1] / b[1]])
    if ratio_rows:
        print_table(
            ["workers", "ours", "baseline", "IoU ours/base", "speed ours/base"],
            ratio_rows,
            title="Ratios, ours over baseline, same run",
        )
    if not ours_names:
        return
    print("\nTargets (issue 3):")
    for ours in ours_names:
        for group, target in (("5 first", 0.85), ("5 random", 0.85), ("all", 0.875)):
            if (group, ours) in mean:
                value = mean[(group, ours)][0]
                print(
                    f"  {verdict(value >= target):7s} {ours} {group}: mean IoU {value:.4f} "
                    f">= {target}"
                )
        for group in ("5 first", "5 random", "all"):
            mv = mean.get((group, "Crowd-Kit MV"))
            if mv and (group, ours) in mean:
                speed = mean[(group, ours)][1] / mv[1]
                print(
                    f"  {verdict(speed >= 1):7s} {ours} {group}: speed {speed:.2f}x Crowd-Kit MV"
                    " >= 1x"
                )


if __name__ == "__main__":
    raise SystemExit(main())
