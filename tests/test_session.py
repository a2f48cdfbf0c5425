"""The one session builder: a config's Spark settings, on a session already running and on a new one."""

import datetime as dt
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from interlake.config import SparkSettings
from interlake.errors import ConfigError
from interlake.ingest.pipeline import ingest
from interlake.schemas import tables as T
from interlake.session import build_session
from pyspark.sql import functions as F

from tests.conftest import BASE, PROCESS_SPARK_CONF, ROOT, TEST_SPARK_CONF
from tests.ingest_helpers import CSV_SOURCE, T0, table_rows, write


def test_runtime_settings_apply_to_a_running_session_and_static_ones_do_not_fail_it(spark, tmp_path, caplog):
    """A notebook or a job calling the builder twice: runtime SQL settings change the running session; a static one
    (fixed when the session started, like the codegen cache size) cannot: a warning says so, not an error."""
    before = spark.conf.get("spark.sql.codegen.cache.maxEntries")
    conf = {**TEST_SPARK_CONF, "spark.sql.shuffle.partitions": "3", "spark.sql.codegen.cache.maxEntries": "999"}
    try:
        same = build_session(SparkSettings(master="local[2]", conf=conf), str(tmp_path / "lake"), register=False)
        assert same is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.conf.get("spark.sql.codegen.cache.maxEntries") == before
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
            f"spark.conf spark.sql.codegen.cache.maxEntries=999 not applied: it is a static setting and this "
            f"process's session already runs with {before}; set it where the session is built (spark-submit --conf, "
            f"the cluster)"]
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", TEST_SPARK_CONF["spark.sql.shuffle.partitions"])


def test_a_value_spark_refuses_is_a_one_line_config_error_and_the_session_goes_on(spark, tmp_path):
    """On a running session (a notebook's): Spark's own check, as a ConfigError naming the key; nothing changed."""
    conf = {**TEST_SPARK_CONF, "spark.sql.ansi.enabled": "maybe"}
    with pytest.raises(ConfigError, match=r"^spark\.conf\.spark\.sql\.ansi\.enabled: \[INVALID_CONF_VALUE"):
        build_session(SparkSettings(master="local[2]", conf=conf), str(tmp_path / "lake"), register=False)
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    assert spark.sql("SELECT 1 AS x").first().x == 1


def test_a_cluster_s_legacy_time_parser_is_set_back_so_a_timestamp_with_trailing_text_is_quarantined(
        spark, make_config, tmp_path):
    """A cluster (or a notebook) running with ``spark.sql.legacy.timeParserPolicy=LEGACY``: Java's SimpleDateFormat
    read the start of ``2026-11-30 10:00:00xyz`` and the job stored it as 10:00. The jobs' session parses with
    Spark's own parser: the value is quarantined, the clean one lands."""
    write(tmp_path / "in/shop/a.csv", "customer,product,event,time\nu1,i1,VIEW,2026-11-30 10:00:00\n"
                                      "u2,i2,VIEW,2026-11-30 10:00:00xyz\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                                        "timestamp_format": "yyyy-MM-dd HH:mm:ss"}},
                      ingest={"max_quarantine_share": 0.9})
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "LEGACY")
    try:
        assert build_session(cfg.spark, cfg.lakehouse, register=False) is spark
        assert spark.conf.get("spark.sql.legacy.timeParserPolicy") == "CORRECTED"
        assert ingest(spark, cfg, now=dt.datetime(2026, 12, 1)).ok
    finally:
        spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "event_ts")) == [
        ("u1", dt.datetime(2026, 11, 30, 10, 0))]
    assert [tuple(r) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
            .select(F.col("reasons")).collect()] == [(["timestamp '2026-11-30 10:00:00xyz' cannot be parsed as "
                                                        "yyyy-MM-dd HH:mm:ss"],)]


