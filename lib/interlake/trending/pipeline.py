"""``interlake trending``: a Structured Streaming job scoring windowed surges, written exactly once.

Each micro-batch (``foreachBatch``), with ``b`` its batch id:
  1. parse and validate exactly as batch ingestion does; bad records -> ``interactions_quarantine`` (run id
     ``trending-b``: a replayed batch deletes and rewrites its own rows)
  2. watermark = (max event time of batches < b) - ``watermark``; events older are dropped and counted
  3. per (window, item) counts of this batch -> appended to ``trending_batch_counts``, keyed by window, item and b:
     a batch replayed after a crash first deletes its earlier attempt's rows, so it never adds them twice
  4. ``trending_items`` rows of the touched items are recomputed from the summed counts (earlier batches' from the
     table, this batch's from memory) and re-scored (see forecast.py) and MERGEd by (window_start, item_id), in the
     same MERGE as the other items' windows whose end passed the watermark (made final). The table is partitioned by
     ``window_date``, and the MERGE is bounded to the recent days it can touch: a batch never rewrites the whole table
  5. ``item_popularity`` is rewritten; a ``stream_progress`` row (keyed by b) records the batch, last: the quarantine
     and counts appends of steps 1 and 3 run in background threads next to step 4 (on two cores a Delta commit
     leaves the CPU mostly idle) and are joined before it
Only the batch an earlier run planned but did not commit (checkpoint ``offsets/b`` without ``commits/b``) can be a
replay of a batch that died half-written; it alone first deletes what its earlier attempt may have written
(quarantine, counts, progress rows of b), every other batch only appends.
The checkpoint lives under ``<lakehouse>/_checkpoints/trending``. One query per lakehouse runs at a time (a second
one waits: interlake.locks), and the writes that read their table (the MERGE, the popularity overwrite, a replay's
deletes) retry a Delta conflict, e.g. with ``interlake maintain`` compacting the tables meanwhile.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pandas as pd
from delta.tables import DeltaTable
from pyspark import InheritableThread, StorageLevel
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from interlake.config import Config, check_trending_source, duration_seconds
from interlake.errors import ConfigError, InterlakeError, SourceError, one_line
from interlake.fs import exists, is_file, read_text, small_text, write_text
from interlake.ingest.files import is_glob, list_files, missing_files, normalize_uri, source_root
from interlake.ingest.pipeline import crash_point, ensure_ingest_tables
from interlake.ingest.readers import NO_FOLDERS, Folders, queue_records
from interlake.ingest.standardize import standardize
from interlake.ingest.validate import with_reasons
from interlake.interrupts import FirstSignal
from interlake.locks import exclusive
from interlake.schemas import columns as C
from interlake.schemas import tables as T
from interlake.tables.append_only import refuse_append_only
from interlake.tables.conflicts import with_conflict_retry
from interlake.tables.interactions import check_interactions_columns, ensure_table
from interlake.tables.merging import set_columns
from interlake.trending.forecast import score_items

log = logging.getLogger(__name__)


@dataclass
class TrendingResult:
    batches: int
    input_rows: int
    dropped_late: int
    quarantined: int


def in_background(step: Callable[[], None]) -> Callable[..., None]:
    """Run ``step`` (Spark jobs) in a thread that inherits the calling thread's Spark job properties, next to
    what the caller does meanwhile: on two cores a Delta commit leaves them mostly idle. Returns ``join``,
    which waits for it and raises its error (``join(raise_error=False)`` only waits)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001  (handed to join)
            errors.append(exc)

    thread = InheritableThread(target=run, daemon=True)
    thread.start()

    def join(raise_error: bool = True) -> None:
        thread.join()
        if errors and raise_error:
            raise errors[0]

    return join


def _table(spark: SparkSession, cfg: Config, name: str, ddl: str, **layout) -> str:
    path = cfg.table_path(name)
    ensure_table(spark, path, ddl, database=cfg.database, name=name, **layout)
    return path


def stream_source(spark: SparkSession, cfg: Config) -> tuple[DataFrame, bool]:
    """The input stream and whether it still needs parsing (queue files) or is already standard (interactions)."""
    tr = cfg.trending
    if tr.source == "interactions":
        # A DELETE on interactions (a user's right to be forgotten) rewrites files: without this the stream stops for
        # good (DELTA_SOURCE_TABLE_IGNORE_CHANGES). Such commits are skipped, their windows keep the counts they had;
        # ingest's insert-only MERGEs and maintain's compactions are not change commits.
        reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
        if tr.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", tr.max_files_per_trigger)
        stream = reader.load(cfg.table_path(T.INTERACTIONS))
        check_interactions_columns(cfg.table_path(T.INTERACTIONS), stream.columns)
        return stream, False
    check_trending_source(tr, cfg.sources)
    src = cfg.sources[tr.source]
    if not is_glob(src.path) and not exists(spark, src.path):
        raise SourceError(f"trending.source {tr.source}: folder {src.path} does not exist; create it (the queue's "
                          f"dumps land there) or fix sources.{tr.source}.path")
    if not is_glob(src.path) and is_file(spark, src.path):  # ingest takes one file; Spark's file stream refuses it
        raise ConfigError(f"sources.{tr.source}.path: {src.path} is one file; the trending stream reads the queue's "
                          "dumps as they land in a folder: set the folder, or a glob of the files to read "
                          f"({src.path.rsplit('/', 1)[0] + '/' if '/' in src.path else ''}*.jsonl)")
    # Spark's file source ignores, silently and for good, a file modified more than maxFileAge (a week) before the
    # newest it has seen: a dump delivered late with its modification time kept (cp -p, rsync -a, a tar). A century:
    # every new file is read; the source keeps every file name it has read in memory, as its checkpoint already does.
    reader = spark.readStream.format("text").option("maxFileAge", "36500d")
    if src.recursive:  # the stream takes the subfolders' files as ingestion does
        reader = reader.option("recursiveFileLookup", "true")
    if src.name_filter is not None:  # and only the files whose name ingestion takes
        reader = reader.option("pathGlobFilter", src.name_filter)
    if src.line_sep is not None:  # and their lines as ingestion splits them
        reader = reader.option("lineSep", src.line_sep)
    if tr.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", tr.max_files_per_trigger)
    lines = (reader.load(src.path).where(F.trim("value") != "")
             .select(F.col("value").alias(C.RAW), F.col("_metadata.file_path").alias(C.FILE)))
    return lines, True


