"""``interlake maintain``: OPTIMIZE (Z-order on the columns readers filter by), VACUUM with the configured retention
(never below Delta's 7-day safety default unless ``--force``), and retention trimming of quarantine and ledger rows,
of model artifacts and of ingest runs' quality reports.
Safe to run twice: a second run finds nothing to compact, vacuum or trim. Safe next to running jobs: its commits and
theirs retry a Delta conflict."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.clock import utc_now
from interlake.config import Config, duration_seconds
from interlake.errors import ConfigError, one_line
from interlake.fs import delete_tree, exists, subfolders
from interlake.ingest.files import list_files
from interlake.log import progress
from interlake.schemas import tables as T
from interlake.session import session_conf
from interlake.tables.append_only import append_only, unset_command
from interlake.tables.catalog import lakehouse_tables
from interlake.tables.conflicts import with_conflict_retry
from interlake.tables.interactions import check_interactions_columns
from interlake.tables.quoting import sql_string
from interlake.train.registry import current_published

log = logging.getLogger(__name__)
SAFE_RETENTION_HOURS = 168.0
ZORDER_HISTORY = 5000  # commits looked back for the last Z-order: ~3 days of a 1-minute trending query's MERGEs
ZORDER = {T.INTERACTIONS: ["item_id"], T.ITEM_SIMILARITY: ["item_id"], T.USER_RECOMMENDATIONS: ["user_id"],
          T.TRENDING_ITEMS: ["item_id"], T.ITEM_FACTORS: ["item_id"]}


def maintain(spark: SparkSession, cfg: Config, *, force: bool = False, now: datetime | None = None) -> list[dict]:
    hours = cfg.maintenance.vacuum_retention_hours
    if hours < SAFE_RETENTION_HOURS and not force:
        raise ConfigError(
            f"maintenance.vacuum_retention_hours: {hours:g} is below Delta's safety default of 168 hours (readers and "
            "time travel may still need those files); raise it, or pass --force if you are sure")
    now = utc_now(now)
    summary = []
    summary += _trim(spark, cfg, now)
    summary += _trim_folders(spark, cfg, now)
    for name, path in lakehouse_tables(cfg.lakehouse, spark, cfg.database).items():
        m = optimize_table(spark, cfg, name, path)
        table = DeltaTable.forPath(spark, path)
        progress(log, "optimized", table=name, files_removed=m["numFilesRemoved"], files_added=m["numFilesAdded"],
                 **({"zorder_partitions": "{} of {}".format(*m["zorder_scope"])} if m["zorder_scope"] else {}))
        keep, why = (stream_retention(spark, cfg, table, hours, now) if name == T.INTERACTIONS else (hours, ""))
        with session_conf(spark, "spark.databricks.delta.retentionDurationCheck.enabled",
                          "false") if force else nullcontext():
            deleted = vacuum(spark, table, keep)
        vacuumed = f"vacuum retention {keep:g}h{why}" + ("" if deleted is None else
                                                        f", {deleted:,} file{'' if deleted == 1 else 's'} deleted")
        summary.append({"table": name, "action": "optimize+vacuum", "detail": f"{_optimized(name, m)}; {vacuumed}"})
    return summary


def stream_retention(spark: SparkSession, cfg: Config, table: DeltaTable, hours: float,
                     now: datetime) -> tuple[float, str]:
    """The retention to VACUUM ``interactions`` with, and why when it is more than ``hours``. A trending query over the
    table that is behind (stopped over a holiday, or slow) still needs the data files added after the version it goes
    on from; once an OPTIMIZE has compacted them, a VACUUM past the retention deleted them, and the query could only
    start over (``FAILED_READ_FILE.FILE_NOT_EXIST``). Every such file was removed by a commit after that version,
    so keeping the files removed since that version's time (an hour's margin: a long OPTIMIZE stamps its removals
    when it plans them) keeps them all."""
    from interlake.trending.pipeline import checkpoint_path, delta_source_version

    checkpoint = checkpoint_path(cfg)
    version = delta_source_version(spark, checkpoint)
    if version is None:
        return hours, ""
    since = table.history().where(F.col("version") >= version).agg(
        F.min(F.col("timestamp").cast("long")), F.max("version")).first()
    if since[0] is None or since[1] <= version:  # nothing committed after it: no file it needs is removed yet
        return hours, ""
    needed = math.ceil((now.replace(tzinfo=UTC).timestamp() - since[0]) / 3600) + 1
    if needed <= hours:
        return hours, ""
    at = datetime.fromtimestamp(since[0], UTC)
    log.warning("interactions: vacuum retention raised to %dh: the trending query has not read it since version %d "
                "(%s UTC)", needed, version, f"{at:%Y-%m-%d %H:%M}")
    return float(needed), (f" (raised from {hours:g}h: the trending query goes on from interactions version {version} "
                           f"of {at:%Y-%m-%d %H:%M} UTC and still needs the files removed since; remove its checkpoint "
                           f"{checkpoint} if it will not run again)")


def vacuum(spark: SparkSession, table: DeltaTable, hours: float) -> int | None:
    """VACUUM ``table``; how many files it deleted. Delta says that only on the JVM's standard output, with Scala's
    ``println`` (``Deleted 3 files and directories in a total of 8 directories.``), where it came as a line per table
    before ``maintain``'s summary; it is taken from Scala's console, for this thread only, into the summary. Where
    the JVM cannot be reached that way, the line stays where Delta prints it and the count is unknown (None)."""
    try:
        jvm = spark.sparkContext._jvm
        console = getattr(getattr(jvm.scala, "Console$"), "MODULE$")
        before, said = console.out(), jvm.java.io.ByteArrayOutputStream()
        console.setOutDirect(jvm.java.io.PrintStream(said, True, "UTF-8"))
    except Exception:  # noqa: BLE001  (a session without py4j access to Scala's console: vacuum as it is)
        table.vacuum(hours)
        return None
    try:
        table.vacuum(hours)
    finally:
        console.setOutDirect(before)
    found = re.search(r"Deleted (\d+) files", said.toString("UTF-8"))
    return int(found.group(1)) if found else None


def _optimized(name: str, m: dict) -> str:
    """What OPTIMIZE did, in words: ``files 14 -> 7 (z-order item_id, 3 of 7 partitions)``, ``nothing to compact``."""
    files = f"files {m['numFilesRemoved']} -> {m['numFilesAdded']}"
    if name not in ZORDER:
        return files if m["numFilesRemoved"] else "nothing to compact"
    done, total = m["zorder_scope"]
    if not done:
        return f"nothing new to z-order by {', '.join(ZORDER[name])}"
    return f"{files} (z-order {', '.join(ZORDER[name])}, {done} of {total} partition{'s' if total > 1 else ''})"


def optimize_table(spark: SparkSession, cfg: Config, name: str, path: str) -> dict:
    """OPTIMIZE one table (Z-ordered where ``ZORDER`` says); its metrics, and ``zorder_scope``: how many of the
    table's partitions were Z-ordered (``None`` for a compaction). The jobs may write the table meanwhile (the trending
    query runs on through the nightly maintenance): a commit that conflicts makes it plan again."""
    if name == T.INTERACTIONS:  # Z-ordered by item_id: a column renamed by hand is said as the other jobs say it
        check_interactions_columns(path, spark.read.format("delta").load(path).columns)

    def optimize() -> tuple[dict, tuple[int, int] | None]:
        opt = DeltaTable.forPath(spark, path).optimize()
        if name not in ZORDER:
            return opt.executeCompaction().first()["metrics"].asDict(), None
        partitions, total = zorder_partitions(spark, path, ZORDER[name])
        if partitions == []:
            return {"numFilesRemoved": 0, "numFilesAdded": 0}, (0, total)
        if partitions is not None:
            opt = opt.where(" OR ".join(
                "(" + " AND ".join(f"`{col}` = {sql_string(value)}" for col, value in sorted(p.items())) + ")"
                for p in partitions))
        scope = (total if partitions is None else len(partitions), total)
        return opt.executeZOrderBy(*ZORDER[name]).first()["metrics"].asDict(), scope

    metrics, scope = with_conflict_retry(optimize, cfg.ingest.conflict_retries, f"optimize {name}")
    return {**metrics, "zorder_scope": scope}


def zorder_partitions(spark: SparkSession, path: str, columns: list[str]) -> tuple[list[dict] | None, int]:
    """The partitions of the table at ``path`` (``{column: value}``) written since it was last Z-ordered by
    ``columns``, and how many partitions it has. ``None``: the whole table (never Z-ordered by them, or that version
    is no longer readable); ``[]``: nothing new. Delta's Z-order rewrites every file it is given, even one it wrote
    itself the night before, so a nightly run over a year of days would rewrite the year; here it rewrites the days
    that changed. Found from the two snapshots' file lists (the Delta log only, no data file is read)."""
    table = DeltaTable.forPath(spark, path)
    by = json.dumps(columns)
    last = (table.history(ZORDER_HISTORY).where((F.col("operation") == "OPTIMIZE")
                                                & (F.col("operationParameters")["zOrderBy"] == by))
            .agg(F.max("version")).first()[0])
    current = set(spark.read.format("delta").load(path).inputFiles())
    partitioned = table.detail().first()["partitionColumns"]
    total = len({_partition_of(f, partitioned) for f in current}) if partitioned else 1
    if last is None:
        return None, total
    try:
        before = set(spark.read.format("delta").option("versionAsOf", last).load(path).inputFiles())
    except Exception as exc:  # noqa: BLE001  (that version's log is gone: Z-order it all, as Delta would)
        log.info("%s: version %s not readable (%s); Z-ordering every partition", path, last, str(exc).splitlines()[0])
        return None, total
    added = current - before
    if not partitioned:
        return (None if added else []), total
    return [dict(p) for p in sorted({_partition_of(f, partitioned) for f in added})], total


