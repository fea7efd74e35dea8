"""Upload rules: a clean name, a size limit, a type sniffed from the bytes.

Nothing here trusts the client: the declared content type is ignored, the
size is measured, and the name is only ever metadata (the object key is
built from server-chosen values), so it is checked for what would make it
misleading or unsafe to show back, not "fixed up".
"""

from __future__ import annotations

import csv
import os
import unicodedata
from typing import IO

import filetype

from core.filenames import MAX_NAME_BYTES, shorten_file_name
from files.exceptions import FileNameInvalid, FileTooLarge, FileTypeNotAllowed, UploadInvalid
from tools.registry import all_tools, get_tool

# Seed 004's bucket allow-list, with the extension a stored object gets.
SEED_ALLOWED_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
}
# Enough for every signature filetype knows, and for a text/CSV guess.
SNIFF_BYTES = 8192
# Unicode categories that have no business in a file name shown to people:
# controls (Cc), invisible formatting such as RTL overrides (Cf), surrogates (Cs).
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs"}


def clean_file_name(raw: str | bytes) -> str:
    """The client's file name, NFC-normalized and trimmed, or FileNameInvalid."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileNameInvalid("The file name is not valid UTF-8.") from None
    try:
        # Names decoded with surrogateescape carry lone surrogates for bad bytes.
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise FileNameInvalid("The file name is not valid UTF-8.") from None
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise FileNameInvalid("The file name is empty.")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise FileNameInvalid("The file name must not contain a path.")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in name):
        raise FileNameInvalid("The file name contains control characters.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise FileNameInvalid(f"The file name is longer than {MAX_NAME_BYTES} bytes.")
    return name


def run_input_summary(names: list[str]) -> str:
    """A run's ``input_file_name``: the first name, and "(+N more)" for the others.

    The count is never cut (it is the information a long first name would
    push out); the first name is shortened so the whole stays within 255
    bytes and characters.
    """
    if len(names) == 1:
        return shorten_file_name(names[0])
    more = f" (+{len(names) - 1} more)"
    return shorten_file_name(names[0], max_bytes=MAX_NAME_BYTES - len(more.encode("utf-8"))) + more


def measure_size(content: IO[bytes], *, max_bytes: int) -> int:
    """The content's real size (not a declared one); refuses empty and oversize content."""
    if not content.seekable():
        raise UploadInvalid("The upload must be a seekable file.")
    content.seek(0, os.SEEK_END)
    size = content.tell()
    content.seek(0)
    if size == 0:
        raise UploadInvalid("The file is empty.")
    if size > max_bytes:
        raise FileTooLarge(f"The file is {size} bytes; the limit is {max_bytes} bytes.")
    return size


def sniff_content_type(head: bytes) -> str:
    """The MIME type the bytes say they are: a known signature, else a text guess."""
    kind = filetype.guess(head)
    if kind is not None:
        return "image/png" if kind.mime == "image/apng" else kind.mime
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end inside a multi-byte character; anything earlier is binary.
        if error.start < len(head) - 3:
            return "application/octet-stream"
        text = head[: error.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    # Markup is never text/plain here: served back, it could run as a page.
    if stripped.startswith(("<!doctype", "<html", "<head", "<body", "<script", "<svg", "<?xml", "<iframe")):
        return "text/html"
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text):
        return "application/octet-stream"
    return "text/csv" if _looks_like_csv(text) else "text/plain"


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines[:-1], dialect)}
    return len(widths) == 1 and widths.pop() > 1


def allowed_types(tool_id: str | None = None) -> dict[str, str]:
    """MIME type -> extension accepted for upload: PDF, images, text and CSV, narrowed to what some tool accepts."""
    if tool_id is not None:
        tool = get_tool(tool_id)
        if tool is None:
            raise UploadInvalid(f"Unknown tool {tool_id!r}.")
        accepted = set(tool.accepted_types)
    else:
        accepted = {mime for tool in all_tools() for mime in tool.accepted_types}
    return {mime: ext for mime, ext in SEED_ALLOWED_TYPES.items() if mime in accepted}


def check_content_type(content: IO[bytes], *, tool_id: str | None = None) -> tuple[str, str]:
    """(MIME type, extension) of the content if it is allowed, else FileTypeNotAllowed."""
    head = content.read(SNIFF_BYTES)
    content.seek(0)
    mime = sniff_content_type(head)
    allowed = allowed_types(tool_id)
    if mime not in allowed:
        raise FileTypeNotAllowed(
            f"The file's content is {mime}, which is not accepted here; accepted: {', '.join(sorted(allowed))}."
        )
    return mime, allowed[mime]