class BatchWriter:
    """The ``foreachBatch`` function: holds the session and settings, writes each batch idempotently."""

    def __init__(self, spark: SparkSession, cfg: Config, parse: bool, replay_batch: int | None = None,
                 checkpoint: str | None = None):
        tr = cfg.trending
        self.spark, self.cfg, self.parse = spark, cfg, parse
        self.checkpoint = checkpoint  # a queue source's: its file log says which files each batch should read
        self.src = cfg.sources.get(tr.source)
        # subfolders' files (recursiveFileLookup, a glob): a mapped field may be a name=value folder of theirs, as in
        # batch ingestion; which folders the stream's files will have is not known ahead, so every plain name may be
        self.folders = (Folders(source_root(spark, self.src.path), frozenset(self.src.read_fields.values()))
                        if parse and self.src is not None and (self.src.recursive or is_glob(self.src.path))
                        else NO_FOLDERS)
        self.window_s = int(duration_seconds(tr.window, "trending.window"))
        self.step_s = int(duration_seconds(tr.slide, "trending.slide")) if tr.slide else self.window_s
        self.delay = timedelta(seconds=duration_seconds(tr.watermark, "trending.watermark"))
        self.half_life_s = duration_seconds(tr.baseline_half_life, "trending.baseline_half_life")
        self.lookback_s = 3 * self.half_life_s
        self.period = timedelta(seconds=duration_seconds(tr.popularity_period, "trending.popularity_period"))
        if self.window_s % self.step_s:
            log.warning("trending.slide %s does not divide trending.window %s: no set of the windows tiles time, so "
                        "item_popularity's counts are estimates (the windows' sums times slide/window); a slide that "
                        "divides the window gives each event counted once", tr.slide, tr.window)
        self.paths = {
            "items": _table(spark, cfg, T.TRENDING_ITEMS, T.TRENDING_ITEMS_DDL,
                            generated=T.TRENDING_ITEMS_GENERATED, partition_by=T.TRENDING_ITEMS_PARTITION),
            "counts": _table(spark, cfg, T.TRENDING_BATCH_COUNTS, T.TRENDING_BATCH_COUNTS_DDL),
            "popularity": _table(spark, cfg, T.ITEM_POPULARITY, T.ITEM_POPULARITY_DDL),
            "progress": _table(spark, cfg, T.STREAM_PROGRESS, T.STREAM_PROGRESS_DDL),
        }
        self.totals = TrendingResult(0, 0, 0, 0)
        # tables made before window_date existed keep working, only without the partition bounds
        self.items_partitioned = "window_date" in DeltaTable.forPath(spark, self.paths["items"]).toDF().columns
        # After a restart Spark re-runs only the last uncommitted batch (see unfinished_batch): only that one may
        # find rows of an earlier attempt to remove (deletes over whole tables, so not for every batch).
        self.replay_batch = replay_batch
        self.range: tuple[int, dict] | None = None  # (batch id, event-time range up to it): see _event_time_range
        self.stopping = False  # set by stop_between_batches: no batch starts after it
        self.in_batch = False

    def _retrying(self, write: Callable[[], object], what: str) -> None:
        """A write that reads the table it changes (MERGE, DELETE, overwrite), retried on a Delta conflict: `interlake
        maintain` compacts these tables while the query runs (the bundle's nightly job next to the continuous one), and
        a compaction committed meanwhile made the batch, and so the query, fail. Appends never conflict."""
        with_conflict_retry(write, self.cfg.ingest.conflict_retries, f"trending {what}")

    def _standard(self, df: DataFrame) -> DataFrame:
        if not self.parse:
            return df.select(C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS,
                             F.array().cast("array<string>").alias(C.REASONS),
                             F.lit(None).cast("string").alias(C.RAW), F.lit(None).cast("string").alias(C.FILE),
                             F.lit(T.INTERACTIONS).alias(C.SOURCE))
        src, cfg = self.src, self.cfg
        return (queue_records(df, src, self.folders)
                .transform(standardize, type_map=src.interaction_type_map, vocabulary=cfg.vocabulary,
                           timestamp_format=src.timestamp_format, timezone=src.timezone)
                .transform(with_reasons, vocabulary=cfg.vocabulary, now=F.current_timestamp(),
                           timestamp_format=src.timestamp_format, max_id_length=cfg.ingest.max_id_length,
                           max_future_seconds=cfg.ingest.max_future_seconds,
                           min_timestamp=cfg.ingest.min_timestamp))

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self.in_batch = True
        try:
            if self.stopping:  # began as the query was being stopped: left as it is (planned, not started) to the
                raise StopRequested(STOP_REQUESTED)  # next run, which runs it first
            self._write_batch(batch, batch_id)
        finally:
            self.in_batch = False

    def _write_batch(self, batch: DataFrame, batch_id: int) -> None:
        started = time.time()
        steps: dict[str, float] = {}

        def lap(name: str) -> None:
            steps[name] = max(0.0, round(time.time() - started - sum(steps.values()), 2))  # never -0.0

        spark, cfg = self.spark, self.cfg
        if self.parse and self.checkpoint:
            self._say_gone_files(batch_id)
        # Only what later steps use is kept: the three standard values every row needs, and file, raw text and
        # reasons only for the rows quarantine takes (NULL on a valid row: a valid row is one without reasons).
        bad = F.size(C.REASONS) > 0
        rows = (self._standard(batch)
                .select(C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS,
                        *[F.when(bad, F.col(c)).alias(c) for c in (C.FILE, C.RAW, C.REASONS)])
                .persist(StorageLevel.MEMORY_AND_DISK_DESER))
        pending: list[Callable[..., None]] = []  # joins of the writes running next to the scoring (in_background)
        counts = None
        try:
            prev = self._event_time_range(batch_id)
            watermark = prev["mx"] - self.delay if prev["mx"] is not None else None
            valid = F.col(C.REASONS).isNull()
            late = valid & F.col(C.EVENT_TS).isNotNull() & (
                F.col(C.EVENT_TS) < F.lit(watermark) if watermark else F.lit(False))
            stats = rows.agg(F.count(F.lit(1)).alias("n"), F.count(F.when(~valid, 1)).alias("bad"),
                             F.count(F.when(late, 1)).alias("late"),
                             F.max(F.when(valid, F.col(C.EVENT_TS))).alias("mx"),
                             F.min(F.when(valid, F.col(C.EVENT_TS))).alias("mn"),
                             F.min(F.when(valid & ~late, F.col(C.EVENT_TS))).alias("mn_on_time")).first()
            lap("parse_s")
            run_id = f"trending-{batch_id}"
            replay = batch_id == self.replay_batch
            if replay:
                self._retrying(lambda: DeltaTable.forPath(spark, cfg.table_path(T.QUARANTINE)).delete(
                    F.col(C.RUN_ID) == run_id), "quarantine delete")
            if stats["bad"]:
                source = self.src.name if self.parse else T.INTERACTIONS
                quarantine = rows.where(~valid).select(
                    F.lit(source).alias(C.SOURCE), C.FILE, C.RAW, C.REASONS, F.lit(run_id).alias(C.RUN_ID),
                    F.current_timestamp().alias(C.INGESTED_AT))
                pending.append(in_background(
                    lambda: quarantine.write.format("delta").mode("append").save(cfg.table_path(T.QUARANTINE))))
            on_time = rows.where(valid & ~late)
            counts, written = self._count_batch(on_time, batch_id, replay)
            pending.append(written)
            lap("counts_s")
            max_ts = max([t for t in (prev["mx"], stats["mx"]) if t is not None], default=None)
            min_ts = min([t for t in (prev["mn"], stats["mn"]) if t is not None], default=None)
            new_wm = max_ts - self.delay if max_ts else None
            if stats["mx"] is not None:
                self._rescore(counts, min_ts, new_wm, lap, batch_id=batch_id, batch_min=stats["mn_on_time"],
                              old_watermark=watermark)
                self._popularity(max_ts)
                lap("popularity_s")
            while pending:  # every write of the batch is committed before its progress row
                pending.pop(0)()
            lap("writes_wait_s")
            elapsed = int((time.time() - started) * 1000)
            progress = spark.createDataFrame(
                [(batch_id, stats["n"], stats["n"] - stats["bad"] - stats["late"], stats["bad"], stats["late"],
                  stats["mn"], stats["mx"], new_wm, elapsed, datetime.now(UTC).replace(tzinfo=None))],
                T.STREAM_PROGRESS_DDL)
            if replay:  # keyed by batch id: a replayed batch replaces its earlier attempt's row
                self._retrying(lambda: DeltaTable.forPath(spark, self.paths["progress"]).delete(
                    F.col("batch_id") == batch_id), "progress delete")
            progress.write.format("delta").mode("append").save(self.paths["progress"])
        finally:
            for join in pending:  # a step failed: the writes still end before their rows are released
                join(raise_error=False)
            rows.unpersist()
            if counts is not None:
                counts.unpersist()
        self.range = (batch_id, {"mx": max_ts, "mn": min_ts})
        self.totals = TrendingResult(self.totals.batches + 1, self.totals.input_rows + stats["n"],
                                     self.totals.dropped_late + stats["late"],
                                     self.totals.quarantined + stats["bad"])
        lap("progress_s")
        log.info("trending batch %d: %s input rows, %s quarantined, %s dropped as too late, watermark %s, %.1f s (%s)",
                 batch_id, f"{stats['n']:,}", f"{stats['bad']:,}", f"{stats['late']:,}", new_wm,
                 (time.time() - started), ", ".join(f"{k.removesuffix('_s')} {v:.2f} s" for k, v in steps.items()),
                 extra={"fields": {"batch_id": batch_id, "input_rows": stats["n"], "quarantined": stats["bad"],
                                   "dropped_late": stats["late"], "watermark": str(new_wm),
                                   "processing_ms": int((time.time() - started) * 1000), **steps}})

    def _say_gone_files(self, batch_id: int) -> None:
        """Warn of the files Spark's file source planned for this batch that were no longer there when it read
        them: it skips such a file without a word (a queue's retention deleting dumps while the query was stopped or
        behind, most often a batch redone after a crash). Their events cannot be counted; the warning names them."""
        try:
            planned = batch_files(self.spark, self.checkpoint, batch_id)
            gone = sorted(missing_files(self.spark, planned)) if planned else []
        except Exception as exc:  # noqa: BLE001  (a warning's check: a log it cannot read does not fail the batch)
            log.debug("trending batch %d: its file log was not checked for gone files: %s", batch_id, one_line(exc))
            return
        if gone:
            names = ", ".join(unquote(g.rsplit("/", 1)[-1]) for g in gone[:5]) + (", …" if len(gone) > 5 else "")
            log.warning("trending batch %d: %d of the %d queue files planned for it were deleted or moved before it "
                        "read them; their events are not counted in it (is the retention of sources.%s.path shorter "
                        "than the query was stopped or behind?): %s", batch_id, len(gone), len(planned),
                        self.src.name, names,
                        extra={"fields": {"batch_id": batch_id, "gone_files": gone}})

    def _event_time_range(self, batch_id: int) -> dict:
        """Max and min valid event time of the batches before ``batch_id``: read from ``stream_progress`` once per
        query (after a restart, or when a batch is replayed), then carried from batch to batch."""
        if self.range is not None and self.range[0] == batch_id - 1:
            return self.range[1]
        return (self.spark.read.format("delta").load(self.paths["progress"]).where(F.col("batch_id") < batch_id)
                .agg(F.max("max_event_ts").alias("mx"), F.min("min_event_ts").alias("mn")).first()).asDict()

    def _count_batch(self, on_time: DataFrame, batch_id: int, replay: bool) -> tuple[DataFrame, Callable[..., None]]:
        """This batch's per-(window, item) counts, checkpointed (a few rows per item: scoring reads them instead of the
        batch's rows again), and the join of their append to ``trending_batch_counts``, which runs in the
        background: scoring takes this batch's counts from memory and only earlier batches' from the table."""
        weights = F.create_map(*[F.lit(x) for kv in self.cfg.interaction_types.items() for x in kv])
        window = F.window(C.EVENT_TS, f"{self.window_s} seconds",
                          f"{self.step_s} seconds" if self.step_s != self.window_s else None)
        counts = (on_time.groupBy(window.alias("w"), C.ITEM_ID)
                  .agg(F.count(F.lit(1)).alias("interactions"),
                       F.sum(F.element_at(weights, F.col(C.INTERACTION_TYPE))).alias("weighted"))
                  .select(F.col("w.start").alias("window_start"), F.col("w.end").alias("window_end"), C.ITEM_ID,
                          F.lit(batch_id).cast("long").alias("batch_id"), "interactions", "weighted")
                  .localCheckpoint(eager=True))
        if replay:  # a replayed batch first removes what its earlier attempt wrote, then writes the same rows again
            self._retrying(lambda: DeltaTable.forPath(self.spark, self.paths["counts"]).delete(
                F.col("batch_id") == batch_id), "counts delete")

        def write() -> None:
            counts.write.format("delta").mode("append").save(self.paths["counts"])
            crash_point(f"trending_after_counts_{batch_id}")

        return counts, in_background(write)

    def _rescore(self, this_batch: DataFrame, history_start: datetime, watermark: datetime | None, lap, *,
                 batch_id: int, batch_min: datetime | None, old_watermark: datetime | None) -> None:
        spark = self.spark
        # each touched item and its first window this batch counted (from the batch's few counts per item)
        # (an aggregate of checkpointed rows: computed once, within the one job below that checkpoints ``out``)
        touched = this_batch.groupBy(C.ITEM_ID).agg(F.min("window_start").alias("from_ts"))
        lookback = F.make_dt_interval(secs=F.lit(float(self.lookback_s + self.step_s)))
        # An item's history: windows before its first touched window (from_ts) do not change in this batch, so
        # their sums come from trending_items (one row per window, whatever number of batches counted it); the
        # touched windows and later ones are summed from trending_batch_counts (one row per window and batch) of the
        # batches before this one, and this batch's counts from memory (their append runs meanwhile). Reading only
        # these keeps the read proportional to windows, not to batches, and a replayed batch counts itself once
        # whatever its earlier attempt wrote. Summed per window by the scorer, after the one shuffle into groups.
        items = spark.read.format("delta").load(self.paths["items"])
        batch_counts = spark.read.format("delta").load(self.paths["counts"]).where(F.col("batch_id") < batch_id)
        if batch_min is not None:  # global bounds for partition pruning and file skipping (a day of slack)
            if self.items_partitioned:
                items = items.where(F.col("window_date") >= F.lit(
                    self._day_before(batch_min - timedelta(seconds=self.lookback_s + self.step_s))))
            batch_counts = batch_counts.where(
                F.col("window_start") >= F.lit(batch_min - timedelta(seconds=self.window_s, days=1)))
        settled = (items.join(F.broadcast(touched), C.ITEM_ID)
                   .where((F.col("window_start") >= F.col("from_ts") - lookback)
                          & (F.col("window_start") < F.col("from_ts")))
                   .select(C.ITEM_ID, "window_start", "from_ts", "interactions",
                           F.col("weighted_interactions").alias("weighted")))
        recent = (batch_counts.select(*this_batch.columns).unionByName(this_batch).join(F.broadcast(touched), C.ITEM_ID)
                  .where(F.col("window_start") >= F.col("from_ts"))
                  .select(C.ITEM_ID, "window_start", "from_ts", "interactions", "weighted"))
        counts = settled.unionByName(recent)
        tr, step_s, half, look = self.cfg.trending, self.step_s, self.half_life_s, self.lookback_s
        h_start = pd.Timestamp(history_start)
        min_hist = duration_seconds(tr.min_history, "trending.min_history")

        def score(pdf: pd.DataFrame) -> pd.DataFrame:
            # rows of one window from several batches are summed on the scorer's grid, the weighted counts with them
            # (carried through: no join of the scored windows back to the history, in Spark or pandas)
            return score_items(pdf, step_s=step_s, history_start=h_start, half_life_s=half, lookback_s=look,
                               threshold=tr.threshold, min_count=tr.min_count, min_history_s=min_hist,
                               carry=("weighted",))

        # items in a few hash groups, each scored in one Python call (per-item pandas calls cost ms each)
        groups = int(spark.conf.get("spark.sql.shuffle.partitions"))
        scored = (counts.withColumn("_group", F.pmod(F.xxhash64(C.ITEM_ID), F.lit(groups)))
                  .groupBy("_group").applyInPandas(
                      score, "item_id STRING, window_start TIMESTAMP, interactions BIGINT, expected DOUBLE, "
                             "score DOUBLE, is_trending BOOLEAN, weighted DOUBLE"))
        final = F.lit(False) if watermark is None else F.col("window_end") <= F.lit(watermark)
        out = (scored
               .withColumn("window_end", F.col("window_start") + F.make_dt_interval(secs=F.lit(float(self.window_s))))
               .withColumn("is_final", final).withColumn("updated_at", F.current_timestamp())
               .select("window_start", "window_end", C.ITEM_ID, "interactions", "expected", "score", "is_trending",
                       "is_final", "updated_at", F.col("weighted").alias("weighted_interactions"),
                       *([F.col("window_start").cast("date").alias("window_date")] if self.items_partitioned else [])))
        # Windows of other items whose end the watermark passed become final in the same MERGE: their rows, read
        # from the recent partitions, join the source with is_final set (one commit, not a MERGE and an UPDATE; not a
        # WHEN NOT MATCHED BY SOURCE clause either: with that clause Delta rewrites every file of the table).
        # Windows that ended before the previous watermark are final already.
        if watermark is not None:
            target = spark.read.format("delta").load(self.paths["items"])
            pending = ~F.col("is_final") & (F.col("window_end") <= F.lit(watermark))
            if self.items_partitioned and old_watermark is not None:
                pending = pending & (F.col("window_date") >= F.lit(self._day_before(old_watermark)))
            finalize = (target.where(pending).join(out.select("window_start", C.ITEM_ID),
                                                   ["window_start", C.ITEM_ID], "left_anti")
                        .withColumn("is_final", F.lit(True)).select(*out.columns))
            out = out.unionByName(finalize)
        out = out.localCheckpoint(eager=True)  # scored once, read once from the table: the MERGE scans it twice
        lap("score_s")
        try:
            # Every rescored window starts after the batch's earliest on-time event minus a window, and every window
            # to finalize ends after the previous watermark, so with this bound (a day of slack) the MERGE reads and
            # rewrites only the recent days' partitions.
            cond = "t.window_start = s.window_start AND t.item_id = s.item_id"
            bounds = ([batch_min] if batch_min is not None else []) + ([old_watermark] if watermark is not None else [])
            if self.items_partitioned and bounds and None not in bounds:  # None: unbounded (first batch of a query)
                cond += f" AND t.window_date >= DATE'{self._day_before(min(bounds)).isoformat()}'"
            self._retrying(lambda: DeltaTable.forPath(spark, self.paths["items"]).alias("t").merge(out.alias("s"), cond)
                           .whenMatchedUpdate(set=set_columns(out.columns))
                           .whenNotMatchedInsert(values=set_columns(out.columns)).execute(), "trending_items MERGE")
            lap("items_merge_s")
            crash_point(f"trending_after_items_{batch_id}")
        finally:  # a continuous query must not pile up a batch's checkpointed blocks
            out.unpersist()

    def _day_before(self, t: datetime):
        """A lower bound of ``window_date`` for windows ending after ``t`` (a day of slack for time zones)."""
        return (t - timedelta(seconds=self.window_s, days=1)).date()

    def _popularity(self, as_of: datetime) -> None:
        """Each item's interactions in the windows that end within ``popularity_period`` of ``as_of``, each event once.

        Sliding windows overlap: an event is in window/slide of them, and summing them all counted it that often
        (before 2026-12-06: 4 times with `window: 2 hours, slide: 30 minutes`). When the slide divides the window, the
        windows starting on a multiple of the window's length tile time, and only those are summed; otherwise no set
        of windows does, and the sum is scaled by slide/window (an estimate, warned of when the query starts)."""
        recent = (self.spark.read.format("delta").load(self.paths["items"])
                  .where(F.col("window_end") > F.lit(as_of - self.period)))
        if self.items_partitioned:
            recent = recent.where(F.col("window_date") >= F.lit(self._day_before(as_of - self.period)))
        interactions, weighted = F.sum("interactions"), F.sum("weighted_interactions")
        if self.step_s != self.window_s and self.window_s % self.step_s == 0:
            recent = recent.where(F.unix_timestamp("window_start") % self.window_s == 0)  # epoch-aligned, as Spark's
        elif self.step_s != self.window_s:
            share = self.step_s / self.window_s
            interactions, weighted = F.round(interactions * share).cast("bigint"), weighted * share
        w = Window.orderBy(F.desc("weighted_score"), F.desc("interactions"), C.ITEM_ID)
        pop = (recent.groupBy(C.ITEM_ID).agg(interactions.alias("interactions"), weighted.alias("weighted_score"))
               .withColumn("rank", F.row_number().over(w).cast("int"))
               .withColumn("as_of", F.lit(as_of).cast("timestamp")))
        self._retrying(lambda: pop.write.format("delta").mode("overwrite").save(self.paths["popularity"]),
                       "item_popularity overwrite")


