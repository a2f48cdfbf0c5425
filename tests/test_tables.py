import datetime as dt
import time

import pytest
from chispa import assert_df_equality
from interlake.errors import ConfigError
from interlake.schemas import tables as T
from interlake.tables.interactions import ensure_interactions_table
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Row
from pyspark.sql.types import StructType

SPARK_ERRORS = (PySparkException, Py4JJavaError)  # a failed write surfaces as either
VOCAB = ("view", "add_to_cart", "purchase")
TS = dt.datetime(2026, 10, 1, 12, 30)


def insert(spark, path, values):
    cols = "event_id, user_id, item_id, interaction_type, event_ts, source, ingested_at"
    spark.sql(f"INSERT INTO delta.`{path}` ({cols}) VALUES {values}")


def test_interactions_table_has_the_contract_schema(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    schema = spark.read.format("delta").load(path).schema
    contract = StructType.fromDDL(
        "event_id STRING NOT NULL, user_id STRING NOT NULL, item_id STRING NOT NULL, "
        "interaction_type STRING NOT NULL, event_ts TIMESTAMP NOT NULL, event_date DATE NOT NULL, "
        "source STRING NOT NULL, ingested_at TIMESTAMP NOT NULL")
    assert [(f.name, f.dataType, f.nullable) for f in schema] == [(f.name, f.dataType, f.nullable) for f in contract]
    assert {f.name: f.metadata["comment"] for f in schema} == T.DESCRIPTIONS[T.INTERACTIONS][1]
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()
    assert detail["partitionColumns"] == ["event_date"]


def test_event_date_is_generated_from_event_ts(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    insert(spark, path,
           "('e1','u1','i1','view', TIMESTAMP'2026-10-01 23:59:59', 'test', TIMESTAMP'2026-10-02 00:00:00')")
    got = spark.read.format("delta").load(path).select("event_id", "event_date")
    expected = spark.createDataFrame([Row(event_id="e1", event_date=dt.date(2026, 10, 1))],
                                     "event_id STRING NOT NULL, event_date DATE NOT NULL")
    assert_df_equality(got, expected, ignore_metadata=True)  # the table's columns carry comments


def test_writing_a_type_outside_the_vocabulary_fails(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    with pytest.raises(SPARK_ERRORS, match="DELTA_VIOLATE_CONSTRAINT"):
        insert(spark, path, "('e1','u1','i1','like', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")
    assert spark.read.format("delta").load(path).count() == 0


def test_writing_a_null_fails(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    with pytest.raises(SPARK_ERRORS, match="(?i)NOT NULL|null"):
        insert(spark, path, "('e1', NULL,'i1','view', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")


def test_vocabulary_can_grow_and_constraint_follows(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    insert(spark, path, "('e1','u1','i1','view', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")
    ensure_interactions_table(spark, path, VOCAB + ("like",))
    insert(spark, path, "('e2','u1','i1','like', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")
    types = sorted(r[0] for r in spark.read.format("delta").load(path).select("interaction_type").collect())
    assert types == ["like", "view"]
    # idempotent: running again with the same vocabulary changes nothing
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg({"version": "max"}).first()[0]
    ensure_interactions_table(spark, path, VOCAB + ("like",))
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg({"version": "max"}).first()[0] == version


def test_shrinking_the_vocabulary_below_stored_types_is_a_config_error(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB)
    insert(spark, path, "('e1','u1','i1','purchase', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")
    with pytest.raises(ConfigError, match="holds types purchase that the config no longer lists"):
        ensure_interactions_table(spark, path, ("view", "add_to_cart"))
    with pytest.raises(SPARK_ERRORS, match="DELTA_VIOLATE_CONSTRAINT"):  # the old constraint is back
        insert(spark, path, "('e2','u1','i1','like', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")


def test_table_is_registered_by_name(spark, tmp_path):
    path = str(tmp_path / "interactions")
    ensure_interactions_table(spark, path, VOCAB, database="interlake")
    insert(spark, path, "('e1','u1','i1','view', TIMESTAMP'2026-10-01 10:00:00', 's', current_timestamp())")
    assert spark.sql(f"SELECT event_id FROM interlake.{T.INTERACTIONS}").collect() == [Row(event_id="e1")]


def entry_created(spark):
    """The catalog entries' own creation times (not the Delta table's): they change when an entry is re-created."""
    return sorted((r.tableName, [x for x in r.information.splitlines() if x.startswith("Created Time")])
                  for r in spark.sql("SHOW TABLE EXTENDED IN reg_test LIKE '*'").collect())


def test_lakehouse_registration_reads_the_catalog_and_repairs_a_stale_entry(spark, tmp_path):
    from urllib.parse import unquote

    from interlake.tables.catalog import register_lakehouse, registered_locations

    lake = tmp_path / "my lake"  # the catalog spells this location file:/.../my%20lake/...
    for name, n in (("a_table", 2), ("b_table", 3)):
        spark.range(n).write.format("delta").save(str(lake / name))
    (lake / "_checkpoints").mkdir()  # not a table
    register_lakehouse(spark, str(lake), "reg_test")
    assert {k: unquote(v.removeprefix("file:")) for k, v in registered_locations(spark, "reg_test").items()} == {
        "a_table": str(lake / "a_table"), "b_table": str(lake / "b_table")}
    created = entry_created(spark)
    time.sleep(1.1)  # the catalog's Created Time has one-second resolution
    register_lakehouse(spark, str(lake), "reg_test")  # entries already right are left alone, not re-created
    assert entry_created(spark) == created
    # an entry left pointing at another folder (a moved lakehouse) is repaired; the other folder keeps its data
    elsewhere = tmp_path / "elsewhere"
    spark.range(5).write.format("delta").save(str(elsewhere))
    spark.sql("DROP TABLE reg_test.a_table")
    spark.sql(f"CREATE TABLE reg_test.a_table USING DELTA LOCATION '{elsewhere}'")
    assert spark.table("reg_test.a_table").count() == 5
    register_lakehouse(spark, str(lake), "reg_test")
    assert (spark.table("reg_test.a_table").count(), spark.table("reg_test.b_table").count()) == (2, 3)
    assert spark.read.format("delta").load(str(elsewhere)).count() == 5


def test_registration_never_drops_an_analyst_s_table_of_the_same_name(spark, tmp_path, caplog):
    """An analyst's ``CREATE TABLE item_popularity AS SELECT …`` (a managed table) made before the trending job first
    ran: the job's session start found the name pointing elsewhere and dropped the entry to register the lakehouse's
    table, and dropping a managed table deleted its data. The analyst's table is now kept, with a warning saying to
    rename it; once renamed, the next registration takes the lakehouse's table by name."""
    from interlake.tables.catalog import register_lakehouse

    lake = tmp_path / "lake"
    spark.sql("CREATE DATABASE reg_own")
    try:
        spark.sql("CREATE TABLE reg_own.item_popularity USING DELTA AS SELECT 'mine' AS note")
        spark.range(4).write.format("delta").save(str(lake / "item_popularity"))  # the job's table, later
        with caplog.at_level("WARNING", logger="interlake"):
            register_lakehouse(spark, str(lake), "reg_own")
        assert [r.note for r in spark.table("reg_own.item_popularity").collect()] == ["mine"]
        assert [r.getMessage().split(":")[0] for r in caplog.records] == [
            "reg_own.item_popularity is a table of its own (made without LOCATION, in "
            f"{spark.conf.get('spark.sql.warehouse.dir').removeprefix('file:')}/reg_own.db/item_popularity), not the "
            f"lakehouse's {lake}/item_popularity"]
        assert "rename yours (`interlake sql \"ALTER TABLE reg_own.item_popularity RENAME TO …\"`)" in (
            caplog.records[0].getMessage())
        spark.sql("ALTER TABLE reg_own.item_popularity RENAME TO reg_own.my_popularity")
        register_lakehouse(spark, str(lake), "reg_own")
        assert (spark.table("reg_own.item_popularity").count(),
                [r.note for r in spark.table("reg_own.my_popularity").collect()]) == (4, ["mine"])
    finally:
        spark.sql("DROP DATABASE reg_own CASCADE")
