"""PDF tools on pypdf: merge, compress."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError

from tools.contract import ToolInput, ToolInputError, ToolResult

# A PDF can reference itself into enormous work; refuse inputs past this many pages.
MAX_PAGES = 2000
# What a broken or hostile PDF makes pypdf (or the parsing under it) raise.
# LimitReachedError (a PyPdfError) is pypdf's guard against decompression
# bombs and reference loops: it can come from any stream pypdf decodes
# lazily, long after the file was opened, so every step of a tool is guarded.
_BAD_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError)


@contextmanager
def _hostile_pdf_is_bad_input(name: str) -> Iterator[None]:
    """Turn pypdf's complaints about a PDF into ToolInputError: bad input, never a tool crash."""
    try:
        yield
    except ToolInputError:
        raise
    except LimitReachedError as error:
        raise ToolInputError(
            f"{name} is not a readable PDF: it exceeds a safety limit (decompression bomb or reference loop): {error}"
        ) from None
    except DependencyError as error:
        # A filter or encryption that needs a library we do not ship: the
        # input uses something this tool cannot read.
        raise ToolInputError(f"{name} is not a readable PDF: it uses an unsupported feature: {error}") from None
    except _BAD_PDF_ERRORS as error:
        raise ToolInputError(f"{name} is not a readable PDF: {error}.") from None


def _read(source: ToolInput) -> PdfReader:
    source.file.seek(0)
    with _hostile_pdf_is_bad_input(source.name):
        reader = PdfReader(source.file, strict=False)
        if reader.is_encrypted:
            raise ToolInputError(f"{source.name} is encrypted; remove its password first.")
        pages = len(reader.pages)
    if pages == 0:
        raise ToolInputError(f"{source.name} has no pages.")
    if pages > MAX_PAGES:
        raise ToolInputError(f"{source.name} has {pages} pages; the limit is {MAX_PAGES}.")
    return reader


def _write(writer: PdfWriter, *, name: str) -> bytes:
    buffer = io.BytesIO()
    with _hostile_pdf_is_bad_input(name):
        writer.write(buffer)
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
        with _hostile_pdf_is_bad_input(source.name):
            writer.append(reader)
    content = _write(writer, name=inputs[0].name if len(inputs) == 1 else "The merged PDF")
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
    reader = _read(source)
    # Compressing decodes every content stream: where a bomb goes off.
    with _hostile_pdf_is_bad_input(source.name):
        writer = PdfWriter(clone_from=reader)
        for page in writer.pages:
            page.compress_content_streams()
        writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    content = _write(writer, name=source.name)
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
