"""The reference tools on real inputs, good and hostile (no database needed)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.errors import LimitReachedError

from tools import images, pdfs
from tools.contract import ToolInput, ToolInputError
from tools.registry import all_tools

ROOT = Path(__file__).resolve().parents[2]


def pdf_bytes(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_bytes(width: int = 300, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(width):
        for y in range(0, height, 7):
            image.putpixel((x, y), (x % 256, y % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def given(content: bytes, name: str, content_type: str) -> ToolInput:
    return ToolInput(name=name, content_type=content_type, size=len(content), file=io.BytesIO(content))


def test_every_registered_tool_has_a_process_function_and_a_positive_input_count() -> None:
    for tool in all_tools():
        assert callable(tool.process)
        assert tool.max_inputs >= 1
        assert tool.accepted_types


def test_pdf_merge_concatenates_pages_in_upload_order() -> None:
    result = pdfs.merge(
        [given(pdf_bytes(2), "a.pdf", "application/pdf"), given(pdf_bytes(3), "b.pdf", "application/pdf")]
    )

    merged = PdfReader(io.BytesIO(result.content))
    assert len(merged.pages) == 5
    assert result.metadata == {"pages": 5, "inputFiles": 2}
    assert (result.file_name, result.content_type) == ("a-merged.pdf", "application/pdf")


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"%PDF-1.4\nthis is not really a pdf", "not a readable PDF"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", "PDF"),
        (pdf_bytes(1)[:200], "not a readable PDF"),
    ],
    ids=["garbage", "self-referencing", "truncated"],
)
def test_broken_pdfs_are_a_readable_tool_input_error(content: bytes, reason: str) -> None:
    with pytest.raises(ToolInputError, match=reason):
        pdfs.merge([given(content, "bad.pdf", "application/pdf")])


def test_pdf_compress_never_returns_a_bigger_file() -> None:
    source = pdf_bytes(4)

    result = pdfs.compress([given(source, "doc.pdf", "application/pdf")])

    assert len(result.content) <= len(source)
    assert result.metadata["pages"] == 4
    assert 0 < result.metadata["compressionRatio"] <= 1


def test_image_compress_reports_size_and_ratio_and_keeps_the_format() -> None:
    source = png_bytes()

    result = images.compress([given(source, "photo.png", "image/png")])

    assert Image.open(io.BytesIO(result.content)).format == "PNG"
    assert result.metadata["width"] == 300 and result.metadata["height"] == 200
    assert result.metadata["compressionRatio"] == round(len(result.content) / len(source), 4) <= 1
    assert result.file_name == "photo.min.png"


def test_image_convert_produces_webp() -> None:
    result = images.convert_to_webp([given(png_bytes(), "photo.png", "image/png")])

    assert Image.open(io.BytesIO(result.content)).format == "WEBP"
    assert result.metadata["to"] == "webp"


@pytest.mark.slow
def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    # A tiny PNG that claims 20,000 x 20,000 pixels (400 megapixels).
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 1_000_000

    with pytest.raises(ToolInputError, match="decompression bomb|pixels"):
        images.compress([given(bomb.getvalue(), "bomb.png", "image/png")])


def test_a_non_image_is_a_readable_tool_input_error() -> None:
    with pytest.raises(ToolInputError, match="could not be read"):
        images.compress([given(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "broken.png", "image/png")])


def pdf_with_content_stream(compressed: bytes) -> bytes:
    """A one-page PDF whose content stream is ``compressed`` (FlateDecode), written by hand."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(compressed) + compressed + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("tool", [pdfs.compress, pdfs.merge], ids=["compress", "merge"])
def test_a_pdf_stream_past_pypdfs_decompression_limit_is_a_tool_input_error(tool: Any) -> None:
    # ~80 MB of drawing operators in a ~120 kB stream: past pypdf's 75 MB
    # zlib output limit, which raises LimitReachedError when the stream is
    # decoded (for compress: long after the file was opened).
    bomb = pdf_with_content_stream(zlib.compress(b"0 0 m\n" * 14_000_000, 9))
    assert len(bomb) < 200_000

    try:
        tool([given(bomb, "bomb.pdf", "application/pdf")])
    except ToolInputError as error:
        assert "bomb.pdf is not a readable PDF" in str(error)
        assert "safety limit" in str(error)
    else:  # merge copies streams without decoding them: nothing to refuse
        assert tool is pdfs.merge


def test_a_pypdf_limit_error_raised_anywhere_in_a_tool_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise LimitReachedError("Limit reached while decompressing.")

    monkeypatch.setattr(PdfWriter, "compress_identical_objects", explode)

    with pytest.raises(ToolInputError, match="doc.pdf is not a readable PDF: it exceeds a safety limit"):
        pdfs.compress([given(pdf_bytes(1), "doc.pdf", "application/pdf")])


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMAGE_MAX_PIXELS = 300 * 200 - 1
    source = given(png_bytes(), "photo.png", "image/png")
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)

    with pytest.raises(ToolInputError, match="300x200 pixels; the limit is 59,999 pixels"):
        images.convert_to_webp([source])
    assert decoded == []


def test_the_default_pixel_limit_refuses_a_40_megapixel_image() -> None:
    # What the issue measured at ~730 MB in a worker: now refused from its header.
    big = io.BytesIO()
    Image.new("1", (8000, 5000)).save(big, format="PNG")

    with pytest.raises(ToolInputError, match="8000x5000 pixels; the limit is 16,000,000 pixels"):
        images.compress([given(big.getvalue(), "big.png", "image/png")])


# The worst input we found per pixel: noise with a noisy alpha channel (libwebp
# encodes alpha losslessly) converted to WebP, at the largest size accepted.
LARGEST_ACCEPTED_IMAGE_PEAK = """
import io, os, sys
import django
django.setup()
import history.services, versatools.celery  # what a Celery worker process has loaded
from django.conf import settings
from PIL import Image
from tools import images
from tools.contract import ToolInput

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

width = 4800
height = settings.IMAGE_MAX_PIXELS // width
path = sys.argv[1]
Image.frombytes("RGBA", (width, height), os.urandom(width * height * 4)).save(path, compress_level=1)
baseline = peak_mb()
with open(path, "rb") as file:
    result = images.convert_to_webp([ToolInput("big.png", "image/png", os.path.getsize(path), file)])
print("pixels", width * height, "width", result.metadata["width"], "baseline", baseline, "peak", peak_mb())
"""


@pytest.mark.slow
def test_the_largest_accepted_image_converts_in_a_worker_process_within_its_memory_bound(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "versatools.settings", "PYTHONPATH": str(ROOT)}
    env.pop("IMAGE_MAX_PIXELS", None)
    result = subprocess.run(
        [sys.executable, "-c", LARGEST_ACCEPTED_IMAGE_PEAK, str(tmp_path / "big.png")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    figures = dict(zip(words[::2], map(int, words[1::2]), strict=True))

    assert figures["width"] == 4800 and figures["pixels"] > 15_990_000
    # README "Tools" documents ~850 MB for this input; 40 megapixels took ~2.2 GB.
    assert figures["peak"] < 1024, figures
