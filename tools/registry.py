"""The tool catalog: what tools exist, in code.

A tool is registered here once; the database knows tools only by their
``tool_id`` string (history rows, statistics, costs), so adding a tool needs
no schema change. Operators override a tool's credit cost or disable it
without a deploy through ``billing.AdminSettings``.

Adding a tool: write its ``process`` function (see ``tools/contract.py``)
and ``register`` it below. Nothing else changes: runs, statistics, costs,
storage and the API all know tools only by their id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tools import images, pdfs
from tools.contract import ToolInput, ToolResult


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its identity, price, what it accepts, and the function that does the work."""

    id: str
    name: str
    default_cost: int
    accepted_types: tuple[str, ...]
    process: Callable[[list[ToolInput]], ToolResult] = field(compare=False)
    description: str = ""
    max_inputs: int = 1


_REGISTRY: dict[str, ToolSpec] = {}


def register(spec: ToolSpec) -> ToolSpec:
    if spec.id in _REGISTRY:
        raise ValueError(f"Tool {spec.id!r} is registered twice.")
    if spec.default_cost < 0:
        raise ValueError(f"Tool {spec.id!r} has a negative cost.")
    _REGISTRY[spec.id] = spec
    return spec


def get_tool(tool_id: str) -> ToolSpec | None:
    return _REGISTRY.get(tool_id)


def all_tools() -> list[ToolSpec]:
    return sorted(_REGISTRY.values(), key=lambda spec: spec.id)


PDF = ("application/pdf",)
IMAGES = ("image/png", "image/jpeg", "image/webp", "image/gif")

register(ToolSpec("pdf-merge", "PDF Merger", 2, PDF, pdfs.merge, "Merge PDF files into one.", max_inputs=10))
register(ToolSpec("pdf-compress", "PDF Compressor", 1, PDF, pdfs.compress, "Shrink a PDF."))
register(ToolSpec("image-compress", "Image Compressor", 1, IMAGES, images.compress, "Compress an image."))
register(ToolSpec("image-convert", "Image Converter", 1, IMAGES, images.convert_to_webp, "Convert an image to WebP."))
