"""What a tool implements: a function from input files to one output file and metadata.

A tool never touches the database or storage: the run's task opens its inputs,
calls ``process``, stores the result and moves the run through its states.
So a new tool is a module with a process function plus one ``register`` call
in ``tools/registry.py``; no schema change (tool-specific numbers go into the
run's JSONB ``metadata``) and no edit to shared code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from core.filenames import shorten_file_name


class ToolInputError(Exception):
    """The input cannot be processed (corrupt, hostile, unsupported).

    The run fails with this message, which the user sees, and its credits are
    refunded. Any other exception is a bug: the run fails with a generic
    message and the traceback goes to the log.
    """


@dataclass(frozen=True)
class ToolInput:
    name: str
    content_type: str
    size: int
    file: IO[bytes]


@dataclass(frozen=True)
class ToolResult:
    content: bytes
    content_type: str
    extension: str
    file_name: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Tools name the output after the input ("<stem>-merged.pdf"), and an
        # input name may already be at the 255-byte limit: the longer output
        # name would fail the store's name check and with it a run that did
        # its work. Shortened here, every tool (a new one too) is covered.

        object.__setattr__(self, "file_name", shorten_file_name(self.file_name))
