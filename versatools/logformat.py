"""Log lines one can grep, or filter with jq, per run.

Messages carry their facts as ``key=value`` pairs (``run started run_id=...
tool=... user_id=...``). The plain format puts the line's own facts in the
same form (``level=INFO logger=history.services``), so ``grep run_id=<id>``
finds a run's whole life across web and worker logs. ``LOG_FORMAT=json``
writes one JSON object per line instead, with every ``key=value`` of the
message lifted into a field: ``jq 'select(.run_id == "<id>")'``.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# key=value where the value runs to the next space (or is quoted).
_PAIR = re.compile(r'(?<![\w.])([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s,;]+)')
# Fields of the line itself, which a message cannot overwrite.
_RESERVED = {"ts", "level", "logger", "message", "pid", "exc_info"}


def message_fields(message: str) -> dict[str, str]:
    """The ``key=value`` pairs of a message, in order; a quoted value loses its quotes."""
    fields: dict[str, str] = {}
    for key, value in _PAIR.findall(message):
        if key in _RESERVED or key in fields:
            continue
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        fields[key] = value
    return fields


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, pid, message, the message's pairs, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": message,
        }
        line.update(message_fields(message))
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