def test_a_new_process_checks_sql_settings_before_using_them(write_yaml, tmp_path):
    """A new session is not launched with a config's spark.sql.* values: a bad one used to make every call fail and
    PySpark's error conversion recurse, so the job hung. Now: one line, exit 2, in seconds. A good static one still
    reaches the new session, and YAML's `off` reaches Spark as `false`."""
    def run(conf: dict, sql: str) -> subprocess.CompletedProcess:
        doc = {**BASE, "lakehouse": str(tmp_path / "lake"), "spark": {"master": "local[1]", "conf": conf}}
        path = write_yaml(doc)
        with open(path) as f:  # a plain `off`, as a person writes it (safe_dump quotes it)
            text = f.read().replace("'off'", "off")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([sys.executable, "-m", "interlake", "sql", sql, "--conf", path],
                              capture_output=True, text=True, timeout=180)

    bad = run({**PROCESS_SPARK_CONF, "spark.sql.shuffle.partitions": "eight"}, "SELECT 1")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "interlake sql: error: spark.conf.spark.sql.shuffle.partitions: [INVALID_CONF_VALUE.TYPE_MISMATCH] The value "
        "'eight' in the config \"spark.sql.shuffle.partitions\" is invalid. It should be a/an 'int' value.")
    assert "Traceback" not in bad.stderr
    good = run({**PROCESS_SPARK_CONF, "spark.sql.codegen.cache.maxEntries": 321,
                "spark.sql.adaptive.skewJoin.enabled": "off"},
               "SELECT '${spark.sql.codegen.cache.maxEntries}' AS cache, "
               "'${spark.sql.adaptive.skewJoin.enabled}' AS skew")
    assert good.returncode == 0, good.stderr[-2000:]
    assert good.stdout.splitlines()[2].split() == ["321", "false"]


