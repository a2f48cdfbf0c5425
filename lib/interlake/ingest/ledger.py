"""The ingest ledger: which files were taken, with their reconciliation, and the state of each run.

A run writes its ledger rows as ``pending`` before touching any other table and flips them to ``committed`` last.
Recovery of a dead run asks the interactions table's Delta history whether that run's MERGE committed (the MERGE
carries the run id in its commit's userMetadata): if it did, the run's ledger rows are committed; if not, the run's
quarantine and ledger rows are deleted and its files are taken again.

A take of a file that was taken before with the same size and modification time (``ingest --retake-quarantined``,
after a config fix) replaces the earlier takes' quarantine rows of that file: its records are all read again, so the
ones still bad are quarantined again under the new run id. That delete comes after the run's MERGE and carries the
run id too, so recovery also counts a run as committed when its quarantine delete landed (a retake without a valid
record has no MERGE)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.schemas import tables as T
from interlake.tables.merging import set_columns

PENDING, COMMITTED = "pending", "committed"
STATE_COLUMNS = ("file", "file_size", "file_modified", "status", "run_id", "ingested_at", "rows_quarantined")


class SourceState(NamedTuple):
    pending: list[str]  # runs that died before committing their ledger rows
    taken: dict[str, tuple[int, datetime]]  # {file: (size, modified)} of each file's latest committed take
    quarantined: frozenset[str]  # the files whose latest committed take quarantined records


def run_metadata(run_id: str) -> str:
    return json.dumps({"interlake_run_id": run_id})


def source_state(spark: SparkSession, ledger_path: str, source: str) -> SourceState:
    """One read of the ledger for ``source``."""
    rows = (spark.read.format("delta").load(ledger_path).where(F.col("source") == source)
            .select(*STATE_COLUMNS).collect())
    return state_of(rows)


def state_of(rows) -> SourceState:
    """``source_state`` of one source's ledger rows (mappings with ``STATE_COLUMNS``, timestamps naive UTC)."""
    pending = sorted({r["run_id"] for r in rows if r["status"] == PENDING})
    latest: dict[str, dict] = {}
    for r in rows:
        before = latest.get(r["file"])
        if r["status"] == COMMITTED and (before is None or r["ingested_at"] > before["ingested_at"]):
            latest[r["file"]] = r
    return SourceState(pending, {f: (r["file_size"], r["file_modified"]) for f, r in latest.items()},
                       frozenset(f for f, r in latest.items() if r["rows_quarantined"]))


def upsert_pending(spark: SparkSession, ledger_path: str, rows: list[tuple]) -> None:
    """Write (or rewrite, on a retry) this run's ledger rows as pending. ``rows`` follow LEDGER_DDL."""
    df = spark.createDataFrame(rows, T.LEDGER_DDL)
    (DeltaTable.forPath(spark, ledger_path).alias("t")
     .merge(df.alias("s"), "t.source = s.source AND t.file = s.file AND t.run_id = s.run_id")
     .whenMatchedUpdate(set=set_columns(df.columns)).whenNotMatchedInsert(values=set_columns(df.columns)).execute())


def set_status(spark: SparkSession, ledger_path: str, run_id: str, source: str, status: str) -> None:
    DeltaTable.forPath(spark, ledger_path).update(
        (F.col("run_id") == run_id) & (F.col("source") == source), {"status": F.lit(status)})


def delete_run(spark: SparkSession, ledger_path: str, run_id: str, source: str) -> None:
    DeltaTable.forPath(spark, ledger_path).delete((F.col("run_id") == run_id) & (F.col("source") == source))


def committed_in(spark: SparkSession, table_path: str, run_id: str) -> bool:
    """Did a commit tagged with ``run_id`` land in the table (the run's MERGE into interactions, its quarantine
    delete)?"""
    marker = run_metadata(run_id)
    hist = DeltaTable.forPath(spark, table_path).history().where(F.col("userMetadata") == marker)
    return hist.limit(1).count() > 0


def superseded_takes(spark: SparkSession, ledger_path: str, source: str, run_id: str) -> list[tuple[str, str]]:
    """``(file, run_id)`` of the earlier committed takes of ``source`` that ``run_id`` took again unchanged (the same
    file, size and modification time): their quarantine rows are replaced by the run's."""
    ledger = spark.read.format("delta").load(ledger_path).where(F.col("source") == source)
    mine = ledger.where(F.col("run_id") == run_id).select("file", "file_size", "file_modified")
    earlier = ledger.where((F.col("run_id") != run_id) & (F.col("status") == COMMITTED))
    return [(r["file"], r["run_id"]) for r in
            earlier.join(mine, ["file", "file_size", "file_modified"]).select("file", "run_id").distinct().collect()]