def _partition_of(file: str, columns: list[str]) -> tuple:
    """``((column, value), ...)`` from a data file's Hive-style folders (``.../event_date=2026-11-23/part-...``)."""
    values = {}
    for segment in file.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        if sep and unquote(key) in columns:
            values[unquote(key)] = unquote(unquote(value))  # the URI's escaping, then Hive's
    return tuple((c, values.get(c)) for c in columns)


def _trim(spark: SparkSession, cfg: Config, now: datetime) -> list[dict]:
    out = []
    tables = lakehouse_tables(cfg.lakehouse, spark)
    if T.QUARANTINE in tables:
        cutoff = now - timedelta(days=cfg.maintenance.quarantine_retention_days)
        table = DeltaTable.forPath(spark, tables[T.QUARANTINE])
        old = table.toDF().where(F.col("ingested_at") < F.lit(cutoff)).count()
        out.append(_delete(spark, cfg, T.QUARANTINE, tables[T.QUARANTINE], old,
                           lambda: table.delete(F.col("ingested_at") < F.lit(cutoff)),
                           f"{old:,} rows older than {cutoff:%Y-%m-%d}"))
    if T.LEDGER in tables:
        # a ledger row is what keeps its file from being taken again: only rows of files gone from the source go
        cutoff = now - timedelta(days=cfg.maintenance.ledger_retention_days)
        present, unlisted = set(), []
        for src in cfg.sources.values():
            try:
                present |= {f.file for f in list_files(spark, src.path, recursive=src.recursive)}
            except Exception as exc:  # noqa: BLE001  (a folder that cannot be listed now may be back tomorrow)
                unlisted.append(src.name)
                log.warning("source %s: folder %s cannot be listed (%s); its ledger rows are kept", src.name,
                            src.path, one_line(exc))
        table = DeltaTable.forPath(spark, tables[T.LEDGER])
        candidates = (table.toDF().where((F.col("ingested_at") < F.lit(cutoff)) & ~F.col("source").isin(unlisted))
                      .select("file").distinct().collect())
        gone = [r.file for r in candidates if r.file not in present]
        out.append(_delete(spark, cfg, T.LEDGER, tables[T.LEDGER], len(gone),
                           lambda: table.delete((F.col("ingested_at") < F.lit(cutoff)) & F.col("file").isin(gone)),
                           f"{len(gone):,} files older than {cutoff:%Y-%m-%d} and gone from their source"))
    if T.TRENDING_BATCH_COUNTS in tables and T.STREAM_PROGRESS in tables:
        out += _trim_batch_counts(spark, cfg, tables)
    return out


