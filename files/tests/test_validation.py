"""Names this code builds from a client's name: shortened safely, never failing for length."""

from __future__ import annotations

import pytest

from files.exceptions import FileNameInvalid
from files.validation import MAX_NAME_BYTES, clean_file_name, run_input_summary, shorten_file_name
from tools.contract import ToolResult


def size(name: str) -> int:
    return len(name.encode("utf-8"))


def test_a_name_that_fits_is_left_alone() -> None:
    name = "a" * 251 + ".pdf"
    assert shorten_file_name(name) == name
    assert run_input_summary(["report.pdf"]) == "report.pdf"
    assert run_input_summary(["report.pdf", "b.pdf", "c.pdf"]) == "report.pdf (+2 more)"


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])  # 1, 2, 3 and 4 bytes in UTF-8
def test_a_long_name_is_cut_on_a_character_boundary_keeping_its_extension(char: str) -> None:
    name = char * 300 + ".pdf"

    short = shorten_file_name(name)

    assert size(short) <= MAX_NAME_BYTES and len(short) <= MAX_NAME_BYTES
    assert short.endswith("….pdf")
    assert short.startswith(char * 10)
    assert set(short.removesuffix("….pdf")) == {char}  # no half character left over
    assert clean_file_name(short) == short  # and the store's own check accepts it


def test_a_long_tail_after_the_last_dot_is_not_taken_for_an_extension() -> None:
    name = "v1." + "x" * 300

    short = shorten_file_name(name)

    assert size(short) <= MAX_NAME_BYTES
    assert short.startswith("v1.xxx") and short.endswith("x…")


@pytest.mark.parametrize("count", [2, 10])
def test_a_summary_keeps_the_count_and_fits_varchar_255(count: int) -> None:
    first = "é" + "a" * 244 + ".pdf"  # 250 bytes: valid alone, too long with " (+N more)"
    names = [first] + [f"{i}.pdf" for i in range(count - 1)]

    summary = run_input_summary(names)

    assert size(summary) <= MAX_NAME_BYTES and len(summary) <= MAX_NAME_BYTES
    assert summary.endswith(f"….pdf (+{count - 1} more)")
    assert summary.startswith("éaaa")


def test_a_tool_result_shortens_the_output_name_it_was_given() -> None:
    stem = "é" + "a" * 244  # the stem of a 250-byte input name
    result = ToolResult(
        content=b"%PDF", content_type="application/pdf", extension="pdf", file_name=f"{stem}-merged.pdf"
    )

    assert size(result.file_name) <= MAX_NAME_BYTES
    assert result.file_name.endswith("….pdf") and result.file_name.startswith("éaaa")
    assert clean_file_name(result.file_name) == result.file_name
    short = ToolResult(content=b"", content_type="image/webp", extension="webp", file_name="photo.webp")
    assert short.file_name == "photo.webp"


@pytest.mark.parametrize("name", ["../../etc/a.pdf", "a/b.pdf", "a\\b.pdf", "C:\\Users\\me\\a.pdf", "..", "."])
def test_a_name_with_a_path_part_is_refused(name: str) -> None:
    with pytest.raises(FileNameInvalid, match="path"):
        clean_file_name(name)