def test_a_jvm_setting_that_stops_the_jvm_is_named_in_one_line(write_yaml, tmp_path):
    """A JVM that cannot start (here: a heap size Java refuses) prints its own reason; the job then names the
    config's JVM settings in one line (exit 2), instead of PySpark's 'Java gateway process exited'."""
    doc = {**BASE, "lakehouse": str(tmp_path / "lake"),
           "spark": {"master": "local[1]", "conf": {**TEST_SPARK_CONF, "spark.driver.memory": "lots"}}}
    proc = subprocess.run([sys.executable, "-m", "interlake", "sql", "SELECT 1", "--conf", write_yaml(doc)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "interlake sql: error: the Spark JVM did not start (its own message is above); check the JVM settings under "
        "spark.conf: spark.driver.memory=lots")
    assert "Invalid maximum heap size" in proc.stderr and "Traceback" not in proc.stderr


def test_a_lakehouse_that_is_a_file_or_under_one_is_one_line_before_spark_starts(write_yaml, tmp_path):
    """It failed the job at its first write, after Spark had started and a warning that the tables could not be
    registered: `failed: org.apache.hadoop.fs.ParentNotDirectoryException: Parent path is not a directory`."""
    export = tmp_path / "export.csv"
    export.write_text("customer,product\n")
    for lakehouse, shown in ((export / "lake", export / "lake"), (export, export),
                             (f"file:{export}/lake", f"file://{export}/lake")):
        proc = subprocess.run([sys.executable, "-m", "interlake", "sql", "SELECT 1", "--conf",
                               write_yaml({**BASE, "lakehouse": str(lakehouse)})], capture_output=True, text=True,
                              timeout=120)
        assert (proc.returncode, proc.stderr) == (2, (
            f"interlake sql: error: lakehouse: {shown}: {export} is a file, not a folder; set lakehouse to a "
            "folder (it is made if missing)\n"))
    assert export.read_text() == "customer,product\n"


def test_spark_submit_without_delta_s_jars_is_one_line_saying_how_to_pass_them(write_yaml, tmp_path):
    """A spark-submit that forgets ``--packages`` (or a cluster without Delta): before, the job failed at its first
    Delta call with py4j's ``TypeError: 'JavaPackage' object is not callable``."""
    import pyspark

    doc = {**BASE, "lakehouse": str(tmp_path / "lake"), "spark": {"conf": TEST_SPARK_CONF},
           "sources": {"s": {"format": "csv", "path": str(tmp_path / "in"), "timestamp_format": "epoch_s",
                             "fields": {"user_id": "c", "item_id": "p", "interaction_type": "t", "timestamp": "ts"}}}}
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("c,p,t,ts\nu1,i1,view,1795392144\n")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    proc = subprocess.run([str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
                           str(ROOT / "jobs" / "ingest.py"), "--conf", write_yaml(doc)],
                          env={**os.environ, "PYSPARK_PYTHON": sys.executable}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    # spark-submit hands the Python process's stderr on through its stdout
    assert proc.stdout.strip().splitlines()[-1] == (
        "interlake ingest: error: Delta Lake is not on this Spark session's classpath (no io.delta.tables.DeltaTable):"
        f" pass it to spark-submit with --packages io.delta:delta-spark_4.1_2.13:{version('delta-spark')} (or --jars "
        "with the jars in the project's .spark-jars/ after `make setup`), or use a platform or runtime that provides "
        "Delta")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "lake").exists()  # nothing written


def test_a_lakehouse_whose_path_has_spaces_quotes_and_a_hash_works_in_new_processes(write_yaml, tmp_path):
    """A lakehouse under ``My Drive/it's #1`` (a synced folder, a person's naming): the JVM's own settings point into
    it (the Derby metastore's home), so a space in them used to split the option and stop the JVM before any job ran
    (Java: "Could not find or load main class ..."). Now: ingest, the tables by name from a second process (the same
    metastore), the no-op re-run without Spark, and delta-rs reading the table."""
    from interlake import read_table

    lake = tmp_path / "My Drive" / "it's #1 lake"
    write(tmp_path / "in put/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,BUY,{T0}\n")
    conf = {k: v for k, v in PROCESS_SPARK_CONF.items() if k != "spark.sql.catalogImplementation"}  # Derby, as shipped
    path = write_yaml({**BASE, "lakehouse": str(lake), "spark": {"master": "local[1]", "conf": conf},
                       "sources": {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in put/shop")}}})

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "interlake", *args, "--conf", path],
                              capture_output=True, text=True, timeout=240)

    first = cli("ingest")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip().splitlines()[-1].endswith(
        "ok; 1 files, 2 read = 2 accepted + 0 duplicate + 0 quarantined")
    assert (lake / "_metastore" / "metastore_db").is_dir() and (lake / "_metastore" / "derby.log").is_file()
    by_name = cli("sql", "SELECT user_id, interaction_type FROM interlake.interactions ORDER BY user_id")
    assert by_name.returncode == 0, by_name.stderr[-3000:]
    assert [line.split() for line in by_name.stdout.splitlines()[2:4]] == [["u1", "view"], ["u2", "purchase"]]
    again = cli("ingest")
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1].endswith(
        "ok; 0 files, 0 read = 0 accepted + 0 duplicate + 0 quarantined")
    assert sorted(read_table("interactions", lakehouse=str(lake))["user_id"]) == ["u1", "u2"]


def test_a_file_uri_lakehouse_keeps_its_own_catalog_in_new_processes_as_a_path_does(write_yaml, tmp_path):
    """``lakehouse: file:///data/lake`` names the same folder as ``/data/lake``, but its local session took it for an
    object store: no metastore in the lakehouse (the tables' names lived as long as the process) and the catalog's
    warehouse in the working folder (an analyst's ``CREATE TABLE … AS SELECT`` went to ``./spark-warehouse``, outside
    the lakehouse). Now it is the folder's: its ``_metastore``, its ``_warehouse``, read by DuckDB too."""
    lake, work = tmp_path / "lake", tmp_path / "work"
    work.mkdir()
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,BUY,{T0}\n")
    conf = {k: v for k, v in PROCESS_SPARK_CONF.items() if k != "spark.sql.catalogImplementation"}  # Derby, as shipped
    path = write_yaml({**BASE, "lakehouse": f"file://{lake}", "spark": {"master": "local[1]", "conf": conf},
                       "sources": {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}}})

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "interlake", *args, "--conf", path], cwd=work,
                              capture_output=True, text=True, timeout=240)

    first = cli("ingest")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (lake / "_metastore" / "metastore_db").is_dir() and (lake / "_locks" / "ingest-shop.lock").is_file()
    made = cli("sql", "CREATE TABLE interlake.buyers AS SELECT user_id FROM interlake.interactions "
                      "WHERE interaction_type = 'purchase'")
    assert made.returncode == 0, made.stderr[-3000:]
    assert (lake / "_warehouse" / "interlake.db" / "buyers" / "_delta_log").is_dir()
    assert list(work.iterdir()) == []  # no spark-warehouse, metastore_db or derby.log in the working folder
    by_duckdb = cli("sql", "--engine", "duckdb", "SELECT user_id FROM interlake.buyers")
    assert by_duckdb.returncode == 0, by_duckdb.stderr[-3000:]
    assert [line.split() for line in by_duckdb.stdout.splitlines()[2:]] == [["u2"], ["(1", "row)"]]


