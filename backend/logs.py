"""Logging for `carnet serve`: uvicorn's configuration, with secrets kept out of every line.

Some links carry a secret in their path (an invitation, a password reset, an owner's unlock
or setup link): whoever reads the access log could use it. Every handler filters its
records through `Redact`, so neither uvicorn's access line nor our own messages (an error
logged with its path) ever show one.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "[redacted]"
# Paths whose rest is a secret. `%2F` too: the router decodes it, the access log does not.
SECRET_PATH = re.compile(
    r"(/|%2f)(invitation|password(?:/|%2f)reset|unlock|setup)(/|%2f)[^?#\s\"']+",
    re.IGNORECASE)
SECRET_QUERY = re.compile(r"([?&](?:token|key|code)=)[^&#\s\"']+", re.IGNORECASE)
# Any other long URL-safe segment mixing upper and lower case looks like
# `secrets.token_urlsafe`: ids, UUIDs and hex digests never do.
RANDOM_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_-]{32,}(?=[/?#\s\"']|$)")


def redact(text: str) -> str:
    text = SECRET_PATH.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{REDACTED}", text)
    text = SECRET_QUERY.sub(lambda m: f"{m[1]}{REDACTED}", text)
    return RANDOM_SEGMENT.sub(_random_looking, text)


def _random_looking(match: re.Match) -> str:
    segment = match[0]
    mixed = any(c.isupper() for c in segment) and any(c.islower() for c in segment)
    return REDACTED if mixed else segment


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class Redact(logging.Filter):
    """Rewrites a record's message and arguments; keeps their shape (uvicorn's access
    formatter unpacks the arguments tuple)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's own configuration, every handler redacting, and our `carnet` loggers
    (and any library's warnings) sent through the same handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": Redact}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["carnet"] = {"level": level.upper()}
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