def _delete(spark: SparkSession, cfg: Config, name: str, path: str, rows: int, delete: Callable[[], object],
            what: str) -> dict:
    """Run a trim's ``delete`` of ``rows`` rows (none: nothing to do) and return its summary row (``what``). A table
    an operator made append-only (``delta.appendOnly``) keeps them, with a warning: Delta refused the DELETE, and
    maintain stopped before the tables after it."""
    if rows and append_only(spark, path):
        log.warning("%s is append-only (delta.appendOnly = true): not trimmed, %s kept", name, what)
        return {"table": name, "action": "trim", "detail": f"none: the table is append-only (delta.appendOnly), "
                                                           f"{what} kept; {unset_command(name)} lets maintain trim it"}
    if rows:
        with_conflict_retry(delete, cfg.ingest.conflict_retries, f"trim {name}")
    return {"table": name, "action": "trim", "detail": what}


def _trim_batch_counts(spark: SparkSession, cfg: Config, tables: dict[str, str]) -> list[dict]:
    """``trending_batch_counts`` gets a row per window, item and micro-batch (a 1-minute trigger: ~60 rows for each
    row of ``trending_items``), which the query reads only for the windows its next batch can touch: a batch's
    on-time events are after its watermark, which is never before the last one ``stream_progress`` recorded (the
    newest event counted minus ``trending.watermark``), and it reads the counts of windows from a window and a day
    before its earliest one. Rows of windows that started before that watermark minus a window and two days are
    read no more: deleted (a day of margin). Both are the query's own (its recorded watermark, the length of its
    windows in the table), not this config's: a nightly job may run with a config of its own."""
    last = spark.read.format("delta").load(tables[T.STREAM_PROGRESS]).agg(
        F.max("watermark").alias("watermark"), F.max("max_event_ts").alias("newest")).first()
    table = DeltaTable.forPath(spark, tables[T.TRENDING_BATCH_COUNTS])
    window = table.toDF().select(F.col("window_end").cast("long") - F.col("window_start").cast("long")).limit(1) \
        .collect()  # every window of the table has the query's length (trending.check_query_shape)
    if last["newest"] is None or not window:
        return []
    watermark = last["watermark"] or last["newest"] - timedelta(
        seconds=duration_seconds(cfg.trending.watermark, "trending.watermark"))
    cutoff = watermark - timedelta(seconds=window[0][0], days=2)
    old = table.toDF().where(F.col("window_start") < F.lit(cutoff)).count()
    return [_delete(spark, cfg, T.TRENDING_BATCH_COUNTS, tables[T.TRENDING_BATCH_COUNTS], old,
                    lambda: table.delete(F.col("window_start") < F.lit(cutoff)),
                    f"{old:,} rows of windows before {cutoff:%Y-%m-%d %H:%M} (no longer read by the trending query)")]