def batch_files(spark: SparkSession, checkpoint: str, batch_id: int) -> list[str]:
    """The files a queue source's stream planned for batch ``batch_id``, from its checkpoint's file log
    (``sources/0/<id>``, or every tenth batch the ``<id>.compact`` file that holds all earlier ones too)."""
    folder = f"{checkpoint}/sources/0"
    text = small_text(spark, f"{folder}/{batch_id}")
    if text is None:
        text = small_text(spark, f"{folder}/{batch_id}.compact") or ""
    entries = [json.loads(line) for line in text.splitlines()[1:] if line.strip()]  # after the version line
    return [e["path"] for e in entries if e.get("batchId") == batch_id]


def unfinished_batch(spark: SparkSession, checkpoint: str) -> int | None:
    """The batch an earlier run of the query planned (``offsets/<b>``, written before the batch runs) but did not
    commit (``commits/<b>``): the one a restart runs again, whose half-written rows must go first. None for a new
    query or one that stopped cleanly."""
    pending = _batch_ids(spark, checkpoint, "offsets") - _batch_ids(spark, checkpoint, "commits")
    return max(pending) if pending else None


def _batch_ids(spark: SparkSession, checkpoint: str, sub: str) -> set[int]:
    """The batch ids a checkpoint's ``offsets`` or ``commits`` folder has files for."""
    folder = f"{checkpoint}/{sub}"
    if not exists(spark, folder):
        return set()
    names = (f.file.rstrip("/").rsplit("/", 1)[-1] for f in list_files(spark, folder))
    return {int(n) for n in names if n.isdigit()}


