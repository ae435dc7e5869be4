"""Structured JSON logs that carry the current trace and span ids; client-library noise rate-limited."""

import json
import logging
import sys
import time
from datetime import UTC, datetime

from opentelemetry import trace

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class Quieter(logging.Filter):
    """Lets at most `per_minute` records a minute through for each logger and message pattern;
    the first one after a quiet spell says how many were held back.

    During a broker outage aiokafka logs the same reconnect error thousands of times a minute
    (about 100,000 lines per outage were seen), burying the one line of ours that says what
    failed. Only the client libraries' records (loggers under `libraries`) are counted; our own
    lines always pass."""

    def __init__(self, *, per_minute: int = 10, libraries: tuple[str, ...] = ("aiokafka", "kafka"), clock=time.monotonic) -> None:
        super().__init__()
        self._per_minute, self._clock = per_minute, clock
        self._libraries = libraries
        self._windows: dict[tuple[str, object], list[float]] = {}  # key -> [window start, let through, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] not in self._libraries:
            return True
        key, now = (record.name, record.msg), self._clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= 60.0:
            held = int(window[2]) if window else 0
            self._windows[key] = [now, 1, 0]
            if len(self._windows) > 1000:
                self._windows.pop(next(iter(self._windows)))
            if held:
                record.msg = f"{record.msg} [{held} more like this in the last minute were not logged]"
            return True
        if window[1] < self._per_minute:
            window[1] += 1
            return True
        window[2] += 1
        return False


def configure_logging(*, service_name: str, level: str, json_format: bool) -> None:
    """Route every logger (ours, uvicorn's, FastStream's) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter(service_name))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service_name} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aiokafka"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    handler.addFilter(Quieter())  # on the handler: it sees every library logger's records
