"""Images uploaded to the studio: checked before they are kept, kept only in the session folder.

An upload is kept under a name the studio makes up (never the name the browser sent), after its
bytes have been read as a raster image (PNG, JPEG, WebP, GIF, BMP) of bounded size or as an SVG
the drawing pipeline can read. Anything else is refused with one line saying why.

Example:
    >>> import io, tempfile
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("RGB", (8, 6)).save(buffer, "PNG")
    >>> store = UploadStore(tempfile.mkdtemp(), max_bytes=1 << 20)
    >>> upload = store.add(buffer.getvalue(), "photo.png")
    >>> upload.kind, upload.width, upload.height, upload.path.name
    ('image', 8, 6, 'u1.png')
    >>> try:
    ...     store.add(b"hello", "notes.txt")
    ... except UploadError as error:
    ...     print(error, error.status)
    notes.txt is not an image (PNG, JPEG, WebP, GIF, BMP or SVG) 415
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from clipdraw.options import LIMITS

__all__ = ["MAX_PIXELS", "RASTER_FORMATS", "Upload", "UploadError", "UploadStore"]

#: Raster formats accepted, by PIL's name, with the suffix the kept file gets.
RASTER_FORMATS: dict[str, str] = {
    "PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
}

#: Most pixels an uploaded image may have (a decompression bomb is refused, not decoded): those
#: of the largest canvas a drawing may have.
MAX_PIXELS = int(LIMITS["canvas_side"]) ** 2

#: Most uploads one session keeps.
MAX_UPLOADS = 1000


class UploadError(ValueError):
    """An upload that is refused; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 415) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A kept upload: ``kind`` is ``"image"`` (raster) or ``"svg"``."""

    id: str
    path: Path
    kind: str
    name: str
    width: int
    height: int

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "width": self.width,
                "height": self.height}


def _shown(name: str) -> str:
    clean = "".join(c for c in name if c.isprintable())[:80]
    return clean or "the upload"


def _raster(data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` of an accepted raster image, ``None`` when not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if kind not in RASTER_FORMATS:
                return None
            if width * height > MAX_PIXELS:
                raise UploadError(f"{width}x{height} pixels is more than the limit of "
                                  f"{MAX_PIXELS:,} pixels", status=413)
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None
    return kind, width, height


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip().lower()
    return head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in head


class UploadStore:
    """The uploads of one session, kept in ``folder`` (made on the first upload).

    Args:
        folder: where uploads are written; nothing is written anywhere else.
        max_bytes: the largest upload accepted.
    """

    def __init__(self, folder: str | os.PathLike, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._uploads: dict[str, Upload] = {}
        self._count = 0
        self._lock = threading.Lock()

    def get(self, upload_id: str) -> Upload | None:
        return self._uploads.get(upload_id)

    def paths(self, kind: str | None = None) -> dict[str, Path]:
        """Upload id -> its file, of uploads of ``kind`` (``"image"`` or ``"svg"``; ``None``:
        all)."""
        return {k: u.path for k, u in list(self._uploads.items()) if kind in (None, u.kind)}

    def _reserve(self) -> str:
        with self._lock:
            if self._count >= MAX_UPLOADS:
                raise UploadError(f"this session already took {MAX_UPLOADS} uploads; restart "
                                  "the studio", status=429)
            self._count += 1
            return f"u{self._count}"

    def add(self, data: bytes, name: str) -> Upload:
        """Check ``data`` and keep it.

        Raises:
            UploadError: too large (413), not an image or an unreadable SVG (415).
        """
        shown = _shown(name)
        if len(data) > self.max_bytes:
            from clipdraw.studio.app import size_text

            raise UploadError(f"{shown} is larger than the upload limit of "
                              f"{size_text(self.max_bytes)}", status=413)
        if not data:
            raise UploadError(f"{shown} is empty", status=400)
        raster = _raster(data)
        if raster is None and not _looks_like_svg(data):
            raise UploadError(f"{shown} is not an image (PNG, JPEG, WebP, GIF, BMP or SVG)")
        upload_id = self._reserve()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if raster is not None:
                kind, width, height = raster
                path = self.folder / f"{upload_id}{RASTER_FORMATS[kind]}"
                path.write_bytes(data)
                upload = Upload(upload_id, path, "image", shown, width, height)
            else:
                path = self.folder / f"{upload_id}.svg"
                path.write_bytes(data)
                upload = Upload(upload_id, path, "svg", shown, *self._svg_size(path, shown))
        except OSError as error:
            raise UploadError(f"cannot keep {shown}: {error.strerror or error}",
                              status=507) from None
        with self._lock:
            self._uploads[upload_id] = upload
        return upload

    @staticmethod
    def _svg_size(path: Path, shown: str) -> tuple[int, int]:
        from clipdraw.svg import SvgImportError, load_svg

        try:
            scene = load_svg(path)
        except (SvgImportError, ValueError, OSError) as error:
            path.unlink(missing_ok=True)
            raise UploadError(f"{shown} is not an SVG clipdraw can read ({error})") from None
        if scene.num_paths == 0:
            path.unlink(missing_ok=True)
            raise UploadError(f"{shown} holds no paths clipdraw can read")
        if scene.width * scene.height > MAX_PIXELS:
            path.unlink(missing_ok=True)
            raise UploadError(f"{shown} is {scene.width}x{scene.height} px, more than the limit "
                              f"of {MAX_PIXELS:,} pixels", status=413)
        return scene.width, scene.height
