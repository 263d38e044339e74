"""Command line: ``python -m workflows.consensus merge INPUT.json -o OUTPUT.json``.

The only module of the package that may use tqdm (for the progress bar on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from workflows.consensus.coco import METHODS, merge_coco

__all__ = ["main"]

#: Inputs with at least this many images show a progress bar (unless --no-progress).
PROGRESS_MIN_IMAGES = 2000


def _quorum(text: str) -> float | int:
    """``0.5`` is a fraction; ``3`` (no decimal point) is a count of annotators."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workflows.consensus")
    sub = parser.add_subparsers(dest="command", required=True)
    merge = sub.add_parser("merge", help="merge a multi-annotator COCO file into consensus")
    merge.add_argument("input", type=Path, help="COCO JSON; annotations carry annotator_id")
    merge.add_argument("-o", "--output", type=Path, required=True, help="consensus COCO JSON")
    merge.add_argument("--iou", type=float, default=0.5, help="matching threshold (0.5)")
    merge.add_argument(
        "--quorum",
        type=_quorum,
        default=0.5,
        help="fraction of annotators (0.5) or, without a decimal point, a count",
    )
    merge.add_argument("--method", choices=METHODS, default="auto")
    merge.add_argument("--class-agnostic", action="store_true")
    merge.add_argument("--weights", type=Path, help="JSON {annotator_id: weight}")
    merge.add_argument(
        "--quality-rounds",
        type=int,
        default=None,
        help="EM rounds of worker quality (default: 2 with >= 20 images)",
    )
    merge.add_argument("--report", type=Path, help="write the agreement report here")
    merge.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    dataset = json.loads(args.input.read_text())
    weights = None
    if args.weights:
        raw = json.loads(args.weights.read_text())
        ids = {a["annotator_id"] for a in dataset.get("annotations", [])}
        # JSON object keys are strings; map them back to integer annotator ids when those are.
        weights = {(int(k) if int_ids(ids) else k): float(v) for k, v in raw.items()}
    progress = not args.no_progress and len(dataset.get("images", [])) >= PROGRESS_MIN_IMAGES
    try:
        result, report = merge_coco(
            dataset,
            iou=args.iou,
            quorum=args.quorum,
            method=args.method,
            class_agnostic=args.class_agnostic,
            weights=weights,
            progress=progress,
            quality_rounds=args.quality_rounds,
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.write_text(json.dumps(result))
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    p = report["project"]
    print(
        f"{p['n_images']} images, {p['n_annotations']} annotations -> "
        f"{p['n_consensus']} consensus objects",
        file=sys.stderr,
    )
    return 0


def int_ids(ids: set) -> bool:
    return all(isinstance(v, int) for v in ids)
