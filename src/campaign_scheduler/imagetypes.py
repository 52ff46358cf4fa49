"""Which image a file holds, read from its header by Pillow (never from its name).

``Image.open`` reads the header only; no pixels are decoded. Pillow is imported on first use.
Link cards, the preview and the sandboxes all read images through here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

#: Image formats every browser shows and the networks accept, with their media types.
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
#: The EXIF Orientation tag.
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageInfo:
    """An image's media type, size in bytes, pixel size and EXIF orientation (1-8)."""

    content_type: str
    size: int
    width: int
    height: int
    orientation: int = 1

    @property
    def shown_size(self) -> tuple[int, int]:
        """``(width, height)`` as the image is displayed: orientations 5-8 turn it by 90°."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


def image_info(data: bytes) -> ImageInfo | None:
    """Type and pixel size of a JPEG, PNG, GIF or WebP image; ``None`` when ``data`` is not one
    (or its header is broken)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=tuple(_FORMATS)) as image:
            width, height = image.size
            kind = _FORMATS[str(image.format)]
            orientation = image.getexif().get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, KeyError, Image.DecompressionBombError):
        return None  # UnidentifiedImageError is an OSError
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return ImageInfo(kind, len(data), width, height, orientation)


def sniff_image(data: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image; None for anything else."""
    info = image_info(data)
    return None if info is None else info.content_type
