"""Image tools on Pillow: compress, convert."""

from __future__ import annotations

import io
import os
import warnings

from PIL import Image, UnidentifiedImageError

from tools.contract import ToolInput, ToolInputError, ToolResult

# Refuse images that would decode to more pixels than this: a small file can
# claim gigapixels (a decompression bomb) and exhaust a worker's memory.
MAX_PIXELS = 40_000_000
_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


def _open(source: ToolInput) -> Image.Image:
    source.file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source.file)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ToolInputError(f"The image is {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels.")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ToolInputError("The image is too large to decode safely (decompression bomb).") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ToolInputError(f"The image could not be read: {error}.") from None
    if image.format not in _FORMATS:
        raise ToolInputError(f"Images of type {image.format} are not supported.")
    return image


def _save(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _stem(name: str) -> str:
    return os.path.splitext(name)[0] or "image"


def compress(inputs: list[ToolInput]) -> ToolResult:
    """Re-encode an image in its own format with lossy-but-good settings; keep the smaller."""
    source = inputs[0]
    image = _open(source)
    image_format = image.format
    options: dict[str, object] = {"optimize": True}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = 70
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
            "width": image.width,
            "height": image.height,
            "format": image_format.lower(),
            "compressionRatio": round(len(content) / source.size, 4),
        },
    )


def convert_to_webp(inputs: list[ToolInput]) -> ToolResult:
    source = inputs[0]
    image = _open(source)
    content = _save(image, "WEBP", quality=80)
    return ToolResult(
        content=content,
        content_type="image/webp",
        extension="webp",
        file_name=f"{_stem(source.name)}.webp",
        metadata={"from": image.format.lower(), "to": "webp", "width": image.width, "height": image.height},
    )
