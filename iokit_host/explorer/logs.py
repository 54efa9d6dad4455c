"""The explorer's log lines: what uvicorn reports, in the kernel's log as the kernel writes it.

uvicorn logs with its own format (``WARNING:  Invalid HTTP request received.``) and, when an
application raises, a full traceback: both land in the log of ``iokit kernel --http`` or
``iokit explore``, where every other line reads ``iokit ...: severity: ...``. Here each record
is one line, ``iokit explorer: warning: ...``, and an exception is named by its type and
message; ``IOKIT_DEBUG=1`` adds the traceback, as it does to ``iokit: internal error``.
"""

from __future__ import annotations

import logging
from typing import Any

from iokit_host.settings import env_flag

__all__ = ["LOG_CONFIG", "LogLine"]


class LogLine(logging.Formatter):
    """One record as one ``iokit explorer: LEVEL: MESSAGE`` line."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            text = f"{text}: {type(error).__name__}: {error}"
            if env_flag("IOKIT_DEBUG"):
                text = f"{text}\n{self.formatException(record.exc_info)}"  # type: ignore[arg-type]
        return f"iokit explorer: {record.levelname.lower()}: {text}"


#: uvicorn's ``log_config``: its loggers, warnings and worse, through :class:`LogLine`.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"()": LogLine}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line",
                            "stream": "ext://sys.stderr"}},
    "loggers": {name: {"handlers": ["stderr"], "level": "WARNING", "propagate": False}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
}
