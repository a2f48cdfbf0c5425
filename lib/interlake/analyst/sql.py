"""``interlake sql`` and ``interlake tables``: the lakehouse by name, without knowing paths."""

from __future__ import annotations

import math
import os
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType

from interlake.config import Config, local_folder
from interlake.errors import InterlakeError
from interlake.fs import file_in_the_way
from interlake.tables.catalog import lakehouse_tables
from interlake.tables.without_spark import files_are_rows


def _cell(value) -> str:
    """One value as the table shows it: SQL's spelling (``true``, ``NaN``), a float to 4 decimals with thousands
    separators unless that would hide it (``1.2e-07``), line breaks and tabs as ``\\n`` ``\\t`` so a row stays
    one line (a quarantined CSV line's raw text may hold them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if value and not 1e-3 <= abs(value) < 1e15:
            return f"{value:.6g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    text = str(value)
    return text.translate(_ESCAPES) if any(c in text for c in "\n\r\t") else text


_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def format_table(header: list[str], rows: list[list], thousands: tuple[str, ...] = ()) -> str:
    """A plain, aligned text table (numbers right-aligned), one line per row; the ``thousands`` columns' integers
    with separators (``3,761,427``: counts a person reads, not values to paste back as ``interlake sql`` prints)."""
    text = [[f"{v:,}" if header[i] in thousands and isinstance(v, int) and not isinstance(v, bool) else _cell(v)
             for i, v in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(header)]
    numeric = [all((isinstance(r[i], int | float | Decimal) and not isinstance(r[i], bool)) or r[i] is None
                   for r in rows) and rows for i in range(len(header))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    lines = [line(header)]
    lines.append("  ".join("-" * w for w in widths))
    for r in text:
        lines.append(line(r))
    return "\n".join(lines)


def as_text(df: DataFrame) -> DataFrame:
    """Lists, maps and structs as their JSON text (``["x","y"]``), as ``--out`` writes them to CSV: Python's
    spelling of a collected row (``['x', 'y']``, ``Row(a=1)``) is not what a SQL user reads or can paste back."""
    return df.select(*[F.to_json(df[f.name]).alias(f.name)
                       if isinstance(f.dataType, ArrayType | MapType | StructType) else df[f.name]
                       for f in df.schema.fields])


OUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
# RFC 4180 quoting (a quote inside a value doubled, as Excel and pandas read it; Spark's default escapes it with \)
CSV_OPTIONS = {"header": "true", "escape": '"'}


def out_format(out: str) -> str:
    """``csv`` or ``parquet`` by the file name's ending; a one-line error for any other, or for a path under a file,
    before the query runs."""
    for ending, kind in OUT_FORMATS.items():
        if out.lower().endswith(ending):
            blocker = file_in_the_way(out)
            if blocker:
                raise InterlakeError(f"--out {out}: {blocker} is a file, not a folder; give a path in a folder")
            return kind
    raise InterlakeError(f"--out {out}: the file name must end in .csv or .parquet")


def run_sql(spark: SparkSession, query: str, *, database: str | None = None, out: str | None = None,
            limit: int = 50) -> None:
    """Run ``query`` and print its rows (or write them to ``out``). ``database``: the lakehouse's, in which names
    without one are found (``FROM interactions`` as well as ``FROM interlake.interactions``)."""
    kind = out_format(out) if out else None
    previous = spark.catalog.currentCatalog(), spark.catalog.currentDatabase()
    try:
        if database and spark.catalog.databaseExists(database):
            spark.sql(f"USE {database}")  # a catalog.schema database (Unity Catalog) sets both
        df = spark.sql(query)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0].rstrip(".")
        raise InterlakeError(f"query failed: {first}{_failure_hint(spark, query, first, database)}") from None
    finally:
        spark.catalog.setCurrentCatalog(previous[0])
        spark.catalog.setCurrentDatabase(previous[1])
    if out:
        rows = write_result(spark, df, out, kind)
        print(f"wrote {rows:,} row{'' if rows == 1 else 's'} to {out}")
        return
    if not df.columns:  # a statement without rows (CREATE TABLE … AS SELECT, SET …): no empty table to draw
        print("(0 rows)")
        return
    print_rows(df.columns, [list(r) for r in as_text(df).limit(limit + 1).collect()], limit)


def print_rows(columns: list[str], rows: list[list], limit: int) -> None:
    """The first ``limit`` of ``rows`` (the query's first ``limit + 1``, to know whether there are more) as a table,
    then their count."""
    print(format_table(columns, rows[:limit]))
    more = "; more not shown: use --limit N, or --out FILE for all" if len(rows) > limit else ""
    shown = min(len(rows), limit)
    print(f"({shown} row{'' if shown == 1 else 's'}{more})")


def _failure_hint(spark: SparkSession, query: str, message: str, database: str | None) -> str:
    """What to do about a failed query, where there is more to say than Spark's message: the tables there are for a
    name not found, one statement per call for a syntax error in text with a ``;`` before its end (a ``;`` at the
    end is fine; Spark takes one statement), the absolute path for a Delta table queried by a relative one."""
    if "TABLE_OR_VIEW_NOT_FOUND" in message or "SCHEMA_NOT_FOUND" in message:
        return f". {_tables_hint(spark, database)}"
    if "PARSE_SYNTAX_ERROR" in message and ";" in query.strip().rstrip(";"):
        return ". `interlake sql` runs one statement at a time: run each on its own"
    if "UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY" in message:
        # delta.`lakehouse/interactions`: Delta takes a path table only by an absolute path or a URI, and Spark's
        # message for a relative one says that delta is unsupported
        relative = [p.replace("``", "`") for p in _DELTA_PATH.findall(query) if not os.path.isabs(p) and ":" not in p]
        if relative:
            return (f". Delta reads a table by its path only when the path is absolute or a URI: "
                    f"delta.`{os.path.abspath(relative[0]).replace('`', '``')}`; or query it by name "
                    "(`interlake tables` lists them)")
    return ""


_DELTA_PATH = re.compile(r"\bdelta\s*\.\s*`((?:[^`]|``)+)`", re.IGNORECASE)


def _tables_hint(spark: SparkSession, database: str | None) -> str:
    names = []
    if database:
        try:
            names = sorted(f"{database}.{t.name}" for t in spark.catalog.listTables(database) if not t.isTemporary)
        except Exception:  # noqa: BLE001  (no such database yet: the general hint)
            names = []
    if not names:
        return "`interlake tables` lists the tables you can query"
    return f"The tables are {', '.join(names)}"


def write_result(spark: SparkSession, df: DataFrame, out: str, kind: str) -> int:
    """Write ``df`` as ONE file ``out`` (local path or URI), replacing it, and return its row count.

    Spark writes it (one task, the query's order kept), so the result never gathers in the driver's memory: before
    2026-11-30 ``--out`` went through pandas, and a 3.1 GB result took 10.8 GB of the Python process's memory and 6x
    the time (bench/sql_out.py). The part file is moved into place from a staging folder next to ``out``. In CSV,
    lists, maps and structs (a quarantine row's ``reasons``) are their JSON text, timestamps ISO-8601 in UTC, quotes
    inside values doubled (RFC 4180)."""
    if kind == "csv":
        df = as_text(df)
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(out)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if fs.getScheme() == "file":  # the raw local filesystem: no `.x.csv.crc` checksum file beside the result
        fs = fs.getRawFileSystem()
    if fs.exists(target) and fs.getFileStatus(target).isDirectory():
        raise InterlakeError(f"--out {out}: is a folder; give the name of the file to write")
    staging = f"{out}._staging-{uuid.uuid4().hex[:8]}"
    try:
        writer = df.coalesce(1).write.mode("overwrite")
        if kind == "csv":
            writer.options(**CSV_OPTIONS).csv(staging)
        else:
            writer.parquet(staging)
        parts = [st.getPath() for st in fs.listStatus(jvm.org.apache.hadoop.fs.Path(staging))
                 if st.getPath().getName().startswith("part-")]
        if len(parts) != 1:
            raise InterlakeError(f"--out {out}: Spark wrote {len(parts)} files instead of one; nothing written")
        fs.delete(target, False)
        if not fs.rename(parts[0], target):
            raise InterlakeError(f"--out {out}: cannot move the result into place (is the folder there and writable?)")
    finally:
        fs.delete(jvm.org.apache.hadoop.fs.Path(staging), True)
    reader = spark.read.options(**CSV_OPTIONS, multiLine="true") if kind == "csv" else spark.read
    return reader.format(kind).load(out).count()


# Delta operations that change no row: maintenance, properties, constraints, schema and protocol changes. A
# table's `data_changed_at` is the time of its latest commit of any other operation (WRITE, MERGE, DELETE, UPDATE,
# STREAMING UPDATE, CREATE TABLE, RESTORE ...; one not listed here counts as a change).
NO_DATA_CHANGE = frozenset({
    "OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES", "UNSET TBLPROPERTIES", "ADD CONSTRAINT",
    "DROP CONSTRAINT", "ADD COLUMNS", "CHANGE COLUMN", "CHANGE COLUMNS", "REPLACE COLUMNS", "RENAME COLUMN",
    "DROP COLUMNS", "UPDATE SCHEMA", "UPGRADE PROTOCOL", "DROP FEATURE", "DROP TABLE FEATURE", "REORG",
    "COMPUTE STATS", "CLUSTER BY", "FSCK", "ROW TRACKING BACKFILL", "ROW TRACKING UNBACKFILL",
    "DOMAIN METADATA CLEANUP", "UPGRADE UNIFORM"})
HISTORY_DEPTHS = (10, 500)  # commits read to find the latest data change: a few, then (after many OPTIMIZEs) more


def table_summaries(spark: SparkSession, cfg: Config) -> list[dict]:
    summaries = []
    for name, path in lakehouse_tables(cfg.lakehouse, spark, cfg.database).items():
        table = DeltaTable.forPath(spark, path)
        detail = table.detail().first()

        def commits(depth: int, table=table) -> list[dict]:
            return [r.asDict() for r in table.history(depth).select(
                "version", "operation", F.unix_millis("timestamp").alias("ms")).collect()]
        last, changed = _last_and_changed(commits)
        summaries.append({"table": f"{cfg.database}.{name}", "rows": table.toDF().count(),
                          "version": last["version"], "size_mb": round((detail["sizeInBytes"] or 0) / 2**20, 2),
                          "last_operation": last["operation"], "at": _utc_text(last["ms"]),
                          "data_changed_at": _utc_text(changed["ms"]) if changed else ""})
    return summaries


def _last_and_changed(commits) -> tuple[dict, dict | None]:
    """The latest commit and the latest that changed data (None when none of the last ``HISTORY_DEPTHS[-1]`` did),
    from ``commits(depth)``: the newest ``depth`` commits (``version, operation, ms``), newest first."""
    for depth in HISTORY_DEPTHS:
        history = commits(depth)
        changed = next((c for c in history if c["operation"] not in NO_DATA_CHANGE), None)
        if changed or len(history) < depth:
            break
    return history[0], changed


def table_summaries_without_spark(cfg: Config) -> list[dict] | None:
    """``table_summaries`` of a local lakehouse from the tables' Delta logs alone (delta-rs): rows from each file's
    statistics, in about a second where Spark takes ~30 s to start and count. None when that is not sure to be
    right (a lakehouse on an object store, a table with deletion vectors or column mapping, a file without a row
    count): ask Spark."""
    local = local_folder(cfg.lakehouse)
    if local is None:
        return None
    try:
        import pyarrow as pa
        from deltalake import DeltaTable as RsTable

        summaries = []
        for name, path in lakehouse_tables(local, database=cfg.database).items():
            table = RsTable(path)
            if not files_are_rows(table):
                return None
            files = pa.table(table.get_add_actions(flatten=True))
            if files.num_rows and files["num_records"].null_count:
                return None
            version = table.version()

            def commits(depth: int, path=path, table=table) -> list[dict]:
                # the time Spark's history gives: the commit file's modification time (commitInfo's own timestamp
                # is taken ~10-20 ms before the file is written, so it can fall in the second before)
                return [{"version": c["version"], "operation": c["operation"], "ms": c.get("inCommitTimestamp") or (
                    os.stat(os.path.join(path, "_delta_log", f"{c['version']:020d}.json")).st_mtime_ns // 1_000_000)}
                    for c in table.history(depth)]
            last, changed = _last_and_changed(commits)
            summaries.append({"table": f"{cfg.database}.{name}",
                              "rows": int(pa.compute.sum(files["num_records"]).as_py() or 0), "version": version,
                              "size_mb": round(int(pa.compute.sum(files["size_bytes"]).as_py() or 0) / 2**20, 2),
                              "last_operation": last["operation"], "at": _utc_text(last["ms"]),
                              "data_changed_at": _utc_text(changed["ms"]) if changed else ""})
        return summaries
    except Exception:  # noqa: BLE001  (any doubt: Spark answers)
        return None


def _utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def shown_path(path: str) -> str:
    """A lakehouse as said to a person: relative to the working folder when it is inside it (``lakehouse``), else
    as it is (``/data/lake``, ``s3a://bucket/lake``), not ``../../data/lake``."""
    if "://" in path:
        return path
    rel = os.path.relpath(path)
    return rel if rel != ".." and not rel.startswith(".." + os.sep) else os.path.abspath(path)


def print_tables(cfg: Config, summaries: list[dict]) -> None:
    if not summaries:
        print(f"no tables under {cfg.lakehouse} yet: run `interlake ingest` first")
        return
    header = ["table", "rows", "version", "size_mb", "last_operation", "at", "data_changed_at"]
    # rows as the ingest report prints counts (3,761,427)
    print(format_table(header, [[s[h] for h in header] for s in summaries], thousands=("rows",)))
    print(f"lakehouse: {shown_path(cfg.lakehouse)}")
