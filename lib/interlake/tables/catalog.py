"""Catalog registration: every Delta table under the lakehouse is queryable as ``<database>.<table>``.

The Delta log is the truth; the catalog is an index of it. Registration is idempotent and repairs an entry
that points elsewhere (e.g. a test or a moved lakehouse)."""

from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def _location_of(spark: SparkSession, qualified: str) -> str | None:
    try:
        rows = spark.sql(f"DESCRIBE DETAIL {qualified}").collect()
    except Exception:  # a stale or broken entry is repaired below
        return "?"
    return rows[0]["location"] if rows else None


def register_table(spark: SparkSession, database: str, name: str, path: str) -> None:
    qualified = f"{database}.{name}"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    if spark.catalog.tableExists(qualified):
        location = _location_of(spark, qualified) or ""
        if location.removeprefix("file:").rstrip("/") == path.removeprefix("file:").rstrip("/"):
            return
        spark.sql(f"DROP TABLE IF EXISTS {qualified}")  # external table: drops the entry, never the data
    spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified} USING DELTA LOCATION '{path}'")


def lakehouse_tables(lakehouse: str) -> dict[str, str]:
    """``{table name: path}`` of every Delta table directly under a local lakehouse folder."""
    if "://" in lakehouse or not os.path.isdir(lakehouse):
        return {}
    found = {}
    for entry in sorted(os.listdir(lakehouse)):
        path = os.path.join(lakehouse, entry)
        if not entry.startswith(("_", ".")) and os.path.isdir(os.path.join(path, "_delta_log")):
            found[entry] = path
    return found


def register_lakehouse(spark: SparkSession, lakehouse: str, database: str) -> None:
    for name, path in lakehouse_tables(lakehouse).items():
        try:
            register_table(spark, database, name, path)
        except Exception as exc:  # a table that cannot be registered must not stop a job
            log.warning("could not register %s.%s at %s: %s", database, name, path, str(exc).splitlines()[0])
