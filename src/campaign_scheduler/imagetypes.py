"""Which image format a file holds, read from its header by Pillow (never from its name).

``Image.open`` reads the header only; no pixels are decoded. Pillow is imported on first use.
"""

from __future__ import annotations

import io

#: Image formats every browser shows and the networks accept for cards, with media types.
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def sniff_image(data: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image; None for anything else."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=tuple(_FORMATS)) as image:
            return _FORMATS[str(image.format)]
    except (OSError, SyntaxError, ValueError, KeyError, Image.DecompressionBombError):
        return None  # UnidentifiedImageError is an OSError
