"""Reading uploaded images and archives safely: size limits, real decoding, zip-bomb guards."""

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from crowd.common.exceptions import InvalidInput, PayloadTooLarge

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class ImageFile:
    name: str
    data: bytes
    sha256: str
    width: int
    height: int
    extension: str

    @property
    def storage_name(self) -> str:
        # Content-addressed names: the same image stored twice cannot overwrite another.
        return f"{self.sha256[:2]}/{self.sha256}.{self.extension}"

    def as_django_file(self) -> ContentFile:
        return ContentFile(self.data)


def image_read(name: str, data: bytes) -> ImageFile:
    """Decode enough of ``data`` to trust it is an image; refuse oversized or unknown files."""
    if len(data) > settings.QUORUM_MAX_IMAGE_BYTES:
        raise PayloadTooLarge(
            f"image is {len(data)} bytes; the limit is {settings.QUORUM_MAX_IMAGE_BYTES}"
        )
    if not data:
        raise InvalidInput("the file is empty")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height, fmt = img.width, img.height, img.format
            if width * height > settings.QUORUM_MAX_IMAGE_PIXELS:
                raise PayloadTooLarge(
                    f"image is {width}x{height} pixels; the limit is "
                    f"{settings.QUORUM_MAX_IMAGE_PIXELS} pixels"
                )
            img.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise InvalidInput(f"not a readable image ({type(exc).__name__})") from None
    if fmt not in FORMATS:
        raise InvalidInput(f"image format {fmt} is not supported; use {', '.join(FORMATS)}")
    return ImageFile(
        name=name,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        extension=FORMATS[fmt],
    )


def _is_image_name(name: str) -> bool:
    path = PurePosixPath(name)
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def zip_members(archive) -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) of the image files in a zip, refusing archives over the limits.

    The declared sizes are checked before anything is read, and each member is read with a
    cap, so a zip bomb cannot exhaust memory.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise InvalidInput("the archive is not a valid zip file") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and _is_image_name(m.filename)]
        if len(members) > settings.QUORUM_MAX_ARCHIVE_MEMBERS:
            raise PayloadTooLarge(
                f"the archive holds {len(members)} images; the limit is "
                f"{settings.QUORUM_MAX_ARCHIVE_MEMBERS}"
            )
        total = sum(m.file_size for m in members)
        if total > settings.QUORUM_MAX_ARCHIVE_BYTES:
            raise PayloadTooLarge(
                f"the archive unpacks to {total} bytes; the limit is "
                f"{settings.QUORUM_MAX_ARCHIVE_BYTES}"
            )
        if not members:
            raise InvalidInput("the archive holds no image files")
        for member in members:
            with zf.open(member) as fh:
                data = fh.read(settings.QUORUM_MAX_IMAGE_BYTES + 1)
            yield member.filename, data


def folder_members(folder: str) -> Iterator[tuple[str, bytes]]:
    """Yield (relative name, bytes) of image files below ``folder``, which must lie inside
    QUORUM_IMPORT_ROOT (so the API cannot be used to read arbitrary server files)."""
    if not settings.QUORUM_IMPORT_ROOT:
        raise InvalidInput("folder import is disabled: QUORUM_IMPORT_ROOT is not set")
    root = Path(settings.QUORUM_IMPORT_ROOT).resolve()
    path = (root / folder).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput("the folder must lie inside the server's import root")
    if not path.is_dir():
        raise InvalidInput(f"no folder {folder!r} in the import root")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    names = [p for p in files if _is_image_name(str(p.relative_to(path)))]
    if not names:
        raise InvalidInput("the folder holds no image files")
    if len(names) > settings.QUORUM_MAX_ARCHIVE_MEMBERS:
        raise PayloadTooLarge(f"the folder holds more than {settings.QUORUM_MAX_ARCHIVE_MEMBERS}")
    for file in names:
        if not file.resolve().is_relative_to(root):
            continue  # a symlink pointing out of the root is ignored, never followed
        with file.open("rb") as fh:
            yield str(file.relative_to(path)), fh.read(settings.QUORUM_MAX_IMAGE_BYTES + 1)
