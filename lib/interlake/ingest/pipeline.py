"""Batch ingestion: discover -> read -> standardize -> validate -> quality gate -> MERGE, per source.

One run of a source at a time (an OS lock under the lakehouse, see interlake.locks); runs of different sources run
side by side. Write protocol of one source in one run (every step idempotent, so a crash anywhere is repaired by
re-running):
  1. ledger rows for the run's files, status ``pending``, with their reconciliation counts
  2. quarantine rows of the run (any left by an earlier attempt of the same run are deleted first)
  3. insert-only MERGE of the new events into ``interactions``, tagged with the run id (commit userMetadata)
  4. a retake (``retake_quarantined``): the earlier takes' quarantine rows of the files it took again unchanged are
     deleted, tagged with the run id too (see ``ledger``)
  5. ledger rows -> ``committed``
A Delta write conflict with a concurrent run (another source) re-plans steps 1-3 and retries.

Example:
    >>> result = ingest(spark, load_config("conf/local.yaml"))
    >>> print_report(result)
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from interlake.clock import utc_now
from interlake.config import Config, SourceConfig
from interlake.errors import MORE_MEMORY, ConfigError, InterlakeError, one_line, stopped_jvm
from interlake.fs import exists, write_text
from interlake.ingest import ledger as L
from interlake.ingest.files import FileInfo, list_files
from interlake.ingest.quality import render_html, run_quality_gate
from interlake.ingest.readers import NOT_JSON_VALUE, base64_hint, check_encodings, read_source, vanished
from interlake.ingest.standardize import standardize
from interlake.ingest.validate import (
    ENCODING_REASON,
    describe_reason,
    epoch_unit_hint,
    reason_counts,
    vocabulary_hint,
    with_reasons,
    with_table_checks,
)
from interlake.interrupts import check as check_interrupted
from interlake.interrupts import interrupted
from interlake.locks import exclusive
from interlake.log import progress
from interlake.schemas import columns as C
from interlake.schemas import tables as T
from interlake.session import session_conf
from interlake.tables.append_only import refuse_append_only
from interlake.tables.conflicts import with_conflict_retry
from interlake.tables.interactions import ensure_interactions_table, ensure_table, own_checks
from interlake.tables.merging import set_columns

log = logging.getLogger(__name__)
ACCEPTED, DUPLICATE, QUARANTINED = "accepted", "duplicate", "quarantined"


@dataclass
class FileReport:
    source: str
    file: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_duplicate + self.rows_quarantined


@dataclass
class SourceResult:
    source: str
    status: str  # ok | no new files | failed | dry run
    message: str = ""
    files: list[FileReport] = field(default_factory=list)
    quality_report: str | None = None


@dataclass
class IngestResult:
    run_id: str
    sources: list[SourceResult]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.sources)


def crash_point(name: str) -> None:
    """Fault injection for the crash tests: INTERLAKE_CRASH_AT=<name> kills the process here (like kill -9)."""
    if os.environ.get("INTERLAKE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- transforms (pure)

STORED = (C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS, C.EVENT_DATE, C.SOURCE, C.FILE)


def new_events(valid: DataFrame, existing_ids: DataFrame, copies: list[tuple[str, str]]) -> DataFrame:
    """The valid rows' distinct events not already stored: one row per ``event_id``, attributed to the copy that wins
    among the batch's copies, the first of ``copies`` (every ``(source, file)`` of ``valid``, in the order that
    decides; which copy of one file wins changes nothing, they carry the same values). A copy missing from ``copies``
    would come out without a source, which the table's NOT NULL check refuses: never dropped silently.

    The event's four values are the grouping key with its id (the id is their hash, so they are equal in every copy)
    and the winner is the minimum of an integer (the copy's place in ``copies``, from a broadcast lookup): a hash
    aggregate. Aggregating strings instead (first value, smallest source and file) makes Spark sort every row twice.
    Then an anti join against the stored ids; the raw text never travels through the shuffle."""
    order = valid.sparkSession.createDataFrame(
        [(s, f, i) for i, (s, f) in enumerate(copies)], f"{C.SOURCE} STRING, {C.FILE} STRING, _copy INT")
    key = [C.EVENT_ID, C.EVENT_DATE, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS]
    deduped = (valid.join(F.broadcast(order), [C.SOURCE, C.FILE], "left")
               .groupBy(*key).agg(F.min("_copy").alias("_copy"))
               .join(F.broadcast(order), "_copy", "left"))
    return (deduped.join(existing_ids.select(C.EVENT_ID, C.EVENT_DATE), [C.EVENT_ID, C.EVENT_DATE], "left_anti")
            .select(*STORED))


def file_counts(per_file: dict[str, tuple[int, int]], accepted: dict[str, int], source: str,
                files: list[str]) -> list[FileReport]:
    """Reconciliation per file: read = accepted + duplicate + quarantined, where ``per_file`` is (read,
    quarantined) and duplicates are the valid rows that did not become a new event."""
    reports = []
    for file in files:
        read, bad = per_file.get(file, (0, 0))
        acc = accepted.get(file, 0)
        reports.append(FileReport(source, file, read, acc, read - bad - acc, bad))
    return reports


# ---------------------------------------------------------------- the job

def ensure_ingest_tables(spark: SparkSession, cfg: Config, *, interactions: bool = True,
                         ledger: bool = True) -> None:
    """Create ``interactions_quarantine`` and, unless told not to, ``interactions`` and ``ingest_ledger`` if missing
    (a caller that does not use a table does not pay for it: creating ``interactions`` takes seconds)."""
    def create():
        if interactions:
            ensure_interactions_table(spark, cfg.table_path(T.INTERACTIONS), cfg.vocabulary, cfg.database)
        ensure_table(spark, cfg.table_path(T.QUARANTINE), T.QUARANTINE_DDL, database=cfg.database, name=T.QUARANTINE)
        if ledger:
            ensure_table(spark, cfg.table_path(T.LEDGER), T.LEDGER_DDL, database=cfg.database, name=T.LEDGER)

    with_conflict_retry(create, cfg.ingest.conflict_retries, "create tables")


def check_ledger_has_its_table(spark: SparkSession, cfg: Config) -> None:
    """``interactions`` removed by hand (its folder deleted to ingest again, say) while ``ingest_ledger`` kept the
    files taken into it: every run then found no new file and the table stayed empty. A one-line error instead."""
    ledger = cfg.table_path(T.LEDGER)
    if exists(spark, cfg.table_path(T.INTERACTIONS) + "/_delta_log") or not exists(spark, ledger + "/_delta_log"):
        return
    stored = (F.col("status") == L.COMMITTED) & (F.col("rows_accepted") > 0)
    taken = spark.read.format("delta").load(ledger).where(stored).select("file").distinct().count()
    if taken:
        raise ConfigError(
            f"ingest: the table interactions ({cfg.table_path(T.INTERACTIONS)}) is gone, and ingest_ledger has "
            f"{taken:,} file(s) taken into it, which no run takes again. Put the table back, or ingest every file "
            "again: remove ingest_ledger and interactions_quarantine too (the files still in the sources' folders "
            "are then taken as new)")


# why ingest must be able to delete quarantine rows: it refuses an append-only quarantine
QUARANTINE_DELETES = ("ingest deletes a run's quarantine rows when it undoes a run that died, and a file's earlier "
                      "ones when it takes the file again (--retake-quarantined); to keep quarantine rows longer, "
                      "raise maintenance.quarantine_retention_days")


def ingest(spark: SparkSession, cfg: Config, sources: list[str] | None = None, *,
           now: datetime | None = None, dry_run: bool = False, retake_quarantined: bool = False) -> IngestResult:
    """Ingest the new files of every configured source (or of ``sources``) into ``interactions``. ``dry_run``: do
    everything up to the writes (read, validate, gate, classify against the stored events) and write nothing: the
    report says what a run would take, and each source's most common quarantine reasons. ``retake_quarantined``:
    also take again the unchanged files whose latest take quarantined records (after a config fix: the records
    valid now are added, the rest quarantined again in place of the file's earlier quarantine rows)."""
    selected = cfg.selected_sources(sources)
    now = utc_now(now)
    run_id = new_run_id(now)
    check_encodings(spark, selected)
    check_ledger_has_its_table(spark, cfg)
    if not dry_run:
        ensure_ingest_tables(spark, cfg)
        refuse_append_only(spark, {
            T.LEDGER: (cfg.table_path(T.LEDGER), "ingest updates the row of each file it takes (pending, then "
                       "committed) and deletes those of a run it undoes"),
            T.QUARANTINE: (cfg.table_path(T.QUARANTINE), QUARANTINE_DELETES)})
    results = []
    earlier: list[DataFrame] = []  # a dry run: the new events of the sources before, as a run would have stored them
    for src in selected:
        check_interrupted()  # Ctrl-C during the source before: no next one
        try:
            if dry_run:  # writes nothing, so it neither takes nor waits for the source's lock
                results.append(_ingest_source(spark, cfg, src, run_id, now, dry_run=earlier,
                                              retake=retake_quarantined))
                continue
            # one run of a source at a time: an overlapping run waits, then finds the files taken (interlake.locks)
            with exclusive(cfg.lakehouse, f"ingest-{src.name}", wait=cfg.ingest.lock_timeout,
                           setting="ingest.lock_timeout", what=f"source {src.name}"):
                results.append(_ingest_source(spark, cfg, src, run_id, now, retake=retake_quarantined))
        except Exception as exc:  # noqa: BLE001  (an unforeseen error, e.g. a corrupt file: the others still run)
            if interrupted():  # its Spark job cancelled by Ctrl-C: the run stops here, the next one repairs
                raise KeyboardInterrupt from None
            if isinstance(exc, InterlakeError):
                log.error("source %s failed: %s", src.name, exc)
                results.append(SourceResult(src.name, "failed", str(exc)))
                continue
            alive = spark_alive(spark)
            message = unforeseen(exc, src, jvm_died=not alive)
            log.error("source %s failed: %s", src.name, message, exc_info=log.isEnabledFor(logging.DEBUG))
            results.append(SourceResult(src.name, "failed", message))
            if not alive:  # the sources after it would each fail with "Connection refused": say why they did not run
                for rest in selected[len(results):]:
                    results.append(SourceResult(rest.name, "failed", f"not run: Spark stopped while source "
                                                f"{src.name} ran; run it alone with `interlake ingest --source "
                                                f"{rest.name}`, or all again once {src.name} is fixed"))
                    log.error("source %s failed: %s", rest.name, results[-1].message)
                return IngestResult(run_id, results, dry_run=dry_run)
    for df in earlier:
        df.unpersist()
    return IngestResult(run_id, results, dry_run=dry_run)


def spark_alive(spark: SparkSession) -> bool:
    """False when the session's JVM is gone or its context stopped: an OutOfMemoryError in a task ends a local JVM
    (Spark's handler of uncaught errors exits it), and every later call then fails with "Connection refused"."""
    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except Exception:  # noqa: BLE001  (py4j: no JVM to answer)
        return False


def unforeseen(exc: Exception, src: SourceConfig | None = None, *, jvm_died: bool = False) -> str:
    """A source's error that no check foresaw (a corrupt or truncated file, a lost executor) as one line; the next
    run repairs what this run left pending. Running out of memory says which settings give more, and for a ``json``
    source that its documents are read whole (a 300 MB one needs gigabytes). ``jvm_died``: Spark's JVM ended while
    the source ran; the error seen here is then most often the lost connection, the cause being in the JVM's log
    (an OutOfMemoryError ends a local JVM before its error reaches Python)."""
    message = one_line(exc)
    gone = vanished(message, src) if src is not None and not jvm_died else None
    if gone:
        return gone
    if "DATETIME_PATTERN" in message and src is not None:  # a pattern pattern_problem() let through (a letter count)
        return (f"sources.{src.name}.timestamp_format: {src.timestamp_format!r} is not a datetime pattern Spark "
                f"reads ({message}); see https://spark.apache.org/docs/latest/sql-ref-datetime-pattern.html")
    more = (MORE_MEMORY
            + ("; a json document is read whole, as one record list in memory: export large ones as JSON Lines "
               "(format: jsonl), which are read line by line" if src and src.format == "json" else ""))
    if "OutOfMemoryError" in message:
        message += f"; Spark ran out of memory: {more}"
    elif jvm_died:  # what reached Python is the lost connection ("Connection refused"): --debug shows it
        message = stopped_jvm(more, " while the source ran")
    return (f"{message} (the next run of the source finishes or undoes what this one left; fix or move a "
            "file it names, then re-run; --debug logs the traceback)")


def recover(spark: SparkSession, cfg: Config, source: str, pending: list[str]) -> None:
    """Finish or undo the ``pending`` runs of ``source``: runs that died before committing their ledger rows."""
    ledger_path, interactions = cfg.table_path(T.LEDGER), cfg.table_path(T.INTERACTIONS)
    for run_id in pending:
        # a retake without a valid record has no MERGE: its quarantine delete, the step after, says it got there
        if L.committed_in(spark, interactions, run_id) or L.committed_in(spark, cfg.table_path(T.QUARANTINE), run_id):
            log.info("recovery: run %s of %s merged before it died; committing its ledger rows", run_id, source)
            supersede_quarantine(spark, cfg, source, run_id)  # done already, or not yet: the run's step 4
            L.set_status(spark, ledger_path, run_id, source, L.COMMITTED)
        else:
            log.info("recovery: run %s of %s died before its merge; undoing it, its files are taken again",
                     run_id, source)
            DeltaTable.forPath(spark, cfg.table_path(T.QUARANTINE)).delete(
                (F.col("run_id") == run_id) & (F.col("source") == source))
            L.delete_run(spark, ledger_path, run_id, source)


def supersede_quarantine(spark: SparkSession, cfg: Config, source: str, run_id: str) -> None:
    """Delete the quarantine rows of the earlier takes that ``run_id`` took again unchanged (``ledger.
    superseded_takes``), in one commit tagged with the run id (recovery looks for it)."""
    takes = L.superseded_takes(spark, cfg.table_path(T.LEDGER), source, run_id)
    if not takes:
        return
    by_run: dict[str, list[str]] = {}
    for file, earlier in takes:
        by_run.setdefault(earlier, []).append(file)
    condition = F.lit(False)
    for earlier, files in sorted(by_run.items()):
        condition = condition | ((F.col(C.RUN_ID) == earlier) & F.col(C.FILE).isin(sorted(files)))
    with tagged(spark, run_id):
        DeltaTable.forPath(spark, cfg.table_path(T.QUARANTINE)).delete((F.col(C.SOURCE) == source) & condition)


def tagged(spark: SparkSession, run_id: str) -> AbstractContextManager[None]:
    """The Delta commits made inside carry ``run_id`` in their userMetadata (``ledger.committed_in`` finds them)."""
    return session_conf(spark, "spark.databricks.delta.commitInfo.userMetadata", L.run_metadata(run_id))


def files_to_take(spark: SparkSession, src: SourceConfig, state: L.SourceState, now: datetime, *,
                  retake: bool = False) -> tuple[list[FileInfo], list[FileInfo]]:
    """The files of ``src`` not taken yet or changed (size or modification time) since they were taken, and with
    ``retake`` the unchanged ones whose latest take quarantined records (to take again); a file modified less than
    ``sources.<name>.min_file_age`` before ``now`` is left for a later run."""
    listing = list_files(spark, src.path, recursive=src.recursive, setting=f"sources.{src.name}.path",
                         name_filter=src.name_filter)
    ready = settled(src, listing, state.taken, now)
    todo = new_files(ready, state.taken)
    if not retake:
        return todo, []
    changed = {f.file for f in todo}
    again = [f for f in ready if f.file in state.quarantined and f.file not in changed]
    gone = len(state.quarantined - {f.file for f in listing})
    if gone:
        log.warning("source %s: %d file(s) with quarantined records are no longer in %s and cannot be taken again",
                    src.name, gone, src.path)
    progress(log, "taking again", source=src.name, files=len(again))
    return todo, again


def settled(src: SourceConfig, listing: list[FileInfo], taken: dict[str, tuple[int, datetime]], now: datetime, *,
            say: bool = True) -> list[FileInfo]:
    """The files of ``listing`` last modified at least ``sources.<name>.min_file_age`` before ``now`` (every file when
    it is not set); with ``say``, the new or changed files left out are logged (how many, and one by name). A file
    a writer is still appending to would be taken cut short: its last line quarantined as broken, and taken again,
    all duplicates, each time it grows."""
    age = src.min_file_age_seconds
    if not age:
        return listing
    cutoff_ms = (now.replace(tzinfo=UTC).timestamp() - age) * 1000
    young = [f for f in listing if f.modified_ms > cutoff_ms]
    left = new_files(young, taken)
    if left and say:
        log.warning("source %s: %d new file(s) modified less than %s ago left for the next run "
                    "(sources.%s.min_file_age), e.g. %s", src.name, len(left), src.min_file_age, src.name,
                    unquote(left[0].file.rsplit("/", 1)[-1]))
    return [f for f in listing if f.modified_ms <= cutoff_ms]


def new_files(listing: list[FileInfo], taken: dict[str, tuple[int, datetime]]) -> list[FileInfo]:
    """The files of a folder's ``listing`` not in ``taken`` (the ledger's latest take of each file), or changed
    (size or modification time) since they were taken."""
    todo = []
    for f in listing:
        modified = datetime.fromtimestamp(f.modified_ms / 1000, UTC).replace(tzinfo=None)
        previous = taken.get(f.file)
        if previous is None or previous[0] != f.size or abs((previous[1] - modified).total_seconds()) > 0.001:
            todo.append(f)
    return todo


def _ingest_source(spark: SparkSession, cfg: Config, src: SourceConfig, run_id: str, now: datetime, *,
                   dry_run: list[DataFrame] | None = None, retake: bool = False) -> SourceResult:
    """One source's run; ``dry_run`` (a list, empty for the first source): write nothing, classify against the stored
    events and the new events of the sources before (which a run would have stored), and add this one's to it.
    ``retake``: also the unchanged files whose latest take quarantined records."""
    retries = cfg.ingest.conflict_retries
    has_ledger = dry_run is None or exists(spark, cfg.table_path(T.LEDGER) + "/_delta_log")
    state = (L.source_state(spark, cfg.table_path(T.LEDGER), src.name) if has_ledger
             else L.SourceState([], {}, frozenset()))
    if state.pending and dry_run is not None:
        log.warning("source %s: a run of it died before committing (%s); the next real run finishes or undoes it "
                    "first, so its files may be taken again", src.name, ", ".join(state.pending))
    elif state.pending:
        with_conflict_retry(lambda: recover(spark, cfg, src.name, state.pending), retries, f"{src.name} recovery")
        state = L.source_state(spark, cfg.table_path(T.LEDGER), src.name)  # recovery may have committed files
    todo, again = files_to_take(spark, src, state, now, retake=retake)
    todo += again
    if not todo:
        progress(log, "no new files", source=src.name)
        return SourceResult(src.name, "no new files")
    progress(log, "reading", source=src.name, files=len(todo))
    for unused in src.unused_options:
        log.warning("source %s: %s; remove it", src.name, unused)
    info = {f.file: f for f in todo}
    raw = read_source(spark, src, [f.file for f in todo])
    checked = (raw.transform(standardize, type_map=src.interaction_type_map, vocabulary=cfg.vocabulary,
                             timestamp_format=src.timestamp_format, timezone=src.timezone)
               .transform(with_reasons, vocabulary=cfg.vocabulary, now=now, timestamp_format=src.timestamp_format,
                          max_id_length=cfg.ingest.max_id_length, max_future_seconds=cfg.ingest.max_future_seconds,
                          min_timestamp=cfg.ingest.min_timestamp, encoding=src.encoding))
    table = cfg.table_path(T.INTERACTIONS)
    if exists(spark, table + "/_delta_log"):  # a dry run before the first run has none
        checked = checked.transform(with_table_checks, own_checks(spark, table),
                                    spark.read.format("delta").load(table).schema, now)
    # Materialized once: counts, the gate and the writes must all see the same rows, and files are read once.
    # Only what later steps use is kept, and the raw text only where quarantine needs it (the rows with reasons).
    has_reasons = F.size(C.REASONS) > 0
    checked = checked.select(C.SOURCE, C.FILE, F.when(has_reasons, F.col(C.RAW)).alias(C.RAW), C.REASONS,
                             C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS, C.EVENT_DATE)
    checked = checked.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        is_valid = F.size(C.REASONS) == 0
        rows = checked.groupBy(C.FILE).agg(
            F.count(F.lit(1)).alias("read"), F.count(F.when(~is_valid, 1)).alias("bad"),
            F.collect_set(F.when(is_valid, F.col(C.EVENT_DATE))).alias("dates")).collect()
        per_file = {r[C.FILE]: (r["read"], r["bad"]) for r in rows}
        totals = {"read": sum(r["read"] for r in rows), "bad": sum(r["bad"] for r in rows)}
        dates = sorted({d for r in rows for d in r["dates"]})
        progress(log, "validated", source=src.name, dates=len(dates))

        valid = checked.where(is_valid)
        max_ts = now + timedelta(seconds=cfg.ingest.max_future_seconds)
        own_share = src.max_quarantine_share is not None
        share = src.max_quarantine_share if own_share else cfg.ingest.max_quarantine_share
        # the reasons only when the share fails the gate: nothing is written then, so the message must say them
        top = _top_reasons(checked) if totals["read"] and totals["bad"] / totals["read"] > share else []
        gate = run_quality_gate(spark, valid.select(C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS),
                                source=src.name, vocabulary=cfg.vocabulary, min_timestamp=cfg.ingest.min_timestamp,
                                max_timestamp=max_ts, rows_read=totals["read"], rows_quarantined=totals["bad"],
                                max_quarantine_share=share, top_reasons=top,
                                hint=_fix_hints(src, top, checked),
                                share_setting=(f"sources.{src.name}.max_quarantine_share" if own_share
                                               else "ingest.max_quarantine_share"))
        report = None if dry_run is not None else _write_gate_report(spark, cfg, src.name, run_id, gate)
        progress(log, "quality gate " + ("passed" if gate.success else "FAILED"), source=src.name)
        if not gate.success:
            msg = "quality gate failed, nothing written: " + "; ".join(gate.failures) + (
                f" (report: {report})" if report else "")
            return SourceResult(src.name, "failed", msg, quality_report=report)
        if dry_run is not None:
            reasons = _top_reasons(checked) if totals["bad"] else []
            stored = valid.select(*STORED)
            fresh = _fresh_events(src, stored, _dry_run_existing(spark, cfg, stored, dates, dry_run), per_file)
            dry_run.append(fresh)
            reports = _file_reports(fresh, per_file, src, info)
            return SourceResult(src.name, "dry run", "most common quarantine reasons: " + ", ".join(
                describe_reason(*r) for r in reasons) + _fix_hints(src, reasons, checked) if reasons else "",
                files=reports)

        quarantine = checked.where(F.size(C.REASONS) > 0).select(
            C.SOURCE, C.FILE, C.RAW, C.REASONS, F.lit(run_id).alias(C.RUN_ID),
            F.lit(now).cast("timestamp").alias(C.INGESTED_AT))
        attempts = []  # the quarantine rows of an earlier attempt of this run exist only after a conflict

        def write_once():
            attempts.append(1)
            return _write(spark, cfg, src, run_id, now, valid.select(*STORED), quarantine, dates, info, per_file,
                          retry=len(attempts) > 1)

        files = with_conflict_retry(write_once, retries, f"{src.name} merge")
    finally:
        checked.unpersist()
    if again:
        with_conflict_retry(lambda: supersede_quarantine(spark, cfg, src.name, run_id), retries,
                            f"{src.name} quarantine")
        crash_point("after_supersede")
    with_conflict_retry(lambda: L.set_status(spark, cfg.table_path(T.LEDGER), run_id, src.name, L.COMMITTED),
                        retries, f"{src.name} ledger")
    crash_point("after_ledger_commit")
    progress(log, "committed", source=src.name, files=len(files),
             accepted=sum(f.rows_accepted for f in files), quarantined=sum(f.rows_quarantined for f in files))
    return SourceResult(src.name, "ok", files=files, quality_report=report)


def _write(spark: SparkSession, cfg: Config, src: SourceConfig, run_id: str, now: datetime, valid: DataFrame,
           quarantine: DataFrame, dates: list, info: dict[str, FileInfo], per_file: dict[str, tuple[int, int]], *,
           retry: bool = False) -> list[FileReport]:
    target = DeltaTable.forPath(spark, cfg.table_path(T.INTERACTIONS))
    existing = target.toDF().where(F.col(C.EVENT_DATE).isin(dates)).select(C.EVENT_ID, C.EVENT_DATE)
    fresh = _fresh_events(src, valid, existing, per_file)
    try:
        reports = _file_reports(fresh, per_file, src, info)
        ledger_rows = []
        for rep in reports:
            f = info[rep.file]
            modified = datetime.fromtimestamp(f.modified_ms / 1000, UTC).replace(tzinfo=None)
            ledger_rows.append((src.name, rep.file, f.size, modified, rep.rows_read, rep.rows_accepted,
                                rep.rows_duplicate, rep.rows_quarantined, run_id, now, L.PENDING))
        L.upsert_pending(spark, cfg.table_path(T.LEDGER), ledger_rows)
        crash_point("after_ledger_pending")

        if retry:  # a full-table scan: only worth it when an earlier attempt of this run may have written rows
            DeltaTable.forPath(spark, cfg.table_path(T.QUARANTINE)).delete(
                (F.col(C.RUN_ID) == run_id) & (F.col(C.SOURCE) == src.name))
        quarantine.write.format("delta").mode("append").save(cfg.table_path(T.QUARANTINE))
        crash_point("after_quarantine")
        progress(log, "quarantine written", source=src.name)

        new_rows = fresh.select(C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS, C.EVENT_DATE,
                                C.SOURCE, F.lit(now).cast("timestamp").alias(C.INGESTED_AT))
        if dates:
            date_list = ", ".join(f"DATE'{d.isoformat()}'" for d in dates)
            condition = f"t.event_date IN ({date_list}) AND t.event_id = s.event_id AND t.event_date = s.event_date"
            with tagged(spark, run_id):
                (target.alias("t").merge(new_rows.alias("s"), condition)
                 .whenNotMatchedInsert(values=set_columns(new_rows.columns)).execute())
            expected = sum(r.rows_accepted for r in reports)
            inserted = _rows_inserted(target, run_id)
            if inserted is not None and inserted != expected:
                # A concurrent run inserted some of the same events between our classification and our MERGE:
                # those rows are duplicates after all. Recount from what this run really stored.
                reports = _recount_after_race(spark, cfg, src, now, fresh, reports)
                L.upsert_pending(spark, cfg.table_path(T.LEDGER), [
                    (src.name, r.file, info[r.file].size,
                     datetime.fromtimestamp(info[r.file].modified_ms / 1000, UTC).replace(tzinfo=None),
                     r.rows_read, r.rows_accepted, r.rows_duplicate, r.rows_quarantined, run_id, now, L.PENDING)
                    for r in reports])
        crash_point("after_merge")
        progress(log, "merged", source=src.name)
        return reports
    finally:
        fresh.unpersist()  # releases the checkpoint's blocks


def _dry_run_existing(spark: SparkSession, cfg: Config, valid: DataFrame, dates: list,
                     earlier: list[DataFrame]) -> DataFrame:
    """The stored events a dry run classifies against: the table's (none before it exists) and the new events of the
    dry run's earlier sources, which a run would have stored by then."""
    path = cfg.table_path(T.INTERACTIONS)
    if exists(spark, path + "/_delta_log"):
        existing = (spark.read.format("delta").load(path).where(F.col(C.EVENT_DATE).isin(dates))
                    .select(C.EVENT_ID, C.EVENT_DATE))
    else:
        existing = spark.createDataFrame([], valid.select(C.EVENT_ID, C.EVENT_DATE).schema)
    for df in earlier:
        existing = existing.unionByName(df.select(C.EVENT_ID, C.EVENT_DATE))
    return existing


def _fresh_events(src: SourceConfig, valid: DataFrame, existing: DataFrame,
                  per_file: dict[str, tuple[int, int]]) -> DataFrame:
    """The batch's events not in ``existing`` (``event_id``, ``event_date``)."""
    # Checkpointed, not cached: Delta re-caches every plan that reads a table it just committed to, so a cached
    # result would be silently recomputed against the post-MERGE table (every event "already stored").
    return new_events(valid, existing, [(src.name, f) for f in sorted(per_file)]).localCheckpoint(eager=True)


def _file_reports(fresh: DataFrame, per_file: dict[str, tuple[int, int]], src: SourceConfig,
                  info: dict[str, FileInfo]) -> list[FileReport]:
    accepted = {r[C.FILE]: r["n"] for r in fresh.groupBy(C.FILE).agg(F.count(F.lit(1)).alias("n")).collect()}
    progress(log, "classified", source=src.name, new_events=sum(accepted.values()))
    return file_counts(per_file, accepted, src.name, sorted(info))


def _rows_inserted(target: DeltaTable, run_id: str) -> int | None:
    rows = (target.history(20).where(F.col("userMetadata") == L.run_metadata(run_id))
            .select(F.col("operationMetrics")["numTargetRowsInserted"].alias("n")).collect())
    return int(rows[0]["n"]) if rows and rows[0]["n"] is not None else None


def _recount_after_race(spark: SparkSession, cfg: Config, src: SourceConfig, now: datetime, fresh: DataFrame,
                        reports: list[FileReport]) -> list[FileReport]:
    mine = (spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS))
            .where((F.col(C.INGESTED_AT) == F.lit(now).cast("timestamp")) & (F.col(C.SOURCE) == src.name))
            .select(F.col(C.EVENT_ID).alias("_mine")))
    stored = fresh.join(mine, F.col(C.EVENT_ID) == F.col("_mine"), "left")
    lost = {r[C.FILE]: r["n"] for r in stored.where(F.col("_mine").isNull()).groupBy(C.FILE)
            .agg(F.count(F.lit(1)).alias("n")).collect()}
    return [FileReport(r.source, r.file, r.rows_read, r.rows_accepted - lost.get(r.file, 0),
                       r.rows_duplicate + lost.get(r.file, 0), r.rows_quarantined) for r in reports]


