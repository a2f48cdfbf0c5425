"""Ctrl-C in a command-line process that drives Spark: stop, with one line, at once on a second Ctrl-C.

PySpark's own SIGINT handler (installed when a SparkContext starts) cancels Spark's jobs through py4j from inside
the signal handler. A Ctrl-C almost always lands while the main thread waits on py4j's socket for the JVM's answer,
so that call re-enters the same connection: py4j logs two ``reentrant call`` tracebacks, the interrupted call fails
with a ``Py4JError`` instead of a ``KeyboardInterrupt``, and ``interlake ingest`` took that for one source's failure
and went on with the next source.

:func:`install` replaces it for the CLI's processes (not for a notebook's session, where an interrupted cell must
leave the session usable): the first Ctrl-C cancels the running Spark jobs from a thread of its own (its own py4j
connection) and keeps cancelling any job started after it, so the job stops at its next Spark action; it raises
``KeyboardInterrupt`` itself only where that is safe, outside a py4j call. The failures that follow are
recognized by :func:`interrupted`; :func:`settle` lets the cancelled jobs end and stops Spark before the process
exits. A second Ctrl-C ends the process at once; every job is safe to stop anywhere (ingest and trending redo or
undo what a run left unfinished). The trending query handles Ctrl-C itself, as SIGTERM: after the batch in progress.

SIGTERM (a scheduler stopping the job: Airflow, ``timeout``, ``docker stop``, ``run-job`` passing it on) is taken
as Ctrl-C, with exit code 143 instead of 130; a second SIGTERM changes nothing (only Ctrl-C again stops at once;
schedulers that will not wait follow SIGTERM with SIGKILL). Before 2026-12-05 it ended the process where it stood,
without a line. A local session's JVM ignores SIGTERM (``interlake.session``), so a signal sent to the whole process
group reaches the jobs' own handling, not a JVM that dies under it; the JVM still ends with the process, when its
standard input closes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module for every command; those without Spark do not load PySpark (0.2 s)
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
_interrupted = threading.Event()
_settling = threading.Event()
_spark: list[SparkSession] = []  # the session install() was given
_signals: list[int] = []  # the stop signals received, in order
AT_ONCE = "interrupted again: stopping at once; the next run finishes or undoes what this one left"


class FirstSignal:
    """Tells a stop signal after the first apart. A handler asks :meth:`again` before it notes a signal: Python runs
    a signal's handler between any two bytecodes of the main thread, also inside another handler still running, and
    ``timeout`` sends SIGTERM to the process and then to its group microseconds apart. Checking an ``Event`` and
    setting it after the log line let the second handler in between: the trending query logged its one stopping line
    twice (the CI of 52fa8b2). A lock taken without blocking is one C call, which no handler interrupts."""

    def __init__(self) -> None:
        self._taken = threading.Lock()

    def again(self, signum: int) -> bool:
        """False for the first signal. True for any after it, handled as every job handles one: Ctrl-C again stops
        at once (this does not return), SIGTERM again changes nothing."""
        if self._taken.acquire(blocking=False):
            return False
        if signum == signal.SIGINT:
            stop_at_once()
        return True


_first = FirstSignal()


def interrupted() -> bool:
    """Whether Ctrl-C stopped this process's work (so a failure since is the interruption, not an error)."""
    return _interrupted.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed: a job calls it between steps it must not start anew."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def in_py4j_call(frame) -> bool:
    """Whether the interrupted code is inside py4j (a call to the JVM in progress), where raising would leave the
    connection with an answer nobody reads."""
    while frame is not None:
        if f"{os.sep}py4j{os.sep}" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def exit_code() -> int:
    """The exit code of a command stopped on request: 130 for Ctrl-C (SIGINT), 143 for SIGTERM (128 + the signal's
    number, as a shell gives for a process a signal ended)."""
    return 128 + (_signals[0] if _signals else signal.SIGINT)


def stop_at_once() -> None:
    print(AT_ONCE, file=sys.stderr, flush=True)
    os._exit(exit_code())  # the JVM, a child reading our pipe, ends with us


def quiet_spark_log(sc) -> None:
    """Spark's log (every logger, log4j) says nothing more. Called before the jobs are cancelled: what Spark logs
    after is about the cancelling itself, races of killed tasks with the blocks the stopping job frees (``Error in
    TaskCompletionListener ... Block broadcast_17 does not exist``, ``Error in removing RDD ...
    NullPointerException``, each with stack lines; 3 interrupted runs in 18 here), which the one line
    ``interrupted`` already says."""
    jvm = sc._jvm
    jvm.org.apache.logging.log4j.core.config.Configurator.setAllLevels("", jvm.org.apache.logging.log4j.Level.OFF)


def install(spark: SparkSession) -> None:
    """Ctrl-C cancels ``spark``'s jobs and stops the command (see the module's text). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    sc = spark.sparkContext
    _spark[:] = [spark]

    def cancel_until_exit() -> None:  # a job started after the first cancel (the next step) is cancelled too
        try:
            quiet_spark_log(sc)
        except Exception:  # noqa: BLE001  (the JVM is gone, or logs without log4j: cancel all the same)
            pass
        while not _settling.is_set():
            try:
                sc.cancelAllJobs()
            except Exception:  # noqa: BLE001  (the JVM is gone: nothing left to cancel)
                return
            time.sleep(0.2)

    def on_interrupt(signum, frame) -> None:
        if _first.again(signum):
            return
        _signals.append(signum)
        _interrupted.set()
        log.warning("%s: cancelling Spark's jobs, stopping (Ctrl-C again to stop at once)",
                    "SIGTERM" if signum == signal.SIGTERM else "interrupted")
        threading.Thread(target=cancel_until_exit, name="interlake-cancel", daemon=True).start()
        if not in_py4j_call(frame):
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_interrupt)


def settle(timeout_s: float = 10.0) -> None:
    """After Ctrl-C, before the process exits: let the cancelled jobs end, then stop Spark in order, the JVM's own
    standard error closed first. Spark's shutdown closes thread pools under a cancelled query's last callbacks, and
    the JVM printed their ``RejectedExecutionException`` with its stack lines next to the one-line message (1 exit
    in 4 here, also after waiting for the jobs); Spark's log (log4j) keeps the stream it was configured with."""
    if not _spark:
        return
    _settling.set()
    spark = _spark[0]
    deadline = time.time() + timeout_s
    try:
        jvm = spark.sparkContext._jvm
        jvm.java.lang.System.setErr(jvm.java.io.PrintStream(jvm.java.io.OutputStream.nullOutputStream()))
        while spark.sparkContext.statusTracker().getActiveJobsIds() and time.time() < deadline:
            time.sleep(0.1)
        spark.stop()
    except Exception:  # noqa: BLE001  (the JVM is gone already: nothing to settle)
        pass
