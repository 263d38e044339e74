"""Write an export's members into a zip file, with a checksum per member and progress.

Members are produced lazily (an image is read from storage only when its turn comes), so an
archive of many images never holds more than one of them in memory.
"""

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Images are already compressed; deflating them again costs time and saves nothing.
STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


@dataclass(frozen=True)
class Member:
    name: str
    produce: Callable[[], bytes]


def archive_write(
    target,
    members: Iterable[Member],
    *,
    total: int,
    manifest: Callable[[dict], dict],
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> None:
    """Write ``members`` then ``manifest.json`` (built from the members' checksums) to
    ``target`` (a path or a binary file object)."""
    files = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, member in enumerate(members, start=1):
            data = member.produce()
            stored = member.name.lower().endswith(STORED_SUFFIXES)
            archive.writestr(
                member.name, data,
                compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
            )  # fmt: skip
            files[member.name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            on_progress(done, total)
        body = json.dumps(manifest(files), indent=2, sort_keys=True, ensure_ascii=False)
        archive.writestr("manifest.json", body.encode())
