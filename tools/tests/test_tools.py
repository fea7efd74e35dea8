"""The reference tools on real inputs, good and hostile (no database needed)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from tools import images, pdfs
from tools.contract import ToolInput, ToolInputError
from tools.registry import all_tools


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
