"""Image tools on Pillow: compress, convert.

Memory is the resource to watch: a decoded image costs 4 bytes per pixel
(Pillow keeps RGB as RGBX) whatever its file size, and encoders add their
own buffers. The pixel limit (``IMAGE_MAX_PIXELS``) is what bounds a Celery
process's peak; README "Tools" gives the measured figure at the limit.
"""

from __future__ import annotations

import io
import os
import warnings

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from tools.contract import ToolInput, ToolInputError, ToolResult

# Used when settings are not configured (a tool called outside Django).
DEFAULT_MAX_PIXELS = 16_000_000
# libwebp's methods 3 and up keep whole-image token buffers for their
# rate-distortion passes: on a noisy 40-megapixel RGB image method 4 (the
# default) peaked at 940 MB, method 2 at 430 MB, for a file 0.4% larger.
WEBP_METHOD = 2
_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


def max_pixels() -> int:
    """The largest image (width x height) the tools decode: IMAGE_MAX_PIXELS."""
    return int(getattr(settings, "IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS)) if settings.configured else DEFAULT_MAX_PIXELS


def _open(source: ToolInput) -> Image.Image:
    source.file.seek(0)
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Reads the header only: the size is known before a pixel is decoded.
            image = Image.open(source.file)
            width, height = image.size
            if width * height > limit:
                raise ToolInputError(f"The image is {width}x{height} pixels; the limit is {limit:,} pixels.")
            if image.format not in _FORMATS:
                raise ToolInputError(f"Images of type {image.format} are not supported.")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ToolInputError("The image is too large to decode safely (decompression bomb).") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ToolInputError(f"The image could not be read: {error}.") from None
    return image


def _save(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        converted = image.convert("RGB")
        # Free the source's pixels before encoding: two full copies at once
        # would be the process's peak.
        image.close()
        image = converted
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _stem(name: str) -> str:
    return os.path.splitext(name)[0] or "image"


def compress(inputs: list[ToolInput]) -> ToolResult:
    """Re-encode an image in its own format with lossy-but-good settings; keep the smaller."""
    source = inputs[0]
    image = _open(source)
    image_format, width, height = image.format, image.width, image.height
    assert image_format is not None  # _open refused anything without a known format
    options: dict[str, object] = {"optimize": True}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = 70
    if image_format == "WEBP":
        options["method"] = WEBP_METHOD
    content = _save(image, image_format, **options)
    source.file.seek(0)
    if len(content) >= source.size:  # never hand back a bigger file
        content = source.file.read()
    content_type, ext = _FORMATS[image_format]
    return ToolResult(
        content=content,
        content_type=content_type,
        extension=ext,
        file_name=f"{_stem(source.name)}.min.{ext}",
        metadata={
            "width": width,
            "height": height,
            "format": image_format.lower(),
            "compressionRatio": round(len(content) / source.size, 4),
        },
    )


def convert_to_webp(inputs: list[ToolInput]) -> ToolResult:
    source = inputs[0]
    image = _open(source)
    image_format, width, height = image.format, image.width, image.height
    assert image_format is not None
    content = _save(image, "WEBP", quality=80, method=WEBP_METHOD)
    return ToolResult(
        content=content,
        content_type="image/webp",
        extension="webp",
        file_name=f"{_stem(source.name)}.webp",
        metadata={"from": image_format.lower(), "to": "webp", "width": width, "height": height},
    )
