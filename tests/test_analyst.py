"""Analysts and operators: reads without Spark, SQL/tables, maintenance, the cluster config, run-job."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from chispa import assert_df_equality
from interlake import read_table
from interlake.analyst.maintain import maintain
from interlake.analyst.sql import table_summaries, table_summaries_without_spark
from interlake.config import load_config
from interlake.errors import ConfigError, InterlakeError
from interlake.scheduling import Forwarder
from interlake.schemas import tables as T
from interlake.tables.catalog import lakehouse_tables
from interlake.trending.pipeline import run_trending
from pyspark.sql import functions as F

from tests.conftest import ROOT, started_with_stderr, wait_for_line


@pytest.fixture(scope="module")
def full_lake(spark, demo_lake):
    cfg, first, root = demo_lake
    run_trending(spark, cfg, once=True)
    return cfg


def test_every_table_reads_the_same_without_spark(spark, full_lake):
    cfg = full_lake
    names = set(lakehouse_tables(cfg.lakehouse))
    assert {T.INTERACTIONS, T.QUARANTINE, T.LEDGER, T.ITEM_SIMILARITY, T.USER_RECOMMENDATIONS, T.ITEM_FACTORS,
            T.MODEL_RUNS, T.TRENDING_ITEMS, T.ITEM_POPULARITY, T.STREAM_PROGRESS} <= names
    for name in sorted(names):
        sdf = spark.read.format("delta").load(cfg.table_path(name))
        pdf = read_table(name, lakehouse=cfg.lakehouse)
        simple = [f.name for f in sdf.schema.fields if f.dataType.typeName() not in ("map", "array")]
        # delta-rs gives the same rows as Spark (compared through Spark, schema and values)
        from_rs = spark.createDataFrame(pdf[simple], schema=sdf.select(*simple).schema)
        assert_df_equality(from_rs, sdf.select(*simple), ignore_row_order=True, ignore_nullable=True,
                           allow_nan_equality=True)


def test_every_table_says_what_it_and_each_column_mean(spark, full_lake):
    """`DESCRIBE interactions` showed bare columns: an analyst (or a catalog browser) had only the README to learn
    what `expected`, `score` or `rows_duplicate` mean. Every table the jobs create carries its description and a
    comment on every column, in the Delta schema (delta-rs reads them too)."""
    from deltalake import DeltaTable as RsTable

    cfg = full_lake
    assert set(T.DESCRIPTIONS) == set(lakehouse_tables(cfg.lakehouse))
    for name, (about, columns) in T.DESCRIPTIONS.items():
        path = cfg.table_path(name)
        described = {r.col_name: r.comment for r in spark.sql(f"DESCRIBE delta.`{path}`").collect()
                     if r.col_name and not r.col_name.startswith("#")}
        assert described == columns, name
        assert spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first().description == about
        rs = RsTable(path)
        assert rs.metadata().description == about
        assert {f.name: f.metadata.get("comment") for f in rs.schema().fields} == columns


def test_duckdb_reads_a_table(full_lake):
    import duckdb

    cfg = full_lake
    arrow = read_table(T.ITEM_SIMILARITY, lakehouse=cfg.lakehouse, as_arrow=True)
    n = duckdb.sql("SELECT count(*) FROM arrow WHERE rank = 1").fetchall()[0][0]
    assert n == arrow.to_pandas().item_id.nunique()


def test_read_table_travels_by_version_and_by_time_and_says_which_it_cannot(spark, tmp_path):
    from datetime import UTC, datetime

    path = str(tmp_path / "t")
    spark.createDataFrame([("a",)], "x STRING").write.format("delta").save(path)
    spark.createDataFrame([("b",)], "x STRING").write.format("delta").mode("append").save(path)
    from delta.tables import DeltaTable

    commits = {r["version"]: datetime.fromtimestamp(r["ms"] / 1000, UTC) for r in DeltaTable.forPath(spark, path)
               .history().select("version", F.unix_millis("timestamp").alias("ms")).collect()}
    second = commits[1].replace(tzinfo=None)  # naive: read as UTC
    rows = lambda **kw: sorted(read_table("t", lakehouse=str(tmp_path), **kw)["x"])  # noqa: E731
    assert rows() == ["a", "b"] and rows(version=0) == ["a"] and rows(version=1) == ["a", "b"]
    assert rows(timestamp=second.isoformat(sep=" ")) == ["a", "b"]
    assert rows(timestamp=commits[0]) == ["a"]  # before the second commit: the first version
    assert rows(timestamp="2999-01-01T00:00:00Z") == ["a", "b"]  # later than the last commit: the latest
    with pytest.raises(InterlakeError, match=r"^t has versions 0\.\.1; version 7 is not one of them$"):
        rows(version=7)  # delta-rs: "LogSegment end version 1 not the same as the specified end version 7"
    with pytest.raises(InterlakeError, match=r"^t has versions 0\.\.1; version -1 is not one of them$"):
        rows(version=-1)  # delta-rs: OverflowError
    with pytest.raises(InterlakeError, match=r"^t has no version at 2020-01-01 00:00:00 UTC: its earliest readable "
                                             r"version is from "):
        rows(timestamp="2020-01-01")  # delta-rs loads version 0 for a time before the table existed
    with pytest.raises(InterlakeError, match=r"^timestamp 'yesterday': expected ISO date and time"):
        rows(timestamp="yesterday")
    with pytest.raises(InterlakeError, match="give version or timestamp, not both"):
        rows(version=0, timestamp="2020-01-01")
    spark.sql(f"OPTIMIZE delta.`{path}`")  # one file for both rows; VACUUM then removes version 0's file
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    with pytest.raises(InterlakeError, match=r"^t: that version can no longer be read: VACUUM \(`interlake maintain`"):
        rows(version=0)  # pyarrow's "Failed to open local file ... No such file or directory" before 2026-12-01
    assert rows() == ["a", "b"]


def test_read_table_of_a_missing_table_says_so_and_lists_the_tables(spark, tmp_path):
    spark.createDataFrame([("a",)], "x STRING").write.format("delta").save(str(tmp_path / "t"))
    with pytest.raises(InterlakeError, match=r"^no Delta table 'nope' at .*/nope; its tables: t$"):
        read_table("nope", lakehouse=str(tmp_path))
    with pytest.raises(InterlakeError, match=r"^no Delta table 't' at .*/elsewhere/t; that lakehouse folder does not "
                                             r"exist \(lakehouse=\.\.\. or the config's `lakehouse`\)$"):
        read_table("t", lakehouse=str(tmp_path / "elsewhere"))
    # the name `interlake sql` takes works too (before 2026-12-01: "no Delta table at .../interlake.t")
    assert read_table("interlake.t", lakehouse=str(tmp_path))["x"].tolist() == ["a"]
    assert read_table("interlake.t", lakehouse=f"file://{tmp_path}", columns="x")["x"].tolist() == ["a"]


def test_read_table_keeps_the_columns_and_rows_asked_for_and_reads_only_their_partitions(spark, tmp_path):
    from datetime import date, datetime

    import pyarrow.compute as pc

    path = tmp_path / "ev"
    spark.createDataFrame([
        ("u1", "view", datetime(2026, 11, 19, 23, 30), date(2026, 11, 19), 1),
        ("u2", "purchase", datetime(2026, 11, 20, 8, 0), date(2026, 11, 20), 2),
        ("u3", "view", datetime(2026, 11, 20, 9, 30), date(2026, 11, 20), 3),
        ("u4", "add_to_cart", datetime(2026, 11, 21, 0, 15), date(2026, 11, 21), 4),
    ], "user_id STRING, interaction_type STRING, event_ts TIMESTAMP, event_date DATE, n INT").write.format(
        "delta").partitionBy("event_date").save(str(path))
    users = lambda **kw: sorted(read_table("ev", lakehouse=str(tmp_path), **kw)["user_id"])  # noqa: E731
    assert users(filters=[("event_date", ">=", "2026-11-20")]) == ["u2", "u3", "u4"]
    assert users(filters=[("event_date", "=", date(2026, 11, 20)), ("interaction_type", "in", ["purchase"])]) == ["u2"]
    assert users(filters=[[("n", "=", 1)], [("n", ">", "3")]]) == ["u1", "u4"]  # either list; "3" read as a number
    assert users(filters=("interaction_type", "not in", ["view"])) == ["u2", "u4"]
    assert users(filters=[("event_ts", "<", "2026-11-20 09:00")]) == ["u1", "u2"]  # UTC
    assert users(filters=[("event_ts", "<", "2026-11-20T09:00:00+01:00")]) == ["u1"]  # 08:00 UTC
    assert users(filters=pc.field("n").isin([2, 4]) | (pc.field("user_id") == "u9")) == ["u2", "u4"]
    picked = read_table("ev", lakehouse=str(tmp_path), columns=["user_id", "n"], filters=[("n", "<=", 2)])
    assert picked.sort_values("n").to_dict("list") == {"user_id": ["u1", "u2"], "n": [1, 2]}
    with pytest.raises(InterlakeError, match=r"^ev has no column 'day'; its columns: user_id, interaction_type, "
                                             r"event_ts, event_date, n$"):
        users(filters=[("day", "=", "2026-11-20")])
    with pytest.raises(InterlakeError, match=r"^ev has no column 'nope'; its columns: "):
        users(columns=["user_id", "nope"])  # pyarrow's multi-line ArrowInvalid with the whole schema before
    with pytest.raises(InterlakeError, match=r"^filter on event_date: 'yesterday' is not a date, e.g. 2026-11-20$"):
        users(filters=[("event_date", "=", "yesterday")])
    with pytest.raises(InterlakeError, match=r"^filter on n: 'three' is not a whole number$"):
        users(filters=[("n", "<", "three")])
    with pytest.raises(InterlakeError, match=r"^filter \('n', '~', 1\): '~' is not an operator; use one of =, ==, "):
        users(filters=[("n", "~", 1)])
    with pytest.raises(InterlakeError, match=r"^filter \('n', '='\): expected a \(column, op, value\) tuple"):
        users(filters=[("n", "=")])
    with pytest.raises(InterlakeError, match=r"^ev: filters \(day == 1\): No match for FieldRef.Name\(day\)"):
        users(filters=pc.field("day") == 1)  # an expression is pyarrow's own: its error's first line
    # a partition filter reads only that partition's files: with another day's file gone, the day asked for reads
    gone = next((path / "event_date=2026-11-21").glob("*.parquet"))
    gone.unlink()
    assert users(filters=[("event_date", "<", "2026-11-21")]) == ["u1", "u2", "u3"]
    with pytest.raises(FileNotFoundError):
        users()


def test_tables_lists_rows_versions_and_operations(spark, full_lake):
    rows = {s["table"]: s for s in table_summaries(spark, full_lake)}
    inter = rows["interlake.interactions"]
    assert inter["rows"] == spark.read.format("delta").load(full_lake.table_path(T.INTERACTIONS)).count()
    assert inter["last_operation"] in ("MERGE", "WRITE") and inter["size_mb"] > 0
    # `interlake tables` on a local lakehouse reads the same from the Delta logs without starting Spark (~1 s, where
    # Spark took ~30 s to start and count); a table delta-rs' statistics may not count right goes to Spark
    assert table_summaries_without_spark(full_lake) == table_summaries(spark, full_lake)


def test_tables_without_spark_leaves_what_it_cannot_be_sure_of_to_spark(spark, make_config, tmp_path):
    cfg = make_config()
    path = cfg.table_path("dv")
    spark.createDataFrame([(1,), (2,)], "n INT").write.format("delta").save(path)
    assert [(s["table"], s["rows"]) for s in table_summaries_without_spark(cfg)] == [("interlake.dv", 2)]
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    spark.sql(f"DELETE FROM delta.`{path}` WHERE n = 1")  # a deletion vector: the file's count says 2, the table 1
    assert table_summaries_without_spark(cfg) is None
    assert [(s["table"], s["rows"]) for s in table_summaries(spark, cfg)] == [("interlake.dv", 1)]
    def advice_works(name: str, why: str, feature: str, column: str, values: list) -> None:
        """read_table refuses the table, naming the statement that makes it readable, which works."""
        with pytest.raises(InterlakeError, match=rf"^{name}: delta-rs cannot read this table \({why}\); query it "
                           rf"through Spark \(`interlake sql`\); `interlake sql 'ALTER TABLE {name} DROP FEATURE "
                           rf"{feature}'` makes it readable again$"):
            read_table(name, lakehouse=cfg.lakehouse)
        spark.sql(f"ALTER TABLE delta.`{cfg.table_path(name)}` DROP FEATURE {feature}")
        assert read_table(name, lakehouse=cfg.lakehouse)[column].tolist() == values

    # read_table: delta-rs refuses deletion vectors
    advice_works("dv", ".*deletionVectors.*", "deletionVectors", "n", [2])
    assert [(s["table"], s["rows"]) for s in table_summaries_without_spark(cfg)] == [("interlake.dv", 1)]
    # the same folder as a file: URI is read the same way (it went to Spark as an object store's did); a URI of
    # another filesystem still goes to Spark
    assert table_summaries_without_spark(make_config(lakehouse=f"file://{tmp_path}/lake")) == (
        table_summaries_without_spark(cfg))
    assert table_summaries_without_spark(make_config(lakehouse="s3a://bucket/lake")) is None
    # column mapping (a column renamed; Delta gives the table reader version 2, no reader features): delta-rs read
    # its renamed column as nulls before 2026-12-07 (`m: [[null]]`), without an error; now the same advice
    mapped = cfg.table_path("cm")
    spark.createDataFrame([(1,)], "n INT").write.format("delta").save(mapped)
    spark.sql(f"ALTER TABLE delta.`{mapped}` SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')")
    spark.sql(f"ALTER TABLE delta.`{mapped}` RENAME COLUMN n TO m")
    advice_works("cm", r"column mapping \(name\)", "columnMapping", "m", [1])
    # a TIMESTAMP_NTZ column (reader feature timestampNtz): its files are plain, counted without Spark
    spark.sql("SELECT to_timestamp_ntz('2026-01-02 03:04:05') AS t").write.format("delta").save(cfg.table_path("ntz"))
    assert [(s["table"], s["rows"]) for s in table_summaries_without_spark(cfg)] == [
        ("interlake.cm", 1), ("interlake.dv", 1), ("interlake.ntz", 1)]


def test_an_analyst_s_create_table_as_select_is_a_delta_table_every_command_takes(spark, make_config, tmp_path,
                                                                                  capsys):
    """``CREATE TABLE … AS SELECT`` without ``USING`` (``interlake sql`` or a notebook's session) made a Parquet table
    before 2026-12-04 (Spark's default): no DELETE, no time travel, and out of sight of `interlake tables`, DuckDB,
    ``read_table`` and ``maintain``. The local session makes it Delta, as Databricks does, in the database's folder of
    the lakehouse's warehouse, and every command takes it. Here the lakehouse is the session's own (its warehouse is
    where the catalog puts managed tables), under a database of this test's own."""
    from interlake.analyst.duck import connect
    from interlake.analyst.sql import run_sql

    lake = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:").rsplit("/_warehouse", 1)[0]
    cfg = make_config(lakehouse=lake, database="analyst_ctas")
    spark.sql("CREATE DATABASE analyst_ctas")  # as the first job's session start makes the config's database
    try:
        run_sql(spark, "CREATE TABLE cohort AS SELECT * FROM VALUES ('u1', 3), ('u2', 5), ('u3', 8) AS t(user_id, n)",
                database=cfg.database)
        assert capsys.readouterr().out == "(0 rows)\n"  # as DuckDB's engine says it; no empty table drawn
        run_sql(spark, "DELETE FROM cohort WHERE n = 3", database=cfg.database)
        capsys.readouterr()
        detail = spark.sql("DESCRIBE DETAIL analyst_ctas.cohort").first()
        path = f"{lake}/_warehouse/analyst_ctas.db/cohort"
        assert (detail["format"], detail["location"].removeprefix("file:")) == ("delta", path)
        assert lakehouse_tables(cfg.lakehouse, database=cfg.database) == {"cohort": path}
        assert [(s["table"], s["rows"], s["last_operation"]) for s in table_summaries_without_spark(cfg)] == [
            ("analyst_ctas.cohort", 2, "DELETE")]
        assert [(s["table"], s["rows"]) for s in table_summaries(spark, cfg)] == [("analyst_ctas.cohort", 2)]
        con, skipped = connect(cfg.lakehouse, cfg.database)
        assert (con.execute("SELECT user_id, n FROM analyst_ctas.cohort ORDER BY 1").fetchall(), skipped) == (
            [("u2", 5), ("u3", 8)], {})
        assert sorted(read_table("cohort", lakehouse=cfg.lakehouse, database=cfg.database)["n"]) == [5, 8]
        assert sorted(read_table("analyst_ctas.cohort", lakehouse=cfg.lakehouse, version=0)["n"]) == [3, 5, 8]
        assert [(s["table"], s["action"]) for s in maintain(spark, cfg) if s["table"] == "cohort"] == [
            ("cohort", "optimize+vacuum")]
    finally:
        spark.sql("DROP DATABASE IF EXISTS analyst_ctas CASCADE")


def test_a_lakehouse_copied_with_its_catalog_warns_where_its_new_tables_would_go(spark, tmp_path, caplog):
    """A lakehouse copied or moved with its ``_metastore`` keeps the catalog's absolute location of its database: an
    analyst's ``CREATE TABLE … AS SELECT`` in the copy was written into the original lakehouse's ``_warehouse``,
    silently. Every session start now warns, naming the folder to remove; a database where it belongs is quiet."""
    from interlake.tables.catalog import register_lakehouse

    lake = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:").rsplit("/_warehouse", 1)[0]
    spark.sql(f"CREATE DATABASE copied_db LOCATION '{tmp_path}/original/_warehouse/copied_db.db'")
    spark.sql("CREATE DATABASE at_home_db")
    try:
        with caplog.at_level("WARNING", logger="interlake"):
            register_lakehouse(spark, lake, "copied_db")
            register_lakehouse(spark, lake, "at_home_db")
        assert [r.getMessage() for r in caplog.records] == [
            f"the catalog in {lake}/_metastore keeps database copied_db at {tmp_path}/original/_warehouse/"
            "copied_db.db, not in this lakehouse (a lakehouse copied or moved with its _metastore): tables made with "
            f"CREATE TABLE without LOCATION would be written there; remove the folder {lake}/_metastore to start this "
            "lakehouse's catalog afresh (every job registers its tables again)"]
    finally:
        spark.sql("DROP DATABASE copied_db")
        spark.sql("DROP DATABASE at_home_db")


def test_sql_by_table_name(spark, full_lake, capsys):
    from interlake.analyst.sql import run_sql

    run_sql(spark, "SELECT interaction_type, count(*) AS n FROM interlake.interactions GROUP BY 1 ORDER BY 1")
    out = capsys.readouterr().out
    assert "add_to_cart" in out and "purchase" in out and "(3 rows)" in out
    with pytest.raises(InterlakeError, match="query failed: .*`interlake tables` lists"):
        run_sql(spark, "SELECT * FROM interlake.nope")
    # the lakehouse's database is the query's: names need no `interlake.` (and the session's is left as it was)
    run_sql(spark, "SELECT user_id FROM interactions ORDER BY 1", database="interlake", limit=2)
    assert capsys.readouterr().out.splitlines()[-1] == "(2 rows; more not shown: use --limit N, or --out FILE for all)"
    assert spark.catalog.currentDatabase() == "default"
    with pytest.raises(InterlakeError) as err:
        run_sql(spark, "SELECT * FROM interaction", database="interlake")
    assert str(err.value).startswith("query failed: [TABLE_OR_VIEW_NOT_FOUND] The table or view `interaction` cannot "
                                     "be found. Verify the spelling and correctness of the schema and catalog. The "
                                     "tables are interlake.ingest_ledger, interlake.interactions, ")
    # the tables are listed only where a name was not found; two statements in one call say to run one at a time
    with pytest.raises(InterlakeError) as err:
        run_sql(spark, "SELECT count(*) FROM interactions; SELECT 'a;b' -- c;d", database="interlake")
    assert str(err.value).startswith("query failed: [PARSE_SYNTAX_ERROR] Syntax error at or near 'SELECT'")
    assert str(err.value).endswith("`interlake sql` runs one statement at a time: run each on its own")
    with pytest.raises(InterlakeError) as err:
        run_sql(spark, "SELECT count(* FROM interactions", database="interlake")
    assert "tables are" not in str(err.value) and "one statement" not in str(err.value)
    run_sql(spark, "SELECT count(*) AS n FROM interactions;  ", database="interlake")  # a closing `;` is fine
    assert capsys.readouterr().out.splitlines()[-1] == "(1 row)"  # was "(1 rows)"
    # a table by its path: Delta takes an absolute one only; a relative one's error said "delta" was unsupported
    relative = os.path.relpath(full_lake.table_path("interactions"))
    with pytest.raises(InterlakeError) as err:
        run_sql(spark, f"SELECT count(*) AS n FROM Delta.`{relative}`")
    assert str(err.value).startswith("query failed: [UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY]")
    absolute = os.path.abspath(relative)
    assert str(err.value).endswith(f"Delta reads a table by its path only when the path is absolute or a URI: "
                                   f"delta.`{absolute}`; or query it by name (`interlake tables` lists them)")
    run_sql(spark, f"SELECT count(*) AS n FROM delta.`{absolute}`")  # as the error says
    assert capsys.readouterr().out.splitlines()[-1] == "(1 row)"


def test_sql_prints_each_row_on_one_line_in_sql_s_spelling(spark, capsys):
    """The printed table showed Python's spelling of a collected row (`['x', 'y']`, `Row(a=1)`, `True`, `nan`), not
    the JSON `--out` writes to CSV; a raw text with a line break (a quarantined CSV line) broke its row in two; a
    small float printed as 0."""
    from interlake.analyst.sql import run_sql

    run_sql(spark, "SELECT * FROM VALUES (1, array('x', 'y'), named_struct('a', 1), map('k', 2.5D), true, "
                   "'a\\nb\\tc', 1.2E-7D, double('NaN'), 1234.5D, CAST(7.25 AS DECIMAL(5, 2))) "
                   "AS t(n, arr, st, m, ok, raw, tiny, nan, big, dec)")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[-1] == "(1 row)"
    assert lines[2].split() == ["1", '["x","y"]', '{"a":1}', '{"k":2.5}', "true", "a\\nb\\tc", "1.2e-07", "NaN",
                                "1,234.5", "7.25"]


def test_a_failing_query_is_one_line_on_stderr_without_pyspark_s_stack_trace(demo_lake):
    """PySpark logs an error with a query context as a JSON line holding the JVM's stack trace; `interlake sql` says
    it in one line only (a real CLI process: the logging is the process's)."""
    cfg, _, root = demo_lake
    run = subprocess.run([sys.executable, "-m", "interlake", "sql", "SELECT * FROM interactionz", "--conf",
                          str(root / "conf.yaml")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    lines = [ln for ln in run.stderr.splitlines() if "TABLE_OR_VIEW_NOT_FOUND" in ln]
    assert lines == [ln for ln in lines if ln.startswith("interlake sql: error: query failed: ")] and len(lines) == 1
    assert "Py4JJavaError" not in run.stderr and "at org.apache.spark" not in run.stderr


def test_tables_command_answers_a_local_lakehouse_without_starting_spark(spark, demo_lake):
    cfg, _, root = demo_lake
    run = subprocess.run([sys.executable, "-m", "interlake", "tables", "--conf", str(root / "conf.yaml")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "jdk.incubator" not in run.stderr  # the JVM's start-up line: no JVM was started
    count = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).count()
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("interlake.interactions "))
    assert line.split()[1] == f"{count:,}" and "," in line.split()[1]  # 2,000-odd rows: counts read as the report's
    # the lakehouse as given where it is outside the working folder (it read `../../tmp/…`), relative inside it
    assert run.stdout.splitlines()[-1] == f"lakehouse: {cfg.lakehouse}"
    inside = subprocess.run([sys.executable, "-m", "interlake", "tables", "--conf", "conf.yaml"], cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert inside.stdout.splitlines()[-1] == "lakehouse: lake", inside.stderr


def test_sql_out_writes_one_csv_or_parquet_file(spark, tmp_path, capsys):
    """``--out`` is written by Spark as one file (before 2026-11-30 through pandas, every row in the driver's memory:
    bench/sql_out.py), the query's order kept, replacing an earlier file, nothing else left beside it; in CSV a list
    is its JSON text, a timestamp ISO-8601 UTC, quotes doubled and line breaks quoted (pandas wrote a list as
    ``['x', 'y']``, Python's spelling, not JSON)."""
    import csv

    import pyarrow.parquet as pq
    from interlake.analyst.sql import run_sql

    query = ("SELECT * FROM VALUES (1, 'a,\\nline', array(), NULL), "
             "(2, 'b \"q\"', array('x', 'y'), TIMESTAMP'2026-09-21 10:00:00') AS t(n, s, reasons, ts) "
             "ORDER BY n DESC")
    out = tmp_path / "res" / "top.csv"
    out.parent.mkdir()
    out.write_text("an older result")  # replaced
    run_sql(spark, query, out=str(out))
    assert capsys.readouterr().out == f"wrote 2 rows to {out}\n"
    with open(out, newline="") as fh:
        assert list(csv.reader(fh)) == [["n", "s", "reasons", "ts"], ["2", 'b "q"', '["x","y"]',
                                                                     "2026-09-21T10:00:00.000Z"],
                                        ["1", "a,\nline", "[]", ""]]
    pq_out = tmp_path / "new" / "top.parquet"  # in a folder that does not exist yet
    run_sql(spark, query, out=str(pq_out))
    assert pq.read_table(pq_out).to_pylist() == [
        {"n": 2, "s": 'b "q"', "reasons": ["x", "y"], "ts": dt.datetime(2026, 9, 21, 10, 0)},
        {"n": 1, "s": "a,\nline", "reasons": [], "ts": None}]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "new", "new/top.parquet", "res", "res/top.csv"]
    with pytest.raises(InterlakeError, match=r"^--out top\.xlsx: the file name must end in \.csv or \.parquet$"):
        run_sql(spark, "SELECT * FROM interlake.no_such_table", out="top.xlsx")  # before the query
    (tmp_path / "res" / "dir.csv").mkdir()
    with pytest.raises(InterlakeError, match=r"dir\.csv: is a folder; give the name of the file to write$"):
        run_sql(spark, query, out=str(tmp_path / "res" / "dir.csv"))
    # under a file: it was Python's FileExistsError (NotADirectoryError through Spark) after the query had run
    for under_a_file in (out / "x.csv", f"file:{out}/deeper/x.parquet"):
        with pytest.raises(InterlakeError) as err:
            run_sql(spark, "SELECT * FROM interlake.no_such_table", out=str(under_a_file))  # before the query
        assert str(err.value) == f"--out {under_a_file}: {out} is a file, not a folder; give a path in a folder"
    assert out.read_text().startswith("n,s,reasons,ts")


def test_sql_through_duckdb_answers_as_spark_does_without_starting_spark(spark, full_lake, tmp_path, capsys):
    """`interlake sql --engine duckdb`: the same printed table and the same CSV as the Spark engine for the same
    query (every table by name and as `interlake.<name>`), in a CLI process that starts no JVM."""
    import csv

    from interlake.analyst.duck import run_sql_duckdb
    from interlake.analyst.sql import run_sql

    cfg = full_lake
    queries = [
        "SELECT interaction_type, count(*) AS n, min(event_ts) AS first, max(event_date) AS last "
        "FROM interactions GROUP BY 1 ORDER BY 1",
        "SELECT source, reasons, raw FROM interlake.interactions_quarantine ORDER BY raw LIMIT 5",
        "SELECT window_start, item_id, interactions, is_trending FROM trending_items "
        "ORDER BY score DESC, item_id LIMIT 3",
    ]
    for query in queries:
        run_sql(spark, query, database=cfg.database)
        by_spark = capsys.readouterr().out
        run_sql_duckdb(cfg, query)
        assert capsys.readouterr().out == by_spark
        run_sql(spark, query, database=cfg.database, out=str(tmp_path / "spark.csv"))
        run_sql_duckdb(cfg, query, out=str(tmp_path / "duck" / "duck.csv"))  # its folder made, as Spark does
        wrote = [line.rsplit(" to ", 1)[0] for line in capsys.readouterr().out.splitlines()]
        assert len(wrote) == 2 and wrote[0] == wrote[1]  # "wrote N rows", the same N
        with open(tmp_path / "spark.csv", newline="") as a, open(tmp_path / "duck" / "duck.csv", newline="") as b:
            assert list(csv.reader(b)) == list(csv.reader(a))

    query = "SELECT count(*) AS n FROM interactions WHERE event_date = DATE '2026-09-05'"
    run = subprocess.run([sys.executable, "-m", "interlake", "sql", "--engine", "duckdb", "--conf", str(cfg.path),
                          query], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "jdk.incubator" not in run.stderr  # the JVM's start-up line: no JVM was started
    n = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).where("event_date = '2026-09-05'").count()
    assert run.stdout.splitlines() == ["   n", "----", f"{n:>4}", "(1 row)"] and n > 0


def test_a_notebook_gets_a_duckdb_connection_with_every_table_by_name(spark, full_lake):
    """`interlake.duckdb_connect()`: SQL over the tables from a notebook without Spark, the rows Spark sees."""
    from interlake import duckdb_connect

    cfg = full_lake
    con = duckdb_connect(conf=str(cfg.path))
    by_duckdb = con.sql("SELECT item_id, interactions, rank FROM interlake.item_popularity ORDER BY rank, item_id").df()
    by_spark = (spark.read.format("delta").load(cfg.table_path(T.ITEM_POPULARITY))
                .select("item_id", "interactions", "rank").orderBy("rank", "item_id").toPandas())
    assert by_duckdb.values.tolist() == by_spark.values.tolist() and len(by_spark) > 0
    same = duckdb_connect(lakehouse=cfg.lakehouse)
    assert same.sql("SELECT count(*) FROM interactions").fetchall()[0][0] == (
        spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).count())
    # the same folder as a file: URI (refused as "a URI" before): the same tables
    as_uri = duckdb_connect(lakehouse=f"file://{cfg.lakehouse}")
    assert as_uri.sql("SELECT count(*) FROM interactions").fetchall() == (
        same.sql("SELECT count(*) FROM interactions").fetchall())


def test_sql_reads_its_statement_from_a_file_or_standard_input(full_lake, tmp_path, capsys, monkeypatch):
    """`interlake sql -f query.sql`, as `spark-sql -f` takes one (a long query was a shell-quoting exercise)."""
    import io

    from interlake.cli import main

    cfg = full_lake
    query = tmp_path / "busiest.sql"
    query.write_text("-- the busiest item\nSELECT item_id, count(*) AS n\nFROM interactions\n"
                     "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1;\n")
    assert main(["sql", "--engine", "duckdb", "--conf", str(cfg.path), "-f", str(query)]) == 0
    from_file = capsys.readouterr().out
    assert from_file.splitlines()[-1] == "(1 row)"
    monkeypatch.setattr("sys.stdin", io.StringIO(query.read_text()))
    assert main(["sql", "--engine", "duckdb", "--conf", str(cfg.path), "--file", "-"]) == 0
    assert capsys.readouterr().out == from_file
    assert main(["sql", "--engine", "duckdb", "--conf", str(cfg.path), "-f", str(tmp_path / "nope.sql")]) == 1
    missing = tmp_path / "nope.sql"
    assert capsys.readouterr().err == f"interlake sql: error: --file {missing}: no such file or directory\n"
    (tmp_path / "empty.sql").write_text("\n")
    assert main(["sql", "--conf", str(cfg.path), "-f", str(tmp_path / "empty.sql")]) == 1
    assert capsys.readouterr().err.endswith("empty.sql: is empty; it should hold one SQL statement\n")
    for argv, message in ((["sql"], "the query is required (or --file PATH holding it)"),
                          (["sql", "SELECT 1", "-f", str(query)], "give the query or --file PATH, not both"),
                          (["sql", " "], 'the query is empty: give one SQL statement, e.g. "SELECT count(*) FROM '
                                         'interactions"')):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and capsys.readouterr().err.splitlines()[-1] == f"interlake sql: error: {message}"
    # a wrong --out is said before a session is built (it was said after Spark's ~20 s start)
    monkeypatch.setattr("interlake.cli._session", lambda *a: pytest.fail("a session was built"))
    assert main(["sql", "--conf", str(cfg.path), "SELECT 1", "--out", str(tmp_path / "x.xlsx")]) == 1
    assert capsys.readouterr().err == (f"interlake sql: error: --out {tmp_path}/x.xlsx: the file name must end in "
                                       ".csv or .parquet\n")


def test_sql_through_duckdb_says_what_is_wrong_in_one_line(spark, full_lake, make_config, tmp_path, capsys):
    from interlake.analyst.duck import run_sql_duckdb

    cfg = full_lake
    with pytest.raises(InterlakeError, match=r"^query failed: Catalog Error: Table with name interactionz does not "
                                             r"exist\. The tables are interlake\.ingest_ledger, "
                                             r"interlake\.interactions, "):
        run_sql_duckdb(cfg, "SELECT * FROM interactionz")
    with pytest.raises(InterlakeError, match=r"one statement at a time"):
        run_sql_duckdb(cfg, "SELECT 1; SELECT 2")
    with pytest.raises(InterlakeError, match=r"^query failed: Parser Error: syntax error at or near \"FROM\"$"):
        run_sql_duckdb(cfg, "SELECT count(* FROM interactions")
    # Spark SQL that DuckDB does not parse (Delta's time travel, DESCRIBE HISTORY) was DuckDB's "syntax error" alone;
    # a string or a comment holding those words is not taken for them
    time_travel = ("`VERSION AS OF` is Spark SQL (Delta's time travel; DuckDB reads each table's current version, "
                   "`interlake.read_table(name, version=N)` another without Spark): run it without --engine")
    for query, advice in (
            ("SELECT count(*) FROM interactions VERSION AS OF 1", time_travel),
            ("select count(*) from interactions timestamp as of '2026-01-01'", time_travel.replace("VERSION",
                                                                                                   "TIMESTAMP")),
            ("-- the table's commits\n DESCRIBE HISTORY interactions", "`DESCRIBE HISTORY` is Spark SQL (a Delta "
             "command; `interlake tables` prints each table's version and last operation without Spark): run it "
             "without --engine"),
            ("desc extended interactions", "`DESC EXTENDED` is Spark SQL (DuckDB's `DESCRIBE <table>` lists the "
             "columns): run it without --engine"),
            ("SHOW TBLPROPERTIES interactions", "`SHOW TBLPROPERTIES` is Spark SQL: run it without --engine")):
        with pytest.raises(InterlakeError) as err:
            run_sql_duckdb(cfg, query)
        assert str(err.value).startswith("query failed: Parser Error: syntax error at or near ") and \
            str(err.value).endswith(f"\": {advice}"), str(err.value)
    with pytest.raises(InterlakeError, match=r"^query failed: Parser Error: syntax error at or near \"x\"$"):
        run_sql_duckdb(cfg, "SELECT 'VERSION AS OF' /* DESCRIBE HISTORY */ FROM interactions w x")
    # and the advice holds: the Spark engine answers them
    from interlake.analyst.sql import run_sql

    run_sql(spark, "SELECT count(*) AS n FROM interactions VERSION AS OF 0", database=cfg.database)
    assert [line.strip() for line in capsys.readouterr().out.splitlines()[-2:]] == ["0", "(1 row)"]  # created empty
    run_sql(spark, "DESCRIBE HISTORY interactions", database=cfg.database, limit=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["version", "timestamp"] and out[-1].startswith("(1 row; more not shown")
    # a table made in DuckDB's memory answered "Count 1" (exit 0) and was gone when the command ended
    with pytest.raises(InterlakeError, match=r"^--engine duckdb answers queries and keeps nothing: what CREATE makes "
                                             r"lives in DuckDB's memory and is gone when the command ends; run it "
                                             r"without --engine \(through Spark\), which writes the lakehouse's "
                                             r"Delta tables$"):
        run_sql_duckdb(cfg, "CREATE TABLE top_users AS SELECT user_id, count(*) AS n FROM interactions GROUP BY 1")
    for change in ("DELETE FROM interactions WHERE user_id = 'u1'", "DROP TABLE interactions",
                   "UPDATE interactions SET user_id = 'x'"):
        with pytest.raises(InterlakeError, match=r"^--engine duckdb answers queries and keeps nothing: the tables are "
                                                 r"read-only views there; run it without --engine"):
            run_sql_duckdb(cfg, change)
    with pytest.raises(InterlakeError, match=r"^DuckDB reads a lakehouse on this machine's disk only \(a folder or a "
                                             r"file: URI\); s3a://bucket/lake is not: query it through Spark "
                                             r"\(`interlake sql` without --engine\)$"):
        run_sql_duckdb(make_config(lakehouse="s3a://bucket/lake"), "SELECT 1")
    # a table delta-rs cannot read as plain files (deletion vectors) says so, the others still answer
    other = make_config(lakehouse=str(tmp_path / "lake"))
    spark.range(3).write.format("delta").save(other.table_path("dv"))
    spark.range(2).write.format("delta").save(other.table_path("plain"))
    spark.sql(f"ALTER TABLE delta.`{other.table_path('dv')}` SET TBLPROPERTIES (delta.enableDeletionVectors = true)")
    spark.sql(f"DELETE FROM delta.`{other.table_path('dv')}` WHERE id = 0")
    with pytest.raises(InterlakeError, match=r"^query failed: Catalog Error: Table with name dv does not exist: dv: "
                                             r"delta-rs cannot read it as plain files \(reader features "
                                             r"deletionVectors\): query it through Spark \(`interlake sql` without "
                                             r"--engine\), or make it plain files once with `interlake sql 'ALTER "
                                             r"TABLE dv DROP FEATURE deletionVectors'` \(Delta rewrites the files it "
                                             r"must\)$"):
        run_sql_duckdb(other, "SELECT * FROM dv")
    run_sql_duckdb(other, "SELECT count(*) AS n FROM interlake.plain")
    assert [line.strip() for line in capsys.readouterr().out.splitlines()[-2:]] == ["2", "(1 row)"]
    # and the advice works: the table reads without Spark after the command it names, its rows as Spark's
    spark.sql(f"ALTER TABLE delta.`{other.table_path('dv')}` DROP FEATURE deletionVectors")
    run_sql_duckdb(other, "SELECT list(id ORDER BY id) AS ids FROM dv")
    assert [line.strip() for line in capsys.readouterr().out.splitlines()[-2:]] == ["[1,2]", "(1 row)"]
    # two features: one command each, in the order to run them; a feature not known to drop gives no such advice
    two, variant = other.table_path("two"), other.table_path("var")
    spark.range(3).write.format("delta").save(two)
    spark.sql(f"ALTER TABLE delta.`{two}` SET TBLPROPERTIES (delta.enableDeletionVectors = true, "
              "delta.checkpointPolicy = 'v2')")
    spark.sql(f"DELETE FROM delta.`{two}` WHERE id = 0")
    spark.sql("SELECT 1 AS id, parse_json('{\"a\": 1}') AS v").write.format("delta").save(variant)
    with pytest.raises(InterlakeError, match=r"\(reader features deletionVectors, v2Checkpoint\): query it through "
                                             r"Spark \(`interlake sql` without --engine\), or make it plain files "
                                             r"once with `interlake sql 'ALTER TABLE two DROP FEATURE "
                                             r"deletionVectors'`, then `interlake sql 'ALTER TABLE two DROP FEATURE "
                                             r"v2Checkpoint'` \(Delta"):
        run_sql_duckdb(other, "SELECT * FROM two")
    with pytest.raises(InterlakeError, match=r"var: delta-rs cannot read it as plain files \(reader features "
                                             r"variantType\): query it through Spark \(`interlake sql` without "
                                             r"--engine\)$"):
        run_sql_duckdb(other, "SELECT * FROM var")
    # a TIMESTAMP_NTZ column (reader feature timestampNtz) is a plain Parquet timestamp: read, not skipped
    spark.sql("SELECT 1 AS id, to_timestamp_ntz('2026-01-02 03:04:05') AS t").write.format("delta").save(
        other.table_path("ntz"))
    run_sql_duckdb(other, "SELECT id, t FROM ntz")
    assert [line.split() for line in capsys.readouterr().out.splitlines()[-2:]] == [
        ["1", "2026-01-02", "03:04:05"], ["(1", "row)"]]


def test_maintenance_keeps_time_travel_and_is_safe_twice(spark, full_lake):
    cfg = full_lake
    path = cfg.table_path(T.INTERACTIONS)
    before = spark.read.format("delta").option("versionAsOf", 1).load(path).count()
    latest = spark.read.format("delta").load(path)
    expected = latest.select("event_id").orderBy("event_id").collect()
    first = maintain(spark, cfg)
    second = maintain(spark, cfg)
    assert {s["table"] for s in first} >= {T.INTERACTIONS, T.ITEM_SIMILARITY}
    assert len(second) == len(first)
    assert spark.read.format("delta").option("versionAsOf", 1).load(path).count() == before
    assert spark.read.format("delta").load(path).select("event_id").orderBy("event_id").collect() == expected
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("operation").collect()
    assert any(r.operation == "OPTIMIZE" for r in history)


def test_a_nightly_maintain_z_orders_only_the_partitions_written_since_the_last_one(spark, make_config):
    """Delta's Z-order rewrites every file it is given, even one it wrote the night before: a nightly maintain used to
    rewrite all of `interactions` (a year of days) and `trending_items` every night. Now the first run Z-orders every
    day, the next finds nothing new, and after an ingest into one day only that day's files are rewritten."""
    from interlake.tables.interactions import ensure_interactions_table

    cfg = make_config()
    path = cfg.table_path(T.INTERACTIONS)
    ensure_interactions_table(spark, path, ("view", "add_to_cart", "purchase"))

    def add(day: int, n: int, tag: str):  # n rows of one day in n files, as n small ingests write them
        for i in range(n):
            (spark.createDataFrame([(f"{tag}{day}-{i}", f"u{i}", f"i{i % 3}", "view",
                                     dt.datetime(2026, 10, day, 12, i), "s", dt.datetime(2026, 10, 9))],
                                   "event_id STRING, user_id STRING, item_id STRING, interaction_type STRING, "
                                   "event_ts TIMESTAMP, source STRING, ingested_at TIMESTAMP")
             .withColumn("event_date", F.to_date("event_ts"))
             .write.format("delta").mode("append").save(path))

    def files() -> dict[str, set[str]]:
        out = {}
        for f in spark.read.format("delta").load(path).inputFiles():
            out.setdefault(f.split("event_date=")[1].split("/")[0], set()).add(f)
        return out

    def zorder(summary) -> str:
        return next(s["detail"] for s in summary if s["table"] == T.INTERACTIONS).split(";")[0]

    for day in (1, 2, 3):
        add(day, 2, "a")
    assert zorder(maintain(spark, cfg)) == "files 6 -> 3 (z-order item_id, 3 of 3 partitions)"
    assert zorder(maintain(spark, cfg)) == "nothing new to z-order by item_id"
    before = files()
    add(2, 2, "b")
    assert zorder(maintain(spark, cfg)) == "files 3 -> 1 (z-order item_id, 1 of 3 partitions)"
    after = files()
    assert after["2026-10-01"] == before["2026-10-01"] and after["2026-10-03"] == before["2026-10-03"]
    assert len(after["2026-10-02"]) == 1 and after["2026-10-02"] != before["2026-10-02"]
    assert spark.read.format("delta").load(path).count() == 8
    assert zorder(maintain(spark, cfg)) == "nothing new to z-order by item_id"
    # `interlake tables`: the last operation is maintenance; when the rows last changed is its own column (since
    # 2026-12-02: after a nightly maintain every table said VACUUM END, the time of the last write nowhere)
    write_at = (spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("operation = 'WRITE'")
                .select(F.date_format(F.max("timestamp"), "yyyy-MM-dd HH:mm:ss")).first()[0])
    summary = next(s for s in table_summaries(spark, cfg) if s["table"] == "interlake.interactions")
    assert (summary["last_operation"], summary["data_changed_at"]) == ("VACUUM END", write_at)
    assert summary["at"] > write_at
    assert table_summaries_without_spark(cfg) == table_summaries(spark, cfg)


def test_retention_trims_old_quarantine_rows_and_ledger_rows_of_files_gone_but_not_of_an_unlisted_folder(
        spark, make_config, tmp_path, caplog):
    """Quarantine rows older than the retention go. A ledger row is what keeps its file from being taken again, so an
    old row goes only when its file is gone from the source's folder; a folder that cannot be listed right now (an
    unmounted share, expired credentials) keeps its rows: before 2026-11-30 they were all deleted, and every old
    file of that source would have been taken again once the folder came back. A source that reads its subfolders
    (``recursiveFileLookup``) keeps the rows of the files in them."""
    import logging

    from interlake.ingest.files import list_files
    from interlake.ingest.pipeline import ensure_ingest_tables

    now, old, recent = dt.datetime(2026, 11, 30), dt.datetime(2025, 1, 1), dt.datetime(2026, 11, 1)
    (tmp_path / "in/shop").mkdir(parents=True)
    (tmp_path / "in/shop/a.csv").write_text("customer,product,event,time\nu1,i1,VIEW,1790000000\n")
    (tmp_path / "in/shop/2026-11-08").mkdir()
    (tmp_path / "in/shop/2026-11-08/d.csv").write_text("customer,product,event,time\nu2,i1,VIEW,1790000000\n")
    shop = {"format": "csv", "path": str(tmp_path / "in/shop"), "options": {"recursiveFileLookup": "true"},
            "fields": {"user_id": "customer", "item_id": "product", "interaction_type": "event", "timestamp": "time"},
            "interaction_type_map": {"VIEW": "view"}, "timestamp_format": "epoch_s"}
    cfg = make_config(sources={"shop": shop, "q": {**shop, "path": str(tmp_path / "in/unmounted")}})
    ensure_ingest_tables(spark, cfg)
    deep, present = (f.file for f in list_files(spark, str(tmp_path / "in/shop"), recursive=True))
    gone = present.replace("a.csv", "b.csv")
    ledger = [("shop", present, old), ("shop", deep, old), ("shop", gone, old),
              ("shop", gone.replace("b.csv", "c.csv"), recent), ("q", "file:/mnt/queue/x.jsonl", old)]
    spark.createDataFrame([(s_, f, 1, at, 1, 1, 0, 0, "r", at, "committed") for s_, f, at in ledger], T.LEDGER_DDL) \
        .write.format("delta").mode("append").save(cfg.table_path(T.LEDGER))
    spark.createDataFrame([("shop", gone, "x", ["r"], "r", at) for at in (old, recent)], T.QUARANTINE_DDL) \
        .write.format("delta").mode("append").save(cfg.table_path(T.QUARANTINE))
    caplog.set_level(logging.WARNING, logger="interlake")
    summary = {s["table"]: s["detail"] for s in maintain(spark, cfg, now=now) if s["action"] == "trim"}
    assert summary == {T.QUARANTINE: "1 rows older than 2026-09-01",
                       T.LEDGER: "1 files older than 2025-11-30 and gone from their source"}
    assert sorted((r.source, r.file.rsplit("/", 1)[1]) for r in spark.read.format("delta")
                  .load(cfg.table_path(T.LEDGER)).collect()) == [
        ("q", "x.jsonl"), ("shop", "a.csv"), ("shop", "c.csv"), ("shop", "d.csv")]
    assert [r.ingested_at for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()] == [recent]
    assert any("source q: folder" in r.getMessage() and "its ledger rows are kept" in r.getMessage()
               for r in caplog.records)


def test_an_append_only_quarantine_is_not_trimmed_and_maintain_goes_on(spark, make_config, caplog):
    """``interactions_quarantine`` made append-only by hand (to keep its rows): maintain's trim failed with Delta's
    ``DELTA_CANNOT_MODIFY_APPEND_ONLY`` and nothing after it ran. Its rows are kept, the summary says so and how to
    let maintain trim it, and the tables are still compacted."""
    from interlake.ingest.pipeline import ensure_ingest_tables

    cfg = make_config()
    ensure_ingest_tables(spark, cfg)
    old = dt.datetime(2025, 1, 1)
    for _ in range(2):
        spark.createDataFrame([("shop", "file:/in/a.csv", "x", ["r"], "r", old)], T.QUARANTINE_DDL) \
            .write.format("delta").mode("append").save(cfg.table_path(T.QUARANTINE))
    spark.sql(f"ALTER TABLE delta.`{cfg.table_path(T.QUARANTINE)}` SET TBLPROPERTIES ('delta.appendOnly' = 'true')")
    summary = {(s["table"], s["action"]): s["detail"] for s in maintain(spark, cfg, now=dt.datetime(2026, 11, 30))}
    assert summary[(T.QUARANTINE, "trim")] == (
        "none: the table is append-only (delta.appendOnly), 2 rows older than 2026-09-01 kept; `interlake sql \"ALTER "
        "TABLE interactions_quarantine SET TBLPROPERTIES ('delta.appendOnly' = 'false')\"` lets maintain trim it")
    assert summary[(T.QUARANTINE, "optimize+vacuum")].startswith("files 2 -> 1")
    assert spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).count() == 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "interactions_quarantine is append-only (delta.appendOnly = true): not trimmed, 2 rows older than 2026-09-01 "
        "kept"]


def test_retention_deletes_old_model_artifacts_but_the_published_one_s_and_old_quality_reports(
        spark, make_config, tmp_path):
    """Each training writes its ALS, LSH and index models under _models/ (for a million users, ~130 MB of user factors
    at rank 32) and each ingest run its gate's reports under _quality/; nothing deleted them, so a nightly schedule
    kept every one for good. The published model's folder is kept whatever its age; a folder whose name is not a
    model version or a run id is not the jobs' and is left. ``now`` is time-zone-aware here (09:00 at +09:00 is
    midnight UTC): a library caller's aware ``now`` failed maintain, compared with the folders' naive times."""
    cfg = make_config(maintenance={"model_retention_days": 30, "quarantine_retention_days": 10})
    lake = tmp_path / "lake"
    names = {"_models": ["m20260901000000", "m20261001000000", "m20261115000000", "notes"],
             "_quality": ["20261101T000000Z-0a1b2c3d", "20261125T120000Z-4e5f6a7b", "manual"]}
    for folder, subs in names.items():
        for name in subs:
            (lake / folder / name).mkdir(parents=True)
            (lake / folder / name / "metadata.json").write_text("{}")
    published = [("m20260901000000", dt.datetime(2026, 9, 1), 3, "{}", {"ndcg@10": 0.2}, "x", True, "passed the gate"),
                 ("m20261001000000", dt.datetime(2026, 10, 1), 4, "{}", {"ndcg@10": 0.1}, "x", False, "worse")]
    spark.createDataFrame(published, T.MODEL_RUNS_DDL).write.format("delta").save(cfg.table_path(T.MODEL_RUNS))
    tokyo = dt.timezone(dt.timedelta(hours=9))
    summary = {s["table"]: s["detail"] for s in maintain(spark, cfg, now=dt.datetime(2026, 11, 30, 9, tzinfo=tokyo))
               if s["action"] == "trim"}
    assert summary == {"_models": "1 model folders older than 2026-10-31 (not the published m20260901000000)",
                       "_quality": "1 ingest runs' reports older than 2026-11-20"}
    assert sorted(os.listdir(lake / "_models")) == ["m20260901000000", "m20261115000000", "notes"]
    assert sorted(os.listdir(lake / "_quality")) == ["20261125T120000Z-4e5f6a7b", "manual"]


def test_vacuum_below_the_safety_default_is_refused(spark, make_config):
    cfg = make_config(maintenance={"vacuum_retention_hours": 1})
    with pytest.raises(ConfigError, match="below Delta's safety default of 168 hours.*--force"):
        maintain(spark, cfg)


def test_cluster_config_is_valid():
    cfg = load_config(str(ROOT / "conf/cluster.yaml"))
    assert cfg.spark.master is None
    assert cfg.table_path("interactions") == "s3a://acme-lakehouse/interlake/interactions"
    assert cfg.sources["pixel_queue"].path.startswith("s3a://")


def test_bundle_jobs_are_ordered_and_point_at_real_entry_points():
    from interlake.scheduling import load_job, task_order

    tasks, variables = load_job(str(ROOT / "databricks.yml"), "nightly")
    assert [t["task_key"] for t in task_order(tasks)] == ["ingest", "train", "maintain"]
    for t in tasks:
        assert (ROOT / t["spark_python_task"]["python_file"]).exists()
        assert t.get("max_retries") is not None and t.get("timeout_seconds")
    doc = yaml.safe_load((ROOT / "databricks.yml").read_text())
    assert doc["resources"]["jobs"]["nightly"]["schedule"]["quartz_cron_expression"]
    assert (ROOT / doc["resources"]["jobs"]["trending"]["tasks"][0]["spark_python_task"]["python_file"]).exists()
    with pytest.raises(ConfigError, match="no job named 'weekly'; jobs there: nightly, trending"):
        load_job(str(ROOT / "databricks.yml"), "weekly")


BUNDLE_TASK = "      - task_key: first\n        spark_python_task: {python_file: first.py}\n"


@pytest.mark.parametrize(("tasks", "error"), [
    ("  tasks: [\n", "not valid YAML at line 11, column 1: expected the node content, but found '<stream end>'"),
    ("      - spark_python_task: {python_file: first.py}\n",
     "resources.jobs.j.tasks[1]: a task needs a task_key (its name)"),
    ("      - task_key: nb\n        notebook_task: {notebook_path: ./x}\n",
     "task 'nb' of job 'j': run-job runs spark_python_task tasks (python_file, parameters); this one has "
     "notebook_task"),
    ("      - task_key: b\n        spark_python_task: {python_file: jobs/nope.py}\n",
     "task 'b' of job 'j': python_file jobs/nope.py does not exist (paths are relative to the bundle's folder, "),
    ("      - task_key: b\n        depends_on: [first]\n        spark_python_task: {python_file: first.py}\n",
     "resources.jobs.j.tasks[1] (b).depends_on: expected a list of {task_key: <name>}"),
    ("      - task_key: first\n        spark_python_task: {python_file: first.py}\n",
     "resources.jobs.j.tasks: task_key 'first' is given to more than one task"),
    ("      - task_key: b\n        spark_python_task: {python_file: first.py, parameters: [--conf, '${var.cnf}']}\n",
     "task 'b' of job 'j': parameter '${var.cnf}': the bundle declares no variable 'cnf' (variables: conf, day)"),
    ("      - task_key: b\n        spark_python_task: {python_file: first.py, parameters: [--day, '${var.day}']}\n",
     "task 'b' of job 'j': parameter '${var.day}': variable 'day' has no default; give it a default in the bundle"),
    ("      - task_key: b\n        spark_python_task: {python_file: first.py, parameters: ['${bundle.name}']}\n",
     "task 'b' of job 'j': parameter '${bundle.name}': run-job replaces only ${var.NAME}, not ${bundle.name}"),
])
def test_a_bundle_mistake_is_one_line_before_any_task_runs(tmp_path, capsys, tasks, error):
    """A job whose bundle has a mistake anywhere (a task run-job cannot run, a script that is not there, a parameter
    it cannot fill) fails in one line naming it before its first task starts: before 2026-12-06 a YAML or shape
    mistake was ``failed: AttributeError``/``KeyError``/``TypeError``, a task without ``spark_python_task`` ran
    ``python <folder>``, a missing script or an unknown ``${var.x}`` (passed on as its text) failed only when its
    task's turn came, after the tasks before it had run."""
    from interlake.cli import main

    (tmp_path / "first.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    bundle = tmp_path / "b.yml"
    bundle.write_text("variables:\n  conf: {default: conf.yaml}\n  day: {description: which day}\n"
                      "resources:\n  jobs:\n    j:\n      tasks:\n" + BUNDLE_TASK + tasks)
    assert main(["run-job", "j", "--bundle", str(bundle)]) == 2
    assert capsys.readouterr().err.startswith(f"interlake run-job: error: {bundle}: {error}")
    assert not (tmp_path / "ran").exists()


def test_a_file_that_is_not_a_bundle_says_so(tmp_path, capsys):
    from interlake.cli import main

    for text, found in (("", "nothing"), ("- a\n- b\n", "a list")):
        (tmp_path / "b.yml").write_text(text)
        assert main(["run-job", "j", "--bundle", str(tmp_path / "b.yml")]) == 2
        assert capsys.readouterr().err == (
            f"interlake run-job: error: {tmp_path / 'b.yml'}: is not a bundle: expected a mapping with "
            f"resources.jobs.<name>.tasks (as databricks.yml has), found {found}\n")


def test_a_ctrl_c_that_arrives_as_a_task_starts_reaches_it_once(tmp_path):
    """``run-job`` passes a signal on to the task running. Before 2026-12-06 one that arrived just after the task's
    process had started was passed on by the handler and then again with those received while it started: a second
    Ctrl-C, which stops a job at once. Real signals, a real task process; the Ctrl-C is sent as the task is noted.
    The signals passed on are counted in this process: Linux delivered the two to the task as one, this time."""
    ready = tmp_path / "ready"
    task = ("import pathlib, signal, sys, time\n"
            "got = []\n"
            "signal.signal(signal.SIGINT, lambda s, f: got.append(s))\n"
            f"pathlib.Path({str(ready)!r}).touch()\n"
            "end = time.time() + 1.5\n"
            "while time.time() < end:\n"
            "    time.sleep(0.05)\n"
            "sys.exit(len(got))\n")

    class CtrlCAsTheTaskStarts(Forwarder):
        _task = None

        @property
        def task(self):
            return self._task

        @task.setter
        def task(self, value):
            self._task = value
            if value is not None:
                passed_on = value.send_signal  # counted here: the task's OS merges a signal sent twice at once
                value.send_signal = lambda signum: (sent.append(signum), passed_on(signum))
                deadline = time.time() + 60
                while not ready.exists():  # the task counts Ctrl-Cs from here on
                    assert value.poll() is None and time.time() < deadline
                    time.sleep(0.02)
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs before os.kill returns

    sent = []
    with CtrlCAsTheTaskStarts() as forwarder:
        code = forwarder.run([sys.executable, "-c", task])
    assert (code, forwarder.signals, sent) == (1, [signal.SIGINT], [signal.SIGINT])


def test_run_job_runs_tasks_in_order_and_stops_at_the_first_failure(tmp_path, demo_lake):
    """The real entry points via subprocesses: ingest succeeds, train fails (too little data), maintain is skipped."""
    cfg, _, root = demo_lake
    doc = yaml.safe_load(open(cfg.path).read())
    doc["lakehouse"] = str(tmp_path / "lake")
    doc["train"] = {**doc["train"], "min_users": 100000}
    conf = tmp_path / "job.yaml"
    conf.write_text(yaml.safe_dump(doc))
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text())
    (tmp_path / "jobs").symlink_to(ROOT / "jobs")
    (tmp_path / "databricks.yml").write_text(yaml.safe_dump(bundle))
    proc = subprocess.run([sys.executable, "-m", "interlake", "run-job", "nightly", "--conf", str(conf),
                           "--bundle", str(tmp_path / "databricks.yml")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr[-3000:]
    out = proc.stdout
    assert "[nightly] ingest       ok" in out
    assert "[nightly] train        FAILED (exit 1)" in out
    assert "[nightly] maintain     skipped (an earlier task failed)" in out
    assert "job nightly: FAILED at train; 2 of 3 tasks ran" in out
    assert "training needs at least 100000 users" in proc.stderr
    # the failed task left every table as the completed ingest left it
    assert not (tmp_path / "lake" / T.ITEM_SIMILARITY).exists()
    assert (tmp_path / "lake" / T.INTERACTIONS / "_delta_log").exists()


def _nightly_in_its_ingest(tmp_path, demo_lake):
    """`run-job nightly` on the demo's sources into a lakehouse of its own, once its ingest task is reading."""
    cfg, _, _ = demo_lake
    doc = yaml.safe_load(open(cfg.path).read())
    doc["lakehouse"] = str(tmp_path / "lake")
    conf = tmp_path / "job.yaml"
    conf.write_text(yaml.safe_dump(doc))
    proc, lines, reader = started_with_stderr(["run-job", "nightly", "--conf", str(conf)])
    wait_for_line(proc, lines, "reading  source=")
    return proc, lines, reader


def test_ctrl_c_reaches_the_running_task_once_and_no_further_task_starts(tmp_path, demo_lake):
    """Ctrl-C to `run-job` while its ingest task runs: the task stops as `interlake ingest` does on its own (its one
    line, exit 130), `run-job` waits for it, skips the rest and says so. Before, Python's `subprocess.run` killed the
    task a quarter of a second after the interrupt and `run-job` printed no summary."""
    proc, lines, reader = _nightly_in_its_ingest(tmp_path, demo_lake)
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.wait(timeout=300)
    reader.join(timeout=60)
    err = "".join(lines)
    assert proc.returncode == 130, out + err[-3000:]
    assert "[nightly] ingest       interrupted (exit 130)" in out, out
    assert "[nightly] train        skipped (interrupted)" in out
    assert "[nightly] maintain     skipped (interrupted)" in out
    assert out.splitlines()[-1] == "job nightly: interrupted at ingest; 1 of 3 tasks ran"
    assert err.splitlines()[-1] == "interlake ingest: interrupted", err[-3000:]
    assert err.count("cancelling Spark's jobs") == 1  # passed on once: a second would have stopped it at once
    assert "Traceback" not in err and "Py4J" not in err, err[-3000:]
    assert not (tmp_path / "lake" / T.ITEM_FACTORS).exists()


def test_a_killed_run_job_interrupts_its_running_task(tmp_path, demo_lake):
    """SIGKILL to `run-job` (a scheduler's timeout) while its ingest task runs: the kernel sends the task a Ctrl-C,
    and it stops as `interlake ingest` does (its one line); before 2026-12-02 it ran on unwatched."""
    proc, lines, reader = _nightly_in_its_ingest(tmp_path, demo_lake)
    proc.kill()
    proc.wait(timeout=60)
    reader.join(timeout=300)  # the task and its JVM hold the same stderr: it ends when they have all exited
    err = "".join(lines)
    assert not reader.is_alive(), err[-3000:]
    assert err.splitlines()[-1] == "interlake ingest: interrupted", err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def test_model_history_reads_each_run_at_its_own_k(spark, make_config):
    """The report and the model notebook plot nDCG per run; before 2026-12-01 they read `ndcg@10` always, so runs
    trained with `train.k: 5` showed no value at all."""
    from datetime import datetime

    from interlake.analyst.views import model_history

    cfg = make_config()
    runs = [("m1", datetime(2026, 11, 1), {"ndcg@10": 0.2, "baseline_ndcg@10": 0.1, "recall@10": 0.5}, True),
            ("m2", datetime(2026, 11, 2), {"ndcg@5": 0.3, "baseline_ndcg@5": 0.15, "map@5": 0.1}, False)]
    (spark.createDataFrame([(v, t, 1, "{}", m, "/a", p, "") for v, t, m, p in runs], T.MODEL_RUNS_DDL)
     .write.format("delta").save(cfg.table_path(T.MODEL_RUNS)))
    hist = model_history(spark, cfg)
    assert hist[["model_version", "published", "k", "ndcg", "baseline_ndcg"]].values.tolist() == [
        ["m1", True, 10, 0.2, 0.1], ["m2", False, 5, 0.3, 0.15]]
    assert model_history(spark, cfg, k=5)["model_version"].tolist() == ["m2"]


def test_maintain_says_how_many_files_vacuum_deleted_in_its_summary_not_in_delta_s_lines(spark, tmp_path):
    """Delta's VACUUM prints `Deleted N files and directories in a total of M directories.` on the JVM's standard
    output: `interlake maintain` printed one such line per table before its summary, with nothing saying which
    table. The count is now in the table's own summary line, and standard output is the summary alone."""
    from tests.conftest import BASE

    lake = tmp_path / "lake"
    for value in ("a", "b"):  # two commits, two files: OPTIMIZE leaves two files for VACUUM to delete
        spark.createDataFrame([(value,)], "x STRING").write.format("delta").mode("append").save(str(lake / "events"))
    spark.sql(f"OPTIMIZE delta.`{lake / 'events'}`")
    time.sleep(1)  # older than the retention below

    def files() -> set:  # the data files (a local disk's .crc checksum files go with them, uncounted)
        return set((lake / "events").glob("*.parquet"))

    before = files()
    conf = tmp_path / "maintain.yaml"
    conf.write_text(yaml.safe_dump({**BASE, "lakehouse": str(lake), "maintenance": {"vacuum_retention_hours": 1e-4}}))
    proc = subprocess.run([sys.executable, "-m", "interlake", "maintain", "--conf", str(conf), "--force"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    deleted = len(before - files())  # the files OPTIMIZE replaced
    assert deleted >= 2
    assert proc.stdout.splitlines() == [
        f"events                   optimize+vacuum  nothing to compact; vacuum retention 0.0001h, "
        f"{deleted} files deleted",
        "maintain: ok; 1 actions"], proc.stdout
    assert sorted(p.name for p in files()) == sorted([
        f.rsplit("/", 1)[-1] for f in spark.read.format("delta").load(str(lake / "events")).inputFiles()])


def test_a_lakehouse_given_as_a_uri_is_listed_maintained_and_registered(spark, make_config, tmp_path):
    """On a cluster the lakehouse is a URI (s3a://, abfss://). Before 2026-12-01 only a local folder was listed, so
    `maintain` there compacted and vacuumed nothing and said "ok; 0 actions", and `tables` said there were none.
    A file: URI takes the same path through Hadoop's filesystem as an object store."""
    from interlake.tables.catalog import register_lakehouse

    uri = f"file://{tmp_path}/uri lake"
    cfg = make_config(lakehouse=uri, database="urilake")
    for value in ("a", "b"):  # two commits, two files: something to compact
        spark.createDataFrame([(value,)], "x STRING").write.format("delta").mode("append").save(f"{uri}/events")
    spark.createDataFrame([(1,)], "n INT").write.parquet(f"{uri}/not_delta")  # neither is a table
    spark.createDataFrame([(1,)], "n INT").write.format("delta").save(f"{uri}/_checkpoints/x")
    assert lakehouse_tables(uri, spark) == {"events": f"{uri}/events"}
    assert lakehouse_tables(uri) == {}  # without Spark a URI cannot be listed
    summary = maintain(spark, cfg)
    assert [(s["table"], s["action"]) for s in summary] == [("events", "optimize+vacuum")]
    assert summary[0]["detail"].startswith("files 2 -> 1")
    assert [(s["table"], s["rows"]) for s in table_summaries(spark, cfg)] == [("urilake.events", 2)]
    # a file: lakehouse keeps its own catalog as a folder does: a table an analyst made there without LOCATION (in
    # its _warehouse) is found and registered by name too
    cohort = f"{uri}/_warehouse/urilake.db/cohort"
    spark.createDataFrame([("c",)], "x STRING").write.format("delta").save(cohort)
    assert lakehouse_tables(uri, spark, "urilake") == {"events": f"{uri}/events", "cohort": cohort}
    register_lakehouse(spark, uri, "urilake")
    assert sorted(r["x"] for r in spark.sql("SELECT x FROM urilake.events").collect()) == ["a", "b"]
    assert [r["x"] for r in spark.sql("SELECT x FROM urilake.cohort").collect()] == ["c"]
    spark.sql("DROP DATABASE urilake CASCADE")  # the entry only: the table is external
    assert sorted(r["x"] for r in spark.read.format("delta").load(f"{uri}/events").collect()) == ["a", "b"]


def test_a_database_given_with_its_catalog_registers_and_queries_the_tables_there(spark, make_config, tmp_path,
                                                                                   capsys, caplog):
    """Unity Catalog names a schema with its catalog (``database: main.interlake``), which the config refused before
    2026-12-02. Here with this session's own catalog, ``spark_catalog``: ingest registers its tables in
    ``spark_catalog.shopdb``; ``interlake sql`` finds them by name and by their three-part name, and leaves the
    session's catalog and schema as they were; ``read_table`` takes the three-part name, DuckDB the schema's. A catalog
    the session lacks is a warning that says what it needs, and the job runs on paths; three parts are a config
    error."""
    from interlake.analyst.duck import connect
    from interlake.analyst.sql import run_sql
    from interlake.ingest.pipeline import ingest

    from tests.ingest_helpers import CSV_SOURCE, T0, write

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,BUY,{T0}\n")
    sources = {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}}
    cfg = make_config(database="spark_catalog.shopdb", sources=sources)
    assert ingest(spark, cfg, now=dt.datetime(2026, 11, 1)).ok
    assert {t.name for t in spark.catalog.listTables("spark_catalog.shopdb")} == {
        T.INTERACTIONS, T.QUARANTINE, T.LEDGER}
    capsys.readouterr()
    run_sql(spark, "SELECT user_id, interaction_type FROM interactions ORDER BY 1", database=cfg.database)
    run_sql(spark, "SELECT count(*) AS n FROM spark_catalog.shopdb.interactions", database=cfg.database)
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [
        ["user_id", "interaction_type"], ["-------", "----------------"], ["u1", "view"], ["u2", "purchase"],
        ["(2", "rows)"], ["n"], ["-"], ["2"], ["(1", "row)"]]
    assert (spark.catalog.currentCatalog(), spark.catalog.currentDatabase()) == ("spark_catalog", "default")
    assert sorted(read_table("spark_catalog.shopdb.interactions", lakehouse=cfg.lakehouse)["user_id"]) == ["u1", "u2"]
    con, _ = connect(cfg.lakehouse, cfg.database)
    assert con.execute("SELECT count(*) FROM shopdb.interactions").fetchall() == [(2,)]

    elsewhere = make_config(database="nocatalog.shopdb", lakehouse=str(tmp_path / "lake2"), sources=sources)
    with caplog.at_level("WARNING"):
        assert ingest(spark, elsewhere, now=dt.datetime(2026, 11, 1)).ok
    assert "a database catalog.schema needs that catalog in the session (Unity Catalog on Databricks, or " \
           "spark.sql.catalog.<name>)" in caplog.text
    with pytest.raises(ConfigError, match=r"^database: 'a.b.c' must be a schema name, or catalog.schema"):
        make_config(database="a.b.c")
