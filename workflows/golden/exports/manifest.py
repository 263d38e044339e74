"""``manifest.json``: where every exported label came from, and a checksum of every file.

For each golden annotation: the item and its image hash, the consensus result (round, method,
parameters, package version, worker weights, agreement, decision) with the source annotations
and their workers' user ids, and the reviewer if a reviewer decided.
"""

from .snapshot import Snapshot

MANIFEST_VERSION = 1


def manifest_build(snapshot: Snapshot, *, fmt: str, include_images: bool, files: dict) -> dict:
    """``files`` maps each other member of the archive to ``{"sha256": ..., "bytes": ...}``."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": "quorum",
        "format": fmt,
        "include_images": include_images,
        "project": {
            "id": snapshot.project_id,
            "name": snapshot.project_name,
            "kind": snapshot.kind,
        },
        "version": snapshot.version,
        "categories": [{"id": c.id, "index": c.index, "name": c.name} for c in snapshot.categories],
        "annotations": snapshot.provenance,
        "files": files,
    }