START_OVER = ("remove the checkpoint and the tables trending_items, trending_batch_counts, item_popularity and "
              "stream_progress, which are then counted again from the source")


def check_query_shape(spark: SparkSession, cfg: Config, checkpoint: str) -> None:
    """The settings a checkpoint cannot outlive: its kind of source (the Delta table or a folder of files: read from
    its latest offsets), a queue source's folder (from a file its file log names) and its windows (``trending_items``
    holds one length of window: kept beside the checkpoint); and its tables (``check_checkpoint_and_tables``).
    A query started with others is a one-line error saying how to start over, where Spark failed with
    ``MappingException: No usable value for logOffset`` (another kind of source) or the tables mixed windows of two
    lengths. Windows of a checkpoint older than the record (2026-12-01) are taken to match."""
    tr = cfg.trending
    shape = {"source": "the interactions table" if tr.source == T.INTERACTIONS else "a folder of queue dumps",
             "window": tr.window, "slide": tr.slide or tr.window}
    record, offsets = f"{checkpoint}.json", _batch_ids(spark, checkpoint, "offsets")
    check_checkpoint_and_tables(spark, cfg, checkpoint, offsets)
    before = json.loads(read_text(spark, record)) if offsets and exists(spark, record) else {}
    if offsets:
        last = read_text(spark, f"{checkpoint}/offsets/{max(offsets)}").strip().splitlines()[-1]
        before["source"] = "the interactions table" if "reservoirId" in last else "a folder of queue dumps"
        if "reservoirId" in last and tr.source == T.INTERACTIONS:
            check_same_table(spark, cfg, checkpoint, json.loads(last)["reservoirId"])
    for key, value in shape.items():
        if key in before and (before[key] != value if key == "source" else
                              duration_seconds(before[key], key) != duration_seconds(value, key)):
            what = {"source": f"reads {before[key]}, and this config's source {tr.source!r} is {value}",
                    "window": f"counts windows of {before[key]!r}, and this config says {value!r}",
                    "slide": f"counts windows sliding by {before[key]!r}, and this config says {value!r}"}[key]
            raise ConfigError(f"trending.{key}: the query's checkpoint ({checkpoint}) {what}; a running count cannot "
                              "switch: set it back, or start over: " + START_OVER)
    read = _file_read(spark, checkpoint) if offsets and tr.source != T.INTERACTIONS else None
    folder = source_root(spark, cfg.sources[tr.source].path) if read else None
    if read and not normalize_uri(read).startswith(folder + "/"):
        raise ConfigError(
            f"sources.{tr.source}.path: the trending query's checkpoint ({checkpoint}) read the queue dumps of "
            f"{normalize_uri(read).rsplit('/', 1)[0]}, and this config's folder is {folder}; a running count cannot "
            "switch folders (Spark fails on the dumps it read, and those of the new folder would be counted as new): "
            "set it back, or start over: " + START_OVER.replace("the source", "the new folder"))
    if not offsets or not exists(spark, record):
        write_text(spark, record, json.dumps(shape))


