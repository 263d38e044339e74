"""A simulated crowd working a project through the real services (for the demo and tests).

Answers come from the consensus package's simulator, drawn from a ground-truth COCO file
whose image ids are item ids; every simulated worker has an answer for every item, and
submits it whenever the claim service hands it that item. Nothing here bypasses a rule:
leases, gold injection, qualifications, redundancy and consensus all run as for people.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crowd.common.exceptions import NothingForYou
from workflows.consensus.simulate import CrowdProfile, make_workers, simulate_crowd

Answers = dict[int, dict[int, dict]]  # {worker index: {item id: bbox payload}}


def crowd_answers_simulate(
    *, ground_truth: dict, workers: int, seed: int, spammer_share: float = 0.0
) -> Answers:
    """Every simulated worker's bbox answer for every image of ``ground_truth``."""
    rng = np.random.default_rng(seed)
    profile = CrowdProfile(
        n_workers=workers,
        workers_per_image=workers,
        spammer_share=spammer_share,
        expert_share=0.0,
    )
    pool = make_workers(profile, rng, first_id=0)
    crowd = simulate_crowd(ground_truth, profile, rng, workers=pool)
    sizes = {im["id"]: (im["width"], im["height"]) for im in ground_truth["images"]}
    answers: Answers = {w.annotator_id: {i: {"regions": []} for i in sizes} for w in pool}
    for ann in crowd.coco["annotations"]:
        bbox = _inside(ann["bbox"], *sizes[ann["image_id"]])
        if bbox is not None:
            regions = answers[ann["annotator_id"]][ann["image_id"]]["regions"]
            regions.append({"category_id": int(ann["category_id"]), "bbox": bbox})
    return answers


def _inside(bbox, width: int, height: int) -> list[float] | None:
    """The box clipped to the image (a person's drag cannot leave it); None if nothing is left."""
    x1, y1 = max(0.0, float(bbox[0])), max(0.0, float(bbox[1]))
    x2 = min(float(width), float(bbox[0]) + float(bbox[2]))
    y2 = min(float(height), float(bbox[1]) + float(bbox[3]))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    # Round down so that the rounded box never pokes out of the image.
    x1, y1 = math.ceil(x1 * 100) / 100, math.ceil(y1 * 100) / 100
    return [x1, y1, math.floor((x2 - x1) * 100) / 100, math.floor((y2 - y1) * 100) / 100]


@dataclass
class CrowdRun:
    claims: int = 0
    submitted: int = 0
    refusals: int = 0


def crowd_work(
    *,
    project_id: int,
    workers: list,
    answers: Answers,
    claim: Callable,
    submit: Callable,
    rounds: int = 50,
) -> CrowdRun:
    """Let the workers take turns claiming and submitting until none gets anything.

    ``claim(worker, project_id) -> (assignment_id, item_id)`` raises NothingForYou when there
    is nothing; ``submit(worker, assignment_id, payload)``. Passing the services gives an
    in-process crowd; passing HTTP calls gives a crowd of API clients.
    """
    run = CrowdRun()
    for _ in range(rounds):
        progressed = False
        for index, worker in enumerate(workers):
            try:
                assignment_id, item_id = claim(worker, project_id)
            except NothingForYou:
                run.refusals += 1
                continue
            run.claims += 1
            submit(worker, assignment_id, answers[index % len(answers)][item_id])
            run.submitted += 1
            progressed = True
        if not progressed:
            break
    return run
