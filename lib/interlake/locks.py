"""One run at a time where two would corrupt each other: an ingest run per source, the trending query per lakehouse.

Two ingest runs of the same source that overlap (a schedule every few minutes, one run slower than the interval)
both take the same new files: the quarantine rows and the ledger's rows of those files were written twice. The
second trending query on one checkpoint takes the first one's batch in progress for a crashed one and undoes it.
So a run first takes an OS lock (``flock``) on ``<lakehouse>/_locks/<name>.lock``; a second run waits for it (up to
the config's ``lock_timeout``) and then goes on, as if it had started after the first. The OS releases the lock when
its holder dies, even by SIGKILL, so a crashed run never blocks the re-run that repairs it.

A lakehouse on an object store (a URI other than ``file:``) has no such lock: there the scheduler keeps runs apart
(``databricks.yml`` sets ``max_concurrent_runs: 1``).

Example:
    >>> with exclusive(cfg.lakehouse, "ingest-shop_export", wait=cfg.ingest.lock_timeout,
    ...                setting="ingest.lock_timeout", what="source shop_export"):
    ...     ...
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from interlake.config import duration_seconds, local_folder
from interlake.errors import InterlakeError

log = logging.getLogger(__name__)
POLL_S = 0.5


class LockTimeout(InterlakeError):
    """Another run held the lock for longer than the config lets this one wait."""


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (pid, host, since, command), for the messages."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a process that has not said who it is yet"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} UTC ({info.get('command')})"


@contextmanager
def exclusive(lakehouse: str, name: str, *, wait: str, setting: str, what: str) -> Iterator[None]:
    """Hold ``<lakehouse>/_locks/<name>.lock`` for the block, waiting up to ``wait`` (a duration, the value of the
    config key ``setting``) while another process (or another block of this one) holds it; then a one-line
    LockTimeout naming the holder and the setting. A lakehouse on another filesystem than this machine's disk (an
    object store): no lock (see the module's docstring); a ``file:`` URI is on this disk and is locked."""
    timeout_s = duration_seconds(wait, setting)
    local = local_folder(lakehouse)
    if local is None:
        yield
        return
    folder = Path(local) / "_locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock")
    handle = open(path, "a+")  # noqa: SIM115  (held open for the whole block: the lock lives with the descriptor)
    held = False
    try:
        deadline = time.monotonic() + timeout_s
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"{what}: another run still holds {path} after {timeout_s:g} s of waiting ({_holder(path)}); "
                        f"let it finish, or raise {setting} ({wait})") from None
                if not waiting:
                    log.info("%s: another run holds %s (%s); waiting for it to finish (up to %s, %s)",
                             what, path, _holder(path), wait, setting)
                    waiting = True
                time.sleep(POLL_S)
            except OSError as exc:  # a filesystem without locks (some network mounts): as on an object store
                log.warning("%s: cannot lock %s (%s); runs are not kept apart here, the scheduler must do it",
                            what, path, exc.strerror)
                break
        if waiting:
            log.info("%s: the other run finished; going on", what)
        if held:
            _write_holder(handle)
        yield
    finally:
        if held:  # a later waiter must not name this run as the holder
            handle.seek(0)
            handle.truncate()
        handle.close()  # releases the lock (the OS does the same if the process dies)


def _write_holder(handle) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                             "command": " ".join(os.path.basename(a) for a in sys.argv[:3])}))
    handle.flush()