def check_same_table(spark: SparkSession, cfg: Config, checkpoint: str, read_id: str) -> None:
    """A query over ``interactions`` goes on only over the table it read: one deleted and created again (e.g. to
    re-ingest everything) has another id, and Delta failed the query with ``DIFFERENT_DELTA_TABLE_READ_BY_STREAMING_
    SOURCE``, whose first line said neither why nor what to do."""
    now = DeltaTable.forPath(spark, cfg.table_path(T.INTERACTIONS)).detail().first()["id"]
    if now != read_id:
        raise ConfigError(
            f"trending: the table interactions was created again (its id is {now}; the query's checkpoint "
            f"({checkpoint}) read the table of id {read_id}): a running count cannot go on over another table. "
            "Put the old table back, or start over: " + START_OVER)


def check_checkpoint_and_tables(spark: SparkSession, cfg: Config, checkpoint: str, offsets: set[int]) -> None:
    """The checkpoint and the tables are one state: a query started with one of them removed by hand is a one-line
    error. Without its checkpoint (Spark's usual advice to restart a stream) a query numbers its batches from 0
    again, and its counts went into ``trending_batch_counts`` beside the earlier batches' of the same ids (every count
    after it wrong); without its tables it went on from the checkpoint and the tables lacked every window counted
    before (the forecasts too)."""
    def has_table(name: str) -> bool:
        return exists(spark, cfg.table_path(name) + "/_delta_log")

    if not offsets:
        kept = next((name for name in (T.STREAM_PROGRESS, T.TRENDING_BATCH_COUNTS, T.TRENDING_ITEMS)
                     if has_table(name) and not spark.read.format("delta").load(cfg.table_path(name)).isEmpty()), None)
        if kept:
            raise ConfigError(
                f"trending: the table {kept} holds what a trending query counted, and its checkpoint ({checkpoint}) "
                "is gone: a new query would count from the start beside it. Put the checkpoint back, or start over: "
                + START_OVER)
    elif _batch_ids(spark, checkpoint, "commits") and not has_table(T.STREAM_PROGRESS):
        raise ConfigError(
            f"trending: the query's checkpoint ({checkpoint}) has counted micro-batches, and the table stream_progress "
            "is gone: the query would go on from the checkpoint, and the tables would lack every window counted "
            "before. Put the tables back, or start over: " + START_OVER)


