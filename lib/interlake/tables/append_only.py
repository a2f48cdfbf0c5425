"""Tables an operator made append-only by hand (``delta.appendOnly``) that a job must change.

``ALTER TABLE ingest_ledger SET TBLPROPERTIES ('delta.appendOnly' = 'true')`` made every ingest run that took files
fail after its MERGE with Delta's ``DELTA_CANNOT_MODIFY_APPEND_ONLY … use 'ALTER TABLE null SET TBLPROPERTIES …'``,
which named no table. A job now checks the tables it updates, deletes from or overwrites before it writes anything,
and says which one and why in one line. ``interactions`` and ``model_runs`` may be append-only: the jobs only add to
them (ingest's MERGE inserts only; OPTIMIZE and VACUUM change no data).

    >>> refuse_append_only(spark, {T.LEDGER: (path, "ingest updates a taken file's row")})
"""

from __future__ import annotations

from collections.abc import Mapping

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from interlake.errors import ConfigError
from interlake.schemas import tables as T
from interlake.tables.quoting import delta_path

PROPERTY = "delta.appendOnly"
# The tables the jobs update, delete from or overwrite: made with appendOnly false, whatever a cluster's
# spark.databricks.delta.properties.defaults.appendOnly says (the job would refuse them at its next run)
JOB_CHANGED = frozenset({T.LEDGER, T.QUARANTINE, T.TRENDING_ITEMS, T.TRENDING_BATCH_COUNTS, T.ITEM_POPULARITY,
                         T.STREAM_PROGRESS, T.ITEM_SIMILARITY, T.USER_RECOMMENDATIONS, T.ITEM_FACTORS})


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """The properties of the Delta table at ``path`` (it must exist), as ``SHOW TBLPROPERTIES`` lists them."""
    return {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {delta_path(path)}").collect()}


def append_only(spark: SparkSession, path: str) -> bool:
    """True when the Delta table at ``path`` exists and takes appends only."""
    return (DeltaTable.isDeltaTable(spark, path)
            and table_properties(spark, path).get(PROPERTY, "false").strip().lower() == "true")


def unset_command(name: str) -> str:
    return f"`interlake sql \"ALTER TABLE {name} SET TBLPROPERTIES ('{PROPERTY}' = 'false')\"`"


def refuse_append_only(spark: SparkSession, changes: Mapping[str, tuple[str, str]]) -> None:
    """``changes``: table name -> (its path, what the job changes in it). The first of them that is append-only is a
    ConfigError naming it, why the job changes it and the command that lets it."""
    for name, (path, does) in changes.items():
        if append_only(spark, path):
            raise ConfigError(f"{name} is append-only ({PROPERTY} = true): {does}; {unset_command(name)} lets the "
                              "job change it")
