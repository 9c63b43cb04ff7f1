"""Structured logs: one JSON object per line on standard error, for `byline serve` and `worker`.

The request log (logger `byline.access`, level INFO) has one line per request with
request_id, key_name, method, route, status and latency_ms (app/ops/metrics.py writes it);
BYLINE_LOG_LEVEL=WARNING turns it off along with the other INFO lines.
"""

from __future__ import annotations

import logging.config
from typing import Any

from pythonjsonlogger.json import JsonFormatter

JSON_FIELDS = "%(levelname)s %(name)s %(message)s"


def json_formatter() -> logging.Formatter:
    """level, logger, message and `time` (RFC 3339, UTC), plus whatever `extra` a call gives."""
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def log_config(level: str) -> dict[str, Any]:
    """A logging.config.dictConfig mapping (uvicorn takes it as `log_config`, per worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.ops.logs.json_formatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines go through the root handler, so they are JSON too.
            name: {"level": level.upper(), "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error")
        }
        # Byline writes its own request log (byline.access), with the key and route.
        | {"uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True}},
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(log_config(level))
