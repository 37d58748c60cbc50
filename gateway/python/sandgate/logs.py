"""The process's log on stderr: text lines for people, or one JSON object per line for log shippers
(`sandgate serve --log-format json`). The server's announcements (where it serves) go through the
`sandgate.announce` logger, as bare lines in text mode, as records like any other in JSON mode."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Literal

LogFormat = Literal["text", "json"]
ANNOUNCE = "sandgate.announce"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """time (RFC 3339 UTC, ms), level, logger, message, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (a test's capture, a redirect), not at setup."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream: it flushes the old stream, which may be closed by now
        super().emit(record)


def configure_logging(log_format: LogFormat) -> None:
    root = logging.getLogger()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    announce = logging.getLogger(ANNOUNCE)
    bare = StderrHandler()
    bare.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter("%(message)s"))
    announce.handlers = [bare]
    announce.propagate = False


def announce(message: str) -> None:
    """A line a supervisor reads (where the server serves): through the configured log, else printed."""
    logger = logging.getLogger(ANNOUNCE)
    if logger.handlers:
        logger.info(message)
        for handler in logger.handlers:
            handler.flush()
    else:
        print(message, file=sys.stderr, flush=True)