def _top_reasons(checked: DataFrame) -> list[tuple[str, int, list[str]]]:
    """The three most common quarantine reasons of a checked source, ``(reason, rows, examples)``."""
    return [(r["reason"], r["rows"], r["examples"]) for r in reason_counts(checked).limit(3).collect()]


def _fix_hints(src: SourceConfig, reasons: list[tuple[str, int, list[str]]], checked: DataFrame) -> str:
    """What to set when the most common quarantine reasons (``reason_counts``) say the config is what is wrong: an
    epoch unit the values are not in, types the vocabulary does not take, queue values in base64 (looked for in
    ``checked``'s rows of that reason), files read as UTF-8 that are not; "" when they do not say."""
    return (epoch_unit_hint(src.timestamp_format, reasons, f"sources.{src.name}.timestamp_format")
            + vocabulary_hint(src.name, reasons)
            + (f"; if the files are not in UTF-8 (Excel on Windows saves CSV in windows-1252), set "
               f"sources.{src.name}.options.encoding to theirs" if any(reason == ENCODING_REASON for reason, _, _
                                                                        in reasons) else "")
            + (base64_hint(src, checked.where(F.array_contains(C.REASONS, NOT_JSON_VALUE)).select(C.RAW))
               if any(reason == NOT_JSON_VALUE for reason, _, _ in reasons) else ""))


