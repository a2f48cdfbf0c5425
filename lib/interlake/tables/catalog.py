"""Catalog registration: every Delta table under the lakehouse is queryable as ``<database>.<table>`` (``database``
a schema of the session's current catalog, or ``catalog.schema``: Unity Catalog's ``main.interlake``).

The Delta log is the truth; the catalog is an index of it. Registration is idempotent and repairs an entry
that points elsewhere (e.g. a test or a moved lakehouse). Which entries exist, and where they point, is read from
the catalog alone (one ``SHOW TABLE EXTENDED``), never from the tables' Delta logs: every job registers the
lakehouse when its session starts, so this is on the path of every run, including a no-op re-run."""

from __future__ import annotations

import logging
import os
from urllib.parse import unquote

from pyspark.sql import SparkSession

from interlake.config import local_folder
from interlake.tables.quoting import sql_string
from interlake.tables.without_spark import WAREHOUSE, managed_folder

log = logging.getLogger(__name__)


def _same_location(a: str, b: str) -> bool:
    def norm(p: str) -> str:  # the catalog spells a location as a URI (file:/a%20b), a config as a path
        return unquote(p.removeprefix("file://").removeprefix("file:")).rstrip("/")

    return norm(a) == norm(b)


def registered_locations(spark: SparkSession, database: str) -> dict[str, str]:
    """``{table name: location}`` of the database's catalog entries (temporary views left out), from the
    catalog's metadata: no Delta log is read, so a lakehouse of many tables is checked in one short statement."""
    return {name: location for name, (location, _) in registered_entries(spark, database).items()}


def registered_entries(spark: SparkSession, database: str) -> dict[str, tuple[str, str]]:
    """``{table name: (location, type)}``, type ``MANAGED`` or ``EXTERNAL``, as :func:`registered_locations`."""
    out = {}
    for row in spark.sql(f"SHOW TABLE EXTENDED IN {database} LIKE '*'").collect():
        if row["isTemporary"]:
            continue
        info = dict(line.split(": ", 1) for line in (row["information"] or "").splitlines() if ": " in line)
        if "Location" in info:
            out[row["tableName"]] = (info["Location"].strip(), info.get("Type", "").strip())
    return out


def register_tables(spark: SparkSession, database: str, tables: dict[str, str]) -> None:
    """Register ``{name: path}`` as external Delta tables of ``database``: entries that already point at the
    path are left alone, external entries that point elsewhere are replaced (the entry only: never the data). A
    managed table of the same name (an analyst's ``CREATE TABLE … AS SELECT``) is never dropped: dropping it would
    delete its data; a warning says to rename it."""
    if not tables:
        return
    try:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
        current = registered_entries(spark, database)
    except Exception as exc:  # noqa: BLE001  (no such catalog, no rights on it: the jobs still run on paths)
        log.warning("could not register %s in %s: %s%s", ", ".join(tables), database, str(exc).splitlines()[0],
                    "; a database catalog.schema needs that catalog in the session (Unity Catalog on Databricks, or "
                    "spark.sql.catalog.<name>)" if "." in database else "")
        return
    for name, path in tables.items():
        qualified = f"{database}.{name}"
        try:
            if name in current:
                location, kind = current[name]
                if _same_location(location, path):
                    continue
                if kind == "MANAGED":  # DROP TABLE would delete its data
                    log.warning("%s is a table of its own (made without LOCATION, in %s), not the lakehouse's %s: it "
                                "is kept, and %s is read by its path only; rename yours (`interlake sql \"ALTER TABLE "
                                "%s RENAME TO …\"`) and the next job registers the lakehouse's by name", qualified,
                                unquote(location.removeprefix("file:")), path, path, qualified)
                    continue
                spark.sql(f"DROP TABLE IF EXISTS {qualified}")  # external table: drops the entry, never the data
            spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified} USING DELTA LOCATION {sql_string(path)}")
        except Exception as exc:  # a table that cannot be registered must not stop a job
            log.warning("could not register %s at %s: %s", qualified, path, str(exc).splitlines()[0])


