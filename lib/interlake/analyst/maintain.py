"""``interlake maintain``: OPTIMIZE (Z-order on the columns readers filter by), VACUUM with the configured retention
(never below Delta's 7-day safety default unless ``--force``), and retention trimming of quarantine and ledger rows.
Safe to run twice: a second run finds nothing to compact, vacuum or trim. Safe next to running jobs: its commits and
theirs retry a Delta conflict."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.config import Config
from interlake.errors import ConfigError
from interlake.ingest.files import list_files
from interlake.log import progress
from interlake.schemas import tables as T
from interlake.tables.catalog import lakehouse_tables
from interlake.tables.conflicts import with_conflict_retry

log = logging.getLogger(__name__)
SAFE_RETENTION_HOURS = 168.0
ZORDER = {T.INTERACTIONS: ["item_id"], T.ITEM_SIMILARITY: ["item_id"], T.USER_RECOMMENDATIONS: ["user_id"],
          T.TRENDING_ITEMS: ["item_id"], T.ITEM_FACTORS: ["item_id"]}


def maintain(spark: SparkSession, cfg: Config, *, force: bool = False, now: datetime | None = None) -> list[dict]:
    hours = cfg.maintenance.vacuum_retention_hours
    if hours < SAFE_RETENTION_HOURS and not force:
        raise ConfigError(
            f"maintenance.vacuum_retention_hours: {hours:g} is below Delta's safety default of 168 hours (readers and "
            "time travel may still need those files); raise it, or pass --force if you are sure")
    now = now or datetime.now(UTC).replace(tzinfo=None)
    summary = []
    summary += _trim(spark, cfg, now)
    for name, path in lakehouse_tables(cfg.lakehouse).items():
        m = optimize_table(spark, cfg, name, path)
        table = DeltaTable.forPath(spark, path)
        progress(log, "optimized", table=name, files_removed=m["numFilesRemoved"], files_added=m["numFilesAdded"])
        if force:
            spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        try:
            table.vacuum(hours)
        finally:
            spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
        summary.append({"table": name, "action": "optimize+vacuum",
                        "detail": f"files {m['numFilesRemoved']} -> {m['numFilesAdded']}"
                                  f"{' (z-order ' + ', '.join(ZORDER[name]) + ')' if name in ZORDER else ''}; "
                                  f"vacuum retention {hours:g}h"})
    return summary


def optimize_table(spark: SparkSession, cfg: Config, name: str, path: str) -> dict:
    """OPTIMIZE one table (Z-ordered where ``ZORDER`` says); its metrics. The jobs may write the table meanwhile (the
    trending query runs on through the nightly maintenance): a commit that conflicts makes it plan again."""
    def optimize():
        opt = DeltaTable.forPath(spark, path).optimize()
        return (opt.executeZOrderBy(*ZORDER[name]) if name in ZORDER else opt.executeCompaction()).first()

    return with_conflict_retry(optimize, cfg.ingest.conflict_retries, f"optimize {name}")["metrics"]


def _trim(spark: SparkSession, cfg: Config, now: datetime) -> list[dict]:
    out = []
    tables = lakehouse_tables(cfg.lakehouse)
    if T.QUARANTINE in tables:
        cutoff = now - timedelta(days=cfg.maintenance.quarantine_retention_days)
        table = DeltaTable.forPath(spark, tables[T.QUARANTINE])
        old = table.toDF().where(F.col("ingested_at") < F.lit(cutoff)).count()
        if old:
            with_conflict_retry(lambda: table.delete(F.col("ingested_at") < F.lit(cutoff)),
                                cfg.ingest.conflict_retries, "trim quarantine")
        out.append({"table": T.QUARANTINE, "action": "trim", "detail": f"{old} rows older than {cutoff:%Y-%m-%d}"})
    if T.LEDGER in tables:
        # a ledger row is what keeps its file from being taken again: only rows of files gone from the source go
        cutoff = now - timedelta(days=cfg.maintenance.ledger_retention_days)
        present = set()
        for src in cfg.sources.values():
            try:
                present |= {f.file for f in list_files(spark, src.path)}
            except Exception:  # a source folder that is gone: none of its files is present
                log.info("source %s: folder %s not readable, its files count as gone", src.name, src.path)
        table = DeltaTable.forPath(spark, tables[T.LEDGER])
        candidates = table.toDF().where(F.col("ingested_at") < F.lit(cutoff)).select("file").distinct().collect()
        gone = [r.file for r in candidates if r.file not in present]
        if gone:
            with_conflict_retry(lambda: table.delete((F.col("ingested_at") < F.lit(cutoff)) & F.col("file").isin(gone)),
                                cfg.ingest.conflict_retries, "trim ledger")
        out.append({"table": T.LEDGER, "action": "trim",
                    "detail": f"{len(gone)} files older than {cutoff:%Y-%m-%d} and gone from their source"})
    return out


def print_maintenance(summary: list[dict]) -> None:
    for s in summary:
        print(f"{s['table']:<24} {s['action']:<16} {s['detail']}")
    print(f"maintain: ok; {len(summary)} actions")