def _file_read(spark: SparkSession, checkpoint: str) -> str | None:
    """A file a query over a folder has read, from its checkpoint's file source log (``sources/0/<batch>`` and
    ``.compact`` files of JSON lines with each file's ``path``): the newest log file that names one, or None."""
    folder = f"{checkpoint}/sources/0"
    if not exists(spark, folder):
        return None
    logs = [f.file for f in list_files(spark, folder) if f.file.rsplit("/", 1)[-1].split(".")[0].isdigit()]
    for uri in sorted(logs, key=lambda u: int(u.rsplit("/", 1)[-1].split(".")[0]), reverse=True)[:3]:
        for line in read_text(spark, uri).splitlines():
            if line.startswith("{") and '"path"' in line:
                return json.loads(line)["path"]
    return None


def run_trending(spark: SparkSession, cfg: Config, *, once: bool = False, timeout_s: float | None = None,
                 stop_event: threading.Event | None = None) -> TrendingResult:
    """Run the trending query: ``once`` processes what is there and stops; otherwise until SIGTERM / Ctrl-C,
    ``timeout_s`` or ``stop_event`` (for callers embedding the job, e.g. a notebook or a benchmark)."""
    # One query per lakehouse at a time: a second one would take the first one's batch in progress for a crashed
    # one and undo its rows (unfinished_batch). It waits for the first to stop (interlake.locks).
    with exclusive(cfg.lakehouse, "trending", wait=cfg.trending.lock_timeout, setting="trending.lock_timeout",
                   what="trending"):
        return _run_query(spark, cfg, once=once, timeout_s=timeout_s, stop_event=stop_event)


