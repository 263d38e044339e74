"""What every export format is written from: a version loaded once into plain dataclasses.

Loading is the only database work of a build; the writers (coco, voc, yolo, manifest) are
pure functions of a :class:`Snapshot`. Gold items never appear (a version cannot hold them,
and the loader filters them again so a hand-edited row cannot leak a gold answer).
"""

import posixpath
from dataclasses import dataclass, field

from django.db.models import Prefetch

from crowd.labeling.models import Annotation
from workflows.golden.models import GoldenAnnotation, GoldenDatasetVersion
from workflows.golden.versions import regions_of


@dataclass(frozen=True)
class SnapshotCategory:
    id: int
    index: int  # 0-based position in the schema: the YOLO class number
    name: str
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple = ()


@dataclass(frozen=True)
class SnapshotImage:
    item_id: int
    file_name: str  # unique within the export, stem included
    width: int
    height: int
    content_hash: str
    storage_name: str
    golden_id: int
    regions: tuple[dict, ...]

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.file_name)[0]


@dataclass
class Snapshot:
    project_id: int
    project_name: str
    kind: str
    version: dict
    categories: list[SnapshotCategory]
    images: list[SnapshotImage]
    provenance: list[dict] = field(default_factory=list)

    def category(self, category_id: int) -> SnapshotCategory:
        return self._by_id[category_id]

    def __post_init__(self):
        self._by_id = {c.id: c for c in self.categories}


def _safe_name(name: str) -> str:
    """A bare file name: no directories (zip slip), no control characters."""
    base = posixpath.basename(name.replace("\\", "/")).strip()
    return "".join(ch for ch in base if ch.isprintable()) or "image"


def _file_names(goldens: list[GoldenAnnotation]) -> dict[int, str]:
    """Original names where unique by stem (case-insensitive), else ``<item id>-<name>``."""
    names = {}
    for golden in goldens:
        item = golden.item
        names[item.pk] = _safe_name(item.original_name or item.image.name)
    stems = [posixpath.splitext(n)[0].lower() for n in names.values()]
    clashes = {s for s in stems if stems.count(s) > 1}
    return {
        pk: (f"{pk}-{name}" if posixpath.splitext(name)[0].lower() in clashes else name)
        for pk, name in names.items()
    }


def _provenance(golden: GoldenAnnotation, file_name: str) -> dict:
    result = golden.consensus_result
    entry = {
        "golden_annotation_id": golden.pk,
        "item_id": golden.item_id,
        "item_content_hash": golden.item.content_hash,
        "file_name": file_name,
        "promoted_at": golden.promoted_at.isoformat(),
        "reviewed_by": golden.reviewed_by_id,
        "consensus": None,
    }
    if result is not None:
        entry["consensus"] = {
            "result_id": result.pk,
            "round": result.round,
            "method": result.method,
            "parameters": result.parameters,
            "package_version": result.package_version,
            "inputs_digest": result.inputs_digest,
            "worker_weights": result.worker_weights,
            "agreement": result.agreement,
            "decision": result.decision,
            "source_annotations": [
                {
                    "annotation_id": a.pk,
                    "worker_id": a.worker_id,
                    "source": a.source,
                    "model_name": a.model_name,
                }
                for a in result.annotations.all()
            ],
        }
    return entry


def snapshot_load(version: GoldenDatasetVersion) -> Snapshot:
    """Read a version, its items, categories and provenance in a fixed number of queries."""
    project = version.project
    schema = project.label_schema
    categories = [
        SnapshotCategory(
            id=c.pk,
            index=index,
            name=c.name,
            keypoint_names=tuple(c.keypoint_names or ()),
            skeleton=tuple(tuple(edge) for edge in (c.skeleton or ())),
        )
        for index, c in enumerate(schema.categories.order_by("position", "id"))
    ]
    goldens = list(
        version.annotations.filter(item__is_gold=False)
        .select_related("item", "consensus_result")
        .prefetch_related(
            Prefetch(
                "consensus_result__annotations",
                queryset=Annotation.objects.order_by("pk").only(
                    "pk", "worker_id", "source", "model_name"
                ),
            )
        )
        .order_by("item_id")
    )
    names = _file_names(goldens)
    images = [
        SnapshotImage(
            item_id=g.item_id,
            file_name=names[g.item_id],
            width=g.item.width,
            height=g.item.height,
            content_hash=g.item.content_hash,
            storage_name=g.item.image.name,
            golden_id=g.pk,
            regions=tuple(regions_of(schema.kind, g.payload)),
        )
        for g in goldens
    ]
    return Snapshot(
        project_id=project.pk,
        project_name=project.name,
        kind=schema.kind,
        version={
            "id": version.pk,
            "number": version.number,
            "content_hash": version.content_hash,
            "counts": version.counts,
            "parameters": version.parameters,
            "created_by": version.created_by_id,
            "created_at": version.created_at.isoformat(),
        },
        categories=categories,
        images=images,
        provenance=[_provenance(g, names[g.item_id]) for g in goldens],
    )
