"""PDF tools on pypdf: merge, compress."""

from __future__ import annotations

import io
import os

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError, PyPdfError

from tools.contract import ToolInput, ToolInputError, ToolResult

# A PDF can reference itself into enormous work; refuse inputs past this many pages.
MAX_PAGES = 2000


def _read(source: ToolInput) -> PdfReader:
    source.file.seek(0)
    try:
        reader = PdfReader(source.file, strict=False)
        if reader.is_encrypted:
            raise ToolInputError(f"{source.name} is encrypted; remove its password first.")
        pages = len(reader.pages)
    except ToolInputError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise ToolInputError(f"{source.name} is not a readable PDF: {error}.") from None
    if pages == 0:
        raise ToolInputError(f"{source.name} has no pages.")
    if pages > MAX_PAGES:
        raise ToolInputError(f"{source.name} has {pages} pages; the limit is {MAX_PAGES}.")
    return reader


def _write(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    try:
        writer.write(buffer)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise ToolInputError(f"The PDF could not be written: {error}.") from None
    return buffer.getvalue()


def merge(inputs: list[ToolInput]) -> ToolResult:
    """Concatenate the inputs' pages, in upload order."""
    writer = PdfWriter()
    pages = 0
    for source in inputs:
        reader = _read(source)
        pages += len(reader.pages)
        if pages > MAX_PAGES:
            raise ToolInputError(f"The merged PDF would have more than {MAX_PAGES} pages.")
        writer.append(reader)
    content = _write(writer)
    stem = os.path.splitext(inputs[0].name)[0] or "document"
    return ToolResult(
        content=content,
        content_type="application/pdf",
        extension="pdf",
        file_name=f"{stem}-merged.pdf",
        metadata={"pages": pages, "inputFiles": len(inputs)},
    )


def compress(inputs: list[ToolInput]) -> ToolResult:
    """Compress content streams and drop duplicate objects."""
    source = inputs[0]
    writer = PdfWriter(clone_from=_read(source))
    for page in writer.pages:
        page.compress_content_streams()
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    content = _write(writer)
    source.file.seek(0)
    if len(content) >= source.size:
        content = source.file.read()
    stem = os.path.splitext(source.name)[0] or "document"
    return ToolResult(
        content=content,
        content_type="application/pdf",
        extension="pdf",
        file_name=f"{stem}.min.pdf",
        metadata={"pages": len(writer.pages), "compressionRatio": round(len(content) / source.size, 4)},
    )