def register_table(spark: SparkSession, database: str, name: str, path: str) -> None:
    register_tables(spark, database, {name: path})


def lakehouse_tables(lakehouse: str, spark: SparkSession | None = None, database: str | None = None) -> dict[str, str]:
    """``{table name: path}`` of every Delta table directly under the lakehouse: a local folder, or a URI (``s3a://``,
    ``abfss://``, ``file:``) listed through ``spark``'s Hadoop filesystem (without ``spark``, none). Before 2026-12-01
    a URI lakehouse had no tables here, so ``maintain`` on a cluster optimized and vacuumed nothing ("0 actions").

    With ``database``, a local lakehouse's managed tables of that database are taken too: the Delta tables an analyst
    made with ``CREATE TABLE … AS SELECT`` (no ``LOCATION``), which the local session's catalog keeps in
    ``<lakehouse>/_warehouse/<database>.db/<name>`` (``_warehouse/<name>`` for ``default``); a table directly under
    the lakehouse wins over a managed one of the same name (a ``file:`` URI's too: its local session's catalog is kept
    there as well)."""
    if "://" in lakehouse:
        if spark is None:
            return {}
        found = _hadoop_delta_folders(spark, lakehouse)
        if database and "." not in database and local_folder(lakehouse) is not None:
            managed = _hadoop_delta_folders(spark, f"{lakehouse.rstrip('/')}/{managed_folder(database)}")
            found.update({name: path for name, path in managed.items() if name not in found})
        return found
    found = _delta_folders(lakehouse)
    if database and "." not in database:
        managed = _delta_folders(os.path.join(lakehouse, managed_folder(database)))
        found.update({name: path for name, path in managed.items() if name not in found})
    return found


def _hadoop_delta_folders(spark: SparkSession, folder: str) -> dict[str, str]:
    from interlake.fs import exists, subfolders

    root = folder.rstrip("/")
    return {name: f"{root}/{name}" for name in subfolders(spark, root)
            if not name.startswith(("_", ".")) and exists(spark, f"{root}/{name}/_delta_log")}


def _delta_folders(folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        return {}
    found = {}
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if not entry.startswith(("_", ".")) and os.path.isdir(os.path.join(path, "_delta_log")):
            found[entry] = path
    return found


def register_lakehouse(spark: SparkSession, lakehouse: str, database: str) -> None:
    try:
        register_tables(spark, database, lakehouse_tables(lakehouse, spark, database))
        check_database_location(spark, lakehouse, database)
    except Exception as exc:  # the lakehouse cannot be listed: jobs still run on paths
        log.warning("could not register the tables of %s in %s: %s", lakehouse, database, str(exc).splitlines()[0])


def check_database_location(spark: SparkSession, lakehouse: str, database: str) -> None:
    """Warn when the lakehouse's own catalog (its ``_metastore``) keeps ``database`` somewhere else: a lakehouse
    copied or moved with its ``_metastore`` (the catalog spells locations as absolute paths), where a ``CREATE TABLE``
    without ``LOCATION`` would write into the *other* lakehouse's ``_warehouse``. Only for a session whose warehouse
    is this lakehouse's (a local one); a database of a catalog given by name is the platform's."""
    if local_folder(lakehouse) is None or "." in database or not spark.catalog.databaseExists(database):
        return
    if not _same_location(spark.conf.get("spark.sql.warehouse.dir", ""), os.path.join(lakehouse, WAREHOUSE)):
        return
    where = spark.catalog.getDatabase(database).locationUri
    if not _same_location(where, os.path.join(lakehouse, managed_folder(database))):
        log.warning("the catalog in %s keeps database %s at %s, not in this lakehouse (a lakehouse copied or moved "
                    "with its _metastore): tables made with CREATE TABLE without LOCATION would be written there; "
                    "remove the folder %s to start this lakehouse's catalog afresh (every job registers its tables "
                    "again)", os.path.join(lakehouse, "_metastore"), database,
                    unquote(where.removeprefix("file:")), os.path.join(lakehouse, "_metastore"))
