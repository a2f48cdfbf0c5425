"""Reading a Delta table without Spark: delta-rs reads the log, pyarrow reads the data files.

delta-rs' own scan (``DeltaTable.to_pyarrow_table``, a dataset on its Rust filesystem) aborts the Python process when
it exits in some runs ("terminate called without an active exception", delta-rs #2184): measured here in 3 of 20
runs reading ``trending_items`` and 19 of 25 reading ``ingest_ledger``, though the rows were read right. A script or
a schedule then sees exit code 134. For a local table the same dataset (delta-rs' file list, partition values and
schema) is read through pyarrow's own local filesystem: 0 aborts in 140 runs, the same rows.

Example:
    >>> to_arrow(DeltaTable("/lake/interactions"), "/lake/interactions", columns=["user_id"])
"""

from __future__ import annotations

from interlake.tables.quoting import spelled_name

# A local lakehouse's folder of managed tables (the local session's spark.sql.warehouse.dir): a database's tables made
# without a LOCATION (an analyst's CREATE TABLE … AS SELECT) are in <lakehouse>/_warehouse/<database>.db/<name>.
WAREHOUSE = "_warehouse"


def managed_folder(database: str) -> str:
    """Where, relative to a local lakehouse, the catalog keeps ``database``'s managed tables (Spark's layout:
    ``default`` in the warehouse itself, any other database in ``<name>.db``)."""
    return WAREHOUSE if database == "default" else f"{WAREHOUSE}/{database}.db"


def to_arrow(table, uri: str, columns: list[str] | None = None, where=None):
    """``table`` (a ``deltalake.DeltaTable`` opened at ``uri``) as a pyarrow Table, its ``columns`` (all if None),
    the rows matching ``where`` (a ``pyarrow.compute`` expression; files of other partitions are not read)."""
    if "://" in uri:  # object storage: delta-rs' filesystem is the one that has the credentials
        return table.to_pyarrow_table(columns=columns, filters=where)
    return local_dataset(table, uri).to_table(columns=columns, filter=where)


def local_dataset(table, path: str):
    """The pyarrow dataset of ``table`` (a ``deltalake.DeltaTable`` of the local ``path``): delta-rs' file list,
    partition values and schema, its files read through pyarrow's local filesystem (see the module's note)."""
    import pyarrow.fs as pafs

    return table.to_pyarrow_dataset(
        filesystem=pafs.SubTreeFileSystem(path.removeprefix("file:"), pafs.LocalFileSystem()))


def files_are_rows(table) -> bool:
    """Whether the data files of ``table`` (a ``deltalake.DeltaTable``) alone are its rows and columns: not with
    deletion vectors (rows deleted without rewriting their file), column mapping (files name columns otherwise) or
    any other reader feature (v2 checkpoints, type widening …)."""
    return not_plain(table) is None


# Reader features under which the data files still are the rows as they are: a TIMESTAMP_NTZ column is a Parquet
# timestamp without a zone, which delta-rs and pyarrow read as Spark shows it (an analyst's table with one was
# skipped by DuckDB before 2026-12-07).
PLAIN_READER_FEATURES = frozenset({"timestampNtz"})
# Reader features Delta 4.4 drops in one `ALTER TABLE … DROP FEATURE` (the files rewritten as plain ones, the table
# keeping a `checkpointProtection` writer feature readers need nothing for), each checked by hand on 2026-12-07.
DROPPABLE = frozenset({"columnMapping", "deletionVectors", "typeWidening", "v2Checkpoint", "vacuumProtocolCheck"})


def not_plain(table) -> str | None:
    """Why the data files of ``table`` (a ``deltalake.DeltaTable``) are not its rows as they are (None when they
    are), in words for a message: ``"column mapping (name)"``, ``"reader features v2Checkpoint"``."""
    protocol, meta = table.protocol(), table.metadata()
    mapping = meta.configuration.get("delta.columnMapping.mode", "none")
    if mapping != "none":
        return f"column mapping ({mapping})"
    if protocol.reader_features:
        features = sorted(set(protocol.reader_features) - PLAIN_READER_FEATURES)
        return f"reader features {', '.join(features)}" if features else None
    if protocol.min_reader_version > 1:
        return f"reader version {protocol.min_reader_version}"
    return None


def features_to_drop(table) -> list[str]:
    """The features to drop, one ``ALTER TABLE … DROP FEATURE`` each, that make ``table`` (a
    ``deltalake.DeltaTable``) plain files again; empty when it is plain, or when one of them is not known to drop."""
    protocol, meta = table.protocol(), table.metadata()
    features = set(protocol.reader_features or ()) - PLAIN_READER_FEATURES
    if meta.configuration.get("delta.columnMapping.mode", "none") != "none":
        features.add("columnMapping")  # also under the older protocol (reader version 2), which lists no features
    return sorted(features) if features and features <= DROPPABLE else []


def drop_commands(table, name: str) -> str:
    """The commands that make ``table`` (a ``deltalake.DeltaTable``, ``name`` in the catalog) plain files again, for a
    message: ```interlake sql 'ALTER TABLE dv DROP FEATURE deletionVectors'```, several joined by ", then "; "" when
    none is known."""
    return ", then ".join(f"`interlake sql 'ALTER TABLE {spelled_name(name)} DROP FEATURE {feature}'`"
                          for feature in features_to_drop(table))


def local_rows(path: str, columns: list[str] | None = None) -> list[dict] | None:
    """Every row of the Delta table at the local ``path`` as Spark collects it (a TIMESTAMP a naive UTC datetime, a
    MAP a dict), or None when that is not certain without Spark: a URI other than ``file:`` (read as the path it
    names), no table there, deletion vectors or column mapping (the data files alone are not the rows then), or any
    error. For answers that must not start a JVM (a no-op ingest, ``interlake models``)."""
    import os

    from interlake.config import local_folder

    path = local_folder(path)
    if path is None or not os.path.isdir(os.path.join(path, "_delta_log")):
        return None
    try:
        from deltalake import DeltaTable

        table = DeltaTable(path)
        if not files_are_rows(table):
            return None
        arrow = to_arrow(table, path, columns)
    except Exception:  # noqa: BLE001  (any doubt: the caller asks Spark)
        return None
    maps = {f.name for f in arrow.schema if str(f.type).startswith("map<")}
    return [{k: dict(v) if k in maps and v is not None else _naive_utc(v) for k, v in row.items()}
            for row in arrow.to_pylist()]


def _naive_utc(value):
    """delta-rs gives a TIMESTAMP as an aware UTC datetime; Spark (session time zone UTC) a naive one."""
    from datetime import UTC, datetime

    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value
