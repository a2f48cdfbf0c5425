"""The ingest ledger: which files were taken, with their reconciliation, and the state of each run.

A run writes its ledger rows as ``pending`` before touching any other table and flips them to ``committed`` last.
Recovery of a dead run asks the interactions table's Delta history whether that run's MERGE committed (the MERGE
carries the run id in its commit's userMetadata): if it did, the run's ledger rows are committed; if not, the run's
quarantine and ledger rows are deleted and its files are taken again."""

from __future__ import annotations

import json
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.schemas import tables as T

PENDING, COMMITTED = "pending", "committed"
STATE_COLUMNS = ("file", "file_size", "file_modified", "status", "run_id", "ingested_at")


def run_metadata(run_id: str) -> str:
    return json.dumps({"interlake_run_id": run_id})


def source_state(spark: SparkSession, ledger_path: str, source: str
                 ) -> tuple[list[str], dict[str, tuple[int, datetime]]]:
    """One read of the ledger for ``source``: (runs still pending, ``{file: (size, modified)}`` of the latest
    committed take of each file)."""
    rows = (spark.read.format("delta").load(ledger_path).where(F.col("source") == source)
            .select(*STATE_COLUMNS).collect())
    return state_of(rows)


def state_of(rows) -> tuple[list[str], dict[str, tuple[int, datetime]]]:
    """``source_state`` of one source's ledger rows (mappings with ``STATE_COLUMNS``, timestamps naive UTC)."""
    pending = sorted({r["run_id"] for r in rows if r["status"] == PENDING})
    latest: dict[str, tuple] = {}
    for r in rows:
        if r["status"] == COMMITTED and (r["file"] not in latest or r["ingested_at"] > latest[r["file"]][2]):
            latest[r["file"]] = (r["file_size"], r["file_modified"], r["ingested_at"])
    return pending, {f: (size, modified) for f, (size, modified, _) in latest.items()}


def upsert_pending(spark: SparkSession, ledger_path: str, rows: list[tuple]) -> None:
    """Write (or rewrite, on a retry) this run's ledger rows as pending. ``rows`` follow LEDGER_DDL."""
    df = spark.createDataFrame(rows, T.LEDGER_DDL)
    (DeltaTable.forPath(spark, ledger_path).alias("t")
     .merge(df.alias("s"), "t.source = s.source AND t.file = s.file AND t.run_id = s.run_id")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())


def set_status(spark: SparkSession, ledger_path: str, run_id: str, source: str, status: str) -> None:
    DeltaTable.forPath(spark, ledger_path).update(
        (F.col("run_id") == run_id) & (F.col("source") == source), {"status": F.lit(status)})


def delete_run(spark: SparkSession, ledger_path: str, run_id: str, source: str) -> None:
    DeltaTable.forPath(spark, ledger_path).delete((F.col("run_id") == run_id) & (F.col("source") == source))


def merge_committed(spark: SparkSession, interactions_path: str, run_id: str) -> bool:
    """Did a commit tagged with ``run_id`` land in the interactions table?"""
    marker = run_metadata(run_id)
    hist = DeltaTable.forPath(spark, interactions_path).history().where(F.col("userMetadata") == marker)
    return hist.limit(1).count() > 0
