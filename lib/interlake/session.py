"""The one session builder. Everything else receives the SparkSession it returns.

Local default (a plain ``python``/``interlake`` process): master from config, Delta jars from ``.spark-jars``
via ``spark.jars``, Delta extension and catalog, UTC, a Derby metastore and warehouse under the lakehouse.

Under ``spark-submit`` or on Databricks (a gateway already exists): no master and no jars are added; Delta's
extension and catalog are set only where the submit did not set them.

A config's ``spark.sql.*`` settings (other than the catalog and extensions a session is launched with) are checked by
Spark and applied once the JVM is up: a value Spark refuses is a one-line ConfigError, not a session that fails every
call (see ``_LAUNCH_SQL``).

Derby admits one JVM at a time. The first local process takes an OS lock on the lakehouse's metastore and uses
Derby; a concurrent process gets a session catalog instead. Either way every Delta table under the lakehouse is
registered by name when the session starts, so ``interlake.interactions`` resolves in both.

Example:
    >>> spark = build_session(cfg.spark, cfg.lakehouse, database=cfg.database)
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.errors import AnalysisException, IllegalArgumentException, PySparkRuntimeError
from pyspark.sql import SparkSession

from interlake.config import SparkSettings, local_folder
from interlake.errors import ConfigError, SetupError
from interlake.jars import local_jars
from interlake.tables.without_spark import WAREHOUSE

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# SQL settings a new session is launched with (they choose its catalog and extensions). A config's other
# spark.sql.* settings are applied once the JVM is up and Spark has checked their values (_apply_sql_settings): a bad
# value launched with the session (`spark.sql.ansi.enabled: maybe`) makes every later call fail, and PySpark's error
# conversion, which itself reads those settings, then recurses without end: the job hung instead of failing.
_LAUNCH_SQL = ("spark.sql.catalogImplementation", "spark.sql.extensions", "spark.sql.warehouse.dir",
               "spark.sql.catalog.spark_catalog")


def _at_launch(key: str) -> bool:
    return not key.startswith("spark.sql.") or key in _LAUNCH_SQL


_METASTORE_LOCK = None  # held for the life of the process: the OS releases it when the process dies


def under_spark_submit() -> bool:
    """True when a JVM gateway was handed to us (spark-submit, pyspark shell, Databricks)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _take_metastore_lock(metastore_dir: Path) -> bool:
    global _METASTORE_LOCK
    if _METASTORE_LOCK is not None:
        return True
    metastore_dir.mkdir(parents=True, exist_ok=True)
    handle = open(metastore_dir / "interlake.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _METASTORE_LOCK = handle
    return True


def java_option(name: str, value: str) -> str:
    """``-Dname=value`` for ``spark.driver.extraJavaOptions``, which Spark's launcher splits at white space: a value
    with a space (a lakehouse under ``/data/My Drive``) is single-quoted, a quote in it escaped."""
    if value and not any(c.isspace() or c in "'\"\\" for c in value):
        return f"-D{name}={value}"
    return f"-D{name}='" + value.replace("'", "'\\''") + "'"


def _log4j_properties() -> str:
    from importlib.resources import files

    return str(files("interlake.conf") / "log4j2.properties")


def utc_process() -> None:
    """Set this Python process's time zone to UTC, the sessions' (``spark.sql.session.timeZone``).

    PySpark turns a collected TIMESTAMP into a naive ``datetime`` in the *process's* local time, and a naive
    ``datetime`` sent to Spark (``createDataFrame``, ``F.lit``) is read as local time too, whatever the session's zone.
    The jobs' times are UTC throughout: on a host whose zone is not UTC (a laptop in New York, a server set to local
    time) the ledger's and progress tables' times were written shifted by the offset and ``interlake sql`` showed
    ``event_ts`` in local time next to its UTC ``event_date``. Set before the JVM starts, its default zone is UTC too.
    """
    if os.environ.get("TZ") != "UTC":
        before = os.environ.get("TZ") or "the host's"
        os.environ["TZ"] = "UTC"
        if hasattr(time, "tzset"):
            time.tzset()
            if time.timezone or time.altzone:  # a platform without the zone database
                log.warning("could not set the process's time zone to UTC (from %s)", before)


def build_session(
    settings: SparkSettings,
    lakehouse: str,
    *,
    database: str = "interlake",
    app_name: str = "interlake",
    register: bool = True,
) -> SparkSession:
    """Return the process's SparkSession, building it on first use, and register the lakehouse's tables."""
    utc_process()
    active = SparkSession.getActiveSession()
    if active is not None:
        spark = active
    else:
        if not under_spark_submit():
            _check_local_lakehouse(lakehouse)
        spark = _cluster_session(settings, app_name) if under_spark_submit() else \
            _local_session(settings, lakehouse, app_name)
        _apply_sql_settings(spark, settings)
    _require_delta(spark)
    # Runtime SQL settings apply to an existing session too; static ones only to a new one (above).
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # Parquet TIMESTAMP(NANOS), as pandas and pyarrow write timestamps, is read as its number of nanoseconds
    # (`timestamp_format: epoch_ns`); Spark refuses such a file otherwise (PARQUET_TYPE_ILLEGAL)
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    # a source's `encoding` may be any the JVM has (windows-1252, as Excel on Windows saves CSV; Shift_JIS ...):
    # Spark 4 otherwise takes only UTF-8, US-ASCII, ISO-8859-1, UTF-16 and UTF-32 (its CSV reader and `decode`)
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    # timestamps are parsed by Spark's own parser, whole or not at all (quarantined); a cluster's LEGACY policy
    # (Java's SimpleDateFormat) read '2026-11-30 10:00:00xyz' as 10:00, and EXCEPTION failed the source on it
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    for key, value in settings.conf.items():
        if key.startswith("spark.sql."):
            _set_runtime(spark, key, value)
    if register:
        from interlake.tables.catalog import register_lakehouse

        register_lakehouse(spark, lakehouse, database)
    return spark


def _check_local_lakehouse(lakehouse: str) -> None:
    """A local session's lakehouse on this machine's disk must be a folder, or a path under one: a file in the way
    (``lakehouse: /data/export.csv/lake``) failed the job at its first write with ``failed: org.apache.hadoop.fs.
    ParentNotDirectoryException`` after a warning. (A path without a scheme under spark-submit may be on the
    cluster's default filesystem, so it is not checked there.)"""
    from interlake.fs import file_in_the_way

    blocker = file_in_the_way(lakehouse, itself=True)
    if blocker:
        raise ConfigError(f"lakehouse: {lakehouse}: {blocker} is a file, not a folder; set lakehouse to a folder "
                          "(it is made if missing)")


def delta_package() -> str:
    """The Maven coordinate of the Delta release the installed delta-spark Python package goes with (the pinned one
    where the package is not installed, as on a platform that brings its own Delta)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("delta-spark")
    except PackageNotFoundError:
        release = "4.4.0"
    return f"io.delta:delta-spark_4.1_2.13:{release}"


def _require_delta(spark: SparkSession) -> None:
    """Delta's classes must be on the session's classpath: a local session passes the jars `make setup` fetched, a
    spark-submit or a platform must provide them. Without them every Delta call failed later with py4j's
    ``TypeError: 'JavaPackage' object is not callable``."""
    from py4j.java_gateway import JavaClass

    if not isinstance(spark.sparkContext._jvm.io.delta.tables.DeltaTable, JavaClass):
        raise SetupError(
            "Delta Lake is not on this Spark session's classpath (no io.delta.tables.DeltaTable): pass it to "
            f"spark-submit with --packages {delta_package()} (or --jars with the jars in "
            "the project's .spark-jars/ after `make setup`), or use a platform or runtime that provides Delta")


def _refused(key: str, exc: IllegalArgumentException) -> ConfigError:
    """Spark refused a setting's value: one line naming the config key, with Spark's reason."""
    return ConfigError(f"spark.conf.{key}: {str(exc).splitlines()[0]}")


def _check_sql_value(spark: SparkSession, key: str, value: str) -> None:
    """Spark's own check of a SQL setting's value, on a standalone SQLConf (no session touched)."""
    try:
        spark.sparkContext._jvm.org.apache.spark.sql.internal.SQLConf().setConfString(key, value)
    except IllegalArgumentException as exc:
        raise _refused(key, exc) from None


def _apply_sql_settings(spark: SparkSession, settings: SparkSettings) -> None:
    """A new session's static spark.sql.* settings (the codegen cache size ...) that were not launched with it:
    checked by Spark, then written to the context's configuration before the session's state is built from it
    (nothing has used the new session yet). Runtime ones are set, and checked, on the session by the caller."""
    is_static = spark.sparkContext._jvm.org.apache.spark.sql.internal.SQLConf.isStaticConfigKey
    live = spark.sparkContext._jsc.sc().conf()
    for key, value in settings.conf.items():
        if not _at_launch(key) and is_static(key) and not live.contains(key):
            _check_sql_value(spark, key, value)
            live.set(key, value)


def _set_runtime(spark: SparkSession, key: str, value: str) -> None:
    """Set a SQL setting on a running session; a value Spark refuses is a ConfigError. A static one
    (``spark.sql.extensions``, the catalog, the codegen cache size ...) is fixed when the session starts (a new
    session got it before its state was built): if the running session has another value, a warning says so, and
    the job goes on."""
    try:
        spark.conf.set(key, value)
    except IllegalArgumentException as exc:  # a value Spark refuses: the config must change
        raise _refused(key, exc) from None
    except AnalysisException as exc:
        if exc.getCondition() != "CANNOT_MODIFY_STATIC_CONFIG":
            raise
        current = spark.conf.get(key)  # the session's value, Spark's default included
        if current != str(value):
            log.warning("spark.conf %s=%s not applied: it is a static setting and this process's session already "
                        "runs with %s; set it where the session is built (spark-submit --conf, the cluster)",
                        key, value, current)


def _cluster_session(settings: SparkSettings, app_name: str) -> SparkSession:
    from pyspark import SparkConf

    submitted = SparkConf()  # what spark-submit / the platform already set
    builder = SparkSession.builder.appName(app_name)
    if not submitted.contains("spark.sql.extensions"):
        builder = builder.config("spark.sql.extensions", DELTA_EXTENSION)
    if not submitted.contains("spark.sql.catalog.spark_catalog"):
        builder = builder.config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    for key, value in settings.conf.items():
        if not submitted.contains(key) and _at_launch(key):
            builder = builder.config(key, value)
    return builder.getOrCreate()


def _local_session(settings: SparkSettings, lakehouse: str, app_name: str) -> SparkSession:
    # Python workers run the driver's interpreter (the venv), not whatever `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java_opts = [java_option("log4j2.configurationFile", _log4j_properties())]
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.master or "local[*]")
        .config("spark.jars", ",".join(local_jars()))
        .config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        .config("spark.sql.session.timeZone", "UTC")
        # CREATE TABLE without USING (an analyst's CREATE TABLE … AS SELECT) makes a Delta table, as on Databricks:
        # Spark's default, Parquet, has no DELETE, UPDATE, MERGE or time travel, nor a place in `interlake tables`.
        .config("spark.sql.sources.default", "delta")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", "false")
        # Small-machine Delta defaults (config may override): log replay in a few tasks, not 50.
        .config("spark.databricks.delta.snapshotPartitions", "4")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        # VACUUM lists a table's folders in this many tasks: Spark's default, 10,000, made every VACUUM of a small
        # table run ~10,000 near-empty tasks on two cores (111 s vs 9.5 s for a 5-partition table, measured).
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "8")
        # The jobs cache each batch's checked rows for a few scans; on one small machine CPU is scarcer than
        # memory, and compressing the cached columns cost ~15% of the cache's build time (measured: bench/RESULTS.md).
        .config("spark.sql.inMemoryColumnarStorage.compressed", "false")
        # Joins whose shuffled partitions all fit in 256 MB are run as shuffled hash joins, not sort-merge: the
        # anti joins of ingest (its classification and its insert-only MERGE against the stored event ids) then
        # skip sorting both sides by 64-character ids (side by side: ~5% less time per source: bench/RESULTS.md).
        .config("spark.sql.adaptive.maxShuffledHashJoinLocalMapThreshold", "256m")
    )
    catalog = settings.conf.get("spark.sql.catalogImplementation")
    local = local_folder(lakehouse)  # a path or a file: URI (an object store keeps the session's default catalog)
    if local is not None:  # managed tables in the lakehouse, whatever the catalog (not ./spark-warehouse)
        builder = builder.config("spark.sql.warehouse.dir", str(Path(local) / WAREHOUSE))
    if local is not None and catalog in (None, "hive"):
        metastore = Path(local) / "_metastore"
        if _take_metastore_lock(metastore):
            java_opts.append(java_option("derby.system.home", str(metastore)))
            builder = (
                builder.config("spark.sql.catalogImplementation", "hive")
                .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                        f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true")
                .config("spark.hadoop.datanucleus.schema.autoCreateAll", "true")
                .config("spark.hadoop.hive.metastore.schema.verification", "false")
            )
        else:
            log.info("metastore in %s is used by another interlake process; this run uses a session catalog "
                     "(tables are still registered by name)", metastore)
            builder = builder.config("spark.sql.catalogImplementation", "in-memory")
    user_java = settings.conf.get("spark.driver.extraJavaOptions")
    if user_java:
        java_opts.append(user_java)
    builder = builder.config("spark.driver.extraJavaOptions", " ".join(java_opts))
    for key, value in settings.conf.items():
        if key != "spark.driver.extraJavaOptions" and _at_launch(key):
            builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        if exc.getCondition() != "JAVA_GATEWAY_EXITED":
            raise
        jvm = {k: v for k, v in settings.conf.items() if k.startswith(("spark.driver.", "spark.executor."))}
        if jvm:  # the JVM printed its reason just before: point at the settings it was started with
            raise ConfigError("the Spark JVM did not start (its own message is above); check the JVM settings under "
                              "spark.conf: " + ", ".join(f"{k}={v}" for k, v in jvm.items())) from None
        raise SetupError("the Spark JVM did not start (its own message is above); check that JDK 17 is installed "
                         "(`java -version`) and run `make setup`") from None
    _jvm_ignores_sigterm(spark)
    return spark


def _jvm_ignores_sigterm(spark: SparkSession) -> None:
    """Make the JVM this process launched ignore SIGTERM, as PySpark makes it ignore Ctrl-C. A scheduler that stops a
    job with SIGTERM to its process group (``timeout``, Airflow, ``kill -- -PGID``) reached the JVM too, which shut
    down under the job: the trending query, told to stop after its batch in progress, failed with ``Spark's JVM
    stopped`` and a Python traceback instead. The job now stops as asked (``interlake.interrupts``); the JVM still
    ends with the process, when its standard input closes (PySpark's gateway exits then)."""
    jvm = spark.sparkContext._jvm
    try:
        jvm.sun.misc.Signal.handle(jvm.sun.misc.Signal("TERM"), jvm.sun.misc.SignalHandler.SIG_IGN)
    except Exception as exc:  # noqa: BLE001  (a JVM without sun.misc: SIGTERM ends it, as before)
        log.debug("the JVM keeps its SIGTERM handling: %s", exc)


@contextmanager
def session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """The runtime setting ``key`` at ``value`` while the block runs, then as it was before (unset if it was): for the
    commits made inside (a Delta commit's userMetadata, VACUUM's retention check), or the expressions built inside,
    which keep the settings they were created under (``decode``'s error action)."""
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)