def stop_handler(terminated: threading.Event) -> Callable[[int, object], None]:
    """The trending query's SIGTERM and Ctrl-C handler: the first signal sets ``terminated`` (the query stops after
    the batch in progress) and says so in one line; SIGTERM again changes nothing (``timeout`` sends it to the
    process and then to its group), Ctrl-C again stops at once (the next run redoes that batch)."""
    once = FirstSignal()

    def on_signal(signum, frame):
        if once.again(signum):
            return
        terminated.set()
        log.info("%s: stopping the trending query after the current batch%s",
                 "SIGTERM" if signum == signal.SIGTERM else "interrupted",
                 " (Ctrl-C again to stop at once)" if signum == signal.SIGINT else "")

    return on_signal


def _run_query(spark: SparkSession, cfg: Config, *, once: bool, timeout_s: float | None,
               stop_event: threading.Event | None) -> TrendingResult:
    # SIGTERM and Ctrl-C stop the query cleanly from here on, after the batch in progress, also while it is being
    # set up (a scheduler stops a job at any moment); a second Ctrl-C at once (the next run redoes that batch).
    # Before (waiting for the lock) nothing is written yet, and either ends the process as usual.
    terminated = threading.Event()
    main_thread = threading.current_thread() is threading.main_thread()  # signals can be caught there only
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}

    for s in previous:
        signal.signal(s, stop_handler(terminated))
    try:
        # quarantine, and interactions for the Delta source only: a queue source's query never reads it
        ensure_ingest_tables(spark, cfg, interactions=cfg.trending.source == T.INTERACTIONS, ledger=False)
        checkpoint = checkpoint_path(cfg)
        redone = "a micro-batch redone after a restart deletes its earlier "
        refuse_append_only(spark, {
            T.TRENDING_ITEMS: (cfg.table_path(T.TRENDING_ITEMS), "each micro-batch updates its windows' counts and "
                               "surge scores (a MERGE)"),
            T.ITEM_POPULARITY: (cfg.table_path(T.ITEM_POPULARITY), "each micro-batch rewrites it"),
            T.TRENDING_BATCH_COUNTS: (cfg.table_path(T.TRENDING_BATCH_COUNTS), redone + "rows"),
            T.STREAM_PROGRESS: (cfg.table_path(T.STREAM_PROGRESS), redone + "row"),
            T.QUARANTINE: (cfg.table_path(T.QUARANTINE), redone + "quarantine rows")})
        # in milliseconds: Spark's own parse refuses a fraction of a minute or an hour ('1.5 minutes'), which the
        # config takes as a duration as it takes every other one
        every_ms = round(duration_seconds(cfg.trending.trigger, "trending.trigger") * 1000)
        done = TrendingResult(0, 0, 0, 0)  # the batches of queries restarted after a schema change
        for restarts in range(MAX_SCHEMA_RESTARTS + 1):
            # read again at each start: a query reads the table's schema when it starts
            stream, parse = stream_source(spark, cfg)
            check_query_shape(spark, cfg, checkpoint)
            writer = BatchWriter(spark, cfg, parse, replay_batch=unfinished_batch(spark, checkpoint),
                                 checkpoint=checkpoint)
            if terminated.is_set():
                return _sum(done, writer.totals)
            query = stream.writeStream.foreachBatch(writer).option("checkpointLocation", checkpoint).queryName(
                "interlake_trending")
            query = (query.trigger(availableNow=True) if once
                     else query.trigger(processingTime=f"{every_ms} milliseconds"))
            running = query.start()
            try:
                deadline = time.time() + timeout_s if timeout_s else None
                while not running.awaitTermination(1):
                    if (terminated.is_set() or (stop_event is not None and stop_event.is_set())
                            or (deadline and time.time() >= deadline)):
                        stop_between_batches(running, writer)
                        break
            except StreamingQueryException as exc:
                gone = vacuumed_unread_file(cfg, str(exc))
                if gone is not None:
                    raise InterlakeError(start_over_line(gone, checkpoint)) from exc
                version = schema_changed(cfg, str(exc))
                if version is None or restarts == MAX_SCHEMA_RESTARTS:
                    raise
                log.info("trending: interactions' schema changed in version %s (an ALTER TABLE); restarting the "
                         "query, which reads the new schema", version)
                done = _sum(done, writer.totals)
                continue
            finally:
                if running.isActive:
                    running.stop()
            break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if running.exception() and not stopped_on_request(running.exception()):
        said = str(running.exception())
        if (gone := vacuumed_unread_file(cfg, said)) is not None:
            raise InterlakeError(start_over_line(gone, checkpoint))
        raise RuntimeError(said.splitlines()[0])
    return _sum(done, writer.totals)


# A Delta source stops its query at a change of the table's schema (a column an analyst added to interactions:
# "Detected schema change in version 6 ... Please try restarting the query"); the job restarts it this many times
MAX_SCHEMA_RESTARTS = 20


