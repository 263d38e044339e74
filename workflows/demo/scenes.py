"""The demo's images: filled shapes drawn on noise, so every box is known exactly.

Each scene's shapes are its ground truth: gold items carry theirs as the gold answer, and
``coco_ground_truth`` writes all of them as COCO JSON for scoring consensus against it.
"""

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CLASSES = (("square", "#e6194b"), ("circle", "#3cb44b"), ("triangle", "#4363d8"))
WIDTH, HEIGHT = 320, 240
GOLD_EVERY = 6  # items 0, 6, 12, ... are gold: about one in six
# Saturated fills, each far from the muted random backgrounds, so shapes stand out.
PALETTE = np.array(
    [(220, 40, 40), (40, 170, 60), (40, 80, 220), (240, 200, 30), (160, 50, 200), (20, 200, 200)]
)


@dataclass(frozen=True)
class Shape:
    """One drawn shape. ``bbox`` is COCO [x, y, w, h] in pixels; it covers exactly the pixel
    columns x .. x+w-1 and rows y .. y+h-1 that the shape touches. ``area`` counts its pixels."""

    category: str
    bbox: tuple[int, int, int, int]
    area: int


@dataclass(frozen=True)
class Scene:
    name: str
    png: bytes
    shapes: tuple[Shape, ...]
    is_gold: bool


def _draw(draw: ImageDraw.ImageDraw, category: str, bbox: Sequence[int], fill) -> None:
    x, y, w, h = bbox
    corners = [x, y, x + w - 1, y + h - 1]  # Pillow's end coordinates are inclusive
    if category == "square":
        draw.rectangle(corners, fill=fill)
    elif category == "circle":
        draw.ellipse(corners, fill=fill)
    else:
        draw.polygon([(x, y + h - 1), (x + w - 1, y + h - 1), (x + (w - 1) / 2, y)], fill=fill)


def _apart(a: Sequence[int], b: Sequence[int], margin: int) -> bool:
    return (
        a[0] + a[2] + margin <= b[0]
        or b[0] + b[2] + margin <= a[0]
        or a[1] + a[3] + margin <= b[1]
        or b[1] + b[3] + margin <= a[1]
    )


def scene_render(rng: np.random.Generator) -> tuple[bytes, tuple[Shape, ...]]:
    """Draw 1-4 non-overlapping filled shapes on a noisy background; return PNG bytes and boxes."""
    background = rng.integers(90, 170, size=3)
    pixels = background + rng.normal(0.0, 12.0, size=(HEIGHT, WIDTH, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    far = PALETTE[np.linalg.norm(PALETTE - background, axis=1) > 120]
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(1, 5))):
        category = CLASSES[int(rng.integers(len(CLASSES)))][0]
        for _attempt in range(50):
            w = int(rng.integers(28, 81))
            # Squares and circles are what they say; triangles may be squat or tall.
            h = int(rng.integers(28, 81)) if category == "triangle" else w
            bbox = (int(rng.integers(2, WIDTH - w - 1)), int(rng.integers(2, HEIGHT - h - 1)), w, h)
            if all(_apart(bbox, s.bbox, margin=6) for s in shapes):
                break
        else:
            continue  # the image is crowded: fewer shapes rather than overlapping boxes
        _draw(draw, category, bbox, fill=tuple(int(c) for c in far[rng.integers(len(far))]))
        mask = Image.new("1", (WIDTH, HEIGHT))
        _draw(ImageDraw.Draw(mask), category, bbox, fill=1)
        shapes.append(Shape(category, bbox, int(np.count_nonzero(np.asarray(mask)))))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), tuple(shapes)


def scenes_generate(*, images: int, seed: int) -> list[Scene]:
    """The demo's images, deterministic in ``seed``. Image i is the same whatever ``images`` is
    (each gets its own child generator), so a longer demo extends a shorter one."""
    scenes = []
    for index, rng in enumerate(np.random.default_rng(seed).spawn(images)):
        png, shapes = scene_render(rng)
        scenes.append(Scene(f"shapes-{index:04d}.png", png, shapes, index % GOLD_EVERY == 0))
    return scenes


def bbox_payload(shapes: Sequence[Shape], category_ids: dict[str, int]) -> dict:
    """The answer a perfect worker would submit, in the bbox payload format."""
    return {
        "regions": [
            {"category_id": category_ids[s.category], "bbox": [float(v) for v in s.bbox]}
            for s in shapes
        ]
    }


def coco_ground_truth(
    scenes: Sequence[Scene], item_ids: dict[str, int], category_ids: dict[str, int], *, seed: int
) -> dict:
    """COCO JSON of every scene whose image is an item (``item_ids`` maps image SHA-256 to item
    id, which becomes the COCO image id); ``sha256`` and ``is_gold`` are extra image keys."""
    images, annotations = [], []
    for scene in scenes:
        digest = hashlib.sha256(scene.png).hexdigest()
        if digest not in item_ids:
            continue
        image_id = item_ids[digest]
        images.append(
            {
                "id": image_id,
                "file_name": scene.name,
                "width": WIDTH,
                "height": HEIGHT,
                "sha256": digest,
                "is_gold": scene.is_gold,
            }
        )
        for shape in scene.shapes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[shape.category],
                    "bbox": [float(v) for v in shape.bbox],
                    "area": float(shape.area),
                    "iscrowd": 0,
                }
            )
    return {
        "info": {"description": f"Quorum demo: generated shapes (seed {seed})", "seed": seed},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": category_ids[name], "name": name, "supercategory": "shape"}
            for name, _ in CLASSES
        ],
    }