def _write_gate_report(spark: SparkSession, cfg: Config, source: str, run_id: str, gate) -> str:
    import json

    base = f"{cfg.lakehouse.rstrip('/')}/_quality/{run_id}/{source}"
    write_text(spark, base + ".json", json.dumps({"source": source, "run_id": run_id, "success": gate.success,
                                                  "failures": gate.failures, "results": gate.results},
                                                 indent=1, default=str))
    return write_text(spark, base + ".html", render_html(source, run_id, gate))


def print_report(result: IngestResult) -> None:
    """The per-file reconciliation table, then one summary line."""
    header = ("source", "file", "read", "accepted", "duplicate", "quarantined")
    rows = []
    for s in result.sources:
        paths = [unquote(f.file) for f in s.files]
        # the name, or the path under the source's folder when it reads subfolders (2026-11-08/export.csv)
        base = os.path.dirname(os.path.commonprefix(paths)) if paths else ""
        for f, path in zip(s.files, paths, strict=True):
            rows.append((f.source, path[len(base):].lstrip("/") or os.path.basename(path), f"{f.rows_read:,}",
                         f"{f.rows_accepted:,}", f"{f.rows_duplicate:,}", f"{f.rows_quarantined:,}"))
    if rows:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
        print(fmt.format(*header))
        for r in rows:
            print(fmt.format(*r))
    for s in result.sources:
        if s.status == "failed":
            print(f"{s.source}: FAILED: {s.message}")
        elif s.status == "no new files":
            print(f"{s.source}: no new files")
        elif s.status == "dry run" and s.message:
            print(f"{s.source}: {s.message}")
    total = [f for s in result.sources for f in s.files]
    outcome = "ok" if result.ok else "FAILED"
    print(f"ingest {'dry run' if result.dry_run else 'run'} {result.run_id}: "
          f"{outcome + ', nothing written' if result.dry_run else outcome}; {len(total)} files, "
          f"{sum(f.rows_read for f in total):,} read = {sum(f.rows_accepted for f in total):,} accepted + "
          f"{sum(f.rows_duplicate for f in total):,} duplicate + "
          f"{sum(f.rows_quarantined for f in total):,} quarantined")
