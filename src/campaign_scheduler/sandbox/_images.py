"""What an uploaded image is, read from its header by Pillow (one library for every sandbox).

Pillow's ``Image.open`` reads the header only (no pixels are decoded), so this is cheap, and it
is imported on the first upload, not when a sandbox starts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

#: The formats the networks take, and their media types.
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ImageInfo:
    """An image's media type, size in bytes and pixel size."""

    content_type: str
    size: int
    width: int
    height: int


def sniff_image(data: bytes) -> ImageInfo | None:
    """Type and pixel size of a JPEG, PNG, GIF or WebP image; ``None`` when ``data`` is not one
    (or its header is broken)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=tuple(_FORMATS)) as image:
            width, height = image.size
            kind = _FORMATS[str(image.format)]
    except (OSError, SyntaxError, ValueError, KeyError, Image.DecompressionBombError):
        return None  # UnidentifiedImageError is an OSError
    return ImageInfo(kind, len(data), width, height)
