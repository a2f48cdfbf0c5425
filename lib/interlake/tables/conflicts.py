"""Delta write conflicts between jobs that run at once (two ingest sources, the trending query next to `interlake
maintain`, a training next to a manual compaction): the losing commit backs off and runs again.

Example:
    >>> with_conflict_retry(lambda: table.delete("run_id = 'r1'"), cfg.ingest.conflict_retries, "trim quarantine")
"""

from __future__ import annotations

import logging
import time
import uuid

log = logging.getLogger(__name__)


def _is_conflict(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(k in text for k in ("Concurrent", "ConcurrentModification", "MetadataChanged", "ProtocolChanged",
                                   "DELTA_CONCURRENT", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED"))


def with_conflict_retry(fn, retries: int, what: str):
    """Run ``fn``; on a Delta write conflict with a concurrent transaction, back off and run it again."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as exc:
            if not _is_conflict(exc) or attempt == retries:
                raise
            wait = min(8.0, 0.25 * 2**attempt) * (0.5 + (uuid.uuid4().int % 100) / 100)
            log.info("%s: concurrent Delta commit, retrying in %.1fs (%s)", what, wait, type(exc).__name__)
            time.sleep(wait)
