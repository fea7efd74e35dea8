from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ninja import Schema


class RunOut(Schema):
    id: uuid.UUID
    tool_id: str
    tool_name: str
    status: str
    input_file_name: str
    output_file_name: str
    metadata: dict[str, Any]
    error_message: str
    bytes_in: int
    bytes_out: int
    credits_charged: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime


class RunPageOut(Schema):
    items: list[RunOut]
    next_cursor: str | None