def test_a_lakehouse_path_with_a_percent_sign_is_refused_by_the_reader_without_spark_in_one_line(tmp_path):
    """delta-rs decodes ``%20`` in a local path (it then looks for ``my lake``): read_table says so instead of
    'File not found' on a log file that is there. (The no-op ingest check falls back to Spark on its own.)"""
    from interlake import read_table
    from interlake.errors import InterlakeError

    with pytest.raises(InterlakeError, match=r"^delta-rs cannot open a table under a local path with '%'"):
        read_table("interactions", lakehouse=str(tmp_path / "my%20lake"))


def test_a_host_whose_time_zone_is_not_utc_writes_and_shows_utc_times(spark, write_yaml, tmp_path):
    """A laptop in Tokyo (``TZ=Asia/Tokyo``): PySpark reads a naive ``datetime`` as the *process's* local time, so
    the ledger's times were written nine hours off and ``interlake sql`` showed ``event_ts`` in Tokyo time beside its
    UTC ``event_date``. The session builder now sets the process's zone to UTC, the session's."""
    from datetime import UTC, datetime

    from interlake.schemas import tables as T

    modified = 1_789_000_000  # 2026-09-10 00:26:40 UTC
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n", mtime=modified)
    lake = tmp_path / "lake"
    path = write_yaml({**BASE, "lakehouse": str(lake), "spark": {"master": "local[1]", "conf": PROCESS_SPARK_CONF},
                       "sources": {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}}})

    def cli(*args: str) -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "interlake", *args, "--conf", path], capture_output=True,
                             text=True, timeout=240, env={**os.environ, "TZ": "Asia/Tokyo"})
        assert run.returncode == 0, run.stderr[-3000:]
        return run

    before = datetime.now(UTC).replace(tzinfo=None)
    cli("ingest")
    after = datetime.now(UTC).replace(tzinfo=None)
    ledger = spark.read.format("delta").load(str(lake / T.LEDGER)).first()
    assert ledger.file_modified == datetime.fromtimestamp(modified, UTC).replace(tzinfo=None)
    assert before.replace(microsecond=0) <= ledger.ingested_at <= after
    shown = cli("sql", "SELECT user_id, event_ts, event_date FROM interactions")
    at = datetime.fromtimestamp(T0, UTC)  # 2026-09-21 14:13:20 UTC: 23:13:20 in Tokyo
    assert shown.stdout.splitlines()[2].split() == ["u1", f"{at:%Y-%m-%d}", f"{at:%H:%M:%S}", f"{at:%Y-%m-%d}"]