def schema_changed(cfg: Config, said: str) -> str | None:
    """The ``interactions`` version whose schema change stopped a query over the table (Delta's
    ``DELTA_SCHEMA_CHANGED_WITH_VERSION``; ``?`` when Delta names none), or None for any other error."""
    if cfg.trending.source != T.INTERACTIONS:
        return None
    found = re.search(r"\[DELTA_SCHEMA_CHANGED(?:_WITH_VERSION|_WITH_STARTING_OPTIONS)?\](?:[^\n]*?version (\d+))?",
                      said)
    return None if found is None else (found.group(1) or "?")


def _sum(a: TrendingResult, b: TrendingResult) -> TrendingResult:
    return TrendingResult(a.batches + b.batches, a.input_rows + b.input_rows, a.dropped_late + b.dropped_late,
                          a.quarantined + b.quarantined)


def start_over_line(gone: str, checkpoint: str) -> str:
    return (f"trending: the interactions data file {gone} is gone: a VACUUM deleted it before this query read it (the "
            "query was behind, stopped or slow, and an OPTIMIZE had compacted the file), so the query cannot go on "
            f"from its checkpoint. Start over: remove the checkpoint ({checkpoint}) and the tables trending_items, "
            "trending_batch_counts, item_popularity and stream_progress, which are then counted again from "
            "interactions as it is now (`interlake maintain` keeps such files while a query is behind; a VACUUM run "
            "otherwise does not)")


def checkpoint_path(cfg: Config) -> str:
    return f"{cfg.lakehouse.rstrip('/')}/_checkpoints/trending"


def vacuumed_unread_file(cfg: Config, said: str) -> str | None:
    """The ``interactions`` data file a query over the table failed to find (Spark's ``FAILED_READ_FILE.
    FILE_NOT_EXIST``), or None for any other error."""
    if cfg.trending.source != T.INTERACTIONS:
        return None
    found = re.search(r"FILE_NOT_EXIST\] Encountered error while reading file (.+?)\. File does not exist", said)
    table = cfg.table_path(T.INTERACTIONS).split(":", 1)[-1].lstrip("/") + "/"
    if found and (table in found.group(1) or table in unquote(found.group(1))):
        return found.group(1)
    return None


def delta_source_version(spark: SparkSession, checkpoint: str) -> int | None:
    """The ``interactions`` version a query over the table goes on from when it (re)starts: the end of its last
    committed micro-batch (for a query that committed none, its first batch's, the snapshot it starts with). It
    still needs every data file added after that version, and for a first batch the files of that snapshot: all
    of them removed, if at all, by a later commit. None: no checkpoint, or a query over a folder of files."""
    offsets = _batch_ids(spark, checkpoint, "offsets")
    if not offsets:
        return None
    done = _batch_ids(spark, checkpoint, "commits") & offsets
    last = read_text(spark, f"{checkpoint}/offsets/{max(done) if done else min(offsets)}").strip().splitlines()[-1]
    return int(json.loads(last)["reservoirVersion"]) if "reservoirId" in last else None


STOP_REQUESTED = "interlake: the trending query is stopping; this micro-batch is left to the next run"


class StopRequested(Exception):
    """Raised by a micro-batch that began after the stop was asked for, before it does anything."""


class _NotStopRequested(logging.Filter):
    """py4j logs a ``foreachBatch`` function's exception with its traceback; ``StopRequested`` is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StopRequested))


logging.getLogger("py4j.clientserver").addFilter(_NotStopRequested())


def stop_between_batches(running, writer: BatchWriter, poll_s: float = 0.05) -> None:
    """Stop the query when no micro-batch is in progress. ``StreamingQuery.stop()`` interrupts the query's thread,
    and a ``foreachBatch`` function's calls to the JVM run on that thread: inside a batch the stop cancelled the
    batch's own jobs and Delta writes half-way (the next run redid the batch, but the stop printed a thousand lines
    of the JVM's stack traces, among them a ``StackOverflowError``). So: no batch starts from now on (one that
    begins raises ``StopRequested`` before any work, and the query ends with it, that batch planned and not run),
    the batch in progress ends, then the query is stopped while it waits for its next trigger or plans one."""
    writer.stopping = True
    try:
        while running.isActive and (writer.in_batch or running.status["isTriggerActive"]):
            running.awaitTermination(poll_s)  # a batch in progress, or committing, or the next one planned (raises)
    except StreamingQueryException as exc:
        if not stopped_on_request(exc):
            raise
    running.stop()


def stopped_on_request(exc) -> bool:
    return exc is not None and STOP_REQUESTED in str(exc)


def print_trending_summary(spark: SparkSession, cfg: Config, result: TrendingResult) -> None:
    batches = f"{result.batches} micro-batch" + ("" if result.batches == 1 else "es")
    print(f"trending: {batches}, {result.input_rows:,} input rows, "
          f"{result.quarantined:,} quarantined, {result.dropped_late:,} dropped as too late")
    items = spark.read.format("delta").load(cfg.table_path(T.TRENDING_ITEMS))
    top = items.where("is_trending").orderBy(F.desc("window_start"), F.desc("score")).limit(cfg.trending.top_n)
    rows = top.collect()
    if rows:
        print("trending windows (newest first):")
        for r in rows:
            print(f"  {r.window_start:%Y-%m-%d %H:%M}  {r.item_id:<12} {r.interactions:>6,} "
                  f"interaction{'s' if r.interactions != 1 else ''}, expected {r.expected:7.1f}, score {r.score:6.1f}")
    else:
        print("no trending items")
    pop = spark.read.format("delta").load(cfg.table_path(T.ITEM_POPULARITY)).orderBy("rank").limit(
        cfg.trending.top_n).collect()
    if pop:
        print(f"most popular items (as of {pop[0].as_of:%Y-%m-%d %H:%M}, last {cfg.trending.popularity_period}):")
        for r in pop:
            print(f"  {r.rank:>2}. {r.item_id:<12} {r.interactions:>7,} "
                  f"interaction{'s' if r.interactions != 1 else ''}, "
                  f"weighted {r.weighted_score:,.0f}")