MODEL_FOLDER = re.compile(r"m(\d{14})")  # _models/m20261122081907: the model version, its training's time
REPORT_FOLDER = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]+")  # _quality/20261122T081735Z-ebecb91c: an ingest run's id


def _trim_folders(spark: SparkSession, cfg: Config, now: datetime) -> list[dict]:
    """Delete model artifacts (``_models/<version>/``) older than ``maintenance.model_retention_days``, never the
    published model's, and ingest runs' quality reports (``_quality/<run_id>/``) older than
    ``maintenance.quarantine_retention_days``, the age at which the quarantine rows they report on go. The age is the
    one the folder's name says (object stores keep no folder times); other folders are left alone. A training or an
    ingest running meanwhile writes a folder of now, which no retention reaches."""
    root, out = cfg.lakehouse.rstrip("/"), []

    def old_folders(folder: str, pattern: re.Pattern, fmt: str, cutoff: datetime) -> list[str]:
        names = []
        for name in subfolders(spark, f"{root}/{folder}"):
            found = pattern.fullmatch(name)
            if found and datetime.strptime(found.group(1), fmt) < cutoff:
                names.append(name)
        return names

    if exists(spark, f"{root}/_models"):
        cutoff = now - timedelta(days=cfg.maintenance.model_retention_days)
        live = current_published(spark, cfg)
        live = live["model_version"] if live else None
        old = old_folders("_models", MODEL_FOLDER, "%Y%m%d%H%M%S", cutoff)
        for name in old:
            if name != live:
                delete_tree(spark, f"{root}/_models/{name}")
        kept = live in old
        out.append({"table": "_models", "action": "trim",
                    "detail": f"{len(old) - kept} model folders older than {cutoff:%Y-%m-%d}"
                              + (f" (not the published {live})" if kept else "")})
    if exists(spark, f"{root}/_quality"):
        cutoff = now - timedelta(days=cfg.maintenance.quarantine_retention_days)
        old = old_folders("_quality", REPORT_FOLDER, "%Y%m%dT%H%M%SZ", cutoff)
        for name in old:
            delete_tree(spark, f"{root}/_quality/{name}")
        out.append({"table": "_quality", "action": "trim",
                    "detail": f"{len(old)} ingest runs' reports older than {cutoff:%Y-%m-%d}"})
    return out


def print_maintenance(summary: list[dict]) -> None:
    for s in summary:
        print(f"{s['table']:<24} {s['action']:<16} {s['detail']}")
    print(f"maintain: ok; {len(summary)} actions")
