"""Logging for jobs: readable progress on a terminal, plain lines otherwise, JSON lines for schedulers."""

from __future__ import annotations

import json
import logging
import sys
import time


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        doc.update(getattr(record, "fields", {}) or {})
        return json.dumps(doc, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a line is logged, not as it was at set-up: a notebook or a test harness
    replaces it, and lines logged later (a streaming query's batches run on in a callback thread) must not go to a
    stream that has been closed since."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it; the property above always answers
        pass


def _quiet_py4j_send_failure(record: logging.LogRecord) -> bool:
    """py4j logs a failed call to a JVM that is gone (``Exception while sending command.``, with its traceback) on the
    root logger itself (at INFO when it retries, at ERROR when it gives up), where naming py4j's loggers does not reach
    it: the job says what failed in one line."""
    return not (record.name == "root" and record.getMessage() == "Exception while sending command.")


def _quiet_py4j_callback_failure(record: logging.LogRecord) -> bool:
    """py4j logs an exception raised in Python code the JVM called (a streaming query's ``foreachBatch`` function)
    with its Python traceback and the JVM's stack trace; the query then ends with that error, which the job says in
    one line."""
    return not (record.name == "py4j.clientserver" and record.getMessage().startswith(
        "There was an exception while executing the Python Proxy"))


def setup_logging(fmt: str = "text", verbose: bool = False) -> None:
    handler = _StderrHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    elif sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s  %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(_quiet_py4j_send_failure)
        handler.addFilter(_quiet_py4j_callback_failure)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("py4j", "great_expectations", "great_expectations.data_context.types.base", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def quiet_query_context_loggers() -> None:
    """PySpark logs every error that has a query context (a table not found, a bad cast) to stderr itself, as a JSON
    line with the JVM's whole stack trace, before the job can say it in one line. Jobs say it themselves (``--debug``
    shows the traceback), so those two loggers stay quiet unless the job logs at DEBUG."""
    from pyspark.logger import PySparkLogger

    level = logging.DEBUG if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else logging.CRITICAL + 1
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(level)


def progress(logger: logging.Logger, message: str, **fields) -> None:
    """One progress line: stage, source/file and counts so far, as text and as JSON fields."""
    detail = " ".join(f"{k}={v}" for k, v in fields.items())
    logger.info("%s%s", message, f"  {detail}" if detail else "", extra={"fields": {"event": message, **fields}})
